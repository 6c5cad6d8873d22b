//! Joining as a free member, and the membership counter as JSON.

use std::sync::atomic::Ordering;

use std::net::SocketAddr;

use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, Form, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use masthead_domain::{CampaignProgress, Email};
use masthead_render::views::{CampaignView, PageMeta, SiteView};
use serde::{Deserialize, Serialize};

use super::html_page;
use crate::cache::CacheTags;
use crate::error::SiteError;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct JoinForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
}

#[derive(Serialize)]
struct JoinContext {
    site: SiteView,
    campaign: Option<CampaignView>,
    page: PageMeta,
    email: String,
    error: Option<String>,
}

fn render(state: &AppState, email: String, error: Option<String>) -> Result<String, SiteError> {
    let clock = state.clock();
    let ctx = JoinContext {
        site: state.site_view(),
        campaign: state.campaign_view(&clock),
        page: PageMeta {
            title: "Join".into(),
            description: "Become a member and keep our reporting free for everyone.".into(),
            path: "/join/".into(),
            section: None,
            noindex: false,
        },
        email,
        error,
    };
    Ok(state.theme.render("join.html", &ctx)?)
}

pub async fn form(State(state): State<AppState>) -> Result<Response, SiteError> {
    Ok(html_page(
        render(&state, String::new(), None)?,
        CacheTags::new(["site".to_owned()]),
    ))
}

/// Records a pending sign-up and mails its confirmation (see
/// `members.rs`), then shows the "check your inbox" page (POST/redirect/GET,
/// so a reload does not resubmit). The member is added, and counted, when the
/// address is confirmed. The answer is the same for an address that is
/// already a member's (which is mailed a sign-in link instead), and no
/// address is ever put in a URL. Requests are throttled per connection, per
/// address and in total (see `members.rs`), and only so many are written at
/// once (see `throttle.rs`).
pub async fn submit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<JoinForm>, FormRejection>,
) -> Result<Response, SiteError> {
    let Form(form) =
        form.map_err(|e| SiteError::BadRequest(format!("The form could not be read: {e}")))?;
    let email = match Email::parse(&form.email) {
        Ok(e) => e,
        Err(e) => {
            let message = format!("That address does not look right: {e}.")
                .replace("invalid e-mail address: ", "");
            let shown: String = form.email.chars().take(254).collect();
            let html = render(&state, shown, Some(message))?;
            let mut res =
                (StatusCode::UNPROCESSABLE_ENTITY, axum::response::Html(html)).into_response();
            res.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            return Ok(res);
        }
    };
    let address = email.as_str().to_owned();
    let Some(_slot) = state.join_gate.enter().await else {
        return Ok(refused(
            &state,
            StatusCode::SERVICE_UNAVAILABLE,
            address,
            "So many people are joining right now that we could not record your request. Please try again in a moment.",
            2,
        ));
    };
    let name: String = form.name.trim().chars().take(191).collect();
    Ok(super::members::join(&state, peer, &headers, email, name).await)
}

/// The join form again, with why the address was not added and when to retry.
fn refused(
    state: &AppState,
    status: StatusCode,
    email: String,
    message: &str,
    retry_after_s: u32,
) -> Response {
    let mut res = match render(state, email, Some(message.to_owned())) {
        Ok(html) => (status, axum::response::Html(html)).into_response(),
        Err(e) => e.into_response(),
    };
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    crate::throttle::with_retry_after(res, retry_after_s)
}

#[derive(Serialize)]
struct CampaignJson<'a> {
    count: u64,
    goal: u64,
    percent: f64,
    count_label: &'a str,
    goal_label: &'a str,
    pitch: &'a str,
}

/// `GET /api/campaign`: the live counter. Tiny, cacheable for a moment, and
/// answered with 304 when the count has not changed.
pub async fn campaign_json(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, SiteError> {
    let site = state.site();
    let campaign = site.campaign.as_ref().ok_or(SiteError::NotFound)?;
    let count = state.member_count.load(Ordering::Relaxed);
    let etag = format!("\"c{}-{}-{}\"", campaign.id, count, campaign.goal);
    let mut res = if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let p = CampaignProgress::new(count, campaign.goal);
        axum::Json(CampaignJson {
            count,
            goal: campaign.goal,
            percent: p.percent,
            count_label: &p.count_label,
            goal_label: &p.goal_label,
            pitch: &campaign.pitch,
        })
        .into_response()
    };
    let h = res.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=1"),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    Ok(res)
}
