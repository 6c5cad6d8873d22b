//! The desk's revenue figures on SQLite (read `figures.rs` for where each
//! history comes from); the twin is `postgres/figures.rs`. The days of a
//! range are made by a recursive CTE, so each series is one statement.

use rusqlite::{Connection, params};

use crate::error::StoreResult;
use crate::figures::{BECAME_PAID, LEFT_PAID};
use masthead_domain::billing::PAST_DUE_GRACE_MS;
use masthead_model::revenue::*;

fn count(v: i64) -> u64 {
    v.max(0) as u64
}

/// Today's count less the net moves into `paid` after each day: the moves
/// are read once (materialised) and summed from the end by a window.
pub fn paying_members_by_day(c: &Connection, r: DayRange) -> StoreResult<Vec<PayingOnDay>> {
    Ok(c.prepare_cached(
        "WITH RECURSIVE days(d) AS (SELECT ?1 UNION ALL SELECT d + 1 FROM days WHERE d < ?2),
         moves AS MATERIALIZED (
             SELECT (created_at + ?3) / 86400000 AS d,
                    SUM(CASE WHEN note LIKE ?5 THEN -1 ELSE 1 END) AS net
             FROM member_events
             WHERE kind = 'status' AND created_at >= ?4 AND (note LIKE ?5 OR note LIKE ?6)
             GROUP BY 1),
         grid AS (
             SELECT days.d, COALESCE(moves.net, 0) AS net
             FROM days LEFT JOIN moves ON moves.d = days.d)
         SELECT d,
                (SELECT COUNT(*) FROM members WHERE status = 'paid')
                - (SELECT COALESCE(SUM(net), 0) FROM moves WHERE d > ?2)
                - COALESCE(SUM(net) OVER (ORDER BY d ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING), 0)
         FROM grid ORDER BY d",
    )?
    .query_map(
        params![
            r.first,
            r.last,
            r.offset_ms,
            r.start_ms(),
            LEFT_PAID,
            BECAME_PAID
        ],
        |row| {
            Ok(PayingOnDay {
                day: row.get(0)?,
                count: count(row.get(1)?),
            })
        },
    )?
    .collect::<Result<_, _>>()?)
}

/// Each subscription is a move up (when first seen) and, once it has ended,
/// a move down (never before the move up); a day's figure is the running
/// total of the moves up to its end (today: now). Moves before the range
/// are counted on its first day. A window sum, so the statement reads each
/// subscription once whatever the number of days.
pub fn recurring_revenue_by_day(c: &Connection, r: DayRange) -> StoreResult<Vec<RecurringOnDay>> {
    Ok(c.prepare_cached(
        "WITH RECURSIVE days(d) AS (SELECT ?1 UNION ALL SELECT d + 1 FROM days WHERE d < ?2),
         subs AS (
             SELECT created_at AS since,
                    CASE status
                        WHEN 'active' THEN NULL
                        WHEN 'trialing' THEN NULL
                        WHEN 'past_due'
                            THEN COALESCE(current_period_start, current_period_end, updated_at) + ?5 + 1
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
             SELECT MAX(until, since), currency, -annual FROM subs WHERE until IS NOT NULL),
         counted AS (
             SELECT CASE WHEN t < ?1 * 86400000 - ?3 THEN ?1 ELSE (t + ?3) / 86400000 END AS d,
                    currency, SUM(delta) AS delta
             FROM moves WHERE t <= ?4 GROUP BY 1, 2),
         grid AS (
             SELECT days.d, cur.currency, COALESCE(counted.delta, 0) AS delta
             FROM days CROSS JOIN (SELECT DISTINCT currency FROM counted) AS cur
             LEFT JOIN counted ON counted.d = days.d AND counted.currency = cur.currency)
         SELECT d, currency, total FROM (
             SELECT d, currency, SUM(delta) OVER (PARTITION BY currency ORDER BY d) AS total
             FROM grid)
         WHERE total <> 0 ORDER BY d, currency",
    )?
    .query_map(
        params![r.first, r.last, r.offset_ms, r.now_ms, PAST_DUE_GRACE_MS],
        |row| {
            Ok(RecurringOnDay {
                day: row.get(0)?,
                currency: row.get(1)?,
                annual: row.get(2)?,
            })
        },
    )?
    .collect::<Result<_, _>>()?)
}

pub fn subscriptions_by_day(c: &Connection, r: DayRange) -> StoreResult<Vec<SubscriptionsOnDay>> {
    Ok(c.prepare_cached(
        "SELECT d, SUM(started), SUM(cancelled) FROM (
             SELECT (created_at + ?2) / 86400000 AS d, 1 AS started, 0 AS cancelled
             FROM stripe_subscriptions
             WHERE created_at >= ?1 AND status NOT IN ('incomplete', 'incomplete_expired')
             UNION ALL
             SELECT (updated_at + ?2) / 86400000, 0, 1
             FROM stripe_subscriptions
             WHERE updated_at >= ?1 AND status = 'canceled')
         GROUP BY d ORDER BY d",
    )?
    .query_map(params![r.start_ms(), r.offset_ms], |row| {
        Ok(SubscriptionsOnDay {
            day: row.get(0)?,
            started: count(row.get(1)?),
            cancelled: count(row.get(2)?),
        })
    })?
    .collect::<Result<_, _>>()?)
}

pub fn donations_by_day(c: &Connection, r: DayRange) -> StoreResult<Vec<DonationsOnDay>> {
    Ok(c.prepare_cached(
        "SELECT (created_at + ?2) / 86400000 AS d, currency, COUNT(*), SUM(amount)
         FROM donations WHERE created_at >= ?1
         GROUP BY d, currency ORDER BY d, currency",
    )?
    .query_map(params![r.start_ms(), r.offset_ms], |row| {
        Ok(DonationsOnDay {
            day: row.get(0)?,
            currency: row.get(1)?,
            count: count(row.get(2)?),
            amount: row.get(3)?,
        })
    })?
    .collect::<Result<_, _>>()?)
}
