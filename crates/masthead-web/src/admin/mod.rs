//! The editorial desk at `/admin`: sign-in, sessions, the owner's set-up link.
//! Its pages use their own small templates (not the public theme), are never
//! cached, and every state change needs the session's CSRF token on top of
//! the site-wide cross-origin refusal.

use std::net::SocketAddr;
use std::sync::OnceLock;

use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, Form, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use masthead_domain::{Email, Role};
use masthead_store::{NewStaffUser, StaffSession, StaffUser, StoreError, now_ms};
use minijinja::Environment;
use serde::{Deserialize, Serialize};

pub mod bundle;
pub mod desk;
pub mod editor;
pub mod form;
pub mod front;
pub mod integrations;
pub mod media;
pub mod members;
pub mod pickers;
pub mod reset;
pub mod revenue;
pub mod sends;
pub mod settings;
pub mod staff;
pub mod taxonomy;
pub mod tiers;

use crate::auth;
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "masthead_session";
/// Sessions last two weeks from sign-in.
pub const SESSION_MS: i64 = 14 * 86_400_000;
/// The owner set-up link is valid for a day.
const SETUP_MS: i64 = 86_400_000;

fn templates() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        masthead_render::plain_html_escaping(&mut env);
        for (name, src) in [
            ("base.html", include_str!("../../admin/base.html")),
            ("signin.html", include_str!("../../admin/signin.html")),
            ("setup.html", include_str!("../../admin/setup.html")),
            ("message.html", include_str!("../../admin/message.html")),
            ("dashboard.html", include_str!("../../admin/dashboard.html")),
            ("posts.html", include_str!("../../admin/posts.html")),
            ("live.html", include_str!("../../admin/live.html")),
            ("editor.html", include_str!("../../admin/editor.html")),
            ("revisions.html", include_str!("../../admin/revisions.html")),
            ("settings.html", include_str!("../../admin/settings.html")),
            ("review.html", include_str!("../../admin/review.html")),
            ("taxonomy.html", include_str!("../../admin/taxonomy.html")),
            ("reset.html", include_str!("../../admin/reset.html")),
            ("media.html", include_str!("../../admin/media.html")),
            ("byline.html", include_str!("../../admin/byline.html")),
            ("tag.html", include_str!("../../admin/tag.html")),
            ("staff.html", include_str!("../../admin/staff.html")),
            ("post_send.html", include_str!("../../admin/post_send.html")),
            ("sends.html", include_str!("../../admin/sends.html")),
            ("send.html", include_str!("../../admin/send.html")),
            ("members.html", include_str!("../../admin/members.html")),
            ("member.html", include_str!("../../admin/member.html")),
            (
                "members_import.html",
                include_str!("../../admin/members_import.html"),
            ),
            (
                "newsletters.html",
                include_str!("../../admin/newsletters.html"),
            ),
            (
                "newsletter.html",
                include_str!("../../admin/newsletter.html"),
            ),
            ("tiers.html", include_str!("../../admin/tiers.html")),
            ("tier.html", include_str!("../../admin/tier.html")),
            ("revenue.html", include_str!("../../admin/revenue.html")),
            ("_chart.html", include_str!("../../admin/_chart.html")),
            (
                "_tier_fields.html",
                include_str!("../../admin/_tier_fields.html"),
            ),
            (
                "integrations.html",
                include_str!("../../admin/integrations.html"),
            ),
            (
                "media_item.html",
                include_str!("../../admin/media_item.html"),
            ),
        ] {
            if let Err(e) = env.add_template(name, src) {
                tracing::error!(template = name, error = %e, "admin template is broken");
            }
        }
        env
    })
}

fn page(status: StatusCode, template: &str, ctx: impl Serialize) -> Response {
    let html = templates()
        .get_template(template)
        .and_then(|t| t.render(minijinja::value::Serde(&ctx)));
    let mut res = match html {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(template, error = %e, "admin page failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong; it has been logged.",
            )
                .into_response()
        }
    };
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

#[derive(Serialize)]
struct Link {
    url: &'static str,
    text: &'static str,
}

fn message(status: StatusCode, title: &str, message: &str, link: Option<Link>) -> Response {
    page(
        status,
        "message.html",
        serde_json::json!({ "title": title, "message": message, "link": link }),
    )
}

