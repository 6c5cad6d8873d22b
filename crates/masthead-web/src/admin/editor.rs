//! The editor: create drafts, save with collision detection, publish now,
//! schedule, unpublish, and the revision history with diffs and restore.

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use masthead_domain::diff::line_diff;
use masthead_domain::editorial::{self, Actor, PostState, Refused};
use masthead_domain::{Action, PostKind, PostStatus, Visibility, Whose, permits};
use masthead_render::render_markdown;
use masthead_store::{
    CreatePost, EditablePost, FeatureChoice, FeatureEdit, MediaDetails, NewPost, PostEdit,
    SavePost, StaffSession, StoreError, now_ms,
};
use serde::{Deserialize, Serialize};

use super::{DeskForm, Staff, StaffView, message, page, unavailable};
use crate::state::AppState;

fn actor(session: &StaffSession) -> Actor {
    Actor::staff(session.user.role, session.user.author_id)
}

/// The post as it stands, for the editorial rules.
fn state_of(post: &EditablePost) -> PostState<'_> {
    PostState {
        status: post.status,
        published_ms: post.published_ms,
        bylines: &post.author_ids,
    }
}

fn forbidden(what: &str) -> Response {
    message(
        StatusCode::FORBIDDEN,
        "Not allowed",
        &format!("Your role does not allow you to {what}. Ask an editor."),
        None,
    )
}

fn refused(r: Refused) -> Response {
    forbidden(&r.0.describe())
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

pub async fn new_form(Staff(session): Staff) -> Response {
    page(
        StatusCode::OK,
        "editor.html",
        serde_json::json!({ "title": "New post", "staff": StaffView::from(&session.user), "csrf": session.csrf_token }),
    )
}

#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    title: String,
}

pub async fn create(
    State(state): State<AppState>,
    DeskForm { staff, form }: DeskForm<CreateForm>,
) -> Response {
    let me = actor(&staff.0);
    let author: Vec<i64> = staff.0.user.author_id.into_iter().collect();
    let new = PostState {
        status: PostStatus::Draft,
        published_ms: None,
        bylines: &author,
    };
    if let Err(r) = editorial::may_create(&me, &new) {
        return refused(r);
    }
    let Ok(kind) = PostKind::parse(&form.kind) else {
        return message(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Unknown kind",
            "Choose article, brief, video, live or page.",
            None,
        );
    };
    let title = match editorial::title(&form.title) {
        Ok(t) => t.to_owned(),
        Err(e) => {
            return message(
                StatusCode::UNPROCESSABLE_ENTITY,
                "A headline is needed",
                &e.to_string(),
                None,
            );
        }
    };
    let base = match editorial::post_slug(None, &title) {
        Ok(s) => s,
        Err(e) => {
            return message(
                StatusCode::UNPROCESSABLE_ENTITY,
                "No address",
                &e.to_string(),
                None,
            );
        }
    };
    let now = now_ms();
    let created = state
        .store
        .create_post(CreatePost {
            base_slug: base,
            post: NewPost {
                kind,
                slug: String::new(),
                title,
                dek: String::new(),
                body_source: String::new(),
                body_html: String::new(),
                word_count: 0,
                reading_minutes: 1,
                status: PostStatus::Draft,
                visibility: Visibility::Public,
                image: None,
                video: None,
                published_ms: None,
                updated_ms: now,
                tag_ids: vec![],
                author_ids: author,
            },
            tags_by_slug: Vec::new(),
            extras: None,
            seo: None,
        })
        .await;
    match created {
        Ok(id) => Redirect::to(&format!("/admin/posts/{id}/edit")).into_response(),
        Err(e) => unavailable(e),
    }
}

/// The editor's side panels: the review thread and the notes.
struct Panels {
    review: serde_json::Value,
    notes: Vec<serde_json::Value>,
    /// Library images to choose the feature image from, newest first.
    media: Vec<serde_json::Value>,
    /// Active newsletters `(id, name)`, for "Publish and send".
    newsletters: Vec<(i64, String)>,
    /// Tiers a story may be open to: active ones, and any it is open to.
    tiers: Vec<serde_json::Value>,
}

