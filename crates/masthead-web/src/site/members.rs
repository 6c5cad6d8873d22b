//! Members on the site (issue 10, items 1-4): joining with a confirmed
//! address, signing in without a password, the account page, and who may
//! read a members-only story.
//!
//! Every request for mail (join, sign in, change of address) records a row
//! holding the SHA-256 of three secrets: the link's token (mailed), the
//! asking page's reference (kept by that page, in its URL), and the 6-digit
//! code (mailed) hashed with the reference. So the link works from any
//! device, while the code works only on the page that asked for it, and a
//! few wrong codes kill the request. The visitor is told the same thing
//! whether or not the address is already a member's: a member asking to
//! join gets a sign-in mail instead, and a sign-in for an unknown address
//! sends nothing. Mail goes out in the background, so the answer's timing
//! does not tell those cases apart either.
//!
//! Member sessions have their own cookie ([`MEMBER_COOKIE`]), apart from the
//! desk's, stored as the SHA-256 of their token. Every state-changing
//! account form carries the session's CSRF token (on top of the site-wide
//! cross-origin refusal in `security.rs`).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::rejection::{FormRejection, JsonRejection, QueryRejection};
use axum::extract::{ConnectInfo, Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use masthead_domain::Email;
use masthead_render::views::{CampaignView, PageMeta, SiteView};
use masthead_store::{
    Limit, MemberRedeemed, MemberRequestPurpose, MemberRequestRecorded, MemberSession,
    NewMemberRequest, NewMemberSession, RedeemBy, RedeemRefused, now_ms,
};
use serde::{Deserialize, Serialize};

use crate::auth;
use crate::error::SiteError;
use crate::mail::Letter;
use crate::state::AppState;

pub const MEMBER_COOKIE: &str = "masthead_member";
/// Member sessions last 90 days from sign-in.
pub const MEMBER_SESSION_MS: i64 = 90 * 86_400_000;
/// A sign-up confirmation is valid for a day (people read mail later).
pub const SIGNUP_MS: i64 = 86_400_000;
/// A sign-in link or code, or an address change, for an hour.
pub const SIGNIN_MS: i64 = 3_600_000;
/// Wrong codes a request survives.
pub const MAX_CODE_ATTEMPTS: u32 = 5;

const MINUTE_MS: i64 = 60_000;
/// Mail requests per address (IP) as joins were counted before (30 in ten
/// minutes: a family or an office can join together) and per e-mail address
/// in an hour; everyone together in a minute is a server setting
/// (`ServerLimits::member_mail_per_minute`).
const REQUESTS_PER_IP: u32 = crate::throttle::JOIN_PER_ADDRESS;
const REQUESTS_PER_EMAIL: u32 = 5;
/// Code attempts from one IP address in fifteen minutes (all requests).
const CODES_PER_IP: u32 = 30;

/// What the site knows about who is reading: set by the page cache layer
/// from the member cookie (looked up only when the request carries one).
#[derive(Clone, Default)]
pub struct Viewer(pub Option<Arc<MemberSession>>);

/// Who a page is rendered for; the page cache keeps one copy per audience.
/// Paying readers (paid or comped) are told apart by tier, since a story
/// open to chosen tiers reads differently for each: a page rendered for one
/// tier is never served to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Anonymous,
    Member,
    Paid { tier: Option<i64> },
}

impl Viewer {
    pub fn audience(&self) -> Audience {
        match self.reader() {
            None => Audience::Anonymous,
            Some(r) if !r.paying => Audience::Member,
            Some(r) => Audience::Paid { tier: r.tier_id },
        }
    }

    /// The reader as access rules see them (`None`: anonymous). The
    /// member's status was settled when the session was read, so a comp
    /// that has ended counts as ended from that moment.
    pub fn reader(&self) -> Option<masthead_domain::access::Reader> {
        self.0.as_ref().map(|s| s.member.reader())
    }
}

/// A session or link token as this server makes them: 64 lowercase hex
/// digits. Anything else (from a cookie or a URL) is refused before any
/// lookup.
pub fn parse_token(s: &str) -> Option<&str> {
    (s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))).then_some(s)
}

/// A 6-digit code as typed: digits, perhaps with spaces or a dash between.
pub fn parse_code(s: &str) -> Option<String> {
    let digits: String = s
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '\u{a0}'))
        .collect();
    (digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

/// The member cookie's token, if the request carries a well-formed one.
pub fn member_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == MEMBER_COOKIE)
        .and_then(|(_, v)| parse_token(v))
}

