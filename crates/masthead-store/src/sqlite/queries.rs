//! Read queries. Every listing is a keyset scan on a partial index (see the
//! migration); the tests in `tests.rs` pin the query plans.

use masthead_domain::{FeedCursor, PostKind, PostStatus, Visibility};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use crate::error::{StoreError, StoreResult};
use crate::model::*;

/// Columns of a card, in the order `card_from_row` reads them; `p` is posts, `t` the primary tag.
macro_rules! card_columns {
    () => {
        "p.id, p.kind, p.slug, p.title, p.dek, p.visibility, p.published_at, \
     p.updated_at, p.reading_minutes, t.id, t.slug, t.name, p.feature_image, p.feature_image_alt, \
     p.feature_image_caption, p.feature_image_photographer, p.feature_image_agency, \
     p.feature_image_width, p.feature_image_height, p.feature_image_srcset, p.feature_image_webp_srcset"
    };
}
pub(super) use card_columns;

fn bad_value(what: &str, e: impl std::fmt::Display) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("{what}: {e}").into(),
    )
}

fn kind_at(row: &Row<'_>, i: usize) -> rusqlite::Result<PostKind> {
    let s: String = row.get(i)?;
    PostKind::parse(&s).map_err(|e| bad_value("kind", e))
}

fn visibility_at(row: &Row<'_>, i: usize) -> rusqlite::Result<Visibility> {
    let s: String = row.get(i)?;
    Visibility::parse(&s).map_err(|e| bad_value("visibility", e))
}

/// The feature image whose columns start at `i`, with its two `srcset`s at `srcsets`.
fn image_at(row: &Row<'_>, i: usize, srcsets: usize) -> rusqlite::Result<Option<Image>> {
    let src: Option<String> = row.get(i)?;
    Ok(match src {
        Some(src) => Some(Image {
            src,
            alt: row.get(i + 1)?,
            caption: row.get(i + 2)?,
            photographer: row.get(i + 3)?,
            agency: row.get(i + 4)?,
            width: row.get(i + 5)?,
            height: row.get(i + 6)?,
            srcset: row.get(srcsets)?,
            webp_srcset: row.get(srcsets + 1)?,
        }),
        None => None,
    })
}

pub(super) fn card_from_row(row: &Row<'_>) -> rusqlite::Result<PostCard> {
    let tag_id: Option<i64> = row.get(9)?;
    let primary_tag = match tag_id {
        Some(id) => Some(TagRef {
            id,
            slug: row.get(10)?,
            name: row.get(11)?,
        }),
        None => None,
    };
    Ok(PostCard {
        id: row.get(0)?,
        kind: kind_at(row, 1)?,
        slug: row.get(2)?,
        title: row.get(3)?,
        dek: row.get(4)?,
        visibility: visibility_at(row, 5)?,
        published_ms: row.get(6)?,
        updated_ms: row.get(7)?,
        reading_minutes: row.get(8)?,
        primary_tag,
        image: image_at(row, 12, 19)?,
    })
}

pub fn feed(
    c: &Connection,
    scope: FeedScope,
    after: Option<FeedCursor>,
    limit: u32,
) -> StoreResult<FeedPage> {
    let limit = limit.clamp(1, 100);
    // The first page is "before the end of time", so one statement serves all pages.
    let cursor = after.unwrap_or(FeedCursor {
        published_ms: i64::MAX,
        id: i64::MAX,
    });
    let fetch = i64::from(limit) + 1;
    let (sql, key) = feed_sql(scope);
    let mut args = vec![
        Value::Integer(cursor.published_ms),
        Value::Integer(cursor.id),
        Value::Integer(fetch),
    ];
    args.extend(key);
    let mut stmt = c.prepare_cached(sql)?;
    let mut cards: Vec<PostCard> = stmt
        .query_map(params_from_iter(args), card_from_row)?
        .collect::<Result<_, _>>()?;
    let next = if cards.len() > limit as usize {
        cards.truncate(limit as usize);
        cards.last().map(PostCard::cursor)
    } else {
        None
    };
    Ok(FeedPage { cards, next })
}

