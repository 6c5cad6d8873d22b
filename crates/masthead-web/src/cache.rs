//! The public page cache: rendered pages kept per path and per audience
//! (anonymous, member, paid) with a precomputed ETag and gzip and brotli
//! bodies, so a hit is a hash lookup and a few reference-count bumps.
//!
//! The audience comes from the member cookie, looked up (one indexed read)
//! only when a request carries one: an anonymous request does no more work
//! than before. Anonymous pages are keyed by path alone; a member's by
//! `member:`, or `paid.{tier}:` for paying and comped members of a tier,
//! and the path, so a page rendered for a member is never served to anyone
//! outside that audience (a story open to chosen tiers reads differently
//! for each tier). Pages carry no personal
//! data (the account page is never cached), which is what makes one copy
//! per audience safe. Every cacheable page says `Vary: Accept-Encoding,
//! Cookie`, and a member's copy is `Cache-Control: private` so no shared
//! cache downstream keeps it.
//!
//! A members-only story under the metered paywall (`site/meter.rs`) has
//! two anonymous copies: its teaser under the path and the full page under
//! `metered:` + path. The entry remembers the story and the site's limit,
//! so a hit decides from the reader's meter cookie which copy to send
//! without rendering; both are `private`, and the cookie is set on the
//! response, never kept in the entry.
//!
//! An entry's key is the path plus only the query parameters a cached route
//! reads (`after`, `before`, `fragment`): `/?x=1` is `/`. The cache holds at
//! most a byte budget (`--page-cache-mb`, 64 MiB by default) and evicts with
//! CLOCK (a hit sets a bit; eviction passes over pages whose bit is set once,
//! clearing it), so pages read often stay and one-off ones go first.
//!
//! A page is kept from its second render on, not its first: a small table of
//! recently rendered paths (the doorkeeper) admits a path it has seen before.
//! A news archive's long tail (a crawler walking 100,000 old stories, a
//! reader opening one from a search) is read once; keeping those would spend
//! memory and two compressions per page on entries never hit, and push out
//! the pages that are. A first render is answered at once, gzipped quickly
//! when the client takes it, with the same headers a cached page carries.
//!
//! Handlers opt in by attaching [`CacheTags`] (surrogate keys) to a 200
//! response. Writes invalidate precisely through those keys (see
//! `changes.rs`). Two things age an entry on their own: the membership count
//! printed in the banner (re-rendered at most every few seconds while joins
//! arrive; scripts update open pages in between), and relative times such as
//! "5 minutes ago" (re-rendered after a minute for readers without JS).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet, VecDeque};
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

use crate::site::members::{Audience, Viewer, member_token};
use crate::site::meter::{MeterCookie, Metered};
use crate::state::AppState;

/// Surrogate keys of a page: what it shows, so a write can find it.
#[derive(Debug, Clone, Default)]
pub struct CacheTags(pub Vec<String>);

impl CacheTags {
    pub fn new(keys: impl IntoIterator<Item = String>) -> CacheTags {
        CacheTags(keys.into_iter().collect())
    }
}

/// Query parameters that some cached route reads: only these are kept in a
/// key (a route must read no other, or its pages would mix).
const KEY_PARAMS: [&str; 3] = ["after", "before", "fragment"];
/// Query parameters that make a page personal: such requests bypass the cache.
const PRIVATE_PARAMS: [&str; 2] = ["ref", "token"];
/// What a member's copy of a page says to caches downstream.
const PRIVATE_CACHE_CONTROL: &str = "private, no-cache";
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
    /// A metered story's id and the free stories it was rendered under.
    meter: Option<(i64, u32)>,
    member_count: u64,
    rendered: Instant,
    /// Set by the one request that re-renders an aged page; the others keep
    /// getting the aged copy meanwhile, so a busy page is never rendered by
    /// every connection at once.
    refreshing: AtomicBool,
    /// CLOCK's bit: read since the eviction hand last passed.
    referenced: AtomicBool,
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
    /// CLOCK's ring of keys, oldest insertion at the front. Keys removed by
    /// invalidation stay until the hand passes (or the ring is rebuilt).
    ring: VecDeque<String>,
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

