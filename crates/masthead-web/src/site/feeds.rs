//! Feeds and search-engine files: RSS 2.0, Atom and JSON Feed 1.1 of the
//! whole site, of each tag and of each byline (here), the sitemaps and
//! `robots.txt` (`sitemap.rs`, routed from here).
//!
//! A feed holds the newest [`FEED_SIZE`] published posts (not pages). Each
//! item's id is the post's UUID (as Ghost's RSS has it; `urn:uuid:…` in Atom,
//! whose ids are IRIs), which survives a change of slug or of the site's
//! address; a post without one falls back to `{site}/p/{post id}`. The
//! body is included when the site's `feed_content` setting says `full`,
//! never for members-only stories: those carry their excerpt only. Feeds go
//! through the page cache like pages, tagged with the surrogate keys of the
//! listing they mirror, so a write drops them with it.

use std::borrow::Cow;
use std::path::{Component, Path as FsPath, PathBuf};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use axum::routing::get;
use masthead_domain::{PostKind, Slug, Visibility};
use masthead_render::views::absolute_url;
use masthead_store::{FeedContent, FeedScope, Post};
use serde::Serialize;

use super::PAGE_CACHE_CONTROL;
use super::seo::excerpt;
use super::xml::{attribute, cdata_into, element, escape_into, rfc822, rfc3339};
use crate::cache::CacheTags;
use crate::error::SiteError;
use crate::state::AppState;

/// Posts per feed.
pub const FEED_SIZE: u32 = 50;

const RSS: u8 = 0;
const ATOM: u8 = 1;
const JSON: u8 = 2;

/// The routes of this module, merged into the public site by `router.rs`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/rss/", get(site_feed::<RSS>))
        .route("/atom/", get(site_feed::<ATOM>))
        .route("/feed.json", get(site_feed::<JSON>))
        .route("/tag/{slug}/rss/", get(tag_feed::<RSS>))
        .route("/tag/{slug}/atom/", get(tag_feed::<ATOM>))
        .route("/tag/{slug}/feed.json", get(tag_feed::<JSON>))
        .route("/author/{slug}/rss/", get(author_feed::<RSS>))
        .route("/author/{slug}/atom/", get(author_feed::<ATOM>))
        .route("/author/{slug}/feed.json", get(author_feed::<JSON>))
        .merge(super::sitemap::routes())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Rss,
    Atom,
    Json,
}

impl Format {
    fn of(code: u8) -> Format {
        match code {
            RSS => Format::Rss,
            ATOM => Format::Atom,
            _ => Format::Json,
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Format::Rss => "application/rss+xml; charset=utf-8",
            Format::Atom => "application/atom+xml; charset=utf-8",
            Format::Json => "application/feed+json; charset=utf-8",
        }
    }

    /// The feed's address relative to its listing's.
    fn file(self) -> &'static str {
        match self {
            Format::Rss => "rss/",
            Format::Atom => "atom/",
            Format::Json => "feed.json",
        }
    }
}

enum Source {
    Site,
    Tag(String),
    Author(String),
}

async fn site_feed<const F: u8>(State(state): State<AppState>) -> Result<Response, SiteError> {
    serve(&state, Source::Site, Format::of(F)).await
}

