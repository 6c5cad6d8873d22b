//! Newsletter sends in the desk: from a post, a preview of the e-mail as a
//! recipient sees it, a test to the signed-in staff member, and the send
//! itself ("Send only", for a published post; the editor's "Publish and
//! send" starts one too); and the sends pages with each send's progress.
//! Only staff who may publish a post may send it.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use masthead_domain::editorial::{self, Actor, PostState};
use masthead_store::{EditablePost, Newsletter, Segment, StaffSession, now_ms};
use serde::Deserialize;

use super::{DeskForm, Link, Staff, StaffView, message, page, unavailable};
use crate::newsletters::email::EmailStory;
use crate::newsletters::{self, SendRefused};
use crate::state::AppState;

fn may_send(session: &StaffSession, post: &EditablePost) -> bool {
    let actor = Actor::staff(session.user.role, session.user.author_id);
    editorial::may_publish(
        &actor,
        &PostState {
            status: post.status,
            published_ms: post.published_ms,
            bylines: &post.author_ids,
        },
    )
}

fn not_allowed() -> Response {
    message(
        StatusCode::FORBIDDEN,
        "Not allowed",
        "Your role does not allow you to send this post. Ask an editor.",
        None,
    )
}

async fn load(state: &AppState, id: i64) -> Result<EditablePost, Response> {
    match state.store.editable_post(id).await {
        Ok(Some(p)) => Ok(p),
        Ok(None) => Err(message(
            StatusCode::NOT_FOUND,
            "No such post",
            "That post does not exist.",
            None,
        )),
        Err(e) => Err(unavailable(e)),
    }
}

async fn active_newsletters(state: &AppState) -> Result<Vec<Newsletter>, Response> {
    match state.store.newsletters().await {
        Ok(n) => Ok(n.into_iter().filter(|n| n.status == "active").collect()),
        Err(e) => Err(unavailable(e)),
    }
}

/// The post as an e-mail story: as published, or (a draft) as it stands.
async fn story(state: &AppState, post: &EditablePost) -> Result<EmailStory, Response> {
    if post.status == masthead_domain::PostStatus::Published
        && let Ok(s) = newsletters::published_story(state, post.id).await
    {
        return Ok(s);
    }
    match state.store.all_authors_and_tags().await {
        Ok((authors, _)) => Ok(EmailStory::from_editable(
            post,
            &authors,
            state.public_url(),
        )),
        Err(e) => Err(unavailable(e)),
    }
}

#[derive(Deserialize)]
pub struct PreviewQuery {
    #[serde(default)]
    newsletter: Option<i64>,
}

/// The compose page: newsletters, segments, preview, test and send.
pub async fn compose(
    State(state): State<AppState>,
    Staff(session): Staff,
    Path(id): Path<i64>,
) -> Response {
    compose_page(&state, &session, id, StatusCode::OK, None, None).await
}

async fn compose_page(
    state: &AppState,
    session: &StaffSession,
    id: i64,
    status: StatusCode,
    error: Option<&str>,
    notice: Option<&str>,
) -> Response {
    let post = match load(state, id).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    if !may_send(session, &post) {
        return not_allowed();
    }
    let newsletters = match active_newsletters(state).await {
        Ok(n) => n,
        Err(r) => return r,
    };
    let sends = match state.store.sends(Some(id), 50).await {
        Ok(s) => s,
        Err(e) => return unavailable(e),
    };
    let clock = state.clock();
    let choices: Vec<serde_json::Value> = newsletters
        .iter()
        .map(|n| {
            let sent = sends.iter().find(|s| s.newsletter_id == n.id);
            serde_json::json!({
                "id": n.id,
                "name": n.name,
                "sent": sent.map(|s| serde_json::json!({"id": s.id, "when": clock.time(s.created_ms).display})),
            })
        })
        .collect();
    let published = post.status == masthead_domain::PostStatus::Published;
    page(
        status,
        "post_send.html",
        serde_json::json!({
            "title": format!("Send: {}", post.title),
            "staff": StaffView::from(&session.user),
            "csrf": session.csrf_token,
            "post": {"id": post.id, "title": post.title, "status": post.status.as_str()},
            "published": published,
            "newsletters": choices,
            "segments": [("all", "All members"), ("free", "Free members"), ("paid", "Paying members")],
            "error": error,
            "notice": notice,
        }),
    )
}

