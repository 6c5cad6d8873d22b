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

    pub(super) fn tx(&self) -> &Transaction<'t> {
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
                    ?18, ?19, ?20, ?21, ?22, ?23, ?24,
                    lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' ||
                          substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) ||
                          substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))))",
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
            ])?;
        let id = self.tx.last_insert_rowid();
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
        self.tx
            .prepare_cached("UPDATE posts SET updated_at = MAX(updated_at, ?2) WHERE id = ?1")?
            .execute(params![e.post_id, e.created_ms])?;
        self.log_change(ChangeTopic::LiveEntry, Some(e.post_id), Some(id))?;
        Ok(id)
    }

    /// Inserts a member unless one with the same address (any case) exists.
    /// Does not log a change: callers log once per batch.
    pub fn insert_member(
        &self,
        email: &Email,
        status: &str,
        source: &str,
        created_ms: i64,
    ) -> StoreResult<bool> {
        let n = self
            .tx
            .prepare_cached(
                "INSERT INTO members (email, email_key, status, source, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (email_key) DO NOTHING",
            )?
            .execute(params![email.as_str(), email.key(), status, source, created_ms])?;
        Ok(n == 1)
    }

    pub fn join_member(&self, email: &Email, source: &str, now: i64) -> StoreResult<JoinOutcome> {
        if self.insert_member(email, "free", source, now)? {
            self.log_change(ChangeTopic::Member, None, Some(self.tx.last_insert_rowid()))?;
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

    pub fn count_posts(&self) -> StoreResult<u64> {
        Ok(self
            .tx
            .query_row("SELECT COUNT(*) FROM posts", [], |r| r.get::<_, i64>(0))?
            .max(0) as u64)
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
            self.reindex_post(*id)?;
            self.log_change(ChangeTopic::Post, Some(*id), None)?;
        }
        Ok(ids)
    }
}
