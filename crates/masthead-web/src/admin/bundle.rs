//! The rich-text editor's script: built from `editor/` by
//! `scripts/build-editor.sh` into `admin/editor.js`, embedded in the binary
//! (so running Masthead needs no Node) and served at an address carrying its
//! content hash, cached for a year. Only the editor page links it.
//!
//! It is compressed once, on first request (gzip at its best setting,
//! brotli at quality 9); every later request gets those bytes.

use std::io::Write;
use std::sync::OnceLock;

use axum::extract::Query;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::cache::{Encoding, negotiate};

const SCRIPT: &str = include_str!("../../admin/editor.js");

struct Bundle {
    /// The first 16 hex digits of the script's SHA-256.
    hash: String,
    identity: Bytes,
    gzip: Bytes,
    brotli: Bytes,
}

fn compress(body: &[u8]) -> (Bytes, Bytes) {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let gzip = match gz.write_all(body).and_then(|()| gz.finish()) {
        Ok(v) => Bytes::from(v),
        Err(_) => Bytes::new(),
    };
    let mut br = Vec::new();
    // Quality 9: within a few per cent of 11 at a fraction of the time.
    let params = brotli::enc::BrotliEncoderParams {
        quality: 9,
        lgwin: 22,
        ..Default::default()
    };
    let brotli = match brotli::BrotliCompress(&mut &body[..], &mut br, &params) {
        Ok(_) => Bytes::from(br),
        Err(_) => Bytes::new(),
    };
    (gzip, brotli)
}

fn hash_of(body: &[u8]) -> String {
    Sha256::digest(body)
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

static HASH: OnceLock<String> = OnceLock::new();
static BUNDLE: OnceLock<Bundle> = OnceLock::new();

fn bundle() -> &'static Bundle {
    BUNDLE.get_or_init(|| {
        let (gzip, brotli) = compress(SCRIPT.as_bytes());
        Bundle {
            hash: script_hash().to_owned(),
            identity: Bytes::from_static(SCRIPT.as_bytes()),
            gzip,
            brotli,
        }
    })
}

fn script_hash() -> &'static str {
    HASH.get_or_init(|| hash_of(SCRIPT.as_bytes()))
}

/// The address the editor page links: changes whenever the script does.
pub fn script_url() -> String {
    format!("/admin/editor.js?v={}", script_hash())
}

#[derive(Deserialize)]
pub struct Version {
    #[serde(default)]
    v: String,
}

/// `/admin/editor.js?v={hash}`. Another hash (a page from before an upgrade)
/// still gets the script, but only for a minute.
pub async fn script(Query(q): Query<Version>, headers: HeaderMap) -> Response {
    let b = bundle();
    let (body, encoding) = match negotiate(&headers) {
        Encoding::Brotli if !b.brotli.is_empty() => (b.brotli.clone(), Some("br")),
        Encoding::Brotli | Encoding::Gzip if !b.gzip.is_empty() => (b.gzip.clone(), Some("gzip")),
        _ => (b.identity.clone(), None),
    };
    let mut res = (StatusCode::OK, body).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if q.v == b.hash {
            "public, max-age=31536000, immutable"
        } else {
            "public, max-age=60"
        }),
    );
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if let Some(enc) = encoding {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(enc));
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn compressed_forms_decode_to_the_script() {
        let b = bundle();
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&b.gzip[..])
            .read_to_end(&mut out)
            .expect("gzip");
        assert_eq!(out, SCRIPT.as_bytes());
        let mut out = Vec::new();
        brotli::BrotliDecompress(&mut &b.brotli[..], &mut out).expect("brotli");
        assert_eq!(out, SCRIPT.as_bytes());
    }

    /// The issue's budget: under 250 KB compressed, whichever encoding.
    #[test]
    fn stays_under_the_size_budget() {
        let b = bundle();
        eprintln!(
            "editor bundle: {} bytes, gzip {} bytes, brotli {} bytes",
            b.identity.len(),
            b.gzip.len(),
            b.brotli.len()
        );
        assert!(b.gzip.len() < 250 * 1024, "gzip: {} bytes", b.gzip.len());
        assert!(
            b.brotli.len() < 250 * 1024,
            "brotli: {} bytes",
            b.brotli.len()
        );
        assert!(script_url().ends_with(&b.hash));
    }
}
