//! Sitemaps and `robots.txt`.
//!
//! `/sitemap.xml` is an index of `/sitemap-pages.xml` (home, Video, standalone
//! pages), `/sitemap-posts.xml`, `/sitemap-tags.xml` (tag and section pages),
//! `/sitemap-authors.xml` and the Google News sitemap `/sitemap-news.xml`
//! (stories of the last 48 hours, at most 1,000). Posts are listed in parts
//! of [`POSTS_PER_PART`] post ids: part 1 is `/sitemap-posts.xml`, part `n`
//! `/sitemap-posts-{n}.xml`. Parts are primary-key ranges, so each is one
//! index range scan however deep the archive, and a post never moves from
//! one part to another.

use axum::Router;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use masthead_domain::PostKind;
use masthead_render::views::absolute_url;
use masthead_store::{FeedScope, SitemapEntry};

use super::feeds::public_file;
use super::xml::{inline_element, rfc3339};
use crate::cache::CacheTags;
use crate::error::SiteError;
use crate::state::AppState;

/// Post ids per part of the posts sitemap. Google accepts 50,000 URLs per
/// file; 10,000 keeps a part near 1.5 MB, well inside the page cache's
/// per-page limit.
pub const POSTS_PER_PART: u32 = 10_000;
/// Most tags, bylines or pages listed.
const MAX_URLS: u32 = 50_000;
/// Google News lists stories of the last two days, at most 1,000.
const NEWS_WINDOW_MS: i64 = 48 * 3_600_000;
const NEWS_MAX: u32 = 1_000;

const XML: &str = "application/xml; charset=utf-8";
const URLSET_OPEN: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/sitemap.xml", get(index))
        .route("/sitemap-posts.xml", get(first_posts_part))
        .route("/sitemap-pages.xml", get(pages))
        .route("/sitemap-tags.xml", get(tags))
        .route("/sitemap-authors.xml", get(authors))
        .route("/sitemap-news.xml", get(news))
        .route("/robots.txt", get(robots))
        // The router cannot match `sitemap-posts-{n}.xml` inside one path
        // segment, so single-segment paths come here; all but numbered parts
        // go on to the site's fallback exactly as before (any method).
        .route("/{slug}", any(numbered_posts_part))
}

/// Sitemaps change with any post (`feed` is dropped on every post write) and
/// with the site's settings, tags and bylines (`site`).
fn tags_for_sitemaps() -> CacheTags {
    CacheTags::new(["feed".to_owned(), "site".to_owned()])
}

fn url(out: &mut String, loc: &str, lastmod_ms: Option<i64>) {
    out.push_str("<url>");
    inline_element(out, "loc", loc);
    if let Some(ms) = lastmod_ms {
        inline_element(out, "lastmod", &rfc3339(ms));
    }
    out.push_str("</url>\n");
}

fn part_path(number: u32) -> String {
    if number <= 1 {
        "/sitemap-posts.xml".to_owned()
    } else {
        format!("/sitemap-posts-{number}.xml")
    }
}

async fn index(State(state): State<AppState>) -> Result<Response, SiteError> {
    let base = state.public_url();
    let parts = state.store.sitemap_parts(POSTS_PER_PART).await?;
    let mut out = String::with_capacity(1024 + parts.len() * 128);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<sitemapindex xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n");
    // No <lastmod> here: a part's newest change would cost a scan of the
    // whole archive, and every URL inside carries its own.
    let mut sitemap = |path: &str| {
        out.push_str("<sitemap>");
        inline_element(&mut out, "loc", &absolute_url(base, path));
        out.push_str("</sitemap>\n");
    };
    sitemap("/sitemap-pages.xml");
    // Part 1 always, so its address never disappears; later parts when they list something.
    sitemap(&part_path(1));
    for number in parts.iter().filter(|n| **n > 1) {
        sitemap(&part_path(*number));
    }
    sitemap("/sitemap-tags.xml");
    sitemap("/sitemap-authors.xml");
    sitemap("/sitemap-news.xml");
    out.push_str("</sitemapindex>\n");
    Ok(public_file(out, XML, tags_for_sitemaps()))
}

