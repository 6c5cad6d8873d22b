//! Staff accounts from the desk: invite, change a role, deactivate.
//!
//! Who may touch whom is the permission matrix's `ManageStaff { target }`,
//! checked against both the account's current role and the one it would get.
//! Nobody changes their own account here (no accidental lock-out), and the
//! site always keeps an active owner (the store refuses otherwise).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use masthead_domain::{Action, Email, Role, permits};
use masthead_store::{NewStaffUser, StaffUser, StoreError, now_ms};
use serde::{Deserialize, Serialize};

use super::{DeskForm, Staff, StaffView, message, page, unavailable};
use crate::auth;
use crate::state::AppState;

/// Invitations are valid for a week.
const INVITE_MS: i64 = 7 * 86_400_000;
/// Stored as the password of an invited account until its owner sets one:
/// not a valid hash, so nothing signs in with it.
const NO_PASSWORD: &str = "!invited";

fn may_manage(actor: Role, target: Role) -> bool {
    permits(actor, Action::ManageStaff { target })
}

#[derive(Serialize)]
struct Row<'a> {
    id: i64,
    name: &'a str,
    email: &'a str,
    role: &'a str,
    active: bool,
    me: bool,
    manageable: bool,
}

async fn render(
    state: &AppState,
    staff: &Staff,
    status: StatusCode,
    error: Option<&str>,
    notice: Option<&str>,
    invite_link: Option<&str>,
) -> Response {
    let me = &staff.0.user;
    let users = match state.store.staff_users().await {
        Ok(u) => u,
        Err(e) => return unavailable(e),
    };
    let rows: Vec<Row<'_>> = users
        .iter()
        .map(|u| Row {
            id: u.id,
            name: &u.name,
            email: &u.email,
            role: u.role.as_str(),
            active: u.active,
            me: u.id == me.id,
            manageable: u.id != me.id && may_manage(me.role, u.role),
        })
        .collect();
    let roles: Vec<&str> = Role::ALL
        .into_iter()
        .filter(|r| may_manage(me.role, *r))
        .map(Role::as_str)
        .collect();
    page(
        status,
        "staff.html",
        serde_json::json!({
            "title": "Staff",
            "staff": StaffView::from(me),
            "csrf": staff.0.csrf_token,
            "rows": rows,
            "roles": roles,
            "error": error,
            "notice": notice,
            "invite_link": invite_link,
            "mail": state.config.mailer.is_some(),
        }),
    )
}

fn forbidden() -> Response {
    message(
        StatusCode::FORBIDDEN,
        "Not allowed",
        "Your role does not allow managing staff accounts. Ask an administrator.",
        None,
    )
}

pub async fn list(State(state): State<AppState>, staff: Staff) -> Response {
    if !may_manage(staff.0.user.role, Role::Contributor) {
        return forbidden();
    }
    render(&state, &staff, StatusCode::OK, None, None, None).await
}

#[derive(Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
}