fn unavailable(e: StoreError) -> Response {
    tracing::error!(error = %e, "admin store error");
    message(
        StatusCode::SERVICE_UNAVAILABLE,
        "Temporarily unavailable",
        "The desk could not reach its database. Please try again in a minute.",
        None,
    )
}

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn session_cookie(headers: &HeaderMap, token: &str, max_age_s: i64) -> HeaderValue {
    // Secure whenever the request reached us over TLS (a proxy says so).
    let tls = headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
    let value = format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_s}{}",
        if tls { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&value)
        .unwrap_or_else(|_| HeaderValue::from_static("masthead_session=; Max-Age=0"))
}

/// The staff session a request's cookie belongs to, if any (for the Admin
/// API, which answers in JSON instead of redirecting).
pub(crate) async fn session_of(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<StaffSession>, StoreError> {
    let Some(token) = cookie_value(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    state.store.session(auth::token_hash(token), now_ms()).await
}

/// A signed-in staff member. Handlers that take it are for staff only; without
/// a valid session the reader is sent to the sign-in page.
pub struct Staff(pub StaffSession);

impl FromRequestParts<AppState> for Staff {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(token) = cookie_value(&parts.headers, SESSION_COOKIE) else {
            return Err(Redirect::to("/admin/signin").into_response());
        };
        match state.store.session(auth::token_hash(token), now_ms()).await {
            Ok(Some(s)) => Ok(Staff(s)),
            Ok(None) => Err(Redirect::to("/admin/signin").into_response()),
            Err(e) => Err(unavailable(e)),
        }
    }
}

/// A desk form: the signed-in staff member, the parsed form, and its CSRF
/// token checked, in that order (no session: to the sign-in page; unreadable
/// form: 400; wrong token: 403). Every state-changing desk handler takes one.
pub struct DeskForm<T> {
    pub staff: Staff,
    pub form: T,
}

/// Desk forms carry the session's CSRF token in a field named `csrf`.
pub trait HasCsrf {
    fn csrf(&self) -> &str;
}

macro_rules! has_csrf {
    ($($t:ty),+ $(,)?) => {
        $(impl crate::admin::HasCsrf for $t {
            fn csrf(&self) -> &str {
                &self.csrf
            }
        })+
    };
}
pub(crate) use has_csrf;

impl<T> axum::extract::FromRequest<AppState> for DeskForm<T>
where
    T: serde::de::DeserializeOwned + HasCsrf + Send + 'static,
{
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let staff = Staff::from_request_parts(&mut parts, state).await?;
        let req = axum::extract::Request::from_parts(parts, body);
        let Form(form) = Form::<T>::from_request(req, state).await.map_err(|_| {
            message(
                StatusCode::BAD_REQUEST,
                "Bad request",
                "The form could not be read.",
                None,
            )
        })?;
        staff.check_csrf(form.csrf()).map_err(|r| *r)?;
        Ok(DeskForm { staff, form })
    }
}

impl Staff {
    /// Refuses a state change whose form lacks this session's CSRF token.
    fn check_csrf(&self, sent: &str) -> Result<(), Box<Response>> {
        if auth::constant_time_eq(sent.as_bytes(), self.0.csrf_token.as_bytes()) {
            Ok(())
        } else {
            Err(Box::new(message(
                StatusCode::FORBIDDEN,
                "This form has expired",
                "For your security the form could not be accepted. Reload the page and try again.",
                Some(Link {
                    url: "/admin/",
                    text: "Back to the desk",
                }),
            )))
        }
    }
}

#[derive(Serialize)]
struct StaffView<'a> {
    name: &'a str,
    email: &'a str,
    role: &'static str,
}

impl<'a> From<&'a StaffUser> for StaffView<'a> {
    fn from(u: &'a StaffUser) -> Self {
        StaffView {
            name: &u.name,
            email: &u.email,
            role: u.role.as_str(),
        }
    }
}

pub async fn signin_form() -> Response {
    page(
        StatusCode::OK,
        "signin.html",
        serde_json::json!({ "title": "Sign in" }),
    )
}

#[derive(Deserialize)]
pub struct SigninForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

fn signin_error(status: StatusCode, email: &str, error: &str) -> Response {
    page(
        status,
        "signin.html",
        serde_json::json!({ "title": "Sign in", "email": email, "error": error }),
    )
}

/// The address a request comes from, as the limits count it.
fn address_of(state: &AppState, peer: SocketAddr, headers: &HeaderMap) -> String {
    crate::throttle::address_key(crate::security::client_ip(
        peer.ip(),
        headers,
        &state.config.trusted_proxies,
    ))
}

