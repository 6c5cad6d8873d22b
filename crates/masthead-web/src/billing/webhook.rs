//! `POST /members/webhooks/stripe/`: Stripe's events, signed.
//!
//! A request is believed only when its `Stripe-Signature` verifies (see
//! `masthead_domain::billing::verify_signature`: HMAC-SHA256, any of several
//! `v1`, constant time, five minutes' tolerance); otherwise it gets 400 and
//! changes nothing. Each event id is recorded once handled, and a repeat is
//! answered 200 without being handled again.
//!
//! Events arrive unordered and may repeat, and their bodies may be in
//! another API version than ours: so the body is used only to learn *which*
//! subscription changed, and the subscription itself is fetched from Stripe,
//! the source of truth, and mirrored as it is now. Handling the same event
//! twice, or an old event after a newer one, leaves the same result; and of
//! two events handled at the same time (on one instance or several), the
//! fetch that began later is the one kept (`Store::sync_subscription`).
//!
//! Donations (see `billing::donations`): a checkout or a subscription whose
//! metadata kind is `donation` records a gift per payment, and never
//! touches anyone's membership.
//!
//! An event is recorded only after it was handled: if handling fails
//! (Stripe unreachable, the database down) the answer is 500 and Stripe
//! delivers it again later.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use masthead_domain::Email;
use masthead_domain::billing::{SIGNATURE_TOLERANCE_S, verify_signature};
use masthead_store::{
    CustomerLink, CustomerLinked, NewDonation, SubscriptionSynced, format_amount, now_ms,
};
use serde::Serialize;
use serde_json::Value;

use super::stripe::{StripeClient, StripeError, id_of, invoice_subscription, subscription_state};
use crate::state::AppState;

/// The answer Stripe gets (and shows in its dashboard's delivery log).
#[derive(Serialize)]
struct Answer<'a> {
    received: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

fn answer(status: StatusCode, outcome: Option<&str>, error: Option<&str>) -> Response {
    (
        status,
        axum::Json(Answer {
            received: status.is_success(),
            outcome,
            error,
        }),
    )
        .into_response()
}

fn refused(error: &str) -> Response {
    answer(StatusCode::BAD_REQUEST, None, Some(error))
}

/// Why handling failed (answered 500: Stripe will try again).
enum Failed {
    Stripe(StripeError),
    Store(masthead_store::StoreError),
}

impl From<StripeError> for Failed {
    fn from(e: StripeError) -> Failed {
        Failed::Stripe(e)
    }
}

impl From<masthead_store::StoreError> for Failed {
    fn from(e: masthead_store::StoreError) -> Failed {
        Failed::Store(e)
    }
}

pub async fn receive(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let keys = match super::keys(&state).await {
        Ok(k) => k,
        Err(e) => {
            tracing::error!(error = %e, "Stripe webhook: reading the settings failed");
            return answer(StatusCode::INTERNAL_SERVER_ERROR, None, Some("unavailable"));
        }
    };
    let Some((secret, _)) = keys.webhook_secret else {
        tracing::warn!("Stripe webhook refused: no webhook signing secret is set");
        return refused("no webhook signing secret is set");
    };
    let header = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    let now_s = now_ms() / 1000;
    if let Err(e) = verify_signature(header, &body, secret.expose(), now_s, SIGNATURE_TOLERANCE_S) {
        tracing::warn!(reason = %e, "Stripe webhook refused");
        return refused(&e.to_string());
    }
    let Ok(event) = serde_json::from_slice::<Value>(&body) else {
        return refused("the body is not JSON");
    };
    let (Some(id), Some(kind)) = (event["id"].as_str(), event["type"].as_str()) else {
        return refused("the event has no id or type");
    };
    let object = &event["data"]["object"];
    match state.store.stripe_event_seen(id.to_owned()).await {
        Ok(true) => return answer(StatusCode::OK, Some("duplicate: already handled"), None),
        Ok(false) => {}
        Err(e) => {
            tracing::error!(error = %e, "Stripe webhook: the database failed");
            return answer(StatusCode::INTERNAL_SERVER_ERROR, None, Some("unavailable"));
        }
    }
    let outcome = match handle(&state, kind, object).await {
        Ok(o) => o,
        Err(Failed::Stripe(e)) => {
            tracing::error!(event = id, kind, error = %e, "Stripe webhook: Stripe failed; it will retry");
            return answer(
                StatusCode::BAD_GATEWAY,
                None,
                Some("Stripe could not be read"),
            );
        }
        Err(Failed::Store(e)) => {
            tracing::error!(event = id, kind, error = %e, "Stripe webhook: the database failed; Stripe will retry");
            return answer(StatusCode::INTERNAL_SERVER_ERROR, None, Some("unavailable"));
        }
    };
    tracing::info!(event = id, kind, outcome = %outcome, "Stripe webhook handled");
    if let Err(e) = state
        .store
        .record_stripe_event(id.to_owned(), kind.to_owned(), outcome.clone(), now_ms())
        .await
    {
        // Handled but not recorded: a repeat would be handled again, which
        // mirrors the same state. Not worth a retry by Stripe.
        tracing::warn!(event = id, error = %e, "Stripe webhook: recording the event failed");
    }
    state.wrote.notify_one();
    answer(StatusCode::OK, Some(&outcome), None)
}