/// The e-mail as a recipient sees it (its unsubscribe link leads to the
/// account page here, as in a test).
pub async fn preview(
    State(state): State<AppState>,
    Staff(session): Staff,
    Path(id): Path<i64>,
    Query(q): Query<PreviewQuery>,
) -> Response {
    let post = match load(&state, id).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    if !may_send(&session, &post) {
        return not_allowed();
    }
    let newsletters = match active_newsletters(&state).await {
        Ok(n) => n,
        Err(r) => return r,
    };
    let Some(newsletter) = newsletters
        .iter()
        .find(|n| q.newsletter.is_none_or(|id| id == n.id))
    else {
        return message(
            StatusCode::NOT_FOUND,
            "No such newsletter",
            "Choose one of the site's active newsletters.",
            None,
        );
    };
    let story = match story(&state, &post).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let prepared = newsletters::prepare_story(&state, &story, newsletter);
    let (html, _) = prepared
        .rendered
        .personal(&format!("{}/account/", state.public_url()));
    let mut res = Html(html).into_response();
    res.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    res
}

#[derive(Deserialize)]
pub struct SendForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    newsletter: i64,
    #[serde(default)]
    segment: String,
}
super::has_csrf!(SendForm);

/// "Send a test to me" or "Send".
pub async fn act(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    DeskForm { staff, form }: DeskForm<SendForm>,
) -> Response {
    let session = &staff.0;
    let post = match load(&state, id).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    if !may_send(session, &post) {
        return not_allowed();
    }
    let newsletters = match active_newsletters(&state).await {
        Ok(n) => n,
        Err(r) => return r,
    };
    let Some(newsletter) = newsletters.iter().find(|n| n.id == form.newsletter) else {
        return compose_page(
            &state,
            session,
            id,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("Choose a newsletter."),
            None,
        )
        .await;
    };
    match form.action.as_str() {
        "test" => {
            let story = match story(&state, &post).await {
                Ok(s) => s,
                Err(r) => return r,
            };
            let mut prepared = newsletters::prepare_story(&state, &story, newsletter);
            prepared.rendered.subject = format!("[Test] {}", prepared.rendered.subject);
            let to = session.user.email.clone();
            let sent = match newsletters::message_for(&state, &prepared, None, &to, None) {
                Ok(m) => state.config.postbox.deliver(m).await,
                Err(e) => crate::mail::Delivery::Refused {
                    permanent: true,
                    reply: e,
                },
            };
            match sent {
                crate::mail::Delivery::Accepted(_) => {
                    compose_page(
                        &state,
                        session,
                        id,
                        StatusCode::OK,
                        None,
                        Some(&format!("A test was sent to {to}.")),
                    )
                    .await
                }
                crate::mail::Delivery::Refused { reply, .. } => {
                    tracing::warn!(error = %reply, "newsletter test send failed");
                    compose_page(
                        &state,
                        session,
                        id,
                        StatusCode::BAD_GATEWAY,
                        Some("The test could not be sent: the mail server refused it or could not be reached."),
                        None,
                    )
                    .await
                }
            }
        }
        "send" => {
            let Some(segment) = Segment::parse(&form.segment) else {
                return compose_page(
                    &state,
                    session,
                    id,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some("Choose who receives it: all, free or paying members."),
                    None,
                )
                .await;
            };
            match newsletters::start_send(&state, id, newsletter.id, segment, Some(session.user.id))
                .await
            {
                Ok(created) => {
                    Redirect::to(&format!("/admin/sends/{}", created.id)).into_response()
                }
                Err(refused) => {
                    let (status, why) = refusal(refused);
                    compose_page(&state, session, id, status, Some(why), None).await
                }
            }
        }
        _ => message(
            StatusCode::BAD_REQUEST,
            "Unknown action",
            "Use the page's buttons.",
            None,
        ),
    }
}

