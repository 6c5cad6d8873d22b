//! Masthead's storage. Everything that touches SQL lives here, behind the
//! async [`Store`] facade; handlers and renderers see typed rows only.
//!
//! Two backends, each a private module with the same operations under the
//! same names: embedded SQLite (`sqlite`, the default) and PostgreSQL
//! (`postgres`). [`Store::open_sqlite`] or [`Store::open_postgres`] picks one;
//! every operation then dispatches with one `match` on the `Backend`, both
//! arms side by side, so adding an operation means writing both. Row types
//! come from `masthead-model` and are re-exported here.

mod copy;
mod donations;
pub mod error;
mod figures;
mod lease;
mod memberships;
mod ops;
mod paid;
mod postgres;
mod roster;
mod search;
mod sending;
mod sqlite;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;

use std::path::Path;
use std::sync::Arc;

pub use error::{StoreError, StoreResult};
pub use masthead_model::*;
pub use memberships::MAX_BENEFITS;
pub use paid::format_amount;
pub use postgres::{PgStore, describe_url as describe_postgres_url};
pub use search::{SearchFilters, SearchHit, SearchPage};
pub use sqlite::backup::check_snapshot;

use sqlite::{SqliteStore, Writer};

use masthead_domain::{FeedCursor, PostKind};

/// Current time in Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Cheap to clone. On SQLite every call runs on the blocking pool so async
/// tasks never wait on disk; on PostgreSQL calls are async on a pooled
/// connection.
#[derive(Clone)]
pub struct Store {
    backend: Arc<Backend>,
    /// Bounds concurrent reads (and so open connections and their caches):
    /// more than a few per core only queue inside the database anyway.
    read_slots: Arc<tokio::sync::Semaphore>,
    /// Bulk reads (API browses) take one of these before a read slot, so they
    /// can never hold every read slot and stall pages.
    bulk_slots: Arc<tokio::sync::Semaphore>,
}

/// The database behind a [`Store`]: each dialect is a private module, and
/// every operation chooses between them with one `match` on this, its two
/// arms side by side (see docs/architecture.md, "Dispatch").
enum Backend {
    Sqlite(Arc<SqliteStore>),
    Postgres(Box<PgStore>),
}

/// Which database a [`Store`] runs on, for messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    Sqlite,
    Postgres,
}

impl BackendKind {
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Sqlite => "SQLite",
            BackendKind::Postgres => "PostgreSQL",
        }
    }
}

/// Concurrent reads allowed.
const READ_SLOTS: usize = 8;
/// Bulk reads at once: half the cores (at least one, at most three), so
/// API browses can use only part of the machine and of the read slots.
fn bulk_slots() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores / 2).clamp(1, 3)
}

