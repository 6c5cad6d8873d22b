//! The reader's side of paid memberships: `/subscribe/` lists the paid
//! tiers with a monthly and a yearly choice; choosing one creates a Stripe
//! Checkout Session (subscription mode) and sends the reader there (303);
//! "Manage billing" on the account page opens a Stripe billing portal
//! session. Nothing is granted here: access comes from the webhook, when
//! Stripe says the subscription is live.
//!
//! A signed-in member's checkout names them (`customer` when they have a
//! Stripe customer, else `customer_email`; `client_reference_id` and
//! `metadata[member_id]`), and their form carries the session's CSRF token.
//! A reader without an account may subscribe too: Stripe Checkout asks for
//! their address, and `checkout.session.completed` makes them a member with
//! it (the payment confirms the address, as Ghost does); they then sign in
//! with a link as any member does.

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use masthead_store::format_amount;
use serde::{Deserialize, Serialize};

use super::prices::{TierPrice, ensure_price};
use super::stripe::{StripeError, fresh_idempotency_key};
use crate::site::members::{MemberPage, member_message, render_member_page, viewer};
use crate::state::AppState;

/// A paid tier as the subscribe page and Checkout need it.
#[derive(Debug, Clone)]
pub struct TierChoice {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub currency: String,
    pub monthly_price: Option<i64>,
    pub yearly_price: Option<i64>,
    pub trial_days: i64,
}

/// The tiers a reader may subscribe to: paid, active, offered on the site
/// (`visibility` public), with a currency and a price.
pub async fn paid_tiers(state: &AppState) -> masthead_store::StoreResult<Vec<TierChoice>> {
    Ok(state
        .store
        .tiers()
        .await?
        .into_iter()
        .filter(|t| !t.is_free() && t.active && t.visibility == "public")
        .filter_map(|t| {
            Some(TierChoice {
                currency: t.currency.clone()?,
                id: t.id,
                slug: t.slug,
                name: t.name,
                description: t.description,
                monthly_price: t.monthly_price,
                yearly_price: t.yearly_price,
                trial_days: i64::from(t.trial_days),
            })
        })
        .collect())
}

/// The site's currency (lowercase ISO 4217), `usd` if it cannot be read.
pub async fn site_currency(state: &AppState) -> String {
    state
        .store
        .site_currency()
        .await
        .unwrap_or_else(|_| masthead_store::DEFAULT_CURRENCY.to_owned())
}

/// A note for the webhook's outcome when a subscription is billed in
/// another currency than the site's (one made in Stripe's dashboard):
/// access is granted all the same (the reader pays), and the operator is
/// told.
pub async fn currency_note(state: &AppState, currency: &str) -> Option<String> {
    let site = site_currency(state).await;
    (!currency.is_empty() && currency != site).then(|| {
        format!("currency mismatch: billed in {currency}, the site uses {site}; access granted")
    })
}

/// One tier as the subscribe page offers it.
#[derive(Debug, Clone, Serialize)]
pub struct Offer {
    pub slug: String,
    pub name: String,
    pub description: String,
    pub monthly: Option<String>,
    pub yearly: Option<String>,
    pub trial_days: i64,
}

/// What the account page says about a member's plan.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PlanView {
    /// The tier's name, or "Paid membership".
    pub name: String,
    /// "5.00 USD a month"
    pub price: String,
    /// Stripe's status in words.
    pub state: String,
    /// "Next payment on 2 January 2027" / "Ends on …"
    pub next: String,
    /// The member has a Stripe customer, so the portal can open.
    pub manage: bool,
}

fn unavailable(state: &AppState, text: &str) -> Response {
    member_message(
        state,
        StatusCode::SERVICE_UNAVAILABLE,
        "Subscriptions are unavailable",
        text,
    )
}

#[derive(Deserialize)]
pub struct SubscribeQuery {
    canceled: Option<String>,
    done: Option<String>,
}