/// "Too busy, try again shortly": Argon2 slots or a total limit are taken.
pub(crate) fn busy(retry_after_s: u32) -> Response {
    crate::throttle::with_retry_after(
        message(
            StatusCode::SERVICE_UNAVAILABLE,
            "Busy",
            "The desk has more requests than it can take just now. Please try again in a moment.",
            None,
        ),
        retry_after_s,
    )
}

/// Counts one attempt of a one-time link (set-up, new password) from this
/// address: `Err` is the refusal to send.
pub(crate) async fn count_token_use(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Result<(), Response> {
    let address = address_of(state, peer, headers);
    match state
        .store
        .throttle(crate::throttle::token_limits(&address))
        .await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(0)) => Err(crate::throttle::with_retry_after(
            message(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many attempts",
                "Too many attempts from your address. Wait 15 minutes and try again.",
                None,
            ),
            crate::throttle::retry_after_s(crate::throttle::TOKEN_WINDOW_MS),
        )),
        Ok(Err(_)) => Err(busy(60)),
        Err(e) => Err(unavailable(e)),
    }
}

pub async fn signin(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<SigninForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return signin_error(
            StatusCode::BAD_REQUEST,
            "",
            "The form could not be read. Please try again.",
        );
    };
    // No account has a longer address; such a form is counted but looked up as nobody.
    let plausible = form.email.trim().len() <= 254;
    let email_key: String = form
        .email
        .trim()
        .chars()
        .take(254)
        .collect::<String>()
        .to_ascii_lowercase();
    let address = address_of(&state, peer, &headers);
    // Counted before the password is tried, in one transaction with the
    // check: parallel guesses each see the ones before them.
    let attempt = match state
        .store
        .throttle(crate::throttle::signin_limits(&email_key, &address))
        .await
    {
        Ok(Ok(ids)) => ids,
        Ok(Err(limit)) => {
            tracing::info!(limit, "staff sign-in refused by a limit");
            let wait = crate::throttle::retry_after_s(crate::throttle::SIGNIN_WINDOW_MS);
            let res = match limit {
                // This address (at this account, or at all).
                0 | 1 => signin_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    &form.email,
                    "Too many failed attempts. Wait 15 minutes and try again, or ask an administrator to reset your password.",
                ),
                // Many addresses at once: the account, or the whole desk.
                _ => signin_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &form.email,
                    "Too many sign-in attempts are being made just now. Please try again in a few minutes.",
                ),
            };
            return crate::throttle::with_retry_after(res, wait);
        }
        Err(e) => return unavailable(e),
    };
    let forgiven = crate::throttle::account_and_address_key(&email_key, &address);
    let account = if plausible {
        match state.store.staff_for_signin(email_key).await {
            Ok(a) => a,
            Err(e) => return unavailable(e),
        }
    } else {
        None
    };
    let password = form.password;
    let candidate = account.clone();
    // Argon2 is deliberately slow: off the async workers, a few at a time.
    let verified = state
        .password_slots
        .run(move || match &candidate {
            Some((user, hash)) => auth::verify_password(&password, hash) && user.active,
            None => {
                auth::verify_password(&password, auth::dummy_hash());
                false
            }
        })
        .await;
    let ok = match verified {
        Ok(ok) => ok,
        Err(auth::Busy) => {
            // Never tried, so not counted.
            if let Err(e) = state.store.forget_attempt(attempt).await {
                return unavailable(e);
            }
            return busy(auth::BUSY_RETRY_AFTER_S);
        }
    };
    let Some((user, _)) = account.filter(|_| ok) else {
        tracing::info!("failed staff sign-in");
        return signin_error(
            StatusCode::UNAUTHORIZED,
            &form.email,
            "That e-mail address and password do not match an account.",
        );
    };
    let token = auth::new_token();
    let csrf = auth::new_token();
    let hash = auth::token_hash(&token);
    let user_id = user.id;
    let now = now_ms();
    if let Err(e) = state
        .store
        .sign_in(masthead_store::SignIn {
            attempts: attempt,
            forgiven,
            token_hash: hash,
            user_id,
            csrf,
            now,
            expires: now + SESSION_MS,
        })
        .await
    {
        return unavailable(e);
    }
    tracing::info!(user_id, "staff signed in");
    let mut res = Redirect::to("/admin/").into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie(&headers, &token, SESSION_MS / 1000),
    );
    res
}