/// A pooled PostgreSQL connection held with a read slot.
struct PgRead {
    client: deadpool_postgres::Object,
    _slot: tokio::sync::OwnedSemaphorePermit,
    _bulk: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl std::ops::Deref for PgRead {
    type Target = deadpool_postgres::Object;
    fn deref(&self) -> &Self::Target {
        &self.client
    }
}

/// A reader-facing query: the same name in `sqlite::queries` and
/// `postgres::queries`, the same arguments.
macro_rules! read_op {
    ($(#[$m:meta])* $name:ident ( $($arg:ident : $ty:ty),* ) -> $ret:ty) => {
        $(#[$m])*
        pub async fn $name(&self, $($arg: $ty),*) -> StoreResult<$ret> {
            match &*self.backend {
                Backend::Sqlite(db) => {
                    self.lite_read(db, move |c| sqlite::queries::$name(c, $($arg),*)).await
                }
                Backend::Postgres(db) => {
                    postgres::queries::$name(&*self.pg_read(db).await?, $($arg),*).await
                }
            }
        }
    };
}

impl Store {
    /// The embedded SQLite file at `path`, created and migrated if needed.
    pub fn open_sqlite(path: &Path) -> StoreResult<Store> {
        Ok(Store::with_backend(Backend::Sqlite(Arc::new(
            SqliteStore::open(path)?,
        ))))
    }

    /// The PostgreSQL database at `url` (`postgres://user:password@host/db`),
    /// migrated to this build's schema under the migration lock. Error
    /// messages never repeat the URL (it may hold a password).
    pub async fn open_postgres(url: &str) -> StoreResult<Store> {
        let db = PgStore::connect(url).await?;
        db.migrate().await?;
        Ok(Store::with_backend(Backend::Postgres(Box::new(db))))
    }

    /// A store on a PostgreSQL handle already open (and migrated), for tests.
    #[cfg(test)]
    pub(crate) fn with_postgres(db: PgStore) -> Store {
        Store::with_backend(Backend::Postgres(Box::new(db)))
    }

    fn with_backend(backend: Backend) -> Store {
        Store {
            backend: Arc::new(backend),
            read_slots: Arc::new(tokio::sync::Semaphore::new(READ_SLOTS)),
            bulk_slots: Arc::new(tokio::sync::Semaphore::new(bulk_slots())),
        }
    }

    pub fn backend_kind(&self) -> BackendKind {
        match &*self.backend {
            Backend::Sqlite(_) => BackendKind::Sqlite,
            Backend::Postgres(_) => BackendKind::Postgres,
        }
    }

    /// The newest migration applied to the database.
    pub async fn schema_version(&self) -> StoreResult<i64> {
        match &*self.backend {
            Backend::Sqlite(db) => self.lite_read(db, sqlite::queries::schema_version).await,
            Backend::Postgres(db) => db.schema_version().await,
        }
    }

    /// Runs `f` on the blocking pool with the SQLite store.
    async fn on_lite<T: Send + 'static>(
        db: &Arc<SqliteStore>,
        f: impl FnOnce(&SqliteStore) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let db = db.clone();
        tokio::task::spawn_blocking(move || f(&db))
            .await
            .map_err(|e| StoreError::Other(format!("database task failed: {e}")))?
    }

    async fn read_slot(&self) -> StoreResult<tokio::sync::OwnedSemaphorePermit> {
        self.read_slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| StoreError::Unavailable(format!("store closed: {e}")))
    }

    async fn bulk_slot(&self) -> StoreResult<tokio::sync::OwnedSemaphorePermit> {
        self.bulk_slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| StoreError::Unavailable(format!("store closed: {e}")))
    }

    /// A read on SQLite, under a read slot.
    async fn lite_read<T: Send + 'static>(
        &self,
        db: &Arc<SqliteStore>,
        f: impl FnOnce(&rusqlite::Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let _slot = self.read_slot().await?;
        Store::on_lite(db, move |db| db.read(f)).await
    }

    /// A read that may be large (an API browse): it waits for one of a few
    /// bulk slots first, so pages always find a read slot free.
    async fn lite_read_bulk<T: Send + 'static>(
        &self,
        db: &Arc<SqliteStore>,
        f: impl FnOnce(&rusqlite::Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let _bulk = self.bulk_slot().await?;
        self.lite_read(db, f).await
    }

    /// One write transaction on SQLite, on the blocking pool.
    async fn lite_write<T: Send + 'static>(
        db: &Arc<SqliteStore>,
        f: impl FnOnce(&Writer<'_>) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        Store::on_lite(db, move |db| db.write(f)).await
    }

    /// Like [`Store::lite_write`], without waiting for the disk (see
    /// `SqliteStore::write_relaxed`).
    async fn lite_write_relaxed<T: Send + 'static>(
        db: &Arc<SqliteStore>,
        f: impl FnOnce(&Writer<'_>) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        Store::on_lite(db, move |db| db.write_relaxed(f)).await
    }

    /// A pooled PostgreSQL connection under a read slot.
    async fn pg_read(&self, db: &PgStore) -> StoreResult<PgRead> {
        let slot = self.read_slot().await?;
        Ok(PgRead {
            client: db.client().await?,
            _slot: slot,
            _bulk: None,
        })
    }

