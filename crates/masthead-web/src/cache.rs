//! The public page cache: rendered pages kept per path (and, later, per
//! audience) with a precomputed ETag and gzip and brotli bodies, so a hit is a
//! hash lookup and a few reference-count bumps.
//!
//! Handlers opt in by attaching [`CacheTags`] (surrogate keys) to a 200
//! response. Writes invalidate precisely through those keys (see
//! `changes.rs`). Two things age an entry on their own: the membership count
//! printed in the banner (re-rendered at most every few seconds while joins
//! arrive; scripts update open pages in between), and relative times such as
//! "5 minutes ago" (re-rendered after a minute for readers without JS).

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use masthead_domain::digest::fnv1a64;

use crate::state::AppState;

/// Surrogate keys of a page: what it shows, so a write can find it.
#[derive(Debug, Clone, Default)]
pub struct CacheTags(pub Vec<String>);

impl CacheTags {
    pub fn new(keys: impl IntoIterator<Item = String>) -> CacheTags {
        CacheTags(keys.into_iter().collect())
    }
}

/// Most bytes (all encodings) the cache holds before it evicts.
const BUDGET_BYTES: usize = 24 * 1024 * 1024;
/// Pages print relative times; re-render after this for readers without JS.
const MAX_AGE: Duration = Duration::from_secs(60);
/// While members join, a page's printed count may lag by this much.
const COUNT_GRACE: Duration = Duration::from_secs(5);
/// Biggest page body worth caching.
const MAX_BODY: usize = 4 * 1024 * 1024;

pub struct CachedPage {
    identity: Bytes,
    gzip: Bytes,
    brotli: Bytes,
    etag: HeaderValue,
    etag_gzip: HeaderValue,
    etag_brotli: HeaderValue,
    /// The rendered response's headers (type, caching, security), plus
    /// `Vary` and `Surrogate-Key`: cloned whole on every hit.
    headers: HeaderMap,
    /// The same, completed for a hit in each encoding (ETag, Content-Encoding,
    /// `X-Cache: hit`), so that a hit clones one map and inserts nothing.
    hit_headers: [HeaderMap; 3],
    keys: Vec<String>,
    member_count: u64,
    rendered: Instant,
    /// Set by the one request that re-renders an aged page; the others keep
    /// getting the aged copy meanwhile, so a busy page is never rendered by
    /// every connection at once.
    refreshing: AtomicBool,
}

impl CachedPage {
    fn size(&self) -> usize {
        self.identity.len() + self.gzip.len() + self.brotli.len() + 256
    }
}

#[derive(Default)]
struct Entries {
    pages: HashMap<String, std::sync::Arc<CachedPage>>,
    by_key: HashMap<String, HashSet<String>>,
    bytes: usize,
}

impl Entries {
    fn remove(&mut self, path: &str) {
        if let Some(page) = self.pages.remove(path) {
            self.bytes = self.bytes.saturating_sub(page.size());
            for k in &page.keys {
                if let Some(set) = self.by_key.get_mut(k) {
                    set.remove(path);
                    if set.is_empty() {
                        self.by_key.remove(k);
                    }
                }
            }
        }
    }
}

pub struct PageCache {
    enabled: AtomicBool,
    entries: RwLock<Entries>,
    pub hits: AtomicU64,
    pub misses: AtomicU64,
}

