//! Paid memberships (issue 11): what both dialects share — how a member's
//! status is settled from their mirrored subscriptions, and the history
//! lines written when something changes — and the [`Store`] operations,
//! each one `match` with a SQLite and a PostgreSQL arm (`sqlite/billing.rs`
//! and its twin `postgres/billing.rs`).

use masthead_domain::billing::{grants_access, member_status};

use crate::memberships::Standing;
use crate::*;
use crate::{postgres, sqlite};

/// A mirrored subscription, as settling reads it.
#[derive(Debug, Clone)]
pub(crate) struct SubscriptionLine {
    pub status: String,
    pub current_period_start_ms: Option<i64>,
    pub current_period_end_ms: Option<i64>,
    pub tier_id: Option<i64>,
}

/// A member's status and tier once settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Settled {
    pub status: &'static str,
    pub tier_id: Option<i64>,
}

/// The member's status from all their subscriptions: `paid` (with the tier
/// of the live subscription paid furthest ahead) while one gives access;
/// otherwise `comped` while a complimentary grant lasts (with the grant's
/// tier), else `free` (no tier).
pub(crate) fn settle(
    subscriptions: &[SubscriptionLine],
    standing: &Standing,
    now_ms: i64,
) -> Settled {
    let live = subscriptions
        .iter()
        .filter(|s| {
            grants_access(
                &s.status,
                s.current_period_start_ms,
                s.current_period_end_ms,
                now_ms,
            )
        })
        .max_by_key(|s| s.current_period_end_ms.unwrap_or(i64::MAX));
    let comp = standing.comp(now_ms);
    let status = member_status(
        live.is_some(),
        comp.map(|c| c.until.unwrap_or(i64::MAX)),
        now_ms,
    );
    let tier_id = match (status, live, comp) {
        ("paid", Some(s), _) => s.tier_id.or(standing.tier_id),
        ("comped", _, Some(c)) => c.tier_id,
        _ => None,
    };
    Settled { status, tier_id }
}

/// Whether settling must first record the member's comp as a grant: a comp
/// from before grants were kept apart (or made by an import, the desk's
/// add form or the Admin API) lives only in the `comped` status, and a
/// subscription is about to overwrite that status. Its tier is the
/// member's, or else the first paid tier (Ghost's default for comps).
pub(crate) fn comp_to_keep(standing: &Standing, settled: &Settled, now_ms: i64) -> bool {
    standing.comp_tier_id.is_none()
        && standing.comp(now_ms).is_some()
        && settled.status != masthead_domain::access::COMPED
}

/// Currencies without a minor unit (Stripe's list of zero-decimal ones).
const ZERO_DECIMAL: &[&str] = &[
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
    "xaf", "xof", "xpf",
];

/// An amount in minor units as people read it: `5.00 USD`, `500 JPY`.
pub fn format_amount(amount: i64, currency: &str) -> String {
    let code = currency.to_ascii_uppercase();
    if ZERO_DECIMAL.contains(&currency.to_ascii_lowercase().as_str()) {
        format!("{amount} {code}")
    } else {
        let sign = if amount < 0 { "-" } else { "" };
        let a = amount.unsigned_abs();
        format!("{sign}{}.{:02} {code}", a / 100, a % 100)
    }
}

/// The history line for a subscription that is new or changed.
pub(crate) fn subscription_line(
    s: &SubscriptionState,
    before: Option<&SubscriptionState>,
) -> Option<String> {
    let what = match before {
        None => "started",
        Some(b) if b.status != s.status => "changed",
        Some(b) if b.cancel_at_period_end != s.cancel_at_period_end => "changed",
        Some(b) if b.price_id != s.price_id => "changed price",
        _ => return None,
    };
    let mut line = format!(
        "Stripe subscription {} {what}: {}, {} a {}",
        s.subscription_id,
        s.status,
        format_amount(s.amount, &s.currency),
        if s.cadence.is_empty() {
            "period"
        } else {
            &s.cadence
        }
    );
    if s.cancel_at_period_end {
        line.push_str(", ends at the end of the period");
    }
    Some(line)
}

/// The history line for a status that changed.
pub(crate) fn status_line(before: &str, after: &str) -> String {
    format!("Status {before} → {after} (from Stripe)")
}

/// Runs a read in `billing` on either backend.
macro_rules! billing_read {
    ($store:expr, $f:ident ( $($arg:expr),* )) => {
        match &*$store.backend {
            Backend::Sqlite(db) => {
                $store.lite_read(db, move |c| sqlite::billing::$f(c $(, $arg)*)).await
            }
            Backend::Postgres(db) => {
                postgres::billing::$f(&*$store.pg_read(db).await?, $($arg),*).await
            }
        }
    };
}