async fn tag_feed<const F: u8>(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> Result<Response, SiteError> {
    serve(&state, Source::Tag(slug), Format::of(F)).await
}

async fn author_feed<const F: u8>(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> Result<Response, SiteError> {
    serve(&state, Source::Author(slug), Format::of(F)).await
}

/// A public, cacheable response that is not HTML: the page cache keeps its
/// content type with it.
pub(crate) fn public_file(body: String, content_type: &'static str, tags: CacheTags) -> Response {
    let mut res = Response::new(Body::from(body));
    res.extensions_mut().insert(tags);
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(PAGE_CACHE_CONTROL),
    );
    res
}

fn slug_or_404(slug: &str) -> Result<String, SiteError> {
    Slug::parse(slug)
        .map(Slug::into_string)
        .map_err(|_| SiteError::NotFound)
}

async fn serve(state: &AppState, source: Source, format: Format) -> Result<Response, SiteError> {
    let base = state.public_url();
    let snapshot = state.site();
    let settings = &snapshot.settings;
    let (scope, key, path, title, description) = match source {
        Source::Site => (
            FeedScope::All,
            "feed".to_owned(),
            "/".to_owned(),
            settings.title.clone(),
            settings.description.clone(),
        ),
        Source::Tag(slug) => {
            let tag = state
                .store
                .tag_by_slug(slug_or_404(&slug)?)
                .await?
                .ok_or(SiteError::NotFound)?;
            let description = if tag.description.is_empty() {
                format!("{} from {}.", tag.name, settings.title)
            } else {
                tag.description
            };
            (
                FeedScope::Tag(tag.id),
                format!("tag-{}", tag.id),
                format!("/tag/{}/", tag.slug),
                format!("{} | {}", tag.name, settings.title),
                description,
            )
        }
        Source::Author(slug) => {
            let author = state
                .store
                .author_by_slug(slug_or_404(&slug)?)
                .await?
                .ok_or(SiteError::NotFound)?;
            let description = if author.bio.is_empty() {
                format!("Stories by {} for {}.", author.name, settings.title)
            } else {
                author.bio
            };
            (
                FeedScope::Author(author.id),
                format!("author-{}", author.id),
                format!("/author/{}/", author.slug),
                format!("{} | {}", author.name, settings.title),
                description,
            )
        }
    };
    let posts = state.store.feed_posts(scope, FEED_SIZE).await?;
    let full = settings.feed_content == FeedContent::Full;
    let mut items: Vec<Item<'_>> = posts.iter().map(|p| Item::new(p, base, full)).collect();
    add_file_sizes(state, &mut items).await;
    let channel = Channel {
        title,
        description,
        home: absolute_url(base, &path),
        self_url: absolute_url(base, &format!("{path}{}", format.file())),
        site_url: absolute_url(base, "/"),
        site_title: &settings.title,
        language: &settings.locale,
        updated_ms: items
            .iter()
            .map(|i| i.updated_ms)
            .max()
            .unwrap_or_else(masthead_store::now_ms),
        icon: state
            .theme
            .asset_url("favicon.svg")
            .map(|u| absolute_url(base, u)),
        logo: settings.logo.as_deref().map(|l| absolute_url(base, l)),
        items,
    };
    let body = match format {
        Format::Rss => rss(&channel),
        Format::Atom => atom(&channel),
        Format::Json => json_feed(&channel)?,
    };
    Ok(public_file(
        body,
        format.content_type(),
        CacheTags::new([key, "site".to_owned()]),
    ))
}

/// A file a feed points at (feature image, hosted video).
struct Media {
    url: String,
    /// Where it is on disk, when Masthead serves it (for its size).
    local: Option<PathBuf>,
    mime: &'static str,
    /// Bytes; 0 when unknown (RSS allows that).
    length: u64,
    width: Option<u32>,
    height: Option<u32>,
    duration_s: Option<u32>,
}

/// One post as every feed format prints it.
struct Item<'a> {
    /// The post's UUID, or `{site}/p/{id}` for a post without one.
    id: Cow<'a, str>,
    url: String,
    title: &'a str,
    excerpt: Cow<'a, str>,
    /// The body with absolute links; `None` for excerpt-only feeds and for
    /// members-only stories.
    content: Option<Cow<'a, str>>,
    published_ms: i64,
    updated_ms: i64,
    /// Name and page.
    authors: Vec<(&'a str, String)>,
    tags: Vec<&'a str>,
    image: Option<Media>,
    /// A video file served by the site (provider embeds are not files).
    video: Option<Media>,
}

impl<'a> Item<'a> {
    fn new(post: &'a Post, base: &str, full: bool) -> Item<'a> {
        let published_ms = post.published_ms.unwrap_or(post.created_ms);
        let content = (full && post.visibility == Visibility::Public)
            .then(|| absolute_links(&post.body_html, base));
        Item {
            id: match post.uuid.as_deref().filter(|u| !u.is_empty()) {
                Some(uuid) => Cow::Borrowed(uuid),
                None => Cow::Owned(format!("{base}/p/{}", post.id)),
            },
            url: absolute_url(base, &format!("/{}/", post.slug)),
            title: &post.title,
            excerpt: excerpt(post),
            content,
            published_ms,
            updated_ms: post.updated_ms.max(published_ms),
            authors: post
                .authors
                .iter()
                .map(|a| {
                    (
                        a.name.as_str(),
                        absolute_url(base, &format!("/author/{}/", a.slug)),
                    )
                })
                .collect(),
            tags: post.tags.iter().map(|t| t.name.as_str()).collect(),
            image: post.image.as_ref().map(|i| Media {
                url: absolute_url(base, &i.src),
                local: None,
                mime: mime_of(&i.src),
                length: 0,
                width: i.width,
                height: i.height,
                duration_s: None,
            }),
            video: post
                .video
                .as_ref()
                .filter(|_| post.kind == PostKind::Video)
                .and_then(|v| {
                    let src = v.src.as_deref()?;
                    Some(Media {
                        url: absolute_url(base, src),
                        local: None,
                        mime: mime_of(src),
                        length: 0,
                        width: None,
                        height: None,
                        duration_s: v.duration_s,
                    })
                }),
        }
        .with_local_paths(post)
    }

    fn with_local_paths(mut self, post: &Post) -> Self {
        if let (Some(m), Some(i)) = (self.image.as_mut(), post.image.as_ref()) {
            m.local = local_file(&i.src);
        }
        if let (Some(m), Some(src)) = (
            self.video.as_mut(),
            post.video.as_ref().and_then(|v| v.src.as_deref()),
        ) {
            m.local = local_file(src);
        }
        self
    }

    /// Atom ids are IRIs: a UUID becomes `urn:uuid:…` (RFC 4122).
    fn atom_id(&self) -> Cow<'_, str> {
        if self.id.contains("://") {
            Cow::Borrowed(&self.id)
        } else {
            Cow::Owned(format!("urn:uuid:{}", self.id))
        }
    }

    /// The one RSS enclosure (readers take one): the video of a video post,
    /// else the feature image.
    fn enclosure(&self) -> Option<&Media> {
        self.video.as_ref().or(self.image.as_ref())
    }
}

/// Feed item sizes come from the files themselves: demo files on disk (read
/// in one blocking task), library media from the media store (asked at once).
async fn add_file_sizes(state: &AppState, items: &mut [Item<'_>]) {
    let content = state.config.content_dir.clone();
    let media = &state.config.media;
    let wanted: Vec<Option<&PathBuf>> = items
        .iter()
        .flat_map(|i| [i.image.as_ref(), i.video.as_ref()])
        .map(|m| m.and_then(|m| m.local.as_ref()))
        .collect();
    let on_disk: Vec<Option<PathBuf>> = wanted
        .iter()
        .map(|rel| {
            rel.filter(|rel| !rel.starts_with("media"))
                .map(|rel| content.join(rel.strip_prefix("content").unwrap_or(rel)))
        })
        .collect();
    let disk_sizes = tokio::task::spawn_blocking(move || {
        on_disk
            .into_iter()
            .map(|p| {
                p.and_then(|p| std::fs::metadata(p).ok())
                    .filter(std::fs::Metadata::is_file)
                    .map_or(0, |m| m.len())
            })
            .collect::<Vec<u64>>()
    });
    let stored = wanted.iter().map(|rel| async move {
        let path = rel
            .and_then(|rel| rel.strip_prefix("media").ok())
            .and_then(|rest| rest.to_str())?;
        match media.head(path).await {
            Ok(size) => size,
            Err(e) => {
                tracing::warn!(error = %e, path, "media size unknown for a feed");
                None
            }
        }
    });
    let stored_sizes = futures_util::future::join_all(stored).await;
    let disk_sizes = disk_sizes.await.unwrap_or_default();
    let mut sizes = stored_sizes
        .into_iter()
        .zip(disk_sizes.into_iter().chain(std::iter::repeat(0)))
        .map(|(stored, disk)| stored.unwrap_or(disk));
    for item in items.iter_mut() {
        for m in [item.image.as_mut(), item.video.as_mut()] {
            let size = sizes.next().unwrap_or(0);
            if let Some(m) = m {
                m.length = size;
            }
        }
    }
}

/// `content/…` or `media/…` (relative, checked to stay inside) for a file
/// the site serves itself; `None` for anything else.
fn local_file(src: &str) -> Option<PathBuf> {
    let (root, rest) = if let Some(rest) = src.strip_prefix("/content/") {
        ("content", rest)
    } else if let Some(rest) = src.strip_prefix("/media/") {
        ("media", rest)
    } else {
        return None;
    };
    let rest = FsPath::new(rest);
    let inside = rest.components().count() > 0
        && rest.components().all(|c| matches!(c, Component::Normal(_)));
    inside.then(|| FsPath::new(root).join(rest))
}

/// The media type of a file by its extension.
fn mime_of(src: &str) -> &'static str {
    let path = src.split(['?', '#']).next().unwrap_or(src);
    let ext = path.rsplit_once('.').map_or("", |(_, e)| e);
    match ext.to_ascii_lowercase().as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "svg" => "image/svg+xml",
        "webm" => "video/webm",
        "mp4" | "m4v" => "video/mp4",
        "ogv" => "video/ogg",
        "mov" => "video/quicktime",
        _ => "application/octet-stream",
    }
}

