//! Masthead's storage. Everything that touches SQL lives here, behind the
//! async [`Store`] facade; handlers and renderers see typed rows only.
//!
//! Today there is one backend, embedded SQLite (the private `sqlite`
//! module). PostgreSQL will be a sibling module with the same operations; the
//! facade ([`Store`], its `Backend` and the dispatch in `read`/`write`) is
//! where the choice is made, so nothing above it changes. Its foundation (pool,
//! schema, migrations) is in place: [`open_postgres`]. Row types come from
//! `masthead-model` and are re-exported here.

pub mod error;
mod ops;
mod postgres;
mod sqlite;
#[cfg(feature = "test-support")]
pub mod testing;

use std::path::Path;
use std::sync::Arc;

pub use error::{StoreError, StoreResult};
pub use masthead_model::*;
pub use postgres::PgStore;
pub use sqlite::backup::check_snapshot;
pub use sqlite::search::{SearchFilters, SearchHit, SearchPage};

use sqlite::{SqliteStore, Writer};

use masthead_domain::{Email, FeedCursor, PostKind};

/// Connects to a PostgreSQL database (`postgres://…`). Only the schema is
/// ported so far: the handle can `migrate()` and report `schema_version()`.
pub async fn open_postgres(url: &str) -> StoreResult<PgStore> {
    PgStore::connect(url).await
}

/// Current time in Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Cheap to clone; every call runs on the blocking pool so async tasks never
/// wait on disk.
#[derive(Clone)]
pub struct Store {
    backend: Arc<Backend>,
    /// Bounds concurrent reads (and so open connections and their caches):
    /// more than a few per core only queue inside SQLite anyway.
    read_slots: Arc<tokio::sync::Semaphore>,
    /// Bulk reads (API browses) take one of these before a read slot, so they
    /// can never hold every read slot and stall pages.
    bulk_slots: Arc<tokio::sync::Semaphore>,
}

/// The database behind a [`Store`]: each dialect is a private module, and
/// this is the one place an operation chooses it.
enum Backend {
    Sqlite(SqliteStore),
}

/// Concurrent reads allowed.
const READ_SLOTS: usize = 8;
/// Bulk reads at once: half the cores (at least one, at most three), so
/// API browses can use only part of the machine and of the read slots.
fn bulk_slots() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores / 2).clamp(1, 3)
}

