//! The desk's revenue figures (issue 11, item 8): paying members, monthly
//! recurring revenue, subscriptions started and cancelled, and donations,
//! each by day of the site's time zone. One query per series over the whole
//! range (never a query per day), in `sqlite/figures.rs` and its twin
//! `postgres/figures.rs`; each [`Store`] operation is one `match`.
//!
//! Where the history comes from (docs/architecture.md, "Revenue figures"):
//! - **Paying members** are today's count of `paid` members, walked back
//!   through the status changes Stripe's side writes in `member_events`
//!   (`Status free → paid (from Stripe)`, [`crate::paid::status_line`]): a
//!   day's figure is today's minus those who became paid after it plus
//!   those who stopped being paid after it. The last day is exactly the
//!   members list's count.
//! - **Recurring revenue** comes from the mirrored `stripe_subscriptions`:
//!   a subscription counts from when Masthead first saw it (`created_at`)
//!   while it is `active` or `trialing`, while `past_due` within the grace
//!   ([`masthead_domain::billing::PAST_DUE_GRACE_MS`] from when the renewal
//!   was due), and, once ended (`canceled`, `unpaid`, `paused`), until the
//!   sync that recorded the end (`updated_at`). Its current amount counts
//!   throughout (a price change is not dated). The SQL sums moves up and
//!   down into a running total, reading each subscription once.
//! - **Started** subscriptions are counted on `created_at` (those that never
//!   began, `incomplete` and `incomplete_expired`, are not); **cancelled**
//!   ones on the `updated_at` of a `canceled` subscription.
//! - **Donations** are the `donations` rows, by `created_at` and currency.

use crate::*;
use crate::{postgres, sqlite};

/// The start of a status line that leaves `paid`, and the end of one that
/// enters it (as [`crate::paid::status_line`] writes them), as `LIKE`
/// patterns; a test keeps them in step.
pub(crate) const LEFT_PAID: &str = "Status paid → %";
pub(crate) const BECAME_PAID: &str = "Status % → paid (%";

/// Runs a read in `figures` on either backend.
macro_rules! revenue_read {
    ($store:expr, $f:ident ( $($arg:expr),* )) => {
        match &*$store.backend {
            Backend::Sqlite(db) => {
                $store.lite_read(db, move |c| sqlite::figures::$f(c $(, $arg)*)).await
            }
            Backend::Postgres(db) => {
                postgres::figures::$f(&*$store.pg_read(db).await?, $($arg),*).await
            }
        }
    };
}

impl Store {
    /// Paying members at the end of each day of `range` (today: now), one
    /// entry a day, oldest first.
    pub async fn paying_members_by_day(&self, range: DayRange) -> StoreResult<Vec<PayingOnDay>> {
        revenue_read!(self, paying_members_by_day(range))
    }

    /// Recurring revenue at the end of each day of `range`, a line per day
    /// and currency that has any (days with none are left out), oldest
    /// first.
    pub async fn recurring_revenue_by_day(
        &self,
        range: DayRange,
    ) -> StoreResult<Vec<RecurringOnDay>> {
        revenue_read!(self, recurring_revenue_by_day(range))
    }

    /// Subscriptions started and cancelled on each day of `range` (days
    /// with neither are left out), oldest first.
    pub async fn subscriptions_by_day(
        &self,
        range: DayRange,
    ) -> StoreResult<Vec<SubscriptionsOnDay>> {
        revenue_read!(self, subscriptions_by_day(range))
    }

    /// Donations on each day of `range`, a line per day and currency that
    /// has any, oldest first.
    pub async fn donations_by_day(&self, range: DayRange) -> StoreResult<Vec<DonationsOnDay>> {
        revenue_read!(self, donations_by_day(range))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SQL `LIKE` as the two patterns use it (`%` only).
    fn like(text: &str, pattern: &str) -> bool {
        let parts: Vec<&str> = pattern.split('%').collect();
        let mut rest = text;
        for (i, part) in parts.iter().enumerate() {
            if i == 0 {
                let Some(r) = rest.strip_prefix(part) else {
                    return false;
                };
                rest = r;
            } else if i == parts.len() - 1 {
                return rest.ends_with(part);
            } else {
                let Some(at) = rest.find(part) else {
                    return false;
                };
                rest = &rest[at + part.len()..];
            }
        }
        rest.is_empty()
    }

    #[test]
    fn the_patterns_match_the_status_lines_written() {
        let became = crate::paid::status_line("free", "paid");
        let left = crate::paid::status_line("paid", "comped");
        assert!(like(&became, BECAME_PAID), "{became}");
        assert!(!like(&became, LEFT_PAID));
        assert!(like(&left, LEFT_PAID), "{left}");
        assert!(!like(&left, BECAME_PAID));
        assert!(!like(
            &crate::paid::status_line("free", "comped"),
            BECAME_PAID
        ));
    }
}
