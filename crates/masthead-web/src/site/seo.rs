//! What search engines and link previews read: the `<head>` metadata of
//! stories and listings (canonical address, Open Graph, Twitter card) and
//! schema.org JSON-LD (`NewsArticle`, `LiveBlogPosting`, `VideoObject`, with
//! Google's paywall markup for members-only stories). Also the plain-text
//! excerpt that feeds share.

use std::borrow::Cow;

use masthead_domain::{PostKind, Visibility};
use masthead_render::views::{FeedLink, PostView, SeoImage, SeoView, SiteView};
use masthead_store::{LiveEntry, Post};
use serde::Serialize;

use super::xml::rfc3339;
use crate::state::AppState;

/// Live updates listed in a live page's JSON-LD, newest first.
const LIVE_UPDATES: usize = 20;
/// Longest excerpt made from a body, in characters.
const EXCERPT_CHARS: usize = 300;
/// Longest `articleBody` of a live update, in characters.
const UPDATE_BODY_CHARS: usize = 1_000;

// ---- plain text ----

/// Elements that separate words: their tags become a space.
const BLOCKS: &[&str] = &[
    "p",
    "br",
    "li",
    "ul",
    "ol",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "div",
    "figure",
    "figcaption",
    "blockquote",
    "pre",
    "table",
    "tr",
    "td",
    "th",
    "hr",
    "img",
    "section",
    "aside",
];

/// The text of sanitised HTML: tags dropped (block boundaries become spaces),
/// the entities the sanitiser writes decoded, whitespace collapsed, and cut
/// at a word boundary after `max_chars` characters (with "…").
pub fn plain_text(html: &str, max_chars: usize) -> String {
    let mut raw = String::with_capacity(html.len().min(max_chars * 4 + 64));
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        raw.push_str(&rest[..lt]);
        let tag = &rest[lt + 1..];
        // Attribute values may hold '>' (the serialiser only escapes '"' and '&').
        let mut quoted = false;
        let end = tag
            .char_indices()
            .find(|&(_, c)| {
                if c == '"' {
                    quoted = !quoted;
                }
                c == '>' && !quoted
            })
            .map_or(tag.len(), |(i, _)| i);
        let name: &str = {
            let t = tag[..end].trim_start_matches('/');
            let n = t
                .find(|c: char| !c.is_ascii_alphanumeric())
                .unwrap_or(t.len());
            &t[..n]
        };
        if BLOCKS.iter().any(|b| name.eq_ignore_ascii_case(b)) {
            raw.push(' ');
        }
        rest = tag.get(end + 1..).unwrap_or("");
        if raw.len() > max_chars * 4 + 64 {
            break;
        }
    }
    if raw.len() <= max_chars * 4 + 64 {
        raw.push_str(rest);
    }
    let decoded = decode_entities(&raw);
    let mut out = String::with_capacity(decoded.len().min(max_chars * 4));
    let mut count = 0;
    for word in decoded.split_whitespace() {
        let n = word.chars().count();
        if count > 0 && count + 1 + n > max_chars {
            out.push('…');
            return out;
        }
        if count > 0 {
            out.push(' ');
            count += 1;
        }
        if n > max_chars {
            out.extend(word.chars().take(max_chars));
            out.push('…');
            return out;
        }
        out.push_str(word);
        count += n;
    }
    out
}

