//! Writes, always inside one transaction opened by [`super::SqliteStore::write`].
//! Every write that readers can see appends to `change_log` in the same
//! transaction, so caches and live pages learn of it exactly when it commits.

use masthead_domain::{Email, PostKind, PostStatus};
use rusqlite::{OptionalExtension, Transaction, params};

use crate::error::{StoreError, StoreResult};
use crate::model::*;
use crate::now_ms;

pub struct Writer<'t> {
    tx: &'t Transaction<'t>,
}

impl<'t> Writer<'t> {
    pub(super) fn new(tx: &'t Transaction<'t>) -> Writer<'t> {
        Writer { tx }
    }

    pub(crate) fn tx(&self) -> &Transaction<'t> {
        self.tx
    }

    /// Records that something readers can see has changed.
    pub fn log_change(
        &self,
        topic: ChangeTopic,
        post_id: Option<i64>,
        ref_id: Option<i64>,
    ) -> StoreResult<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO change_log (at, topic, post_id, ref_id) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![now_ms(), topic.as_str(), post_id, ref_id])?;
        Ok(())
    }

    /// Queues a delivery of `event` about `subject_id` to every active
    /// webhook that wants it, in the same transaction as the change (an
    /// outbox): nothing is missed, and the write never waits for a
    /// receiver. Every write that inserts, publishes, changes or unpublishes
    /// a post, or adds a member, calls this.
    pub(crate) fn enqueue_webhooks(&self, event: &str, subject_id: i64) -> StoreResult<()> {
        let now = now_ms();
        self.tx
            .prepare_cached(
                "INSERT INTO webhook_deliveries (webhook_id, event, subject_id, next_attempt_at, created_at)
                 SELECT id, event, ?2, ?3, ?3 FROM webhooks WHERE active = 1 AND event = ?1",
            )?
            .execute(params![event, subject_id, now])?;
        Ok(())
    }

    /// A post's status and version, read before and after a write that may
    /// change them, for [`post_event`].
    pub(crate) fn post_mark(&self, id: i64) -> StoreResult<Option<PostMark>> {
        Ok(self
            .tx
            .prepare_cached("SELECT status = 'published', updated_at FROM posts WHERE id = ?1")?
            .query_row([id], |r| {
                Ok(PostMark {
                    published: r.get(0)?,
                    updated_ms: r.get(1)?,
                })
            })
            .optional()?)
    }

    /// Queues the webhook event, if any, for a post that went from
    /// `before` to `after` in one write.
    pub(crate) fn post_changed(
        &self,
        id: i64,
        before: Option<PostMark>,
        after: Option<PostMark>,
    ) -> StoreResult<()> {
        if let (Some(before), Some(after)) = (before, after)
            && let Some(event) = post_event(before, after)
        {
            self.enqueue_webhooks(event, id)?;
        }
        Ok(())
    }

    pub fn set_setting(&self, key: &str, value: &str) -> StoreResult<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO settings (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )?
            .execute(params![key, value])?;
        self.log_change(ChangeTopic::Site, None, None)
    }

    pub fn insert_author(&self, a: &NewAuthor) -> StoreResult<i64> {
        masthead_domain::Slug::parse(&a.slug)?;
        self.tx
            .prepare_cached(
                "INSERT INTO authors (slug, name, bio, location, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![a.slug, a.name, a.bio, a.location, now_ms()])?;
        Ok(self.tx.last_insert_rowid())
    }

    pub fn insert_tag(&self, t: &NewTag) -> StoreResult<i64> {
        masthead_domain::Slug::parse(&t.slug)?;
        self.tx
            .prepare_cached(
                "INSERT INTO tags (slug, name, description, is_section, position, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                t.slug,
                t.name,
                t.description,
                t.is_section,
                t.position,
                now_ms()
            ])?;
        Ok(self.tx.last_insert_rowid())
    }

    pub fn insert_post(&self, p: &NewPost) -> StoreResult<i64> {
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
        self.tx
            .prepare_cached(
                "INSERT INTO posts (kind, slug, title, dek, body_source, body_html, word_count,
                    reading_minutes, status, visibility, primary_tag_id, feature_image,
                    feature_image_alt, feature_image_caption, feature_image_photographer,
                    feature_image_agency, feature_image_width, feature_image_height, video_src,
                    video_embed, video_duration_s, created_at, updated_at, published_at, uuid)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
                    ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25)",
            )?
            .execute(params![
                p.kind.as_str(),
                p.slug,
                p.title,
                p.dek,
                p.body_source,
                p.body_html,
                p.word_count,
                p.reading_minutes,
                p.status.as_str(),
                p.visibility.as_str(),
                p.tag_ids.first(),
                has_img.then_some(&img.src),
                img.alt,
                img.caption,
                img.photographer,
                img.agency,
                img.width,
                img.height,
                video.and_then(|v| v.src.as_ref()),
                video.and_then(|v| v.embed.as_ref()),
                video.and_then(|v| v.duration_s),
                created,
                p.updated_ms,
                p.published_ms,
                new_uuid()?,
            ])?;
        let id = self.tx.last_insert_rowid();
        if p.status == PostStatus::Published {
            self.enqueue_webhooks("post.published", id)?;
        }
        // Listings by tag and author paginate on their own index, which carries
        // the publication time while the post is visible in feeds.
        let listed_at = (p.status == PostStatus::Published && p.kind != PostKind::Page)
            .then_some(p.published_ms)
            .flatten();
        {
            let mut stmt = self.tx.prepare_cached(
                "INSERT INTO post_tags (post_id, tag_id, position, published_at) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for (pos, tag) in p.tag_ids.iter().enumerate() {
                stmt.execute(params![id, tag, pos as i64, listed_at])?;
            }
        }
        {
            let mut stmt = self.tx.prepare_cached(
                "INSERT INTO post_authors (post_id, author_id, position, published_at) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for (pos, author) in p.author_ids.iter().enumerate() {
                stmt.execute(params![id, author, pos as i64, listed_at])?;
            }
        }
        self.reindex_post(id)?;
        self.log_change(ChangeTopic::Post, Some(id), None)?;
        Ok(id)
    }

    pub fn add_post_note(
        &self,
        post_id: i64,
        kind: &str,
        noted_ms: i64,
        note: &str,
    ) -> StoreResult<i64> {
        if kind != "correction" && kind != "update" {
            return Err(StoreError::Invalid(format!("unknown note kind {kind:?}")));
        }
        self.tx
            .prepare_cached(
                "INSERT INTO post_notes (post_id, kind, noted_at, note) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![post_id, kind, noted_ms, note])?;
        let id = self.tx.last_insert_rowid();
        self.log_change(ChangeTopic::Post, Some(post_id), None)?;
        Ok(id)
    }

    /// Adds an entry to a live post, and marks the post as updated.
    pub fn add_live_entry(&self, e: &NewLiveEntry) -> StoreResult<i64> {
        let kind: Option<String> = self
            .tx
            .prepare_cached("SELECT kind FROM posts WHERE id = ?1")?
            .query_row([e.post_id], |r| r.get(0))
            .optional()?;
        match kind.as_deref() {
            None => return Err(StoreError::NotFound),
            Some("live") => {}
            Some(other) => {
                return Err(StoreError::Invalid(format!(
                    "entries can only be added to live posts; this post is a {other}"
                )));
            }
        }
        self.tx
            .prepare_cached(
                "INSERT INTO live_entries (post_id, title, body_source, body_html, pinned, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
            )?
            .execute(params![e.post_id, e.title, e.body_source, e.body_html, e.pinned, e.created_ms])?;
        let id = self.tx.last_insert_rowid();
        let before = self.post_mark(e.post_id)?;
        self.tx
            .prepare_cached("UPDATE posts SET updated_at = MAX(updated_at, ?2) WHERE id = ?1")?
            .execute(params![e.post_id, e.created_ms])?;
        self.post_changed(e.post_id, before, self.post_mark(e.post_id)?)?;
        self.log_change(ChangeTopic::LiveEntry, Some(e.post_id), Some(id))?;
        Ok(id)
    }

    /// Inserts a member unless one with the same address (any case) exists;
    /// returns the new member's id. Does not log a change: callers log once
    /// per batch.
    pub fn insert_member(
        &self,
        email: &Email,
        status: &str,
        source: &str,
        created_ms: i64,
    ) -> StoreResult<Option<i64>> {
        let n = self
            .tx
            .prepare_cached(
                "INSERT INTO members (email, email_key, status, source, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (email_key) DO NOTHING",
            )?
            .execute(params![email.as_str(), email.key(), status, source, created_ms])?;
        if n != 1 {
            return Ok(None);
        }
        let id = self.tx.last_insert_rowid();
        self.enqueue_webhooks("member.added", id)?;
        Ok(Some(id))
    }

    /// A member added at once, as joining did before confirmation (issue
    /// 10); the store's tests still use it to make members.
    #[cfg(test)]
    pub fn join_member(&self, email: &Email, source: &str, now: i64) -> StoreResult<JoinOutcome> {
        if let Some(id) = self.insert_member(email, "free", source, now)? {
            self.log_change(ChangeTopic::Member, None, Some(id))?;
            Ok(JoinOutcome::Joined)
        } else {
            Ok(JoinOutcome::AlreadyMember)
        }
    }

    pub fn insert_campaign(&self, c: &Campaign) -> StoreResult<i64> {
        if c.goal == 0 {
            return Err(StoreError::Invalid(
                "a campaign goal must be at least 1".into(),
            ));
        }
        self.tx.execute("UPDATE campaigns SET active = 0", [])?;
        self.tx.execute(
            "INSERT INTO campaigns (pitch, goal, metric, starts_at, deadline, active) VALUES (?1, ?2, ?3, ?4, ?5, 1)",
            params![c.pitch, c.goal as i64, c.metric, c.starts_ms, c.deadline_ms],
        )?;
        let id = self.tx.last_insert_rowid();
        self.log_change(ChangeTopic::Site, None, None)?;
        Ok(id)
    }

    pub fn post_id_by_slug(&self, slug: &str) -> StoreResult<Option<i64>> {
        Ok(self
            .tx
            .prepare_cached("SELECT id FROM posts WHERE slug = ?1")?
            .query_row([slug], |r| r.get(0))
            .optional()?)
    }

    pub fn author_slugs(&self) -> StoreResult<Vec<String>> {
        Ok(self
            .tx
            .prepare_cached("SELECT slug FROM authors")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?)
    }
}

