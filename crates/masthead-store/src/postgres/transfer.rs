//! Reading everything out (for `masthead export`) and the extra columns an
//! import sets (for `masthead import ghost`): the PostgreSQL mirror of
//! `sqlite/transfer.rs`.

use std::collections::HashMap;

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::PgWriter;
use super::sql::{exec, map, row_opt, rows};
use crate::error::StoreResult;
use crate::sqlite::transfer::{Everything, ExportMember, ExportPost, ImportFields};

pub async fn everything(c: &impl GenericClient) -> StoreResult<Everything> {
    let found = rows(
        c,
        "SELECT id, COALESCE(uuid, ''), kind, status, visibility, featured, slug, title, dek,
                body_source, body_html, feature_image, feature_image_alt, feature_image_caption,
                feature_image_photographer, feature_image_agency, video_src, video_embed,
                video_duration_s, canonical_url, meta_title, meta_description, created_at,
                updated_at, published_at
         FROM posts ORDER BY id",
        &[],
    )
    .await?;
    let mut posts = map(&found, |r| {
        Ok(ExportPost {
            id: r.try_get(0)?,
            uuid: r.try_get(1)?,
            kind: r.try_get(2)?,
            status: r.try_get(3)?,
            visibility: r.try_get(4)?,
            featured: r.try_get(5)?,
            slug: r.try_get(6)?,
            title: r.try_get(7)?,
            dek: r.try_get(8)?,
            body_source: r.try_get(9)?,
            body_html: r.try_get(10)?,
            feature_image: r.try_get(11)?,
            feature_image_alt: r.try_get(12)?,
            feature_image_caption: r.try_get(13)?,
            photographer: r.try_get(14)?,
            agency: r.try_get(15)?,
            video_src: r.try_get(16)?,
            video_embed: r.try_get(17)?,
            video_duration_s: r.try_get(18)?,
            canonical_url: r.try_get(19)?,
            meta_title: r.try_get(20)?,
            meta_description: r.try_get(21)?,
            created_ms: r.try_get(22)?,
            updated_ms: r.try_get(23)?,
            published_ms: r.try_get(24)?,
            ..ExportPost::default()
        })
    })?;
    let index: HashMap<i64, usize> = posts.iter().enumerate().map(|(i, p)| (p.id, i)).collect();
    let mut each = async |sql: &str,
                          f: &mut (dyn FnMut(&mut ExportPost, &Row) -> StoreResult<()> + Send)|
           -> StoreResult<()> {
        for row in c.query(sql, &[]).await? {
            let post: i64 = row.try_get(0)?;
            if let Some(&i) = index.get(&post) {
                f(&mut posts[i], &row)?;
            }
        }
        Ok(())
    };
    each(
        "SELECT post_id, tag_id FROM post_tags ORDER BY post_id, position",
        &mut |p, r| {
            p.tag_ids.push(r.try_get(1)?);
            Ok(())
        },
    )
    .await?;
    each(
        "SELECT post_id, author_id FROM post_authors ORDER BY post_id, position",
        &mut |p, r| {
            p.author_ids.push(r.try_get(1)?);
            Ok(())
        },
    )
    .await?;
    each(
        "SELECT post_id, kind, noted_at, note FROM post_notes ORDER BY post_id, noted_at, id",
        &mut |p, r| {
            p.notes.push((r.try_get(1)?, r.try_get(2)?, r.try_get(3)?));
            Ok(())
        },
    )
    .await?;
    each(
        "SELECT post_id, title, body_source, pinned, created_at FROM live_entries ORDER BY post_id, created_at, id",
        &mut |p, r| {
            p.live_entries
                .push((r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?));
            Ok(())
        },
    )
    .await?;
    let mut tags = super::taxonomy::editable_tags(c).await?;
    tags.sort_by_key(|t| t.id);
    let authors = map(
        &c.query(
            "SELECT id, slug, name, bio, location, avatar FROM authors ORDER BY id",
            &[],
        )
        .await?,
        |r| super::taxonomy::author_at(r, 0),
    )?;
    let members = map(
        &c.query(
            "SELECT id, email, name, status, created_at, note FROM members ORDER BY id",
            &[],
        )
        .await?,
        |r| {
            Ok(ExportMember {
                id: r.try_get(0)?,
                email: r.try_get(1)?,
                name: r.try_get(2)?,
                status: r.try_get(3)?,
                created_ms: r.try_get(4)?,
                note: r.try_get(5)?,
            })
        },
    )?;
    let pair =
        |r: &tokio_postgres::Row| -> StoreResult<(i64, i64)> { Ok((r.try_get(0)?, r.try_get(1)?)) };
    let member_labels = map(
        &c.query(
            "SELECT member_id, label_id FROM member_labels ORDER BY member_id, label_id",
            &[],
        )
        .await?,
        pair,
    )?;
    let member_newsletters = map(
        &c.query(
            "SELECT member_id, newsletter_id FROM member_newsletters ORDER BY member_id, newsletter_id",
            &[],
        )
        .await?,
        pair,
    )?;
    Ok(Everything {
        posts,
        tags,
        authors,
        members,
        labels: super::roster::labels(c).await?,
        member_labels,
        newsletters: super::members::newsletters(c).await?,
        member_newsletters,
        tiers: super::tiers::tiers(c).await?,
        billing: super::billing::billing_export(c).await?,
    })
}

