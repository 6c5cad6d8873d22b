//! The store's typed operations beyond the reader-facing queries in
//! `lib.rs`: the desk's and the APIs' reads, single writes, and the named
//! units of work. Each runs in one transaction on the blocking pool.

use masthead_domain::{Email, Role, Slug};

use crate::*;
use crate::{postgres, sqlite};

impl Store {
    // ------------------------------------------------------------ posts --

    /// Creates a post with the first free address made from its base slug.
    pub async fn create_post(&self, post: CreatePost) -> StoreResult<i64> {
        match &*self.backend {
            Backend::Sqlite(db) => Store::lite_write(db, move |w| w.create_post(&post)).await,
            Backend::Postgres(db) => {
                db.write_send(move |w| Box::pin(async move { w.create_post(&post).await }))
                    .await
            }
        }
    }

    /// Saves an edit; returns the post's new version. A version other than
    /// the current one is a [`StoreError::Conflict`].
    pub async fn save_post(&self, save: SavePost) -> StoreResult<i64> {
        match &*self.backend {
            Backend::Sqlite(db) => Store::lite_write(db, move |w| w.save_post_unit(&save)).await,
            Backend::Postgres(db) => {
                db.write_send(move |w| Box::pin(async move { w.save_post_unit(&save).await }))
                    .await
            }
        }
    }

    pub async fn delete_post(&self, id: i64) -> StoreResult<()> {
        match &*self.backend {
            Backend::Sqlite(db) => Store::lite_write(db, move |w| w.delete_post(id)).await,
            Backend::Postgres(db) => {
                db.write_send(move |w| Box::pin(async move { w.delete_post(id).await }))
                    .await
            }
        }
    }

