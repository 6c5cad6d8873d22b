//! `/media/{key}/{width}.{ext}`: the re-encoded widths of library images.
//!
//! The key is part of the SHA-256 of the upload, so a name always means the
//! same bytes: files are cached for a year and marked immutable. Only the
//! generated files are reachable; the original and the `info` file are not.
//! The bytes come from the media store (a directory or an S3 bucket): readers
//! see the same addresses and headers either way.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::SiteError;
use crate::media_store::MediaStoreError;
use crate::state::AppState;

/// The content type of a servable file name (`{width}.{webp|jpg|png}`).
fn servable(name: &str) -> Option<&'static str> {
    let (width, ext) = name.split_once('.')?;
    let digits = !width.is_empty() && width.len() <= 5 && width.bytes().all(|b| b.is_ascii_digit());
    if !digits || width.starts_with('0') {
        return None;
    }
    match ext {
        "webp" => Some("image/webp"),
        "jpg" => Some("image/jpeg"),
        "png" => Some("image/png"),
        _ => None,
    }
}

fn valid_key(key: &str) -> bool {
    key.len() == 20 && key.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

pub async fn file(
    State(state): State<AppState>,
    Path((key, name)): Path<(String, String)>,
) -> Response {
    let Some(content_type) = servable(&name).filter(|_| valid_key(&key)) else {
        return SiteError::NotFound.into_response();
    };
    let path = format!("{key}/{name}");
    match state.config.media.get(&path).await {
        Ok(bytes) => {
            let mut res = (StatusCode::OK, bytes).into_response();
            let h = res.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            );
            h.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            if let Ok(v) = HeaderValue::from_str(&format!("\"{key}-{name}\"")) {
                h.insert(header::ETAG, v);
            }
            res
        }
        Err(MediaStoreError::NotFound) => SiteError::NotFound.into_response(),
        Err(e) => {
            // A store that is down is not a missing file: say "try again"
            // (and keep caches from remembering a 404 for a year).
            tracing::error!(error = %e, %path, "media store unavailable");
            let mut res = SiteError::Unavailable.into_response();
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
            res
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_generated_widths_are_servable() {
        assert_eq!(servable("640.webp"), Some("image/webp"));
        assert_eq!(servable("2400.jpg"), Some("image/jpeg"));
        assert_eq!(servable("320.png"), Some("image/png"));
        for bad in [
            "original.jpg",
            "info",
            "640.gif",
            "0640.webp",
            ".webp",
            "640.webp.html",
            "123456.jpg",
            "../info",
            "640.JPG",
        ] {
            assert_eq!(servable(bad), None, "{bad}");
        }
        assert!(valid_key("0123456789abcdef0123"));
        assert!(!valid_key("0123456789ABCDEF0123"));
        assert!(!valid_key("../../../etc/passwd!"));
        assert!(!valid_key("0123"));
    }
}