    /// [`Store::pg_read`] for a large read: a bulk slot first.
    async fn pg_read_bulk(&self, db: &PgStore) -> StoreResult<PgRead> {
        let bulk = self.bulk_slot().await?;
        let mut read = self.pg_read(db).await?;
        read._bulk = Some(bulk);
        Ok(read)
    }

    read_op!(
        /// A page of a listing, newest first, strictly after `after`.
        feed(scope: FeedScope, after: Option<FeedCursor>, limit: u32) -> FeedPage);
    read_op!(
        /// A published post (any kind) by slug, with tags, bylines and notes.
        published_post_by_slug(slug: String) -> Option<Post>);
    read_op!(
        /// Up to `limit` posts to read next: same primary tag first, then the latest.
        read_next(post_id: i64, primary_tag_id: Option<i64>, limit: u32) -> Vec<PostCard>);
    read_op!(live_entries(post_id: i64) -> Vec<LiveEntry>);
    read_op!(live_page(post_id: i64, before: Option<FeedCursor>, limit: u32) -> LivePage);
    read_op!(post_refs(post_id: i64) -> Option<PostRefs>);
    read_op!(live_entry(entry_id: i64) -> Option<LiveEntry>);
    read_op!(tag_by_slug(slug: String) -> Option<Tag>);
    read_op!(author_by_slug(slug: String) -> Option<Author>);
    read_op!(sections() -> Vec<Tag>);
    read_op!(site_settings() -> SiteSettings);
    read_op!(active_campaign() -> Option<Campaign>);
    read_op!(
        /// Members counting towards `metric` ("members" = everyone, "paid" = paying).
        member_count(metric: String) -> u64);
    read_op!(
        /// The newest `limit` posts of a listing in full, for RSS, Atom and JSON Feed.
        feed_posts(scope: FeedScope, limit: u32) -> Vec<Post>);
    read_op!(
        /// The parts of the posts sitemap (ranges of `size` ids) that list something.
        sitemap_parts(size: u32) -> Vec<u32>);
    read_op!(
        /// Part `number` of the posts sitemap, a primary-key range.
        sitemap_posts(number: u32, size: u32) -> Vec<SitemapEntry>);
    read_op!(sitemap_pages(limit: u32) -> Vec<SitemapEntry>);
    read_op!(sitemap_tags(limit: u32) -> Vec<SitemapTag>);
    read_op!(sitemap_authors(limit: u32) -> Vec<SitemapEntry>);
    read_op!(
        /// Posts published since `since_ms`, newest first (the Google News sitemap).
        news_posts(since_ms: i64, limit: u32) -> Vec<NewsEntry>);
    /// The account and its password hash, by lowercase address.
    pub async fn staff_for_signin(
        &self,
        email_key: String,
    ) -> StoreResult<Option<(StaffUser, String)>> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                self.lite_read(db, move |c| sqlite::staff::staff_for_signin(c, email_key))
                    .await
            }
            Backend::Postgres(db) => {
                postgres::staff::staff_for_signin(&*self.pg_read(db).await?, email_key).await
            }
        }
    }
    /// A live session by the SHA-256 of its token.
    pub async fn session(
        &self,
        token_hash: Vec<u8>,
        now: i64,
    ) -> StoreResult<Option<StaffSession>> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                self.lite_read(db, move |c| sqlite::staff::session(c, token_hash, now))
                    .await
            }
            Backend::Postgres(db) => {
                postgres::staff::session(&*self.pg_read(db).await?, token_hash, now).await
            }
        }
    }
    pub async fn desk_posts(&self, filter: PostFilter, limit: u32) -> StoreResult<Vec<DeskPost>> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                self.lite_read(db, move |c| sqlite::staff::desk_posts(c, filter, limit))
                    .await
            }
            Backend::Postgres(db) => {
                postgres::staff::desk_posts(&*self.pg_read(db).await?, filter, limit).await
            }
        }
    }
    pub async fn all_authors_and_tags(&self) -> StoreResult<(Vec<NamedRef>, Vec<NamedRef>)> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                self.lite_read(db, sqlite::staff::all_authors_and_tags)
                    .await
            }
            Backend::Postgres(db) => {
                postgres::staff::all_authors_and_tags(&*self.pg_read(db).await?).await
            }
        }
    }
    /// Tags or bylines matching what was typed into a desk picker.
    pub async fn find_named(
        &self,
        which: Taxonomy,
        text: String,
        limit: u32,
    ) -> StoreResult<Vec<NamedRef>> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                self.lite_read(db, move |c| {
                    sqlite::staff::find_named(c, which, text, limit)
                })
                .await
            }
            Backend::Postgres(db) => {
                postgres::staff::find_named(&*self.pg_read(db).await?, which, text, limit).await
            }
        }
    }
    /// The desk's front page, as `viewer` may see it.
    pub async fn desk_front(&self, viewer: FrontViewer, limit: u32) -> StoreResult<DeskFront> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                self.lite_read(db, move |c| sqlite::staff::desk_front(c, viewer, limit))
                    .await
            }
            Backend::Postgres(db) => {
                postgres::staff::desk_front(&*self.pg_read(db).await?, viewer, limit).await
            }
        }
    }
    pub async fn post_kind_and_authors(&self, post_id: i64) -> StoreResult<Option<PostOwnership>> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                self.lite_read(db, move |c| {
                    sqlite::staff::post_kind_and_authors(c, post_id)
                })
                .await
            }
            Backend::Postgres(db) => {
                postgres::staff::post_kind_and_authors(&*self.pg_read(db).await?, post_id).await
            }
        }
    }
    pub async fn editable_post(&self, id: i64) -> StoreResult<Option<EditablePost>> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                self.lite_read(db, move |c| sqlite::editing::editable_post(c, id))
                    .await
            }
            Backend::Postgres(db) => {
                postgres::editing::editable_post(&*self.pg_read(db).await?, id).await
            }
        }
    }
    pub async fn staff_user(&self, id: i64) -> StoreResult<Option<StaffUser>> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                self.lite_read(db, move |c| sqlite::staff::staff_user(c, id))
                    .await
            }
            Backend::Postgres(db) => {
                postgres::staff::staff_user(&*self.pg_read(db).await?, id).await
            }
        }
    }
    pub async fn author_by_id(&self, id: i64) -> StoreResult<Option<Author>> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                self.lite_read(db, move |c| sqlite::taxonomy::author_by_id(c, id))
                    .await
            }
            Backend::Postgres(db) => {
                postgres::taxonomy::author_by_id(&*self.pg_read(db).await?, id).await
            }
        }
    }
    pub async fn editable_tag(&self, id: i64) -> StoreResult<Option<EditableTag>> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                self.lite_read(db, move |c| sqlite::taxonomy::editable_tag(c, id))
                    .await
            }
            Backend::Postgres(db) => {
                postgres::taxonomy::editable_tag(&*self.pg_read(db).await?, id).await
            }
        }
    }
    pub async fn editable_tags(&self) -> StoreResult<Vec<EditableTag>> {
        match &*self.backend {
            Backend::Sqlite(db) => self.lite_read(db, sqlite::taxonomy::editable_tags).await,
            Backend::Postgres(db) => {
                postgres::taxonomy::editable_tags(&*self.pg_read(db).await?).await
            }
        }
    }
    pub async fn media_item(&self, id: i64) -> StoreResult<Option<MediaItem>> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                self.lite_read(db, move |c| sqlite::media::media_item(c, id))
                    .await
            }
            Backend::Postgres(db) => {
                postgres::media::media_item(&*self.pg_read(db).await?, id).await
            }
        }
    }
    /// The media library, newest first, older than item `before`.
    pub async fn media_page(&self, before: Option<i64>, limit: u32) -> StoreResult<Vec<MediaItem>> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                self.lite_read(db, move |c| sqlite::media::media_page(c, before, limit))
                    .await
            }
            Backend::Postgres(db) => {
                postgres::media::media_page(&*self.pg_read(db).await?, before, limit).await
            }
        }
    }
    pub async fn revisions(&self, post_id: i64) -> StoreResult<Vec<Revision>> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                self.lite_read(db, move |c| sqlite::editing::revisions(c, post_id))
                    .await
            }
            Backend::Postgres(db) => {
                postgres::editing::revisions(&*self.pg_read(db).await?, post_id).await
            }
        }
    }
    pub async fn review_state(&self, post_id: i64) -> StoreResult<Option<String>> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                self.lite_read(db, move |c| sqlite::editing::review_state(c, post_id))
                    .await
            }
            Backend::Postgres(db) => {
                postgres::editing::review_state(&*self.pg_read(db).await?, post_id).await
            }
        }
    }
    pub async fn review_notes(&self, post_id: i64) -> StoreResult<Vec<ReviewNote>> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                self.lite_read(db, move |c| sqlite::editing::review_notes(c, post_id))
                    .await
            }
            Backend::Postgres(db) => {
                postgres::editing::review_notes(&*self.pg_read(db).await?, post_id).await
            }
        }
    }
    pub async fn review_queue(&self) -> StoreResult<Vec<ReviewItem>> {
        match &*self.backend {
            Backend::Sqlite(db) => self.lite_read(db, sqlite::editing::review_queue).await,
            Backend::Postgres(db) => {
                postgres::editing::review_queue(&*self.pg_read(db).await?).await
            }
        }
    }
    pub async fn post_notes(&self, post_id: i64) -> StoreResult<Vec<PostNote>> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                self.lite_read(db, move |c| sqlite::editing::post_notes(c, post_id))
                    .await
            }
            Backend::Postgres(db) => {
                postgres::editing::post_notes(&*self.pg_read(db).await?, post_id).await
            }
        }
    }
    /// Where a retired slug now lives.
    pub async fn redirect_for(&self, old_slug: String) -> StoreResult<Option<String>> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                self.lite_read(db, move |c| sqlite::editing::redirect_for(c, old_slug))
                    .await
            }
            Backend::Postgres(db) => {
                postgres::editing::redirect_for(&*self.pg_read(db).await?, old_slug).await
            }
        }
    }
    pub async fn owner_exists(&self) -> StoreResult<bool> {
        match &*self.backend {
            Backend::Sqlite(db) => self.lite_read(db, sqlite::staff::owner_exists).await,
            Backend::Postgres(db) => postgres::staff::owner_exists(&*self.pg_read(db).await?).await,
        }
    }
    pub async fn staff_users(&self) -> StoreResult<Vec<StaffUser>> {
        match &*self.backend {
            Backend::Sqlite(db) => self.lite_read(db, sqlite::staff::staff_users).await,
            Backend::Postgres(db) => postgres::staff::staff_users(&*self.pg_read(db).await?).await,
        }
    }
    /// Counts one attempt against `limits`, atomically (see `Writer::throttle`),
    /// without a disk flush (see `SqliteStore::write_relaxed`).
    pub async fn throttle(&self, limits: Vec<Limit>) -> StoreResult<Result<Vec<i64>, usize>> {
        let now = now_ms();
        match &*self.backend {
            Backend::Sqlite(db) => {
                Store::lite_write_relaxed(db, move |w| w.throttle(&limits, now)).await
            }
            Backend::Postgres(db) => {
                db.write_relaxed_send(move |w| {
                    Box::pin(async move { w.throttle(&limits, now).await })
                })
                .await
            }
        }
    }
    /// Takes back attempts counted by [`Store::throttle`] (work refused
    /// before it was tried), without a disk flush.
    pub async fn forget_attempt(&self, ids: Vec<i64>) -> StoreResult<()> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                Store::lite_write_relaxed(db, move |w| w.forget_attempt(&ids)).await
            }
            Backend::Postgres(db) => {
                db.write_relaxed_send(move |w| {
                    Box::pin(async move { w.forget_attempt(&ids).await })
                })
                .await
            }
        }
    }
    /// Whether a one-time token would be accepted now (not yet spent).
    pub async fn one_time_token_valid(
        &self,
        token_hash: Vec<u8>,
        purpose: &'static str,
        now: i64,
    ) -> StoreResult<bool> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                self.lite_read(db, move |c| {
                    sqlite::staff::one_time_token_valid(c, token_hash, purpose, now)
                })
                .await
            }
            Backend::Postgres(db) => {
                postgres::staff::one_time_token_valid(
                    &*self.pg_read(db).await?,
                    token_hash,
                    purpose,
                    now,
                )
                .await
            }
        }
    }
    /// Whether `post_id` is a published live post.
    pub async fn is_published_live(&self, post_id: i64) -> StoreResult<bool> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                self.lite_read(db, move |c| sqlite::queries::is_published_live(c, post_id))
                    .await
            }
            Backend::Postgres(db) => {
                postgres::queries::is_published_live(&*self.pg_read(db).await?, post_id).await
            }
        }
    }
    read_op!(post_count() -> u64);

    /// A page of search results over published posts, best first (ties:
    /// newest first), strictly after `after`.
    pub async fn search(
        &self,
        query: masthead_domain::search::SearchQuery,
        filters: SearchFilters,
        after: Option<masthead_domain::search::SearchCursor>,
        limit: u32,
    ) -> StoreResult<SearchPage> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                self.lite_read(db, move |c| {
                    sqlite::search::search(c, query, filters, after, limit)
                })
                .await
            }
            Backend::Postgres(db) => {
                let mut read = self.pg_read(db).await?;
                postgres::search::search(&mut read.client, query, filters, after, limit).await
            }
        }
    }
    read_op!(published_post_id_by_slug(slug: String, kind: Option<PostKind>) -> Option<i64>);

    pub async fn add_live_entry(&self, entry: NewLiveEntry) -> StoreResult<i64> {
        match &*self.backend {
            Backend::Sqlite(db) => Store::lite_write(db, move |w| w.add_live_entry(&entry)).await,
            Backend::Postgres(db) => {
                db.write_send(move |w| Box::pin(async move { w.add_live_entry(&entry).await }))
                    .await
            }
        }
    }

    /// One raw settings value.
    pub async fn site_settings_raw(&self, key: &'static str) -> StoreResult<Option<String>> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                self.lite_read(db, move |c| sqlite::queries::setting(c, key))
                    .await
            }
            Backend::Postgres(db) => {
                postgres::queries::setting(&*self.pg_read(db).await?, key).await
            }
        }
    }

    pub async fn set_setting(&self, key: &'static str, value: &str) -> StoreResult<()> {
        let value = value.to_owned();
        match &*self.backend {
            Backend::Sqlite(db) => Store::lite_write(db, move |w| w.set_setting(key, &value)).await,
            Backend::Postgres(db) => {
                db.write_send(move |w| Box::pin(async move { w.set_setting(key, &value).await }))
                    .await
            }
        }
    }

    /// Writes a consistent snapshot of the database to `dest` (a new file)
    /// while the site keeps serving and writing; see the `sqlite::backup`
    /// module. SQLite only: a PostgreSQL database is backed up with its own
    /// tools (docs/operations.md).
    pub async fn backup_to(&self, dest: &Path) -> StoreResult<()> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                let dest = dest.to_owned();
                Store::on_lite(db, move |db| db.backup_to(&dest)).await
            }
            Backend::Postgres(_) => Err(StoreError::Invalid(PG_BACKUP.into())),
        }
    }

    /// Cheap liveness check for `/healthz`. It takes no read slot, so it
    /// answers while every slot is busy (a health check must tell "slow"
    /// from "down").
    pub async fn ping(&self) -> StoreResult<()> {
        match &*self.backend {
            Backend::Sqlite(db) => Store::on_lite(db, |db| db.read(sqlite::queries::ping)).await,
            Backend::Postgres(db) => db.ping().await,
        }
    }
}

