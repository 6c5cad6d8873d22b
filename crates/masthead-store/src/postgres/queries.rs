//! Read queries: the PostgreSQL mirror of `sqlite/queries.rs`, function for
//! function, with the same SQL in this dialect. Every listing is a keyset
//! scan on a partial index (the same indexes as SQLite's).

use deadpool_postgres::GenericClient;
use masthead_domain::{FeedCursor, PostKind, PostStatus, Visibility};
use tokio_postgres::Row;

use super::sql::{Params, count_at, map, opt_u32_at, row_one, row_opt, rows, u32_at};
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

fn bad_value(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Other(format!("{what}: {e}"))
}

fn kind_at(row: &Row, i: usize) -> StoreResult<PostKind> {
    let s: String = row.try_get(i)?;
    PostKind::parse(&s).map_err(|e| bad_value("kind", e))
}

fn visibility_at(row: &Row, i: usize) -> StoreResult<Visibility> {
    let s: String = row.try_get(i)?;
    Visibility::parse(&s).map_err(|e| bad_value("visibility", e))
}

/// The feature image whose columns start at `i`, with its two `srcset`s at `srcsets`.
fn image_at(row: &Row, i: usize, srcsets: usize) -> StoreResult<Option<Image>> {
    let src: Option<String> = row.try_get(i)?;
    Ok(match src {
        Some(src) => Some(Image {
            src,
            alt: row.try_get(i + 1)?,
            caption: row.try_get(i + 2)?,
            photographer: row.try_get(i + 3)?,
            agency: row.try_get(i + 4)?,
            width: opt_u32_at(row, i + 5)?,
            height: opt_u32_at(row, i + 6)?,
            srcset: row.try_get(srcsets)?,
            webp_srcset: row.try_get(srcsets + 1)?,
        }),
        None => None,
    })
}

pub(super) fn card_from_row(row: &Row) -> StoreResult<PostCard> {
    let tag_id: Option<i64> = row.try_get(9)?;
    let primary_tag = match tag_id {
        Some(id) => Some(TagRef {
            id,
            slug: row.try_get(10)?,
            name: row.try_get(11)?,
        }),
        None => None,
    };
    Ok(PostCard {
        id: row.try_get(0)?,
        kind: kind_at(row, 1)?,
        slug: row.try_get(2)?,
        title: row.try_get(3)?,
        dek: row.try_get(4)?,
        visibility: visibility_at(row, 5)?,
        published_ms: row.try_get(6)?,
        updated_ms: row.try_get(7)?,
        reading_minutes: u32_at(row, 8)?,
        primary_tag,
        image: image_at(row, 12, 19)?,
    })
}