/// Images offered as the feature image: the newest, and the current one.
async fn media_choices(state: &AppState, post: &EditablePost) -> Vec<serde_json::Value> {
    let mut items = state.store.media_page(None, 60).await.unwrap_or_default();
    if let Some(id) = post.feature_media_id
        && !items.iter().any(|m| m.id == id)
        && let Ok(Some(m)) = state.store.media_item(id).await
    {
        items.insert(0, m);
    }
    items
        .iter()
        .map(|m| {
            serde_json::json!({
                "id": m.id,
                "label": if m.alt.is_empty() { m.filename.clone() } else { format!("{} ({})", m.alt, m.filename) },
                "thumb": m.thumb(),
                "alt": m.alt, "caption": m.caption, "photographer": m.photographer, "agency": m.agency,
            })
        })
        .collect()
}

async fn editor_page(
    state: &AppState,
    session: &StaffSession,
    post: &EditablePost,
    status: StatusCode,
    error: Option<&str>,
    notice: Option<&str>,
) -> Response {
    let review = review_context(state, session, post).await;
    let clock = state.clock();
    let notes: Vec<serde_json::Value> = state
        .store
        .post_notes(post.id)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|n| {
            serde_json::json!({
                "heading": if n.kind == "correction" { "Correction" } else { "Update" },
                "when": clock.time(n.noted_ms).display,
                "note": n.note,
            })
        })
        .collect();
    let media = media_choices(state, post).await;
    let newsletters: Vec<(i64, String)> = state
        .store
        .newsletters()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|n| n.status == "active")
        .map(|n| (n.id, n.name))
        .collect();
    let tiers: Vec<serde_json::Value> = state
        .store
        .tiers()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|t| t.active || post.tier_ids.contains(&t.id))
        .map(|t| {
            serde_json::json!({
                "id": t.id,
                "name": if t.active { t.name.clone() } else { format!("{} (archived)", t.name) },
                "checked": post.tier_ids.contains(&t.id),
            })
        })
        .collect();
    editor_page_with(
        state,
        session,
        post,
        status,
        error,
        notice,
        Panels {
            review,
            notes,
            media,
            newsletters,
            tiers,
        },
    )
}

fn editor_page_with(
    state: &AppState,
    session: &StaffSession,
    post: &EditablePost,
    status: StatusCode,
    error: Option<&str>,
    notice: Option<&str>,
    panels: Panels,
) -> Response {
    let Panels {
        review,
        notes,
        media,
        newsletters,
        tiers,
    } = panels;
    let clock = state.clock();
    let tz = state.site().settings.timezone.clone();
    let published = post.published_ms.map(|ms| {
        let t = clock.time(ms);
        if post.status == PostStatus::Scheduled {
            format!("scheduled for {}", t.display)
        } else {
            format!("published {}", t.display)
        }
    });
    let publish_at = post.published_ms.and_then(|ms| local_input(ms, &tz));
    let me = actor(session);
    let can_publish = editorial::may_publish(&me, &state_of(post));
    let can_delete = editorial::may_delete(&me, &state_of(post)).is_ok();
    let newsletters = if can_publish { newsletters } else { Vec::new() };
    page(
        status,
        "editor.html",
        serde_json::json!({
            "title": format!("Edit: {}", post.title),
            "staff": StaffView::from(&session.user),
            "csrf": session.csrf_token,
            "post": post,
            "preview": render_markdown(&post.body_source, false).html,
            "published": published,
            "publish_at": publish_at,
            "timezone": tz,
            "can_publish": can_publish,
            "can_delete": can_delete,
            // The bylines picker is for those who may change bylines at all.
            "pick_bylines": permits(session.user.role, Action::ChangeBylines { whose: Whose::Own }),
            "newsletters": newsletters,
            "error": error,
            "notice": notice,
            "notes": notes,
            "media": media,
            "upload_limit": masthead_media::Limits::default().max_bytes,
            "editor_js": super::bundle::script_url(),
            "site_css": state.theme.asset_url("site.css"),
            "visibilities": [("public", "Everyone"), ("members", "Members (free or paid)"), ("paid", "Paying members (paid or complimentary)"), ("tiers", "Members of chosen tiers")],
            "tiers": tiers,
            "paywall_marker": masthead_domain::html::PAYWALL_MARKER,
            "review_label": review["label"],
            "review_notes": review["notes"],
            "can_submit": review["can_submit"],
            "can_review": review["can_review"],
        }),
    )
}

fn review_label(state: &str) -> &'static str {
    match state {
        "submitted" => "waiting for an editor",
        "changes_requested" => "sent back for changes",
        "approved" => "approved",
        _ => "not submitted",
    }
}

