//! Reading everything out (for `masthead export`) and the extra columns an
//! import sets (for `masthead import ghost`).

use rusqlite::{Connection, params};

use super::Writer;
use crate::error::StoreResult;
pub(crate) use masthead_model::transfer::*;

pub fn everything(c: &Connection) -> StoreResult<Everything> {
    let mut posts: Vec<ExportPost> = c
        .prepare(
            "SELECT id, COALESCE(uuid, ''), kind, status, visibility, featured, slug, title, dek,
                    body_source, body_html, feature_image, feature_image_alt, feature_image_caption,
                    feature_image_photographer, feature_image_agency, video_src, video_embed,
                    video_duration_s, canonical_url, meta_title, meta_description, created_at,
                    updated_at, published_at
             FROM posts ORDER BY id",
        )?
        .query_map([], |r| {
            Ok(ExportPost {
                id: r.get(0)?,
                uuid: r.get(1)?,
                kind: r.get(2)?,
                status: r.get(3)?,
                visibility: r.get(4)?,
                featured: r.get(5)?,
                slug: r.get(6)?,
                title: r.get(7)?,
                dek: r.get(8)?,
                body_source: r.get(9)?,
                body_html: r.get(10)?,
                feature_image: r.get(11)?,
                feature_image_alt: r.get(12)?,
                feature_image_caption: r.get(13)?,
                photographer: r.get(14)?,
                agency: r.get(15)?,
                video_src: r.get(16)?,
                video_embed: r.get(17)?,
                video_duration_s: r.get(18)?,
                canonical_url: r.get(19)?,
                meta_title: r.get(20)?,
                meta_description: r.get(21)?,
                created_ms: r.get(22)?,
                updated_ms: r.get(23)?,
                published_ms: r.get(24)?,
                ..ExportPost::default()
            })
        })?
        .collect::<Result<_, _>>()?;
    let index: std::collections::HashMap<i64, usize> =
        posts.iter().enumerate().map(|(i, p)| (p.id, i)).collect();
    let mut each =
        |sql: &str,
         f: &mut dyn FnMut(&mut ExportPost, &rusqlite::Row<'_>) -> rusqlite::Result<()>|
         -> StoreResult<()> {
            let mut stmt = c.prepare(sql)?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                let post: i64 = row.get(0)?;
                if let Some(&i) = index.get(&post) {
                    f(&mut posts[i], row)?;
                }
            }
            Ok(())
        };
    each(
        "SELECT post_id, tag_id FROM post_tags ORDER BY post_id, position",
        &mut |p, r| {
            p.tag_ids.push(r.get(1)?);
            Ok(())
        },
    )?;
    each(
        "SELECT post_id, author_id FROM post_authors ORDER BY post_id, position",
        &mut |p, r| {
            p.author_ids.push(r.get(1)?);
            Ok(())
        },
    )?;
    each(
        "SELECT post_id, kind, noted_at, note FROM post_notes ORDER BY post_id, noted_at, id",
        &mut |p, r| {
            p.notes.push((r.get(1)?, r.get(2)?, r.get(3)?));
            Ok(())
        },
    )?;
    each(
        "SELECT post_id, title, body_source, pinned, created_at FROM live_entries ORDER BY post_id, created_at, id",
        &mut |p, r| {
            p.live_entries
                .push((r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?));
            Ok(())
        },
    )?;
    let mut tags = super::taxonomy::editable_tags(c)?;
    tags.sort_by_key(|t| t.id);
    let authors = c
        .prepare("SELECT id, slug, name, bio, location, avatar FROM authors ORDER BY id")?
        .query_map([], |r| super::taxonomy::author_at(r, 0))?
        .collect::<Result<_, _>>()?;
    let members = c
        .prepare("SELECT id, email, name, status, created_at, note FROM members ORDER BY id")?
        .query_map([], |r| {
            Ok(ExportMember {
                id: r.get(0)?,
                email: r.get(1)?,
                name: r.get(2)?,
                status: r.get(3)?,
                created_ms: r.get(4)?,
                note: r.get(5)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    let pairs = |sql: &str| -> StoreResult<Vec<(i64, i64)>> {
        Ok(c.prepare(sql)?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?)
    };
    Ok(Everything {
        posts,
        tags,
        authors,
        members,
        labels: super::roster::labels(c)?,
        member_labels: pairs(
            "SELECT member_id, label_id FROM member_labels ORDER BY member_id, label_id",
        )?,
        newsletters: super::members::newsletters(c)?,
        member_newsletters: pairs(
            "SELECT member_id, newsletter_id FROM member_newsletters ORDER BY member_id, newsletter_id",
        )?,
        tiers: super::tiers::tiers(c)?,
        billing: super::billing::billing_export(c)?,
    })
}

impl Writer<'_> {
    pub fn set_import_fields(&self, id: i64, f: &ImportFields) -> StoreResult<()> {
        let before = self.post_mark(id)?;
        self.tx().execute(
            "UPDATE posts SET uuid = CASE WHEN ?2 IS NOT NULL AND NOT EXISTS
                    (SELECT 1 FROM posts o WHERE o.uuid = ?2) THEN ?2 ELSE uuid END, created_at = ?3, updated_at = ?4, featured = ?5,
                canonical_url = ?6, meta_title = ?7, meta_description = ?8, feature_image_alt = ?9,
                feature_image_caption = ?10, feature_image_photographer = ?11, feature_image_agency = ?12
             WHERE id = ?1",
            params![
                id,
                f.uuid,
                f.created_ms,
                f.updated_ms,
                f.featured,
                f.canonical_url,
                f.meta_title,
                f.meta_description,
                f.feature_image_alt,
                f.feature_image_caption,
                f.photographer,
                f.agency
            ],
        )?;
        self.post_changed(id, before, self.post_mark(id)?)
    }

    /// A byline's portrait (imports bring their own addresses).
    pub fn set_author_avatar(&self, id: i64, avatar: Option<&str>) -> StoreResult<()> {
        self.tx().execute(
            "UPDATE authors SET avatar = ?2 WHERE id = ?1",
            params![id, avatar],
        )?;
        Ok(())
    }

    pub fn tag_id_by_slug(&self, slug: &str) -> StoreResult<Option<i64>> {
        use rusqlite::OptionalExtension;
        Ok(self
            .tx()
            .query_row("SELECT id FROM tags WHERE slug = ?1", [slug], |r| r.get(0))
            .optional()?)
    }

    pub fn author_id_by_slug(&self, slug: &str) -> StoreResult<Option<i64>> {
        use rusqlite::OptionalExtension;
        Ok(self
            .tx()
            .query_row("SELECT id FROM authors WHERE slug = ?1", [slug], |r| {
                r.get(0)
            })
            .optional()?)
    }

    pub fn set_member_name(&self, email_key: &str, name: &str) -> StoreResult<()> {
        self.tx().execute(
            "UPDATE members SET name = ?2 WHERE email_key = ?1",
            params![email_key, name],
        )?;
        Ok(())
    }
}