/// What the desk says when a send is refused.
pub fn refusal(r: SendRefused) -> (StatusCode, &'static str) {
    match r {
        SendRefused::AlreadySent => (
            StatusCode::CONFLICT,
            "This post has already been sent to that newsletter. A post is e-mailed at most once per newsletter.",
        ),
        SendRefused::NotPublished => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "Only a published post can be sent. Publish it first, or use Publish and send in the editor.",
        ),
        SendRefused::NoNewsletter => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "That newsletter is not active.",
        ),
        SendRefused::Store(e) => {
            tracing::error!(error = %e, "could not create a send");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "The desk could not reach its database. Please try again in a minute.",
            )
        }
    }
}

fn summary_view(
    clock: &masthead_render::views::Clock,
    s: &masthead_store::SendSummary,
) -> serde_json::Value {
    let done = s.sent + s.failed;
    let percent = (done * 100)
        .checked_div(s.recipients)
        .map_or(100, |p| p.min(100));
    serde_json::json!({
        "id": s.id,
        "post_id": s.post_id,
        "post_title": s.post_title,
        "newsletter": s.newsletter_name,
        "segment": Segment::parse(&s.segment).map_or("", Segment::describe),
        "status": s.status,
        "subject": s.subject,
        "recipients": s.recipients,
        "queued": s.queued,
        "sent": s.sent,
        "failed": s.failed,
        "percent": percent,
        "by": s.created_by,
        "created": clock.time(s.created_ms).display,
        "started": s.started_ms.map(|ms| clock.time(ms).display),
        "finished": s.finished_ms.map(|ms| clock.time(ms).display),
    })
}

/// Every send, newest first.
pub async fn list(State(state): State<AppState>, Staff(session): Staff) -> Response {
    let sends = match state.store.sends(None, 100).await {
        Ok(s) => s,
        Err(e) => return unavailable(e),
    };
    let clock = state.clock();
    let sending = sends.iter().any(|s| s.status == "sending");
    page(
        StatusCode::OK,
        "sends.html",
        serde_json::json!({
            "title": "Newsletter sends",
            "staff": StaffView::from(&session.user),
            "sends": sends.iter().map(|s| summary_view(&clock, s)).collect::<Vec<_>>(),
            "refresh": sending,
        }),
    )
}

#[derive(Deserialize)]
pub struct RecipientsQuery {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    after: i64,
}

const RECIPIENTS_PAGE: u32 = 100;

/// One send: progress, figures and its recipients.
pub async fn show(
    State(state): State<AppState>,
    Staff(session): Staff,
    Path(id): Path<i64>,
    Query(q): Query<RecipientsQuery>,
) -> Response {
    let send = match state.store.send(id).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            return message(
                StatusCode::NOT_FOUND,
                "No such send",
                "That send does not exist.",
                Some(Link {
                    url: "/admin/sends",
                    text: "All sends",
                }),
            );
        }
        Err(e) => return unavailable(e),
    };
    let status = q
        .status
        .filter(|s| matches!(s.as_str(), "pending" | "sending" | "sent" | "failed"));
    let (since, recipients) = match tokio::try_join!(
        state.store.unsubscribed_since(id),
        state
            .store
            .send_recipients(id, status.clone(), q.after.max(0), RECIPIENTS_PAGE)
    ) {
        Ok(x) => x,
        Err(e) => return unavailable(e),
    };
    let clock = state.clock();
    let next = (recipients.len() as u32 == RECIPIENTS_PAGE)
        .then(|| recipients.last().map(|r| r.id))
        .flatten();
    let rows: Vec<serde_json::Value> = recipients
        .iter()
        .map(|r| {
            serde_json::json!({
                "email": r.email,
                "status": if r.status == "pending" { "queued" } else { r.status.as_str() },
                "attempts": r.attempts,
                "reply": r.reply,
                "sent": r.sent_ms.map(|ms| clock.time(ms).display),
            })
        })
        .collect();
    page(
        StatusCode::OK,
        "send.html",
        serde_json::json!({
            "title": format!("Send: {}", send.subject),
            "staff": StaffView::from(&session.user),
            "send": summary_view(&clock, &send),
            "unsubscribed_since": since,
            "recipients": rows,
            "filter": status,
            "next": next,
            "refresh": send.status == "sending",
            "now": clock.time(now_ms()).display,
        }),
    )
}
