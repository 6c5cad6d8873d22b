//! Joining as a free member, and the membership counter as JSON.

use std::sync::atomic::Ordering;

use std::net::SocketAddr;

use axum::extract::rejection::RawFormRejection;
use axum::extract::{ConnectInfo, RawForm, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use masthead_domain::{CampaignProgress, Email};
use masthead_render::views::{CampaignView, PageMeta, SiteView};
use serde::Serialize;

use super::html_page;
use crate::cache::CacheTags;
use crate::error::SiteError;
use crate::state::AppState;

/// The join form: `email`, an optional `name`, and, when the form listed
/// newsletters (`newsletters_shown`), one `newsletter` field per box ticked.
#[derive(Debug, Default, PartialEq)]
pub struct JoinForm {
    email: String,
    name: String,
    /// `None`: the form showed no choice, so new members get the defaults.
    newsletters: Option<Vec<i64>>,
}

impl JoinForm {
    /// Parses the form's body; repeated fields are why this is not serde's.
    pub fn parse(body: &[u8]) -> Result<JoinForm, String> {
        let mut f = JoinForm::default();
        let mut shown = false;
        let mut chosen = Vec::new();
        for (k, v) in form_urlencoded::parse(body) {
            match &*k {
                "email" => f.email = v.into_owned(),
                "name" => f.name = v.into_owned(),
                "newsletters_shown" => shown = true,
                "newsletter" => chosen.push(
                    v.parse::<i64>()
                        .map_err(|_| format!("{v:?} is not a newsletter"))?,
                ),
                _ => {}
            }
        }
        f.newsletters = (shown || !chosen.is_empty()).then_some(chosen);
        Ok(f)
    }
}

#[derive(Serialize)]
struct NewsletterOption {
    id: i64,
    name: String,
    description: String,
    checked: bool,
}

#[derive(Serialize)]
struct JoinContext {
    site: SiteView,
    campaign: Option<CampaignView>,
    page: PageMeta,
    email: String,
    error: Option<String>,
    newsletters: Vec<NewsletterOption>,
}

/// The active newsletters a new member may choose, ticked if new members get them.
async fn newsletter_options(state: &AppState) -> Result<Vec<NewsletterOption>, SiteError> {
    Ok(state
        .store
        .newsletters()
        .await?
        .into_iter()
        .filter(|n| n.status == "active")
        .map(|n| NewsletterOption {
            checked: n.subscribe_on_signup,
            id: n.id,
            name: n.name,
            description: n.description,
        })
        .collect())
}

fn render(
    state: &AppState,
    email: String,
    error: Option<String>,
    newsletters: Vec<NewsletterOption>,
) -> Result<String, SiteError> {
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
        newsletters,
    };
    Ok(state.theme.render("join.html", &ctx)?)
}

pub async fn form(State(state): State<AppState>) -> Result<Response, SiteError> {
    Ok(html_page(
        render(
            &state,
            String::new(),
            None,
            newsletter_options(&state).await?,
        )?,
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
    form: Result<RawForm, RawFormRejection>,
) -> Result<Response, SiteError> {
    let RawForm(body) =
        form.map_err(|e| SiteError::BadRequest(format!("The form could not be read: {e}")))?;
    let form = JoinForm::parse(&body)
        .map_err(|e| SiteError::BadRequest(format!("The form could not be read: {e}")))?;
    let email = match Email::parse(&form.email) {
        Ok(e) => e,
        Err(e) => {
            let message = format!("That address does not look right: {e}.")
                .replace("invalid e-mail address: ", "");
            let shown: String = form.email.chars().take(254).collect();
            let html = render(
                &state,
                shown,
                Some(message),
                newsletter_options(&state).await?,
            )?;
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
    Ok(super::members::join(&state, peer, &headers, email, name, form.newsletters).await)
}

/// The join form again, with why the address was not added and when to retry.
fn refused(
    state: &AppState,
    status: StatusCode,
    email: String,
    message: &str,
    retry_after_s: u32,
) -> Response {
    // Refusals show the form without the choice (new members get the defaults).
    let mut res = match render(state, email, Some(message.to_owned()), Vec::new()) {
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
    /// members | paid | donations
    metric: &'a str,
    /// "members", "paying members" or "raised"
    noun: &'a str,
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
        let p =
            CampaignProgress::for_metric(count, campaign.goal, &campaign.metric, &site.currency);
        axum::Json(CampaignJson {
            count,
            goal: campaign.goal,
            percent: p.percent,
            count_label: &p.count_label,
            goal_label: &p.goal_label,
            metric: &campaign.metric,
            noun: &p.noun,
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

#[cfg(test)]
mod tests {
    use super::JoinForm;
    use proptest::prelude::*;

    #[test]
    fn the_join_form_reads_repeated_newsletters() {
        let f = JoinForm::parse(
            b"email=a%40b.org&name=Ann&newsletters_shown=1&newsletter=2&newsletter=5",
        )
        .expect("form");
        assert_eq!((f.email.as_str(), f.name.as_str()), ("a@b.org", "Ann"));
        assert_eq!(f.newsletters, Some(vec![2, 5]));
        let none_ticked = JoinForm::parse(b"email=a%40b.org&newsletters_shown=1").expect("form");
        assert_eq!(none_ticked.newsletters, Some(vec![]));
        let no_choice = JoinForm::parse(b"email=a%40b.org").expect("form");
        assert_eq!(no_choice.newsletters, None, "the defaults");
        assert!(JoinForm::parse(b"email=a%40b.org&newsletter=x").is_err());
    }

    proptest! {
        #[test]
        fn the_join_form_parser_never_panics(body in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = JoinForm::parse(&body);
        }
    }
}