macro_rules! read_op {
    ($(#[$m:meta])* $name:ident ( $($arg:ident : $ty:ty),* ) -> $ret:ty) => {
        $(#[$m])*
        pub async fn $name(&self, $($arg: $ty),*) -> StoreResult<$ret> {
            self.read(move |c| sqlite::queries::$name(c, $($arg),*)).await
        }
    };
}

impl Store {
    pub fn open_sqlite(path: &Path) -> StoreResult<Store> {
        Ok(Store {
            backend: Arc::new(Backend::Sqlite(SqliteStore::open(path)?)),
            read_slots: Arc::new(tokio::sync::Semaphore::new(READ_SLOTS)),
            bulk_slots: Arc::new(tokio::sync::Semaphore::new(bulk_slots())),
        })
    }

    /// Runs `f` on the blocking pool with the backend.
    async fn on_backend<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Backend) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let backend = self.backend.clone();
        tokio::task::spawn_blocking(move || f(&backend))
            .await
            .map_err(|e| StoreError::Other(format!("database task failed: {e}")))?
    }

    pub(crate) async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&rusqlite::Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let _slot = self
            .read_slots
            .acquire()
            .await
            .map_err(|e| StoreError::Unavailable(format!("store closed: {e}")))?;
        self.on_backend(move |b| match b {
            Backend::Sqlite(db) => db.read(f),
        })
        .await
    }

    /// A read that may be large (an API browse): it waits for one of a few
    /// bulk slots first, so pages always find a read slot free.
    pub(crate) async fn read_bulk<T: Send + 'static>(
        &self,
        f: impl FnOnce(&rusqlite::Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let _bulk = self
            .bulk_slots
            .acquire()
            .await
            .map_err(|e| StoreError::Unavailable(format!("store closed: {e}")))?;
        self.read(f).await
    }

    /// One write transaction on the blocking pool.
    pub(crate) async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Writer<'_>) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        self.on_backend(move |b| match b {
            Backend::Sqlite(db) => db.write(f),
        })
        .await
    }

    /// Like [`Store::write`], without waiting for the disk (see
    /// `SqliteStore::write_relaxed`).
    pub(crate) async fn write_relaxed<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Writer<'_>) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        self.on_backend(move |b| match b {
            Backend::Sqlite(db) => db.write_relaxed(f),
        })
        .await
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
    read_op!(changes_since(after_id: i64, limit: u32) -> Vec<Change>);
    read_op!(latest_change_id() -> i64);
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
        self.read(move |c| sqlite::staff::staff_for_signin(c, email_key))
            .await
    }
    /// A live session by the SHA-256 of its token.
    pub async fn session(
        &self,
        token_hash: Vec<u8>,
        now: i64,
    ) -> StoreResult<Option<StaffSession>> {
        self.read(move |c| sqlite::staff::session(c, token_hash, now))
            .await
    }
    pub async fn desk_posts(&self, filter: PostFilter, limit: u32) -> StoreResult<Vec<DeskPost>> {
        self.read(move |c| sqlite::staff::desk_posts(c, filter, limit))
            .await
    }
    pub async fn all_authors_and_tags(&self) -> StoreResult<(Vec<NamedRef>, Vec<NamedRef>)> {
        self.read(sqlite::staff::all_authors_and_tags).await
    }
    pub async fn post_kind_and_authors(&self, post_id: i64) -> StoreResult<Option<PostOwnership>> {
        self.read(move |c| sqlite::staff::post_kind_and_authors(c, post_id))
            .await
    }
    pub async fn editable_post(&self, id: i64) -> StoreResult<Option<EditablePost>> {
        self.read(move |c| sqlite::editing::editable_post(c, id))
            .await
    }
    pub async fn staff_user(&self, id: i64) -> StoreResult<Option<StaffUser>> {
        self.read(move |c| sqlite::staff::staff_user(c, id)).await
    }
    pub async fn author_by_id(&self, id: i64) -> StoreResult<Option<Author>> {
        self.read(move |c| sqlite::taxonomy::author_by_id(c, id))
            .await
    }
    pub async fn editable_tag(&self, id: i64) -> StoreResult<Option<EditableTag>> {
        self.read(move |c| sqlite::taxonomy::editable_tag(c, id))
            .await
    }
    pub async fn editable_tags(&self) -> StoreResult<Vec<EditableTag>> {
        self.read(sqlite::taxonomy::editable_tags).await
    }
    pub async fn media_item(&self, id: i64) -> StoreResult<Option<MediaItem>> {
        self.read(move |c| sqlite::media::media_item(c, id)).await
    }
    /// The media library, newest first, older than item `before`.
    pub async fn media_page(&self, before: Option<i64>, limit: u32) -> StoreResult<Vec<MediaItem>> {
        self.read(move |c| sqlite::media::media_page(c, before, limit))
            .await
    }
    pub async fn revisions(&self, post_id: i64) -> StoreResult<Vec<Revision>> {
        self.read(move |c| sqlite::editing::revisions(c, post_id))
            .await
    }
    pub async fn review_state(&self, post_id: i64) -> StoreResult<Option<String>> {
        self.read(move |c| sqlite::editing::review_state(c, post_id))
            .await
    }
    pub async fn review_notes(&self, post_id: i64) -> StoreResult<Vec<ReviewNote>> {
        self.read(move |c| sqlite::editing::review_notes(c, post_id))
            .await
    }
    pub async fn review_queue(&self) -> StoreResult<Vec<ReviewItem>> {
        self.read(sqlite::editing::review_queue).await
    }
    pub async fn post_notes(&self, post_id: i64) -> StoreResult<Vec<PostNote>> {
        self.read(move |c| sqlite::editing::post_notes(c, post_id))
            .await
    }
    /// Where a retired slug now lives.
    pub async fn redirect_for(&self, old_slug: String) -> StoreResult<Option<String>> {
        self.read(move |c| sqlite::editing::redirect_for(c, old_slug))
            .await
    }
    pub async fn owner_exists(&self) -> StoreResult<bool> {
        self.read(sqlite::staff::owner_exists).await
    }
    pub async fn staff_users(&self) -> StoreResult<Vec<StaffUser>> {
        self.read(sqlite::staff::staff_users).await
    }
    /// Counts one attempt against `limits`, atomically (see `Writer::throttle`),
    /// without a disk flush (see `SqliteStore::write_relaxed`).
    pub async fn throttle(&self, limits: Vec<Limit>) -> StoreResult<Result<Vec<i64>, usize>> {
        let now = now_ms();
        self.write_relaxed(move |w| w.throttle(&limits, now)).await
    }
    /// Takes back attempts counted by [`Store::throttle`] (work refused
    /// before it was tried), without a disk flush.
    pub async fn forget_attempt(&self, ids: Vec<i64>) -> StoreResult<()> {
        self.write_relaxed(move |w| w.forget_attempt(&ids)).await
    }
    /// Whether a one-time token would be accepted now (not yet spent).
    pub async fn one_time_token_valid(
        &self,
        token_hash: Vec<u8>,
        purpose: &'static str,
        now: i64,
    ) -> StoreResult<bool> {
        self.read(move |c| sqlite::staff::one_time_token_valid(c, token_hash, purpose, now))
            .await
    }
    /// Whether `post_id` is a published live post.
    pub async fn is_published_live(&self, post_id: i64) -> StoreResult<bool> {
        self.read(move |c| sqlite::queries::is_published_live(c, post_id))
            .await
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
        self.read(move |c| sqlite::search::search(c, query, filters, after, limit))
            .await
    }
    read_op!(published_post_id_by_slug(slug: String, kind: Option<PostKind>) -> Option<i64>);

    /// Adds a free member; the same address in any case is one member.
    pub async fn join_member(
        &self,
        email: Email,
        source: &'static str,
    ) -> StoreResult<JoinOutcome> {
        self.write(move |w| w.join_member(&email, source, now_ms()))
            .await
    }

    /// Adds a free member if `limits` allow one more join; the check, its
    /// record and the member are one transaction. `Err(i)`: limit `i` refused.
    pub async fn join_member_throttled(
        &self,
        email: Email,
        source: &'static str,
        limits: Vec<Limit>,
    ) -> StoreResult<Result<JoinOutcome, usize>> {
        self.write(move |w| {
            let now = now_ms();
            if let Err(i) = w.throttle(&limits, now)? {
                return Ok(Err(i));
            }
            w.join_member(&email, source, now).map(Ok)
        })
        .await
    }

    pub async fn add_live_entry(&self, entry: NewLiveEntry) -> StoreResult<i64> {
        self.write(move |w| w.add_live_entry(&entry)).await
    }

    /// One raw settings value.
    pub async fn site_settings_raw(&self, key: &'static str) -> StoreResult<Option<String>> {
        self.read(move |c| sqlite::queries::setting(c, key)).await
    }

    pub async fn set_setting(&self, key: &'static str, value: &str) -> StoreResult<()> {
        let value = value.to_owned();
        self.write(move |w| w.set_setting(key, &value)).await
    }

    /// Writes a consistent snapshot of the database to `dest` (a new file)
    /// while the site keeps serving and writing; see the `sqlite::backup` module.
    pub async fn backup_to(&self, dest: &Path) -> StoreResult<()> {
        let dest = dest.to_owned();
        self.on_backend(move |b| match b {
            Backend::Sqlite(db) => db.backup_to(&dest),
        })
        .await
    }

    /// Cheap liveness check for `/healthz`. It takes no read slot, so it
    /// answers while every slot is busy (a health check must tell "slow"
    /// from "down").
    pub async fn ping(&self) -> StoreResult<()> {
        self.on_backend(|b| match b {
            Backend::Sqlite(db) => db.read(sqlite::queries::ping),
        })
        .await
    }
}
