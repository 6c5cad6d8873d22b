//! The reader's site error envelope: a themed HTML page with the right status.
//!
//! Handlers return [`SiteError`]; its response carries an [`ErrorPage`]
//! extension, and the `themed_errors` middleware (which has the app state)
//! renders it with the theme. Causes of 500s are logged, never shown.

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use masthead_render::views::PageMeta;
use masthead_store::StoreError;
use serde::Serialize;

use crate::state::AppState;

#[derive(Debug)]
pub enum SiteError {
    NotFound,
    BadRequest(String),
    Forbidden(String),
    Unavailable,
    Internal(String),
}

#[derive(Debug, Clone)]
pub struct ErrorPage {
    pub status: StatusCode,
    pub title: &'static str,
    pub message: String,
}

impl From<StoreError> for SiteError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => SiteError::NotFound,
            StoreError::Unavailable(m) => {
                tracing::error!(error = %m, "database unavailable");
                SiteError::Unavailable
            }
            other => SiteError::Internal(other.to_string()),
        }
    }
}

impl From<masthead_render::ThemeError> for SiteError {
    fn from(e: masthead_render::ThemeError) -> Self {
        SiteError::Internal(e.to_string())
    }
}

impl SiteError {
    fn page(self) -> ErrorPage {
        let (status, title, message) = match self {
            SiteError::NotFound => (
                StatusCode::NOT_FOUND,
                "Page not found",
                "We could not find that page. It may have moved, or the address may be mistyped."
                    .to_owned(),
            ),
            SiteError::BadRequest(m) => (StatusCode::BAD_REQUEST, "Bad request", m),
            SiteError::Forbidden(m) => (StatusCode::FORBIDDEN, "Not allowed", m),
            SiteError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Temporarily unavailable",
                "The site is briefly unavailable. Please try again in a minute.".to_owned(),
            ),
            SiteError::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "Something went wrong on our side. It has been logged; please try again shortly.".to_owned(),
                )
            }
        };
        ErrorPage {
            status,
            title,
            message,
        }
    }
}

impl IntoResponse for SiteError {
    fn into_response(self) -> Response {
        let page = self.page();
        let mut res = (page.status, page.message.clone()).into_response();
        res.extensions_mut().insert(page);
        res
    }
}

#[derive(Serialize)]
struct ErrorContext<'a> {
    site: masthead_render::views::SiteView,
    campaign: Option<masthead_render::views::CampaignView>,
    page: PageMeta,
    status: u16,
    title: &'a str,
    message: &'a str,
}

/// Renders [`ErrorPage`] responses (and bare 404s from the fallback) with the theme.
pub async fn themed_errors(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let wants_fragment = req.uri().query().is_some_and(|q| q.contains("fragment=1"));
    let res = next.run(req).await;
    let page = match res.extensions().get::<ErrorPage>() {
        Some(p) => p.clone(),
        None => return res,
    };
    if wants_fragment {
        // Show More asked for a fragment: plain text is what its script can show.
        return res;
    }
    let clock = state.clock();
    let ctx = ErrorContext {
        site: state.site_view(),
        campaign: state.campaign_view(&clock),
        page: PageMeta {
            title: page.title.to_owned(),
            noindex: true,
            ..PageMeta::default()
        },
        status: page.status.as_u16(),
        title: page.title,
        message: &page.message,
    };
    match state.theme.render("error.html", &ctx) {
        Ok(html) => {
            let mut out = (page.status, Html(html)).into_response();
            out.headers_mut().insert(
                header::CACHE_CONTROL,
                header::HeaderValue::from_static("no-store"),
            );
            // A handler's hint for when to come back (a media store down).
            if let Some(v) = res.headers().get(header::RETRY_AFTER) {
                out.headers_mut().insert(header::RETRY_AFTER, v.clone());
            }
            out
        }
        Err(e) => {
            tracing::error!(error = %e, "error page template failed");
            (page.status, page.message).into_response()
        }
    }
}