/// The scope parameter of a listing ($4), typed for its column.
enum ScopeKey {
    Id(i64),
    Text(&'static str),
}

pub async fn feed(
    c: &impl GenericClient,
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
    let (sql, key) = feed_sql(scope, limit + 1);
    let found = match &key {
        None => rows(c, &sql, &[&cursor.published_ms, &cursor.id]).await?,
        Some(ScopeKey::Id(id)) => rows(c, &sql, &[&cursor.published_ms, &cursor.id, id]).await?,
        Some(ScopeKey::Text(s)) => rows(c, &sql, &[&cursor.published_ms, &cursor.id, s]).await?,
    };
    let mut cards = map(&found, card_from_row)?;
    let next = if cards.len() > limit as usize {
        cards.truncate(limit as usize);
        cards.last().map(PostCard::cursor)
    } else {
        None
    };
    Ok(FeedPage { cards, next })
}

/// The statement for a listing of at most `fetch` cards, and its scope
/// parameter (bound as $3).
///
/// Each connection plans these statements once. PostgreSQL plans a
/// prepared statement for its values five times, then keeps the generic
/// plan if that costs no more; on a listing it never did, and every page
/// was planned afresh (0.2 to 0.5 ms of planning for 0.05 ms of work, most
/// of the database's time on a listing page). Two things made the generic
/// plan look dearer: a bound `LIMIT $n` (guessed as a tenth of the table),
/// so the row count is written into the text instead (a site uses a
/// handful: its page size, "Read next"); and the values' statistics (a
/// byline with three times the average stories), so the values reach the
/// statement through one-row subqueries, which the planner cannot see
/// into: a plan for this call's values then costs exactly what the generic
/// one does, and the generic one is kept whatever the data (checked by the
/// conformance test `listings_and_the_scheduler_use_their_indexes`).
fn feed_sql(scope: FeedScope, fetch: u32) -> (String, Option<ScopeKey>) {
    let (sql, key) = match scope {
        FeedScope::All => (
            concat!(
                "SELECT ",
                card_columns!(),
                " FROM posts p LEFT JOIN tags t ON t.id = p.primary_tag_id
                 WHERE p.status = 'published' AND p.kind <> 'page'
                   AND (p.published_at, p.id) < ((SELECT $1::int8), (SELECT $2::int8))
                 ORDER BY p.published_at DESC, p.id DESC"
            ),
            None,
        ),
        FeedScope::Section(tag) => (
            concat!(
                "SELECT ",
                card_columns!(),
                " FROM posts p LEFT JOIN tags t ON t.id = p.primary_tag_id
                 WHERE p.status = 'published' AND p.kind <> 'page' AND p.primary_tag_id = (SELECT $3::int8)
                   AND (p.published_at, p.id) < ((SELECT $1::int8), (SELECT $2::int8))
                 ORDER BY p.published_at DESC, p.id DESC"
            ),
            Some(ScopeKey::Id(tag)),
        ),
        FeedScope::Kind(kind) => (
            concat!(
                "SELECT ",
                card_columns!(),
                " FROM posts p LEFT JOIN tags t ON t.id = p.primary_tag_id
                 WHERE p.status = 'published' AND p.kind = (SELECT $3::text)
                   AND (p.published_at, p.id) < ((SELECT $1::int8), (SELECT $2::int8))
                 ORDER BY p.published_at DESC, p.id DESC"
            ),
            Some(ScopeKey::Text(kind.as_str())),
        ),
        FeedScope::Tag(tag) => (
            concat!(
                "SELECT ",
                card_columns!(),
                " FROM post_tags pt
                   JOIN posts p ON p.id = pt.post_id
                   LEFT JOIN tags t ON t.id = p.primary_tag_id
                 WHERE pt.tag_id = (SELECT $3::int8) AND pt.published_at IS NOT NULL
                   AND (pt.published_at, pt.post_id) < ((SELECT $1::int8), (SELECT $2::int8))
                 ORDER BY pt.published_at DESC, pt.post_id DESC"
            ),
            Some(ScopeKey::Id(tag)),
        ),
        FeedScope::Author(author) => (
            concat!(
                "SELECT ",
                card_columns!(),
                " FROM post_authors pa
                   JOIN posts p ON p.id = pa.post_id
                   LEFT JOIN tags t ON t.id = p.primary_tag_id
                 WHERE pa.author_id = (SELECT $3::int8) AND pa.published_at IS NOT NULL
                   AND (pa.published_at, pa.post_id) < ((SELECT $1::int8), (SELECT $2::int8))
                 ORDER BY pa.published_at DESC, pa.post_id DESC"
            ),
            Some(ScopeKey::Id(author)),
        ),
    };
    (format!("{sql} LIMIT {fetch}"), key)
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

fn post_from_row(row: &Row) -> StoreResult<Post> {
    let status: String = row.try_get(2)?;
    let video_src: Option<String> = row.try_get(17)?;
    let video_embed: Option<String> = row.try_get(18)?;
    let video = if video_src.is_some() || video_embed.is_some() {
        Some(Video {
            src: video_src,
            embed: video_embed,
            duration_s: opt_u32_at(row, 19)?,
        })
    } else {
        None
    };
    Ok(Post {
        id: row.try_get(0)?,
        uuid: row.try_get(29)?,
        kind: kind_at(row, 1)?,
        status: PostStatus::parse(&status).map_err(|e| bad_value("status", e))?,
        visibility: visibility_at(row, 3)?,
        slug: row.try_get(4)?,
        title: row.try_get(5)?,
        dek: row.try_get(6)?,
        body_html: row.try_get(7)?,
        word_count: u32_at(row, 8)?,
        reading_minutes: u32_at(row, 9)?,
        image: image_at(row, 10, 27)?,
        video,
        language: row.try_get(20)?,
        canonical_url: row.try_get(21)?,
        meta_title: row.try_get(22)?,
        meta_description: row.try_get(23)?,
        created_ms: row.try_get(24)?,
        updated_ms: row.try_get(25)?,
        published_ms: row.try_get(26)?,
        tags: Vec::new(),
        authors: Vec::new(),
        notes: Vec::new(),
        tiers: Vec::new(),
    })
}

/// A post's tags and bylines, in order, as columns after [`post_columns`]
/// (30 to 38: tag ids, slugs, names; byline ids, slugs, names, bios,
/// locations, avatars), read in the same statement as the post.
macro_rules! tags_and_bylines {
    () => {
        ", tg.ids, tg.slugs, tg.names, au.ids, au.slugs, au.names, au.bios, au.locations, au.avatars"
    };
}

/// `FROM posts p` with the joins [`tags_and_bylines`] reads.
macro_rules! posts_with_tags_and_bylines {
    () => {
        " FROM posts p
         CROSS JOIN LATERAL (
             SELECT array_agg(t.id ORDER BY pt.position) AS ids,
                    array_agg(t.slug ORDER BY pt.position) AS slugs,
                    array_agg(t.name ORDER BY pt.position) AS names
               FROM post_tags pt JOIN tags t ON t.id = pt.tag_id WHERE pt.post_id = p.id) tg
         CROSS JOIN LATERAL (
             SELECT array_agg(a.id ORDER BY pa.position) AS ids,
                    array_agg(a.slug ORDER BY pa.position) AS slugs,
                    array_agg(a.name ORDER BY pa.position) AS names,
                    array_agg(a.bio ORDER BY pa.position) AS bios,
                    array_agg(a.location ORDER BY pa.position) AS locations,
                    array_agg(a.avatar ORDER BY pa.position) AS avatars
               FROM post_authors pa JOIN authors a ON a.id = pa.author_id WHERE pa.post_id = p.id) au"
    };
}

/// An array column that is NULL when its aggregate saw no rows.
fn array_at<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a Row,
    i: usize,
) -> StoreResult<Vec<T>> {
    Ok(row.try_get::<_, Option<Vec<T>>>(i)?.unwrap_or_default())
}

/// A post read with [`tags_and_bylines`].
fn full_post_from_row(row: &Row) -> StoreResult<Post> {
    let mut post = post_from_row(row)?;
    let ids: Vec<i64> = array_at(row, 30)?;
    let slugs: Vec<String> = array_at(row, 31)?;
    let names: Vec<String> = array_at(row, 32)?;
    post.tags = ids
        .into_iter()
        .zip(slugs)
        .zip(names)
        .map(|((id, slug), name)| TagRef { id, slug, name })
        .collect();
    let ids: Vec<i64> = array_at(row, 33)?;
    let slugs: Vec<String> = array_at(row, 34)?;
    let names: Vec<String> = array_at(row, 35)?;
    let bios: Vec<String> = array_at(row, 36)?;
    let locations: Vec<String> = array_at(row, 37)?;
    let avatars: Vec<Option<String>> = array_at(row, 38)?;
    post.authors = ids
        .into_iter()
        .zip(slugs)
        .zip(names)
        .zip(bios)
        .zip(locations)
        .zip(avatars)
        .map(|(((((id, slug), name), bio), location), avatar)| Author {
            id,
            slug,
            name,
            bio,
            location,
            avatar,
        })
        .collect();
    Ok(post)
}

/// A published post by slug, with its tags, bylines and notes: one
/// statement (the page's one round trip for the story itself).
pub async fn published_post_by_slug(
    c: &impl GenericClient,
    slug: String,
) -> StoreResult<Option<Post>> {
    let Some(row) = row_opt(
        c,
        concat!(
            "SELECT ",
            post_columns!(),
            tags_and_bylines!(),
            ", nt.kinds, nt.ats, nt.notes",
            posts_with_tags_and_bylines!(),
            "
             CROSS JOIN LATERAL (
                 SELECT array_agg(n.kind ORDER BY n.noted_at, n.id) AS kinds,
                        array_agg(n.noted_at ORDER BY n.noted_at, n.id) AS ats,
                        array_agg(n.note ORDER BY n.noted_at, n.id) AS notes
                   FROM post_notes n WHERE n.post_id = p.id) nt
             WHERE p.slug = $1 AND p.status = 'published'"
        ),
        &[&slug],
    )
    .await?
    else {
        return Ok(None);
    };
    let mut post = full_post_from_row(&row)?;
    let kinds: Vec<String> = array_at(&row, 39)?;
    let ats: Vec<i64> = array_at(&row, 40)?;
    let notes: Vec<String> = array_at(&row, 41)?;
    post.notes = kinds
        .into_iter()
        .zip(ats)
        .zip(notes)
        .map(|((kind, noted_ms), note)| PostNote {
            kind,
            noted_ms,
            note,
        })
        .collect();
    if post.visibility == Visibility::Tiers {
        post.tiers = super::tiers::post_tier_refs(c, post.id).await?;
    }
    Ok(Some(post))
}

/// The newest `limit` posts of a listing in full (body, tags, bylines; no
/// notes), newest first: what RSS, Atom and JSON feeds print. Two
/// statements whatever the count: the listing, then its posts.
pub async fn feed_posts(
    c: &impl GenericClient,
    scope: FeedScope,
    limit: u32,
) -> StoreResult<Vec<Post>> {
    let page = feed(c, scope, None, limit).await?;
    let ids: Vec<i64> = page.cards.iter().map(|card| card.id).collect();
    let found = rows(
        c,
        concat!(
            "SELECT ",
            post_columns!(),
            tags_and_bylines!(),
            posts_with_tags_and_bylines!(),
            " WHERE p.id = ANY($1) AND p.status = 'published'"
        ),
        &[&ids],
    )
    .await?;
    let mut by_id: std::collections::HashMap<i64, Post> = found
        .iter()
        .map(|row| full_post_from_row(row).map(|post| (post.id, post)))
        .collect::<StoreResult<_>>()?;
    // In the listing's order; a post unpublished in between is left out.
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}

/// The numbers (from 1) of the posts sitemap's parts that list at least one
/// published post (see the SQLite twin).
pub async fn sitemap_parts(c: &impl GenericClient, size: u32) -> StoreResult<Vec<u32>> {
    let size = i64::from(size.max(1));
    // One statement: a probe of the primary key per part.
    let found = rows(
        c,
        "SELECT n FROM generate_series(1::int8, (SELECT (COALESCE(MAX(id), 0) + $1 - 1) / $1 FROM posts)) n
          WHERE EXISTS (SELECT 1 FROM posts WHERE id > (n - 1) * $1 AND id <= n * $1
                           AND status = 'published' AND kind <> 'page')
          ORDER BY n",
        &[&size],
    )
    .await?;
    map(&found, |r| {
        let number: i64 = r.try_get(0)?;
        Ok(u32::try_from(number).unwrap_or(u32::MAX))
    })
}

/// Part `number` (from 1) of the posts sitemap: published posts (not pages)
/// with ids in `((number - 1) * size, number * size]`, a primary-key range.
pub async fn sitemap_posts(
    c: &impl GenericClient,
    number: u32,
    size: u32,
) -> StoreResult<Vec<SitemapEntry>> {
    let size = i64::from(size.max(1));
    // u32 × u32 can exceed i64: a part that far out is simply empty.
    let Some(low) = (i64::from(number.max(1)) - 1).checked_mul(size) else {
        return Ok(Vec::new());
    };
    let high = low.saturating_add(size);
    let found = rows(
        c,
        "SELECT slug, updated_at FROM posts
         WHERE id > $1 AND id <= $2 AND status = 'published' AND kind <> 'page'
         ORDER BY id",
        &[&low, &high],
    )
    .await?;
    map(&found, sitemap_entry_from_row)
}

fn sitemap_entry_from_row(r: &Row) -> StoreResult<SitemapEntry> {
    Ok(SitemapEntry {
        slug: r.try_get(0)?,
        updated_ms: r.try_get(1)?,
    })
}

/// Published standalone pages (About, policies), at most `limit`.
pub async fn sitemap_pages(c: &impl GenericClient, limit: u32) -> StoreResult<Vec<SitemapEntry>> {
    let found = rows(
        c,
        "SELECT slug, updated_at FROM posts
         WHERE status = 'published' AND kind = 'page' ORDER BY id LIMIT $1",
        &[&i64::from(limit)],
    )
    .await?;
    map(&found, sitemap_entry_from_row)
}

/// Tags with at least one published post, at most `limit`, with the
/// publication time of their newest (read from the tag listing's index).
pub async fn sitemap_tags(c: &impl GenericClient, limit: u32) -> StoreResult<Vec<SitemapTag>> {
    let found = rows(
        c,
        "SELECT slug, is_section, last FROM (
             SELECT t.id, t.slug, t.is_section,
                    (SELECT MAX(pt.published_at) FROM post_tags pt
                      WHERE pt.tag_id = t.id AND pt.published_at IS NOT NULL) AS last
             FROM tags t) AS x
         WHERE last IS NOT NULL ORDER BY id LIMIT $1",
        &[&i64::from(limit)],
    )
    .await?;
    map(&found, |r| {
        Ok(SitemapTag {
            slug: r.try_get(0)?,
            is_section: r.try_get(1)?,
            updated_ms: r.try_get(2)?,
        })
    })
}

