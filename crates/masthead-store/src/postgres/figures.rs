//! The desk's revenue figures on PostgreSQL: the twin of
//! `sqlite/figures.rs` (read `figures.rs` for where each history comes
//! from). The days of a range come from `generate_series`; sums of
//! `BIGINT` are `NUMERIC` here, so they are cast back.

use deadpool_postgres::GenericClient;

use super::sql::{count_at, map, rows};
use crate::error::StoreResult;
use crate::figures::{BECAME_PAID, LEFT_PAID};
use masthead_domain::billing::PAST_DUE_GRACE_MS;
use masthead_model::revenue::*;

pub async fn paying_members_by_day(
    c: &impl GenericClient,
    r: DayRange,
) -> StoreResult<Vec<PayingOnDay>> {
    let rs = rows(
        c,
        "WITH moves AS MATERIALIZED (
             SELECT (created_at + $3) / 86400000 AS d,
                    SUM(CASE WHEN note LIKE $5 THEN -1 ELSE 1 END) AS net
             FROM member_events
             WHERE kind = 'status' AND created_at >= $4 AND (note LIKE $5 OR note LIKE $6)
             GROUP BY 1),
         grid AS (
             SELECT days.d, COALESCE(moves.net, 0) AS net
             FROM generate_series($1::BIGINT, $2::BIGINT) AS days(d)
             LEFT JOIN moves ON moves.d = days.d)
         SELECT d,
                ((SELECT COUNT(*) FROM members WHERE status = 'paid')
                 - (SELECT COALESCE(SUM(net), 0) FROM moves WHERE d > $2::BIGINT)
                 - COALESCE(SUM(net) OVER (ORDER BY d ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING), 0))::BIGINT
         FROM grid ORDER BY d",
        &[
            &r.first,
            &r.last,
            &r.offset_ms,
            &r.start_ms(),
            &LEFT_PAID,
            &BECAME_PAID,
        ],
    )
    .await?;
    map(&rs, |row| {
        Ok(PayingOnDay {
            day: row.try_get(0)?,
            count: count_at(row, 1)?,
        })
    })
}

/// As on SQLite: moves up and down, a running total by day (a window sum).
pub async fn recurring_revenue_by_day(
    c: &impl GenericClient,
    r: DayRange,
) -> StoreResult<Vec<RecurringOnDay>> {
    let rs = rows(
        c,
        "WITH subs AS (
             SELECT created_at AS since,
                    CASE status
                        WHEN 'active' THEN NULL
                        WHEN 'trialing' THEN NULL
                        WHEN 'past_due'
                            THEN COALESCE(current_period_start, current_period_end, updated_at) + $5 + 1
                        ELSE updated_at
                    END AS until,
                    CASE cadence WHEN 'year' THEN amount ELSE amount * 12 END AS annual,
                    currency
             FROM stripe_subscriptions
             WHERE status NOT IN ('incomplete', 'incomplete_expired')
               AND cadence IN ('month', 'year') AND amount > 0),
         moves AS (
             SELECT since AS t, currency, annual AS delta FROM subs
             UNION ALL
             SELECT GREATEST(until, since), currency, -annual FROM subs WHERE until IS NOT NULL),
         counted AS (
             SELECT CASE WHEN t < $1::BIGINT * 86400000 - $3::BIGINT THEN $1::BIGINT
                         ELSE (t + $3::BIGINT) / 86400000 END AS d,
                    currency, SUM(delta) AS delta
             FROM moves WHERE t <= $4::BIGINT GROUP BY 1, 2),
         grid AS (
             SELECT days.d, cur.currency, COALESCE(counted.delta, 0) AS delta
             FROM generate_series($1::BIGINT, $2::BIGINT) AS days(d)
             CROSS JOIN (SELECT DISTINCT currency FROM counted) AS cur
             LEFT JOIN counted ON counted.d = days.d AND counted.currency = cur.currency)
         SELECT d, currency, total::BIGINT FROM (
             SELECT d, currency, SUM(delta) OVER (PARTITION BY currency ORDER BY d) AS total
             FROM grid) AS running
         WHERE total <> 0 ORDER BY d, currency",
        &[
            &r.first,
            &r.last,
            &r.offset_ms,
            &r.now_ms,
            &PAST_DUE_GRACE_MS,
        ],
    )
    .await?;
    map(&rs, |row| {
        Ok(RecurringOnDay {
            day: row.try_get(0)?,
            currency: row.try_get(1)?,
            annual: row.try_get(2)?,
        })
    })
}

pub async fn subscriptions_by_day(
    c: &impl GenericClient,
    r: DayRange,
) -> StoreResult<Vec<SubscriptionsOnDay>> {
    let rs = rows(
        c,
        "SELECT d, SUM(started)::BIGINT, SUM(cancelled)::BIGINT FROM (
             SELECT (created_at + $2) / 86400000 AS d, 1 AS started, 0 AS cancelled
             FROM stripe_subscriptions
             WHERE created_at >= $1 AND status NOT IN ('incomplete', 'incomplete_expired')
             UNION ALL
             SELECT (updated_at + $2) / 86400000, 0, 1
             FROM stripe_subscriptions
             WHERE updated_at >= $1 AND status = 'canceled') AS changes
         GROUP BY d ORDER BY d",
        &[&r.start_ms(), &r.offset_ms],
    )
    .await?;
    map(&rs, |row| {
        Ok(SubscriptionsOnDay {
            day: row.try_get(0)?,
            started: count_at(row, 1)?,
            cancelled: count_at(row, 2)?,
        })
    })
}

pub async fn donations_by_day(
    c: &impl GenericClient,
    r: DayRange,
) -> StoreResult<Vec<DonationsOnDay>> {
    let rs = rows(
        c,
        "SELECT (created_at + $2) / 86400000 AS d, currency, COUNT(*), SUM(amount)::BIGINT
         FROM donations WHERE created_at >= $1
         GROUP BY d, currency ORDER BY d, currency",
        &[&r.start_ms(), &r.offset_ms],
    )
    .await?;
    map(&rs, |row| {
        Ok(DonationsOnDay {
            day: row.try_get(0)?,
            currency: row.try_get(1)?,
            count: count_at(row, 2)?,
            amount: row.try_get(3)?,
        })
    })
}
