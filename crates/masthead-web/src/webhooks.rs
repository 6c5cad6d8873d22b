//! Webhook delivery. Triggers in the database queue a delivery in the same
//! transaction as the change (see migration 0007); this task sends what is
//! due, signed like Ghost's (`X-Ghost-Signature: sha256=<hmac>, t=<ms>`, the
//! HMAC-SHA256 of body and timestamp with the webhook's secret), and retries
//! failures with growing delays. Receivers are called from here only, never
//! from the request that published, so a slow or broken receiver cannot slow
//! publishing down.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use masthead_store::now_ms;
use masthead_store::sqlite::webhooks::{Due, Outcome};
use sha2::Sha256;
use tokio::task::JoinHandle;

use crate::state::AppState;

/// How often the queue is looked at.
const EVERY: Duration = Duration::from_secs(1);
/// Deliveries sent at once.
const BATCH: u32 = 8;
/// A receiver gets this long to answer.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts before a delivery is given up.
pub const MAX_ATTEMPTS: u32 = 6;

/// The first retry's delay; each later one is six times longer (10 s, 1 min,
/// 6 min, 36 min, 3.6 h). `MASTHEAD_WEBHOOK_RETRY_MS` changes the first.
fn retry_base_ms() -> i64 {
    std::env::var("MASTHEAD_WEBHOOK_RETRY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|v: &i64| *v > 0)
        .unwrap_or(10_000)
}

pub fn retry_delay_ms(base: i64, attempts_so_far: u32) -> i64 {
    base.saturating_mul(6_i64.saturating_pow(attempts_so_far.saturating_sub(1)))
}

/// `sha256=<hex>, t=<ms>` for `body`, as Ghost signs webhooks.
pub fn signature(secret: &str, body: &[u8], ts_ms: i64) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(body);
    mac.update(ts_ms.to_string().as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}, t={ts_ms}")
}

fn client() -> Option<reqwest::Client> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .ok()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!(
            "Masthead/",
            env!("CARGO_PKG_VERSION"),
            " (webhooks)"
        ))
        .build()
        .map_err(|e| tracing::error!(error = %e, "webhook client could not be built"))
        .ok()
}

pub fn spawn_deliverer(state: AppState) -> JoinHandle<()> {
    tokio::spawn(async move {
        let Some(http) = client() else { return };
        let base = retry_base_ms();
        if let Err(e) = state
            .store
            .write(|w| w.requeue_interrupted_deliveries())
            .await
        {
            tracing::warn!(error = %e, "could not requeue interrupted webhook deliveries");
        }
        let mut shutdown = state.shutdown_signal();
        // Each delivery runs on its own task, at most BATCH at once, so one
        // slow receiver holds up nobody else.
        let slots = Arc::new(tokio::sync::Semaphore::new(BATCH as usize));
        loop {
            let free = slots.available_permits() as u32;
            if free > 0 {
                let now = now_ms();
                match state
                    .store
                    .write(move |w| w.claim_due_deliveries(now, free))
                    .await
                {
                    Ok(due) => {
                        let full = due.len() as u32 == free;
                        for d in due {
                            let Ok(permit) = slots.clone().acquire_owned().await else {
                                return;
                            };
                            let (state, http) = (state.clone(), http.clone());
                            tokio::spawn(async move {
                                deliver(&state, &http, d, base).await;
                                drop(permit);
                            });
                        }
                        if full {
                            tokio::task::yield_now().await;
                            continue;
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "webhook queue unavailable; retrying"),
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(EVERY) => {}
                _ = shutdown.changed() => return,
            }
        }
    })
}

async fn deliver(state: &AppState, http: &reqwest::Client, due: Due, base: i64) {
    let id = due.delivery.id;
    let attempts = due.delivery.attempts + 1;
    let body = match crate::api::admin::webhook_payload(
        state,
        &due.delivery.event,
        due.delivery.subject_id,
    )
    .await
    {
        Some(b) => b,
        None => {
            record(
                state,
                id,
                None,
                Some("what it was about no longer exists".into()),
                Outcome::GaveUp,
            )
            .await;
            return;
        }
    };
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let ts = now_ms();
    let result = http
        .post(&due.target_url)
        .header("content-type", "application/json")
        .header("x-ghost-signature", signature(&due.secret, &bytes, ts))
        .header("x-masthead-event", due.delivery.event.as_str())
        .header("x-masthead-delivery", id.to_string())
        .body(bytes)
        .send()
        .await;
    let (code, error) = match result {
        Ok(res) if res.status().is_success() => {
            record(
                state,
                id,
                Some(res.status().as_u16()),
                None,
                Outcome::Delivered,
            )
            .await;
            return;
        }
        Ok(res) => (
            Some(res.status().as_u16()),
            format!("the receiver answered {}", res.status()),
        ),
        Err(e) if e.is_timeout() => (None, "the receiver did not answer within 10 s".to_owned()),
        Err(e) if e.is_connect() => (None, "could not connect to the receiver".to_owned()),
        Err(e) => (None, format!("the request failed: {e}")),
    };
    let outcome = if attempts >= MAX_ATTEMPTS {
        Outcome::GaveUp
    } else {
        Outcome::Retry(now_ms() + retry_delay_ms(base, attempts))
    };
    tracing::warn!(delivery = id, attempts, error = %error, "webhook delivery failed");
    record(state, id, code, Some(error), outcome).await;
}

async fn record(
    state: &AppState,
    id: i64,
    code: Option<u16>,
    error: Option<String>,
    outcome: Outcome,
) {
    let now = now_ms();
    if let Err(e) = state
        .store
        .write(move |w| w.record_attempt(id, code, error.as_deref(), outcome, now))
        .await
    {
        tracing::error!(error = %e, delivery = id, "could not record a webhook attempt");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off() {
        assert_eq!(retry_delay_ms(10_000, 1), 10_000);
        assert_eq!(retry_delay_ms(10_000, 2), 60_000);
        assert_eq!(retry_delay_ms(10_000, 5), 12_960_000);
        assert_eq!(retry_delay_ms(i64::MAX, 3), i64::MAX);
    }

    #[test]
    fn signatures_are_ghosts() {
        // HMAC-SHA256("secret", "{}" + "1700000000000"), computed independently.
        let s = signature("secret", b"{}", 1_700_000_000_000);
        assert!(
            s.starts_with("sha256=") && s.ends_with(", t=1700000000000"),
            "{s}"
        );
        assert_eq!(s.len(), "sha256=".len() + 64 + ", t=1700000000000".len());
        assert_ne!(s, signature("other", b"{}", 1_700_000_000_000));
        assert_ne!(s, signature("secret", b"{ }", 1_700_000_000_000));
    }
}