/// The reader of a request: anonymous at once without the member cookie.
pub async fn viewer(state: &AppState, headers: &HeaderMap) -> Viewer {
    let Some(token) = member_token(headers) else {
        return Viewer(None);
    };
    match state
        .store
        .member_session(auth::token_hash(token), now_ms())
        .await
    {
        Ok(s) => Viewer(s.map(Arc::new)),
        Err(e) => {
            // Reading on as anonymous beats failing the page.
            tracing::warn!(error = %e, "looking up a member session failed");
            Viewer(None)
        }
    }
}

fn session_cookie(state: &AppState, token: &str, max_age_s: i64) -> HeaderValue {
    let secure = if state.config.public_url.is_https() {
        "; Secure"
    } else {
        ""
    };
    let value = format!(
        "{MEMBER_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_s}{secure}"
    );
    HeaderValue::from_str(&value)
        .unwrap_or_else(|_| HeaderValue::from_static("masthead_member=; Path=/; Max-Age=0"))
}

/// Six random digits, uniformly.
fn new_code() -> String {
    loop {
        let mut b = [0u8; 4];
        if getrandom::fill(&mut b).is_err() {
            panic!("the operating system's random number generator is unavailable");
        }
        let n = u32::from_le_bytes(b);
        // Below the largest multiple of a million, so every code is as likely.
        if n < 4_294_000_000 {
            return format!("{:06}", n % 1_000_000);
        }
    }
}

fn code_hash(reference: &str, code: &str) -> Vec<u8> {
    auth::token_hash(&format!("code:{reference}:{code}"))
}

fn no_store(mut res: Response) -> Response {
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

// ------------------------------------------------------------- pages --

#[derive(Serialize, Default)]
pub(crate) struct MemberPage {
    /// check | signin | account | subscribe | support | thanks | message
    pub(crate) view: &'static str,
    pub(crate) title: String,
    pub(crate) message: String,
    pub(crate) error: Option<String>,
    pub(crate) reference: String,
    pub(crate) email: String,
    pub(crate) name: String,
    pub(crate) csrf: String,
    pub(crate) newsletters: Vec<NewsletterChoice>,
    pub(crate) status: &'static str,
    /// The account page's paid plan, if the member has had one.
    pub(crate) plan: Option<crate::billing::checkout::PlanView>,
    /// The subscribe page's paid tiers.
    pub(crate) offers: Vec<crate::billing::checkout::Offer>,
    /// The support page's choices.
    pub(crate) support: Option<crate::billing::donations::SupportView>,
}

#[derive(Serialize)]
pub(crate) struct NewsletterChoice {
    id: i64,
    name: String,
    description: String,
    chosen: bool,
}

#[derive(Serialize)]
struct MemberContext<'a> {
    site: SiteView,
    campaign: Option<CampaignView>,
    page: PageMeta,
    member: &'a MemberPage,
}

/// A members' page (account, sign-in, subscribe, messages) in the theme's
/// `member.html`, never cached.
pub(crate) fn render_member_page(
    state: &AppState,
    status: StatusCode,
    path: &str,
    m: &MemberPage,
) -> Response {
    render(state, status, path, m)
}

/// A message page in the members' template.
pub(crate) fn member_message(
    state: &AppState,
    status: StatusCode,
    title: &str,
    text: &str,
) -> Response {
    message(state, status, title, text)
}

fn render(state: &AppState, status: StatusCode, path: &str, m: &MemberPage) -> Response {
    let clock = state.clock();
    let ctx = MemberContext {
        site: state.site_view(),
        campaign: state.campaign_view(&clock),
        page: PageMeta {
            title: m.title.clone(),
            description: m.title.clone(),
            path: path.to_owned(),
            section: None,
            noindex: true,
        },
        member: m,
    };
    match state.theme.render("member.html", &ctx) {
        Ok(html) => no_store((status, axum::response::Html(html)).into_response()),
        Err(e) => SiteError::from(e).into_response(),
    }
}

fn message(state: &AppState, status: StatusCode, title: &str, text: &str) -> Response {
    render(
        state,
        status,
        "/signin/",
        &MemberPage {
            view: "message",
            title: title.to_owned(),
            message: text.to_owned(),
            ..Default::default()
        },
    )
}

// ---------------------------------------------------------- requests --

/// Why a request for mail was not recorded.
pub enum RequestRefused {
    Throttled,
    Unavailable,
}

fn request_limits(ip: &str, email: &Email, total_per_minute: u32) -> Vec<Limit> {
    vec![
        Limit::new(
            format!("member-ip:{ip}"),
            REQUESTS_PER_IP,
            crate::throttle::JOIN_WINDOW_MS,
        ),
        Limit::new(
            format!("member-email:{}", email.key()),
            REQUESTS_PER_EMAIL,
            60 * MINUTE_MS,
        ),
        Limit::new("member-all", total_per_minute, MINUTE_MS),
    ]
}