pub async fn invite(
    State(state): State<AppState>,
    DeskForm { staff, form }: DeskForm<InviteForm>,
) -> Response {
    let actor = staff.0.user.role;
    if !may_manage(actor, Role::Contributor) {
        return forbidden();
    }
    macro_rules! refuse {
        ($status:expr, $m:expr) => {
            return render(&state, &staff, $status, Some($m), None, None).await
        };
    }
    let Ok(role) = Role::parse(form.role.trim()) else {
        refuse!(StatusCode::UNPROCESSABLE_ENTITY, "Choose a role.");
    };
    if !may_manage(actor, role) {
        refuse!(
            StatusCode::FORBIDDEN,
            &format!("Your role cannot invite an {}.", role.as_str())
        );
    }
    let email = match Email::parse(&form.email) {
        Ok(e) => e,
        Err(e) => refuse!(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("That e-mail address is not valid: {e}.")
        ),
    };
    let Ok(name) = masthead_domain::editorial::staff_name(&form.name).map(str::to_owned) else {
        refuse!(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Give their name, as it should appear on their byline (at most 120 characters)."
        );
    };
    let token = auth::new_token();
    let hash = auth::token_hash(&token);
    let now = now_ms();
    let new = NewStaffUser {
        email: email.clone(),
        name: name.clone(),
        role,
        password_hash: NO_PASSWORD.to_owned(),
        author_id: None,
    };
    let created = state
        .store
        .invite_staff(masthead_store::Invite {
            user: new,
            token_hash: hash,
            now,
            expires: now + INVITE_MS,
        })
        .await;
    match created {
        Ok(_) => {}
        Err(StoreError::Conflict(m)) => {
            refuse!(StatusCode::CONFLICT, &format!("Not invited: {m}."))
        }
        Err(e) => return unavailable(e),
    }
    let link = format!("{}/admin/reset/{token}", state.public_url());
    let site = state.site().settings.title.clone();
    let mut notice = format!(
        "{name} is invited as {}. The link below lets them choose a password; it works once, for a week.",
        role.as_str()
    );
    if let Some(mailer) = state.config.mailer.clone() {
        let body = format!(
            "Hello {name},\n\n{} has invited you to the {site} desk as {}.\n\
             Choose your password here (the link works once, for a week):\n\n{link}\n",
            staff.0.user.name,
            role.as_str()
        );
        let to = email.as_str().to_owned();
        tokio::spawn(async move {
            if let Err(e) = mailer
                .send_text(&to, &format!("You are invited to the {site} desk"), body)
                .await
            {
                tracing::error!(error = %e, "invitation mail failed");
            }
        });
        notice.push_str(" It has also been sent to them by e-mail.");
    }
    render(
        &state,
        &staff,
        StatusCode::OK,
        None,
        Some(&notice),
        Some(&link),
    )
    .await
}

#[derive(Deserialize)]
pub struct ChangeForm {
    #[serde(default)]
    csrf: String,
    /// `role`, `deactivate` or `reactivate`.
    #[serde(default)]
    action: String,
    #[serde(default)]
    role: String,
}

pub async fn change(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    DeskForm { staff, form }: DeskForm<ChangeForm>,
) -> Response {
    let me = staff.0.user.clone();
    if !may_manage(me.role, Role::Contributor) {
        return forbidden();
    }
    let target: StaffUser = match state.store.staff_user(id).await {
        Ok(Some(u)) => u,
        Ok(None) => {
            return message(
                StatusCode::NOT_FOUND,
                "No such account",
                "That staff account does not exist.",
                None,
            );
        }
        Err(e) => return unavailable(e),
    };
    macro_rules! refuse {
        ($status:expr, $m:expr) => {
            return render(&state, &staff, $status, Some($m), None, None).await
        };
    }
    if target.id == me.id {
        refuse!(
            StatusCode::FORBIDDEN,
            "You cannot change your own account here; ask another administrator."
        );
    }
    if !may_manage(me.role, target.role) {
        refuse!(
            StatusCode::FORBIDDEN,
            &format!(
                "Your role cannot change an {} account.",
                target.role.as_str()
            )
        );
    }
    let result = match form.action.as_str() {
        "role" => {
            let Ok(role) = Role::parse(form.role.trim()) else {
                refuse!(StatusCode::UNPROCESSABLE_ENTITY, "Choose a role.");
            };
            if !may_manage(me.role, role) {
                refuse!(
                    StatusCode::FORBIDDEN,
                    &format!("Your role cannot make someone {}.", role.as_str())
                );
            }
            state
                .store
                .set_staff_role(id, role)
                .await
                .map(|()| format!("{} is now {}.", target.name, role.as_str()))
        }
        "deactivate" => state.store.set_staff_active(id, false).await.map(|()| {
            format!(
                "{} is deactivated and signed out everywhere. Their byline and stories stay.",
                target.name
            )
        }),
        "reactivate" => state
            .store
            .set_staff_active(id, true)
            .await
            .map(|()| format!("{} can sign in again.", target.name)),
        _ => refuse!(StatusCode::BAD_REQUEST, "Use the buttons on this page."),
    };
    match result {
        Ok(notice) => render(&state, &staff, StatusCode::OK, None, Some(&notice), None).await,
        Err(StoreError::Invalid(m)) => {
            refuse!(StatusCode::CONFLICT, &format!("Not changed: {m}."))
        }
        Err(e) => unavailable(e),
    }
}

crate::admin::has_csrf!(InviteForm, ChangeForm);