/// Runs every second in a write transaction: it must use the
/// `posts_scheduled` index, not scan the posts (a test checks the plan).
pub(crate) const PUBLISH_DUE_SQL: &str =
    "UPDATE posts SET status = 'published', updated_at = MAX(updated_at, published_at)
     WHERE status = 'scheduled' AND published_at <= ?1 RETURNING id";

impl Writer<'_> {
    /// Publishes every scheduled post whose time has come (at `now`, which
    /// tests control). Returns the ids published. Idempotent: a post is
    /// published once, whoever runs this and however late.
    pub fn publish_due(&self, now: i64) -> StoreResult<Vec<i64>> {
        let ids: Vec<i64> = self
            .tx
            .prepare_cached(PUBLISH_DUE_SQL)?
            .query_map([now], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for id in &ids {
            for table in ["post_tags", "post_authors"] {
                self.tx.execute(
                    &format!(
                        "UPDATE {table} SET published_at = (SELECT published_at FROM posts
                           WHERE id = ?1 AND kind <> 'page') WHERE post_id = ?1"
                    ),
                    [id],
                )?;
            }
            // Every one was scheduled, and is published now.
            self.enqueue_webhooks("post.published", *id)?;
            self.reindex_post(*id)?;
            self.log_change(ChangeTopic::Post, Some(*id), None)?;
        }
        Ok(ids)
    }
}