/// The statement for a listing, and its scope parameter (bound as ?4).
fn feed_sql(scope: FeedScope) -> (&'static str, Option<Value>) {
    match scope {
        FeedScope::All => (
            concat!(
                "SELECT ",
                card_columns!(),
                " FROM posts p LEFT JOIN tags t ON t.id = p.primary_tag_id
                 WHERE p.status = 'published' AND p.kind <> 'page'
                   AND (p.published_at, p.id) < (?1, ?2)
                 ORDER BY p.published_at DESC, p.id DESC LIMIT ?3"
            ),
            None,
        ),
        FeedScope::Section(tag) => (
            concat!(
                "SELECT ",
                card_columns!(),
                " FROM posts p LEFT JOIN tags t ON t.id = p.primary_tag_id
                 WHERE p.status = 'published' AND p.kind <> 'page' AND p.primary_tag_id = ?4
                   AND (p.published_at, p.id) < (?1, ?2)
                 ORDER BY p.published_at DESC, p.id DESC LIMIT ?3"
            ),
            Some(Value::Integer(tag)),
        ),
        FeedScope::Kind(kind) => (
            concat!(
                "SELECT ",
                card_columns!(),
                " FROM posts p LEFT JOIN tags t ON t.id = p.primary_tag_id
                 WHERE p.status = 'published' AND p.kind = ?4
                   AND (p.published_at, p.id) < (?1, ?2)
                 ORDER BY p.published_at DESC, p.id DESC LIMIT ?3"
            ),
            Some(Value::Text(kind.as_str().to_owned())),
        ),
        FeedScope::Tag(tag) => (
            concat!(
                "SELECT ",
                card_columns!(),
                " FROM post_tags pt
                   JOIN posts p ON p.id = pt.post_id
                   LEFT JOIN tags t ON t.id = p.primary_tag_id
                 WHERE pt.tag_id = ?4 AND pt.published_at IS NOT NULL
                   AND (pt.published_at, pt.post_id) < (?1, ?2)
                 ORDER BY pt.published_at DESC, pt.post_id DESC LIMIT ?3"
            ),
            Some(Value::Integer(tag)),
        ),
        FeedScope::Author(author) => (
            concat!(
                "SELECT ",
                card_columns!(),
                " FROM post_authors pa
                   JOIN posts p ON p.id = pa.post_id
                   LEFT JOIN tags t ON t.id = p.primary_tag_id
                 WHERE pa.author_id = ?4 AND pa.published_at IS NOT NULL
                   AND (pa.published_at, pa.post_id) < (?1, ?2)
                 ORDER BY pa.published_at DESC, pa.post_id DESC LIMIT ?3"
            ),
            Some(Value::Integer(author)),
        ),
    }
}

macro_rules! post_columns {
    () => {
        "p.id, p.kind, p.status, p.visibility, p.slug, p.title, p.dek, p.body_html, \
     p.word_count, p.reading_minutes, p.feature_image, p.feature_image_alt, p.feature_image_caption, \
     p.feature_image_photographer, p.feature_image_agency, p.feature_image_width, p.feature_image_height, \
     p.video_src, p.video_embed, p.video_duration_s, p.language, p.canonical_url, p.meta_title, \
     p.meta_description, p.created_at, p.updated_at, p.published_at, p.feature_image_srcset, \
     p.feature_image_webp_srcset, p.uuid"
    };
}

fn post_from_row(row: &Row<'_>) -> rusqlite::Result<Post> {
    let status: String = row.get(2)?;
    let video_src: Option<String> = row.get(17)?;
    let video_embed: Option<String> = row.get(18)?;
    let video = if video_src.is_some() || video_embed.is_some() {
        Some(Video {
            src: video_src,
            embed: video_embed,
            duration_s: row.get(19)?,
        })
    } else {
        None
    };
    Ok(Post {
        id: row.get(0)?,
        uuid: row.get(29)?,
        kind: kind_at(row, 1)?,
        status: PostStatus::parse(&status).map_err(|e| bad_value("status", e))?,
        visibility: visibility_at(row, 3)?,
        slug: row.get(4)?,
        title: row.get(5)?,
        dek: row.get(6)?,
        body_html: row.get(7)?,
        word_count: row.get(8)?,
        reading_minutes: row.get(9)?,
        image: image_at(row, 10, 27)?,
        video,
        language: row.get(20)?,
        canonical_url: row.get(21)?,
        meta_title: row.get(22)?,
        meta_description: row.get(23)?,
        created_ms: row.get(24)?,
        updated_ms: row.get(25)?,
        published_ms: row.get(26)?,
        tags: Vec::new(),
        authors: Vec::new(),
        notes: Vec::new(),
        tiers: Vec::new(),
    })
}

