//! The editor's writes: saving with collision detection, revisions,
//! restores, publishing states and slug redirects. The PostgreSQL mirror of
//! `sqlite/editing.rs`.

use deadpool_postgres::GenericClient;
use masthead_domain::{PostKind, PostStatus, Visibility};

use super::PgWriter;
use super::sql::{exec, map, row_one, row_opt, rows};
use super::write::PostLinks;
use crate::error::{StoreError, StoreResult};
use crate::model::ChangeTopic;
#[allow(unused_imports)]
pub(crate) use crate::sqlite::editing::AUTOSAVE_REVISION_MS;
use crate::sqlite::editing::{EditablePost, FeatureChoice, PostEdit, ReviewNote, Revision};
use masthead_model::ReviewItem;

pub async fn editable_post(c: &impl GenericClient, id: i64) -> StoreResult<Option<EditablePost>> {
    let Some(r) = row_opt(
        c,
        "SELECT id, kind, status, slug, title, dek, body_source, published_at, updated_at,
                COALESCE(meta_title, ''), COALESCE(meta_description, ''), COALESCE(canonical_url, ''),
                visibility, feature_image, feature_media_id, feature_image_alt, feature_image_caption,
                feature_image_photographer, feature_image_agency, COALESCE(video_embed, '')
         FROM posts WHERE id = $1",
        &[&id],
    )
    .await?
    else {
        return Ok(None);
    };
    let id: i64 = r.try_get(0)?;
    let kind: String = r.try_get(1)?;
    let status: String = r.try_get(2)?;
    let visibility: String = r.try_get(12)?;
    let authors: Vec<(i64, String)> = map(
        &rows(
            c,
            "SELECT a.id, a.slug FROM post_authors pa JOIN authors a ON a.id = pa.author_id
             WHERE pa.post_id = $1 ORDER BY pa.position",
            &[&id],
        )
        .await?,
        |r| Ok((r.try_get(0)?, r.try_get(1)?)),
    )?;
    let tag_slugs = map(
        &rows(
            c,
            "SELECT t.slug FROM post_tags pt JOIN tags t ON t.id = pt.tag_id WHERE pt.post_id = $1 ORDER BY pt.position",
            &[&id],
        )
        .await?,
        |r| Ok(r.try_get(0)?),
    )?;
    let tier_ids = super::tiers::post_tier_ids(c, id).await?;
    Ok(Some(EditablePost {
        id,
        kind: PostKind::parse(&kind)?,
        status: PostStatus::parse(&status)?,
        slug: r.try_get(3)?,
        title: r.try_get(4)?,
        dek: r.try_get(5)?,
        body_source: r.try_get(6)?,
        published_ms: r.try_get(7)?,
        updated_ms: r.try_get(8)?,
        author_ids: authors.iter().map(|a| a.0).collect(),
        author_slugs: authors.into_iter().map(|a| a.1).collect(),
        tag_slugs,
        meta_title: r.try_get(9)?,
        meta_description: r.try_get(10)?,
        canonical_url: r.try_get(11)?,
        visibility: Visibility::parse(&visibility).unwrap_or(Visibility::Public),
        tier_ids,
        feature_image: r.try_get(13)?,
        feature_media_id: r.try_get(14)?,
        feature_alt: r.try_get(15)?,
        feature_caption: r.try_get(16)?,
        feature_photographer: r.try_get(17)?,
        feature_agency: r.try_get(18)?,
        video_embed: r.try_get(19)?,
    }))
}

pub async fn revisions(c: &impl GenericClient, post_id: i64) -> StoreResult<Vec<Revision>> {
    let found = rows(
        c,
        "SELECT r.id, r.created_at, u.name, r.title, r.dek, r.slug, r.body_source, r.status
             FROM post_revisions r LEFT JOIN staff_users u ON u.id = r.staff_id
             WHERE r.post_id = $1 ORDER BY r.id DESC LIMIT 200",
        &[&post_id],
    )
    .await?;
    map(&found, |r| {
        Ok(Revision {
            id: r.try_get(0)?,
            created_ms: r.try_get(1)?,
            staff_name: r.try_get(2)?,
            title: r.try_get(3)?,
            dek: r.try_get(4)?,
            slug: r.try_get(5)?,
            body_source: r.try_get(6)?,
            status: r.try_get(7)?,
        })
    })
}

/// The post a retired slug now points to.
pub async fn redirect_for(c: &impl GenericClient, old_slug: String) -> StoreResult<Option<String>> {
    row_opt(
        c,
        "SELECT p.slug FROM slug_redirects r JOIN posts p ON p.id = r.post_id
             WHERE r.old_slug = $1 AND p.status = 'published'",
        &[&old_slug],
    )
    .await?
    .map(|r| Ok(r.try_get(0)?))
    .transpose()
}