#[derive(Deserialize)]
pub struct SignoutForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    everywhere: Option<String>,
}

pub async fn signout(
    State(state): State<AppState>,
    staff: Staff,
    headers: HeaderMap,
    form: Result<Form<SignoutForm>, FormRejection>,
) -> Response {
    let sent = form.as_ref().map(|f| f.csrf.as_str()).unwrap_or("");
    if let Err(r) = staff.check_csrf(sent) {
        return *r;
    }
    let everywhere = form.ok().and_then(|f| f.0.everywhere).is_some();
    let token_hash = cookie_value(&headers, SESSION_COOKIE)
        .map(auth::token_hash)
        .unwrap_or_default();
    let user_id = staff.0.user.id;
    let result = if everywhere {
        state.store.delete_sessions_of(user_id).await.map(|_| ())
    } else {
        state.store.delete_session(token_hash).await
    };
    if let Err(e) = result {
        return unavailable(e);
    }
    let mut res = Redirect::to("/admin/signin").into_response();
    res.headers_mut()
        .insert(header::SET_COOKIE, session_cookie(&headers, "", 0));
    res
}

/// Makes a one-time owner set-up link when the site has no owner yet.
pub async fn setup_link_if_needed(state: &AppState) -> Result<Option<String>, StoreError> {
    if state.store.owner_exists().await? {
        return Ok(None);
    }
    let token = auth::new_token();
    let hash = auth::token_hash(&token);
    let now = now_ms();
    state
        .store
        .insert_one_time_token(hash, "setup", None, now, now + SETUP_MS)
        .await?;
    Ok(Some(format!("/admin/setup/{token}")))
}

pub async fn setup_form(Path(token): Path<String>) -> Response {
    page(
        StatusCode::OK,
        "setup.html",
        serde_json::json!({ "title": "Set up", "token": token }),
    )
}

#[derive(Deserialize)]
pub struct SetupForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

pub async fn setup(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(token): Path<String>,
    form: Result<Form<SetupForm>, FormRejection>,
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
    let again = |error: String| {
        page(
            StatusCode::UNPROCESSABLE_ENTITY,
            "setup.html",
            serde_json::json!({ "title": "Set up", "token": token, "name": form.name, "email": form.email, "error": error }),
        )
    };
    if form.name.trim().is_empty() {
        return again("Enter your name.".into());
    }
    let email = match Email::parse(&form.email) {
        Ok(e) => e,
        Err(e) => return again(format!("That address does not look right: {e}.")),
    };
    if let Err(e) = auth::check_policy(&form.password) {
        return again(format!("Choose another password: {e}."));
    }
    let expired = || {
        message(
            StatusCode::GONE,
            "This link has expired",
            "Set-up links work once and for a day. Restart the server for a new one, or create an owner with `masthead user add`.",
            None,
        )
    };
    // The link is checked before the (costly) hash; it is spent below, with
    // the owner's creation, in one transaction.
    let now = now_ms();
    let valid = tokio::try_join!(
        state
            .store
            .one_time_token_valid(auth::token_hash(&token), "setup", now),
        state.store.owner_exists()
    );
    match valid {
        Ok((true, false)) => {}
        Ok(_) => return expired(),
        Err(e) => return unavailable(e),
    }
    let password = form.password.clone();
    let hash = match state
        .password_slots
        .run(move || auth::hash_password(&password))
        .await
    {
        Ok(Ok(h)) => h,
        Ok(Err(e)) => return again(format!("Choose another password: {e}.")),
        Err(auth::Busy) => return busy(auth::BUSY_RETRY_AFTER_S),
    };
    let token_hash = auth::token_hash(&token);
    let new = NewStaffUser {
        email,
        name: form.name.trim().to_owned(),
        role: Role::Owner,
        password_hash: hash,
        author_id: None,
    };
    let created = state
        .store
        // The token is spent and the owner created in one transaction.
        .create_owner(token_hash, new, now)
        .await;
    match created {
        Ok(Some(_)) => message(
            StatusCode::OK,
            "Your account is ready",
            "Sign in with the address and password you chose.",
            Some(Link {
                url: "/admin/signin",
                text: "Sign in",
            }),
        ),
        Ok(None) => expired(),
        Err(StoreError::Conflict(m)) => again(m),
        Err(e) => unavailable(e),
    }
}
