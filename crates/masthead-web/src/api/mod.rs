//! Ghost-compatible APIs under `/ghost/api/`: the Content API (read-only,
//! keyed by a content key). Envelopes, field names, errors and headers follow
//! Ghost 5 so that Ghost's own client libraries work unchanged.

pub mod admin;
pub mod content;
pub mod json;
pub use masthead_domain::jwt;
pub mod keys;
pub mod query;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

/// The Ghost version the APIs speak.
pub const VERSION: &str = "v5.0";

/// Every API route, merged into the application by `router.rs`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .nest("/ghost/api/content", content::routes())
        .nest("/ghost/api/admin", admin::routes())
}

/// A Ghost error, in Ghost's envelope.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub message: String,
    pub context: Option<String>,
    pub code: Option<&'static str>,
}

impl ApiError {
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            kind,
            message: message.into(),
            context: None,
            code: None,
        }
    }

    pub fn context(mut self, context: impl Into<String>) -> ApiError {
        self.context = Some(context.into());
        self
    }

    pub fn code(mut self, code: &'static str) -> ApiError {
        self.code = Some(code);
        self
    }

    pub fn not_found(what: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "NotFoundError",
            format!("{what} not found."),
        )
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "BadRequestError", message)
    }

    pub fn validation(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "ValidationError", message)
    }

    pub fn unavailable(e: masthead_store::StoreError) -> ApiError {
        tracing::error!(error = %e, "api store error");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "InternalServerError",
            "The database is unavailable; try again shortly.",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "errors": [{
                "message": self.message,
                "context": self.context,
                "type": self.kind,
                "details": null,
                "property": null,
                "help": null,
                "code": self.code,
                "id": json::random_uuid(),
                "ghostErrorCode": null,
            }]
        });
        let mut res = (self.status, axum::Json(body)).into_response();
        let h = res.headers_mut();
        common_headers(h);
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(if self.status == StatusCode::NOT_FOUND {
                "no-cache, private"
            } else {
                "no-store, private"
            }),
        );
        res
    }
}

/// Headers every API response carries.
pub fn common_headers(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    h.insert("content-version", HeaderValue::from_static(VERSION));
    h.insert(
        header::VARY,
        HeaderValue::from_static("Accept-Version, Accept-Encoding"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
}