impl Store {
    /// Copies the whole site from this store into `target` (`masthead
    /// copy`): every table `copy::TABLES` marks for copying, ids kept, in
    /// one transaction on the target, read from one consistent snapshot of
    /// this store (which may keep serving meanwhile). The target's search
    /// index is rebuilt and its id sequences moved past the copied ids. A
    /// target that already holds a site is refused (`Ok(Err(..))`, nothing
    /// written) unless `replace`, which empties it in the same transaction.
    /// On any error the target is left as it was. `progress` hears how far
    /// the copy has got, from the writer's thread.
    pub async fn copy_to(
        &self,
        target: &Store,
        replace: bool,
        progress: impl Fn(CopyProgress) + Send + Sync + 'static,
    ) -> StoreResult<Result<CopyReport, TargetNotEmpty>> {
        let from = self.schema_version().await?;
        let to = target.schema_version().await?;
        if from != to {
            return Err(StoreError::Invalid(format!(
                "the source is at schema version {from} and the target at {to}; open both \
                 with this build of Masthead (it migrates them) and copy again"
            )));
        }
        let source_tables = self
            .copy_catalog()
            .await
            .map_err(|e| copy::in_context("reading the source's tables", e))?;
        let target_tables = target
            .copy_catalog()
            .await
            .map_err(|e| copy::in_context("reading the target's tables", e))?;
        let plan = Arc::new(copy::plan(&source_tables, &target_tables)?);
        let (send, receive) = tokio::sync::mpsc::channel(copy::CHANNEL_BATCHES);
        let progress: Arc<copy::ProgressFn> = Arc::new(progress);
        let (read, written) = tokio::join!(
            self.copy_out(plan.clone(), send),
            target.copy_in(plan, receive, replace, progress)
        );
        // A reader that fails closes the channel, so the writer stops and
        // rolls back; the reader's error is the cause. A writer that fails
        // drops the channel, and the reader stops without an error of its own.
        read.map_err(|e| copy::in_context("reading the source database", e))?;
        written.map_err(|e| copy::in_context("writing the target database", e))
    }