/// Bylines with at least one published post, at most `limit`, with the
/// publication time of their newest.
pub async fn sitemap_authors(c: &impl GenericClient, limit: u32) -> StoreResult<Vec<SitemapEntry>> {
    let found = rows(
        c,
        "SELECT slug, last FROM (
             SELECT a.id, a.slug,
                    (SELECT MAX(pa.published_at) FROM post_authors pa
                      WHERE pa.author_id = a.id AND pa.published_at IS NOT NULL) AS last
             FROM authors a) AS x
         WHERE last IS NOT NULL ORDER BY id LIMIT $1",
        &[&i64::from(limit)],
    )
    .await?;
    map(&found, sitemap_entry_from_row)
}

/// Posts (not pages) published at or after `since_ms`, newest first, at most
/// `limit`: the Google News sitemap. Reads the News Feed's index.
pub async fn news_posts(
    c: &impl GenericClient,
    since_ms: i64,
    limit: u32,
) -> StoreResult<Vec<NewsEntry>> {
    let found = rows(
        c,
        "SELECT slug, title, published_at FROM posts
         WHERE status = 'published' AND kind <> 'page' AND published_at >= $1
         ORDER BY published_at DESC, id DESC LIMIT $2",
        &[&since_ms, &i64::from(limit)],
    )
    .await?;
    map(&found, |r| {
        Ok(NewsEntry {
            slug: r.try_get(0)?,
            title: r.try_get(1)?,
            published_ms: r.try_get(2)?,
        })
    })
}