/// Runs a writer method on either backend, arguments moved in.
macro_rules! billing_write {
    ($store:expr, $f:ident ( $($arg:expr),* )) => {
        match &*$store.backend {
            Backend::Sqlite(db) => Store::lite_write(db, move |w| w.$f($($arg),*)).await,
            Backend::Postgres(db) => {
                db.write_send(move |w| Box::pin(async move { w.$f($($arg),*).await }))
                    .await
            }
        }
    };
}

impl Store {
    /// Links a Stripe customer to a member (found by id, then by address,
    /// or created when `create_member`); a customer already linked stays
    /// with its member.
    pub async fn link_stripe_customer(&self, link: CustomerLink) -> StoreResult<CustomerLinked> {
        billing_write!(self, link_stripe_customer(&link))
    }

    /// The member a Stripe customer belongs to.
    pub async fn stripe_customer_member(&self, customer_id: String) -> StoreResult<Option<i64>> {
        billing_read!(self, stripe_customer_member(&customer_id))
    }

    /// Mirrors a subscription as Stripe described it to a fetch that began
    /// at `fetched_ms`, and settles its member's status and tier (one
    /// transaction). Writes history lines for what changed; a repeat of the
    /// same state changes nothing. If a fetch that began later was mirrored
    /// first, nothing is written ([`SubscriptionSynced::Outdated`]): of two
    /// webhooks handled at once, the older view of Stripe never wins.
    pub async fn sync_subscription(
        &self,
        state: SubscriptionState,
        fetched_ms: i64,
        now_ms: i64,
    ) -> StoreResult<SubscriptionSynced> {
        billing_write!(self, sync_subscription(&state, fetched_ms, now_ms))
    }

    /// A ticket for a fetch of a subscription from Stripe, taken just
    /// before the fetch and given to [`Store::sync_subscription`]: later
    /// tickets are larger. On PostgreSQL it is the database server's clock
    /// in milliseconds, so every instance reads the same clock (instances'
    /// own clocks may disagree by more than two webhooks are apart); on
    /// SQLite, which one process serves, this process's clock.
    pub async fn stripe_fetch_ticket(&self) -> StoreResult<i64> {
        match &*self.backend {
            Backend::Sqlite(_) => Ok(now_ms()),
            Backend::Postgres(db) => postgres::billing::clock_ms(&*self.pg_read(db).await?).await,
        }
    }

    /// Settles every paying member whose subscriptions no longer give access
    /// at `now_ms` (a `past_due` one past its grace); their ids.
    pub async fn lapse_overdue_members(&self, now_ms: i64) -> StoreResult<Vec<i64>> {
        billing_write!(self, lapse_overdue_members(now_ms))
    }

    /// Whether a webhook event was handled already.
    pub async fn stripe_event_seen(&self, event_id: String) -> StoreResult<bool> {
        billing_read!(self, stripe_event_seen(&event_id))
    }

    /// Records a handled webhook event; false if it was recorded before.
    pub async fn record_stripe_event(
        &self,
        event_id: String,
        event_type: String,
        outcome: String,
        now_ms: i64,
    ) -> StoreResult<bool> {
        billing_write!(
            self,
            record_stripe_event(&event_id, &event_type, &outcome, now_ms)
        )
    }

    /// The Stripe product made for a tier.
    pub async fn stripe_product_of_tier(&self, tier_id: i64) -> StoreResult<Option<String>> {
        billing_read!(self, stripe_product_of_tier(tier_id))
    }

    /// A tier's Stripe prices, active ones first, newest first.
    pub async fn stripe_prices_of_tier(&self, tier_id: i64) -> StoreResult<Vec<StripePrice>> {
        billing_read!(self, stripe_prices_of_tier(tier_id))
    }

    pub async fn save_stripe_product(
        &self,
        tier_id: i64,
        product_id: String,
        now_ms: i64,
    ) -> StoreResult<()> {
        billing_write!(self, save_stripe_product(tier_id, &product_id, now_ms))
    }

    /// Records a price made in Stripe; other active prices of the tier with
    /// the same cadence are no longer offered.
    pub async fn save_stripe_price(&self, price: StripePrice, now_ms: i64) -> StoreResult<()> {
        billing_write!(self, save_stripe_price(&price, now_ms))
    }

    /// A member's Stripe customer and subscriptions.
    pub async fn member_billing(&self, member_id: i64) -> StoreResult<MemberBilling> {
        billing_read!(self, member_billing(member_id))
    }