impl PgWriter<'_> {
    /// Saves an edit made from version `expected_updated_ms`. Another save in
    /// between is a `Conflict`, never a silent overwrite. Records a revision;
    /// a changed slug of a published post leaves a redirect behind.
    pub async fn save_post(
        &self,
        id: i64,
        expected_updated_ms: i64,
        edit: &PostEdit,
        staff_id: Option<i64>,
        now: i64,
    ) -> StoreResult<i64> {
        masthead_domain::Slug::parse(&edit.slug)?;
        // FOR UPDATE: two saves from the same version must not both pass the
        // version check (SQLite's single writer did this for free); the
        // second waits here and then sees the first's `updated_at`.
        let Some(current) = row_opt(
            self.tx(),
            "SELECT updated_at, slug, status, kind FROM posts WHERE id = $1 FOR UPDATE",
            &[&id],
        )
        .await?
        else {
            return Err(StoreError::NotFound);
        };
        let updated: i64 = current.try_get(0)?;
        let old_slug: String = current.try_get(1)?;
        let old_status: String = current.try_get(2)?;
        let kind: String = current.try_get(3)?;
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
        exec(
            self.tx(),
            "UPDATE posts SET title = $2, dek = $3, slug = $4, body_source = $5, body_html = $6,
                word_count = $7, reading_minutes = $8, status = $9, published_at = $10, updated_at = $11
             WHERE id = $1",
            &[
                &id,
                &edit.title,
                &edit.dek,
                &edit.slug,
                &edit.body_source,
                &edit.body_html,
                &i64::from(edit.word_count),
                &i64::from(edit.reading_minutes),
                &edit.status.as_str(),
                &edit.published_ms,
                &new_updated,
            ],
        )
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => {
                StoreError::Conflict(format!("the slug {:?} is already taken", edit.slug))
            }
            other => other,
        })?;
        // SQLite's webhooks_post_status trigger.
        self.enqueue_post_change(
            id,
            (&old_status, updated),
            (edit.status.as_str(), new_updated),
        )
        .await?;
        let listed = (edit.status == PostStatus::Published && kind != "page")
            .then_some(edit.published_ms)
            .flatten();
        if let Some(seo) = &edit.seo {
            let none_if_empty = |v: &str| (!v.is_empty()).then(|| v.to_owned());
            exec(
                self.tx(),
                "UPDATE posts SET meta_title = $2, meta_description = $3, canonical_url = $4 WHERE id = $1",
                &[
                    &id,
                    &none_if_empty(&seo.meta_title),
                    &none_if_empty(&seo.meta_description),
                    &none_if_empty(&seo.canonical_url),
                ],
            )
            .await?;
        }
        if let Some(f) = &edit.feature {
            match f.choice {
                FeatureChoice::Keep => self.set_feature_words(id, &f.words).await?,
                FeatureChoice::Remove => self.set_feature_image(id, None, &f.words).await?,
                FeatureChoice::Media(m) => self.set_feature_image(id, Some(m), &f.words).await?,
            }
        }
        if let Some(v) = edit.visibility {
            exec(
                self.tx(),
                "UPDATE posts SET visibility = $2 WHERE id = $1",
                &[&id, &v.as_str()],
            )
            .await?;
        }
        if let Some(tiers) = &edit.tier_ids {
            self.set_post_tiers(id, tiers).await?;
        }
        if let Some(embed) = &edit.video_embed {
            exec(
                self.tx(),
                "UPDATE posts SET video_embed = $2 WHERE id = $1",
                &[&id, &(!embed.is_empty()).then_some(embed)],
            )
            .await?;
        }
        if let Some(tags) = &edit.tag_ids {
            exec(
                self.tx(),
                "DELETE FROM post_tags WHERE post_id = $1",
                &[&id],
            )
            .await?;
            self.link_post(PostLinks::Tags, id, tags, listed).await?;
            exec(
                self.tx(),
                "UPDATE posts SET primary_tag_id = $2 WHERE id = $1",
                &[&id, &tags.first()],
            )
            .await?;
        }
        if let Some(authors) = &edit.author_ids {
            exec(
                self.tx(),
                "DELETE FROM post_authors WHERE post_id = $1",
                &[&id],
            )
            .await?;
            self.link_post(PostLinks::Authors, id, authors, listed)
                .await?;
        }
        for table in ["post_tags", "post_authors"] {
            exec(
                self.tx(),
                &format!("UPDATE {table} SET published_at = $2 WHERE post_id = $1"),
                &[&id, &listed],
            )
            .await?;
        }
        if old_slug != edit.slug && old_status == "published" {
            exec(
                self.tx(),
                "INSERT INTO slug_redirects (old_slug, post_id, created_at) VALUES ($1, $2, $3)
                 ON CONFLICT (old_slug) DO UPDATE SET post_id = excluded.post_id",
                &[&old_slug, &id, &now],
            )
            .await?;
        }
        // A slug in use again is no longer a redirect.
        exec(
            self.tx(),
            "DELETE FROM slug_redirects WHERE old_slug = $1",
            &[&edit.slug],
        )
        .await?;
        // The newest revision, if it is this person's autosave of the last ten minutes.
        let open_autosave: Option<i64> = if edit.autosave {
            row_opt(
                self.tx(),
                "SELECT id FROM post_revisions WHERE post_id = $1 AND id =
                    (SELECT MAX(id) FROM post_revisions WHERE post_id = $1)
                 AND autosave AND staff_id IS NOT DISTINCT FROM $2 AND created_at > $3",
                &[&id, &staff_id, &(now - AUTOSAVE_REVISION_MS)],
            )
            .await?
            .map(|r| r.try_get(0))
            .transpose()?
        } else {
            None
        };
        match open_autosave {
            Some(rev) => {
                exec(
                    self.tx(),
                    "UPDATE post_revisions SET created_at = $2, title = $3, dek = $4, slug = $5,
                        body_source = $6, status = $7 WHERE id = $1",
                    &[
                        &rev,
                        &now,
                        &edit.title,
                        &edit.dek,
                        &edit.slug,
                        &edit.body_source,
                        &edit.status.as_str(),
                    ],
                )
                .await?;
            }
            None => {
                exec(
                    self.tx(),
                    "INSERT INTO post_revisions (post_id, staff_id, created_at, title, dek, slug, body_source, status, autosave)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    &[
                        &id,
                        &staff_id,
                        &now,
                        &edit.title,
                        &edit.dek,
                        &edit.slug,
                        &edit.body_source,
                        &edit.status.as_str(),
                        &edit.autosave,
                    ],
                )
                .await?;
            }
        }
        self.reindex_post(id).await?;
        self.log_change(ChangeTopic::Post, Some(id), None).await?;
        Ok(new_updated)
    }
}

