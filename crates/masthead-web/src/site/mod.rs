//! The reader's site: one module per kind of page.

pub mod assets;
pub mod feed;
pub mod feeds;
pub mod join;
pub mod live;
pub mod media;
pub mod members;
pub mod meter;
pub mod post;
pub mod search;
pub mod seo;
pub mod sitemap;
pub mod unsubscribe;
pub mod xml;

use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};

use crate::cache::CacheTags;

/// Public HTML: browsers and CDNs may keep it briefly and must revalidate.
pub const PAGE_CACHE_CONTROL: &str = "public, max-age=0, s-maxage=30, must-revalidate";

/// A public page, tagged with what it shows so writes can invalidate it.
pub fn html_page(html: String, tags: CacheTags) -> Response {
    let mut res = Html(html).into_response();
    res.extensions_mut().insert(tags);
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(PAGE_CACHE_CONTROL),
    );
    // Pages may differ by audience (a members-only story read in full).
    res.headers_mut().insert(
        header::VARY,
        HeaderValue::from_static("Accept-Encoding, Cookie"),
    );
    res
}