fn decision_label(d: &str) -> &'static str {
    match d {
        "submitted" => "submitted for review",
        "changes_requested" => "sent back",
        "approved" => "approved",
        _ => "commented",
    }
}

/// What the review panel shows: state, thread, and who may act.
async fn review_context(
    state: &AppState,
    session: &StaffSession,
    post: &EditablePost,
) -> serde_json::Value {
    let clock = state.clock();
    let current = state
        .store
        .review_state(post.id)
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    let notes: Vec<serde_json::Value> = state
        .store
        .review_notes(post.id)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|n| {
            serde_json::json!({
                "staff_name": n.staff_name,
                "label": decision_label(&n.decision),
                "when": clock.time(n.created_ms).display,
                "body": n.body,
            })
        })
        .collect();
    let own = actor(session).whose(&post.author_ids) == Whose::Own;
    let can_submit = own
        && post.status == PostStatus::Draft
        && (current == "none" || current == "changes_requested");
    let can_review =
        current == "submitted" && permits(session.user.role, Action::ReviewSubmissions);
    serde_json::json!({ "label": review_label(&current), "notes": notes, "can_submit": can_submit, "can_review": can_review })
}

#[derive(Deserialize)]
pub struct ReviewForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    decision: String,
    #[serde(default)]
    body: String,
}

/// Submit for review (the post's own writer), approve or send back (editors),
/// or comment (either).
pub async fn review(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    DeskForm { staff, form }: DeskForm<ReviewForm>,
) -> Response {
    let session = &staff.0;
    let post = match load(&state, id).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let own = actor(session).whose(&post.author_ids) == Whose::Own;
    let reviewer = permits(session.user.role, Action::ReviewSubmissions);
    let allowed = match form.decision.as_str() {
        "submitted" => own,
        "approved" | "changes_requested" => reviewer,
        "comment" => own || reviewer,
        _ => {
            return message(
                StatusCode::BAD_REQUEST,
                "Unknown decision",
                "Use the review buttons.",
                None,
            );
        }
    };
    if !allowed {
        return forbidden("take that review step");
    }
    if form.body.len() > 5_000 {
        return message(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Note too long",
            "Review notes are at most 5,000 characters.",
            None,
        );
    }
    let (staff_id, decision, body) = (
        session.user.id,
        form.decision.clone(),
        form.body.trim().to_owned(),
    );
    match state
        .store
        .review(id, staff_id, decision, body, now_ms())
        .await
    {
        Ok(()) => Redirect::to(&format!("/admin/posts/{id}/edit")).into_response(),
        Err(e) => unavailable(e),
    }
}

pub async fn review_queue(State(state): State<AppState>, Staff(session): Staff) -> Response {
    if !permits(session.user.role, Action::ReviewSubmissions) {
        return forbidden("see the review queue");
    }
    let clock = state.clock();
    let queue: Vec<serde_json::Value> = match state.store.review_queue().await {
        Ok(q) => q
            .into_iter()
            .map(|r| serde_json::json!({ "id": r.post_id, "title": r.title, "by": r.by, "when": clock.time(r.submitted_ms).display }))
            .collect(),
        Err(e) => return unavailable(e),
    };
    page(
        StatusCode::OK,
        "review.html",
        serde_json::json!({ "title": "Review queue", "staff": StaffView::from(&session.user), "queue": queue }),
    )
}

#[derive(Deserialize)]
pub struct NoteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    note: String,
}

/// Adds a correction or update note; it prints on the story at once.
pub async fn add_note(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    DeskForm { staff, form }: DeskForm<NoteForm>,
) -> Response {
    let session = &staff.0;
    let post = match load(&state, id).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Err(r) = editorial::may_open_for_editing(&actor(session), &state_of(&post)) {
        return refused(r);
    }
    let note = form.note.trim().to_owned();
    if note.is_empty() || note.len() > 2_000 || (form.kind != "correction" && form.kind != "update")
    {
        return editor_page(
            &state,
            session,
            &post,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("A note needs a kind (correction or update) and 1 to 2,000 characters of text."),
            None,
        )
        .await;
    }
    let kind = form.kind.clone();
    match state.store.add_post_note(id, kind, now_ms(), note).await {
        Ok(_) => {
            crate::changes::invalidate_post_now(&state, id).await;
            state.wrote.notify_one();
            Redirect::to(&format!("/admin/posts/{id}/edit")).into_response()
        }
        Err(e) => unavailable(e),
    }
}