/// Records a request and mails its link and code in the background;
/// returns the asking page's reference (to put in its URL).
#[allow(clippy::too_many_arguments)]
pub async fn request_mail(
    state: &AppState,
    ip: &str,
    purpose: MemberRequestPurpose,
    email: Email,
    name: String,
    newsletters: Option<Vec<i64>>,
    member_id: Option<i64>,
    source: &str,
) -> Result<String, RequestRefused> {
    let link = auth::new_token();
    let reference = auth::new_token();
    let code = new_code();
    let now = now_ms();
    let valid_ms = match purpose {
        MemberRequestPurpose::Signup => SIGNUP_MS,
        _ => SIGNIN_MS,
    };
    let limits = request_limits(ip, &email, state.config.limits.member_mail_per_minute);
    let req = NewMemberRequest {
        purpose,
        email: email.clone(),
        member_id,
        name,
        newsletters,
        source: source.to_owned(),
        link_hash: auth::token_hash(&link),
        ref_hash: auth::token_hash(&reference),
        code_hash: code_hash(&reference, &code),
        now_ms: now,
        expires_ms: now + valid_ms,
    };
    let recorded = match state.store.request_member_mail(req, limits).await {
        Ok(Ok(r)) => r,
        Ok(Err(_)) => return Err(RequestRefused::Throttled),
        Err(e) => {
            tracing::error!(error = %e, "recording a member request failed");
            return Err(RequestRefused::Unavailable);
        }
    };
    tracing::info!(?purpose, ?recorded, "member request");
    if let Some(letter) = letter(state, recorded, email.as_str(), &link, &code) {
        let postbox = state.config.postbox.clone();
        tokio::spawn(async move {
            if let Err(e) = postbox.send(&letter).await {
                tracing::warn!(error = %e, "a member e-mail could not be sent");
            }
        });
    }
    Ok(reference)
}

fn letter(
    state: &AppState,
    recorded: MemberRequestRecorded,
    to: &str,
    link_token: &str,
    code: &str,
) -> Option<Letter> {
    let site = state.site().settings.title.clone();
    let (action, subject, lead, button, validity) = match recorded {
        MemberRequestRecorded::Nothing => return None,
        MemberRequestRecorded::Signup => (
            "signup",
            format!("Confirm your membership of {site}"),
            format!("Thank you for joining {site}. Confirm your address to become a member:"),
            "Confirm my membership",
            "for 24 hours",
        ),
        MemberRequestRecorded::Signin => (
            "signin",
            format!("Sign in to {site}"),
            format!("Here is your link to sign in to {site}:"),
            "Sign in",
            "for one hour",
        ),
        MemberRequestRecorded::EmailChange => (
            "email",
            format!("Confirm your new address for {site}"),
            format!("Confirm that your {site} membership should use this address from now on:"),
            "Use this address",
            "for one hour",
        ),
    };
    let url = format!(
        "{}/members/?token={link_token}&action={action}",
        state.public_url()
    );
    let text = format!(
        "{lead}\n\n{url}\n\nOr type this code on the page where you asked for it: {code}\n\n\
         The link and the code work once, {validity}. If you did not ask for this, ignore \
         this e-mail: nothing happens unless the link is followed.\n\n{site}\n"
    );
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{subject}</title></head>\
         <body style=\"margin:0;padding:24px;font-family:Georgia,serif;color:#111;background:#fff\">\
         <table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\"><tr><td>\
         <p style=\"font-size:17px\">{lead}</p>\
         <p><a href=\"{url}\" style=\"display:inline-block;padding:12px 20px;background:#111;color:#fff;text-decoration:none\">{button}</a></p>\
         <p style=\"font-size:17px\">Or type this code on the page where you asked for it: \
         <strong style=\"font-size:22px;letter-spacing:3px\">{code}</strong></p>\
         <p style=\"font-size:14px;color:#555\">The link and the code work once, {validity}. If you did \
         not ask for this, ignore this e-mail: nothing happens unless the link is followed.</p>\
         <p style=\"font-size:14px;color:#555\">{site}</p></td></tr></table></body></html>",
        subject = esc(&subject),
        lead = esc(&lead),
        url = esc(&url),
        site = esc(&site),
    );
    Some(Letter {
        to: to.to_owned(),
        subject,
        text,
        html,
    })
}

fn check_url(reference: &str) -> String {
    format!("/members/check/?ref={reference}")
}

fn client_ip(state: &AppState, peer: SocketAddr, headers: &HeaderMap) -> String {
    crate::throttle::address_key(crate::security::client_ip(
        peer.ip(),
        headers,
        &state.config.trusted_proxies,
    ))
}