async fn posts_part(state: &AppState, number: u32) -> Result<Response, SiteError> {
    let base = state.public_url();
    let entries = state.store.sitemap_posts(number, POSTS_PER_PART).await?;
    if entries.is_empty() && number > 1 {
        return Err(SiteError::NotFound);
    }
    let mut out = String::with_capacity(256 + entries.len() * 140);
    out.push_str(URLSET_OPEN);
    for SitemapEntry { slug, updated_ms } in &entries {
        url(
            &mut out,
            &absolute_url(base, &format!("/{slug}/")),
            Some(*updated_ms),
        );
    }
    out.push_str("</urlset>\n");
    Ok(public_file(out, XML, tags_for_sitemaps()))
}

async fn first_posts_part(State(state): State<AppState>) -> Result<Response, SiteError> {
    posts_part(&state, 1).await
}

/// The number in `sitemap-posts-{n}.xml`, written canonically (no sign, no
/// leading zero).
fn part_number(segment: &str) -> Option<u32> {
    let digits = segment
        .strip_prefix("sitemap-posts-")?
        .strip_suffix(".xml")?;
    if digits.is_empty() || digits.len() > 9 || digits.starts_with('0') {
        return None;
    }
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

async fn numbered_posts_part(State(state): State<AppState>, method: Method, uri: Uri) -> Response {
    let number = part_number(uri.path().trim_start_matches('/'))
        .filter(|_| method == Method::GET || method == Method::HEAD);
    match number {
        // One address per part.
        Some(1) => (
            StatusCode::MOVED_PERMANENTLY,
            [(header::LOCATION, part_path(1))],
        )
            .into_response(),
        Some(n) => posts_part(&state, n)
            .await
            .unwrap_or_else(IntoResponse::into_response),
        None => super::assets::fallback(method, uri).await,
    }
}

async fn pages(State(state): State<AppState>) -> Result<Response, SiteError> {
    let base = state.public_url();
    let newest = state
        .store
        .news_posts(0, 1)
        .await?
        .first()
        .map(|n| n.published_ms);
    let newest_video = state
        .store
        .feed(FeedScope::Kind(PostKind::Video), None, 1)
        .await?
        .cards
        .first()
        .map(|c| c.published_ms);
    let entries = state.store.sitemap_pages(MAX_URLS).await?;
    let mut out = String::with_capacity(512 + entries.len() * 140);
    out.push_str(URLSET_OPEN);
    url(&mut out, &absolute_url(base, "/"), newest);
    url(
        &mut out,
        &absolute_url(base, "/video/"),
        newest_video.or(newest),
    );
    for SitemapEntry { slug, updated_ms } in &entries {
        url(
            &mut out,
            &absolute_url(base, &format!("/{slug}/")),
            Some(*updated_ms),
        );
    }
    out.push_str("</urlset>\n");
    Ok(public_file(out, XML, tags_for_sitemaps()))
}

async fn tags(State(state): State<AppState>) -> Result<Response, SiteError> {
    let base = state.public_url();
    let tags = state.store.sitemap_tags(MAX_URLS).await?;
    let mut out = String::with_capacity(256 + tags.len() * 260);
    out.push_str(URLSET_OPEN);
    for t in &tags {
        url(
            &mut out,
            &absolute_url(base, &format!("/tag/{}/", t.slug)),
            Some(t.updated_ms),
        );
    }
    // Sections also have their own page (stories whose primary tag it is).
    for t in tags.iter().filter(|t| t.is_section) {
        url(
            &mut out,
            &absolute_url(base, &format!("/section/{}/", t.slug)),
            Some(t.updated_ms),
        );
    }
    out.push_str("</urlset>\n");
    Ok(public_file(out, XML, tags_for_sitemaps()))
}

async fn authors(State(state): State<AppState>) -> Result<Response, SiteError> {
    let base = state.public_url();
    let authors = state.store.sitemap_authors(MAX_URLS).await?;
    let mut out = String::with_capacity(256 + authors.len() * 140);
    out.push_str(URLSET_OPEN);
    for SitemapEntry { slug, updated_ms } in &authors {
        url(
            &mut out,
            &absolute_url(base, &format!("/author/{slug}/")),
            Some(*updated_ms),
        );
    }
    out.push_str("</urlset>\n");
    Ok(public_file(out, XML, tags_for_sitemaps()))
}

/// The language code Google News wants: ISO 639 (`en`), except Chinese,
/// which keeps its script region (`zh-cn`, `zh-tw`).
fn news_language(locale: &str) -> String {
    let lower = locale.trim().to_ascii_lowercase().replace('_', "-");
    match lower.split('-').next() {
        Some("zh") if lower.starts_with("zh-tw") || lower.starts_with("zh-hant") => {
            "zh-tw".to_owned()
        }
        Some("zh") => "zh-cn".to_owned(),
        Some(primary) if !primary.is_empty() => primary.to_owned(),
        _ => "en".to_owned(),
    }
}

async fn news(State(state): State<AppState>) -> Result<Response, SiteError> {
    let base = state.public_url();
    let since = masthead_store::now_ms() - NEWS_WINDOW_MS;
    let stories = state.store.news_posts(since, NEWS_MAX).await?;
    let snapshot = state.site();
    let language = news_language(&snapshot.settings.locale);
    let mut out = String::with_capacity(512 + stories.len() * 400);
    out.push_str(concat!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
        "<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\"",
        " xmlns:news=\"http://www.google.com/schemas/sitemap-news/0.9\">\n"
    ));
    for story in &stories {
        out.push_str("<url>");
        inline_element(
            &mut out,
            "loc",
            &absolute_url(base, &format!("/{}/", story.slug)),
        );
        out.push_str("<news:news><news:publication>");
        inline_element(&mut out, "news:name", &snapshot.settings.title);
        inline_element(&mut out, "news:language", &language);
        out.push_str("</news:publication>");
        inline_element(
            &mut out,
            "news:publication_date",
            &rfc3339(story.published_ms),
        );
        inline_element(&mut out, "news:title", &story.title);
        out.push_str("</news:news></url>\n");
    }
    out.push_str("</urlset>\n");
    // The window moves: the page cache re-renders entries after a minute anyway.
    Ok(public_file(out, XML, tags_for_sitemaps()))
}

