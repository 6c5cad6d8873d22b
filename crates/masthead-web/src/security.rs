//! Cross-site request refusal and the security headers every response carries.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::SiteError;
use crate::state::AppState;

/// The page's Content-Security-Policy: everything from this origin only
/// (pages are self-contained), plus the two allow-listed video players.
const CSP: &str = "default-src 'self'; img-src 'self' data:; media-src 'self'; \
    style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; \
    frame-src https://www.youtube-nocookie.com https://player.vimeo.com; \
    base-uri 'self'; form-action 'self'; frame-ancestors 'self'; object-src 'none'";

/// The pages whose forms send the reader on to Stripe (Checkout, the
/// billing portal): the form posts here and the answer redirects there,
/// and browsers check `form-action` against every redirect of a form's
/// submission. Only Stripe's two hosts are added.
const PAYMENT_CSP: &str = "default-src 'self'; img-src 'self' data:; media-src 'self'; \
    style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; \
    frame-src https://www.youtube-nocookie.com https://player.vimeo.com; \
    base-uri 'self'; form-action 'self' https://checkout.stripe.com https://billing.stripe.com; \
    frame-ancestors 'self'; object-src 'none'";

/// Paths of the pages that hold payment forms (see [`PAYMENT_CSP`]).
fn holds_payment_forms(path: &str) -> bool {
    ["/subscribe/", "/account/", "/support/"]
        .iter()
        .any(|p| path.starts_with(p))
}

/// Uploaded and demo media (SVG included) can never run script, load
/// anything or be framed by another site.
const CONTENT_CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; sandbox; frame-ancestors 'self'";

/// Browser features a news site never uses, denied to the page and to every
/// frame in it (the video players ask for none of these). Payments, when they
/// come, go through a redirect to the payment provider's checkout page, which
/// this header does not govern. `interest-cohort` (FLoC) is left out: it is
/// retired and Chromium reports it as an error in the console.
const PERMISSIONS_POLICY: &str = "camera=(), microphone=(), geolocation=(), payment=(), \
    usb=(), browsing-topics=()";

/// A year, subdomains included: only sent when the public address is https
/// (browsers ignore it over plain HTTP, and a site reached only over http
/// must not promise otherwise).
const HSTS: &str = "max-age=31536000; includeSubDomains";

const REFUSED: &str =
    "This form was sent from another site, so it was refused. Please use the form on this site.";

/// Refuses state-changing requests that a browser says come from another site.
/// Browsers send `Sec-Fetch-Site` (and `Origin`) on every POST; a request from
/// a form on another site is refused before any handler runs. Without
/// `Sec-Fetch-Site`, `Origin` must be the site's public origin (`Host` is the
/// client's to choose, so it proves nothing). Non-browser clients send
/// neither and are unaffected (they carry no ambient cookies).
pub fn cross_site_refusal(
    method: &Method,
    headers: &HeaderMap,
    public_origin: &str,
) -> Option<&'static str> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return None;
    }
    if let Some(site) = headers.get("sec-fetch-site") {
        return match site.as_bytes() {
            b"same-origin" | b"none" => None,
            _ => Some(REFUSED),
        };
    }
    let origin = headers.get(header::ORIGIN)?;
    if origin
        .as_bytes()
        .eq_ignore_ascii_case(public_origin.as_bytes())
    {
        None
    } else {
        Some(REFUSED)
    }
}

/// The one state-changing route a browser may reach from another site: the
/// RFC 8058 one-click unsubscribe, which mail clients (webmail included)
/// post from wherever they are, without cookies. Its signed token is its
/// authority (`site/unsubscribe.rs`), so a cross-site origin proves nothing.
fn cross_site_allowed(req: &Request) -> bool {
    req.method() == Method::POST && req.uri().path() == "/unsubscribe/"
}

pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if cross_site_allowed(&req) {
        let mut res = next.run(req).await;
        add_headers(res.headers_mut(), false, state.config.public_url.is_https());
        return res;
    }
    if let Some(reason) = cross_site_refusal(
        req.method(),
        req.headers(),
        state.config.public_url.origin(),
    ) {
        let mut res = SiteError::Forbidden(reason.into()).into_response();
        add_headers(res.headers_mut(), false, state.config.public_url.is_https());
        return res;
    }
    let is_content = req.uri().path().starts_with("/content/");
    let payment = holds_payment_forms(req.uri().path());
    let mut res = next.run(req).await;
    if payment && !res.headers().contains_key(header::CONTENT_SECURITY_POLICY) {
        res.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(PAYMENT_CSP),
        );
    }
    add_headers(
        res.headers_mut(),
        is_content,
        state.config.public_url.is_https(),
    );
    res
}