pub async fn review_state(c: &impl GenericClient, post_id: i64) -> StoreResult<Option<String>> {
    row_opt(c, "SELECT review FROM posts WHERE id = $1", &[&post_id])
        .await?
        .map(|r| Ok(r.try_get(0)?))
        .transpose()
}

pub async fn review_notes(c: &impl GenericClient, post_id: i64) -> StoreResult<Vec<ReviewNote>> {
    let found = rows(
        c,
        "SELECT r.created_at, u.name, r.decision, r.body FROM review_comments r
             LEFT JOIN staff_users u ON u.id = r.staff_id WHERE r.post_id = $1 ORDER BY r.id",
        &[&post_id],
    )
    .await?;
    map(&found, |r| {
        Ok(ReviewNote {
            created_ms: r.try_get(0)?,
            staff_name: r.try_get(1)?,
            decision: r.try_get(2)?,
            body: r.try_get(3)?,
        })
    })
}

/// Drafts waiting for an editor, oldest first: `(id, title, by, submitted)`.
/// Bylines in byline order (see `staff::desk_posts`).
pub async fn review_queue(c: &impl GenericClient) -> StoreResult<Vec<ReviewItem>> {
    let found = rows(
        c,
        "SELECT p.id, p.title,
                COALESCE((SELECT string_agg(a.name, ', ' ORDER BY pa.position) FROM post_authors pa
                          JOIN authors a ON a.id = pa.author_id WHERE pa.post_id = p.id), ''),
                p.updated_at
         FROM posts p WHERE p.review = 'submitted' ORDER BY p.updated_at",
        &[],
    )
    .await?;
    map(&found, |r| {
        Ok(ReviewItem {
            post_id: r.try_get(0)?,
            title: r.try_get(1)?,
            by: r.try_get(2)?,
            submitted_ms: r.try_get(3)?,
        })
    })
}

impl PgWriter<'_> {
    /// Moves a post through review and records the note.
    pub async fn review(
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
        let exists: bool = row_one(
            self.tx(),
            "SELECT EXISTS (SELECT 1 FROM posts WHERE id = $1)",
            &[&post_id],
        )
        .await?
        .try_get(0)?;
        if !exists {
            return Err(StoreError::NotFound);
        }
        if let Some(state) = state {
            exec(
                self.tx(),
                "UPDATE posts SET review = $2 WHERE id = $1",
                &[&post_id, &state],
            )
            .await?;
        }
        exec(
            self.tx(),
            "INSERT INTO review_comments (post_id, staff_id, created_at, decision, body) VALUES ($1, $2, $3, $4, $5)",
            &[&post_id, &staff_id, &now, &decision, &body],
        )
        .await?;
        Ok(())
    }
}

/// Corrections and update notes of a post, oldest first.
pub async fn post_notes(
    c: &impl GenericClient,
    post_id: i64,
) -> StoreResult<Vec<crate::model::PostNote>> {
    let found = rows(
        c,
        "SELECT kind, noted_at, note FROM post_notes WHERE post_id = $1 ORDER BY noted_at, id",
        &[&post_id],
    )
    .await?;
    map(&found, |r| {
        Ok(crate::model::PostNote {
            kind: r.try_get(0)?,
            noted_ms: r.try_get(1)?,
            note: r.try_get(2)?,
        })
    })
}
