//! Writes, inside one transaction: the PostgreSQL mirror of `sqlite/write.rs`.
//! [`PgWriter`] has the methods of the SQLite `Writer`, async. Every write
//! that readers can see appends to `change_log` in the same transaction.
//!
//! PostgreSQL has none of SQLite's business triggers (migrations/sqlite
//! 0006_api.sql and 0007_webhooks.sql): the writes that insert a post, change
//! a post's `status` or `updated_at`, or insert a member do here in Rust what
//! those triggers do there — give a new post its uuid ([`new_uuid`]) and put a
//! delivery for each matching active webhook in the outbox
//! ([`PgWriter::enqueue_webhooks`]), in the same transaction.

use deadpool_postgres::Transaction;
use masthead_domain::{Email, PostKind, PostStatus};

use super::PgStore;
use super::sql::{count_at, exec, map, row_one, row_opt, rows};
use crate::error::{StoreError, StoreResult};
use crate::model::*;
use crate::now_ms;

/// Which of a post's ordered relations [`PgWriter::link_post`] writes.
#[derive(Clone, Copy)]
pub(crate) enum PostLinks {
    Tags,
    Authors,
}

/// A boxed future that may move between threads, borrowing for `'a`.
pub type SendFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

pub struct PgWriter<'a> {
    tx: &'a Transaction<'a>,
}

impl PgStore {
    /// Runs `f` in one transaction (READ COMMITTED): all of it lands, or
    /// none of it. Unlike SQLite's, transactions run side by side; the
    /// methods that read then write say how they stay correct.
    pub async fn write<T>(
        &self,
        f: impl for<'w> AsyncFnOnce(&'w PgWriter<'w>) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let value = {
            let w = PgWriter::new(&tx);
            f(&w).await?
        };
        tx.commit().await?;
        Ok(value)
    }

    /// [`PgStore::write`] for code that must be `Send` (a server's handlers,
    /// `tokio::spawn`): the compiler cannot yet prove an async closure over a
    /// borrowed writer `Send`, so the work is a boxed future instead:
    /// `store.write_send(|w| Box::pin(async move { w.insert_post(&p).await }))`.
    pub async fn write_send<T, F>(&self, f: F) -> StoreResult<T>
    where
        F: for<'w> FnOnce(&'w PgWriter<'w>) -> SendFuture<'w, StoreResult<T>> + Send,
        T: Send,
    {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let value = {
            let w = PgWriter::new(&tx);
            f(&w).await?
        };
        tx.commit().await?;
        Ok(value)
    }

    /// Like [`PgStore::write`], but the commit does not wait for the WAL to
    /// reach the disk (`synchronous_commit = off` for this transaction): for
    /// bookkeeping whose loss in a crash costs nothing, as SQLite's
    /// `write_relaxed`.
    pub async fn write_relaxed<T>(
        &self,
        f: impl for<'w> AsyncFnOnce(&'w PgWriter<'w>) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.batch_execute("SET LOCAL synchronous_commit = off")
            .await?;
        let value = {
            let w = PgWriter::new(&tx);
            f(&w).await?
        };
        tx.commit().await?;
        Ok(value)
    }
}

impl PgStore {
    /// [`PgStore::write_relaxed`] for code that must be `Send` (see
    /// [`PgStore::write_send`]).
    pub async fn write_relaxed_send<T, F>(&self, f: F) -> StoreResult<T>
    where
        F: for<'w> FnOnce(&'w PgWriter<'w>) -> SendFuture<'w, StoreResult<T>> + Send,
        T: Send,
    {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.batch_execute("SET LOCAL synchronous_commit = off")
            .await?;
        let value = {
            let w = PgWriter::new(&tx);
            f(&w).await?
        };
        tx.commit().await?;
        Ok(value)
    }
}

/// A random (version 4) UUID, lowercase and hyphenated, as SQLite's
/// `randomblob` expression makes them.
pub fn new_uuid() -> StoreResult<String> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b)
        .map_err(|e| StoreError::Other(format!("no randomness for a uuid: {e}")))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}

/// What SQLite's `webhooks_post_status` trigger tells the webhooks when an
/// UPDATE sets a post's status or `updated_at`.
pub(crate) fn post_status_event(
    old_status: &str,
    old_updated: i64,
    new_status: &str,
    new_updated: i64,
) -> Option<&'static str> {
    match (old_status == "published", new_status == "published") {
        (false, true) => Some("post.published"),
        (true, false) => Some("post.unpublished"),
        (true, true) if new_updated != old_updated => Some("post.updated"),
        _ => None,
    }
}