/// Attributes whose values are addresses.
const URL_ATTRIBUTES: [&str; 4] = ["href", "src", "poster", "srcset"];

/// Sanitised HTML with site-relative addresses (`/media/…`, `/a-story/`) made
/// absolute, since feed readers show bodies away from the site. Only
/// attribute values inside tags are touched, never text.
pub fn absolute_links<'a>(html: &'a str, base: &str) -> Cow<'a, str> {
    if base.is_empty() || !html.contains("=\"/") {
        return Cow::Borrowed(html);
    }
    let bytes = html.as_bytes();
    let mut out = String::with_capacity(html.len() + 512);
    let (mut last, mut i, mut in_tag) = (0, 0, false);
    while i < bytes.len() {
        match bytes[i] {
            b'<' if !in_tag => in_tag = true,
            b'>' if in_tag => in_tag = false,
            b'"' if in_tag => {
                let Some(len) = html[i + 1..].find('"') else {
                    break;
                };
                let end = i + 1 + len;
                if i > 0 && bytes[i - 1] == b'=' {
                    let before = &html[..i - 1];
                    let name = &before[before
                        .rfind(|c: char| c.is_ascii_whitespace())
                        .map_or(0, |p| p + 1)..];
                    if URL_ATTRIBUTES.iter().any(|a| name.eq_ignore_ascii_case(a))
                        && let Some(value) = absolute_value(
                            &html[i + 1..end],
                            base,
                            name.eq_ignore_ascii_case("srcset"),
                        )
                    {
                        out.push_str(&html[last..=i]);
                        out.push_str(&value);
                        last = end;
                    }
                }
                i = end;
            }
            _ => {}
        }
        i += 1;
    }
    out.push_str(&html[last..]);
    Cow::Owned(out)
}