    /// Moves a post through review and records the note.
    pub async fn review(
        &self,
        post_id: i64,
        staff_id: i64,
        decision: String,
        body: String,
        now: i64,
    ) -> StoreResult<()> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                Store::lite_write(db, move |w| {
                    w.review(post_id, staff_id, &decision, &body, now)
                })
                .await
            }
            Backend::Postgres(db) => {
                db.write_send(move |w| {
                    Box::pin(
                        async move { w.review(post_id, staff_id, &decision, &body, now).await },
                    )
                })
                .await
            }
        }
    }

    /// A correction or update printed on the story.
    pub async fn add_post_note(
        &self,
        post_id: i64,
        kind: String,
        noted_ms: i64,
        note: String,
    ) -> StoreResult<i64> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                Store::lite_write(db, move |w| {
                    w.add_post_note(post_id, &kind, noted_ms, &note)
                })
                .await
            }
            Backend::Postgres(db) => {
                db.write_send(move |w| {
                    Box::pin(async move { w.add_post_note(post_id, &kind, noted_ms, &note).await })
                })
                .await
            }
        }
    }

    /// Publishes every scheduled post whose time has come; returns their ids.
    pub async fn publish_due(&self, now: i64) -> StoreResult<Vec<i64>> {
        match &*self.backend {
            Backend::Sqlite(db) => Store::lite_write(db, move |w| w.publish_due(now)).await,
            Backend::Postgres(db) => {
                db.write_send(move |w| Box::pin(async move { w.publish_due(now).await }))
                    .await
            }
        }
    }

    /// Changes or deletes an entry of a live post; `false` when the entry
    /// is not one of that post's.
    pub async fn change_live_entry(
        &self,
        post_id: i64,
        entry_id: i64,
        change: LiveEntryChange,
    ) -> StoreResult<bool> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                Store::lite_write(db, move |w| w.change_live_entry(post_id, entry_id, &change))
                    .await
            }
            Backend::Postgres(db) => {
                db.write_send(move |w| {
                    Box::pin(async move { w.change_live_entry(post_id, entry_id, &change).await })
                })
                .await
            }
        }
    }

    // ---------------------------------------------------- API browsing --

    /// One page of posts or pages for the APIs.
    pub async fn browse_posts(&self, b: Browse) -> StoreResult<Page<ApiPost>> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                self.lite_read(db, move |c| sqlite::api::browse_posts(c, &b))
                    .await
            }
            Backend::Postgres(db) => {
                postgres::api::browse_posts(&*self.pg_read(db).await?, &b).await
            }
        }
    }

    /// Like [`Store::browse_posts`], for a page that may be large: it waits
    /// for a bulk slot, so it can never hold every read slot.
    pub async fn browse_posts_bulk(&self, b: Browse) -> StoreResult<Page<ApiPost>> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                self.lite_read_bulk(db, move |c| sqlite::api::browse_posts(c, &b))
                    .await
            }
            Backend::Postgres(db) => {
                postgres::api::browse_posts(&*self.pg_read_bulk(db).await?, &b).await
            }
        }
    }

    /// A bulk browse whose rows are turned into something else (JSON bytes)
    /// by `then` on the blocking pool, still under the bulk slot: a hundred
    /// long posts are real work, and on the async workers it would hold up
    /// every other request.
    pub async fn browse_posts_bulk_then<T: Send + 'static>(
        &self,
        b: Browse,
        then: impl FnOnce(Page<ApiPost>) -> T + Send + 'static,
    ) -> StoreResult<T> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                self.lite_read_bulk(db, move |c| sqlite::api::browse_posts(c, &b).map(then))
                    .await
            }
            Backend::Postgres(db) => {
                postgres::api::browse_posts(&*self.pg_read_bulk(db).await?, &b)
                    .await
                    .map(then)
            }
        }
    }

    pub async fn browse_tags(&self, b: Browse) -> StoreResult<Page<ApiTag>> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                self.lite_read(db, move |c| sqlite::api::browse_tags(c, &b))
                    .await
            }
            Backend::Postgres(db) => {
                postgres::api::browse_tags(&*self.pg_read(db).await?, &b).await
            }
        }
    }

    pub async fn browse_tags_bulk(&self, b: Browse) -> StoreResult<Page<ApiTag>> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                self.lite_read_bulk(db, move |c| sqlite::api::browse_tags(c, &b))
                    .await
            }
            Backend::Postgres(db) => {
                postgres::api::browse_tags(&*self.pg_read_bulk(db).await?, &b).await
            }
        }
    }

    pub async fn browse_authors_bulk(&self, b: Browse) -> StoreResult<Page<ApiAuthor>> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                self.lite_read_bulk(db, move |c| sqlite::api::browse_authors(c, &b))
                    .await
            }
            Backend::Postgres(db) => {
                postgres::api::browse_authors(&*self.pg_read_bulk(db).await?, &b).await
            }
        }
    }

    pub async fn browse_members_bulk(&self, b: Browse) -> StoreResult<Page<ApiMember>> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                self.lite_read_bulk(db, move |c| sqlite::api::browse_members(c, &b))
                    .await
            }
            Backend::Postgres(db) => {
                postgres::api::browse_members(&*self.pg_read_bulk(db).await?, &b).await
            }
        }
    }

    pub async fn member(&self, id: i64) -> StoreResult<Option<ApiMember>> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                self.lite_read(db, move |c| sqlite::api::member(c, id))
                    .await
            }
            Backend::Postgres(db) => postgres::api::member(&*self.pg_read(db).await?, id).await,
        }
    }

    /// Adds a member through the Admin API; the address must be new.
    pub async fn add_member(&self, email: Email, name: String, now: i64) -> StoreResult<i64> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                Store::lite_write(db, move |w| w.add_member(&email, &name, now)).await
            }
            Backend::Postgres(db) => {
                db.write_send(move |w| {
                    Box::pin(async move { w.add_member(&email, &name, now).await })
                })
                .await
            }
        }
    }

    pub async fn update_member(
        &self,
        id: i64,
        email: Option<Email>,
        name: Option<String>,
    ) -> StoreResult<()> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                Store::lite_write(db, move |w| {
                    w.update_member(id, email.as_ref(), name.as_deref())
                })
                .await
            }
            Backend::Postgres(db) => {
                db.write_send(move |w| {
                    Box::pin(
                        async move { w.update_member(id, email.as_ref(), name.as_deref()).await },
                    )
                })
                .await
            }
        }
    }

    // ------------------------------------------------------------- keys --

    pub async fn api_keys(&self) -> StoreResult<Vec<ApiKey>> {
        match &*self.backend {
            Backend::Sqlite(db) => self.lite_read(db, sqlite::api::api_keys).await,
            Backend::Postgres(db) => postgres::api::api_keys(&*self.pg_read(db).await?).await,
        }
    }

    /// A live key of `kind` with this public part: its row id and secret.
    pub async fn live_api_key(
        &self,
        kind: ApiKeyKind,
        key_id: String,
    ) -> StoreResult<Option<(i64, Option<String>)>> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                self.lite_read(db, move |c| sqlite::api::live_key(c, kind, key_id))
                    .await
            }
            Backend::Postgres(db) => {
                postgres::api::live_key(&*self.pg_read(db).await?, kind, key_id).await
            }
        }
    }

    pub async fn insert_api_key(
        &self,
        kind: ApiKeyKind,
        name: String,
        key_id: String,
        secret: Option<String>,
        created_by: Option<i64>,
        now: i64,
    ) -> StoreResult<i64> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                Store::lite_write(db, move |w| {
                    w.insert_api_key(kind, &name, &key_id, secret.as_deref(), created_by, now)
                })
                .await
            }
            Backend::Postgres(db) => {
                db.write_send(move |w| {
                    Box::pin(async move {
                        w.insert_api_key(kind, &name, &key_id, secret.as_deref(), created_by, now)
                            .await
                    })
                })
                .await
            }
        }
    }

    pub async fn revoke_api_key(&self, id: i64, now: i64) -> StoreResult<()> {
        match &*self.backend {
            Backend::Sqlite(db) => Store::lite_write(db, move |w| w.revoke_api_key(id, now)).await,
            Backend::Postgres(db) => {
                db.write_send(move |w| Box::pin(async move { w.revoke_api_key(id, now).await }))
                    .await
            }
        }
    }

    /// Records a key's use (at most once a minute is written).
    pub async fn touch_api_key(&self, id: i64, now: i64) -> StoreResult<()> {
        match &*self.backend {
            Backend::Sqlite(db) => Store::lite_write(db, move |w| w.touch_api_key(id, now)).await,
            Backend::Postgres(db) => {
                db.write_send(move |w| Box::pin(async move { w.touch_api_key(id, now).await }))
                    .await
            }
        }
    }

    // --------------------------------------------------------- webhooks --

    pub async fn webhooks(&self) -> StoreResult<Vec<Webhook>> {
        match &*self.backend {
            Backend::Sqlite(db) => self.lite_read(db, sqlite::webhooks::webhooks).await,
            Backend::Postgres(db) => postgres::webhooks::webhooks(&*self.pg_read(db).await?).await,
        }
    }

    pub async fn recent_deliveries(&self, limit: u32) -> StoreResult<Vec<Delivery>> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                self.lite_read(db, move |c| sqlite::webhooks::recent_deliveries(c, limit))
                    .await
            }
            Backend::Postgres(db) => {
                postgres::webhooks::recent_deliveries(&*self.pg_read(db).await?, limit).await
            }
        }
    }

    pub async fn insert_webhook(
        &self,
        event: String,
        target_url: String,
        name: String,
        secret: String,
        now: i64,
    ) -> StoreResult<i64> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                Store::lite_write(db, move |w| {
                    w.insert_webhook(&event, &target_url, &name, &secret, now)
                })
                .await
            }
            Backend::Postgres(db) => {
                db.write_send(move |w| {
                    Box::pin(async move {
                        w.insert_webhook(&event, &target_url, &name, &secret, now)
                            .await
                    })
                })
                .await
            }
        }
    }

    pub async fn deactivate_webhook(&self, id: i64) -> StoreResult<()> {
        match &*self.backend {
            Backend::Sqlite(db) => Store::lite_write(db, move |w| w.deactivate_webhook(id)).await,
            Backend::Postgres(db) => {
                db.write_send(move |w| Box::pin(async move { w.deactivate_webhook(id).await }))
                    .await
            }
        }
    }

    /// At start-up: failure causes recorded as `unreachable` by older
    /// versions are forgotten (deliveries a stopped process held need
    /// nothing: their leases end and any instance takes them over).
    pub async fn forget_failure_causes(&self, unreachable: &'static str) -> StoreResult<usize> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                Store::lite_write(db, move |w| w.forget_failure_causes(unreachable)).await
            }
            Backend::Postgres(db) => {
                db.write_send(move |w| {
                    Box::pin(async move { w.forget_failure_causes(unreachable).await })
                })
                .await
            }
        }
    }

    /// Claims up to `limit` deliveries that are due, or whose sender's lease
    /// has ended, under a lease of `lease_ms` (see `lease.rs`).
    pub async fn claim_due_deliveries(
        &self,
        now: i64,
        limit: u32,
        lease_ms: i64,
    ) -> StoreResult<Vec<Due>> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                Store::lite_write(db, move |w| w.claim_due_deliveries(now, limit, lease_ms)).await
            }
            Backend::Postgres(db) => {
                db.write_send(move |w| {
                    Box::pin(async move { w.claim_due_deliveries(now, limit, lease_ms).await })
                })
                .await
            }
        }
    }

    /// Records an attempt made under the lease `token`; `false` when the
    /// lease was lost (another instance took the delivery over), and
    /// nothing was written.
    pub async fn record_attempt(
        &self,
        id: i64,
        token: String,
        status_code: Option<u16>,
        error: Option<String>,
        outcome: Outcome,
        now: i64,
    ) -> StoreResult<bool> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                Store::lite_write(db, move |w| {
                    w.record_attempt(id, &token, status_code, error.as_deref(), outcome, now)
                })
                .await
            }
            Backend::Postgres(db) => {
                db.write_send(move |w| {
                    Box::pin(async move {
                        w.record_attempt(id, &token, status_code, error.as_deref(), outcome, now)
                            .await
                    })
                })
                .await
            }
        }
    }

    /// Hands back the deliveries claimed under `token` that are still being
    /// sent, for any instance to take at once (a server stopping).
    pub async fn release_deliveries(&self, token: String) -> StoreResult<usize> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                Store::lite_write(db, move |w| w.release_deliveries(&token)).await
            }
            Backend::Postgres(db) => {
                db.write_send(move |w| Box::pin(async move { w.release_deliveries(&token).await }))
                    .await
            }
        }
    }

    // ------------------------------------------------------------ staff --

    /// Opens a session for a sign-in that passed its checks.
    pub async fn sign_in(&self, s: SignIn) -> StoreResult<()> {
        match &*self.backend {
            Backend::Sqlite(db) => Store::lite_write(db, move |w| w.sign_in(&s)).await,
            Backend::Postgres(db) => {
                db.write_send(move |w| Box::pin(async move { w.sign_in(&s).await }))
                    .await
            }
        }
    }

    pub async fn delete_session(&self, token_hash: Vec<u8>) -> StoreResult<()> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                Store::lite_write(db, move |w| w.delete_session(&token_hash)).await
            }
            Backend::Postgres(db) => {
                db.write_send(move |w| Box::pin(async move { w.delete_session(&token_hash).await }))
                    .await
            }
        }
    }

    /// Ends every session of an account; returns how many there were.
    pub async fn delete_sessions_of(&self, user_id: i64) -> StoreResult<usize> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                Store::lite_write(db, move |w| w.delete_sessions_of(user_id)).await
            }
            Backend::Postgres(db) => {
                db.write_send(move |w| Box::pin(async move { w.delete_sessions_of(user_id).await }))
                    .await
            }
        }
    }

    pub async fn insert_one_time_token(
        &self,
        token_hash: Vec<u8>,
        purpose: &'static str,
        user_id: Option<i64>,
        now: i64,
        expires: i64,
    ) -> StoreResult<()> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                Store::lite_write(db, move |w| {
                    w.insert_one_time_token(&token_hash, purpose, user_id, now, expires)
                })
                .await
            }
            Backend::Postgres(db) => {
                db.write_send(move |w| {
                    Box::pin(async move {
                        w.insert_one_time_token(&token_hash, purpose, user_id, now, expires)
                            .await
                    })
                })
                .await
            }
        }
    }

    /// Spends a set-up token and creates the owner, in one transaction;
    /// `None` when the token is spent or an owner exists already.
    pub async fn create_owner(
        &self,
        token_hash: Vec<u8>,
        owner: NewStaffUser,
        now: i64,
    ) -> StoreResult<Option<i64>> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                Store::lite_write(db, move |w| w.create_owner(&token_hash, &owner, now)).await
            }
            Backend::Postgres(db) => {
                db.write_send(move |w| {
                    Box::pin(async move { w.create_owner(&token_hash, &owner, now).await })
                })
                .await
            }
        }
    }

    /// Spends a reset token, sets the password and signs the account out
    /// everywhere; `false` when the token is spent or unknown.
    pub async fn reset_password(
        &self,
        token_hash: Vec<u8>,
        password_hash: String,
        now: i64,
    ) -> StoreResult<bool> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                Store::lite_write(db, move |w| {
                    w.reset_password(&token_hash, &password_hash, now)
                })
                .await
            }
            Backend::Postgres(db) => {
                db.write_send(move |w| {
                    Box::pin(
                        async move { w.reset_password(&token_hash, &password_hash, now).await },
                    )
                })
                .await
            }
        }
    }

    pub async fn create_staff_user(&self, user: NewStaffUser) -> StoreResult<i64> {
        match &*self.backend {
            Backend::Sqlite(db) => Store::lite_write(db, move |w| w.insert_staff_user(&user)).await,
            Backend::Postgres(db) => {
                db.write_send(move |w| Box::pin(async move { w.insert_staff_user(&user).await }))
                    .await
            }
        }
    }

    /// A new account and its one-time link, together.
    pub async fn invite_staff(&self, invite: Invite) -> StoreResult<i64> {
        match &*self.backend {
            Backend::Sqlite(db) => Store::lite_write(db, move |w| w.invite_staff(&invite)).await,
            Backend::Postgres(db) => {
                db.write_send(move |w| Box::pin(async move { w.invite_staff(&invite).await }))
                    .await
            }
        }
    }

    pub async fn set_staff_role(&self, user_id: i64, role: Role) -> StoreResult<()> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                Store::lite_write(db, move |w| w.set_staff_role(user_id, role)).await
            }
            Backend::Postgres(db) => {
                db.write_send(move |w| {
                    Box::pin(async move { w.set_staff_role(user_id, role).await })
                })
                .await
            }
        }
    }

    pub async fn set_staff_active(&self, user_id: i64, active: bool) -> StoreResult<()> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                Store::lite_write(db, move |w| w.set_staff_active(user_id, active)).await
            }
            Backend::Postgres(db) => {
                db.write_send(move |w| {
                    Box::pin(async move { w.set_staff_active(user_id, active).await })
                })
                .await
            }
        }
    }

    // ---------------------------------------------- taxonomy and media --

    /// A byline with the first free slug made from `base`.
    pub async fn create_author(&self, base: Slug, author: NewAuthor) -> StoreResult<i64> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                Store::lite_write(db, move |w| w.create_author(&base, &author)).await
            }
            Backend::Postgres(db) => {
                db.write_send(move |w| {
                    Box::pin(async move { w.create_author(&base, &author).await })
                })
                .await
            }
        }
    }

    pub async fn update_author(&self, id: i64, edit: AuthorEdit) -> StoreResult<()> {
        match &*self.backend {
            Backend::Sqlite(db) => Store::lite_write(db, move |w| w.update_author(id, &edit)).await,
            Backend::Postgres(db) => {
                db.write_send(move |w| Box::pin(async move { w.update_author(id, &edit).await }))
                    .await
            }
        }
    }

    pub async fn create_tag(&self, tag: NewTag) -> StoreResult<i64> {
        match &*self.backend {
            Backend::Sqlite(db) => Store::lite_write(db, move |w| w.create_tag(&tag)).await,
            Backend::Postgres(db) => {
                db.write_send(move |w| Box::pin(async move { w.create_tag(&tag).await }))
                    .await
            }
        }
    }

    pub async fn update_tag(&self, id: i64, edit: TagEdit) -> StoreResult<()> {
        match &*self.backend {
            Backend::Sqlite(db) => Store::lite_write(db, move |w| w.update_tag(id, &edit)).await,
            Backend::Postgres(db) => {
                db.write_send(move |w| Box::pin(async move { w.update_tag(id, &edit).await }))
                    .await
            }
        }
    }

    pub async fn delete_tag(&self, id: i64) -> StoreResult<()> {
        match &*self.backend {
            Backend::Sqlite(db) => Store::lite_write(db, move |w| w.delete_tag(id)).await,
            Backend::Postgres(db) => {
                db.write_send(move |w| Box::pin(async move { w.delete_tag(id).await }))
                    .await
            }
        }
    }

    /// Records an upload; `(id, true)` when it is new, `(id, false)` when
    /// the same file was in the library already.
    pub async fn insert_media(&self, media: NewMedia) -> StoreResult<(i64, bool)> {
        match &*self.backend {
            Backend::Sqlite(db) => Store::lite_write(db, move |w| w.insert_media(&media)).await,
            Backend::Postgres(db) => {
                db.write_send(move |w| Box::pin(async move { w.insert_media(&media).await }))
                    .await
            }
        }
    }

    pub async fn update_media_details(
        &self,
        id: i64,
        details: MediaDetails,
        now: i64,
    ) -> StoreResult<()> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                Store::lite_write(db, move |w| w.update_media_details(id, &details, now)).await
            }
            Backend::Postgres(db) => {
                db.write_send(move |w| {
                    Box::pin(async move { w.update_media_details(id, &details, now).await })
                })
                .await
            }
        }
    }

    // ------------------------------------------------------------- site --

    /// Site settings saved together, with a new campaign when it changed.
    pub async fn update_settings(&self, update: SettingsUpdate) -> StoreResult<()> {
        match &*self.backend {
            Backend::Sqlite(db) => Store::lite_write(db, move |w| w.update_settings(&update)).await,
            Backend::Postgres(db) => {
                db.write_send(move |w| Box::pin(async move { w.update_settings(&update).await }))
                    .await
            }
        }
    }

    /// Fills an empty site (demo content, benchmark archives) in one
    /// transaction: a failure leaves the database untouched.
    pub async fn seed_site(&self, seed: SiteSeed) -> StoreResult<SeedCounts> {
        match &*self.backend {
            Backend::Sqlite(db) => Store::lite_write(db, move |w| w.seed_site(seed)).await,
            Backend::Postgres(db) => {
                let counts = db
                    .write_send(move |w| Box::pin(async move { w.seed_site(seed).await }))
                    .await?;
                db.analyze().await?;
                Ok(counts)
            }
        }
    }

    /// Writes an imported site in one transaction: all of it, or nothing.
    pub async fn import_site(&self, import: SiteImport) -> StoreResult<ImportOutcome> {
        match &*self.backend {
            Backend::Sqlite(db) => Store::lite_write(db, move |w| w.import_site(import)).await,
            Backend::Postgres(db) => {
                let outcome = db
                    .write_send(move |w| Box::pin(async move { w.import_site(import).await }))
                    .await?;
                db.analyze().await?;
                Ok(outcome)
            }
        }
    }

    /// Everything an export holds.
    pub async fn everything(&self) -> StoreResult<Everything> {
        match &*self.backend {
            Backend::Sqlite(db) => self.lite_read(db, sqlite::transfer::everything).await,
            Backend::Postgres(db) => {
                postgres::transfer::everything(&*self.pg_read(db).await?).await
            }
        }
    }

    /// Folds the write-ahead log into the database file (after bulk loads).
    pub async fn checkpoint(&self) -> StoreResult<()> {
        match &*self.backend {
            Backend::Sqlite(db) => Store::on_lite(db, |db| db.checkpoint()).await,
            // PostgreSQL checkpoints on its own schedule; nothing to fold.
            Backend::Postgres(_) => Ok(()),
        }
    }
}