#[derive(Deserialize)]
pub struct PreviewForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    body: String,
}

/// The body as readers would see it, for the editor's live preview.
pub async fn preview(staff: Staff, form: Result<Form<PreviewForm>, FormRejection>) -> Response {
    let Ok(Form(form)) = form else {
        return (
            StatusCode::BAD_REQUEST,
            "The preview request could not be read.",
        )
            .into_response();
    };
    if let Err(r) = staff.check_csrf(&form.csrf) {
        return *r;
    }
    if form.body.len() > 1_000_000 {
        return (StatusCode::PAYLOAD_TOO_LARGE, "The body is over 1 MB.").into_response();
    }
    let html = render_markdown(&form.body, false).html;
    let mut res = axum::response::Html(html).into_response();
    res.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    res
}

/// The desk's one script.
pub async fn script() -> Response {
    (
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/javascript; charset=utf-8",
            ),
            (axum::http::header::CACHE_CONTROL, "no-cache"),
        ],
        include_str!("../../admin/desk.js"),
    )
        .into_response()
}

/// Unix millis as a `datetime-local` value in the site's zone.
fn local_input(ms: i64, tz: &str) -> Option<String> {
    let tz = jiff::tz::TimeZone::get(tz).ok()?;
    let ts = jiff::Timestamp::from_millisecond(ms).ok()?;
    Some(
        ts.to_zoned_datetime(tz)
            .strftime("%Y-%m-%dT%H:%M")
            .to_string(),
    )
}

/// A `datetime-local` value, read in the site's zone.
fn parse_local(input: &str, tz: &str) -> Option<i64> {
    let tz = jiff::tz::TimeZone::get(tz).ok()?;
    let dt: jiff::civil::DateTime = input.trim().parse().ok()?;
    Some(dt.to_zoned_datetime(tz).ok()?.timestamp().as_millisecond())
}

pub async fn edit(
    State(state): State<AppState>,
    Staff(session): Staff,
    Path(id): Path<i64>,
) -> Response {
    let post = match load(&state, id).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Err(r) = editorial::may_open_for_editing(&actor(&session), &state_of(&post)) {
        return refused(r);
    }
    editor_page(&state, &session, &post, StatusCode::OK, None, None).await
}

/// A whole number sent as form text. The save form is read through a map
/// (see `choices`), which hands every value over as text.
fn number_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let s = String::deserialize(d)?;
    s.trim().parse().map_err(serde::de::Error::custom)
}

#[derive(Deserialize)]
pub struct SaveForm {
    #[serde(default)]
    csrf: String,
    #[serde(default, deserialize_with = "number_text")]
    version: i64,
    #[serde(default)]
    title: String,
    #[serde(default)]
    dek: String,
    #[serde(default)]
    slug: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    publish_at: String,
    #[serde(default)]
    tags: String,
    #[serde(default)]
    authors: String,
    #[serde(default)]
    meta_title: String,
    #[serde(default)]
    meta_description: String,
    #[serde(default)]
    canonical_url: String,
    #[serde(default)]
    visibility: String,
    /// `keep`, empty (none) or a media library id.
    #[serde(default = "keep")]
    feature_media: String,
    #[serde(default)]
    feature_alt: String,
    #[serde(default)]
    feature_caption: String,
    #[serde(default)]
    feature_photographer: String,
    #[serde(default)]
    feature_agency: String,
    /// Absent leaves the video as it is.
    #[serde(default)]
    video_embed: Option<String>,
    #[serde(default)]
    action: String,
    /// "Publish and send": a newsletter id to e-mail the post to once it is
    /// published (empty: none), and to whom (see `admin/sends.rs`).
    #[serde(default)]
    newsletter: String,
    #[serde(default)]
    email_segment: String,
    /// Set when the form offers tier checkboxes (`tier_{id}`): the tiers
    /// chosen are then saved, none ticked meaning none.
    #[serde(default)]
    tiers_shown: String,
    /// The rest: the tier checkboxes, one field each (`tier_{id}`), since
    /// the form reader takes no repeated fields.
    #[serde(flatten)]
    choices: std::collections::HashMap<String, String>,
}