/// The security headers, on every response the site router makes. Cache
/// hits replay a rendered response's headers, these included.
fn add_headers(h: &mut HeaderMap, is_content: bool, https: bool) {
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    h.insert(
        "permissions-policy",
        HeaderValue::from_static(PERMISSIONS_POLICY),
    );
    if https {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    if is_content {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_CSP),
        );
    } else if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn only_payment_pages_may_send_forms_on_to_stripe() {
        assert!(holds_payment_forms("/subscribe/"));
        assert!(holds_payment_forms("/account/"));
        assert!(holds_payment_forms("/support/thanks/"));
        assert!(!holds_payment_forms("/join/"));
        assert!(!holds_payment_forms("/admin/settings"));
        assert!(!CSP.contains("stripe"));
        assert_eq!(
            PAYMENT_CSP.replace(
                " https://checkout.stripe.com https://billing.stripe.com",
                ""
            ),
            CSP,
            "the payment pages' policy differs only in form-action"
        );
    }

    #[test]
    fn refuses_cross_site_posts() {
        let post = Method::POST;
        let site = "http://news.example";
        let refused = |h: &[(&'static str, &'static str)]| {
            cross_site_refusal(&post, &headers(h), site).is_some()
        };
        assert!(refused(&[("sec-fetch-site", "cross-site")]));
        assert!(refused(&[("sec-fetch-site", "same-site")]));
        assert!(!refused(&[("sec-fetch-site", "same-origin")]));
        assert!(!refused(&[("sec-fetch-site", "none")]));
        assert!(refused(&[
            ("origin", "https://evil.example"),
            ("host", "news.example")
        ]));
        assert!(!refused(&[
            ("origin", "http://news.example"),
            ("host", "news.example")
        ]));
        // The Host header is the sender's to choose: it proves nothing.
        assert!(refused(&[
            ("origin", "http://evil.example"),
            ("host", "evil.example")
        ]));
        assert!(refused(&[("origin", "null")]));
        assert!(!refused(&[]), "non-browser clients");
        assert!(
            cross_site_refusal(
                &Method::GET,
                &headers(&[("sec-fetch-site", "cross-site")]),
                site
            )
            .is_none()
        );
    }
}

/// The reader's address for throttling and logs. Behind a reverse proxy every
/// connection comes from the proxy, so when the peer is one of the
/// `trusted` proxies the address is taken from `X-Forwarded-For`: the
/// right-most entry that is not itself a trusted proxy (entries further left
/// were written by the client and prove nothing).
pub fn client_ip(
    peer: std::net::IpAddr,
    headers: &axum::http::HeaderMap,
    trusted: &[std::net::IpAddr],
) -> std::net::IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let hops: Vec<std::net::IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|h| h.trim().parse().ok())
        .collect();
    hops.into_iter()
        .rev()
        .find(|ip| !trusted.contains(ip))
        .unwrap_or(peer)
}

#[cfg(test)]
mod client_ip_tests {
    use super::client_ip;
    use axum::http::{HeaderMap, HeaderValue};
    use std::net::IpAddr;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 203.0.113.9, 10.0.0.2"),
        );
        let proxies = [ip("10.0.0.1"), ip("10.0.0.2")];
        // Direct connection: the header is the client's own words.
        assert_eq!(
            client_ip(ip("198.51.100.7"), &h, &proxies),
            ip("198.51.100.7")
        );
        // Through the proxies: the right-most untrusted hop.
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &proxies), ip("203.0.113.9"));
        // No proxies configured: never trusted.
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &[]), ip("10.0.0.1"));
        // A proxy that sent no header, or garbage: the proxy itself.
        assert_eq!(
            client_ip(ip("10.0.0.1"), &HeaderMap::new(), &proxies),
            ip("10.0.0.1")
        );
        let mut bad = HeaderMap::new();
        bad.insert(
            "x-forwarded-for",
            HeaderValue::from_static("not an address"),
        );
        assert_eq!(client_ip(ip("10.0.0.1"), &bad, &proxies), ip("10.0.0.1"));
    }
}
