//! A small client for the Stripe API over `reqwest`: form-encoded bodies,
//! the secret key as a bearer token, an idempotency key on every POST, a
//! pinned API version, timeouts, and errors that say what Stripe said
//! without ever holding the key.
//!
//! Only what Masthead uses is here: products and plans (see
//! `docs/architecture.md`, "Paid memberships", for why plans rather than
//! prices), Checkout Sessions, billing portal sessions, and reading
//! customers and subscriptions.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::Secret;

/// The Stripe API version every request asks for (`Stripe-Version`). Pinned
/// so that an account's default version moving on cannot change the shape
/// of what Masthead reads. This one (2024-06-20) still carries
/// `current_period_end` on the subscription and `subscription` on the
/// invoice, as localstripe does; from 2025-03-31 (basil) they moved to the
/// subscription's items and the invoice's `parent`, which the readers below
/// also understand, so a webhook sent in a newer version still works.
pub const API_VERSION: &str = "2024-06-20";

const TIMEOUT: Duration = Duration::from_secs(20);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What went wrong talking to Stripe. Never holds the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StripeError {
    /// No secret key is set (desk or environment).
    #[error("Stripe is not set up: no secret key")]
    NotConfigured,
    /// Stripe could not be reached, or did not answer in time.
    #[error("Stripe could not be reached: {0}")]
    Unreachable(String),
    /// Stripe answered with an error status and this message.
    #[error("Stripe refused the request ({status}): {message}")]
    Refused { status: u16, message: String },
    /// The object asked for does not exist.
    #[error("Stripe has no such object: {0}")]
    NotFound(String),
    /// Stripe's answer could not be read.
    #[error("Stripe's answer could not be read: {0}")]
    Unreadable(String),
}

pub type StripeResult<T> = Result<T, StripeError>;

/// A Stripe API client for one key and base address. Cheap to clone.
#[derive(Clone)]
pub struct StripeClient {
    http: Arc<reqwest::Client>,
    base: String,
    key: Secret,
}

fn http_client() -> Result<reqwest::Client, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(concat!(
            "Masthead/",
            env!("CARGO_PKG_VERSION"),
            " (billing)"
        ))
        .build()
        .map_err(|e| e.to_string())
}

/// A random idempotency key: Masthead never retries a call by itself (a
/// failed one is the reader's to repeat), so each call gets a new one.
pub fn fresh_idempotency_key() -> String {
    crate::auth::new_token()[..32].to_owned()
}

impl StripeClient {
    pub fn new(base: &str, key: Secret) -> StripeResult<StripeClient> {
        let http = http_client().map_err(StripeError::Unreachable)?;
        Ok(StripeClient {
            http: Arc::new(http),
            base: base.trim_end_matches('/').to_owned(),
            key,
        })
    }

    /// `POST /v1/{path}` with a form body; `idempotency_key` makes a retry
    /// of the same operation return the first answer.
    pub async fn post(
        &self,
        path: &str,
        form: &[(String, String)],
        idempotency_key: &str,
    ) -> StripeResult<Value> {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .finish();
        let req = self
            .http
            .post(format!("{}/v1/{path}", self.base))
            .bearer_auth(self.key.expose())
            .header("Stripe-Version", API_VERSION)
            .header("Idempotency-Key", idempotency_key)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body);
        self.send(req, path).await
    }

    /// `GET /v1/{path}`.
    pub async fn get(&self, path: &str) -> StripeResult<Value> {
        let req = self
            .http
            .get(format!("{}/v1/{path}", self.base))
            .bearer_auth(self.key.expose())
            .header("Stripe-Version", API_VERSION);
        self.send(req, path).await
    }

    async fn send(&self, req: reqwest::RequestBuilder, path: &str) -> StripeResult<Value> {
        // reqwest's errors name the URL, never the headers: no key leaks.
        let res = req
            .send()
            .await
            .map_err(|e| StripeError::Unreachable(e.without_url().to_string()))?;
        let status = res.status();
        let bytes = res
            .bytes()
            .await
            .map_err(|e| StripeError::Unreachable(e.without_url().to_string()))?;
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
            StripeError::Unreadable(format!("{path}: {e} (HTTP {})", status.as_u16()))
        })?;
        if status.is_success() {
            return Ok(value);
        }
        let message = value["error"]["message"]
            .as_str()
            .unwrap_or("no message")
            .chars()
            .take(300)
            .collect::<String>();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(StripeError::NotFound(format!("{path}: {message}")));
        }
        Err(StripeError::Refused {
            status: status.as_u16(),
            message,
        })
    }
}

/// A string field of a Stripe object, or of the object's `id` when the
/// field was expanded into an object.
pub fn id_of(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) => Some(s.as_str()),
        Value::Object(o) => o.get("id").and_then(Value::as_str),
        _ => None,
    }
}

/// A Unix time in seconds as milliseconds.
fn ms(v: &Value) -> Option<i64> {
    v.as_i64().and_then(|s| s.checked_mul(1000))
}