impl SaveForm {
    /// The tiers ticked, or `None` when the form had no tier choices.
    fn tier_ids(&self) -> Option<Vec<i64>> {
        if self.tiers_shown.is_empty() {
            return None;
        }
        let mut ids: Vec<i64> = self
            .choices
            .keys()
            .filter_map(|k| k.strip_prefix("tier_"))
            .filter_map(|id| id.parse().ok())
            .filter(|id| *id > 0)
            .collect();
        ids.sort_unstable();
        Some(ids)
    }
}

/// Browsers send a textarea's line breaks as CRLF whatever it held. The
/// stored body keeps its own line endings, so a story opened and saved
/// without an edit is stored byte for byte as it was.
fn keep_line_endings(stored: &str, sent: &str) -> String {
    if stored.contains("\r\n") {
        sent.to_owned()
    } else {
        sent.replace("\r\n", "\n")
    }
}

fn keep() -> String {
    "keep".to_owned()
}

/// The feature image a save asks for, checked.
fn feature_edit(form: &SaveForm) -> Result<FeatureEdit, &'static str> {
    let words = [
        &form.feature_alt,
        &form.feature_caption,
        &form.feature_photographer,
        &form.feature_agency,
    ];
    if words.iter().any(|w| w.len() > 1_000) {
        return Err("Alt text, caption and credits are at most 1,000 characters each.");
    }
    let choice = match form.feature_media.trim() {
        "keep" => FeatureChoice::Keep,
        "" | "none" => FeatureChoice::Remove,
        id => match id.parse::<i64>() {
            Ok(id) if id > 0 => FeatureChoice::Media(id),
            _ => return Err("Choose the feature image from the media library."),
        },
    };
    Ok(FeatureEdit {
        choice,
        words: MediaDetails {
            alt: form.feature_alt.trim().to_owned(),
            caption: form.feature_caption.trim().to_owned(),
            photographer: form.feature_photographer.trim().to_owned(),
            agency: form.feature_agency.trim().to_owned(),
        },
    })
}