/// Handles one verified event; what was done, in words.
async fn handle(state: &AppState, kind: &str, object: &Value) -> Result<String, Failed> {
    let client = match super::client(state).await {
        Ok(c) => c,
        Err(StripeError::NotConfigured) => {
            tracing::warn!(
                kind,
                "Stripe webhook: no secret key is set, so nothing can be fetched"
            );
            return Err(Failed::Stripe(StripeError::NotConfigured));
        }
        Err(e) => return Err(e.into()),
    };
    let subscription = match kind {
        "checkout.session.completed" => {
            // A gift, never a membership (see `billing::donations`).
            if object["metadata"]["kind"].as_str() == Some("donation") {
                return donation_checkout(state, object).await;
            }
            if object["mode"].as_str() != Some("subscription") {
                return Ok("ignored: not a subscription checkout".into());
            }
            let Some(customer) = id_of(&object["customer"]) else {
                return Ok("ignored: the checkout has no customer".into());
            };
            let email = object["customer_details"]["email"]
                .as_str()
                .or_else(|| object["customer_email"].as_str())
                .and_then(|e| Email::parse(e).ok());
            // Our own checkouts name the member in metadata (set by the
            // server); a reader without an account becomes a member from the
            // address they paid with. `client_reference_id` is not trusted
            // alone: a Payment Link takes it from its URL, so a buyer could
            // name anyone.
            let member_id = object["metadata"]["member_id"]
                .as_str()
                .and_then(|s| s.parse::<i64>().ok());
            let name = object["customer_details"]["name"]
                .as_str()
                .unwrap_or_default()
                .chars()
                .take(191)
                .collect();
            state
                .store
                .link_stripe_customer(CustomerLink {
                    customer_id: customer.to_owned(),
                    email,
                    member_id,
                    create_member: true,
                    name,
                    now_ms: now_ms(),
                })
                .await?;
            match id_of(&object["subscription"]) {
                Some(s) => s.to_owned(),
                None => return Ok("ignored: the checkout has no subscription".into()),
            }
        }
        "customer.subscription.created"
        | "customer.subscription.updated"
        | "customer.subscription.deleted"
        | "customer.subscription.paused"
        | "customer.subscription.resumed" => match object["id"].as_str() {
            Some(s) => s.to_owned(),
            None => return Ok("ignored: no subscription id".into()),
        },
        "invoice.paid" | "invoice.payment_succeeded" | "invoice.payment_failed" => {
            match invoice_subscription(object) {
                Some(s) => s.to_owned(),
                None => return Ok("ignored: not a subscription's invoice".into()),
            }
        }
        // A gift paid by a delayed method (a bank debit) is paid later.
        "checkout.session.async_payment_succeeded"
            if object["metadata"]["kind"].as_str() == Some("donation") =>
        {
            return donation_checkout(state, object).await;
        }
        _ => return Ok(format!("ignored: {kind} is not used")),
    };
    sync(state, &client, &subscription, kind, object).await
}