// ------------------------------------------------------------ members --
// Members' own side (issue 10): see `sqlite/members.rs` and its twin.

/// Runs a writer method on either backend: `write_op!(self, method(args…))`,
/// the arguments moved into the transaction.
macro_rules! member_write {
    ($store:expr, $f:ident ( $($arg:ident),* )) => {
        match &*$store.backend {
            Backend::Sqlite(db) => Store::lite_write(db, move |w| w.$f($(&$arg),*)).await,
            Backend::Postgres(db) => {
                db.write_send(move |w| Box::pin(async move { w.$f($(&$arg),*).await }))
                    .await
            }
        }
    };
}

/// Runs a read in `members` on either backend.
macro_rules! member_read {
    ($store:expr, $f:ident ( $($arg:expr),* )) => {
        match &*$store.backend {
            Backend::Sqlite(db) => {
                $store.lite_read(db, move |c| sqlite::members::$f(c $(, $arg)*)).await
            }
            Backend::Postgres(db) => {
                postgres::members::$f(&*$store.pg_read(db).await?, $($arg),*).await
            }
        }
    };
}

impl Store {
    /// Records a sign-up, sign-in or e-mail change request if `limits`
    /// allow one more; the check, its record and the request are one
    /// transaction. `Err(i)`: limit `i` refused.
    pub async fn request_member_mail(
        &self,
        req: NewMemberRequest,
        limits: Vec<Limit>,
    ) -> StoreResult<Result<MemberRequestRecorded, usize>> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                Store::lite_write(db, move |w| {
                    if let Err(i) = w.throttle(&limits, req.now_ms)? {
                        return Ok(Err(i));
                    }
                    w.record_member_request(&req).map(Ok)
                })
                .await
            }
            Backend::Postgres(db) => {
                db.write_send(move |w| {
                    Box::pin(async move {
                        if let Err(i) = w.throttle(&limits, req.now_ms).await? {
                            return Ok(Err(i));
                        }
                        w.record_member_request(&req).await.map(Ok)
                    })
                })
                .await
            }
        }
    }

    /// Redeems a request by link or code and opens `session` (one unit).
    pub async fn redeem_member_request(
        &self,
        by: RedeemBy,
        session: NewMemberSession,
        max_attempts: u32,
    ) -> StoreResult<Result<MemberRedeemed, RedeemRefused>> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                Store::lite_write(db, move |w| {
                    w.redeem_member_request(&by, &session, max_attempts)
                })
                .await
            }
            Backend::Postgres(db) => {
                db.write_send(move |w| {
                    Box::pin(
                        async move { w.redeem_member_request(&by, &session, max_attempts).await },
                    )
                })
                .await
            }
        }
    }

    /// The member signed in with this session token hash, if it is live.
    pub async fn member_session(
        &self,
        token_hash: Vec<u8>,
        now: i64,
    ) -> StoreResult<Option<MemberSession>> {
        member_read!(self, member_session(token_hash, now))
    }

    pub async fn end_member_session(&self, token_hash: Vec<u8>) -> StoreResult<()> {
        member_write!(self, end_member_session(token_hash))
    }

    /// Signs a member out everywhere; how many sessions ended.
    pub async fn end_member_sessions(&self, member_id: i64) -> StoreResult<usize> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                Store::lite_write(db, move |w| w.end_member_sessions(member_id)).await
            }
            Backend::Postgres(db) => {
                db.write_send(move |w| {
                    Box::pin(async move { w.end_member_sessions(member_id).await })
                })
                .await
            }
        }
    }

    pub async fn set_member_display_name(&self, member_id: i64, name: String) -> StoreResult<()> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                Store::lite_write(db, move |w| w.set_member_display_name(member_id, &name)).await
            }
            Backend::Postgres(db) => {
                db.write_send(move |w| {
                    Box::pin(async move { w.set_member_display_name(member_id, &name).await })
                })
                .await
            }
        }
    }

    /// Replaces a member's newsletters with the active ones among `ids`
    /// (the member's own choice); queues `member.edited`.
    pub async fn set_member_newsletters(&self, member_id: i64, ids: Vec<i64>) -> StoreResult<()> {
        let now = now_ms();
        match &*self.backend {
            Backend::Sqlite(db) => {
                Store::lite_write(db, move |w| {
                    w.choose_member_newsletters(member_id, &ids, now)
                })
                .await
            }
            Backend::Postgres(db) => {
                db.write_send(move |w| {
                    Box::pin(async move { w.choose_member_newsletters(member_id, &ids, now).await })
                })
                .await
            }
        }
    }

    /// Erases a member at once and queues `member.deleted`.
    pub async fn delete_member_account(&self, member_id: i64) -> StoreResult<bool> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                Store::lite_write(db, move |w| w.delete_member_account(member_id)).await
            }
            Backend::Postgres(db) => {
                db.write_send(move |w| {
                    Box::pin(async move { w.delete_member_account(member_id).await })
                })
                .await
            }
        }
    }

    pub async fn newsletters(&self) -> StoreResult<Vec<Newsletter>> {
        member_read!(self, newsletters())
    }

    pub async fn member_newsletters(&self, member_id: i64) -> StoreResult<Vec<Newsletter>> {
        member_read!(self, member_newsletters(member_id))
    }

    /// Everything stored about a member ("download my data").
    pub async fn member_export(&self, member_id: i64) -> StoreResult<Option<MemberExport>> {
        member_read!(self, member_export(member_id))
    }
}