/// Decodes `&amp;`, `&lt;`, `&gt;`, `&quot;`, `&apos;`, `&nbsp;` and numeric
/// references; anything else is left as written.
fn decode_entities(text: &str) -> Cow<'_, str> {
    if !text.contains('&') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let decoded = after.find(';').filter(|&semi| semi <= 10).and_then(|semi| {
            let name = &after[..semi];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some('\u{a0}'),
                _ => name
                    .strip_prefix("#x")
                    .or_else(|| name.strip_prefix("#X"))
                    .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                    .or_else(|| name.strip_prefix('#').and_then(|d| d.parse().ok()))
                    .and_then(char::from_u32),
            };
            c.map(|c| (c, semi))
        });
        match decoded {
            Some((c, semi)) => {
                out.push(c);
                rest = &after[semi + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// A story's excerpt, as feeds and previews share it: its dek, else its
/// search description, else the text of its first block (which every reader
/// sees, members-only or not).
pub fn excerpt(post: &Post) -> Cow<'_, str> {
    if !post.dek.trim().is_empty() {
        return Cow::Borrowed(post.dek.trim());
    }
    if let Some(d) = post.meta_description.as_deref().map(str::trim)
        && !d.is_empty()
    {
        return Cow::Borrowed(d);
    }
    let (first, _) = masthead_render::teaser(&post.body_html, 1);
    Cow::Owned(plain_text(first, EXCERPT_CHARS))
}

// ---- JSON-LD ----

/// Serialises `value` for a `<script>` element: `<`, `>` and `&` can only
/// occur inside JSON strings, where `\u003c` and friends mean the same, so the
/// text can never close the element or open a comment. U+2028 and U+2029 are
/// escaped too, for consumers that read it as JavaScript.
pub fn script_safe_json(value: &impl Serialize) -> Option<String> {
    let json = match serde_json::to_string(value) {
        Ok(j) => j,
        Err(e) => {
            tracing::error!(error = %e, "serialising JSON-LD failed");
            return None;
        }
    };
    let mut out = String::with_capacity(json.len() + 32);
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    Some(out)
}

#[derive(Serialize)]
struct ImageObject {
    #[serde(rename = "@type")]
    kind: &'static str,
    url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    height: Option<u32>,
}

#[derive(Serialize)]
struct Person<'a> {
    #[serde(rename = "@type")]
    kind: &'static str,
    name: &'a str,
    url: String,
}

#[derive(Serialize)]
struct Organization<'a> {
    #[serde(rename = "@type")]
    kind: &'static str,
    name: &'a str,
    url: String,
    logo: ImageObject,
}

#[derive(Serialize)]
struct WebPageRef<'a> {
    #[serde(rename = "@type")]
    kind: &'static str,
    #[serde(rename = "@id")]
    id: &'a str,
}

/// Google's paywall markup: the part of the page readers without access miss.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GatedPart {
    #[serde(rename = "@type")]
    kind: &'static str,
    is_accessible_for_free: bool,
    css_selector: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BlogPosting<'a> {
    #[serde(rename = "@type")]
    kind: &'static str,
    headline: Cow<'a, str>,
    url: String,
    date_published: String,
    date_modified: String,
    article_body: String,
}

/// `NewsArticle` and `LiveBlogPosting` share their fields.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Article<'a> {
    #[serde(rename = "@context")]
    context: &'static str,
    #[serde(rename = "@type")]
    kind: &'static str,
    headline: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    description: &'a str,
    url: &'a str,
    main_entity_of_page: WebPageRef<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    image: Vec<ImageObject>,
    date_published: String,
    date_modified: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    author: Vec<Person<'a>>,
    publisher: Organization<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    article_section: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    keywords: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    in_language: Option<&'a str>,
    is_accessible_for_free: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    has_part: Option<GatedPart>,
    #[serde(skip_serializing_if = "Option::is_none")]
    coverage_start_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    live_blog_update: Option<Vec<BlogPosting<'a>>>,
}

/// Google requires `name`, `thumbnailUrl` and `uploadDate`; `description`
/// falls back to the title when a film has none.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VideoObject<'a> {
    #[serde(rename = "@context")]
    context: &'static str,
    #[serde(rename = "@type")]
    kind: &'static str,
    name: &'a str,
    description: &'a str,
    url: &'a str,
    thumbnail_url: Vec<String>,
    upload_date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    embed_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration: Option<String>,
    publisher: Organization<'a>,
    is_accessible_for_free: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    has_part: Option<GatedPart>,
}

/// The site as publisher: its logo when it has one, else the theme's icon.
fn publisher<'a>(state: &AppState, site: &'a SiteView) -> Organization<'a> {
    let snapshot = state.site();
    let settings = &snapshot.settings;
    let logo = match &settings.logo {
        Some(src) => ImageObject {
            kind: "ImageObject",
            url: site.absolute(src),
            width: settings.logo_width,
            height: settings.logo_height,
        },
        None => ImageObject {
            kind: "ImageObject",
            url: site.absolute(
                state
                    .theme
                    .asset_url("favicon.svg")
                    .unwrap_or("/favicon.ico"),
            ),
            width: None,
            height: None,
        },
    };
    Organization {
        kind: "Organization",
        name: &site.title,
        url: site.absolute("/"),
        logo,
    }
}