/// Fetches a subscription from Stripe and mirrors it; links its customer
/// to the member with the customer's address if it is nobody's yet (a
/// subscription started in Stripe's dashboard).
async fn sync(
    state: &AppState,
    client: &StripeClient,
    subscription_id: &str,
    kind: &str,
    object: &Value,
) -> Result<String, Failed> {
    // When the fetch began, by the database's clock (one clock for every
    // instance): of two handlers fetching the same subscription at once,
    // the one that began later saw Stripe at least as late, and the store
    // refuses to let an earlier one overwrite it.
    let fetched_ms = state.store.stripe_fetch_ticket().await?;
    let fetched = match client
        .get(&format!("subscriptions/{subscription_id}"))
        .await
    {
        Ok(v) => v,
        // A deleted subscription Stripe no longer returns: the event's own
        // copy is its last state.
        Err(StripeError::NotFound(_)) if kind == "customer.subscription.deleted" => object.clone(),
        Err(StripeError::NotFound(_)) => {
            return Ok(format!(
                "ignored: Stripe has no subscription {subscription_id}"
            ));
        }
        Err(e) => return Err(e.into()),
    };
    // A monthly gift's subscription is not a membership: it never settles
    // a member's status, and is not linked to anyone by address. Stripe's
    // copy says so (its metadata, set at checkout), not the event's body.
    if fetched["metadata"]["kind"].as_str() == Some("donation") {
        return donation_subscription(state, subscription_id, kind, object, &fetched).await;
    }
    let sub = subscription_state(&fetched)?;
    if state
        .store
        .stripe_customer_member(sub.customer_id.clone())
        .await?
        .is_none()
    {
        link_by_address(state, client, &sub.customer_id).await?;
    }
    let currency = sub.currency.clone();
    let synced = state
        .store
        .sync_subscription(sub, fetched_ms, now_ms())
        .await?;
    Ok(match synced {
        SubscriptionSynced::Member {
            member_id,
            status,
            tier_id,
            changed,
        } => {
            let mut outcome = format!(
                "member {member_id} is {status}{}{}",
                tier_id.map(|t| format!(" (tier {t})")).unwrap_or_default(),
                if changed { "" } else { ", unchanged" }
            );
            if let Some(note) = super::checkout::currency_note(state, &currency).await {
                tracing::warn!(member_id, currency = %currency, "Stripe subscription in another currency than the site's");
                outcome.push_str("; ");
                outcome.push_str(&note);
            }
            outcome
        }
        SubscriptionSynced::UnknownCustomer => {
            tracing::warn!(
                subscription = subscription_id,
                "Stripe subscription of a customer who is no member: kept unlinked"
            );
            "unknown customer: the subscription is kept, linked to no member".into()
        }
        SubscriptionSynced::Outdated => {
            "outdated: a later fetch of the subscription was mirrored first".into()
        }
    })
}