pub async fn save(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    DeskForm { staff, form }: DeskForm<SaveForm>,
) -> Response {
    let session = &staff.0;
    let post = match load(&state, id).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    // The editor again, with what was wrong.
    macro_rules! refuse {
        ($status:expr, $message:expr $(,)?) => {
            return editor_page(&state, session, &post, $status, Some($message), None).await
        };
    }
    let me = actor(session);
    if form.action == "delete" {
        return delete(&state, &me, &post).await;
    }
    if let Err(r) = editorial::may_open_for_editing(&me, &state_of(&post)) {
        return refused(r);
    }
    let now = now_ms();
    let tz = state.site().settings.timezone.clone();
    let autosave = form.action == "autosave";
    if autosave && post.status != PostStatus::Draft {
        return autosave_refused(
            StatusCode::CONFLICT,
            "Only drafts save themselves; press Save to update a published or scheduled post.",
        );
    }
    let (status, published_ms, notice) = match form.action.as_str() {
        "save" | "" | "autosave" => (post.status, post.published_ms, "Saved."),
        "publish" => (
            PostStatus::Published,
            Some(
                post.published_ms
                    .filter(|_| post.status == PostStatus::Published)
                    .unwrap_or(now),
            ),
            "Published.",
        ),
        "schedule" => match parse_local(&form.publish_at, &tz) {
            Some(at) if at > now => (PostStatus::Scheduled, Some(at), "Scheduled."),
            Some(_) => {
                refuse!(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "The publication time has already passed; choose a later time or publish now.",
                );
            }
            None => {
                refuse!(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Choose a date and time to schedule for."
                );
            }
        },
        "unpublish" => (PostStatus::Draft, None, "Unpublished: it is a draft again."),
        _ => {
            return message(
                StatusCode::BAD_REQUEST,
                "Unknown action",
                "Use the editor's buttons.",
                None,
            );
        }
    };
    let title = match editorial::title(&form.title) {
        Ok(t) => t.to_owned(),
        Err(e) => {
            refuse!(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string());
        }
    };
    let slug = match editorial::post_slug(Some(&form.slug), &title) {
        Ok(s) => s.into_string(),
        Err(e) => {
            refuse!(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string());
        }
    };
    if form.body.len() > 1_000_000 {
        refuse!(StatusCode::PAYLOAD_TOO_LARGE, "The body is over 1 MB.");
    }
    let body = keep_line_endings(&post.body_source, &form.body);
    let (all_authors, all_tags) = match state.store.all_authors_and_tags().await {
        Ok(x) => x,
        Err(e) => return unavailable(e),
    };
    let tag_ids = match resolve_slugs(&form.tags, &all_tags, "tag") {
        Ok(t) => t,
        Err(m) => {
            refuse!(StatusCode::UNPROCESSABLE_ENTITY, &m);
        }
    };
    let author_ids = match resolve_slugs(&form.authors, &all_authors, "byline") {
        Ok(a) if !a.is_empty() => a,
        Ok(_) => {
            refuse!(
                StatusCode::UNPROCESSABLE_ENTITY,
                "A post needs at least one byline."
            );
        }
        Err(m) => {
            refuse!(StatusCode::UNPROCESSABLE_ENTITY, &m);
        }
    };
    // "Own" is judged on the bylines before and after this save.
    let after = PostState {
        status,
        published_ms,
        bylines: &author_ids,
    };
    if let Err(r) = editorial::may_edit(&me, &state_of(&post), &after) {
        return refused(r);
    }
    let rendered = render_markdown(&body, false);
    let canonical_url = form.canonical_url.trim().to_owned();
    let web_address = canonical_url.starts_with("https://") || canonical_url.starts_with("http://");
    if !canonical_url.is_empty() && !web_address {
        refuse!(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The canonical URL must start with https:// (or http://)."
        );
    }
    let visibility = match form.visibility.trim() {
        "" => None,
        v => match Visibility::parse(v) {
            Ok(v) => Some(v),
            Err(_) => {
                refuse!(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Choose who may read it: everyone, members, paying members or members of chosen tiers."
                );
            }
        },
    };
    let tier_ids = form.tier_ids();
    if visibility == Some(Visibility::Tiers) && tier_ids.as_ref().is_some_and(Vec::is_empty) {
        refuse!(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Tick the tiers whose members may read it (or choose another audience)."
        );
    }
    let feature = match feature_edit(&form) {
        Ok(f) => f,
        Err(m) => {
            refuse!(StatusCode::UNPROCESSABLE_ENTITY, m);
        }
    };
    let will_have_image = match feature.choice {
        FeatureChoice::Keep => post.feature_image.is_some(),
        FeatureChoice::Remove => false,
        FeatureChoice::Media(_) => true,
    };
    if let Err(e) = editorial::feature_alt(status, will_have_image, &feature.words.alt) {
        refuse!(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string());
    }
    let video_embed = form.video_embed.as_deref().map(|v| v.trim().to_owned());
    if let Some(v) = video_embed.as_deref()
        && !v.is_empty()
        && masthead_render::embed::parse_embed(v).is_none()
    {
        refuse!(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The video address must be a YouTube or Vimeo page, such as https://www.youtube.com/watch?v=…"
        );
    }
    let seo = masthead_store::Seo {
        meta_title: form.meta_title.trim().chars().take(300).collect(),
        meta_description: form.meta_description.trim().chars().take(500).collect(),
        canonical_url: canonical_url.chars().take(2_000).collect(),
    };
    let edit = PostEdit {
        autosave,
        seo: Some(seo),
        feature: Some(feature),
        visibility,
        tier_ids,
        video_embed,
        tag_ids: Some(tag_ids),
        author_ids: Some(author_ids),
        title,
        dek: form.dek.trim().to_owned(),
        slug,
        body_source: body,
        body_html: rendered.html,
        word_count: rendered.reading.words,
        reading_minutes: rendered.reading.minutes,
        status,
        published_ms,
    };
    let staff_id = session.user.id;
    let version = form.version;
    // Pages listing the post under its old tags and bylines go too.
    crate::changes::invalidate_post_now(&state, id).await;
    let saved = state
        .store
        .save_post(SavePost {
            id,
            version,
            edit,
            tags_by_slug: None,
            extras: None,
            staff_id: Some(staff_id),
            now,
        })
        .await;
    match saved {
        Ok(version) if autosave => {
            crate::changes::invalidate_post_now(&state, id).await;
            state.wrote.notify_one();
            let at = state.clock().time(now).display;
            no_store(axum::Json(
                serde_json::json!({ "version": version, "saved": at }),
            ))
        }
        Err(StoreError::Conflict(m)) if autosave => {
            autosave_refused(StatusCode::CONFLICT, &format!("Not saved: {m}."))
        }
        Err(StoreError::Invalid(m)) if autosave => autosave_refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("Not saved: {m}."),
        ),
        Ok(_) => {
            crate::changes::invalidate_post_now(&state, id).await;
            state.wrote.notify_one();
            let (code, error, notice) = match publish_and_send(
                &state,
                session,
                id,
                &form.action,
                &form.newsletter,
                &form.email_segment,
            )
            .await
            {
                None => (StatusCode::OK, None, notice.to_owned()),
                Some(Ok(n)) => (
                    StatusCode::OK,
                    None,
                    format!("Published. Being sent to {n} members (see Newsletter sends)."),
                ),
                Some(Err((code, why))) => (
                    code,
                    Some(format!("Published, but not sent: {why}")),
                    notice.to_owned(),
                ),
            };
            match load(&state, id).await {
                Ok(p) => {
                    editor_page(&state, session, &p, code, error.as_deref(), Some(&notice)).await
                }
                Err(r) => r,
            }
        }
        Err(StoreError::Conflict(m)) => {
            let p = load(&state, id).await.unwrap_or(post);
            editor_page(
                &state,
                session,
                &p,
                StatusCode::CONFLICT,
                Some(&format!(
                    "Not saved: {m}. Your text is below the latest version; copy what you need before reloading."
                )),
                None,
            ).await
        }
        Err(StoreError::Invalid(m)) => {
            editor_page(
                &state,
                session,
                &post,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(&m),
                None,
            )
            .await
        }
        Err(e) => unavailable(e),
    }
}

