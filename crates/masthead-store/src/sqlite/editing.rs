//! The editor's writes: saving with collision detection, revisions, restores,
//! publishing states and slug redirects.

use masthead_domain::{PostKind, PostStatus, Visibility};
use rusqlite::{Connection, OptionalExtension, params};

use super::Writer;
use super::write::PostMark;
use crate::error::{StoreError, StoreResult};
use crate::model::ChangeTopic;
pub(crate) use masthead_model::editing::*;

pub fn editable_post(c: &Connection, id: i64) -> StoreResult<Option<EditablePost>> {
    let row = c
        .prepare_cached(
            "SELECT id, kind, status, slug, title, dek, body_source, published_at, updated_at,
                    COALESCE(meta_title, ''), COALESCE(meta_description, ''), COALESCE(canonical_url, ''),
                    visibility, feature_image, feature_media_id, feature_image_alt, feature_image_caption,
                    feature_image_photographer, feature_image_agency, COALESCE(video_embed, '')
             FROM posts WHERE id = ?1",
        )?
        .query_row([id], |r| {
            let visibility: String = r.get(12)?;
            let extra = EditableExtra {
                visibility: Visibility::parse(&visibility).unwrap_or(Visibility::Public),
                feature_image: r.get(13)?,
                feature_media_id: r.get(14)?,
                feature_alt: r.get(15)?,
                feature_caption: r.get(16)?,
                feature_photographer: r.get(17)?,
                feature_agency: r.get(18)?,
                video_embed: r.get(19)?,
            };
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, Option<i64>>(7)?,
                r.get::<_, i64>(8)?,
                (r.get::<_, String>(9)?, r.get::<_, String>(10)?, r.get::<_, String>(11)?),
                extra,
            ))
        })
        .optional()?;
    let Some((
        id,
        kind,
        status,
        slug,
        title,
        dek,
        body_source,
        published_ms,
        updated_ms,
        seo,
        extra,
    )) = row
    else {
        return Ok(None);
    };
    let authors: Vec<(i64, String)> = c
        .prepare_cached(
            "SELECT a.id, a.slug FROM post_authors pa JOIN authors a ON a.id = pa.author_id
             WHERE pa.post_id = ?1 ORDER BY pa.position",
        )?
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let tag_slugs = c
        .prepare_cached(
            "SELECT t.slug FROM post_tags pt JOIN tags t ON t.id = pt.tag_id WHERE pt.post_id = ?1 ORDER BY pt.position",
        )?
        .query_map([id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let tier_ids = super::tiers::post_tier_ids(c, id)?;
    Ok(Some(EditablePost {
        id,
        kind: PostKind::parse(&kind)?,
        status: PostStatus::parse(&status)?,
        slug,
        title,
        dek,
        body_source,
        published_ms,
        updated_ms,
        author_ids: authors.iter().map(|a| a.0).collect(),
        author_slugs: authors.into_iter().map(|a| a.1).collect(),
        tag_slugs,
        meta_title: seo.0,
        meta_description: seo.1,
        canonical_url: seo.2,
        visibility: extra.visibility,
        tier_ids,
        feature_image: extra.feature_image,
        feature_media_id: extra.feature_media_id,
        feature_alt: extra.feature_alt,
        feature_caption: extra.feature_caption,
        feature_photographer: extra.feature_photographer,
        feature_agency: extra.feature_agency,
        video_embed: extra.video_embed,
    }))
}

/// The editor's columns beyond the text.
struct EditableExtra {
    visibility: Visibility,
    feature_image: Option<String>,
    feature_media_id: Option<i64>,
    feature_alt: String,
    feature_caption: String,
    feature_photographer: String,
    feature_agency: String,
    video_embed: String,
}

pub fn revisions(c: &Connection, post_id: i64) -> StoreResult<Vec<Revision>> {
    Ok(c.prepare_cached(
        "SELECT r.id, r.created_at, u.name, r.title, r.dek, r.slug, r.body_source, r.status
             FROM post_revisions r LEFT JOIN staff_users u ON u.id = r.staff_id
             WHERE r.post_id = ?1 ORDER BY r.id DESC LIMIT 200",
    )?
    .query_map([post_id], |r| {
        Ok(Revision {
            id: r.get(0)?,
            created_ms: r.get(1)?,
            staff_name: r.get(2)?,
            title: r.get(3)?,
            dek: r.get(4)?,
            slug: r.get(5)?,
            body_source: r.get(6)?,
            status: r.get(7)?,
        })
    })?
    .collect::<Result<_, _>>()?)
}

/// The post a retired slug now points to.
pub fn redirect_for(c: &Connection, old_slug: String) -> StoreResult<Option<String>> {
    Ok(c.prepare_cached(
        "SELECT p.slug FROM slug_redirects r JOIN posts p ON p.id = r.post_id
             WHERE r.old_slug = ?1 AND p.status = 'published'",
    )?
    .query_row([old_slug], |r| r.get(0))
    .optional()?)
}

impl Writer<'_> {
    /// Saves an edit made from version `expected_updated_ms`. Another save in
    /// between is a `Conflict`, never a silent overwrite. Records a revision;
    /// a changed slug of a published post leaves a redirect behind.
    pub fn save_post(
        &self,
        id: i64,
        expected_updated_ms: i64,
        edit: &PostEdit,
        staff_id: Option<i64>,
        now: i64,
    ) -> StoreResult<i64> {
        masthead_domain::Slug::parse(&edit.slug)?;
        let current: Option<(i64, String, String, String)> = self
            .tx()
            .prepare_cached("SELECT updated_at, slug, status, kind FROM posts WHERE id = ?1")?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .optional()?;
        let Some((updated, old_slug, old_status, kind)) = current else {
            return Err(StoreError::NotFound);
        };
        if updated != expected_updated_ms {
            return Err(StoreError::Conflict(
                "someone else saved this post after you opened it; reload to see their changes"
                    .into(),
            ));
        }
        if edit.status != PostStatus::Draft && edit.published_ms.is_none() {
            return Err(StoreError::Invalid(
                "a published or scheduled post needs a time".into(),
            ));
        }
        // Strictly increasing, so two saves in one millisecond still collide.
        let new_updated = now.max(updated + 1);
        self.tx()
            .prepare_cached(
                "UPDATE posts SET title = ?2, dek = ?3, slug = ?4, body_source = ?5, body_html = ?6,
                    word_count = ?7, reading_minutes = ?8, status = ?9, published_at = ?10, updated_at = ?11
                 WHERE id = ?1",
            )?
            .execute(params![
                id,
                edit.title,
                edit.dek,
                edit.slug,
                edit.body_source,
                edit.body_html,
                edit.word_count,
                edit.reading_minutes,
                edit.status.as_str(),
                edit.published_ms,
                new_updated
            ])
            .map_err(|e| match StoreError::from(e) {
                StoreError::Conflict(_) => StoreError::Conflict(format!("the slug {:?} is already taken", edit.slug)),
                other => other,
            })?;
        self.post_changed(
            id,
            Some(PostMark {
                published: old_status == "published",
                updated_ms: updated,
            }),
            Some(PostMark {
                published: edit.status == PostStatus::Published,
                updated_ms: new_updated,
            }),
        )?;
        let listed = (edit.status == PostStatus::Published && kind != "page")
            .then_some(edit.published_ms)
            .flatten();
        if let Some(seo) = &edit.seo {
            let none_if_empty = |v: &str| (!v.is_empty()).then(|| v.to_owned());
            self.tx().execute(
                "UPDATE posts SET meta_title = ?2, meta_description = ?3, canonical_url = ?4 WHERE id = ?1",
                params![
                    id,
                    none_if_empty(&seo.meta_title),
                    none_if_empty(&seo.meta_description),
                    none_if_empty(&seo.canonical_url)
                ],
            )?;
        }
        if let Some(f) = &edit.feature {
            match f.choice {
                FeatureChoice::Keep => self.set_feature_words(id, &f.words)?,
                FeatureChoice::Remove => self.set_feature_image(id, None, &f.words)?,
                FeatureChoice::Media(m) => self.set_feature_image(id, Some(m), &f.words)?,
            }
        }
        if let Some(v) = edit.visibility {
            self.tx().execute(
                "UPDATE posts SET visibility = ?2 WHERE id = ?1",
                params![id, v.as_str()],
            )?;
        }
        if let Some(tiers) = &edit.tier_ids {
            self.set_post_tiers(id, tiers)?;
        }
        if let Some(embed) = &edit.video_embed {
            self.tx().execute(
                "UPDATE posts SET video_embed = ?2 WHERE id = ?1",
                params![id, (!embed.is_empty()).then_some(embed)],
            )?;
        }
        if let Some(tags) = &edit.tag_ids {
            self.tx()
                .execute("DELETE FROM post_tags WHERE post_id = ?1", [id])?;
            for (pos, tag) in tags.iter().enumerate() {
                self.tx().execute(
                    "INSERT INTO post_tags (post_id, tag_id, position, published_at) VALUES (?1, ?2, ?3, ?4)",
                    params![id, tag, pos as i64, listed],
                )?;
            }
            self.tx().execute(
                "UPDATE posts SET primary_tag_id = ?2 WHERE id = ?1",
                params![id, tags.first()],
            )?;
        }
        if let Some(authors) = &edit.author_ids {
            self.tx()
                .execute("DELETE FROM post_authors WHERE post_id = ?1", [id])?;
            for (pos, author) in authors.iter().enumerate() {
                self.tx().execute(
                    "INSERT INTO post_authors (post_id, author_id, position, published_at) VALUES (?1, ?2, ?3, ?4)",
                    params![id, author, pos as i64, listed],
                )?;
            }
        }
        for table in ["post_tags", "post_authors"] {
            self.tx().execute(
                &format!("UPDATE {table} SET published_at = ?2 WHERE post_id = ?1"),
                params![id, listed],
            )?;
        }
        if old_slug != edit.slug && old_status == "published" {
            self.tx()
                .prepare_cached(
                    "INSERT INTO slug_redirects (old_slug, post_id, created_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (old_slug) DO UPDATE SET post_id = excluded.post_id",
                )?
                .execute(params![old_slug, id, now])?;
        }
        // A slug in use again is no longer a redirect.
        self.tx()
            .prepare_cached("DELETE FROM slug_redirects WHERE old_slug = ?1")?
            .execute([&edit.slug])?;
        // The newest revision, if it is this person's autosave of the last ten minutes.
        let open_autosave: Option<i64> = if edit.autosave {
            self.tx()
                .prepare_cached(
                    "SELECT id FROM post_revisions WHERE post_id = ?1 AND id =
                        (SELECT MAX(id) FROM post_revisions WHERE post_id = ?1)
                     AND autosave = 1 AND staff_id IS ?2 AND created_at > ?3",
                )?
                .query_row(params![id, staff_id, now - AUTOSAVE_REVISION_MS], |r| {
                    r.get(0)
                })
                .optional()?
        } else {
            None
        };
        match open_autosave {
            Some(rev) => {
                self.tx()
                    .prepare_cached(
                        "UPDATE post_revisions SET created_at = ?2, title = ?3, dek = ?4, slug = ?5,
                            body_source = ?6, status = ?7 WHERE id = ?1",
                    )?
                    .execute(params![rev, now, edit.title, edit.dek, edit.slug, edit.body_source, edit.status.as_str()])?;
            }
            None => {
                self.tx()
                    .prepare_cached(
                        "INSERT INTO post_revisions (post_id, staff_id, created_at, title, dek, slug, body_source, status, autosave)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    )?
                    .execute(params![id, staff_id, now, edit.title, edit.dek, edit.slug, edit.body_source, edit.status.as_str(), edit.autosave])?;
            }
        }
        self.reindex_post(id)?;
        self.log_change(ChangeTopic::Post, Some(id), None)?;
        Ok(new_updated)
    }
}

pub fn review_state(c: &Connection, post_id: i64) -> StoreResult<Option<String>> {
    Ok(c.prepare_cached("SELECT review FROM posts WHERE id = ?1")?
        .query_row([post_id], |r| r.get(0))
        .optional()?)
}

pub fn review_notes(c: &Connection, post_id: i64) -> StoreResult<Vec<ReviewNote>> {
    Ok(c.prepare_cached(
        "SELECT r.created_at, u.name, r.decision, r.body FROM review_comments r
             LEFT JOIN staff_users u ON u.id = r.staff_id WHERE r.post_id = ?1 ORDER BY r.id",
    )?
    .query_map([post_id], |r| {
        Ok(ReviewNote {
            created_ms: r.get(0)?,
            staff_name: r.get(1)?,
            decision: r.get(2)?,
            body: r.get(3)?,
        })
    })?
    .collect::<Result<_, _>>()?)
}

/// Drafts waiting for an editor, oldest first.
pub fn review_queue(c: &Connection) -> StoreResult<Vec<ReviewItem>> {
    Ok(c.prepare_cached(
        "SELECT p.id, p.title,
                    COALESCE((SELECT group_concat(a.name, ', ') FROM post_authors pa
                              JOIN authors a ON a.id = pa.author_id WHERE pa.post_id = p.id), ''),
                    p.updated_at
             FROM posts p WHERE p.review = 'submitted' ORDER BY p.updated_at",
    )?
    .query_map([], |r| {
        Ok(ReviewItem {
            post_id: r.get(0)?,
            title: r.get(1)?,
            by: r.get(2)?,
            submitted_ms: r.get(3)?,
        })
    })?
    .collect::<Result<_, _>>()?)
}

impl Writer<'_> {
    /// Moves a post through review and records the note. `decision` is one of
    /// submitted, comment, changes_requested, approved (a comment leaves the
    /// state as it is).
    pub fn review(
        &self,
        post_id: i64,
        staff_id: i64,
        decision: &str,
        body: &str,
        now: i64,
    ) -> StoreResult<()> {
        let state = match decision {
            "submitted" | "changes_requested" | "approved" => Some(decision),
            "comment" => None,
            other => {
                return Err(StoreError::Invalid(format!(
                    "unknown review decision {other:?}"
                )));
            }
        };
        let exists: bool = self.tx().query_row(
            "SELECT EXISTS (SELECT 1 FROM posts WHERE id = ?1)",
            [post_id],
            |r| r.get(0),
        )?;
        if !exists {
            return Err(StoreError::NotFound);
        }
        if let Some(state) = state {
            self.tx().execute(
                "UPDATE posts SET review = ?2 WHERE id = ?1",
                params![post_id, state],
            )?;
        }
        self.tx().execute(
            "INSERT INTO review_comments (post_id, staff_id, created_at, decision, body) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![post_id, staff_id, now, decision, body],
        )?;
        Ok(())
    }
}

/// Corrections and update notes of a post, oldest first.
pub fn post_notes(c: &Connection, post_id: i64) -> StoreResult<Vec<crate::model::PostNote>> {
    Ok(c.prepare_cached(
        "SELECT kind, noted_at, note FROM post_notes WHERE post_id = ?1 ORDER BY noted_at, id",
    )?
    .query_map([post_id], |r| {
        Ok(crate::model::PostNote {
            kind: r.get(0)?,
            noted_ms: r.get(1)?,
            note: r.get(2)?,
        })
    })?
    .collect::<Result<_, _>>()?)
}
