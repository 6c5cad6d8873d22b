//! Stripe prices made from tiers: a Stripe product per paid tier, and a
//! monthly and a yearly price for it, created the first time a reader
//! chooses them and looked up (in the store) afterwards. A tier whose price
//! or currency changed gets a new Stripe price; the old one is no longer
//! offered, and its subscriptions go on as Stripe bills them.
//!
//! Prices are made through Stripe's Plans API (`POST /v1/plans`): Stripe
//! answers a plan as a price everywhere (`line_items[][price]` takes a plan's
//! id, a subscription's item shows it under `price`), and localstripe, the
//! Stripe-API server the tests run against, has plans but no Prices API. So
//! one code path serves both; see `docs/architecture.md`.

use masthead_store::{StripePrice, now_ms};

use super::stripe::{StripeClient, StripeError, StripeResult, fresh_idempotency_key};
use crate::state::AppState;

/// What a price is made from: one paid tier, one cadence.
#[derive(Debug, Clone)]
pub struct TierPrice {
    pub tier_id: i64,
    pub tier_slug: String,
    pub tier_name: String,
    /// Minor units.
    pub amount: i64,
    /// Lowercase ISO 4217.
    pub currency: String,
    /// month | year
    pub cadence: &'static str,
}

fn store_error(e: masthead_store::StoreError) -> StripeError {
    StripeError::Unreachable(format!("the database: {e}"))
}

/// The Stripe price id for `want`, made in Stripe if there is none yet.
pub async fn ensure_price(
    state: &AppState,
    client: &StripeClient,
    want: &TierPrice,
) -> StripeResult<String> {
    let known = state
        .store
        .stripe_prices_of_tier(want.tier_id)
        .await
        .map_err(store_error)?;
    if let Some(p) = known.iter().find(|p| {
        p.active
            && p.cadence == want.cadence
            && p.amount == want.amount
            && p.currency == want.currency
    }) {
        return Ok(p.price_id.clone());
    }
    let product = match state
        .store
        .stripe_product_of_tier(want.tier_id)
        .await
        .map_err(store_error)?
    {
        Some(p) => p,
        None => {
            let made = client
                .post(
                    "products",
                    &[
                        ("name".into(), want.tier_name.clone()),
                        ("metadata[masthead_tier]".into(), want.tier_slug.clone()),
                    ],
                    &fresh_idempotency_key(),
                )
                .await?;
            let id = made["id"]
                .as_str()
                .ok_or_else(|| StripeError::Unreadable("a product without an id".into()))?
                .to_owned();
            state
                .store
                .save_stripe_product(want.tier_id, id.clone(), now_ms())
                .await
                .map_err(store_error)?;
            id
        }
    };
    let made = client
        .post(
            "plans",
            &[
                ("product".into(), product.clone()),
                ("amount".into(), want.amount.to_string()),
                ("currency".into(), want.currency.clone()),
                ("interval".into(), want.cadence.to_owned()),
                (
                    "nickname".into(),
                    format!("{} ({}ly)", want.tier_name, want.cadence),
                ),
                ("metadata[masthead_tier]".into(), want.tier_slug.clone()),
            ],
            &fresh_idempotency_key(),
        )
        .await?;
    let price_id = made["id"]
        .as_str()
        .ok_or_else(|| StripeError::Unreadable("a plan without an id".into()))?
        .to_owned();
    state
        .store
        .save_stripe_price(
            StripePrice {
                price_id: price_id.clone(),
                product_id: product,
                tier_id: want.tier_id,
                amount: want.amount,
                currency: want.currency.clone(),
                cadence: want.cadence.to_owned(),
                active: true,
            },
            now_ms(),
        )
        .await
        .map_err(store_error)?;
    Ok(price_id)
}