    /// The subscriptions of many members in one query (a page of the Admin
    /// API's members), newest first for each.
    pub async fn subscriptions_of_members(
        &self,
        member_ids: Vec<i64>,
    ) -> StoreResult<Vec<MemberSubscription>> {
        billing_read!(self, subscriptions_of_members(member_ids))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(status: &str, end: Option<i64>, tier: Option<i64>) -> SubscriptionLine {
        SubscriptionLine {
            status: status.into(),
            current_period_start_ms: end.map(|e| e - 30 * 86_400_000),
            current_period_end_ms: end,
            tier_id: tier,
        }
    }

    fn standing(status: &str, tier: Option<i64>, comp: Option<(i64, Option<i64>)>) -> Standing {
        Standing {
            status: status.into(),
            tier_id: tier,
            comp_tier_id: comp.map(|c| c.0),
            comp_expires_ms: comp.and_then(|c| c.1),
        }
    }

    #[test]
    fn the_live_subscription_paid_furthest_ahead_sets_the_tier() {
        let now = 1_000_000_000_000;
        let subs = [
            line("canceled", Some(now + 9_000), Some(1)),
            line("active", Some(now + 100), Some(2)),
            line("trialing", Some(now + 500), Some(3)),
        ];
        assert_eq!(
            settle(&subs, &standing("free", None, None), now),
            Settled {
                status: "paid",
                tier_id: Some(3)
            }
        );
        // Nothing live: a comp keeps its tier, else free with none.
        let ended = [line("canceled", Some(now + 9_000), Some(1))];
        assert_eq!(
            settle(
                &ended,
                &standing("comped", Some(4), Some((4, Some(now + 1)))),
                now
            ),
            Settled {
                status: "comped",
                tier_id: Some(4)
            }
        );
        assert_eq!(
            settle(
                &ended,
                &standing("comped", Some(4), Some((4, Some(now)))),
                now
            ),
            Settled {
                status: "free",
                tier_id: None
            }
        );
        // A price Masthead does not know keeps the member's tier.
        assert_eq!(
            settle(
                &[line("active", Some(now), None)],
                &standing("paid", Some(5), None),
                now
            )
            .tier_id,
            Some(5)
        );
    }

    #[test]
    fn a_paying_members_comp_takes_over_when_the_subscription_ends() {
        let now = 1_000_000_000_000;
        // Paying on tier 2, given tier 6 with no end date.
        let member = standing("paid", Some(2), Some((6, None)));
        let live = [line("active", Some(now + 100), Some(2))];
        assert_eq!(
            settle(&live, &member, now),
            Settled {
                status: "paid",
                tier_id: Some(2)
            }
        );
        let ended = [line("canceled", Some(now - 100), Some(2))];
        assert_eq!(
            settle(&ended, &member, now),
            Settled {
                status: "comped",
                tier_id: Some(6)
            }
        );
        // With an end date that passed, they are free.
        let lapsed = standing("paid", Some(2), Some((6, Some(now - 1))));
        assert_eq!(settle(&ended, &lapsed, now).status, "free");
    }

    #[test]
    fn a_comp_kept_only_in_the_status_is_recorded_before_a_subscription_hides_it() {
        let now = 1_000_000_000_000;
        let legacy = standing("comped", Some(4), None);
        let live = [line("active", Some(now + 100), Some(2))];
        let paid = settle(&live, &legacy, now);
        assert_eq!(paid.status, "paid");
        assert!(comp_to_keep(&legacy, &paid, now));
        // Recorded already, or no comp, or still comped: nothing to keep.
        let recorded = standing("comped", Some(4), Some((4, None)));
        assert!(!comp_to_keep(
            &recorded,
            &settle(&live, &recorded, now),
            now
        ));
        let free = standing("free", None, None);
        assert!(!comp_to_keep(&free, &settle(&live, &free, now), now));
        assert!(!comp_to_keep(&legacy, &settle(&[], &legacy, now), now));
    }

    #[test]
    fn a_failed_renewal_keeps_access_for_a_week_from_when_it_was_due() {
        let day = 86_400_000;
        let now = 1_000_000_000_000;
        let member = standing("paid", Some(2), None);
        let due = |d: i64| SubscriptionLine {
            status: "past_due".into(),
            current_period_start_ms: Some(now - d * day),
            current_period_end_ms: Some(now - d * day + 30 * day),
            tier_id: Some(2),
        };
        assert_eq!(settle(&[due(3)], &member, now).status, "paid");
        assert_eq!(settle(&[due(8)], &member, now).status, "free");
    }

    #[test]
    fn amounts_read_as_people_write_them() {
        assert_eq!(format_amount(500, "usd"), "5.00 USD");
        assert_eq!(format_amount(4_999, "eur"), "49.99 EUR");
        assert_eq!(format_amount(500, "jpy"), "500 JPY");
        assert_eq!(format_amount(-5, "gbp"), "-0.05 GBP");
    }
}