fn throttled(state: &AppState) -> Response {
    crate::throttle::with_retry_after(
        message(
            state,
            StatusCode::TOO_MANY_REQUESTS,
            "Please wait a little",
            "Too many requests have come from your address, or for this e-mail address, in the last few minutes. Please try again later.",
        ),
        crate::throttle::retry_after_s(10 * MINUTE_MS),
    )
}

fn unavailable(state: &AppState) -> Response {
    message(
        state,
        StatusCode::SERVICE_UNAVAILABLE,
        "Temporarily unavailable",
        "We could not record your request just now. Please try again in a minute.",
    )
}

/// `POST /join/` (see `join.rs` for the form): records a pending sign-up.
pub async fn join(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    email: Email,
    name: String,
    newsletters: Option<Vec<i64>>,
) -> Response {
    let ip = client_ip(state, peer, headers);
    match request_mail(
        state,
        &ip,
        MemberRequestPurpose::Signup,
        email,
        name,
        newsletters,
        None,
        "site",
    )
    .await
    {
        Ok(reference) => Redirect::to(&check_url(&reference)).into_response(),
        Err(RequestRefused::Throttled) => throttled(state),
        Err(RequestRefused::Unavailable) => unavailable(state),
    }
}

#[derive(Deserialize)]
pub struct CheckQuery {
    #[serde(rename = "ref")]
    reference: Option<String>,
}

/// `GET /members/check/?ref=…`: "check your inbox", and the code form.
pub async fn check_form(
    State(state): State<AppState>,
    q: Result<Query<CheckQuery>, QueryRejection>,
) -> Response {
    let reference = q
        .ok()
        .and_then(|q| q.0.reference)
        .filter(|r| parse_token(r).is_some());
    let Some(reference) = reference else {
        return message(
            &state,
            StatusCode::BAD_REQUEST,
            "This page has expired",
            "This address is incomplete. Ask for a new sign-in link on the sign-in page.",
        );
    };
    render(
        &state,
        StatusCode::OK,
        "/members/check/",
        &MemberPage {
            view: "check",
            title: "Check your inbox".into(),
            reference,
            ..Default::default()
        },
    )
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(rename = "ref", default)]
    reference: String,
    #[serde(default)]
    code: String,
}

fn new_session() -> (String, NewMemberSession) {
    let token = auth::new_token();
    let now = now_ms();
    (
        token.clone(),
        NewMemberSession {
            token_hash: auth::token_hash(&token),
            csrf_token: auth::new_token(),
            now_ms: now,
            expires_ms: now + MEMBER_SESSION_MS,
        },
    )
}

/// Counts the campaign's members again at once (one `COUNT`, only when a
/// sign-up is confirmed or a member leaves), so this reader's next page and
/// open pages' next poll show it; the change log brings it to other
/// instances.
async fn recount(state: &AppState) {
    if let Err(e) = state.refresh_member_count().await {
        tracing::warn!(error = %e, "recounting the members failed");
    }
}

/// Signed in: the cookie, and on to the account page or the front page.
async fn signed_in(state: &AppState, token: &str, redeemed: MemberRedeemed) -> Response {
    if redeemed.joined {
        recount(state).await;
    }
    let target = match redeemed.purpose {
        MemberRequestPurpose::Signup => "/account/?welcome=1",
        MemberRequestPurpose::EmailChange => "/account/?changed=1",
        MemberRequestPurpose::Signin => "/",
    };
    let mut res = Redirect::to(target).into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie(state, token, MEMBER_SESSION_MS / 1000),
    );
    no_store(res)
}

fn refused(state: &AppState, why: RedeemRefused, reference: Option<&str>) -> Response {
    match why {
        RedeemRefused::WrongCode { left } if left > 0 => render(
            state,
            StatusCode::UNPROCESSABLE_ENTITY,
            "/members/check/",
            &MemberPage {
                view: "check",
                title: "Check your inbox".into(),
                reference: reference.unwrap_or_default().to_owned(),
                error: Some(format!(
                    "That code is not right. You can try {left} more time{}.",
                    if left == 1 { "" } else { "s" }
                )),
                ..Default::default()
            },
        ),
        RedeemRefused::WrongCode { .. } | RedeemRefused::Invalid => message(
            state,
            StatusCode::GONE,
            "This link or code no longer works",
            "It has expired, has been used already, or too many wrong codes were typed. Ask for a new one on the sign-in page.",
        ),
        RedeemRefused::AddressTaken => message(
            state,
            StatusCode::CONFLICT,
            "That address is taken",
            "Another member uses that address, so yours has not been changed.",
        ),
    }
}