/// Links a customer to the member whose address the customer has in
/// Stripe, if any (no member is created: only a checkout creates one).
async fn link_by_address(
    state: &AppState,
    client: &StripeClient,
    customer_id: &str,
) -> Result<(), Failed> {
    let customer = match client.get(&format!("customers/{customer_id}")).await {
        Ok(c) => c,
        Err(StripeError::NotFound(_)) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let Some(email) = customer["email"]
        .as_str()
        .and_then(|e| Email::parse(e).ok())
    else {
        return Ok(());
    };
    let linked = state
        .store
        .link_stripe_customer(CustomerLink {
            customer_id: customer_id.to_owned(),
            email: Some(email),
            member_id: None,
            create_member: false,
            name: String::new(),
            now_ms: now_ms(),
        })
        .await?;
    if let CustomerLinked::Member { member_id, .. } = linked {
        tracing::info!(member_id, "Stripe customer linked to a member by address");
    }
    Ok(())
}

/// An address and a name as a checkout or an invoice gives them.
fn giver(email: Option<&str>, name: Option<&str>) -> (String, String) {
    let email = email
        .and_then(|e| Email::parse(e).ok())
        .map(|e| e.as_str().to_owned())
        .unwrap_or_default();
    let name = name.unwrap_or_default().trim().chars().take(191).collect();
    (email, name)
}

/// The member a checkout named (set by the server in metadata).
fn metadata_member(metadata: &Value) -> Option<i64> {
    metadata["member_id"]
        .as_str()
        .and_then(|s| s.parse::<i64>().ok())
}

/// Records a payment as a donation and thanks the giver; the outcome.
async fn record_gift(state: &AppState, gift: NewDonation) -> Result<String, Failed> {
    let what = format!(
        "{} {}",
        format_amount(gift.amount, &gift.currency),
        if gift.kind == "monthly" {
            "this month"
        } else {
            "once"
        }
    );
    let stripe_ref = gift.stripe_ref.clone();
    match state.store.record_donation(gift).await? {
        Some(id) => {
            super::donations::send_thanks(state, id);
            Ok(format!("donation {id} recorded: {what} ({stripe_ref})"))
        }
        None => Ok(format!(
            "donation already recorded: {stripe_ref} was counted before"
        )),
    }
}

/// `checkout.session.completed` for a gift: a one-off gift is recorded
/// (its payment intent the reference); a monthly one is recorded from
/// each `invoice.paid`.
async fn donation_checkout(state: &AppState, object: &Value) -> Result<String, Failed> {
    if object["mode"].as_str() == Some("subscription") {
        return Ok(
            "donation: a monthly gift began; each payment is recorded from invoice.paid, \
             and no membership changes"
                .into(),
        );
    }
    if object["mode"].as_str() != Some("payment") {
        return Ok("ignored: a donation checkout in an unknown mode".into());
    }
    if object["payment_status"].as_str() != Some("paid") {
        return Ok("ignored: the donation is not paid yet".into());
    }
    let (Some(amount), Some(currency)) = (
        object["amount_total"].as_i64().filter(|a| *a > 0),
        object["currency"].as_str().filter(|c| !c.is_empty()),
    ) else {
        return Ok("ignored: the donation checkout has no amount".into());
    };
    let Some(session_id) = object["id"].as_str() else {
        return Ok("ignored: the donation checkout has no id".into());
    };
    let stripe_ref = id_of(&object["payment_intent"]).unwrap_or(session_id);
    let (email, name) = giver(
        object["customer_details"]["email"]
            .as_str()
            .or_else(|| object["customer_email"].as_str()),
        object["customer_details"]["name"].as_str(),
    );
    record_gift(
        state,
        NewDonation {
            kind: "one_off".into(),
            amount,
            currency: currency.to_ascii_lowercase(),
            member_id: metadata_member(&object["metadata"]),
            email,
            name,
            stripe_ref: stripe_ref.to_owned(),
            stripe_session_id: Some(session_id.to_owned()),
            stripe_subscription_id: None,
            stripe_customer_id: id_of(&object["customer"]).map(str::to_owned),
            created_ms: now_ms(),
        },
    )
    .await
}

/// An event about a monthly gift's subscription: each paid invoice is one
/// monthly donation; anything else changes nobody's membership.
async fn donation_subscription(
    state: &AppState,
    subscription_id: &str,
    kind: &str,
    object: &Value,
    subscription: &Value,
) -> Result<String, Failed> {
    if !matches!(kind, "invoice.paid" | "invoice.payment_succeeded") {
        return Ok(format!(
            "donation subscription {subscription_id}: a monthly gift, not a membership; \
             no member's status changes"
        ));
    }
    let (Some(invoice_id), Some(amount), Some(currency)) = (
        object["id"].as_str(),
        object["amount_paid"].as_i64(),
        object["currency"].as_str().filter(|c| !c.is_empty()),
    ) else {
        return Ok("ignored: the donation's invoice has no id or amount".into());
    };
    if amount <= 0 {
        return Ok(format!("ignored: nothing was paid on {invoice_id}"));
    }
    let (email, name) = giver(
        object["customer_email"].as_str(),
        object["customer_name"].as_str(),
    );
    record_gift(
        state,
        NewDonation {
            kind: "monthly".into(),
            amount,
            currency: currency.to_ascii_lowercase(),
            member_id: metadata_member(&subscription["metadata"]),
            email,
            name,
            stripe_ref: invoice_id.to_owned(),
            stripe_session_id: None,
            stripe_subscription_id: Some(subscription_id.to_owned()),
            stripe_customer_id: id_of(&object["customer"])
                .or_else(|| id_of(&subscription["customer"]))
                .map(str::to_owned),
            created_ms: now_ms(),
        },
    )
    .await
}