impl PgWriter<'_> {
    /// Sets what an import brings beyond a new post's columns. It sets
    /// `updated_at`, so it tells the webhooks as SQLite's
    /// `webhooks_post_status` trigger does (`post.updated` for a published
    /// post whose time changes).
    pub async fn set_import_fields(&self, id: i64, f: &ImportFields) -> StoreResult<()> {
        let old = row_opt(
            self.tx(),
            "SELECT status, updated_at FROM posts WHERE id = $1 FOR UPDATE",
            &[&id],
        )
        .await?;
        exec(
            self.tx(),
            "UPDATE posts SET uuid = CASE WHEN $2::text IS NOT NULL AND NOT EXISTS
                    (SELECT 1 FROM posts o WHERE o.uuid = $2) THEN $2 ELSE uuid END, created_at = $3, updated_at = $4, featured = $5,
                canonical_url = $6, meta_title = $7, meta_description = $8, feature_image_alt = $9,
                feature_image_caption = $10, feature_image_photographer = $11, feature_image_agency = $12
             WHERE id = $1",
            &[
                &id,
                &f.uuid,
                &f.created_ms,
                &f.updated_ms,
                &f.featured,
                &f.canonical_url,
                &f.meta_title,
                &f.meta_description,
                &f.feature_image_alt,
                &f.feature_image_caption,
                &f.photographer,
                &f.agency,
            ],
        )
        .await?;
        if let Some(old) = old {
            let status: String = old.try_get(0)?;
            let updated: i64 = old.try_get(1)?;
            self.enqueue_post_change(id, (&status, updated), (&status, f.updated_ms))
                .await?;
        }
        Ok(())
    }

    /// A byline's portrait (imports bring their own addresses).
    pub async fn set_author_avatar(&self, id: i64, avatar: Option<&str>) -> StoreResult<()> {
        exec(
            self.tx(),
            "UPDATE authors SET avatar = $2 WHERE id = $1",
            &[&id, &avatar],
        )
        .await?;
        Ok(())
    }

    pub async fn tag_id_by_slug(&self, slug: &str) -> StoreResult<Option<i64>> {
        row_opt(self.tx(), "SELECT id FROM tags WHERE slug = $1", &[&slug])
            .await?
            .map(|r| Ok(r.try_get(0)?))
            .transpose()
    }

    pub async fn author_id_by_slug(&self, slug: &str) -> StoreResult<Option<i64>> {
        row_opt(
            self.tx(),
            "SELECT id FROM authors WHERE slug = $1",
            &[&slug],
        )
        .await?
        .map(|r| Ok(r.try_get(0)?))
        .transpose()
    }

    pub async fn set_member_name(&self, email_key: &str, name: &str) -> StoreResult<()> {
        exec(
            self.tx(),
            "UPDATE members SET name = $2 WHERE email_key = $1",
            &[&email_key, &name],
        )
        .await?;
        Ok(())
    }
}