fn is_site_relative(url: &str) -> bool {
    url.starts_with('/') && !url.starts_with("//")
}

/// An attribute value with its site-relative address(es) made absolute;
/// `None` when nothing changes.
fn absolute_value(value: &str, base: &str, srcset: bool) -> Option<String> {
    if !srcset {
        return is_site_relative(value).then(|| format!("{base}{value}"));
    }
    if !value.split(',').any(|c| is_site_relative(c.trim_start())) {
        return None;
    }
    let mut out = String::with_capacity(value.len() + base.len() * 4);
    for (n, candidate) in value.split(',').enumerate() {
        if n > 0 {
            out.push(',');
        }
        let trimmed = candidate.trim_start();
        out.push_str(&candidate[..candidate.len() - trimmed.len()]);
        if is_site_relative(trimmed) {
            out.push_str(base);
        }
        out.push_str(trimmed);
    }
    Some(out)
}

/// What every format prints about the feed itself.
struct Channel<'a> {
    title: String,
    description: String,
    /// The listing the feed mirrors.
    home: String,
    self_url: String,
    site_url: String,
    site_title: &'a str,
    language: &'a str,
    updated_ms: i64,
    icon: Option<String>,
    logo: Option<String>,
    items: Vec<Item<'a>>,
}

impl Channel<'_> {
    fn capacity(&self) -> usize {
        2048 + self
            .items
            .iter()
            .map(|i| 1024 + i.excerpt.len() + i.content.as_ref().map_or(0, |c| c.len() * 11 / 10))
            .sum::<usize>()
    }
}