/// After "Publish now" with a newsletter chosen: the send, or why not.
async fn publish_and_send(
    state: &AppState,
    session: &StaffSession,
    id: i64,
    action: &str,
    newsletter: &str,
    segment: &str,
) -> Option<Result<u64, (StatusCode, &'static str)>> {
    let newsletter: i64 = newsletter.trim().parse().ok().filter(|n| *n > 0)?;
    if action != "publish" {
        return None;
    }
    let Some(segment) = masthead_store::Segment::parse(segment) else {
        return Some(Err((
            StatusCode::UNPROCESSABLE_ENTITY,
            "choose who receives it: all, free or paying members.",
        )));
    };
    Some(
        crate::newsletters::start_send(state, id, newsletter, segment, Some(session.user.id))
            .await
            .map(|c| c.recipients)
            .map_err(super::sends::refusal),
    )
}

/// Deletes the post (the editor's Delete button), then shows the posts list.
async fn delete(state: &AppState, me: &Actor, post: &EditablePost) -> Response {
    if let Err(r) = editorial::may_delete(me, &state_of(post)) {
        return refused(r);
    }
    let id = post.id;
    // Pages listing the post go with it.
    crate::changes::invalidate_post_now(state, id).await;
    match state.store.delete_post(id).await {
        Ok(()) | Err(StoreError::NotFound) => {
            state.cache.clear();
            state.wrote.notify_one();
            Redirect::to("/admin/posts").into_response()
        }
        Err(e) => unavailable(e),
    }
}

fn no_store(body: impl IntoResponse) -> Response {
    let mut res = body.into_response();
    res.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    res
}

/// An autosave that did not happen, as JSON for the editor's script.
fn autosave_refused(status: StatusCode, text: &str) -> Response {
    no_store((status, axum::Json(serde_json::json!({ "error": text }))))
}