impl PageCache {
    pub fn new(enabled: bool) -> PageCache {
        PageCache {
            enabled: AtomicBool::new(enabled),
            entries: RwLock::new(Entries::default()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    fn get(&self, path: &str) -> Option<std::sync::Arc<CachedPage>> {
        self.entries
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .pages
            .get(path)
            .cloned()
    }

    fn insert(&self, path: String, page: CachedPage) {
        let mut e = self.entries.write().unwrap_or_else(|p| p.into_inner());
        e.remove(&path);
        let size = page.size();
        if e.bytes + size > BUDGET_BYTES {
            // Evict about a quarter, oldest first: cheap and rare.
            let mut ages: Vec<(Instant, String)> = e
                .pages
                .iter()
                .map(|(k, v)| (v.rendered, k.clone()))
                .collect();
            ages.sort();
            let n = (ages.len() / 4).max(1);
            for (_, k) in ages.into_iter().take(n) {
                e.remove(&k);
            }
        }
        for k in &page.keys {
            e.by_key.entry(k.clone()).or_default().insert(path.clone());
        }
        e.bytes += size;
        e.pages.insert(path, std::sync::Arc::new(page));
    }

    /// Drops every page tagged with any of `keys`.
    pub fn invalidate(&self, keys: &[String]) {
        let mut e = self.entries.write().unwrap_or_else(|p| p.into_inner());
        let paths: Vec<String> = keys
            .iter()
            .filter_map(|k| e.by_key.get(k))
            .flat_map(|set| set.iter().cloned())
            .collect();
        for p in paths {
            e.remove(&p);
        }
    }

    pub fn clear(&self) {
        *self.entries.write().unwrap_or_else(|p| p.into_inner()) = Entries::default();
    }

    pub fn len(&self) -> usize {
        self.entries
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .pages
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Encoding {
    Identity,
    Gzip,
    Brotli,
}

/// Picks the smallest encoding the client accepts (q=0 refuses).
fn negotiate(headers: &HeaderMap) -> Encoding {
    let Some(accept) = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
    else {
        return Encoding::Identity;
    };
    let mut br = false;
    let mut gz = false;
    for part in accept.split(',') {
        let mut it = part.split(';');
        let name = it.next().unwrap_or("").trim();
        let refused = it.any(|p| {
            p.trim()
                .strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        if refused {
            continue;
        }
        if name.eq_ignore_ascii_case("br") {
            br = true;
        } else if name.eq_ignore_ascii_case("gzip") || name == "*" {
            gz = true;
        }
    }
    if br {
        Encoding::Brotli
    } else if gz {
        Encoding::Gzip
    } else {
        Encoding::Identity
    }
}

fn etag_matches(headers: &HeaderMap, page: &CachedPage) -> bool {
    let Some(inm) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    inm.split(',')
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| {
            t == "*"
                || t.as_bytes() == page.etag.as_bytes()
                || t.as_bytes() == page.etag_gzip.as_bytes()
                || t.as_bytes() == page.etag_brotli.as_bytes()
        })
}

/// The headers of a hit in each encoding, in `Encoding::index` order.
fn hit_headers(base: &HeaderMap, etags: [&HeaderValue; 3]) -> [HeaderMap; 3] {
    [0, 1, 2].map(|i| {
        let mut h = base.clone();
        h.insert(header::ETAG, etags[i].clone());
        h.insert("x-cache", HeaderValue::from_static("hit"));
        match i {
            1 => {
                h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
            2 => {
                h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("br"));
            }
            _ => {}
        }
        h
    })
}

fn respond(page: &CachedPage, req_headers: &HeaderMap, hit: bool) -> Response {
    let encoding = negotiate(req_headers);
    let (body, etag, content_encoding, index) = match encoding {
        Encoding::Brotli => (&page.brotli, &page.etag_brotli, Some("br"), 2),
        Encoding::Gzip => (&page.gzip, &page.etag_gzip, Some("gzip"), 1),
        Encoding::Identity => (&page.identity, &page.etag, None, 0),
    };
    if hit && req_headers.get(header::IF_NONE_MATCH).is_none() {
        // The common case: one clone, no inserts.
        let mut r = Response::new(Body::from(body.clone()));
        *r.headers_mut() = page.hit_headers[index].clone();
        return r;
    }
    let mut res = if etag_matches(req_headers, page) {
        let mut r = StatusCode::NOT_MODIFIED.into_response();
        *r.headers_mut() = page.headers.clone();
        r.headers_mut().remove(header::CONTENT_TYPE);
        r
    } else {
        let mut r = Response::new(Body::from(body.clone()));
        *r.headers_mut() = page.headers.clone();
        r
    };
    let h = res.headers_mut();
    h.insert(header::ETAG, etag.clone());
    h.insert(
        "x-cache",
        HeaderValue::from_static(if hit { "hit" } else { "miss" }),
    );
    if let Some(enc) = content_encoding {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(enc));
    }
    res
}

fn compress(body: &[u8]) -> (Bytes, Bytes) {
    let mut gz = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 3),
        flate2::Compression::new(6),
    );
    let gzip = match gz.write_all(body).and_then(|()| gz.finish()) {
        Ok(v) => Bytes::from(v),
        Err(_) => Bytes::new(),
    };
    let mut br = Vec::with_capacity(body.len() / 3);
    let params = brotli::enc::BrotliEncoderParams {
        quality: 5,
        lgwin: 19,
        ..Default::default()
    };
    let brotli = match brotli::BrotliCompress(&mut &body[..], &mut br, &params) {
        Ok(_) => Bytes::from(br),
        Err(_) => Bytes::new(),
    };
    (gzip, brotli)
}

fn quoted(tag: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{tag}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
}

fn page_headers(mut headers: HeaderMap, tags: &CacheTags) -> HeaderMap {
    headers.remove(header::CONTENT_LENGTH);
    headers.remove(header::CONTENT_ENCODING);
    headers.remove(header::ETAG);
    headers
        .entry(header::CONTENT_TYPE)
        .or_insert_with(|| HeaderValue::from_static("text/html; charset=utf-8"));
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert_with(|| HeaderValue::from_static(crate::site::PAGE_CACHE_CONTROL));
    headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if let Ok(v) = HeaderValue::from_str(&tags.0.join(" ")) {
        headers.insert("surrogate-key", v);
    }
    headers
}

/// Middleware: serves cacheable GETs from the cache, and fills it. It sits
/// outside the site's other layers, so a hit does no more than this.
pub async fn page_cache(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let cache = &state.cache;
    if !cache.enabled() || (req.method() != Method::GET && req.method() != Method::HEAD) {
        return next.run(req).await;
    }
    let Some(path) = req.uri().path_and_query().map(|pq| pq.as_str()) else {
        return next.run(req).await;
    };
    // axum empties a HEAD response's body inside the router, before this
    // layer sees it: HEAD may be answered from the cache but never fills it.
    let head = req.method() == Method::HEAD;
    let count = state.member_count.load(Ordering::Relaxed);
    let aged = cache.get(path);
    if let Some(page) = &aged {
        let age = page.rendered.elapsed();
        let fresh = age < MAX_AGE && (page.member_count == count || age < COUNT_GRACE);
        // Aged (not invalidated) pages are served while one request renders anew.
        if fresh || head || page.refreshing.swap(true, Ordering::AcqRel) {
            cache.hits.fetch_add(1, Ordering::Relaxed);
            return respond(page, req.headers(), true);
        }
    }
    cache.misses.fetch_add(1, Ordering::Relaxed);
    if head {
        return next.run(req).await;
    }
    let path = path.to_owned();
    let req_headers = req.headers().clone();
    let res = next.run(req).await;
    let tags = res.extensions().get::<CacheTags>().cloned();
    let Some(tags) = tags.filter(|_| res.status() == StatusCode::OK) else {
        // Not cacheable this time: let the next request try to refresh.
        if let Some(page) = aged {
            page.refreshing.store(false, Ordering::Release);
        }
        return res;
    };
    let (parts, body) = res.into_parts();
    let identity = match to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "reading a rendered page failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let (gzip, brotli) = compress(&identity);
    let hash = format!("{:016x}", fnv1a64(&identity));
    let (etag, etag_gzip, etag_brotli) = (
        quoted(&hash),
        quoted(&format!("{hash}-gz")),
        quoted(&format!("{hash}-br")),
    );
    let headers = page_headers(parts.headers, &tags);
    let page = CachedPage {
        hit_headers: hit_headers(&headers, [&etag, &etag_gzip, &etag_brotli]),
        etag,
        etag_gzip,
        etag_brotli,
        headers,
        keys: tags.0,
        member_count: count,
        rendered: Instant::now(),
        refreshing: AtomicBool::new(false),
        identity,
        gzip,
        brotli,
    };
    let res = respond(&page, &req_headers, false);
    cache.insert(path, page);
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(accept: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(accept).expect("header"),
        );
        m
    }

    #[test]
    fn negotiates_the_best_accepted_encoding() {
        assert_eq!(negotiate(&HeaderMap::new()), Encoding::Identity);
        assert_eq!(negotiate(&h("gzip, deflate, br")), Encoding::Brotli);
        assert_eq!(negotiate(&h("gzip")), Encoding::Gzip);
        assert_eq!(negotiate(&h("br;q=0, gzip")), Encoding::Gzip);
        assert_eq!(negotiate(&h("identity")), Encoding::Identity);
        assert_eq!(negotiate(&h("*")), Encoding::Gzip);
    }

    #[test]
    fn compression_round_trips() {
        let body = "<p>news</p>".repeat(500);
        let (gz, br) = compress(body.as_bytes());
        assert!(gz.len() < body.len() / 5 && br.len() < body.len() / 5);
        let mut out = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut out)
            .expect("gunzip");
        assert_eq!(out, body);
        let mut out = Vec::new();
        brotli::BrotliDecompress(&mut &br[..], &mut out).expect("unbrotli");
        assert_eq!(out, body.as_bytes());
    }

    fn page(keys: &[&str]) -> CachedPage {
        CachedPage {
            identity: Bytes::from_static(b"x"),
            gzip: Bytes::new(),
            brotli: Bytes::new(),
            etag: quoted("a"),
            etag_gzip: quoted("a-gz"),
            etag_brotli: quoted("a-br"),
            headers: HeaderMap::new(),
            hit_headers: [HeaderMap::new(), HeaderMap::new(), HeaderMap::new()],
            keys: keys.iter().map(|k| (*k).to_owned()).collect(),
            member_count: 0,
            rendered: Instant::now(),
            refreshing: AtomicBool::new(false),
        }
    }

    #[test]
    fn invalidates_by_surrogate_key_only() {
        let c = PageCache::new(true);
        c.insert("/".into(), page(&["feed", "site"]));
        c.insert("/a/".into(), page(&["post-1", "site"]));
        c.insert("/b/".into(), page(&["post-2", "site"]));
        c.invalidate(&["post-1".to_owned()]);
        assert!(c.get("/a/").is_none());
        assert!(c.get("/").is_some() && c.get("/b/").is_some());
        c.invalidate(&["site".to_owned()]);
        assert!(c.is_empty());
        let e = c.entries.read().expect("lock");
        assert!(e.by_key.is_empty() && e.bytes == 0, "bookkeeping emptied");
    }
}