fn rss(ch: &Channel<'_>) -> String {
    let mut out = String::with_capacity(ch.capacity());
    out.push_str(concat!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
        "<rss version=\"2.0\" xmlns:atom=\"http://www.w3.org/2005/Atom\"",
        " xmlns:content=\"http://purl.org/rss/1.0/modules/content/\"",
        " xmlns:dc=\"http://purl.org/dc/elements/1.1/\"",
        " xmlns:media=\"http://search.yahoo.com/mrss/\">\n<channel>\n"
    ));
    element(&mut out, "title", &ch.title);
    element(&mut out, "link", &ch.home);
    element(
        &mut out,
        "description",
        if ch.description.is_empty() {
            &ch.title
        } else {
            &ch.description
        },
    );
    if !ch.language.is_empty() {
        element(&mut out, "language", ch.language);
    }
    element(&mut out, "lastBuildDate", &rfc822(ch.updated_ms));
    element(&mut out, "generator", "Masthead");
    element(
        &mut out,
        "docs",
        "https://www.rssboard.org/rss-specification",
    );
    out.push_str("<atom:link");
    attribute(&mut out, "href", &ch.self_url);
    out.push_str(" rel=\"self\" type=\"application/rss+xml\"/>\n");
    // RSS images must be GIF, JPEG or PNG.
    if let Some(logo) = ch
        .logo
        .as_deref()
        .filter(|l| matches!(mime_of(l), "image/png" | "image/jpeg" | "image/gif"))
    {
        out.push_str("<image>\n");
        element(&mut out, "url", logo);
        element(&mut out, "title", &ch.title);
        element(&mut out, "link", &ch.home);
        out.push_str("</image>\n");
    }
    for item in &ch.items {
        out.push_str("<item>\n");
        element(&mut out, "title", item.title);
        element(&mut out, "link", &item.url);
        out.push_str("<guid isPermaLink=\"false\">");
        escape_into(&mut out, &item.id);
        out.push_str("</guid>\n");
        element(&mut out, "pubDate", &rfc822(item.published_ms));
        for (name, _) in &item.authors {
            element(&mut out, "dc:creator", name);
        }
        for tag in &item.tags {
            element(&mut out, "category", tag);
        }
        element(&mut out, "description", &item.excerpt);
        if let Some(content) = &item.content {
            out.push_str("<content:encoded>");
            cdata_into(&mut out, content);
            out.push_str("</content:encoded>\n");
        }
        if let Some(m) = item.enclosure() {
            out.push_str("<enclosure");
            attribute(&mut out, "url", &m.url);
            attribute(&mut out, "length", &m.length.to_string());
            attribute(&mut out, "type", m.mime);
            out.push_str("/>\n");
        }
        for (m, medium) in [(&item.image, "image"), (&item.video, "video")] {
            let Some(m) = m else { continue };
            out.push_str("<media:content");
            attribute(&mut out, "url", &m.url);
            attribute(&mut out, "type", m.mime);
            attribute(&mut out, "medium", medium);
            if m.length > 0 {
                attribute(&mut out, "fileSize", &m.length.to_string());
            }
            if let (Some(w), Some(h)) = (m.width, m.height) {
                attribute(&mut out, "width", &w.to_string());
                attribute(&mut out, "height", &h.to_string());
            }
            if let Some(d) = m.duration_s {
                attribute(&mut out, "duration", &d.to_string());
            }
            out.push_str("/>\n");
        }
        out.push_str("</item>\n");
    }
    out.push_str("</channel>\n</rss>\n");
    out
}