/// Comma-separated slugs to ids, in order, without repeats.
fn resolve_slugs(
    list: &str,
    known: &[masthead_store::NamedRef],
    what: &str,
) -> Result<Vec<i64>, String> {
    let mut ids = Vec::new();
    for slug in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let id = known
            .iter()
            .find(|k| k.1 == slug)
            .map(|k| k.0)
            .ok_or_else(|| format!("There is no {what} with the slug {slug:?}."))?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

#[derive(Serialize)]
struct RevisionView {
    id: i64,
    when: String,
    staff_name: Option<String>,
    title: String,
    slug: String,
    status: String,
    diff: Vec<masthead_domain::diff::DiffLine>,
}

pub async fn revisions(
    State(state): State<AppState>,
    Staff(session): Staff,
    Path(id): Path<i64>,
) -> Response {
    let post = match load(&state, id).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Err(r) = editorial::may_open_for_editing(&actor(&session), &state_of(&post)) {
        return refused(r);
    }
    let revs = match state.store.revisions(id).await {
        Ok(r) => r,
        Err(e) => return unavailable(e),
    };
    let clock = state.clock();
    let views: Vec<RevisionView> = revs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let before = revs
                .get(i + 1)
                .map(|p| p.body_source.as_str())
                .unwrap_or("");
            RevisionView {
                id: r.id,
                when: clock.time(r.created_ms).display,
                staff_name: r.staff_name.clone(),
                title: r.title.clone(),
                slug: r.slug.clone(),
                status: r.status.clone(),
                diff: line_diff(before, &r.body_source),
            }
        })
        .collect();
    page(
        StatusCode::OK,
        "revisions.html",
        serde_json::json!({
            "title": format!("Revisions: {}", post.title),
            "staff": StaffView::from(&session.user),
            "csrf": session.csrf_token,
            "post": post,
            "revisions": views,
        }),
    )
}

#[derive(Deserialize)]
pub struct RestoreForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    version: i64,
}

/// Restoring is a new save of an old revision's text (status unchanged), so
/// history only grows and a restore can itself be undone.
pub async fn restore(
    State(state): State<AppState>,
    Path((id, rev)): Path<(i64, i64)>,
    DeskForm { staff, form }: DeskForm<RestoreForm>,
) -> Response {
    let session = &staff.0;
    let post = match load(&state, id).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Err(r) = editorial::may_open_for_editing(&actor(session), &state_of(&post)) {
        return refused(r);
    }
    let revs = match state.store.revisions(id).await {
        Ok(r) => r,
        Err(e) => return unavailable(e),
    };
    let Some(r) = revs.into_iter().find(|r| r.id == rev) else {
        return message(
            StatusCode::NOT_FOUND,
            "No such revision",
            "That revision does not belong to this post.",
            None,
        );
    };
    let rendered = render_markdown(&r.body_source, false);
    let edit = PostEdit {
        title: r.title,
        dek: r.dek,
        slug: r.slug,
        body_source: r.body_source,
        body_html: rendered.html,
        word_count: rendered.reading.words,
        reading_minutes: rendered.reading.minutes,
        status: post.status,
        published_ms: post.published_ms,
        tag_ids: None,
        author_ids: None,
        seo: None,
        feature: None,
        visibility: None,
        tier_ids: None,
        video_embed: None,
        autosave: false,
    };
    let staff_id = session.user.id;
    let version = form.version;
    match state
        .store
        .save_post(SavePost {
            id,
            version,
            edit,
            tags_by_slug: None,
            extras: None,
            staff_id: Some(staff_id),
            now: now_ms(),
        })
        .await
    {
        Ok(_) => {
            crate::changes::invalidate_post_now(&state, id).await;
            state.wrote.notify_one();
            Redirect::to(&format!("/admin/posts/{id}/edit")).into_response()
        }
        Err(StoreError::Conflict(m)) => {
            message(StatusCode::CONFLICT, "Not restored", &format!("{m}."), None)
        }
        Err(e) => unavailable(e),
    }
}

crate::admin::has_csrf!(CreateForm, ReviewForm, NoteForm, SaveForm, RestoreForm);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_save_keeps_the_stored_line_endings() {
        // Stored with LF (imports, the API, the demo): CRLF from the browser goes.
        assert_eq!(keep_line_endings("a\n\nb\n", "a\r\n\r\nb\r\n"), "a\n\nb\n");
        assert_eq!(keep_line_endings("", "new\r\ntext"), "new\ntext");
        // Stored with CRLF (saved from a textarea before): kept as sent.
        assert_eq!(keep_line_endings("a\r\nb", "a\r\nb c"), "a\r\nb c");
        // A lone CR is not a line ending a browser adds: left alone.
        assert_eq!(keep_line_endings("a\nb", "a\rb"), "a\rb");
    }

    /// Body images' `srcset`s are derived from the linked width in
    /// masthead-render, which does not depend on masthead-media: the two
    /// width ladders must agree.
    #[test]
    fn body_image_widths_are_the_media_librarys() {
        for w in [1, 200, 320, 321, 640, 700, 1024, 1500, 1600, 2000, 2400] {
            assert_eq!(
                masthead_render::body::srcset_widths(w),
                masthead_media::widths_for(w),
                "width {w}"
            );
        }
    }
}