// ---------------------------------------------------- the desk's members --
// Lists, labels, staff edits, imports and newsletters (issue 10, items 7
// and 8): see `sqlite/roster.rs` and its twin.

/// Runs a read in `roster` on either backend.
macro_rules! roster_read {
    ($store:expr, $f:ident ( $($arg:expr),* )) => {
        match &*$store.backend {
            Backend::Sqlite(db) => {
                $store.lite_read(db, move |c| sqlite::roster::$f(c $(, $arg)*)).await
            }
            Backend::Postgres(db) => {
                postgres::roster::$f(&*$store.pg_read(db).await?, $($arg),*).await
            }
        }
    };
}

/// Runs a writer method on either backend, the arguments written as the
/// method takes them (`&value` or a copy), moved into the transaction.
macro_rules! roster_write {
    ($store:expr, $f:ident ( $($arg:expr),* )) => {
        match &*$store.backend {
            Backend::Sqlite(db) => Store::lite_write(db, move |w| w.$f($($arg),*)).await,
            Backend::Postgres(db) => {
                db.write_send(move |w| Box::pin(async move { w.$f($($arg),*).await }))
                    .await
            }
        }
    };
}

impl Store {
    /// A page of the desk's members list, newest first, after `after`;
    /// `with_total` also counts every member the filter matches.
    pub async fn desk_members(
        &self,
        filter: MemberFilter,
        after: Option<MemberCursor>,
        limit: u32,
        with_total: bool,
    ) -> StoreResult<MemberListPage> {
        roster_read!(self, desk_members(filter, after, limit, with_total))
    }