fn atom(ch: &Channel<'_>) -> String {
    let mut out = String::with_capacity(ch.capacity() * 12 / 10);
    out.push_str(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\"",
    );
    if !ch.language.is_empty() {
        attribute(&mut out, "xml:lang", ch.language);
    }
    out.push_str(">\n");
    element(&mut out, "id", &ch.home);
    element(&mut out, "title", &ch.title);
    if !ch.description.is_empty() {
        element(&mut out, "subtitle", &ch.description);
    }
    out.push_str("<link rel=\"alternate\" type=\"text/html\"");
    attribute(&mut out, "href", &ch.home);
    out.push_str("/>\n<link rel=\"self\" type=\"application/atom+xml\"");
    attribute(&mut out, "href", &ch.self_url);
    out.push_str("/>\n");
    element(&mut out, "updated", &rfc3339(ch.updated_ms));
    // Entries without a byline are the site's.
    out.push_str("<author>\n");
    element(&mut out, "name", ch.site_title);
    element(&mut out, "uri", &ch.site_url);
    out.push_str("</author>\n");
    element(&mut out, "generator", "Masthead");
    if let Some(icon) = &ch.icon {
        element(&mut out, "icon", icon);
    }
    if let Some(logo) = &ch.logo {
        element(&mut out, "logo", logo);
    }
    for item in &ch.items {
        out.push_str("<entry>\n");
        element(&mut out, "id", &item.atom_id());
        element(&mut out, "title", item.title);
        out.push_str("<link rel=\"alternate\" type=\"text/html\"");
        attribute(&mut out, "href", &item.url);
        out.push_str("/>\n");
        element(&mut out, "published", &rfc3339(item.published_ms));
        element(&mut out, "updated", &rfc3339(item.updated_ms));
        for (name, url) in &item.authors {
            out.push_str("<author>\n");
            element(&mut out, "name", name);
            element(&mut out, "uri", url);
            out.push_str("</author>\n");
        }
        for tag in &item.tags {
            out.push_str("<category");
            attribute(&mut out, "term", tag);
            out.push_str("/>\n");
        }
        out.push_str("<summary type=\"text\">");
        escape_into(&mut out, &item.excerpt);
        out.push_str("</summary>\n");
        if let Some(content) = &item.content {
            out.push_str("<content type=\"html\">");
            escape_into(&mut out, content);
            out.push_str("</content>\n");
        }
        for m in [&item.image, &item.video].into_iter().flatten() {
            out.push_str("<link rel=\"enclosure\"");
            attribute(&mut out, "type", m.mime);
            if m.length > 0 {
                attribute(&mut out, "length", &m.length.to_string());
            }
            attribute(&mut out, "href", &m.url);
            out.push_str("/>\n");
        }
        out.push_str("</entry>\n");
    }
    out.push_str("</feed>\n");
    out
}

/// JSON Feed 1.1 (<https://jsonfeed.org/version/1.1>).
#[derive(Serialize)]
struct JsonFeed<'a> {
    version: &'static str,
    title: &'a str,
    home_page_url: &'a str,
    feed_url: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    description: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    icon: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    favicon: Option<&'a str>,
    #[serde(skip_serializing_if = "str::is_empty")]
    language: &'a str,
    authors: [JsonAuthor<'a>; 1],
    items: Vec<JsonItem<'a>>,
}

#[derive(Serialize)]
struct JsonAuthor<'a> {
    name: &'a str,
    url: &'a str,
}

#[derive(Serialize)]
struct JsonItem<'a> {
    id: &'a str,
    url: &'a str,
    title: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_html: Option<&'a str>,
    /// The excerpt, when the body is not included (an item needs one or the other).
    #[serde(skip_serializing_if = "Option::is_none")]
    content_text: Option<&'a str>,
    summary: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<&'a str>,
    date_published: String,
    date_modified: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    authors: Vec<JsonAuthor<'a>>,
    #[serde(skip_serializing_if = "no_tags")]
    tags: &'a [&'a str],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attachments: Vec<JsonAttachment<'a>>,
}