/// `POST /members/check/`: the code typed on the page that asked for it.
pub async fn check_code(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<CodeForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return message(
            &state,
            StatusCode::BAD_REQUEST,
            "The form could not be read",
            "Please go back and try again.",
        );
    };
    let Some(reference) = parse_token(&form.reference) else {
        return refused(&state, RedeemRefused::Invalid, None);
    };
    let Some(code) = parse_code(&form.code) else {
        return render(
            &state,
            StatusCode::UNPROCESSABLE_ENTITY,
            "/members/check/",
            &MemberPage {
                view: "check",
                title: "Check your inbox".into(),
                reference: reference.to_owned(),
                error: Some("The code is the six digits in the e-mail we sent.".into()),
                ..Default::default()
            },
        );
    };
    // Guessing across many requests from one connection is throttled too.
    let ip = client_ip(&state, peer, &headers);
    let limits = vec![Limit::new(
        format!("member-code-ip:{ip}"),
        CODES_PER_IP,
        15 * MINUTE_MS,
    )];
    match state.store.throttle(limits).await {
        Ok(Ok(_)) => {}
        Ok(Err(_)) => return throttled(&state),
        Err(_) => return unavailable(&state),
    }
    let (token, session) = new_session();
    let by = RedeemBy::Code {
        ref_hash: auth::token_hash(reference),
        code_hash: code_hash(reference, &code),
    };
    match state
        .store
        .redeem_member_request(by, session, MAX_CODE_ATTEMPTS)
        .await
    {
        Ok(Ok(r)) => signed_in(&state, &token, r).await,
        Ok(Err(why)) => refused(&state, why, Some(reference)),
        Err(e) => {
            tracing::error!(error = %e, "redeeming a code failed");
            unavailable(&state)
        }
    }
}

#[derive(Deserialize)]
pub struct LinkQuery {
    token: Option<String>,
}

/// `GET /members/?token=…&action=…`: the link from the e-mail.
pub async fn follow_link(
    State(state): State<AppState>,
    q: Result<Query<LinkQuery>, QueryRejection>,
) -> Response {
    let token = q.ok().and_then(|q| q.0.token);
    let Some(link) = token.as_deref().and_then(parse_token) else {
        return refused(&state, RedeemRefused::Invalid, None);
    };
    let (token, session) = new_session();
    match state
        .store
        .redeem_member_request(
            RedeemBy::Link(auth::token_hash(link)),
            session,
            MAX_CODE_ATTEMPTS,
        )
        .await
    {
        Ok(Ok(r)) => signed_in(&state, &token, r).await,
        Ok(Err(why)) => refused(&state, why, None),
        Err(e) => {
            tracing::error!(error = %e, "redeeming a link failed");
            unavailable(&state)
        }
    }
}

// ----------------------------------------------------------- sign in --

#[derive(Deserialize)]
pub struct SigninForm {
    #[serde(default)]
    email: String,
}

pub async fn signin_form(State(state): State<AppState>) -> Response {
    render(
        &state,
        StatusCode::OK,
        "/signin/",
        &MemberPage {
            view: "signin",
            title: "Sign in".into(),
            ..Default::default()
        },
    )
}

/// `POST /signin/`: mails a link and a code if the address is a member's;
/// the answer is the same either way.
pub async fn signin(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<SigninForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return message(
            &state,
            StatusCode::BAD_REQUEST,
            "The form could not be read",
            "Please go back and try again.",
        );
    };
    let email = match Email::parse(&form.email) {
        Ok(e) => e,
        Err(e) => {
            return render(
                &state,
                StatusCode::UNPROCESSABLE_ENTITY,
                "/signin/",
                &MemberPage {
                    view: "signin",
                    title: "Sign in".into(),
                    email: form.email.chars().take(254).collect(),
                    error: Some(
                        format!("That address does not look right: {e}.")
                            .replace("invalid e-mail address: ", ""),
                    ),
                    ..Default::default()
                },
            );
        }
    };
    let ip = client_ip(&state, peer, &headers);
    match request_mail(
        &state,
        &ip,
        MemberRequestPurpose::Signin,
        email,
        String::new(),
        None,
        None,
        "site",
    )
    .await
    {
        Ok(reference) => Redirect::to(&check_url(&reference)).into_response(),
        Err(RequestRefused::Throttled) => throttled(&state),
        Err(RequestRefused::Unavailable) => unavailable(&state),
    }
}

// ------------------------------------------------- Ghost's JSON API --

#[derive(Deserialize)]
pub struct MagicLinkBody {
    #[serde(default)]
    email: String,
    #[serde(default, rename = "emailType")]
    email_type: Option<String>,
    #[serde(default)]
    name: Option<String>,
    /// Accepted as Ghost does; labels arrive with the desk's members list.
    #[serde(default)]
    #[allow(dead_code)]
    labels: Option<Vec<String>>,
    #[serde(default)]
    newsletters: Option<Vec<NewsletterName>>,
}