impl<'a> PgWriter<'a> {
    pub(crate) fn new(tx: &'a Transaction<'a>) -> PgWriter<'a> {
        PgWriter { tx }
    }

    /// Adds a post's ordered tags or bylines (position 0 is the primary
    /// one), each row carrying `listed_at` for the listing indexes.
    pub(crate) async fn link_post(
        &self,
        links: PostLinks,
        post_id: i64,
        ids: &[i64],
        listed_at: Option<i64>,
    ) -> StoreResult<()> {
        let sql = match links {
            PostLinks::Tags => {
                "INSERT INTO post_tags (post_id, tag_id, position, published_at) VALUES ($1, $2, $3, $4)"
            }
            PostLinks::Authors => {
                "INSERT INTO post_authors (post_id, author_id, position, published_at) VALUES ($1, $2, $3, $4)"
            }
        };
        for (pos, other) in ids.iter().enumerate() {
            exec(self.tx, sql, &[&post_id, other, &(pos as i64), &listed_at]).await?;
        }
        Ok(())
    }

    pub(crate) fn tx(&self) -> &'a Transaction<'a> {
        self.tx
    }

    /// Records that something readers can see has changed. The row carries
    /// this transaction's id (the column's default), which readers use to
    /// take rows in commit order (`postgres/changes.rs`), and the commit
    /// wakes every instance's reader through `NOTIFY`, sent once per
    /// transaction however many changes it logs. Member joins do not
    /// notify: they come in bursts, notifying commits take one global lock
    /// in turn, and nothing waits on a join (counters poll).
    pub async fn log_change(
        &self,
        topic: ChangeTopic,
        post_id: Option<i64>,
        ref_id: Option<i64>,
    ) -> StoreResult<()> {
        exec(
            self.tx,
            "INSERT INTO change_log (at, topic, post_id, ref_id) VALUES ($1, $2, $3, $4)",
            &[&now_ms(), &topic.as_str(), &post_id, &ref_id],
        )
        .await?;
        if topic != ChangeTopic::Member {
            exec(
                self.tx,
                "SELECT pg_notify($1, '')",
                &[&super::changes::CHANNEL],
            )
            .await?;
        }
        Ok(())
    }

    /// The outbox (SQLite's webhook triggers): one pending delivery of
    /// `event` about `subject_id` for every active webhook listening for it.
    pub async fn enqueue_webhooks(&self, event: &str, subject_id: i64) -> StoreResult<()> {
        exec(
            self.tx,
            "INSERT INTO webhook_deliveries (webhook_id, event, subject_id, next_attempt_at, created_at)
             SELECT id, event, $2, $3, $3 FROM webhooks WHERE active AND event = $1",
            &[&event, &subject_id, &now_ms()],
        )
        .await?;
        Ok(())
    }

    /// Enqueues what an UPDATE of a post's status or `updated_at` means for
    /// the webhooks (see [`post_status_event`]).
    pub(crate) async fn enqueue_post_change(
        &self,
        post_id: i64,
        old: (&str, i64),
        new: (&str, i64),
    ) -> StoreResult<()> {
        if let Some(event) = post_status_event(old.0, old.1, new.0, new.1) {
            self.enqueue_webhooks(event, post_id).await?;
        }
        Ok(())
    }

    pub async fn set_setting(&self, key: &str, value: &str) -> StoreResult<()> {
        exec(
            self.tx,
            "INSERT INTO settings (key, value) VALUES ($1, $2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[&key, &value],
        )
        .await?;
        self.log_change(ChangeTopic::Site, None, None).await
    }

    pub async fn insert_author(&self, a: &NewAuthor) -> StoreResult<i64> {
        masthead_domain::Slug::parse(&a.slug)?;
        Ok(row_one(
            self.tx,
            "INSERT INTO authors (slug, name, bio, location, created_at) VALUES ($1, $2, $3, $4, $5)
             RETURNING id",
            &[&a.slug, &a.name, &a.bio, &a.location, &now_ms()],
        )
        .await?
        .try_get(0)?)
    }

    pub async fn insert_tag(&self, t: &NewTag) -> StoreResult<i64> {
        masthead_domain::Slug::parse(&t.slug)?;
        Ok(row_one(
            self.tx,
            "INSERT INTO tags (slug, name, description, is_section, position, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            &[
                &t.slug,
                &t.name,
                &t.description,
                &t.is_section,
                &t.position,
                &now_ms(),
            ],
        )
        .await?
        .try_get(0)?)
    }

    pub async fn insert_post(&self, p: &NewPost) -> StoreResult<i64> {
        let id = self.insert_post_unindexed(p).await?;
        self.reindex_post(id).await?;
        self.log_change(ChangeTopic::Post, Some(id), None).await?;
        Ok(id)
    }

    /// [`PgWriter::insert_post`] without the search index row or the change
    /// log entry, for bulk loads that rebuild the index once at the end.
    async fn insert_post_unindexed(&self, p: &NewPost) -> StoreResult<i64> {
        masthead_domain::Slug::parse(&p.slug)?;
        if p.status == PostStatus::Published && p.published_ms.is_none() {
            return Err(StoreError::Invalid(
                "a published post needs a publication time".into(),
            ));
        }
        let img = p.image.clone().unwrap_or_default();
        let has_img = p.image.is_some();
        let video = p.video.as_ref();
        let created = p.published_ms.unwrap_or(p.updated_ms).min(p.updated_ms);
        let uuid = new_uuid()?;
        let id: i64 = row_one(
            self.tx,
            "INSERT INTO posts (kind, slug, title, dek, body_source, body_html, word_count,
                reading_minutes, status, visibility, primary_tag_id, feature_image,
                feature_image_alt, feature_image_caption, feature_image_photographer,
                feature_image_agency, feature_image_width, feature_image_height, video_src,
                video_embed, video_duration_s, created_at, updated_at, published_at, uuid)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                $18, $19, $20, $21, $22, $23, $24, $25)
             RETURNING id",
            &[
                &p.kind.as_str(),
                &p.slug,
                &p.title,
                &p.dek,
                &p.body_source,
                &p.body_html,
                &i64::from(p.word_count),
                &i64::from(p.reading_minutes),
                &p.status.as_str(),
                &p.visibility.as_str(),
                &p.tag_ids.first(),
                &has_img.then_some(&img.src),
                &img.alt,
                &img.caption,
                &img.photographer,
                &img.agency,
                &img.width.map(i64::from),
                &img.height.map(i64::from),
                &video.and_then(|v| v.src.as_ref()),
                &video.and_then(|v| v.embed.as_ref()),
                &video.and_then(|v| v.duration_s).map(i64::from),
                &created,
                &p.updated_ms,
                &p.published_ms,
                &uuid,
            ],
        )
        .await?
        .try_get(0)?;
        // Listings by tag and author paginate on their own index, which carries
        // the publication time while the post is visible in feeds.
        let listed_at = (p.status == PostStatus::Published && p.kind != PostKind::Page)
            .then_some(p.published_ms)
            .flatten();
        self.link_post(PostLinks::Tags, id, &p.tag_ids, listed_at)
            .await?;
        self.link_post(PostLinks::Authors, id, &p.author_ids, listed_at)
            .await?;
        // SQLite's webhooks_post_published_insert trigger.
        if p.status == PostStatus::Published {
            self.enqueue_webhooks("post.published", id).await?;
        }
        Ok(id)
    }

    /// Inserts a seed's post; its search row comes with the index's rebuild
    /// at the end of the seed (one batch of rows at a time, not one by one).
    pub(crate) async fn insert_seed_post(&self, p: &NewPost) -> StoreResult<i64> {
        let id = self.insert_post_unindexed(p).await?;
        self.log_change(ChangeTopic::Post, Some(id), None).await?;
        Ok(id)
    }

    pub async fn add_post_note(
        &self,
        post_id: i64,
        kind: &str,
        noted_ms: i64,
        note: &str,
    ) -> StoreResult<i64> {
        if kind != "correction" && kind != "update" {
            return Err(StoreError::Invalid(format!("unknown note kind {kind:?}")));
        }
        let id: i64 = row_one(
            self.tx,
            "INSERT INTO post_notes (post_id, kind, noted_at, note) VALUES ($1, $2, $3, $4) RETURNING id",
            &[&post_id, &kind, &noted_ms, &note],
        )
        .await?
        .try_get(0)?;
        self.log_change(ChangeTopic::Post, Some(post_id), None)
            .await?;
        Ok(id)
    }

    /// Adds an entry to a live post, and marks the post as updated.
    pub async fn add_live_entry(&self, e: &NewLiveEntry) -> StoreResult<i64> {
        // FOR UPDATE: the post's `updated_at` read here decides the webhook
        // event below; no other transaction may move it in between.
        let Some(post) = row_opt(
            self.tx,
            "SELECT kind, status, updated_at FROM posts WHERE id = $1 FOR UPDATE",
            &[&e.post_id],
        )
        .await?
        else {
            return Err(StoreError::NotFound);
        };
        let kind: String = post.try_get(0)?;
        let status: String = post.try_get(1)?;
        let old_updated: i64 = post.try_get(2)?;
        if kind != "live" {
            return Err(StoreError::Invalid(format!(
                "entries can only be added to live posts; this post is a {kind}"
            )));
        }
        let id: i64 = row_one(
            self.tx,
            "INSERT INTO live_entries (post_id, title, body_source, body_html, pinned, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
            &[&e.post_id, &e.title, &e.body_source, &e.body_html, &e.pinned, &e.created_ms],
        )
        .await?
        .try_get(0)?;
        let new_updated: i64 = row_one(
            self.tx,
            "UPDATE posts SET updated_at = GREATEST(updated_at, $2) WHERE id = $1 RETURNING updated_at",
            &[&e.post_id, &e.created_ms],
        )
        .await?
        .try_get(0)?;
        self.enqueue_post_change(e.post_id, (&status, old_updated), (&status, new_updated))
            .await?;
        self.log_change(ChangeTopic::LiveEntry, Some(e.post_id), Some(id))
            .await?;
        Ok(id)
    }

    /// Inserts a member unless one with the same address (any case) exists;
    /// its id if it did. Enqueues `member.added` (SQLite's trigger).
    pub(crate) async fn insert_member_id(
        &self,
        email: &Email,
        status: &str,
        source: &str,
        created_ms: i64,
    ) -> StoreResult<Option<i64>> {
        // The unique key on email_key settles concurrent joins of one address.
        let id: Option<i64> = row_opt(
            self.tx,
            "INSERT INTO members (email, email_key, status, source, created_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (email_key) DO NOTHING RETURNING id",
            &[&email.as_str(), &email.key(), &status, &source, &created_ms],
        )
        .await?
        .map(|r| r.try_get(0))
        .transpose()?;
        if let Some(id) = id {
            self.enqueue_webhooks("member.added", id).await?;
        }
        Ok(id)
    }

    /// Inserts a member unless one with the same address (any case) exists;
    /// returns the new member's id. Does not log a change: callers log once
    /// per batch.
    pub async fn insert_member(
        &self,
        email: &Email,
        status: &str,
        source: &str,
        created_ms: i64,
    ) -> StoreResult<Option<i64>> {
        self.insert_member_id(email, status, source, created_ms)
            .await
    }

    /// The twin of the SQLite writer's test-only `join_member`.
    #[cfg(test)]
    pub async fn join_member(
        &self,
        email: &Email,
        source: &str,
        now: i64,
    ) -> StoreResult<JoinOutcome> {
        match self.insert_member_id(email, "free", source, now).await? {
            Some(id) => {
                self.log_change(ChangeTopic::Member, None, Some(id)).await?;
                Ok(JoinOutcome::Joined)
            }
            None => Ok(JoinOutcome::AlreadyMember),
        }
    }

    pub async fn insert_campaign(&self, c: &Campaign) -> StoreResult<i64> {
        if c.goal == 0 {
            return Err(StoreError::Invalid(
                "a campaign goal must be at least 1".into(),
            ));
        }
        // One active campaign: two transactions starting one each must take
        // turns, or both could end active.
        self.tx
            .execute(
                "SELECT pg_advisory_xact_lock(hashtextextended('masthead:campaigns', 0))",
                &[],
            )
            .await?;
        self.tx
            .execute("UPDATE campaigns SET active = FALSE", &[])
            .await?;
        let goal = i64::try_from(c.goal)
            .map_err(|_| StoreError::Invalid("the campaign goal is too large".into()))?;
        let id: i64 = self
            .tx
            .query_one(
                "INSERT INTO campaigns (pitch, goal, metric, starts_at, deadline, active)
                 VALUES ($1, $2, $3, $4, $5, TRUE) RETURNING id",
                &[&c.pitch, &goal, &c.metric, &c.starts_ms, &c.deadline_ms],
            )
            .await?
            .try_get(0)?;
        self.log_change(ChangeTopic::Site, None, None).await?;
        Ok(id)
    }

    pub async fn post_id_by_slug(&self, slug: &str) -> StoreResult<Option<i64>> {
        Ok(
            row_opt(self.tx, "SELECT id FROM posts WHERE slug = $1", &[&slug])
                .await?
                .map(|r| r.try_get(0))
                .transpose()?,
        )
    }

    pub async fn author_slugs(&self) -> StoreResult<Vec<String>> {
        map(
            &rows(self.tx, "SELECT slug FROM authors", &[]).await?,
            |r| Ok(r.try_get(0)?),
        )
    }

    pub async fn count_posts(&self) -> StoreResult<u64> {
        count_at(
            &row_one(self.tx, "SELECT COUNT(*) FROM posts", &[]).await?,
            0,
        )
    }
}