/// Slots of the doorkeeper: paths rendered recently, by hash (128 KiB).
const DOORKEEPER_SLOTS: usize = 16 * 1024;

pub struct PageCache {
    enabled: AtomicBool,
    budget: usize,
    entries: RwLock<Entries>,
    /// A direct-mapped table of path hashes: a path whose hash is in its slot
    /// was rendered recently and is admitted. A collision only delays
    /// admission; it never admits a path that was not seen.
    seen: Box<[AtomicU64]>,
    pub hits: AtomicU64,
    pub misses: AtomicU64,
}

impl PageCache {
    /// A cache holding at most `budget` bytes of pages (all encodings).
    pub fn new(enabled: bool, budget: usize) -> PageCache {
        PageCache {
            enabled: AtomicBool::new(enabled),
            budget,
            entries: RwLock::new(Entries::default()),
            seen: (0..DOORKEEPER_SLOTS).map(|_| AtomicU64::new(0)).collect(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Whether a freshly rendered `path` should be kept: true from the
    /// second render within the doorkeeper's memory on. Records the path.
    fn admit(&self, path: &str) -> bool {
        let hash = fnv1a64(path.as_bytes()) | 1; // never the empty slot's 0
        let slot = &self.seen[(hash % DOORKEEPER_SLOTS as u64) as usize];
        slot.swap(hash, Ordering::Relaxed) == hash
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
        let size = page.size();
        if size > self.budget {
            return;
        }
        let mut e = self.entries.write().unwrap_or_else(|p| p.into_inner());
        e.remove(&path);
        // CLOCK: the hand passes from the front; a page read since its last
        // pass gets another round, others are dropped until the new page fits.
        // Two full turns clear every bit, so the loop ends.
        let mut turns = 2 * e.ring.len() + 1;
        while e.bytes + size > self.budget && turns > 0 {
            turns -= 1;
            let Some(k) = e.ring.pop_front() else { break };
            match e.pages.get(&k) {
                None => {}
                Some(p) if p.referenced.swap(false, Ordering::Relaxed) => e.ring.push_back(k),
                Some(_) => e.remove(&k),
            }
        }
        if e.ring.len() > 2 * e.pages.len() + 64 {
            // Mostly keys already invalidated: start the ring again.
            let live: VecDeque<String> = e.pages.keys().cloned().collect();
            e.ring = live;
        }
        for k in &page.keys {
            e.by_key.entry(k.clone()).or_default().insert(path.clone());
        }
        e.bytes += size;
        e.ring.push_back(path.clone());
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

    /// Bytes of pages held now.
    pub fn bytes(&self) -> usize {
        self.entries.read().unwrap_or_else(|p| p.into_inner()).bytes
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
pub(crate) enum Encoding {
    Identity,
    Gzip,
    Brotli,
}

/// Picks the smallest encoding the client accepts (q=0 refuses).
pub(crate) fn negotiate(headers: &HeaderMap) -> Encoding {
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

/// A page rendered for the first time and not kept: the cached page's headers
/// (so a CDN in front sees the same `Vary`, `Cache-Control` and
/// `Surrogate-Key`), and gzip at its fastest level when the client takes any
/// compression: one response does not pay for brotli's better ratio.
/// Its ETag is the cached page's for the same bytes; the fast gzip's bytes
/// differ from the kept one's, so that ETag is weak.
fn first_render(mut headers: HeaderMap, identity: Bytes, req_headers: &HeaderMap) -> Response {
    headers.insert("x-cache", HeaderValue::from_static("miss"));
    let hash = format!("{:016x}", fnv1a64(&identity));
    headers.insert(header::ETAG, quoted(&hash));
    let body = if negotiate(req_headers) == Encoding::Identity {
        identity
    } else {
        let mut gz = flate2::write::GzEncoder::new(
            Vec::with_capacity(identity.len() / 3),
            flate2::Compression::fast(),
        );
        match gz.write_all(&identity).and_then(|()| gz.finish()) {
            Ok(v) => {
                headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                if let Ok(weak) = HeaderValue::from_str(&format!("W/\"{hash}-gz\"")) {
                    headers.insert(header::ETAG, weak);
                }
                Bytes::from(v)
            }
            Err(_) => identity,
        }
    };
    let mut r = Response::new(Body::from(body));
    *r.headers_mut() = headers;
    r
}

fn quoted(tag: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{tag}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
}

/// `private`: a member's page, or a metered story's (it depends on the cookie).
fn page_headers(mut headers: HeaderMap, tags: &CacheTags, private: bool) -> HeaderMap {
    if private {
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(PRIVATE_CACHE_CONTROL),
        );
    }
    headers.remove(header::CONTENT_LENGTH);
    headers.remove(header::CONTENT_ENCODING);
    headers.remove(header::ETAG);
    headers
        .entry(header::CONTENT_TYPE)
        .or_insert_with(|| HeaderValue::from_static("text/html; charset=utf-8"));
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert_with(|| HeaderValue::from_static(crate::site::PAGE_CACHE_CONTROL));
    headers.insert(
        header::VARY,
        HeaderValue::from_static("Accept-Encoding, Cookie"),
    );
    if let Ok(v) = HeaderValue::from_str(&tags.0.join(" ")) {
        headers.insert("surrogate-key", v);
    }
    headers
}

/// The cache key of a request: the path and the parameters of [`KEY_PARAMS`]
/// in the order given. Borrowed when the request carries no other (the
/// common case costs no allocation); `None` when the request must bypass the
/// cache (a personal page, or a parameter name in an encoded form that a
/// route might decode to one it reads).
fn cache_key(pq: &str) -> Option<Cow<'_, str>> {
    let Some((path, query)) = pq.split_once('?') else {
        return Some(Cow::Borrowed(pq));
    };
    let mut kept = 0usize;
    let mut dropped = 0usize;
    for pair in query.split('&') {
        let name = pair.split_once('=').map_or(pair, |(n, _)| n);
        if name.bytes().any(|b| b == b'%' || b == b'+') || PRIVATE_PARAMS.contains(&name) {
            return None;
        }
        if KEY_PARAMS.contains(&name) {
            kept += 1;
        } else {
            dropped += 1;
        }
    }
    if dropped == 0 {
        return Some(Cow::Borrowed(pq));
    }
    let mut key = String::with_capacity(pq.len());
    key.push_str(path);
    for pair in query.split('&') {
        let name = pair.split_once('=').map_or(pair, |(n, _)| n);
        if KEY_PARAMS.contains(&name) {
            key.push(if key.len() == path.len() { '?' } else { '&' });
            key.push_str(pair);
        }
    }
    debug_assert!(kept > 0 || key == path);
    Some(Cow::Owned(key))
}

/// Middleware: serves cacheable GETs from the cache, and fills it. It sits
/// outside the site's other layers, so a hit does no more than this.
pub async fn page_cache(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let cache = &state.cache;
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return next.run(req).await;
    }
    // The reader, for handlers and for the key: a lookup only with the cookie.
    let viewer = if member_token(req.headers()).is_some() {
        crate::site::members::viewer(&state, req.headers()).await
    } else {
        Viewer::default()
    };
    let audience = viewer.audience();
    req.extensions_mut().insert(viewer);
    let meter_cookie = if audience == Audience::Anonymous {
        let raw = crate::site::meter::cookie_value(req.headers()).map(std::sync::Arc::<str>::from);
        req.extensions_mut().insert(MeterCookie(raw.clone()));
        raw
    } else {
        None
    };
    if !cache.enabled() {
        let mut res = metered(next.run(req).await);
        if audience != Audience::Anonymous && res.extensions().get::<CacheTags>().is_some() {
            res.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static(PRIVATE_CACHE_CONTROL),
            );
        }
        return res;
    }
    let Some(path) = req
        .uri()
        .path_and_query()
        .and_then(|pq| cache_key(pq.as_str()))
    else {
        return metered(next.run(req).await);
    };
    let base = match audience {
        Audience::Anonymous => path,
        Audience::Member => Cow::Owned(format!("member:{path}")),
        Audience::Paid { tier: None } => Cow::Owned(format!("paid:{path}")),
        Audience::Paid { tier: Some(t) } => Cow::Owned(format!("paid.{t}:{path}")),
    };
    // axum empties a HEAD response's body inside the router, before this
    // layer sees it: HEAD may be answered from the cache but never fills it.
    let head = req.method() == Method::HEAD;
    let count = state.member_count.load(Ordering::Relaxed);
    let mut path = base.clone();
    let mut aged = cache.get(&path);
    let mut set_cookie = None;
    if audience == Audience::Anonymous {
        // A metered story: which copy this reader gets is their meter's call.
        let gate = match &aged {
            Some(page) => page.meter,
            None => cache.get(&metered_key(&base)).and_then(|p| p.meter),
        };
        if let Some((story, limit)) = gate {
            let m = crate::site::meter::decide(&state, meter_cookie.as_deref(), story, limit).await;
            if m.full {
                path = Cow::Owned(metered_key(&base));
                aged = cache.get(&path);
            }
            set_cookie = m.set_cookie;
        }
    }
    if let Some(page) = &aged {
        let age = page.rendered.elapsed();
        let fresh = age < MAX_AGE && (page.member_count == count || age < COUNT_GRACE);
        // Aged (not invalidated) pages are served while one request renders anew.
        if fresh || head || page.refreshing.swap(true, Ordering::AcqRel) {
            cache.hits.fetch_add(1, Ordering::Relaxed);
            if !page.referenced.load(Ordering::Relaxed) {
                page.referenced.store(true, Ordering::Relaxed);
            }
            let mut res = respond(page, req.headers(), true);
            with_cookie(&mut res, set_cookie);
            return res;
        }
    }
    cache.misses.fetch_add(1, Ordering::Relaxed);
    if head {
        return metered(next.run(req).await);
    }
    let base = base.into_owned();
    let looked_up = path.into_owned();
    let req_headers = req.headers().clone();
    let mut res = next.run(req).await;
    // The story page's own decision (the same inputs as above) names the copy.
    let meter = res.extensions_mut().remove::<Metered>();
    let path = match &meter {
        Some(m) if m.full => metered_key(&base),
        Some(_) => base,
        None => looked_up.clone(),
    };
    let mut aged = aged;
    if path != looked_up
        && let Some(page) = aged.take()
    {
        // Rendered for the other copy after all: the one looked up may refresh.
        page.refreshing.store(false, Ordering::Release);
    }
    let tags = res.extensions().get::<CacheTags>().cloned();
    let Some(tags) = tags.filter(|_| res.status() == StatusCode::OK) else {
        // Not cacheable this time: let the next request try to refresh.
        if let Some(page) = aged {
            page.refreshing.store(false, Ordering::Release);
        }
        return finish_metered(res, meter);
    };
    let private = audience != Audience::Anonymous || meter.is_some();
    let set_cookie = meter.as_ref().and_then(|m| m.set_cookie.clone());
    // A page already held (aged) is kept again; a new one on its second render.
    let keep = aged.is_some() || cache.admit(&path);
    let (parts, body) = res.into_parts();
    let identity = match to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "reading a rendered page failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    if !keep {
        let mut res = first_render(
            page_headers(parts.headers, &tags, private),
            identity,
            &req_headers,
        );
        with_cookie(&mut res, set_cookie);
        return res;
    }
    let (gzip, brotli) = compress(&identity);
    let hash = format!("{:016x}", fnv1a64(&identity));
    let (etag, etag_gzip, etag_brotli) = (
        quoted(&hash),
        quoted(&format!("{hash}-gz")),
        quoted(&format!("{hash}-br")),
    );
    let headers = page_headers(parts.headers, &tags, private);
    let page = CachedPage {
        hit_headers: hit_headers(&headers, [&etag, &etag_gzip, &etag_brotli]),
        etag,
        etag_gzip,
        etag_brotli,
        headers,
        keys: tags.0,
        meter: meter.map(|m| (m.story, m.limit)),
        member_count: count,
        rendered: Instant::now(),
        refreshing: AtomicBool::new(false),
        referenced: AtomicBool::new(false),
        identity,
        gzip,
        brotli,
    };
    let mut res = respond(&page, &req_headers, false);
    with_cookie(&mut res, set_cookie);
    cache.insert(path, page);
    res
}

/// The cache key of a metered story's full copy.
fn metered_key(path: &str) -> String {
    format!("metered:{path}")
}

fn with_cookie(res: &mut Response, cookie: Option<HeaderValue>) {
    if let Some(c) = cookie {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
}

/// A response that bypassed the cache: a metered story's is private and
/// carries the reader's updated meter.
fn metered(mut res: Response) -> Response {
    let meter = res.extensions_mut().remove::<Metered>();
    finish_metered(res, meter)
}

fn finish_metered(mut res: Response, meter: Option<Metered>) -> Response {
    if let Some(m) = meter {
        res.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(PRIVATE_CACHE_CONTROL),
        );
        with_cookie(&mut res, m.set_cookie);
    }
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

    #[test]
    fn the_doorkeeper_admits_a_path_on_its_second_render() {
        let c = PageCache::new(true, 1 << 20);
        assert!(!c.admit("/old-story/"), "first render: not kept");
        assert!(c.admit("/old-story/"), "second render: kept");
        // Another path does not admit this one, and is not admitted by it.
        assert!(!c.admit("/another-story/"));
        assert!(c.admit("/old-story/"));
        // A long tail of paths read once each admits none of them.
        let admitted = (0..50_000)
            .filter(|i| c.admit(&format!("/archive-{i}/")))
            .count();
        assert_eq!(admitted, 0);
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
            meter: None,
            member_count: 0,
            rendered: Instant::now(),
            refreshing: AtomicBool::new(false),
            referenced: AtomicBool::new(false),
        }
    }

    #[test]
    fn invalidates_by_surrogate_key_only() {
        let c = PageCache::new(true, 1 << 20);
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

    #[test]
    fn keys_keep_only_the_parameters_routes_read() {
        let k = |s| cache_key(s).map(|c| c.into_owned());
        assert_eq!(k("/"), Some("/".into()));
        assert!(matches!(cache_key("/"), Some(Cow::Borrowed(_))));
        assert!(matches!(cache_key("/?after=1.2"), Some(Cow::Borrowed(_))));
        assert_eq!(k("/?x=1"), Some("/".into()));
        assert_eq!(k("/?"), Some("/".into()));
        assert_eq!(
            k("/tag/a/?utm_source=x&after=5.1&fbclid=y"),
            Some("/tag/a/?after=5.1".into())
        );
        assert_eq!(k("/live/?before=9.9&x"), Some("/live/?before=9.9".into()));
        assert_eq!(
            k("/?after=1&fragment=1&z=0"),
            Some("/?after=1&fragment=1".into())
        );
        // Personal, or a name a route might decode to one it reads: not cached.
        assert_eq!(k("/members/check/?ref=abc"), None);
        assert_eq!(k("/members/?token=abc&action=signin"), None);
        assert_eq!(k("/?aft%65r=1"), None);
    }

    fn sized(n: usize) -> CachedPage {
        let mut p = page(&["site"]);
        p.identity = Bytes::from(vec![b'x'; n]);
        p
    }

    #[test]
    fn the_budget_holds_and_pages_read_often_stay() {
        // Room for three pages of 1,000 bytes (plus bookkeeping).
        let c = PageCache::new(true, 3 * 1_256);
        c.insert("/a".into(), sized(1_000));
        c.insert("/b".into(), sized(1_000));
        c.insert("/c".into(), sized(1_000));
        // "/a" is read: the hand passes it over and drops "/b", the oldest unread.
        c.get("/a")
            .expect("a")
            .referenced
            .store(true, Ordering::Relaxed);
        c.insert("/d".into(), sized(1_000));
        assert!(c.get("/a").is_some() && c.get("/b").is_none());
        assert!(c.get("/c").is_some() && c.get("/d").is_some());
        for i in 0..100 {
            c.insert(format!("/n{i}"), sized(1_000));
            assert!(c.bytes() <= 3 * 1_256, "over budget after {i}");
        }
        assert_eq!(c.len(), 3);
        // A page bigger than the whole budget is not kept at all.
        c.insert("/huge".into(), sized(10_000));
        assert!(c.get("/huge").is_none());
        let e = c.entries.read().expect("lock");
        assert!(e.ring.len() <= 2 * e.pages.len() + 64);
    }
}
