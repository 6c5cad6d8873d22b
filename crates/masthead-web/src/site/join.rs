//! Joining as a free member, and the membership counter as JSON.

use std::sync::atomic::Ordering;

use std::net::SocketAddr;

use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, Form, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
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
}

#[derive(Debug, Deserialize)]
pub struct JoinedQuery {
    joined: Option<String>,
}

#[derive(Serialize)]
struct JoinContext {
    site: SiteView,
    campaign: Option<CampaignView>,
    page: PageMeta,
    joined: bool,
    email: String,
    error: Option<String>,
}

fn render(
    state: &AppState,
    joined: bool,
    email: String,
    error: Option<String>,
) -> Result<String, SiteError> {
    let clock = state.clock();
    let ctx = JoinContext {
        site: state.site_view(),
        campaign: state.campaign_view(&clock),
        page: PageMeta {
            title: if joined {
                "Thank you".into()
            } else {
                "Join".into()
            },
            description: "Become a member and keep our reporting free for everyone.".into(),
            path: "/join/".into(),
            section: None,
            noindex: joined,
        },
        joined,
        email,
        error,
    };
    Ok(state.theme.render("join.html", &ctx)?)
}

pub async fn form(
    State(state): State<AppState>,
    q: Result<axum::extract::Query<JoinedQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, SiteError> {
    let joined = q.ok().and_then(|q| q.0.joined);
    match joined {
        // The address is echoed back only after the visitor's own submission.
        Some(email) => {
            let mut res = html_page(render(&state, true, email, None)?, CacheTags::default());
            // Personal: never cached, by us or anyone.
            res.extensions_mut().remove::<CacheTags>();
            res.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Ok(res)
        }
        None => Ok(html_page(
            render(&state, false, String::new(), None)?,
            CacheTags::new(["site".to_owned()]),
        )),
    }
}

/// Adds the member and redirects (POST/redirect/GET), so a reload does not resubmit.
/// Joining twice is harmless and says the same thing, so the form does not
/// reveal who is already a member. Each address may join a few dozen times
/// in ten minutes (counted with the join, in one transaction), and only so
/// many joins are written at once (see `throttle.rs`).
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
            let html = render(&state, false, shown, Some(message))?;
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
            "So many people are joining right now that we could not add you. Please try again in a moment.",
            2,
        ));
    };
    let ip = crate::security::client_ip(peer.ip(), &headers, &state.config.trusted_proxies);
    let limits = crate::throttle::join_limits(&crate::throttle::address_key(ip));
    let outcome = match state
        .store
        .join_member_throttled(email, "site", limits)
        .await?
    {
        Ok(outcome) => outcome,
        Err(_) => {
            tracing::info!("join refused: too many from one address");
            return Ok(refused(
                &state,
                StatusCode::TOO_MANY_REQUESTS,
                address,
                "Too many sign-ups have come from your address in the last few minutes. Please try again later.",
                crate::throttle::retry_after_s(crate::throttle::JOIN_WINDOW_MS),
            ));
        }
    };
    tracing::info!(?outcome, "join form");
    if outcome == masthead_store::JoinOutcome::Joined {
        // Open pages see it on their next poll; the change log brings joins
        // made elsewhere (recounted at most once a second, see changes.rs).
        state.member_count.fetch_add(1, Ordering::Relaxed);
    }
    let target = format!("/join/?joined={}", urlencode(&address));
    Ok(Redirect::to(&target).into_response())
}

/// The join form again, with why the address was not added and when to retry.
fn refused(
    state: &AppState,
    status: StatusCode,
    email: String,
    message: &str,
    retry_after_s: u32,
) -> Response {
    let mut res = match render(state, false, email, Some(message.to_owned())) {
        Ok(html) => (status, axum::response::Html(html)).into_response(),
        Err(e) => e.into_response(),
    };
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    crate::throttle::with_retry_after(res, retry_after_s)
}

fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
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