#[derive(Deserialize)]
pub struct NewsletterName {
    name: String,
}

fn ghost_error(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({ "errors": [{ "message": message, "type": if status == StatusCode::TOO_MANY_REQUESTS { "TooManyRequestsError" } else { "BadRequestError" } }] });
    no_store((status, axum::Json(body)).into_response())
}

/// `POST /members/api/send-magic-link/`, as Ghost 5 (and forms built for
/// it) call it: 201 `{}` whether or not the address is a member's.
pub async fn send_magic_link(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<axum::Json<MagicLinkBody>, JsonRejection>,
) -> Response {
    let Ok(axum::Json(body)) = body else {
        return ghost_error(
            StatusCode::BAD_REQUEST,
            "The request body must be JSON with an email.",
        );
    };
    let purpose = match body.email_type.as_deref().unwrap_or("subscribe") {
        "signin" => MemberRequestPurpose::Signin,
        "signup" | "subscribe" => MemberRequestPurpose::Signup,
        _ => {
            return ghost_error(
                StatusCode::BAD_REQUEST,
                "emailType must be signin, signup or subscribe.",
            );
        }
    };
    let Ok(email) = Email::parse(&body.email) else {
        return ghost_error(
            StatusCode::BAD_REQUEST,
            "Please enter a valid email address.",
        );
    };
    let newsletters = match body.newsletters {
        None => None,
        Some(names) => {
            let all = match state.store.newsletters().await {
                Ok(all) => all,
                Err(_) => return ghost_error(StatusCode::SERVICE_UNAVAILABLE, "Try again later."),
            };
            let mut ids = Vec::new();
            for n in names {
                match all
                    .iter()
                    .find(|x| x.name == n.name && x.status == "active")
                {
                    Some(x) => ids.push(x.id),
                    None => {
                        return ghost_error(
                            StatusCode::BAD_REQUEST,
                            &format!("There is no newsletter called {:?}.", n.name),
                        );
                    }
                }
            }
            Some(ids)
        }
    };
    let name: String = body
        .name
        .unwrap_or_default()
        .trim()
        .chars()
        .take(191)
        .collect();
    let ip = client_ip(&state, peer, &headers);
    match request_mail(&state, &ip, purpose, email, name, newsletters, None, "api").await {
        Ok(_) => no_store((StatusCode::CREATED, axum::Json(serde_json::json!({}))).into_response()),
        Err(RequestRefused::Throttled) => crate::throttle::with_retry_after(
            ghost_error(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many attempts. Try again later.",
            ),
            crate::throttle::retry_after_s(10 * MINUTE_MS),
        ),
        Err(RequestRefused::Unavailable) => {
            ghost_error(StatusCode::SERVICE_UNAVAILABLE, "Try again later.")
        }
    }
}

// ----------------------------------------------------------- account --

/// The signed-in member of a request to an account page, or a redirect to
/// the sign-in page.
async fn member_of(state: &AppState, headers: &HeaderMap) -> Result<Arc<MemberSession>, Response> {
    match viewer(state, headers).await.0 {
        Some(s) => Ok(s),
        None => Err(no_store(Redirect::to("/signin/").into_response())),
    }
}

fn check_csrf(state: &AppState, session: &MemberSession, sent: &str) -> Result<(), Box<Response>> {
    if auth::constant_time_eq(sent.as_bytes(), session.csrf_token.as_bytes()) {
        Ok(())
    } else {
        Err(Box::new(message(
            state,
            StatusCode::FORBIDDEN,
            "This form has expired",
            "For your security the form could not be accepted. Reload the account page and try again.",
        )))
    }
}

#[derive(Deserialize)]
pub struct AccountQuery {
    welcome: Option<String>,
    changed: Option<String>,
    saved: Option<String>,
    sent: Option<String>,
}

async fn account_page(
    state: &AppState,
    s: &MemberSession,
    status: StatusCode,
    notice: String,
    error: Option<String>,
) -> Response {
    let (all, mine) = match (
        state.store.newsletters().await,
        state.store.member_newsletters(s.member.id).await,
    ) {
        (Ok(a), Ok(m)) => (a, m),
        _ => return unavailable(state),
    };
    let newsletters = all
        .into_iter()
        .filter(|n| n.status == "active")
        .map(|n| NewsletterChoice {
            chosen: mine.iter().any(|m| m.id == n.id),
            id: n.id,
            name: n.name,
            description: n.description,
        })
        .collect();
    render(
        state,
        status,
        "/account/",
        &MemberPage {
            view: "account",
            title: "Your account".into(),
            message: notice,
            error,
            email: s.member.email.clone(),
            name: s.member.name.clone(),
            csrf: s.csrf_token.clone(),
            newsletters,
            plan: crate::billing::checkout::plan_view(state, s.member.id).await,
            status: match s.member.status.as_str() {
                "paid" => "paid",
                "comped" => "complimentary",
                _ => "free",
            },
            ..Default::default()
        },
    )
}

