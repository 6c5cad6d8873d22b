//! The media library's rows, and how a post's feature image is taken from
//! it: the PostgreSQL mirror of `sqlite/media.rs`.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::PgWriter;
use super::sql::{exec, map, row_opt, rows, u32_at};
use crate::error::{StoreError, StoreResult};
use crate::sqlite::media::{MediaDetails, MediaItem, NewMedia};

const COLUMNS: &str = "m.id, m.key, m.filename, m.format, m.width, m.height, m.bytes, m.widths, \
     m.fallback, m.alt, m.caption, m.photographer, m.agency, m.uploaded_by, u.name, m.created_at";

fn item_from_row(r: &Row) -> StoreResult<MediaItem> {
    let widths: String = r.try_get(7)?;
    Ok(MediaItem {
        id: r.try_get(0)?,
        key: r.try_get(1)?,
        filename: r.try_get(2)?,
        format: r.try_get(3)?,
        width: u32_at(r, 4)?,
        height: u32_at(r, 5)?,
        bytes: r.try_get(6)?,
        widths: widths.split(',').filter_map(|w| w.parse().ok()).collect(),
        fallback: r.try_get(8)?,
        alt: r.try_get(9)?,
        caption: r.try_get(10)?,
        photographer: r.try_get(11)?,
        agency: r.try_get(12)?,
        uploaded_by: r.try_get(13)?,
        uploader_name: r.try_get(14)?,
        created_ms: r.try_get(15)?,
    })
}

pub async fn media_item(c: &impl GenericClient, id: i64) -> StoreResult<Option<MediaItem>> {
    row_opt(
        c,
        &format!(
            "SELECT {COLUMNS} FROM media m LEFT JOIN staff_users u ON u.id = m.uploaded_by WHERE m.id = $1"
        ),
        &[&id],
    )
    .await?
    .as_ref()
    .map(item_from_row)
    .transpose()
}

/// The library, newest first, `limit` items older than item `before` (keyset on the id).
pub async fn media_page(
    c: &impl GenericClient,
    before: Option<i64>,
    limit: u32,
) -> StoreResult<Vec<MediaItem>> {
    let found = rows(
        c,
        &format!(
            "SELECT {COLUMNS} FROM media m LEFT JOIN staff_users u ON u.id = m.uploaded_by
             WHERE m.id < $1 ORDER BY m.id DESC LIMIT $2"
        ),
        &[&before.unwrap_or(i64::MAX), &i64::from(limit)],
    )
    .await?;
    map(&found, item_from_row)
}

impl PgWriter<'_> {
    /// Records an upload; the same file uploaded again returns the first
    /// item (`(id, false)`) and changes nothing. Two instances recording the
    /// same upload at once: the unique key decides, the loser reads the
    /// winner's row.
    pub async fn insert_media(&self, m: &NewMedia) -> StoreResult<(i64, bool)> {
        let existing = async || -> StoreResult<Option<i64>> {
            row_opt(self.tx(), "SELECT id FROM media WHERE key = $1", &[&m.key])
                .await?
                .map(|r| Ok(r.try_get(0)?))
                .transpose()
        };
        if let Some(id) = existing().await? {
            return Ok((id, false));
        }
        let widths = m
            .widths
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let inserted: Option<i64> = row_opt(
            self.tx(),
            "INSERT INTO media (key, filename, format, width, height, bytes, widths, fallback,
                                uploaded_by, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)
             ON CONFLICT (key) DO NOTHING RETURNING id",
            &[
                &m.key,
                &m.filename,
                &m.format,
                &i64::from(m.width),
                &i64::from(m.height),
                &m.bytes,
                &widths,
                &m.fallback,
                &m.uploaded_by,
                &m.now,
            ],
        )
        .await?
        .map(|r| r.try_get(0))
        .transpose()?;
        match inserted {
            Some(id) => Ok((id, true)),
            None => Ok((existing().await?.ok_or(StoreError::NotFound)?, false)),
        }
    }

    /// Changes the library's words for an image.
    pub async fn update_media_details(
        &self,
        id: i64,
        d: &MediaDetails,
        now: i64,
    ) -> StoreResult<()> {
        let n = exec(
            self.tx(),
            "UPDATE media SET alt = $2, caption = $3, photographer = $4, agency = $5, updated_at = $6
             WHERE id = $1",
            &[&id, &d.alt, &d.caption, &d.photographer, &d.agency, &now],
        )
        .await?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Sets a post's feature image from the library (`Some`), or removes it
    /// (`None`); the words are the post's own.
    pub(crate) async fn set_feature_image(
        &self,
        post_id: i64,
        media_id: Option<i64>,
        d: &MediaDetails,
    ) -> StoreResult<()> {
        let Some(media_id) = media_id else {
            exec(
                self.tx(),
                "UPDATE posts SET feature_image = NULL, feature_media_id = NULL,
                    feature_image_srcset = NULL, feature_image_webp_srcset = NULL,
                    feature_image_width = NULL, feature_image_height = NULL,
                    feature_image_alt = '', feature_image_caption = '',
                    feature_image_photographer = '', feature_image_agency = ''
                 WHERE id = $1",
                &[&post_id],
            )
            .await?;
            return Ok(());
        };
        let Some(item) = media_item(self.tx(), media_id).await? else {
            return Err(StoreError::Invalid(
                "that image is no longer in the media library".into(),
            ));
        };
        exec(
            self.tx(),
            "UPDATE posts SET feature_image = $2, feature_media_id = $3,
                feature_image_srcset = $4, feature_image_webp_srcset = $5,
                feature_image_width = $6, feature_image_height = $7,
                feature_image_alt = $8, feature_image_caption = $9,
                feature_image_photographer = $10, feature_image_agency = $11
             WHERE id = $1",
            &[
                &post_id,
                &item.src(),
                &item.id,
                &item.srcset(),
                &item.webp_srcset(),
                &i64::from(item.widest()),
                &i64::from(item.widest_height()),
                &d.alt,
                &d.caption,
                &d.photographer,
                &d.agency,
            ],
        )
        .await?;
        Ok(())
    }

    /// Changes only the words of a post's current feature image.
    pub(crate) async fn set_feature_words(
        &self,
        post_id: i64,
        d: &MediaDetails,
    ) -> StoreResult<()> {
        exec(
            self.tx(),
            "UPDATE posts SET feature_image_alt = $2, feature_image_caption = $3,
                feature_image_photographer = $4, feature_image_agency = $5
             WHERE id = $1 AND feature_image IS NOT NULL",
            &[&post_id, &d.alt, &d.caption, &d.photographer, &d.agency],
        )
        .await?;
        Ok(())
    }
}
