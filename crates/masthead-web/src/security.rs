//! Cross-site request refusal and the security headers every response carries.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::SiteError;

/// The page's Content-Security-Policy: everything from this origin only
/// (pages are self-contained), plus the two allow-listed video players.
const CSP: &str = "default-src 'self'; img-src 'self' data:; media-src 'self'; \
    style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; \
    frame-src https://www.youtube-nocookie.com https://player.vimeo.com; \
    base-uri 'self'; form-action 'self'; frame-ancestors 'self'; object-src 'none'";

/// Refuses state-changing requests that a browser says come from another site.
/// Browsers send `Sec-Fetch-Site` (and `Origin`) on every POST; a request from
/// a form on another site is refused before any handler runs. Non-browser
/// clients send neither and are unaffected (they carry no ambient cookies).
pub fn cross_site_refusal(method: &Method, headers: &HeaderMap) -> Option<String> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return None;
    }
    if let Some(site) = headers.get("sec-fetch-site") {
        return match site.as_bytes() {
            b"same-origin" | b"none" => None,
            _ => Some("This form was sent from another site, so it was refused. Please use the form on this site.".into()),
        };
    }
    let origin = headers.get(header::ORIGIN)?;
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://").map(|(_, rest)| rest))
        .unwrap_or("");
    if !host.is_empty() && origin_host.eq_ignore_ascii_case(host) {
        None
    } else {
        Some("This form was sent from another site, so it was refused. Please use the form on this site.".into())
    }
}

pub async fn guard(req: Request, next: Next) -> Response {
    if let Some(reason) = cross_site_refusal(req.method(), req.headers()) {
        return SiteError::Forbidden(reason).into_response();
    }
    let is_content = req.uri().path().starts_with("/content/");
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    if is_content {
        // Media files (SVG included) can never run script or load anything.
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; sandbox"),
        );
    } else if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
    }
    res
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
    fn refuses_cross_site_posts() {
        let post = Method::POST;
        assert!(cross_site_refusal(&post, &headers(&[("sec-fetch-site", "cross-site")])).is_some());
        assert!(cross_site_refusal(&post, &headers(&[("sec-fetch-site", "same-site")])).is_some());
        assert!(
            cross_site_refusal(&post, &headers(&[("sec-fetch-site", "same-origin")])).is_none()
        );
        assert!(
            cross_site_refusal(
                &post,
                &headers(&[("origin", "https://evil.example"), ("host", "news.example")])
            )
            .is_some()
        );
        assert!(
            cross_site_refusal(
                &post,
                &headers(&[("origin", "http://news.example"), ("host", "news.example")])
            )
            .is_none()
        );
        assert!(
            cross_site_refusal(&post, &headers(&[])).is_none(),
            "non-browser clients"
        );
        assert!(
            cross_site_refusal(&Method::GET, &headers(&[("sec-fetch-site", "cross-site")]))
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