/// A story's `<head>` metadata and JSON-LD. `entries` are a live page's
/// updates, newest first (empty for other kinds).
pub fn for_post(
    state: &AppState,
    site: &SiteView,
    post: &Post,
    view: &PostView,
    title: &str,
    entries: &[LiveEntry],
) -> SeoView {
    let own_url = site.absolute(&view.url);
    let canonical = post
        .canonical_url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map_or(own_url, str::to_owned);
    let published_ms = post.published_ms.unwrap_or(post.created_ms);
    let modified_ms = post.updated_ms.max(published_ms);
    let image = post.image.as_ref().map(|i| SeoImage {
        url: site.absolute(&i.src),
        alt: i.alt.clone(),
        width: i.width,
        height: i.height,
    });
    let is_story = post.kind != PostKind::Page;
    let mut seo = SeoView {
        canonical,
        og_type: if is_story { "article" } else { "website" },
        title: title.to_owned(),
        description: view.meta_description.clone(),
        twitter_card: if image.is_some() {
            "summary_large_image"
        } else {
            "summary"
        },
        image: image.or_else(|| logo_image(site)),
        published: is_story.then(|| rfc3339(published_ms)),
        modified: is_story.then(|| rfc3339(modified_ms)),
        section: post
            .primary_tag()
            .filter(|_| is_story)
            .map(|t| t.name.clone()),
        tags: if is_story {
            post.tags.iter().map(|t| t.name.clone()).collect()
        } else {
            Vec::new()
        },
        authors: if is_story {
            view.authors.iter().map(|a| site.absolute(&a.url)).collect()
        } else {
            Vec::new()
        },
        feeds: Vec::new(),
        json_ld: None,
    };
    if is_story {
        seo.json_ld = post_json_ld(state, site, post, &seo, entries);
    }
    seo
}

fn post_json_ld(
    state: &AppState,
    site: &SiteView,
    post: &Post,
    seo: &SeoView,
    entries: &[LiveEntry],
) -> Option<String> {
    let free = post.visibility == Visibility::Public;
    // The story page prints the opening and then, for readers without
    // access, the sign-up box in place of the rest (never sent); for
    // readers with access, the rest. Either is of the paywalled class.
    // (Live pages print no gate box.)
    let gated = (!free && post.kind != PostKind::Live).then_some(GatedPart {
        kind: "WebPageElement",
        is_accessible_for_free: false,
        css_selector: masthead_domain::html::PAYWALLED_SELECTOR,
    });
    let published = seo.published.clone().unwrap_or_default();
    let modified = seo.modified.clone().unwrap_or_default();
    let images: Vec<ImageObject> = post
        .image
        .iter()
        .map(|i| ImageObject {
            kind: "ImageObject",
            url: site.absolute(&i.src),
            width: i.width,
            height: i.height,
        })
        .collect();
    if post.kind == PostKind::Video
        && let Some(video) = &post.video
    {
        let embed = video
            .embed
            .as_deref()
            .and_then(masthead_render::embed::parse_embed);
        let publisher = publisher(state, site);
        let mut thumbnails: Vec<String> = images.into_iter().map(|i| i.url).collect();
        if thumbnails.is_empty() {
            // Required: the site's logo (or icon) rather than nothing.
            thumbnails.push(publisher.logo.url.clone());
        }
        return script_safe_json(&VideoObject {
            context: "https://schema.org",
            kind: "VideoObject",
            name: &post.title,
            description: if seo.description.is_empty() {
                &post.title
            } else {
                &seo.description
            },
            url: &seo.canonical,
            thumbnail_url: thumbnails,
            upload_date: published,
            content_url: video.src.as_deref().map(|s| site.absolute(s)),
            embed_url: embed.map(|e| e.iframe_src),
            duration: video
                .duration_s
                .map(|s| format!("PT{}M{}S", s / 60, s % 60)),
            publisher,
            is_accessible_for_free: free,
            has_part: gated,
        });
    }
    let live = post.kind == PostKind::Live;
    let updates = live.then(|| {
        entries
            .iter()
            .take(LIVE_UPDATES)
            .map(|e| {
                let body = plain_text(&e.body_html, UPDATE_BODY_CHARS);
                BlogPosting {
                    kind: "BlogPosting",
                    headline: if e.title.trim().is_empty() {
                        Cow::Owned(plain_text(&e.body_html, 100))
                    } else {
                        Cow::Borrowed(e.title.as_str())
                    },
                    url: format!(
                        "{}#entry-{}",
                        site.absolute(&format!("/{}/", post.slug)),
                        e.id
                    ),
                    date_published: rfc3339(e.created_ms),
                    date_modified: rfc3339(e.updated_ms.max(e.created_ms)),
                    article_body: body,
                }
            })
            .collect::<Vec<_>>()
    });
    // A live page changes with its newest entry.
    let modified = match entries.iter().map(|e| e.updated_ms.max(e.created_ms)).max() {
        Some(latest) if live => rfc3339(latest.max(post.updated_ms)),
        _ => modified,
    };
    script_safe_json(&Article {
        context: "https://schema.org",
        kind: if live {
            "LiveBlogPosting"
        } else {
            "NewsArticle"
        },
        headline: &post.title,
        description: &seo.description,
        url: &seo.canonical,
        main_entity_of_page: WebPageRef {
            kind: "WebPage",
            id: &seo.canonical,
        },
        image: images,
        coverage_start_time: live.then(|| published.clone()),
        date_published: published,
        date_modified: modified,
        author: post
            .authors
            .iter()
            .map(|a| Person {
                kind: "Person",
                name: &a.name,
                url: site.absolute(&format!("/author/{}/", a.slug)),
            })
            .collect(),
        publisher: publisher(state, site),
        article_section: post.primary_tag().map(|t| t.name.as_str()),
        keywords: post.tags.iter().map(|t| t.name.as_str()).collect(),
        in_language: (!post.language.is_empty()).then_some(post.language.as_str()),
        is_accessible_for_free: free,
        has_part: gated,
        live_blog_update: updates,
    })
}

