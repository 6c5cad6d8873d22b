//! Password reset by a one-time e-mailed link. The request page always says
//! the same thing, whether or not the address has an account; the mail is sent
//! in the background so timing does not tell either. Using the link sets the
//! new password and signs the account out everywhere.

use std::net::SocketAddr;

use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use masthead_store::now_ms;
use serde::Deserialize;

use super::{Link, address_of, busy, count_token_use, message, page, unavailable};
use crate::auth;
use crate::state::AppState;

/// Reset links last an hour.
const RESET_MS: i64 = 3_600_000;

pub async fn request_form() -> Response {
    page(
        StatusCode::OK,
        "reset.html",
        serde_json::json!({ "title": "Reset password" }),
    )
}

#[derive(Deserialize)]
pub struct RequestForm {
    #[serde(default)]
    email: String,
}

pub async fn request(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<RequestForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return message(
            StatusCode::BAD_REQUEST,
            "Bad request",
            "The form could not be read.",
            None,
        );
    };
    let sent = page(
        StatusCode::OK,
        "reset.html",
        serde_json::json!({ "title": "Reset password", "sent": true }),
    );
    let Some(mailer) = state.config.mailer.clone() else {
        tracing::warn!("password reset requested but no SMTP server is configured (--smtp-url)");
        return message(
            StatusCode::SERVICE_UNAVAILABLE,
            "E-mail is not set up",
            "This site cannot send e-mail yet. Ask an administrator to reset your password, or to configure --smtp-url.",
            None,
        );
    };
    let key: String = form
        .email
        .trim()
        .chars()
        .take(254)
        .collect::<String>()
        .to_ascii_lowercase();
    let address = address_of(&state, peer, &headers);
    // Counted and checked in one transaction. Limits on the address and on
    // everyone say so; limits on the account answer as if mailed, so the
    // page never tells whether an address has an account.
    match state
        .store
        .throttle(crate::throttle::reset_limits(&key, &address))
        .await
    {
        Ok(Ok(_)) => {}
        Ok(Err(0)) => {
            return crate::throttle::with_retry_after(
                message(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many requests",
                    "Too many reset requests from your address. Wait an hour and try again.",
                    None,
                ),
                crate::throttle::retry_after_s(crate::throttle::RESET_WINDOW_MS),
            );
        }
        Ok(Err(1)) => return busy(600),
        Ok(Err(_)) => return sent,
        Err(e) => return unavailable(e),
    }
    let now = now_ms();
    let account = match state.store.staff_for_signin(key).await {
        Ok(a) => a,
        Err(e) => return unavailable(e),
    };
    let Some((user, _)) = account.filter(|(u, _)| u.active) else {
        return sent;
    };
    let token = auth::new_token();
    let hash = auth::token_hash(&token);
    let user_id = user.id;
    if let Err(e) = state
        .store
        .insert_one_time_token(hash, "reset", Some(user_id), now, now + RESET_MS)
        .await
    {
        return unavailable(e);
    }
    let link = format!("{}/admin/reset/{token}", state.public_url());
    let site = state.site().settings.title.clone();
    let body = format!(
        "Hello {},\n\nSomeone (we hope you) asked to reset the password of your {site} account.\n\
         Choose a new one here (the link works once, for an hour):\n\n{link}\n\n\
         If it was not you, ignore this message; your password has not changed.\n",
        user.name
    );
    tokio::spawn(async move {
        match mailer
            .send_text(&user.email, &format!("Reset your {site} password"), body)
            .await
        {
            Ok(()) => tracing::info!(user_id, "password reset mail sent"),
            Err(e) => tracing::error!(user_id, error = %e, "password reset mail failed"),
        }
    });
    sent
}

pub async fn new_password_form(Path(token): Path<String>) -> Response {
    page(
        StatusCode::OK,
        "reset.html",
        serde_json::json!({ "title": "New password", "token": token }),
    )
}

#[derive(Deserialize)]
pub struct NewPasswordForm {
    #[serde(default)]
    password: String,
}

pub async fn set_password(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(token): Path<String>,
    form: Result<Form<NewPasswordForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return message(
            StatusCode::BAD_REQUEST,
            "Bad request",
            "The form could not be read.",
            None,
        );
    };
    if let Err(refused) = count_token_use(&state, peer, &headers).await {
        return refused;
    }
    let password = form.password;
    if let Err(e) = auth::check_policy(&password) {
        return page(
            StatusCode::UNPROCESSABLE_ENTITY,
            "reset.html",
            serde_json::json!({ "title": "New password", "token": token, "error": format!("Choose another password: {e}.") }),
        );
    }
    let expired = || {
        message(
            StatusCode::GONE,
            "This link has expired",
            "Reset links work once and for an hour. Ask for a new one.",
            Some(Link {
                url: "/admin/reset",
                text: "Reset your password",
            }),
        )
    };
    // The link is checked before the (costly) hash, and spent below in the
    // same transaction that sets the password.
    match state
        .store
        .one_time_token_valid(auth::token_hash(&token), "reset", now_ms())
        .await
    {
        Ok(true) => {}
        Ok(false) => return expired(),
        Err(e) => return unavailable(e),
    }
    let hash = match state
        .password_slots
        .run(move || auth::hash_password(&password))
        .await
    {
        Ok(Ok(h)) => h,
        Ok(Err(e)) => {
            return page(
                StatusCode::UNPROCESSABLE_ENTITY,
                "reset.html",
                serde_json::json!({ "title": "New password", "token": token, "error": format!("Choose another password: {e}.") }),
            );
        }
        Err(auth::Busy) => return busy(auth::BUSY_RETRY_AFTER_S),
    };
    let token_hash = auth::token_hash(&token);
    let now = now_ms();
    let done = state
        .store
        // A reset ends every existing session.
        .reset_password(token_hash, hash, now)
        .await;
    match done {
        Ok(true) => message(
            StatusCode::OK,
            "Password changed",
            "Your password has been changed and every session signed out. Sign in with the new one.",
            Some(Link {
                url: "/admin/signin",
                text: "Sign in",
            }),
        ),
        Ok(false) => expired(),
        Err(e) => unavailable(e),
    }
}