pub async fn published_post_id_by_slug(
    c: &impl GenericClient,
    slug: String,
    kind: Option<PostKind>,
) -> StoreResult<Option<i64>> {
    let kind = kind.map(PostKind::as_str);
    Ok(row_opt(
        c,
        "SELECT id FROM posts WHERE slug = $1 AND status = 'published' AND ($2::text IS NULL OR kind = $2)",
        &[&slug, &kind],
    )
    .await?
    .map(|r| r.try_get(0))
    .transpose()?)
}

pub(crate) fn author_from_row(r: &Row) -> StoreResult<Author> {
    super::taxonomy::author_at(r, 0)
}

fn tag_from_row(r: &Row) -> StoreResult<Tag> {
    Ok(Tag {
        id: r.try_get(0)?,
        slug: r.try_get(1)?,
        name: r.try_get(2)?,
        description: r.try_get(3)?,
        is_section: r.try_get(4)?,
    })
}

pub async fn read_next(
    c: &impl GenericClient,
    post_id: i64,
    primary_tag_id: Option<i64>,
    limit: u32,
) -> StoreResult<Vec<PostCard>> {
    let limit = limit.clamp(1, 20) as usize;
    let mut out: Vec<PostCard> = Vec::with_capacity(limit);
    if let Some(tag) = primary_tag_id {
        let page = feed(c, FeedScope::Tag(tag), None, limit as u32 + 1).await?;
        out.extend(
            page.cards
                .into_iter()
                .filter(|p| p.id != post_id)
                .take(limit),
        );
    }
    if out.len() < limit {
        let page = feed(c, FeedScope::All, None, (limit * 2 + 1) as u32).await?;
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

fn live_entry_from_row(r: &Row) -> StoreResult<LiveEntry> {
    Ok(LiveEntry {
        id: r.try_get(0)?,
        post_id: r.try_get(1)?,
        title: r.try_get(2)?,
        body_html: r.try_get(3)?,
        pinned: r.try_get(4)?,
        created_ms: r.try_get(5)?,
        updated_ms: r.try_get(6)?,
        body_source: r.try_get(7)?,
    })
}

pub async fn live_entries(c: &impl GenericClient, post_id: i64) -> StoreResult<Vec<LiveEntry>> {
    let found = rows(
        c,
        "SELECT id, post_id, title, body_html, pinned, created_at, updated_at, body_source FROM live_entries
             WHERE post_id = $1 ORDER BY created_at DESC, id DESC",
        &[&post_id],
    )
    .await?;
    map(&found, live_entry_from_row)
}

/// A live page's worth of entries: every pinned one (first page only), and
/// up to `limit` others older than `before` (keyset on time and id), plus how
/// many entries the post has in all.
pub async fn live_page(
    c: &impl GenericClient,
    post_id: i64,
    before: Option<FeedCursor>,
    limit: u32,
) -> StoreResult<LivePage> {
    let (ms, id) = before.map_or((i64::MAX, i64::MAX), |b| (b.published_ms, b.id));
    let first_page = before.is_none();
    let fetch = i64::from(limit) + 1;
    let by_post: Params<'_> = &[&post_id];
    let older_than: Params<'_> = &[&post_id, &ms, &id, &fetch];
    // Three statements sent together, one round trip (tokio-postgres
    // pipelines the requests polled at once on one connection).
    let (pinned, found, total) = tokio::join!(
        async {
            if !first_page {
                return Ok(Vec::new());
            }
            rows(
                c,
                "SELECT id, post_id, title, body_html, pinned, created_at, updated_at, body_source FROM live_entries
                     WHERE post_id = $1 AND pinned ORDER BY created_at DESC, id DESC",
                by_post,
            )
            .await
        },
        rows(
            c,
            "SELECT id, post_id, title, body_html, pinned, created_at, updated_at, body_source FROM live_entries
                 WHERE post_id = $1 AND NOT pinned AND (created_at, id) < ($2, $3)
                 ORDER BY created_at DESC, id DESC LIMIT $4",
            older_than,
        ),
        row_one(
            c,
            "SELECT COUNT(*) FROM live_entries WHERE post_id = $1",
            by_post,
        ),
    );
    let pinned = map(&pinned?, live_entry_from_row)?;
    let mut entries = map(&found?, live_entry_from_row)?;
    let older = if entries.len() > limit as usize {
        entries.truncate(limit as usize);
        entries.last().map(|e| FeedCursor {
            published_ms: e.created_ms,
            id: e.id,
        })
    } else {
        None
    };
    let total = count_at(&total?, 0)?;
    Ok(LivePage {
        pinned,
        entries,
        older,
        total,
    })
}

pub async fn live_entry(c: &impl GenericClient, entry_id: i64) -> StoreResult<Option<LiveEntry>> {
    row_opt(
        c,
        "SELECT id, post_id, title, body_html, pinned, created_at, updated_at, body_source FROM live_entries
             WHERE id = $1",
        &[&entry_id],
    )
    .await?
    .as_ref()
    .map(live_entry_from_row)
    .transpose()
}

pub async fn tag_by_slug(c: &impl GenericClient, slug: String) -> StoreResult<Option<Tag>> {
    row_opt(
        c,
        "SELECT id, slug, name, description, is_section FROM tags WHERE slug = $1",
        &[&slug],
    )
    .await?
    .as_ref()
    .map(tag_from_row)
    .transpose()
}

pub async fn author_by_slug(c: &impl GenericClient, slug: String) -> StoreResult<Option<Author>> {
    row_opt(
        c,
        "SELECT id, slug, name, bio, location, avatar FROM authors WHERE slug = $1",
        &[&slug],
    )
    .await?
    .as_ref()
    .map(author_from_row)
    .transpose()
}

pub async fn sections(c: &impl GenericClient) -> StoreResult<Vec<Tag>> {
    let found = rows(
        c,
        "SELECT id, slug, name, description, is_section FROM tags WHERE is_section
             ORDER BY position, name",
        &[],
    )
    .await?;
    map(&found, tag_from_row)
}

pub async fn site_settings(c: &impl GenericClient) -> StoreResult<SiteSettings> {
    let mut s = SiteSettings::default();
    for row in rows(c, "SELECT key, value FROM settings", &[]).await? {
        let k: String = row.try_get(0)?;
        let v: String = row.try_get(1)?;
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

pub async fn active_campaign(c: &impl GenericClient) -> StoreResult<Option<Campaign>> {
    row_opt(
        c,
        "SELECT id, pitch, goal, metric, starts_at, deadline FROM campaigns
             WHERE active ORDER BY id DESC LIMIT 1",
        &[],
    )
    .await?
    .map(|r| {
        Ok(Campaign {
            id: r.try_get(0)?,
            pitch: r.try_get(1)?,
            goal: count_at(&r, 2)?,
            metric: r.try_get(3)?,
            starts_ms: r.try_get(4)?,
            deadline_ms: r.try_get(5)?,
        })
    })
    .transpose()
}

pub async fn member_count(c: &impl GenericClient, metric: String) -> StoreResult<u64> {
    let sql = match metric.as_str() {
        "paid" => "SELECT COUNT(*) FROM members WHERE status IN ('paid', 'comped')",
        "members" => "SELECT COUNT(*) FROM members",
        other => {
            return Err(StoreError::Invalid(format!(
                "unknown campaign metric {other:?}"
            )));
        }
    };
    count_at(&row_one(c, sql, &[]).await?, 0)
}

pub async fn post_count(c: &impl GenericClient) -> StoreResult<u64> {
    count_at(&row_one(c, "SELECT COUNT(*) FROM posts", &[]).await?, 0)
}

/// `EXPLAIN` of a listing's plan as a connection keeps it (the generic
/// plan: see [`feed_sql`]), one plan line per row. Unlike the SQLite twin
/// (which takes the store), this takes a connection.
pub async fn feed_plan(
    c: &impl GenericClient,
    scope: FeedScope,
    cursor: FeedCursor,
) -> StoreResult<String> {
    let (sql, key) = feed_sql(scope, 21);
    let mut args = format!("{}, {}", cursor.published_ms, cursor.id);
    match key {
        None => {}
        Some(ScopeKey::Id(v)) => args.push_str(&format!(", {v}")),
        Some(ScopeKey::Text(v)) => args.push_str(&format!(", '{v}'")),
    }
    c.batch_execute(&format!(
        "PREPARE masthead_feed_plan AS {sql}; SET plan_cache_mode = force_generic_plan"
    ))
    .await?;
    let found = c
        .query(
            format!("EXPLAIN EXECUTE masthead_feed_plan({args})").as_str(),
            &[],
        )
        .await;
    c.batch_execute("DEALLOCATE masthead_feed_plan; RESET plan_cache_mode")
        .await?;
    let lines = map(&found?, |r| Ok(r.try_get::<_, String>(0)?))?;
    Ok(lines.join("\n"))
}

/// How often `scope`'s listing statement of `fetch` rows was planned for
/// its values and how often it ran on the plan kept for all values, on
/// this connection (`pg_prepared_statements`).
#[cfg(test)]
pub(crate) async fn feed_plan_counts(
    c: &impl GenericClient,
    scope: FeedScope,
    fetch: u32,
) -> StoreResult<(i64, i64)> {
    let (sql, _) = feed_sql(scope, fetch);
    let row = row_one(
        c,
        "SELECT COALESCE(SUM(custom_plans), 0)::int8, COALESCE(SUM(generic_plans), 0)::int8
           FROM pg_prepared_statements WHERE statement = $1",
        &[&sql],
    )
    .await?;
    Ok((row.try_get(0)?, row.try_get(1)?))
}

/// Which listings show a post (for precise cache invalidation).
pub async fn post_refs(c: &impl GenericClient, post_id: i64) -> StoreResult<Option<PostRefs>> {
    let Some(row) = row_opt(
        c,
        "SELECT kind, primary_tag_id FROM posts WHERE id = $1",
        &[&post_id],
    )
    .await?
    else {
        return Ok(None);
    };
    let kind = kind_at(&row, 0)?;
    let primary_tag_id: Option<i64> = row.try_get(1)?;
    let tag_ids = map(
        &rows(
            c,
            "SELECT tag_id FROM post_tags WHERE post_id = $1 ORDER BY tag_id",
            &[&post_id],
        )
        .await?,
        |r| Ok(r.try_get(0)?),
    )?;
    let author_ids = map(
        &rows(
            c,
            "SELECT author_id FROM post_authors WHERE post_id = $1 ORDER BY author_id",
            &[&post_id],
        )
        .await?,
        |r| Ok(r.try_get(0)?),
    )?;
    Ok(Some(PostRefs {
        kind,
        primary_tag_id,
        tag_ids,
        author_ids,
    }))
}

/// Whether `post_id` is a published live post.
pub async fn is_published_live(c: &impl GenericClient, post_id: i64) -> StoreResult<bool> {
    Ok(row_one(
        c,
        "SELECT EXISTS (SELECT 1 FROM posts WHERE id = $1 AND kind = 'live' AND status = 'published')",
        &[&post_id],
    )
    .await?
    .try_get(0)?)
}

/// One raw settings value.
pub async fn setting(c: &impl GenericClient, key: &str) -> StoreResult<Option<String>> {
    row_opt(c, "SELECT value FROM settings WHERE key = $1", &[&key])
        .await?
        .map(|r| r.try_get(0))
        .transpose()
        .map_err(Into::into)
}