fn logo_image(site: &SiteView) -> Option<SeoImage> {
    site.logo.as_ref().map(|l| SeoImage {
        url: site.absolute(&l.src),
        alt: site.title.clone(),
        width: None,
        height: None,
    })
}

/// A listing's `<head>` metadata: its address without `?after=`, its own
/// feeds, and a portrait (author pages) or the site's logo as the image.
pub fn for_listing(
    site: &SiteView,
    path: &str,
    title: &str,
    description: &str,
    image: Option<&str>,
    feeds: Vec<FeedLink>,
) -> SeoView {
    SeoView {
        canonical: site.absolute(path),
        og_type: "website",
        title: if title.is_empty() {
            site.title.clone()
        } else {
            title.to_owned()
        },
        description: if description.is_empty() {
            site.description.clone()
        } else {
            description.to_owned()
        },
        image: image
            .map(|src| SeoImage {
                url: site.absolute(src),
                alt: title.to_owned(),
                width: None,
                height: None,
            })
            .or_else(|| logo_image(site)),
        twitter_card: "summary",
        feeds,
        ..SeoView::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_drops_tags_and_decodes_entities() {
        let html = "<h2>Storm</h2><p>Fish &amp; chips <em>now</em>.</p><p>Alt: <img alt=\"a > b\" src=\"/x\">next &lt;tag&gt; &#8212; &#x2014;</p>";
        assert_eq!(
            plain_text(html, 300),
            "Storm Fish & chips now. Alt: next <tag> — —"
        );
        assert_eq!(plain_text("<p>one two three four</p>", 9), "one two…");
        assert_eq!(plain_text("<p>abcdefghij</p>", 4), "abcd…");
        assert_eq!(plain_text("", 10), "");
        assert_eq!(decode_entities("a &unknown; b & c"), "a &unknown; b & c");
    }

    #[test]
    fn json_ld_cannot_close_its_script_element() {
        let v = serde_json::json!({ "headline": "</script><script>alert(1)</script> & <!--" });
        let out = script_safe_json(&v).expect("json");
        assert!(!out.contains('<') && !out.contains('>') && !out.contains('&'));
        let back: serde_json::Value = serde_json::from_str(&out).expect("still JSON");
        assert_eq!(back, v, "the escapes mean the same text");
    }
}
