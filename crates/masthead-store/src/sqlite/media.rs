//! The media library's rows, and how a post's feature image is taken from it.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::Writer;
use crate::error::{StoreError, StoreResult};
pub(crate) use masthead_model::media::*;

const COLUMNS: &str = "m.id, m.key, m.filename, m.format, m.width, m.height, m.bytes, m.widths, \
     m.fallback, m.alt, m.caption, m.photographer, m.agency, m.uploaded_by, u.name, m.created_at";

fn item_from_row(r: &Row<'_>) -> rusqlite::Result<MediaItem> {
    let widths: String = r.get(7)?;
    Ok(MediaItem {
        id: r.get(0)?,
        key: r.get(1)?,
        filename: r.get(2)?,
        format: r.get(3)?,
        width: r.get(4)?,
        height: r.get(5)?,
        bytes: r.get(6)?,
        widths: widths.split(',').filter_map(|w| w.parse().ok()).collect(),
        fallback: r.get(8)?,
        alt: r.get(9)?,
        caption: r.get(10)?,
        photographer: r.get(11)?,
        agency: r.get(12)?,
        uploaded_by: r.get(13)?,
        uploader_name: r.get(14)?,
        created_ms: r.get(15)?,
    })
}

pub fn media_item(c: &Connection, id: i64) -> StoreResult<Option<MediaItem>> {
    Ok(c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM media m LEFT JOIN staff_users u ON u.id = m.uploaded_by WHERE m.id = ?1"
    ))?
    .query_row([id], item_from_row)
    .optional()?)
}

/// The library, newest first, `limit` items older than item `before` (keyset on the id).
pub fn media_page(c: &Connection, before: Option<i64>, limit: u32) -> StoreResult<Vec<MediaItem>> {
    Ok(c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM media m LEFT JOIN staff_users u ON u.id = m.uploaded_by
         WHERE m.id < ?1 ORDER BY m.id DESC LIMIT ?2"
    ))?
    .query_map(params![before.unwrap_or(i64::MAX), limit], item_from_row)?
    .collect::<Result<_, _>>()?)
}

impl Writer<'_> {
    /// Records an upload; the same file uploaded again returns the first
    /// item (`(id, false)`) and changes nothing.
    pub fn insert_media(&self, m: &NewMedia) -> StoreResult<(i64, bool)> {
        let existing: Option<i64> = self
            .tx()
            .prepare_cached("SELECT id FROM media WHERE key = ?1")?
            .query_row([&m.key], |r| r.get(0))
            .optional()?;
        if let Some(id) = existing {
            return Ok((id, false));
        }
        let widths = m
            .widths
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",");
        self.tx()
            .prepare_cached(
                "INSERT INTO media (key, filename, format, width, height, bytes, widths, fallback,
                                    uploaded_by, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
            )?
            .execute(params![
                m.key,
                m.filename,
                m.format,
                m.width,
                m.height,
                m.bytes,
                widths,
                m.fallback,
                m.uploaded_by,
                m.now
            ])?;
        Ok((self.tx().last_insert_rowid(), true))
    }

    /// Changes the library's words for an image. Posts keep the words they
    /// were saved with (a caption is often written for one story).
    pub fn update_media_details(&self, id: i64, d: &MediaDetails, now: i64) -> StoreResult<()> {
        let n = self
            .tx()
            .prepare_cached(
                "UPDATE media SET alt = ?2, caption = ?3, photographer = ?4, agency = ?5, updated_at = ?6
                 WHERE id = ?1",
            )?
            .execute(params![
                id,
                d.alt,
                d.caption,
                d.photographer,
                d.agency,
                now
            ])?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Sets a post's feature image from the library (`Some`), or removes it
    /// (`None`); the words are the post's own.
    pub(super) fn set_feature_image(
        &self,
        post_id: i64,
        media_id: Option<i64>,
        d: &MediaDetails,
    ) -> StoreResult<()> {
        let Some(media_id) = media_id else {
            self.tx().execute(
                "UPDATE posts SET feature_image = NULL, feature_media_id = NULL,
                    feature_image_srcset = NULL, feature_image_webp_srcset = NULL,
                    feature_image_width = NULL, feature_image_height = NULL,
                    feature_image_alt = '', feature_image_caption = '',
                    feature_image_photographer = '', feature_image_agency = ''
                 WHERE id = ?1",
                [post_id],
            )?;
            return Ok(());
        };
        let Some(item) = media_item(self.tx(), media_id)? else {
            return Err(StoreError::Invalid(
                "that image is no longer in the media library".into(),
            ));
        };
        self.tx().execute(
            "UPDATE posts SET feature_image = ?2, feature_media_id = ?3,
                feature_image_srcset = ?4, feature_image_webp_srcset = ?5,
                feature_image_width = ?6, feature_image_height = ?7,
                feature_image_alt = ?8, feature_image_caption = ?9,
                feature_image_photographer = ?10, feature_image_agency = ?11
             WHERE id = ?1",
            params![
                post_id,
                item.src(),
                item.id,
                item.srcset(),
                item.webp_srcset(),
                item.widest(),
                item.widest_height(),
                d.alt,
                d.caption,
                d.photographer,
                d.agency
            ],
        )?;
        Ok(())
    }

    /// Changes only the words of a post's current feature image.
    pub(super) fn set_feature_words(&self, post_id: i64, d: &MediaDetails) -> StoreResult<()> {
        self.tx().execute(
            "UPDATE posts SET feature_image_alt = ?2, feature_image_caption = ?3,
                feature_image_photographer = ?4, feature_image_agency = ?5
             WHERE id = ?1 AND feature_image IS NOT NULL",
            params![post_id, d.alt, d.caption, d.photographer, d.agency],
        )?;
        Ok(())
    }
}