pub fn published_post_by_slug(c: &Connection, slug: String) -> StoreResult<Option<Post>> {
    let mut stmt = c.prepare_cached(concat!(
        "SELECT ",
        post_columns!(),
        " FROM posts p WHERE p.slug = ?1 AND p.status = 'published'"
    ))?;
    let Some(mut post) = stmt.query_row([slug], post_from_row).optional()? else {
        return Ok(None);
    };
    add_tags_and_authors(c, &mut post)?;
    post.notes = c
        .prepare_cached(
            "SELECT kind, noted_at, note FROM post_notes WHERE post_id = ?1 ORDER BY noted_at, id",
        )?
        .query_map([post.id], |r| {
            Ok(PostNote {
                kind: r.get(0)?,
                noted_ms: r.get(1)?,
                note: r.get(2)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    if post.visibility == Visibility::Tiers {
        post.tiers = super::tiers::post_tier_refs(c, post.id)?;
    }
    Ok(Some(post))
}

/// Fills in a post's tags and bylines, in order.
fn add_tags_and_authors(c: &Connection, post: &mut Post) -> StoreResult<()> {
    post.tags = c
        .prepare_cached(
            "SELECT t.id, t.slug, t.name FROM post_tags pt JOIN tags t ON t.id = pt.tag_id
             WHERE pt.post_id = ?1 ORDER BY pt.position",
        )?
        .query_map([post.id], |r| {
            Ok(TagRef {
                id: r.get(0)?,
                slug: r.get(1)?,
                name: r.get(2)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    post.authors = c
        .prepare_cached(
            "SELECT a.id, a.slug, a.name, a.bio, a.location, a.avatar
             FROM post_authors pa JOIN authors a ON a.id = pa.author_id
             WHERE pa.post_id = ?1 ORDER BY pa.position",
        )?
        .query_map([post.id], author_from_row)?
        .collect::<Result<_, _>>()?;
    Ok(())
}

/// The newest `limit` posts of a listing in full (body, tags, bylines; no
/// notes), newest first: what RSS, Atom and JSON feeds print. The listing's
/// own keyset query picks them, then each is read by its primary key.
pub fn feed_posts(c: &Connection, scope: FeedScope, limit: u32) -> StoreResult<Vec<Post>> {
    let page = feed(c, scope, None, limit)?;
    let mut stmt = c.prepare_cached(concat!(
        "SELECT ",
        post_columns!(),
        " FROM posts p WHERE p.id = ?1 AND p.status = 'published'"
    ))?;
    let mut posts = Vec::with_capacity(page.cards.len());
    for card in &page.cards {
        if let Some(mut post) = stmt.query_row([card.id], post_from_row).optional()? {
            add_tags_and_authors(c, &mut post)?;
            posts.push(post);
        }
    }
    Ok(posts)
}

/// The numbers (from 1) of the posts sitemap's parts that list at least one
/// published post. Parts are ranges of `size` post ids, so a post never moves
/// between parts; each check is one primary-key range seek that stops at the
/// first published post.
pub fn sitemap_parts(c: &Connection, size: u32) -> StoreResult<Vec<u32>> {
    let size = i64::from(size.max(1));
    let max_id: i64 = c
        .prepare_cached("SELECT COALESCE(MAX(id), 0) FROM posts")?
        .query_row([], |r| r.get(0))?;
    let mut listed = c.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM posts WHERE id > ?1 AND id <= ?2
                          AND status = 'published' AND kind <> 'page')",
    )?;
    let mut parts = Vec::new();
    for number in 1..=max_id.saturating_add(size - 1) / size {
        let low = (number - 1) * size;
        if listed.query_row([low, low.saturating_add(size)], |r| r.get::<_, bool>(0))? {
            parts.push(u32::try_from(number).unwrap_or(u32::MAX));
        }
    }
    Ok(parts)
}

/// Part `number` (from 1) of the posts sitemap: published posts (not pages)
/// with ids in `((number - 1) * size, number * size]`, a primary-key range.
pub fn sitemap_posts(c: &Connection, number: u32, size: u32) -> StoreResult<Vec<SitemapEntry>> {
    let size = i64::from(size.max(1));
    // u32 × u32 can exceed i64: a part that far out is simply empty.
    let Some(low) = (i64::from(number.max(1)) - 1).checked_mul(size) else {
        return Ok(Vec::new());
    };
    Ok(c.prepare_cached(
        "SELECT slug, updated_at FROM posts
         WHERE id > ?1 AND id <= ?2 AND status = 'published' AND kind <> 'page'
         ORDER BY id",
    )?
    .query_map([low, low.saturating_add(size)], sitemap_entry_from_row)?
    .collect::<Result<_, _>>()?)
}

fn sitemap_entry_from_row(r: &Row<'_>) -> rusqlite::Result<SitemapEntry> {
    Ok(SitemapEntry {
        slug: r.get(0)?,
        updated_ms: r.get(1)?,
    })
}

/// Published standalone pages (About, policies), at most `limit`.
pub fn sitemap_pages(c: &Connection, limit: u32) -> StoreResult<Vec<SitemapEntry>> {
    Ok(c.prepare_cached(
        "SELECT slug, updated_at FROM posts
         WHERE status = 'published' AND kind = 'page' ORDER BY id LIMIT ?1",
    )?
    .query_map([limit], sitemap_entry_from_row)?
    .collect::<Result<_, _>>()?)
}

/// Tags with at least one published post, at most `limit`, with the
/// publication time of their newest (read from the tag listing's index).
pub fn sitemap_tags(c: &Connection, limit: u32) -> StoreResult<Vec<SitemapTag>> {
    Ok(c.prepare_cached(
        "SELECT slug, is_section, last FROM (
             SELECT t.id, t.slug, t.is_section,
                    (SELECT MAX(pt.published_at) FROM post_tags pt
                      WHERE pt.tag_id = t.id AND pt.published_at IS NOT NULL) AS last
             FROM tags t)
         WHERE last IS NOT NULL ORDER BY id LIMIT ?1",
    )?
    .query_map([limit], |r| {
        Ok(SitemapTag {
            slug: r.get(0)?,
            is_section: r.get(1)?,
            updated_ms: r.get(2)?,
        })
    })?
    .collect::<Result<_, _>>()?)
}

/// Bylines with at least one published post, at most `limit`, with the
/// publication time of their newest.
pub fn sitemap_authors(c: &Connection, limit: u32) -> StoreResult<Vec<SitemapEntry>> {
    Ok(c.prepare_cached(
        "SELECT slug, last FROM (
             SELECT a.id, a.slug,
                    (SELECT MAX(pa.published_at) FROM post_authors pa
                      WHERE pa.author_id = a.id AND pa.published_at IS NOT NULL) AS last
             FROM authors a)
         WHERE last IS NOT NULL ORDER BY id LIMIT ?1",
    )?
    .query_map([limit], sitemap_entry_from_row)?
    .collect::<Result<_, _>>()?)
}

/// Posts (not pages) published at or after `since_ms`, newest first, at most
/// `limit`: the Google News sitemap. Reads the News Feed's index.
pub fn news_posts(c: &Connection, since_ms: i64, limit: u32) -> StoreResult<Vec<NewsEntry>> {
    Ok(c.prepare_cached(
        "SELECT slug, title, published_at FROM posts
         WHERE status = 'published' AND kind <> 'page' AND published_at >= ?1
         ORDER BY published_at DESC, id DESC LIMIT ?2",
    )?
    .query_map(params![since_ms, limit], |r| {
        Ok(NewsEntry {
            slug: r.get(0)?,
            title: r.get(1)?,
            published_ms: r.get(2)?,
        })
    })?
    .collect::<Result<_, _>>()?)
}

pub fn published_post_id_by_slug(
    c: &Connection,
    slug: String,
    kind: Option<PostKind>,
) -> StoreResult<Option<i64>> {
    let mut stmt = c.prepare_cached(
        "SELECT id FROM posts WHERE slug = ?1 AND status = 'published' AND (?2 IS NULL OR kind = ?2)",
    )?;
    Ok(stmt
        .query_row(params![slug, kind.map(PostKind::as_str)], |r| r.get(0))
        .optional()?)
}

fn author_from_row(r: &Row<'_>) -> rusqlite::Result<Author> {
    Ok(Author {
        id: r.get(0)?,
        slug: r.get(1)?,
        name: r.get(2)?,
        bio: r.get(3)?,
        location: r.get(4)?,
        avatar: r.get(5)?,
    })
}

fn tag_from_row(r: &Row<'_>) -> rusqlite::Result<Tag> {
    Ok(Tag {
        id: r.get(0)?,
        slug: r.get(1)?,
        name: r.get(2)?,
        description: r.get(3)?,
        is_section: r.get(4)?,
    })
}

pub fn read_next(
    c: &Connection,
    post_id: i64,
    primary_tag_id: Option<i64>,
    limit: u32,
) -> StoreResult<Vec<PostCard>> {
    let limit = limit.clamp(1, 20) as usize;
    let mut out: Vec<PostCard> = Vec::with_capacity(limit);
    if let Some(tag) = primary_tag_id {
        let page = feed(c, FeedScope::Tag(tag), None, limit as u32 + 1)?;
        out.extend(
            page.cards
                .into_iter()
                .filter(|p| p.id != post_id)
                .take(limit),
        );
    }
    if out.len() < limit {
        let page = feed(c, FeedScope::All, None, (limit * 2 + 1) as u32)?;
        for card in page.cards {
            if out.len() == limit {
                break;
            }
            if card.id != post_id && !out.iter().any(|o| o.id == card.id) {
                out.push(card);
            }
        }
    }
    Ok(out)
}

fn live_entry_from_row(r: &Row<'_>) -> rusqlite::Result<LiveEntry> {
    Ok(LiveEntry {
        id: r.get(0)?,
        post_id: r.get(1)?,
        title: r.get(2)?,
        body_html: r.get(3)?,
        pinned: r.get(4)?,
        created_ms: r.get(5)?,
        updated_ms: r.get(6)?,
        body_source: r.get(7)?,
    })
}

pub fn live_entries(c: &Connection, post_id: i64) -> StoreResult<Vec<LiveEntry>> {
    Ok(c.prepare_cached(
        "SELECT id, post_id, title, body_html, pinned, created_at, updated_at, body_source FROM live_entries
             WHERE post_id = ?1 ORDER BY created_at DESC, id DESC",
    )?
    .query_map([post_id], live_entry_from_row)?
    .collect::<Result<_, _>>()?)
}

/// A live page's worth of entries: every pinned one (first page only), and
/// up to `limit` others older than `before` (keyset on time and id), plus how
/// many entries the post has in all.
pub fn live_page(
    c: &Connection,
    post_id: i64,
    before: Option<FeedCursor>,
    limit: u32,
) -> StoreResult<LivePage> {
    let pinned = if before.is_none() {
        c.prepare_cached(
            "SELECT id, post_id, title, body_html, pinned, created_at, updated_at, body_source FROM live_entries
                 WHERE post_id = ?1 AND pinned = 1 ORDER BY created_at DESC, id DESC",
        )?
        .query_map([post_id], live_entry_from_row)?
        .collect::<Result<_, _>>()?
    } else {
        Vec::new()
    };
    let (ms, id) = before.map_or((i64::MAX, i64::MAX), |b| (b.published_ms, b.id));
    let mut entries: Vec<LiveEntry> = c
        .prepare_cached(
            "SELECT id, post_id, title, body_html, pinned, created_at, updated_at, body_source FROM live_entries
                 WHERE post_id = ?1 AND pinned = 0 AND (created_at, id) < (?2, ?3)
                 ORDER BY created_at DESC, id DESC LIMIT ?4",
        )?
        .query_map(params![post_id, ms, id, limit + 1], live_entry_from_row)?
        .collect::<Result<_, _>>()?;
    let older = if entries.len() > limit as usize {
        entries.truncate(limit as usize);
        entries.last().map(|e| FeedCursor {
            published_ms: e.created_ms,
            id: e.id,
        })
    } else {
        None
    };
    let total: i64 = c
        .prepare_cached("SELECT COUNT(*) FROM live_entries WHERE post_id = ?1")?
        .query_row([post_id], |r| r.get(0))?;
    Ok(LivePage {
        pinned,
        entries,
        older,
        total: total.max(0) as u64,
    })
}

pub fn live_entry(c: &Connection, entry_id: i64) -> StoreResult<Option<LiveEntry>> {
    Ok(c.prepare_cached(
        "SELECT id, post_id, title, body_html, pinned, created_at, updated_at, body_source FROM live_entries
             WHERE id = ?1",
    )?
    .query_row([entry_id], live_entry_from_row)
    .optional()?)
}

pub fn tag_by_slug(c: &Connection, slug: String) -> StoreResult<Option<Tag>> {
    Ok(c.prepare_cached(
        "SELECT id, slug, name, description, is_section FROM tags WHERE slug = ?1",
    )?
    .query_row([slug], tag_from_row)
    .optional()?)
}

pub fn author_by_slug(c: &Connection, slug: String) -> StoreResult<Option<Author>> {
    Ok(c.prepare_cached(
        "SELECT id, slug, name, bio, location, avatar FROM authors WHERE slug = ?1",
    )?
    .query_row([slug], author_from_row)
    .optional()?)
}

pub fn sections(c: &Connection) -> StoreResult<Vec<Tag>> {
    Ok(c.prepare_cached(
        "SELECT id, slug, name, description, is_section FROM tags WHERE is_section = 1
             ORDER BY position, name",
    )?
    .query_map([], tag_from_row)?
    .collect::<Result<_, _>>()?)
}

pub fn site_settings(c: &Connection) -> StoreResult<SiteSettings> {
    let mut s = SiteSettings::default();
    let mut stmt = c.prepare_cached("SELECT key, value FROM settings")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    for row in rows {
        let (k, v) = row?;
        match k.as_str() {
            "title" => s.title = v,
            "description" => s.description = v,
            "accent" => s.accent = v,
            "timezone" => s.timezone = v,
            "locale" => s.locale = v,
            "logo" => s.logo = (!v.is_empty()).then_some(v),
            "feed_content" => s.feed_content = FeedContent::parse(&v).unwrap_or_default(),
            "api_max_limit" => {
                // Unreadable values keep the default; others are held to the ceiling.
                if let Ok(n) = v.trim().parse::<u32>() {
                    s.api_max_limit = n.clamp(1, API_MAX_LIMIT_CEILING);
                }
            }
            "meter_free_stories" => {
                // Unreadable values keep the meter off; others are held to the ceiling.
                if let Ok(n) = v.trim().parse::<u32>() {
                    s.meter_free_stories = n.min(masthead_domain::meter::MAX_FREE_STORIES);
                }
            }
            "logo_size" => {
                if let Some((w, h)) = v.split_once('x') {
                    s.logo_width = w.parse().ok();
                    s.logo_height = h.parse().ok();
                }
            }
            _ => {}
        }
    }
    Ok(s)
}

pub fn active_campaign(c: &Connection) -> StoreResult<Option<Campaign>> {
    Ok(c.prepare_cached(
        "SELECT id, pitch, goal, metric, starts_at, deadline FROM campaigns
             WHERE active = 1 ORDER BY id DESC LIMIT 1",
    )?
    .query_row([], |r| {
        Ok(Campaign {
            id: r.get(0)?,
            pitch: r.get(1)?,
            goal: r.get::<_, i64>(2)?.max(0) as u64,
            metric: r.get(3)?,
            starts_ms: r.get(4)?,
            deadline_ms: r.get(5)?,
        })
    })
    .optional()?)
}

pub fn member_count(c: &Connection, metric: String) -> StoreResult<u64> {
    let sql = match metric.as_str() {
        "paid" => "SELECT COUNT(*) FROM members WHERE status IN ('paid', 'comped')",
        "members" => "SELECT COUNT(*) FROM members",
        other => {
            return Err(StoreError::Invalid(format!(
                "unknown campaign metric {other:?}"
            )));
        }
    };
    Ok(c.prepare_cached(sql)?
        .query_row([], |r| r.get::<_, i64>(0))?
        .max(0) as u64)
}

pub fn changes_since(c: &Connection, after_id: i64, limit: u32) -> StoreResult<Vec<Change>> {
    Ok(c.prepare_cached(
        "SELECT id, at, topic, post_id, ref_id FROM change_log WHERE id > ?1 ORDER BY id LIMIT ?2",
    )?
    .query_map(params![after_id, limit], |r| {
        let topic: String = r.get(2)?;
        Ok(Change {
            id: r.get(0)?,
            at_ms: r.get(1)?,
            topic: ChangeTopic::parse(&topic),
            post_id: r.get(3)?,
            ref_id: r.get(4)?,
        })
    })?
    .collect::<Result<_, _>>()?)
}

pub fn latest_change_id(c: &Connection) -> StoreResult<i64> {
    Ok(
        c.prepare_cached("SELECT COALESCE(MAX(id), 0) FROM change_log")?
            .query_row([], |r| r.get(0))?,
    )
}

pub fn post_count(c: &Connection) -> StoreResult<u64> {
    Ok(c.prepare_cached("SELECT COUNT(*) FROM posts")?
        .query_row([], |r| r.get::<_, i64>(0))?
        .max(0) as u64)
}

/// Whether `post_id` is a published live post.
pub fn is_published_live(c: &Connection, post_id: i64) -> StoreResult<bool> {
    Ok(c.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM posts WHERE id = ?1 AND kind = 'live' AND status = 'published')",
    )?
    .query_row([post_id], |r| r.get(0))?)
}

/// One raw settings value.
pub fn setting(c: &Connection, key: &str) -> StoreResult<Option<String>> {
    Ok(
        c.prepare_cached("SELECT value FROM settings WHERE key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?,
    )
}

/// The cheapest query that proves the database answers.
/// The newest migration applied to the file.
pub fn schema_version(c: &Connection) -> StoreResult<i64> {
    Ok(c.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )?)
}

pub fn ping(c: &Connection) -> StoreResult<()> {
    c.query_row("SELECT 1", [], |_| Ok(()))?;
    Ok(())
}

/// `EXPLAIN QUERY PLAN` of a listing, one plan line per row.
#[cfg(test)]
pub fn feed_plan(
    store: &super::SqliteStore,
    scope: FeedScope,
    cursor: FeedCursor,
) -> StoreResult<String> {
    let (sql, key) = feed_sql(scope);
    let mut args = vec![
        Value::Integer(cursor.published_ms),
        Value::Integer(cursor.id),
        Value::Integer(21),
    ];
    args.extend(key);
    store.read(|c| {
        let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
        let lines = stmt
            .query_map(params_from_iter(args), |r| r.get::<_, String>(3))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(lines.join("\n"))
    })
}

/// Which listings show a post (for precise cache invalidation).
pub fn post_refs(c: &Connection, post_id: i64) -> StoreResult<Option<PostRefs>> {
    let Some((kind, primary_tag_id)) = c
        .prepare_cached("SELECT kind, primary_tag_id FROM posts WHERE id = ?1")?
        .query_row([post_id], |r| {
            Ok((kind_at(r, 0)?, r.get::<_, Option<i64>>(1)?))
        })
        .optional()?
    else {
        return Ok(None);
    };
    let tag_ids = c
        .prepare_cached("SELECT tag_id FROM post_tags WHERE post_id = ?1")?
        .query_map([post_id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let author_ids = c
        .prepare_cached("SELECT author_id FROM post_authors WHERE post_id = ?1")?
        .query_map([post_id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(Some(PostRefs {
        kind,
        primary_tag_id,
        tag_ids,
        author_ids,
    }))
}

#[cfg(test)]
mod feed_and_sitemap_tests {
    use super::*;
    use crate::sqlite::tests::TempDb;

    const HOUR: i64 = 3_600_000;

    fn new_post(slug: &str, kind: PostKind, status: PostStatus, published_ms: i64) -> NewPost {
        NewPost {
            kind,
            slug: slug.to_owned(),
            title: format!("Title {slug}"),
            dek: String::new(),
            body_source: "Body".into(),
            body_html: "<p>Body</p>".into(),
            word_count: 1,
            reading_minutes: 1,
            status,
            visibility: Visibility::Public,
            image: None,
            video: None,
            published_ms: (status == PostStatus::Published).then_some(published_ms),
            updated_ms: published_ms,
            tag_ids: Vec::new(),
            author_ids: Vec::new(),
        }
    }

    #[test]
    fn feeds_sitemap_parts_and_news_read_what_readers_see() {
        let db = TempDb::new("sitemaps");
        let now = 1_000 * 24 * HOUR;
        use PostKind::{Article, Page};
        use PostStatus::{Draft, Published};
        // Ids 1..=8, in parts of two ids: (0,2] (2,4] (4,6] (6,8].
        let rows = [
            ("one", Article, Published, now - HOUR),
            ("about", Page, Published, now - 100 * HOUR),
            ("draft-a", Article, Draft, now),
            ("old", Article, Published, now - 72 * HOUR),
            ("draft-b", Article, Draft, now),
            ("draft-c", Article, Draft, now),
            ("edge", Article, Published, now - 47 * HOUR),
            ("newest", Article, Published, now - 2 * HOUR),
        ];
        let tag = db
            .store
            .write(|w| {
                let tag = w.insert_tag(&NewTag {
                    slug: "city".into(),
                    name: "City".into(),
                    description: String::new(),
                    is_section: false,
                    position: 0,
                })?;
                for (slug, kind, status, at) in rows {
                    let mut p = new_post(slug, kind, status, at);
                    p.tag_ids = vec![tag];
                    w.insert_post(&p)?;
                }
                Ok(tag)
            })
            .expect("seed");
        db.store
            .read(|c| {
                assert_eq!(sitemap_parts(c, 2)?, [1, 2, 4], "part 3 holds only drafts");
                let slugs =
                    |v: Vec<SitemapEntry>| v.into_iter().map(|e| e.slug).collect::<Vec<_>>();
                assert_eq!(slugs(sitemap_posts(c, 1, 2)?), ["one"], "no pages");
                assert_eq!(slugs(sitemap_posts(c, 4, 2)?), ["edge", "newest"]);
                assert!(sitemap_posts(c, 3, 2)?.is_empty());
                // Parts beyond i64 are empty, not an overflow.
                assert!(sitemap_posts(c, u32::MAX, u32::MAX)?.is_empty());
                assert!(sitemap_posts(c, u32::MAX, 2)?.is_empty());
                assert_eq!(slugs(sitemap_pages(c, 10)?), ["about"]);
                let news: Vec<String> = news_posts(c, now - 48 * HOUR, 10)?
                    .into_iter()
                    .map(|n| n.slug)
                    .collect();
                assert_eq!(news, ["one", "newest", "edge"], "last 48 h, newest first");
                let tags = sitemap_tags(c, 10)?;
                assert_eq!(tags.len(), 1);
                assert_eq!(tags[0].updated_ms, now - HOUR);
                for scope in [FeedScope::All, FeedScope::Tag(tag)] {
                    let posts = feed_posts(c, scope, 50)?;
                    let slugs: Vec<&str> = posts.iter().map(|p| p.slug.as_str()).collect();
                    assert_eq!(slugs, ["one", "newest", "edge", "old"], "{scope:?}");
                    assert_eq!(posts[0].tags.len(), 1);
                    assert_eq!(posts[0].body_html, "<p>Body</p>");
                }
                assert_eq!(feed_posts(c, FeedScope::All, 2)?.len(), 2);
                Ok(())
            })
            .expect("read");
    }
}