/// `GET /account/`.
pub async fn account(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<AccountQuery>, QueryRejection>,
) -> Response {
    let s = match member_of(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let notice = match q.ok().map(|q| q.0) {
        Some(q) if q.welcome.is_some() => "Welcome! Your membership is confirmed.",
        Some(q) if q.changed.is_some() => "Your new e-mail address is confirmed.",
        Some(q) if q.saved.is_some() => "Saved.",
        Some(q) if q.sent.is_some() => {
            "We have sent a link to your new address. Your address changes once you follow it."
        }
        _ => "",
    };
    account_page(&state, &s, StatusCode::OK, notice.to_owned(), None).await
}

#[derive(Deserialize)]
pub struct NameForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
}

/// Reads an account form and checks its CSRF token.
async fn account_form<T: serde::de::DeserializeOwned>(
    state: &AppState,
    headers: &HeaderMap,
    form: Result<Form<T>, FormRejection>,
    csrf: impl Fn(&T) -> &str,
) -> Result<(Arc<MemberSession>, T), Response> {
    let s = member_of(state, headers).await?;
    let Ok(Form(form)) = form else {
        return Err(message(
            state,
            StatusCode::BAD_REQUEST,
            "The form could not be read",
            "Please go back and try again.",
        ));
    };
    check_csrf(state, &s, csrf(&form)).map_err(|r| *r)?;
    Ok((s, form))
}

fn saved() -> Response {
    no_store(Redirect::to("/account/?saved=1").into_response())
}

/// `POST /account/name`.
pub async fn set_name(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<NameForm>, FormRejection>,
) -> Response {
    let (s, form) = match account_form(&state, &headers, form, |f: &NameForm| &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let name = form.name.trim();
    if name.chars().count() > 191 || name.chars().any(char::is_control) {
        return account_page(
            &state,
            &s,
            StatusCode::UNPROCESSABLE_ENTITY,
            String::new(),
            Some("A name has at most 191 characters, on one line.".into()),
        )
        .await;
    }
    match state
        .store
        .set_member_display_name(s.member.id, name.to_owned())
        .await
    {
        Ok(()) => saved(),
        Err(_) => unavailable(&state),
    }
}

#[derive(Deserialize)]
pub struct EmailForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
}