    /// The tables and columns of this database, for a copy's plan.
    async fn copy_catalog(&self) -> StoreResult<Vec<copy::CatalogTable>> {
        match &*self.backend {
            Backend::Sqlite(db) => self.lite_read(db, sqlite::copy::catalog).await,
            Backend::Postgres(db) => postgres::copy::catalog(&*self.pg_read(db).await?).await,
        }
    }

    /// A copy's reader: every planned table from one snapshot, into `out`.
    async fn copy_out(
        &self,
        plan: Arc<copy::CopyPlan>,
        out: tokio::sync::mpsc::Sender<copy::Chunk>,
    ) -> StoreResult<()> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                self.lite_read(db, move |c| sqlite::copy::read_site(c, &plan, &out))
                    .await
            }
            Backend::Postgres(db) => {
                let _slot = self.read_slot().await?;
                let mut client = db.client().await?;
                postgres::copy::read_site(&mut client, &plan, &out).await
            }
        }
    }

    /// A copy's writer: one transaction taking every row from `rows`.
    async fn copy_in(
        &self,
        plan: Arc<copy::CopyPlan>,
        mut rows: tokio::sync::mpsc::Receiver<copy::Chunk>,
        replace: bool,
        progress: Arc<copy::ProgressFn>,
    ) -> StoreResult<Result<CopyReport, TargetNotEmpty>> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                let outcome = Store::lite_write(db, move |w| {
                    w.copy_site_in(&plan, &mut rows, replace, &*progress)
                })
                .await?;
                if outcome.is_ok() {
                    // A bulk load: fold the write-ahead log into the file.
                    Store::on_lite(db, |db| db.checkpoint()).await?;
                }
                Ok(outcome)
            }
            Backend::Postgres(db) => {
                let outcome = db
                    .write(async move |w| {
                        let mut rows = rows;
                        w.copy_site_in(&plan, &mut rows, replace, &*progress).await
                    })
                    .await?;
                if outcome.is_ok() {
                    // A bulk load: the planner must learn the tables' sizes.
                    db.analyze().await?;
                }
                Ok(outcome)
            }
        }
    }
}