/// `GET /subscribe/`.
pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<SubscribeQuery>, QueryRejection>,
) -> Response {
    let q = q.ok().map(|q| q.0);
    if q.as_ref().is_some_and(|q| q.done.is_some()) {
        return member_message(
            &state,
            StatusCode::OK,
            "Thank you",
            "Your subscription starts as soon as Stripe confirms the payment, usually within a \
             minute. Sign in with the address you paid with to read every story.",
        );
    }
    let tiers = match paid_tiers(&state).await {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, "reading the tiers failed");
            return unavailable(&state, "Please try again in a minute.");
        }
    };
    let offers = tiers
        .into_iter()
        .map(|t| Offer {
            monthly: t.monthly_price.map(|p| format_amount(p, &t.currency)),
            yearly: t.yearly_price.map(|p| format_amount(p, &t.currency)),
            slug: t.slug,
            name: t.name,
            description: t.description,
            trial_days: t.trial_days,
        })
        .collect::<Vec<_>>();
    let session = viewer(&state, &headers).await.0;
    let message = if q.is_some_and(|q| q.canceled.is_some()) {
        "You left the payment page: nothing was charged."
    } else if offers.is_empty() {
        "There are no paid memberships to choose from yet."
    } else {
        ""
    };
    render_member_page(
        &state,
        StatusCode::OK,
        "/subscribe/",
        &MemberPage {
            view: "subscribe",
            title: "Become a paying member".into(),
            message: message.into(),
            email: session
                .as_ref()
                .map(|s| s.member.email.clone())
                .unwrap_or_default(),
            csrf: session
                .as_ref()
                .map(|s| s.csrf_token.clone())
                .unwrap_or_default(),
            offers,
            ..Default::default()
        },
    )
}

#[derive(Deserialize)]
pub struct SubscribeForm {
    #[serde(default)]
    tier: String,
    #[serde(default)]
    cadence: String,
    #[serde(default)]
    csrf: String,
}

/// The Checkout Session's parameters (Stripe's documented names).
pub fn checkout_params(
    public_url: &str,
    price_id: &str,
    tier: &TierChoice,
    member: Option<(i64, &str, Option<&str>)>,
) -> Vec<(String, String)> {
    let mut form: Vec<(String, String)> = vec![
        ("mode".into(), "subscription".into()),
        ("line_items[0][price]".into(), price_id.into()),
        ("line_items[0][quantity]".into(), "1".into()),
        (
            "success_url".into(),
            format!("{public_url}/subscribe/?done=1&session_id={{CHECKOUT_SESSION_ID}}"),
        ),
        (
            "cancel_url".into(),
            format!("{public_url}/subscribe/?canceled=1"),
        ),
        ("metadata[tier]".into(), tier.slug.clone()),
        (
            "subscription_data[metadata][tier]".into(),
            tier.slug.clone(),
        ),
    ];
    if let Some((id, email, customer)) = member {
        match customer {
            Some(c) => form.push(("customer".into(), c.into())),
            None => form.push(("customer_email".into(), email.into())),
        }
        form.push(("client_reference_id".into(), id.to_string()));
        form.push(("metadata[member_id]".into(), id.to_string()));
        form.push((
            "subscription_data[metadata][member_id]".into(),
            id.to_string(),
        ));
    }
    if tier.trial_days > 0 {
        form.push((
            "subscription_data[trial_period_days]".into(),
            tier.trial_days.to_string(),
        ));
    }
    form
}

/// A Stripe-made address to send the reader to: https only, as Stripe's
/// always are; plain http only when the Stripe API itself is reached over
/// http (a test server on loopback), never in production.
pub(crate) fn redirect_to(answer: &serde_json::Value, api_base: &str) -> Option<Response> {
    let url = answer["url"].as_str()?;
    let plain_allowed = api_base.starts_with("http://");
    (url.starts_with("https://") || plain_allowed && url.starts_with("http://"))
        .then(|| Redirect::to(url).into_response())
}

pub(crate) fn stripe_failed(state: &AppState, e: &StripeError) -> Response {
    match e {
        StripeError::NotConfigured => unavailable(
            state,
            "This site does not take payments yet. Please come back later.",
        ),
        e => {
            tracing::error!(error = %e, "a Stripe call failed");
            unavailable(
                state,
                "We could not reach our payment provider. Please try again in a minute.",
            )
        }
    }
}

/// A reader's payment form (`/subscribe/`, `/support/`), read: 400 when it
/// cannot be, 403 when a signed-in reader's token does not match (a reader
/// without an account has no session to forge); the form and the session.
pub(super) async fn read_payment_form<T>(
    state: &AppState,
    headers: &HeaderMap,
    form: Result<Form<T>, FormRejection>,
    csrf: impl Fn(&T) -> &str,
) -> Result<(T, Option<std::sync::Arc<masthead_store::MemberSession>>), Box<Response>> {
    let Ok(Form(form)) = form else {
        return Err(Box::new(member_message(
            state,
            StatusCode::BAD_REQUEST,
            "The form could not be read",
            "Please go back and try again.",
        )));
    };
    let session = viewer(state, headers).await.0;
    if let Some(s) = &session
        && !crate::auth::constant_time_eq(csrf(&form).as_bytes(), s.csrf_token.as_bytes())
    {
        return Err(Box::new(member_message(
            state,
            StatusCode::FORBIDDEN,
            "This form has expired",
            "For your security the form could not be accepted. Reload the page and try again.",
        )));
    }
    Ok((form, session))
}