/// `POST /account/email`: mails a confirmation to the new address; the
/// change happens when it is followed.
pub async fn change_email(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<EmailForm>, FormRejection>,
) -> Response {
    let (s, form) = match account_form(&state, &headers, form, |f: &EmailForm| &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let email = match Email::parse(&form.email) {
        Ok(e) => e,
        Err(e) => {
            return account_page(
                &state,
                &s,
                StatusCode::UNPROCESSABLE_ENTITY,
                String::new(),
                Some(
                    format!("That address does not look right: {e}.")
                        .replace("invalid e-mail address: ", ""),
                ),
            )
            .await;
        }
    };
    let ip = client_ip(&state, peer, &headers);
    match request_mail(
        &state,
        &ip,
        MemberRequestPurpose::EmailChange,
        email,
        String::new(),
        None,
        Some(s.member.id),
        "site",
    )
    .await
    {
        Ok(_) => no_store(Redirect::to("/account/?sent=1").into_response()),
        Err(RequestRefused::Throttled) => throttled(&state),
        Err(RequestRefused::Unavailable) => unavailable(&state),
    }
}

/// `POST /account/newsletters`: `newsletter` fields, one per chosen id.
pub async fn set_newsletters(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let s = match member_of(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    // Repeated fields: read the pairs by hand (serde_urlencoded has no lists).
    let mut csrf = String::new();
    let mut ids = Vec::new();
    for (k, v) in form_urlencoded::parse(&body) {
        match &*k {
            "csrf" => csrf = v.into_owned(),
            "newsletter" => match v.parse::<i64>() {
                Ok(id) => ids.push(id),
                Err(_) => {
                    return message(
                        &state,
                        StatusCode::BAD_REQUEST,
                        "The form could not be read",
                        "Please go back and try again.",
                    );
                }
            },
            _ => {}
        }
    }
    if let Err(r) = check_csrf(&state, &s, &csrf) {
        return *r;
    }
    match state.store.set_member_newsletters(s.member.id, ids).await {
        Ok(()) => saved(),
        Err(_) => unavailable(&state),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    confirm: Option<String>,
}

fn signed_out(state: &AppState) -> Response {
    let mut res = Redirect::to("/").into_response();
    res.headers_mut()
        .insert(header::SET_COOKIE, session_cookie(state, "", 0));
    no_store(res)
}

/// `POST /account/signout`: this browser only.
pub async fn signout(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    if let Err(r) = account_form(&state, &headers, form, |f: &CsrfForm| &f.csrf).await {
        return r;
    }
    if let Some(token) = member_token(&headers)
        && state
            .store
            .end_member_session(auth::token_hash(token))
            .await
            .is_err()
    {
        return unavailable(&state);
    }
    signed_out(&state)
}

/// `POST /account/signout-everywhere`: every browser of this member.
pub async fn signout_everywhere(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    let (s, _) = match account_form(&state, &headers, form, |f: &CsrfForm| &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match state.store.end_member_sessions(s.member.id).await {
        Ok(n) => {
            tracing::info!(sessions = n, "member signed out everywhere");
            signed_out(&state)
        }
        Err(_) => unavailable(&state),
    }
}

/// `GET /account/data.json`: everything stored about the member.
pub async fn export(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let s = match member_of(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    /// The export with the member's donations.
    #[derive(Serialize)]
    struct AccountData {
        #[serde(flatten)]
        data: masthead_store::MemberExport,
        donations: Vec<masthead_store::Donation>,
    }
    let donations = match state.store.member_donations(s.member.id).await {
        Ok(d) => d,
        Err(_) => return unavailable(&state),
    };
    match state.store.member_export(s.member.id).await {
        Ok(Some(data)) => {
            let mut res = no_store(axum::Json(AccountData { data, donations }).into_response());
            res.headers_mut().insert(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"my-membership.json\""),
            );
            res
        }
        Ok(None) => no_store(Redirect::to("/signin/").into_response()),
        Err(_) => unavailable(&state),
    }
}

/// `POST /account/delete` (with `confirm`): erases the member at once.
pub async fn delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    let (s, form) = match account_form(&state, &headers, form, |f: &CsrfForm| &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if form.confirm.as_deref() != Some("yes") {
        return account_page(
            &state,
            &s,
            StatusCode::UNPROCESSABLE_ENTITY,
            String::new(),
            Some("Tick the box to confirm that your membership should be deleted.".into()),
        )
        .await;
    }
    match state.store.delete_member_account(s.member.id).await {
        Ok(deleted) => {
            if deleted {
                tracing::info!("a member deleted their account");
                recount(&state).await;
            }
            let mut res = message(
                &state,
                StatusCode::OK,
                "Your membership is deleted",
                "We have erased your address and everything else we kept about you. Thank you for reading.",
            );
            res.headers_mut()
                .insert(header::SET_COOKIE, session_cookie(&state, "", 0));
            res
        }
        Err(_) => unavailable(&state),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn tokens_and_codes() {
        let t = auth::new_token();
        assert_eq!(parse_token(&t), Some(t.as_str()));
        assert_eq!(parse_token(&t.to_uppercase()), None);
        assert_eq!(parse_token(&t[1..]), None);
        assert_eq!(parse_code(" 123 456 "), Some("123456".into()));
        assert_eq!(parse_code("123-456"), Some("123456".into()));
        assert_eq!(parse_code("12345"), None);
        assert_eq!(parse_code("１２３４５６"), None, "only ASCII digits");
        let c = new_code();
        assert_eq!(parse_code(&c), Some(c.clone()));
    }

    #[test]
    fn the_member_cookie_is_found_among_others() {
        let t = auth::new_token();
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("a=b; masthead_session=x; {MEMBER_COOKIE}={t}"))
                .expect("header"),
        );
        assert_eq!(member_token(&h), Some(t.as_str()));
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("masthead_member=not-a-token"),
        );
        assert_eq!(member_token(&h), None);
    }

    proptest! {
        #[test]
        fn token_parser_accepts_only_tokens(s in "\\PC{0,80}") {
            if let Some(t) = parse_token(&s) {
                prop_assert_eq!(t.len(), 64);
                prop_assert!(t.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
            }
        }

        #[test]
        fn code_parser_yields_six_digits_or_nothing(s in "[0-9 \\-a-z]{0,12}") {
            if let Some(c) = parse_code(&s) {
                prop_assert_eq!(c.len(), 6);
                prop_assert!(c.bytes().all(|b| b.is_ascii_digit()));
            }
        }

        #[test]
        fn cookie_parser_never_panics(s in "\\PC{0,200}") {
            let mut h = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_str(&s) {
                h.insert(header::COOKIE, v);
                if let Some(t) = member_token(&h) {
                    prop_assert!(parse_token(t).is_some());
                }
            }
        }
    }
}
