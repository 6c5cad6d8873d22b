//! Leaving a newsletter from its e-mail, without signing in (RFC 8058).
//!
//! The link names the member and the newsletter in a signed token
//! (`newsletters::unsubscribe_token`). `GET` only shows a page with a
//! button: link scanners and previews fetch links, and must not unsubscribe
//! anyone. `POST` with the body `List-Unsubscribe=One-Click` (what a mail
//! client sends for the one-click header, and what the page's button sends)
//! unsubscribes, with no cookie and no CSRF token: the signed token is the
//! proof, so the site-wide cross-site refusal lets this one route through
//! (`security.rs`). Doing it twice is harmless. A forged or altered token
//! gets a 400 page and changes nothing.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use masthead_render::views::{CampaignView, PageMeta, SiteView};
use serde::{Deserialize, Serialize};

use crate::error::SiteError;
use crate::newsletters::{check_unsubscribe_token, newsletter, secret};
use crate::state::AppState;

#[derive(Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    t: String,
}

#[derive(Serialize, Default)]
struct UnsubscribePage {
    title: String,
    message: String,
    newsletter: String,
    token: String,
    /// Show the button.
    ask: bool,
    done: bool,
}

#[derive(Serialize)]
struct Context<'a> {
    site: SiteView,
    campaign: Option<CampaignView>,
    page: PageMeta,
    unsubscribe: &'a UnsubscribePage,
}

fn render(state: &AppState, status: StatusCode, p: &UnsubscribePage) -> Response {
    let clock = state.clock();
    let ctx = Context {
        site: state.site_view(),
        campaign: state.campaign_view(&clock),
        page: PageMeta {
            title: p.title.clone(),
            description: p.title.clone(),
            path: "/unsubscribe/".into(),
            section: None,
            noindex: true,
        },
        unsubscribe: p,
    };
    match state.theme.render("unsubscribe.html", &ctx) {
        Ok(html) => {
            let mut res = (status, Html(html)).into_response();
            res.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res
        }
        Err(e) => SiteError::from(e).into_response(),
    }
}

fn invalid(state: &AppState) -> Response {
    render(
        state,
        StatusCode::BAD_REQUEST,
        &UnsubscribePage {
            title: "This link does not work".into(),
            message: "This unsubscribe link is not valid: it may have been cut short or changed. \
                      Use the link in the newsletter itself, or sign in to choose your newsletters."
                .into(),
            ..Default::default()
        },
    )
}

/// The member and the newsletter's name a token names, or the response.
async fn checked(state: &AppState, token: &str) -> Result<(i64, i64, String), Response> {
    let secret = match secret(state).await {
        Ok(s) => s,
        Err(e) => return Err(SiteError::from(e).into_response()),
    };
    let Some((member, id)) = check_unsubscribe_token(&secret, token) else {
        return Err(invalid(state));
    };
    match newsletter(state, id).await {
        Ok(Some(n)) => Ok((member, id, n.name)),
        // Signed by this site, for a newsletter since deleted: nothing to leave.
        Ok(None) => Ok((member, id, "this newsletter".into())),
        Err(e) => Err(SiteError::from(e).into_response()),
    }
}

pub async fn ask(State(state): State<AppState>, Query(q): Query<TokenQuery>) -> Response {
    let (_, _, name) = match checked(&state, &q.t).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    render(
        &state,
        StatusCode::OK,
        &UnsubscribePage {
            title: format!("Unsubscribe from {name}?"),
            message: format!(
                "You will no longer receive {name} by e-mail. Your membership stays as it is."
            ),
            newsletter: name,
            token: q.t,
            ask: true,
            done: false,
        },
    )
}

/// The one-click unsubscribe: the body must be `List-Unsubscribe=One-Click`.
pub async fn one_click(
    State(state): State<AppState>,
    query: Result<Query<TokenQuery>, axum::extract::rejection::QueryRejection>,
    body: Bytes,
) -> Response {
    let Ok(Query(q)) = query else {
        return invalid(&state);
    };
    let (member, id, name) = match checked(&state, &q.t).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let one_click =
        form_urlencoded::parse(&body).any(|(k, v)| k == "List-Unsubscribe" && v == "One-Click");
    if !one_click {
        return render(
            &state,
            StatusCode::BAD_REQUEST,
            &UnsubscribePage {
                title: "Nothing was changed".into(),
                message: "Use the button on the unsubscribe page.".into(),
                ..Default::default()
            },
        );
    }
    if let Err(e) = state.store.unsubscribe_member(member, id).await {
        return SiteError::from(e).into_response();
    }
    render(
        &state,
        StatusCode::OK,
        &UnsubscribePage {
            title: "You are unsubscribed".into(),
            message: format!(
                "You will no longer receive {name}. Changed your mind? Sign in and choose it again on your account page."
            ),
            newsletter: name,
            done: true,
            ..Default::default()
        },
    )
}
