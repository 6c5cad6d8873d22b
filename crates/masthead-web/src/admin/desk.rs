//! The desk's posts list and live console.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use masthead_domain::editorial::{self, Actor, Sight};
use masthead_domain::{Action, PostKind, PostStatus, permits};
use masthead_render::render_markdown;
use masthead_render::views::{Clock, EntryView};
use masthead_store::{LiveEntryChange, NewLiveEntry, PostFilter, StaffSession, now_ms};
use serde::{Deserialize, Serialize};

use super::{DeskForm, Link, Staff, message, page, unavailable};
use crate::state::AppState;

const LIST_LIMIT: u32 = 100;

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct ListQuery {
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    author: Option<String>,
    #[serde(default)]
    tag: Option<String>,
}

fn nonempty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

#[derive(Serialize)]
struct Row {
    #[serde(flatten)]
    post: masthead_store::DeskPost,
    updated: String,
    updated_iso: String,
}

pub async fn posts(
    State(state): State<AppState>,
    Staff(session): Staff,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Response {
    let Ok(Query(q)) = q else {
        return message(
            StatusCode::BAD_REQUEST,
            "Bad filter",
            "The filter could not be read.",
            None,
        );
    };
    let (authors, tags) = match state.store.all_authors_and_tags().await {
        Ok(x) => x,
        Err(e) => return unavailable(e),
    };
    let bad = |what: &str| {
        message(
            StatusCode::BAD_REQUEST,
            "Bad filter",
            &format!("Unknown {what}."),
            None,
        )
    };
    let mut filter = PostFilter {
        title: nonempty(&q.q).map(str::to_owned),
        ..PostFilter::default()
    };
    if let Some(s) = nonempty(&q.status) {
        match PostStatus::parse(s) {
            Ok(s) => filter.status = Some(s),
            Err(_) => return bad("status"),
        }
    }
    if let Some(k) = nonempty(&q.kind) {
        match PostKind::parse(k) {
            Ok(k) => filter.kind = Some(k),
            Err(_) => return bad("kind"),
        }
    }
    if let Some(a) = nonempty(&q.author) {
        match authors.iter().find(|x| x.1 == a) {
            Some(x) => filter.author_id = Some(x.0),
            None => return bad("author"),
        }
    }
    if let Some(t) = nonempty(&q.tag) {
        match tags.iter().find(|x| x.1 == t) {
            Some(x) => filter.tag_id = Some(x.0),
            None => return bad("tag"),
        }
    }
    // Who may not see others' work sees only their own (the Admin API's
    // browse applies the same rule).
    if let Sight::Byline(own) = editorial::sight(&actor(&session)) {
        filter.author_id = Some(own.unwrap_or(-1));
    }
    let rows = match state.store.desk_posts(filter, LIST_LIMIT).await {
        Ok(r) => r,
        Err(e) => return unavailable(e),
    };
    let clock = state.clock();
    let posts: Vec<Row> = rows
        .into_iter()
        .map(|p| {
            let t = clock.time(p.updated_ms);
            Row {
                updated: t.display,
                updated_iso: t.iso,
                post: p,
            }
        })
        .collect();
    page(
        StatusCode::OK,
        "posts.html",
        serde_json::json!({
            "title": "Posts",
            "staff": super::StaffView::from(&session.user),
            "posts": posts,
            "limit": LIST_LIMIT,
            "f": q,
            "authors": authors,
            "tags": tags,
        }),
    )
}

fn actor(session: &StaffSession) -> Actor {
    Actor::staff(session.user.role, session.user.author_id)
}

#[allow(clippy::result_large_err)]
async fn live_post(
    state: &AppState,
    session: &StaffSession,
    post_id: i64,
) -> Result<(String, String), Response> {
    let found = state
        .store
        .post_kind_and_authors(post_id)
        .await
        .map_err(unavailable)?;
    let Some((kind, slug, title, authors)) = found else {
        return Err(message(
            StatusCode::NOT_FOUND,
            "No such post",
            "That post does not exist.",
            None,
        ));
    };
    if kind != PostKind::Live {
        return Err(message(
            StatusCode::BAD_REQUEST,
            "Not a live post",
            "Only live posts have a live console.",
            None,
        ));
    }
    if !permits(
        session.user.role,
        Action::PostLiveEntries {
            whose: actor(session).whose(&authors),
        },
    ) {
        return Err(message(
            StatusCode::FORBIDDEN,
            "Not allowed",
            "Your role does not allow posting to this live roundup. Ask an editor.",
            Some(Link {
                url: "/admin/",
                text: "Back to the desk",
            }),
        ));
    }
    Ok((slug, title))
}

#[derive(Serialize)]
struct ConsoleEntry {
    #[serde(flatten)]
    view: EntryView,
    source: String,
}

pub async fn console(
    State(state): State<AppState>,
    Staff(session): Staff,
    Path(post_id): Path<i64>,
) -> Response {
    let (slug, title) = match live_post(&state, &session, post_id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let entries = match state.store.live_entries(post_id).await {
        Ok(e) => e,
        Err(e) => return unavailable(e),
    };
    let clock: Clock = state.clock();
    let entries: Vec<ConsoleEntry> = entries
        .iter()
        .map(|e| ConsoleEntry {
            view: EntryView::new(e, &clock),
            source: e.body_source.clone(),
        })
        .collect();
    page(
        StatusCode::OK,
        "live.html",
        serde_json::json!({
            "title": format!("Live: {title}"),
            "staff": super::StaffView::from(&session.user),
            "csrf": session.csrf_token,
            "post_id": post_id,
            "post_slug": slug,
            "post_title": title,
            "entries": entries,
        }),
    )
}

#[derive(Deserialize)]
pub struct EntryForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    pinned: Option<String>,
    #[serde(default)]
    action: Option<String>,
    /// `front` when sent from the desk's front page, which it returns to.
    #[serde(default)]
    from: Option<String>,
}

/// Refuses an entry without a headline or too long, or a live post this
/// person may not post to; `None` when the entry may go ahead.
async fn refuse_entry(
    state: &AppState,
    staff: &Staff,
    post_id: i64,
    form: &EntryForm,
) -> Option<Response> {
    if form.action.as_deref() != Some("delete")
        && let Err(e) = editorial::live_entry(&form.title, &form.body)
    {
        let heading = match e {
            editorial::EditorialError::EntryTitleMissing => "The entry needs a headline",
            _ => "The entry is too long",
        };
        return Some(message(
            StatusCode::UNPROCESSABLE_ENTITY,
            heading,
            &e.to_string(),
            None,
        ));
    }
    live_post(state, &staff.0, post_id).await.err()
}

pub async fn add_entry(
    State(state): State<AppState>,
    Path(post_id): Path<i64>,
    DeskForm { staff, form }: DeskForm<EntryForm>,
) -> Response {
    if let Some(refusal) = refuse_entry(&state, &staff, post_id, &form).await {
        return refusal;
    }
    let rendered = render_markdown(&form.body, false);
    let entry = NewLiveEntry {
        post_id,
        title: form.title.trim().to_owned(),
        body_source: form.body,
        body_html: rendered.html,
        pinned: form.pinned.is_some(),
        created_ms: now_ms(),
    };
    if let Err(e) = state.store.add_live_entry(entry).await {
        return unavailable(e);
    }
    state.cache.invalidate(&[format!("post-{post_id}")]);
    state.wrote.notify_one();
    if form.from.as_deref() == Some("front") {
        return Redirect::to(&format!("/admin/?added={post_id}#live-{post_id}")).into_response();
    }
    Redirect::to(&format!("/admin/live/{post_id}")).into_response()
}

pub async fn change_entry(
    State(state): State<AppState>,
    Path((post_id, entry_id)): Path<(i64, i64)>,
    DeskForm { staff, form }: DeskForm<EntryForm>,
) -> Response {
    if let Some(refusal) = refuse_entry(&state, &staff, post_id, &form).await {
        return refusal;
    }
    let delete = form.action.as_deref() == Some("delete");
    let rendered = render_markdown(&form.body, false);
    let title = form.title.trim().to_owned();
    let pinned = form.pinned.is_some();
    let body = form.body;
    let change = if delete {
        LiveEntryChange::Delete
    } else {
        LiveEntryChange::Update {
            title,
            body_source: body,
            body_html: rendered.html,
            pinned,
        }
    };
    // The entry must belong to this post.
    let changed = state
        .store
        .change_live_entry(post_id, entry_id, change)
        .await;
    match changed {
        Ok(true) => {
            state.cache.invalidate(&[format!("post-{post_id}")]);
            state.wrote.notify_one();
            Redirect::to(&format!("/admin/live/{post_id}")).into_response()
        }
        Ok(false) => message(
            StatusCode::NOT_FOUND,
            "No such entry",
            "That entry no longer exists.",
            None,
        ),
        Err(e) => unavailable(e),
    }
}

crate::admin::has_csrf!(EntryForm);