/// Whether a post is published, and its version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PostMark {
    pub published: bool,
    pub updated_ms: i64,
}

/// The webhook event a change of a post from `before` to `after` means:
/// published, unpublished, or (still published, new version) updated.
pub(crate) fn post_event(before: PostMark, after: PostMark) -> Option<&'static str> {
    match (before.published, after.published) {
        (false, true) => Some("post.published"),
        (true, false) => Some("post.unpublished"),
        (true, true) if before.updated_ms != after.updated_ms => Some("post.updated"),
        _ => None,
    }
}

/// A random (version 4) UUID, as every post carries for Ghost's clients.
pub(crate) fn new_uuid() -> StoreResult<String> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b)
        .map_err(|e| StoreError::Other(format!("no randomness for a post's UUID: {e}")))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqlite::tests::TempDb;
    use masthead_domain::Visibility;

    fn draft(slug: &str, status: PostStatus, published_ms: Option<i64>) -> NewPost {
        NewPost {
            kind: PostKind::Live,
            slug: slug.to_owned(),
            title: format!("Title {slug}"),
            dek: String::new(),
            body_source: String::new(),
            body_html: String::new(),
            word_count: 0,
            reading_minutes: 1,
            status,
            visibility: Visibility::Public,
            image: None,
            video: None,
            published_ms,
            updated_ms: 1_000,
            tag_ids: vec![],
            author_ids: vec![],
        }
    }

    fn edit(status: PostStatus, published_ms: Option<i64>) -> crate::PostEdit {
        crate::PostEdit {
            title: "Edited".into(),
            dek: String::new(),
            slug: "edited".into(),
            body_source: String::new(),
            body_html: String::new(),
            word_count: 0,
            reading_minutes: 1,
            status,
            published_ms,
            tag_ids: None,
            author_ids: None,
            seo: None,
            feature: None,
            visibility: None,
            tier_ids: None,
            video_embed: None,
            autosave: false,
        }
    }

    /// The deliveries queued so far, oldest first: `(event, subject)`.
    fn queued(w: &Writer<'_>) -> Vec<(String, i64)> {
        w.tx()
            .prepare("SELECT event, subject_id FROM webhook_deliveries ORDER BY id")
            .and_then(|mut s| {
                s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<_, _>>()
            })
            .expect("deliveries")
    }

    /// Every write that publishes, changes or unpublishes a post, or adds a
    /// member, queues its webhooks in the same transaction; drafts and
    /// unchanged posts queue nothing, and no schema trigger is left to do it
    /// twice.
    #[test]
    fn writes_queue_their_webhooks_and_posts_get_uuids() {
        let db = TempDb::new("outbox");
        db.store
            .write(|w| {
                for event in crate::WEBHOOK_EVENTS {
                    w.insert_webhook(event, "https://h.example/", "h", "s", 1)?;
                }
                let ev = |e: &str, id: i64| (e.to_owned(), id);
                let draft_id = w.insert_post(&draft("d", PostStatus::Draft, None))?;
                assert_eq!(queued(w), []);
                let live = w.insert_post(&draft("l", PostStatus::Published, Some(1_000)))?;
                assert_eq!(queued(w), [ev("post.published", live)]);
                let v = w.save_post(
                    draft_id,
                    1_000,
                    &edit(PostStatus::Published, Some(2_000)),
                    None,
                    2_000,
                )?;
                assert_eq!(queued(w)[1..], [ev("post.published", draft_id)]);
                w.save_post(
                    draft_id,
                    v,
                    &edit(PostStatus::Published, Some(2_000)),
                    None,
                    3_000,
                )?;
                assert_eq!(queued(w)[2..], [ev("post.updated", draft_id)]);
                w.add_live_entry(&crate::model::NewLiveEntry {
                    post_id: live,
                    title: String::new(),
                    body_source: "x".into(),
                    body_html: "<p>x</p>".into(),
                    pinned: false,
                    created_ms: 5_000,
                })?;
                assert_eq!(queued(w)[3..], [ev("post.updated", live)]);
                let v = w.post_mark(draft_id)?.expect("post").updated_ms;
                w.save_post(draft_id, v, &edit(PostStatus::Draft, None), None, 6_000)?;
                assert_eq!(queued(w)[4..], [ev("post.unpublished", draft_id)]);
                let later = w.insert_post(&draft("s", PostStatus::Scheduled, Some(7_000)))?;
                assert_eq!(queued(w).len(), 5, "scheduled posts wait");
                assert_eq!(w.publish_due(8_000)?, [later]);
                assert_eq!(queued(w)[5..], [ev("post.published", later)]);
                let email = Email::parse("reader@example.org")?;
                let member = w
                    .insert_member(&email, "free", "test", 9_000)?
                    .expect("new");
                assert_eq!(w.insert_member(&email, "free", "test", 9_000)?, None);
                assert_eq!(queued(w)[6..], [ev("member.added", member)]);
                let triggers: i64 = w.tx().query_row(
                    "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'trigger'",
                    [],
                    |r| r.get(0),
                )?;
                assert_eq!(triggers, 0);
                let uuids: Vec<String> = w
                    .tx()
                    .prepare("SELECT uuid FROM posts ORDER BY id")?
                    .query_map([], |r| r.get(0))?
                    .collect::<Result<_, _>>()?;
                assert_eq!(uuids.len(), 3);
                assert!(
                    uuids.iter().all(|u| u.len() == 36 && &u[14..15] == "4"),
                    "{uuids:?}"
                );
                Ok(())
            })
            .expect("writes");
    }

    #[test]
    fn uuids_are_version_4_and_differ() {
        let (a, b) = (new_uuid().expect("uuid"), new_uuid().expect("uuid"));
        assert_ne!(a, b);
        for u in [a, b] {
            assert_eq!(u.len(), 36, "{u}");
            let parts: Vec<&str> = u.split('-').collect();
            assert_eq!(
                parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
                [8, 4, 4, 4, 12]
            );
            assert!(
                u.bytes()
                    .all(|c| c == b'-' || c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
            );
            assert!(parts[2].starts_with('4'), "{u}");
            assert!(matches!(&parts[3][..1], "8" | "9" | "a" | "b"), "{u}");
        }
    }

    #[test]
    fn post_events_follow_status_and_version() {
        let m = |published, updated_ms| PostMark {
            published,
            updated_ms,
        };
        assert_eq!(post_event(m(false, 1), m(true, 2)), Some("post.published"));
        assert_eq!(
            post_event(m(true, 1), m(false, 2)),
            Some("post.unpublished")
        );
        assert_eq!(post_event(m(true, 1), m(true, 2)), Some("post.updated"));
        assert_eq!(post_event(m(true, 1), m(true, 1)), None);
        assert_eq!(post_event(m(false, 1), m(false, 2)), None);
    }
}