async fn robots(State(state): State<AppState>) -> Response {
    let base = state.public_url();
    let body = format!(
        "User-agent: *\nDisallow: /admin/\nDisallow: /_live/\n\nSitemap: {}\n",
        absolute_url(base, "/sitemap.xml")
    );
    public_file(
        body,
        "text/plain; charset=utf-8",
        CacheTags::new(["site".to_owned()]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_numbers_are_canonical() {
        assert_eq!(part_number("sitemap-posts-2.xml"), Some(2));
        assert_eq!(part_number("sitemap-posts-123.xml"), Some(123));
        for bad in [
            "sitemap-posts-.xml",
            "sitemap-posts-02.xml",
            "sitemap-posts--2.xml",
            "sitemap-posts-2.xml.gz",
            "sitemap-posts-9999999999.xml",
            "sitemap-posts-x.xml",
            "a-story",
        ] {
            assert_eq!(part_number(bad), None, "{bad}");
        }
        assert_eq!(part_path(1), "/sitemap-posts.xml");
        assert_eq!(part_path(3), "/sitemap-posts-3.xml");
    }

    #[test]
    fn news_languages() {
        assert_eq!(news_language("en-GB"), "en");
        assert_eq!(news_language("fr"), "fr");
        assert_eq!(news_language("zh-TW"), "zh-tw");
        assert_eq!(news_language("zh-Hans-CN"), "zh-cn");
        assert_eq!(news_language(""), "en");
    }
}