/// Where a reader of the change log stands: every change before it has
/// been read. [`Store::change_cursor`] makes one past everything committed
/// so far; [`Store::changes_after`] reads on from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeCursor(CursorAt);

#[derive(Debug, Clone, PartialEq, Eq)]
enum CursorAt {
    /// SQLite commits one writer at a time, in id order (also across
    /// processes: the file's write lock): the last id read.
    Sqlite(i64),
    /// PostgreSQL commits in any order: see `postgres/changes.rs`.
    Postgres(postgres::changes::Horizon),
}

/// Wakes a change-log reader when another process may have committed a
/// change: PostgreSQL's `LISTEN`/`NOTIFY` on a session of its own, which
/// reconnects when lost. On SQLite it never fires (readers poll). Dropping
/// it stops the listener.
pub struct ChangeNotices {
    notify: Arc<tokio::sync::Notify>,
    listener: Option<tokio::task::JoinHandle<()>>,
}

impl ChangeNotices {
    /// Resolves at the next notice (one that arrived since the last call
    /// counts too, so none is lost while the reader was busy).
    pub async fn notified(&self) {
        match self.listener {
            Some(_) => self.notify.notified().await,
            None => std::future::pending().await,
        }
    }
}

impl Drop for ChangeNotices {
    fn drop(&mut self) {
        if let Some(task) = &self.listener {
            task.abort();
        }
    }
}