fn no_tags(tags: &&[&str]) -> bool {
    tags.is_empty()
}

#[derive(Serialize)]
struct JsonAttachment<'a> {
    url: &'a str,
    mime_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    size_in_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration_in_seconds: Option<u32>,
}

fn json_feed(ch: &Channel<'_>) -> Result<String, SiteError> {
    let feed = JsonFeed {
        version: "https://jsonfeed.org/version/1.1",
        title: &ch.title,
        home_page_url: &ch.home,
        feed_url: &ch.self_url,
        description: &ch.description,
        icon: ch.logo.as_deref(),
        favicon: ch.icon.as_deref(),
        language: ch.language,
        authors: [JsonAuthor {
            name: ch.site_title,
            url: &ch.site_url,
        }],
        items: ch
            .items
            .iter()
            .map(|i| JsonItem {
                id: &i.id,
                url: &i.url,
                title: i.title,
                content_html: i.content.as_deref(),
                content_text: i.content.is_none().then_some(&*i.excerpt),
                summary: &i.excerpt,
                image: i.image.as_ref().map(|m| m.url.as_str()),
                date_published: rfc3339(i.published_ms),
                date_modified: rfc3339(i.updated_ms),
                authors: i
                    .authors
                    .iter()
                    .map(|(name, url)| JsonAuthor { name, url })
                    .collect(),
                tags: &i.tags,
                attachments: i
                    .video
                    .iter()
                    .map(|m| JsonAttachment {
                        url: &m.url,
                        mime_type: m.mime,
                        size_in_bytes: (m.length > 0).then_some(m.length),
                        duration_in_seconds: m.duration_s,
                    })
                    .collect(),
            })
            .collect(),
    };
    serde_json::to_string(&feed)
        .map_err(|e| SiteError::Internal(format!("serialising a JSON feed failed: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_addresses_in_bodies_become_absolute() {
        let base = "https://news.example";
        let html = r#"<p>See <a href="/earlier/" rel="noopener">this</a> and <a href="https://x.example/">that</a>, or <a href="//cdn.example/y">cdn</a>.</p><img src="/media/k/640.jpg" srcset="/media/k/320.jpg 320w, /media/k/640.jpg 640w" alt="a > b &quot;q&quot;"><pre>src="/not-an-attribute"</pre>"#;
        let out = absolute_links(html, base);
        assert_eq!(
            out,
            r#"<p>See <a href="https://news.example/earlier/" rel="noopener">this</a> and <a href="https://x.example/">that</a>, or <a href="//cdn.example/y">cdn</a>.</p><img src="https://news.example/media/k/640.jpg" srcset="https://news.example/media/k/320.jpg 320w, https://news.example/media/k/640.jpg 640w" alt="a > b &quot;q&quot;"><pre>src="/not-an-attribute"</pre>"#
        );
        assert!(matches!(
            absolute_links("<p>plain</p>", base),
            Cow::Borrowed(_)
        ));
        assert!(matches!(absolute_links(html, ""), Cow::Borrowed(_)));
    }

    #[test]
    fn only_files_inside_the_served_folders_are_sized() {
        assert_eq!(
            local_file("/content/images/demo/a.svg"),
            Some(PathBuf::from("content/images/demo/a.svg"))
        );
        assert_eq!(
            local_file("/media/0123456789abcdef0123/640.jpg"),
            Some(PathBuf::from("media/0123456789abcdef0123/640.jpg"))
        );
        for bad in [
            "/content/../secret",
            "/media/../../etc/passwd",
            "https://cdn.example/x.jpg",
            "/content/",
            "/other/x.jpg",
        ] {
            assert_eq!(local_file(bad), None, "{bad}");
        }
    }

    #[test]
    fn media_types_by_extension() {
        assert_eq!(mime_of("/content/images/demo/x.svg"), "image/svg+xml");
        assert_eq!(mime_of("/media/k/640.JPG?v=1"), "image/jpeg");
        assert_eq!(mime_of("/content/media/demo/clip-1.webm"), "video/webm");
        assert_eq!(mime_of("/x"), "application/octet-stream");
    }
}