/// Reads a subscription object (any API version since 2020, and
/// localstripe's) into the mirror's terms.
pub fn subscription_state(v: &Value) -> StripeResult<masthead_store::SubscriptionState> {
    let bad = |what: &str| StripeError::Unreadable(format!("subscription without {what}"));
    let id = v["id"].as_str().ok_or_else(|| bad("id"))?;
    let customer = id_of(&v["customer"]).ok_or_else(|| bad("customer"))?;
    let status = v["status"].as_str().ok_or_else(|| bad("status"))?;
    let item = &v["items"]["data"][0];
    // The price of its (first) item; plans are answered as prices too, and
    // older versions and localstripe also give `plan`.
    let price = if item["price"].is_object() {
        &item["price"]
    } else if item["plan"].is_object() {
        &item["plan"]
    } else {
        &v["plan"]
    };
    let price_id = price["id"].as_str().unwrap_or_default();
    let product_id = id_of(&price["product"]).unwrap_or_default();
    let amount = price["unit_amount"]
        .as_i64()
        .or_else(|| price["amount"].as_i64())
        .unwrap_or(0);
    let currency = price["currency"]
        .as_str()
        .or_else(|| v["currency"].as_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let cadence = price["recurring"]["interval"]
        .as_str()
        .or_else(|| price["interval"].as_str())
        .unwrap_or_default();
    // Before 2025-03-31 on the subscription, since then on its items.
    let current_period_start_ms =
        ms(&v["current_period_start"]).or_else(|| ms(&item["current_period_start"]));
    let current_period_end_ms =
        ms(&v["current_period_end"]).or_else(|| ms(&item["current_period_end"]));
    Ok(masthead_store::SubscriptionState {
        subscription_id: id.to_owned(),
        customer_id: customer.to_owned(),
        price_id: price_id.to_owned(),
        product_id: product_id.to_owned(),
        status: status.to_owned(),
        cancel_at_period_end: v["cancel_at_period_end"].as_bool().unwrap_or(false),
        current_period_start_ms,
        current_period_end_ms,
        trial_end_ms: ms(&v["trial_end"]),
        amount,
        currency,
        cadence: cadence.to_owned(),
    })
}

/// The subscription an invoice is for, in any API version.
pub fn invoice_subscription(invoice: &Value) -> Option<&str> {
    id_of(&invoice["subscription"])
        .or_else(|| id_of(&invoice["parent"]["subscription_details"]["subscription"]))
        .or_else(|| {
            invoice["lines"]["data"]
                .as_array()?
                .iter()
                .find_map(|l| id_of(&l["subscription"]))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn subscriptions_read_alike_in_old_and_new_versions_and_from_localstripe() {
        let old = json!({
            "id": "sub_1", "object": "subscription", "customer": "cus_1", "status": "active",
            "cancel_at_period_end": false, "current_period_start": 1_797_408_000,
            "current_period_end": 1_800_000_000, "trial_end": null,
            "items": {"data": [{"price": {"id": "price_1", "product": "prod_1",
                "unit_amount": 500, "currency": "usd", "recurring": {"interval": "month"}}}]}
        });
        let basil = json!({
            "id": "sub_1", "object": "subscription", "customer": {"id": "cus_1"},
            "status": "active", "cancel_at_period_end": false,
            "items": {"data": [{"current_period_start": 1_797_408_000,
                "current_period_end": 1_800_000_000,
                "price": {"id": "price_1", "product": {"id": "prod_1"}, "unit_amount": 500,
                "currency": "USD", "recurring": {"interval": "month"}}}]}
        });
        let localstripe = json!({
            "id": "sub_1", "object": "subscription", "customer": "cus_1", "status": "active",
            "cancel_at_period_end": false, "current_period_start": 1_797_408_000,
            "current_period_end": 1_800_000_000,
            "plan": {"id": "price_1", "product": "prod_1", "amount": 500, "currency": "usd",
                "interval": "month"},
            "items": {"data": [{"plan": {"id": "price_1", "product": "prod_1", "amount": 500,
                "currency": "usd", "interval": "month"}}]}
        });
        let a = subscription_state(&old).expect("old");
        assert_eq!(a.current_period_end_ms, Some(1_800_000_000_000));
        assert_eq!(a.current_period_start_ms, Some(1_797_408_000_000));
        assert_eq!(a.price_id, "price_1");
        assert_eq!(a.cadence, "month");
        assert_eq!(subscription_state(&basil).expect("basil"), a);
        assert_eq!(subscription_state(&localstripe).expect("localstripe"), a);
        assert!(subscription_state(&json!({"id": "sub_1"})).is_err());
    }

    #[test]
    fn an_invoice_names_its_subscription_in_any_version() {
        assert_eq!(
            invoice_subscription(&json!({"subscription": "sub_1"})),
            Some("sub_1")
        );
        assert_eq!(
            invoice_subscription(
                &json!({"parent": {"subscription_details": {"subscription": "sub_2"}}})
            ),
            Some("sub_2")
        );
        assert_eq!(
            invoice_subscription(&json!({"lines": {"data": [{"subscription": "sub_3"}]}})),
            Some("sub_3")
        );
        assert_eq!(invoice_subscription(&json!({})), None);
    }
}
