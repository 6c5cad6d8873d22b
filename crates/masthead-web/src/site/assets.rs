//! Theme assets, health check, and the fallback for unknown paths.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};

use crate::error::SiteError;
use crate::state::AppState;

/// `/assets/{hashed name}`: the name changes with the content, so it is cached forever.
pub async fn asset(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(asset) = state.theme.asset(&name) else {
        return SiteError::NotFound.into_response();
    };
    let mut res = if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == asset.etag.as_bytes())
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (StatusCode::OK, asset.bytes.clone()).into_response()
    };
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    if let Ok(v) = HeaderValue::from_str(&asset.etag) {
        h.insert(header::ETAG, v);
    }
    res
}

/// Browsers and tools ask for `/favicon.ico` whatever a page says: send the
/// theme's icon there.
pub async fn favicon(State(state): State<AppState>) -> Response {
    match state.theme.asset_url("favicon.svg") {
        Some(url) => (
            StatusCode::MOVED_PERMANENTLY,
            [(header::LOCATION, url.to_owned())],
        )
            .into_response(),
        None => SiteError::NotFound.into_response(),
    }
}

pub async fn healthz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => (
            StatusCode::OK,
            [(header::CACHE_CONTROL, "no-store")],
            "ok\n",
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::CACHE_CONTROL, "no-store")],
                "database unavailable\n",
            )
                .into_response()
        }
    }
}

/// Unknown paths: `/some-story` gets a permanent redirect to `/some-story/`
/// (Ghost's URLs end in a slash), everything else a 404.
pub async fn fallback(method: Method, uri: Uri) -> Response {
    let path = uri.path();
    let last = path.rsplit('/').next().unwrap_or("");
    if (method == Method::GET || method == Method::HEAD)
        && !path.ends_with('/')
        && !last.contains('.')
        && path.len() < 512
        && !path.contains("//")
    {
        let target = match uri.query() {
            Some(q) => format!("{path}/?{q}"),
            None => format!("{path}/"),
        };
        return Redirect::permanent(&target).into_response();
    }
    SiteError::NotFound.into_response()
}