/// Runs every second: it must use the `posts_scheduled` index, not scan the
/// posts. Under READ COMMITTED two instances may run it at once: the second
/// UPDATE waits on the rows the first locked, re-checks `status =
/// 'scheduled'` once the first commits, and skips them, so a post is
/// published (and its webhooks enqueued) exactly once.
pub(crate) const PUBLISH_DUE_SQL: &str =
    "UPDATE posts SET status = 'published', updated_at = GREATEST(updated_at, published_at)
     WHERE status = 'scheduled' AND published_at <= $1 RETURNING id";

impl PgWriter<'_> {
    /// Publishes every scheduled post whose time has come (at `now`, which
    /// tests control). Returns the ids published. Idempotent.
    pub async fn publish_due(&self, now: i64) -> StoreResult<Vec<i64>> {
        let ids: Vec<i64> = map(&rows(self.tx, PUBLISH_DUE_SQL, &[&now]).await?, |r| {
            Ok(r.try_get(0)?)
        })?;
        for id in &ids {
            for table in ["post_tags", "post_authors"] {
                self.tx
                    .execute(
                        &format!(
                            "UPDATE {table} SET published_at = (SELECT published_at FROM posts
                               WHERE id = $1 AND kind <> 'page') WHERE post_id = $1"
                        ),
                        &[id],
                    )
                    .await?;
            }
            // scheduled -> published (SQLite's webhooks_post_status trigger).
            self.enqueue_webhooks("post.published", *id).await?;
            self.reindex_post(*id).await?;
            self.log_change(ChangeTopic::Post, Some(*id), None).await?;
        }
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_random_version_4() {
        let a = new_uuid().expect("uuid");
        let b = new_uuid().expect("uuid");
        assert_ne!(a, b);
        for u in [a, b] {
            let parts: Vec<&str> = u.split('-').collect();
            assert_eq!(
                parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
                [8, 4, 4, 4, 12],
                "{u}"
            );
            assert!(
                u.bytes()
                    .all(|c| c == b'-' || c.is_ascii_digit() || (b'a'..=b'f').contains(&c)),
                "{u}"
            );
            assert!(parts[2].starts_with('4'), "{u}");
            assert!(
                matches!(parts[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'),
                "{u}"
            );
        }
    }

    #[test]
    fn status_changes_name_the_webhook_event_as_the_sqlite_trigger_does() {
        assert_eq!(
            post_status_event("draft", 1, "published", 2),
            Some("post.published")
        );
        assert_eq!(
            post_status_event("scheduled", 1, "published", 1),
            Some("post.published")
        );
        assert_eq!(
            post_status_event("published", 1, "draft", 2),
            Some("post.unpublished")
        );
        assert_eq!(
            post_status_event("published", 1, "scheduled", 1),
            Some("post.unpublished")
        );
        assert_eq!(
            post_status_event("published", 1, "published", 2),
            Some("post.updated")
        );
        assert_eq!(post_status_event("published", 2, "published", 2), None);
        assert_eq!(post_status_event("draft", 1, "draft", 2), None);
        assert_eq!(post_status_event("draft", 1, "scheduled", 2), None);
    }
}
