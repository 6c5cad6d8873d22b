//! Paid memberships on Stripe (issue 11, items 2, 3, 7): the keys (from the
//! environment or the desk), the Stripe client, prices made from tiers,
//! Checkout and the billing portal for readers, and the signed webhook that
//! keeps members' status what Stripe last said.
//!
//! Secrets: the secret key and the webhook signing secret live in a
//! [`Secret`], whose `Debug` shows only `sk_test_…abcd`; they are never
//! logged, never put in an error message, and the desk shows them masked.
//! `MASTHEAD_STRIPE_SECRET_KEY` and `MASTHEAD_STRIPE_WEBHOOK_SECRET` win over
//! the desk's values (an operator's environment is the stronger word).

pub mod checkout;
pub mod donations;
pub mod prices;
pub mod stripe;
pub mod webhook;

use std::sync::Arc;

use masthead_domain::billing::mask_secret;
use masthead_store::StoreResult;

use crate::state::AppState;
pub use stripe::{StripeClient, StripeError};

/// The settings keys of the desk's values.
pub const SECRET_KEY_SETTING: &str = "stripe_secret_key";
pub const WEBHOOK_SECRET_SETTING: &str = "stripe_webhook_secret";

/// Stripe's API, unless `MASTHEAD_STRIPE_API_BASE` says otherwise (tests
/// point it at a local Stripe-API server).
pub const DEFAULT_API_BASE: &str = "https://api.stripe.com";

/// A secret that never prints: `Debug` and [`Secret::masked`] show its kind
/// and last four characters only.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    pub fn new(value: &str) -> Secret {
        Secret(Arc::from(value))
    }

    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn masked(&self) -> String {
        mask_secret(&self.0)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({})", self.masked())
    }
}

/// Stripe settings from the command line or environment.
#[derive(Debug, Clone)]
pub struct StripeEnv {
    pub secret_key: Option<Secret>,
    pub webhook_secret: Option<Secret>,
    /// `https://api.stripe.com` or a stand-in, without a trailing slash.
    pub api_base: String,
}

impl Default for StripeEnv {
    fn default() -> StripeEnv {
        StripeEnv {
            secret_key: None,
            webhook_secret: None,
            api_base: DEFAULT_API_BASE.to_owned(),
        }
    }
}

/// Where a secret in use came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Environment,
    Desk,
}

/// The secrets in use, each with where it came from.
#[derive(Debug, Clone, Default)]
pub struct StripeKeys {
    pub secret_key: Option<(Secret, Source)>,
    pub webhook_secret: Option<(Secret, Source)>,
}

/// The environment's value, else the desk's (an empty setting is none).
async fn one(
    state: &AppState,
    env: Option<&Secret>,
    key: &'static str,
) -> StoreResult<Option<(Secret, Source)>> {
    if let Some(s) = env {
        return Ok(Some((s.clone(), Source::Environment)));
    }
    Ok(state
        .store
        .site_settings_raw(key)
        .await?
        .filter(|v| !v.trim().is_empty())
        .map(|v| (Secret::new(v.trim()), Source::Desk)))
}

pub async fn keys(state: &AppState) -> StoreResult<StripeKeys> {
    let env = &state.config.stripe;
    Ok(StripeKeys {
        secret_key: one(state, env.secret_key.as_ref(), SECRET_KEY_SETTING).await?,
        webhook_secret: one(state, env.webhook_secret.as_ref(), WEBHOOK_SECRET_SETTING).await?,
    })
}

/// A client with the secret key in use, or why there is none.
pub async fn client(state: &AppState) -> Result<StripeClient, StripeError> {
    let keys = keys(state)
        .await
        .map_err(|e| StripeError::Unreachable(format!("reading the settings: {e}")))?;
    let (key, _) = keys.secret_key.ok_or(StripeError::NotConfigured)?;
    StripeClient::new(&state.config.stripe.api_base, key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints_in_full() {
        let s = Secret::new("sk_test_51Habcdefghijklmnopqrstuvwxyz1234");
        let shown = format!("{s:?} {}", s.masked());
        assert!(!shown.contains("51Habcdefghij"), "{shown}");
        assert!(shown.contains("sk_test_…1234"), "{shown}");
        let env = StripeEnv {
            secret_key: Some(s),
            ..StripeEnv::default()
        };
        assert!(!format!("{env:?}").contains("51Habcdefghij"));
    }
}