impl Store {
    /// A cursor past every change committed so far.
    pub async fn change_cursor(&self) -> StoreResult<ChangeCursor> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                let last = self
                    .lite_read(db, sqlite::queries::latest_change_id)
                    .await?;
                Ok(ChangeCursor(CursorAt::Sqlite(last)))
            }
            Backend::Postgres(db) => {
                let horizon = postgres::changes::start(&*self.pg_read(db).await?).await?;
                Ok(ChangeCursor(CursorAt::Postgres(horizon)))
            }
        }
    }

    /// The changes committed after `cursor`, in commit order, about `limit`
    /// at a time, and the cursor after them. Complete on both backends: no
    /// change is skipped, whatever order concurrent writers commit in, and
    /// none is read twice.
    pub async fn changes_after(
        &self,
        cursor: ChangeCursor,
        limit: u32,
    ) -> StoreResult<(Vec<Change>, ChangeCursor)> {
        match (&*self.backend, cursor.0) {
            (Backend::Sqlite(db), CursorAt::Sqlite(last)) => {
                let changes = self
                    .lite_read(db, move |c| sqlite::queries::changes_since(c, last, limit))
                    .await?;
                let next = changes.last().map_or(last, |c| c.id);
                Ok((changes, ChangeCursor(CursorAt::Sqlite(next))))
            }
            (Backend::Postgres(db), CursorAt::Postgres(horizon)) => {
                let (changes, next) =
                    postgres::changes::read(&*self.pg_read(db).await?, &horizon, limit).await?;
                Ok((changes, ChangeCursor(CursorAt::Postgres(next))))
            }
            _ => Err(StoreError::Invalid(
                "a change cursor of one database was used with another".into(),
            )),
        }
    }

    /// Notices of changes committed by other processes (see
    /// [`ChangeNotices`]). Must be called inside the tokio runtime.
    pub fn change_notices(&self) -> ChangeNotices {
        let notify = Arc::new(tokio::sync::Notify::new());
        let listener = match &*self.backend {
            Backend::Sqlite(_) => None,
            Backend::Postgres(db) => Some(db.listen_for_changes(notify.clone())),
        };
        ChangeNotices { notify, listener }
    }
}

/// What `masthead backup` says on PostgreSQL.
pub const PG_BACKUP: &str = "masthead backup snapshots the embedded SQLite database; \
     on PostgreSQL, back up the database with pg_dump (and the media directory or bucket \
     with your usual tools): see docs/operations.md, \"Running on PostgreSQL\"";