/// `POST /subscribe/`: tier and cadence chosen; off to Stripe Checkout.
pub async fn subscribe(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<SubscribeForm>, FormRejection>,
) -> Response {
    let (form, session) = match read_payment_form(&state, &headers, form, |f| &f.csrf).await {
        Ok(read) => read,
        Err(refused) => return *refused,
    };
    // A paying member changes or stops their plan in the billing portal: a
    // second Checkout would start a second subscription, charged as well.
    if let Some(s) = &session
        && s.member.status == "paid"
    {
        return member_message(
            &state,
            StatusCode::CONFLICT,
            "You already have a paid membership",
            "To change or cancel it, use \"Manage billing\" on your account page.",
        );
    }
    let cadence = match form.cadence.as_str() {
        "month" => "month",
        "year" => "year",
        _ => {
            return member_message(
                &state,
                StatusCode::UNPROCESSABLE_ENTITY,
                "Choose monthly or yearly",
                "Please go back and choose how often to pay.",
            );
        }
    };
    let tier = match paid_tiers(&state).await {
        Ok(tiers) => tiers.into_iter().find(|t| t.slug == form.tier),
        Err(e) => {
            tracing::warn!(error = %e, "reading the tiers failed");
            return unavailable(&state, "Please try again in a minute.");
        }
    };
    let Some(tier) = tier else {
        return member_message(
            &state,
            StatusCode::UNPROCESSABLE_ENTITY,
            "No such membership",
            "That membership is not offered. Please go back and choose another.",
        );
    };
    let amount = if cadence == "month" {
        tier.monthly_price
    } else {
        tier.yearly_price
    };
    let Some(amount) = amount.filter(|a| *a > 0) else {
        return member_message(
            &state,
            StatusCode::UNPROCESSABLE_ENTITY,
            "Not offered",
            "That membership cannot be paid that way. Please go back and choose another.",
        );
    };
    let client = match super::client(&state).await {
        Ok(c) => c,
        Err(e) => return stripe_failed(&state, &e),
    };
    let price = TierPrice {
        tier_id: tier.id,
        tier_slug: tier.slug.clone(),
        tier_name: tier.name.clone(),
        amount,
        currency: tier.currency.clone(),
        cadence,
    };
    let price_id = match ensure_price(&state, &client, &price).await {
        Ok(p) => p,
        Err(e) => return stripe_failed(&state, &e),
    };
    let customer = match &session {
        Some(s) => match state.store.member_billing(s.member.id).await {
            Ok(b) => b.customer_id,
            Err(e) => {
                tracing::warn!(error = %e, "reading a member's billing failed");
                return unavailable(&state, "Please try again in a minute.");
            }
        },
        None => None,
    };
    let params = checkout_params(
        state.public_url(),
        &price_id,
        &tier,
        session
            .as_ref()
            .map(|s| (s.member.id, s.member.email.as_str(), customer.as_deref())),
    );
    match client
        .post("checkout/sessions", &params, &fresh_idempotency_key())
        .await
    {
        Ok(answer) => redirect_to(&answer, &state.config.stripe.api_base).unwrap_or_else(|| {
            stripe_failed(
                &state,
                &StripeError::Unreadable("a Checkout Session without a url".into()),
            )
        }),
        Err(e) => stripe_failed(&state, &e),
    }
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// `POST /account/billing`: opens the Stripe billing portal.
pub async fn portal(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<CsrfOnly>, FormRejection>,
) -> Response {
    let Some(session) = viewer(&state, &headers).await.0 else {
        return Redirect::to("/signin/").into_response();
    };
    let csrf = form.map(|f| f.0.csrf).unwrap_or_default();
    if !crate::auth::constant_time_eq(csrf.as_bytes(), session.csrf_token.as_bytes()) {
        return member_message(
            &state,
            StatusCode::FORBIDDEN,
            "This form has expired",
            "For your security the form could not be accepted. Reload the account page and try again.",
        );
    }
    let customer = match state.store.member_billing(session.member.id).await {
        Ok(b) => b.customer_id,
        Err(e) => {
            tracing::warn!(error = %e, "reading a member's billing failed");
            return unavailable(&state, "Please try again in a minute.");
        }
    };
    let Some(customer) = customer else {
        return member_message(
            &state,
            StatusCode::UNPROCESSABLE_ENTITY,
            "No billing to manage",
            "You have no paid membership with us. You can become a paying member on the subscribe page.",
        );
    };
    let client = match super::client(&state).await {
        Ok(c) => c,
        Err(e) => return stripe_failed(&state, &e),
    };
    let params = vec![
        ("customer".to_owned(), customer),
        (
            "return_url".to_owned(),
            format!("{}/account/", state.public_url()),
        ),
    ];
    match client
        .post("billing_portal/sessions", &params, &fresh_idempotency_key())
        .await
    {
        Ok(answer) => redirect_to(&answer, &state.config.stripe.api_base).unwrap_or_else(|| {
            stripe_failed(
                &state,
                &StripeError::Unreadable("a portal session without a url".into()),
            )
        }),
        Err(e) => stripe_failed(&state, &e),
    }
}

/// The account page's plan, from the member's newest subscription that
/// still matters (live, or ended most recently).
pub async fn plan_view(state: &AppState, member_id: i64) -> Option<PlanView> {
    let billing = state.store.member_billing(member_id).await.ok()?;
    let now = masthead_store::now_ms();
    let sub = billing
        .subscriptions
        .iter()
        .find(|s| {
            masthead_domain::billing::grants_access(
                &s.status,
                s.current_period_start_ms,
                s.current_period_end_ms,
                now,
            )
        })
        .or_else(|| billing.subscriptions.first())?;
    // Any tier, archived ones too: their members keep them.
    let tiers = state.store.tiers().await.unwrap_or_default();
    let name = sub
        .tier_id
        .and_then(|id| tiers.iter().find(|t| t.id == id))
        .map_or_else(|| "Paid membership".to_owned(), |t| t.name.clone());
    let clock = state.clock();
    let date = |ms: i64| clock.long_date(ms);
    let (state_words, next) = match sub.status.as_str() {
        "active" | "trialing" if sub.cancel_at_period_end => (
            "Cancelled: it ends with the period paid for",
            sub.current_period_end_ms
                .map(|e| format!("Ends on {}", date(e))),
        ),
        "active" => (
            "Active",
            sub.current_period_end_ms
                .map(|e| format!("Next payment on {}", date(e))),
        ),
        "trialing" => (
            "Free trial",
            sub.trial_end_ms
                .or(sub.current_period_end_ms)
                .map(|e| format!("First payment on {}", date(e))),
        ),
        "past_due" => (
            "Payment failed: please update your card",
            masthead_domain::billing::renewal_due_ms(
                sub.current_period_start_ms,
                sub.current_period_end_ms,
            )
            .map(|d| format!("Was due on {}", date(d))),
        ),
        "canceled" => ("Ended", None),
        "unpaid" => ("Ended: unpaid", None),
        _ => ("Not active", None),
    };
    Some(PlanView {
        name,
        price: format!(
            "{} a {}",
            format_amount(sub.amount, &sub.currency),
            if sub.cadence.is_empty() {
                "period"
            } else {
                &sub.cadence
            }
        ),
        state: state_words.to_owned(),
        next: next.unwrap_or_default(),
        manage: billing.customer_id.is_some(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkout_names_a_member_and_a_trial_and_leaves_a_stranger_to_stripe() {
        let tier = TierChoice {
            id: 3,
            slug: "gold".into(),
            name: "Gold".into(),
            description: String::new(),
            currency: "usd".into(),
            monthly_price: Some(500),
            yearly_price: None,
            trial_days: 14,
        };
        let p = checkout_params(
            "https://news.example",
            "plan_1",
            &tier,
            Some((7, "a@example.org", None)),
        );
        let get = |k: &str| p.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("mode"), Some("subscription"));
        assert_eq!(get("customer_email"), Some("a@example.org"));
        assert_eq!(get("customer"), None);
        assert_eq!(get("client_reference_id"), Some("7"));
        assert_eq!(get("subscription_data[trial_period_days]"), Some("14"));
        assert_eq!(
            get("success_url"),
            Some("https://news.example/subscribe/?done=1&session_id={CHECKOUT_SESSION_ID}")
        );
        let stranger = checkout_params("https://news.example", "plan_1", &tier, None);
        assert!(
            !stranger.iter().any(|(k, _)| k == "customer"
                || k == "customer_email"
                || k == "client_reference_id")
        );
    }

    #[test]
    fn readers_are_sent_only_to_https_unless_stripe_itself_is_plain_http() {
        let to = |url: &str, base: &str| {
            redirect_to(&serde_json::json!({ "url": url }), base)
                .map(|r| r.headers()["location"].to_str().unwrap_or("").to_owned())
        };
        let live = "https://api.stripe.com/v1";
        assert_eq!(
            to("https://checkout.stripe.com/c/pay/cs_1", live).as_deref(),
            Some("https://checkout.stripe.com/c/pay/cs_1")
        );
        assert_eq!(to("http://checkout.stripe.com/c/pay/cs_1", live), None);
        assert_eq!(to("javascript:alert(1)", live), None);
        assert_eq!(to("//evil.example/", live), None);
        assert!(redirect_to(&serde_json::json!({}), live).is_none());
        // A test server on loopback answers with its own http address.
        assert!(to("http://127.0.0.1:8420/pay", "http://127.0.0.1:8420/v1").is_some());
    }
}