    /// One member with their note, labels and newsletters.
    pub async fn desk_member(&self, id: i64) -> StoreResult<Option<DeskMember>> {
        roster_read!(self, desk_member(id))
    }

    /// The members with these ids, in no particular order (absent ids are
    /// left out).
    pub async fn desk_members_by_id(&self, ids: Vec<i64>) -> StoreResult<Vec<DeskMember>> {
        roster_read!(self, desk_members_by_id(ids))
    }

    /// Every member label, by name.
    pub async fn labels(&self) -> StoreResult<Vec<Label>> {
        roster_read!(self, labels())
    }

    /// Members who joined since `from_ms`, by day of the site's time zone
    /// (`offset_ms` from UTC); days with none left out.
    pub async fn joins_by_day(&self, from_ms: i64, offset_ms: i64) -> StoreResult<Vec<JoinsOnDay>> {
        roster_read!(self, joins_by_day(from_ms, offset_ms))
    }

    pub async fn newsletter(&self, id: i64) -> StoreResult<Option<Newsletter>> {
        roster_read!(self, newsletter(id))
    }

    /// Adds members confirmed at once, all in one transaction (nothing is
    /// written if any write fails); duplicates are reported, not written.
    pub async fn add_desk_members(
        &self,
        members: Vec<NewDeskMember>,
    ) -> StoreResult<Vec<MemberAdded>> {
        let now = now_ms();
        roster_write!(self, add_desk_members(&members, now))
    }

    /// A staff edit of a member; queues `member.edited`.
    pub async fn edit_member(&self, id: i64, edit: MemberEdit) -> StoreResult<()> {
        let now = now_ms();
        roster_write!(self, edit_member(id, &edit, now))
    }

    pub async fn add_newsletter(&self, n: NewsletterInput) -> StoreResult<i64> {
        let now = now_ms();
        roster_write!(self, add_newsletter(&n, now))
    }

    pub async fn edit_newsletter(&self, id: i64, n: NewsletterInput) -> StoreResult<()> {
        let now = now_ms();
        roster_write!(self, edit_newsletter(id, &n, now))
    }
}
