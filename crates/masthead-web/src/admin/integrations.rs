//! API keys for integrations (Ghost-compatible Content and Admin APIs):
//! create, see, revoke. Administrators and owners only.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use masthead_domain::{Action, permits};
use masthead_store::now_ms;
use serde::Deserialize;

use super::{DeskForm, Staff, StaffView, message, page, unavailable};
use crate::state::AppState;

fn forbidden() -> Response {
    message(
        StatusCode::FORBIDDEN,
        "Not allowed",
        "Only administrators and the owner manage API keys.",
        None,
    )
}

async fn render(
    state: &AppState,
    staff: &Staff,
    status: StatusCode,
    error: Option<&str>,
    notice: Option<&str>,
) -> Response {
    let keys = match state.store.api_keys().await {
        Ok(k) => k,
        Err(e) => return unavailable(e),
    };
    let hooks = match state.store.webhooks().await {
        Ok(h) => h,
        Err(e) => return unavailable(e),
    };
    let deliveries = match state.store.recent_deliveries(30).await {
        Ok(d) => d,
        Err(e) => return unavailable(e),
    };
    let clock = state.clock();
    let log: Vec<serde_json::Value> = deliveries
        .iter()
        .map(|d| {
            serde_json::json!({
                "id": d.id,
                "hook": hooks.iter().find(|h| h.id == d.webhook_id).map(|h| h.name.clone()).unwrap_or_else(|| format!("#{}", d.webhook_id)),
                "event": d.event,
                "subject": d.subject_id,
                "status": d.status,
                "attempts": d.attempts,
                "code": d.last_status,
                "error": d.last_error,
                "when": clock.time(d.created_ms).display,
                "next": (d.status == "pending").then(|| clock.time(d.next_attempt_ms).display),
                // Which server is sending it (`host:pid`), with several.
                "held_by": (d.status == "sending").then(|| d.lease_owner.clone()).flatten(),
            })
        })
        .collect();
    let rows: Vec<serde_json::Value> = keys
        .iter()
        .map(|k| {
            serde_json::json!({
                "id": k.id,
                "kind": k.kind,
                "name": k.name,
                "key": match &k.secret { Some(s) => format!("{}:{s}", k.key_id), None => k.key_id.clone() },
                "created": clock.time(k.created_ms).display,
                "last_used": k.last_used_ms.map(|t| clock.time(t).display),
                "revoked": k.revoked,
            })
        })
        .collect();
    page(
        status,
        "integrations.html",
        serde_json::json!({
            "title": "Integrations",
            "staff": StaffView::from(&staff.0.user),
            "csrf": staff.0.csrf_token,
            "keys": rows,
            "hooks": hooks,
            "log": log,
            "events": masthead_store::WEBHOOK_EVENTS,
            "error": error,
            "notice": notice,
        }),
    )
}

pub async fn list(State(state): State<AppState>, staff: Staff) -> Response {
    if !permits(staff.0.user.role, Action::ManageApiKeys) {
        return forbidden();
    }
    render(&state, &staff, StatusCode::OK, None, None).await
}

#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    name: String,
}

pub async fn create(
    State(state): State<AppState>,
    DeskForm { staff, form }: DeskForm<CreateForm>,
) -> Response {
    if !permits(staff.0.user.role, Action::ManageApiKeys) {
        return forbidden();
    }
    let kind = match masthead_store::ApiKeyKind::parse(&form.kind) {
        Some(kind) => kind,
        None => {
            return render(
                &state,
                &staff,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("Choose a content or an admin key."),
                None,
            )
            .await;
        }
    };
    let name = form.name.trim().to_owned();
    if name.is_empty() || name.len() > 120 {
        return render(
            &state,
            &staff,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("Name the integration (what will use the key), in at most 120 characters."),
            None,
        )
        .await;
    }
    match crate::api::keys::create(&state.store, kind, name.clone(), Some(staff.0.user.id)).await {
        Ok(_) => {
            let notice = format!("Created a {kind} key for {name}.");
            render(&state, &staff, StatusCode::OK, None, Some(&notice)).await
        }
        Err(e) => unavailable(e),
    }
}

#[derive(Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    csrf: String,
}

pub async fn revoke(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    DeskForm { staff, form: _ }: DeskForm<RevokeForm>,
) -> Response {
    if !permits(staff.0.user.role, Action::ManageApiKeys) {
        return forbidden();
    }
    match state.store.revoke_api_key(id, now_ms()).await {
        Ok(()) => {
            render(
                &state,
                &staff,
                StatusCode::OK,
                None,
                Some("Revoked: the key stops working now."),
            )
            .await
        }
        Err(masthead_store::StoreError::NotFound) => {
            render(
                &state,
                &staff,
                StatusCode::NOT_FOUND,
                Some("No such key, or it was already revoked."),
                None,
            )
            .await
        }
        Err(e) => unavailable(e),
    }
}

#[derive(Deserialize)]
pub struct WebhookForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    event: String,
    #[serde(default)]
    target_url: String,
    #[serde(default)]
    name: String,
}

pub async fn add_webhook(
    State(state): State<AppState>,
    DeskForm { staff, form }: DeskForm<WebhookForm>,
) -> Response {
    if !permits(staff.0.user.role, Action::ManageApiKeys) {
        return forbidden();
    }
    let url = form.target_url.trim().to_owned();
    let event = form.event.clone();
    if !masthead_store::WEBHOOK_EVENTS.contains(&event.as_str()) {
        return render(
            &state,
            &staff,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("Choose an event, and give the receiver's address starting with https:// (or http://)."),
            None,
        )
        .await;
    }
    // Obviously internal targets are refused here with a reason; whatever
    // gets through is checked again on every delivery, on the address
    // actually connected to.
    if let Err(why) = crate::webhooks::check_target(&url, state.config.allow_private_webhooks) {
        return render(
            &state,
            &staff,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(why),
            None,
        )
        .await;
    }
    let name = form.name.trim().chars().take(120).collect::<String>();
    let secret = crate::api::keys::new_admin_key().1;
    match state
        .store
        .insert_webhook(event, url, name, secret, now_ms())
        .await
    {
        Ok(_) => {
            render(
                &state,
                &staff,
                StatusCode::OK,
                None,
                Some("Webhook added. Deliveries are signed with its secret (X-Ghost-Signature)."),
            )
            .await
        }
        Err(e) => unavailable(e),
    }
}

pub async fn remove_webhook(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    DeskForm { staff, form: _ }: DeskForm<RevokeForm>,
) -> Response {
    if !permits(staff.0.user.role, Action::ManageApiKeys) {
        return forbidden();
    }
    match state.store.deactivate_webhook(id).await {
        Ok(()) => {
            render(
                &state,
                &staff,
                StatusCode::OK,
                None,
                Some("Webhook removed."),
            )
            .await
        }
        Err(masthead_store::StoreError::NotFound) => {
            render(
                &state,
                &staff,
                StatusCode::NOT_FOUND,
                Some("No such webhook."),
                None,
            )
            .await
        }
        Err(e) => unavailable(e),
    }
}

crate::admin::has_csrf!(CreateForm, RevokeForm, WebhookForm);
