//! The metered paywall on the site: an anonymous reader opens
//! `meter_free_stories` members-only stories per 30 days in full before
//! the sign-up box. The count is the signed `mh_meter` cookie
//! (`masthead_domain::meter`); nothing is stored on the server.
//!
//! The decision is per request, the pages are not: the page cache keeps a
//! metered story's teaser under its path and the full page under
//! `metered:` + path, and picks one per request ([`decide`]); the
//! `Set-Cookie` is added outside the cached bytes. Both are sent
//! `Cache-Control: private` (with `Vary: Cookie`), since which one a reader
//! gets depends on their cookie.

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, header};
use masthead_domain::meter::{COOKIE, MAX_AGE_S, Meter, derive_key};
use masthead_store::now_ms;

use crate::state::AppState;

/// The raw meter cookie of an anonymous request (set by the page cache
/// layer, parsed only for a metered story).
#[derive(Clone, Default)]
pub struct MeterCookie(pub Option<Arc<str>>);

/// What the meter decided for one request of a metered story: attached to
/// the response by the story page, read by the page cache layer.
#[derive(Clone, Debug)]
pub struct Metered {
    pub story: i64,
    /// The site's free stories when the page was rendered.
    pub limit: u32,
    /// Read in full through the meter.
    pub full: bool,
    /// The updated cookie, when it changed.
    pub set_cookie: Option<HeaderValue>,
}

/// The meter cookie's value in a request, if any.
pub fn cookie_value(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v)
}

/// The cookie signing key, derived once from the site's secret (made for
/// every instance alike, so any instance reads any instance's cookie).
async fn key(state: &AppState) -> Option<[u8; 32]> {
    let got = state
        .meter_key
        .get_or_try_init(|| async {
            crate::newsletters::secret(state)
                .await
                .map(|s| derive_key(s.as_bytes()))
        })
        .await;
    match got {
        Ok(k) => Some(*k),
        Err(e) => {
            tracing::warn!(error = %e, "reading the site secret for the meter failed");
            None
        }
    }
}

/// Whether this reader opens `story` when `limit` stories are free, and
/// the cookie to set. A missing, garbled or forged cookie counts as none
/// (and is replaced); without the key, nothing opens.
pub async fn decide(state: &AppState, raw: Option<&str>, story: i64, limit: u32) -> Metered {
    let mut out = Metered {
        story,
        limit,
        full: false,
        set_cookie: None,
    };
    let Some(key) = key(state).await else {
        return out;
    };
    let now = now_ms();
    let (meter, stale) = match raw {
        None => (Meter::default(), false),
        Some(v) => Meter::decode(&key, v, now).unwrap_or((Meter::default(), true)),
    };
    out.full = meter.opens(story, limit);
    let updated = match meter.opened(story, now) {
        Some(next) if out.full => Some(next),
        _ => stale.then_some(meter),
    };
    out.set_cookie = updated.map(|m| cookie_header(state, &m.encode(&key)));
    out
}

fn cookie_header(state: &AppState, value: &str) -> HeaderValue {
    let secure = if state.config.public_url.is_https() {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={MAX_AGE_S}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("mh_meter=; Path=/; Max-Age=0"))
}
