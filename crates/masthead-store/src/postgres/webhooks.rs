//! Webhooks and their delivery log: the PostgreSQL mirror of
//! `sqlite/webhooks.rs`. The deliveries are written by the writes themselves
//! ([`PgWriter::enqueue_webhooks`]), not by triggers.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::PgWriter;
use super::sql::{exec, map, opt_u16_at, row_one, rows, u32_at};
use crate::error::{StoreError, StoreResult};
use crate::lease::{self, Dialect, LeasedQueue};
use crate::sqlite::webhooks::{Delivery, Due, Outcome, Webhook};
#[allow(unused_imports)]
pub(crate) use masthead_model::WEBHOOK_EVENTS as EVENTS;

pub async fn webhooks(c: &impl GenericClient) -> StoreResult<Vec<Webhook>> {
    let found = rows(
        c,
        "SELECT id, event, target_url, name, secret, active, created_at FROM webhooks
         WHERE active ORDER BY id",
        &[],
    )
    .await?;
    map(&found, |r| {
        Ok(Webhook {
            id: r.try_get(0)?,
            event: r.try_get(1)?,
            target_url: r.try_get(2)?,
            name: r.try_get(3)?,
            secret: r.try_get(4)?,
            active: r.try_get(5)?,
            created_ms: r.try_get(6)?,
        })
    })
}

const DELIVERY_COLUMNS: &str = "d.id, d.webhook_id, d.event, d.subject_id, d.status, d.attempts, \
     d.next_attempt_at, d.last_status, d.last_error, d.created_at, d.finished_at, \
     d.lease_owner, d.lease_until";

/// Deliveries are a leased queue (see `lease.rs`): 'sending' while held.
const DELIVERIES: LeasedQueue = LeasedQueue {
    table: "webhook_deliveries",
    running: "sending",
    due: "next_attempt_at",
    dialect: Dialect::Postgres,
};

fn delivery_from_row(r: &Row) -> StoreResult<Delivery> {
    Ok(Delivery {
        id: r.try_get(0)?,
        webhook_id: r.try_get(1)?,
        event: r.try_get(2)?,
        subject_id: r.try_get(3)?,
        status: r.try_get(4)?,
        attempts: u32_at(r, 5)?,
        next_attempt_ms: r.try_get(6)?,
        last_status: opt_u16_at(r, 7)?,
        last_error: r.try_get(8)?,
        created_ms: r.try_get(9)?,
        finished_ms: r.try_get(10)?,
        lease_owner: r.try_get(11)?,
        lease_until_ms: r.try_get(12)?,
    })
}

/// The newest deliveries, for the desk's log.
pub async fn recent_deliveries(c: &impl GenericClient, limit: u32) -> StoreResult<Vec<Delivery>> {
    let found = rows(
        c,
        &format!("SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d ORDER BY d.id DESC LIMIT $1"),
        &[&i64::from(limit)],
    )
    .await?;
    map(&found, delivery_from_row)
}

impl PgWriter<'_> {
    pub async fn insert_webhook(
        &self,
        event: &str,
        target_url: &str,
        name: &str,
        secret: &str,
        now: i64,
    ) -> StoreResult<i64> {
        if !EVENTS.contains(&event) {
            return Err(StoreError::Invalid(format!("unknown event {event:?}")));
        }
        Ok(row_one(
            self.tx(),
            "INSERT INTO webhooks (event, target_url, name, secret, created_at) VALUES ($1, $2, $3, $4, $5)
             RETURNING id",
            &[&event, &target_url, &name, &secret, &now],
        )
        .await?
        .try_get(0)?)
    }

    /// Stops a webhook; its log stays, its pending deliveries are dropped.
    pub async fn deactivate_webhook(&self, id: i64) -> StoreResult<()> {
        let n = exec(
            self.tx(),
            "UPDATE webhooks SET active = FALSE WHERE id = $1 AND active",
            &[&id],
        )
        .await?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        exec(
            self.tx(),
            "UPDATE webhook_deliveries SET status = 'failed', last_error = 'webhook removed'
             WHERE webhook_id = $1 AND status = 'pending'",
            &[&id],
        )
        .await?;
        Ok(())
    }

    /// Takes up to `limit` deliveries that are due (or whose sender's lease
    /// has ended), each under a new lease of `lease_ms`, and counts the
    /// attempt. `FOR UPDATE … SKIP LOCKED`: instances claiming at once take
    /// different deliveries; a row another claim changed meanwhile is
    /// re-checked against the condition on its new version, so a delivery
    /// just claimed elsewhere (a fresh lease) is not taken.
    pub async fn claim_due_deliveries(
        &self,
        now: i64,
        limit: u32,
        lease_ms: i64,
    ) -> StoreResult<Vec<Due>> {
        let token = lease::new_token()?;
        let found = rows(
            self.tx(),
            &format!(
                "SELECT d.id FROM webhook_deliveries d
                 WHERE {claimable}
                 ORDER BY d.next_attempt_at, d.id LIMIT $2
                 FOR UPDATE OF d SKIP LOCKED",
                claimable = DELIVERIES.claimable("d", "$1"),
            ),
            &[&now, &i64::from(limit)],
        )
        .await?;
        let ids = map(&found, |r| Ok(r.try_get::<_, i64>(0)?))?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let taken = rows(
            self.tx(),
            &format!(
                "UPDATE webhook_deliveries d SET attempts = d.attempts + 1, {take}
                 FROM webhooks w
                 WHERE w.id = d.webhook_id AND d.id = ANY($4)
                 RETURNING {DELIVERY_COLUMNS}, w.target_url, w.secret",
                take = DELIVERIES.take("$1", "$2", "$3"),
            ),
            &[&lease::owner(), &token, &lease_ms, &ids],
        )
        .await?;
        let mut due = map(&taken, |r| {
            Ok(Due {
                delivery: delivery_from_row(r)?,
                target_url: r.try_get(13)?,
                secret: r.try_get(14)?,
                lease_token: token.clone(),
            })
        })?;
        // RETURNING has no order; claims are worked oldest first.
        due.sort_by_key(|d| (d.delivery.next_attempt_ms, d.delivery.id));
        Ok(due)
    }

    /// Records an attempt made under the lease `token`: delivered, to be
    /// retried at `retry_at`, or given up. `false` (nothing written) when
    /// the lease was lost: another instance took the delivery over.
    pub async fn record_attempt(
        &self,
        id: i64,
        token: &str,
        status_code: Option<u16>,
        error: Option<&str>,
        outcome: Outcome,
        now: i64,
    ) -> StoreResult<bool> {
        let (status, next, finished) = match outcome {
            Outcome::Delivered => ("delivered", now, Some(now)),
            Outcome::Retry(at) => ("pending", at, None),
            Outcome::GaveUp => ("failed", now, Some(now)),
        };
        let n = exec(
            self.tx(),
            &format!(
                "UPDATE webhook_deliveries SET status = $2, next_attempt_at = $3,
                    last_status = $4, last_error = $5, finished_at = $6, {cleared}
                 WHERE id = $1 AND {held}",
                cleared = DELIVERIES.cleared(),
                held = DELIVERIES.held("$7"),
            ),
            &[
                &id,
                &status,
                &next,
                &status_code.map(i64::from),
                &error,
                &finished,
                &token,
            ],
        )
        .await?;
        Ok(n == 1)
    }

    /// Hands back the deliveries claimed under `token` that are still being
    /// sent (a server stopping), as on SQLite.
    pub async fn release_deliveries(&self, token: &str) -> StoreResult<usize> {
        let n = exec(self.tx(), &DELIVERIES.release_sql("$1"), &[&token]).await?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    /// Older versions logged why a receiver could not be reached; those rows
    /// now read like any unreachable receiver (see the SQLite twin).
    pub async fn forget_failure_causes(&self, unreachable: &str) -> StoreResult<usize> {
        let n = exec(
            self.tx(),
            "UPDATE webhook_deliveries SET last_error = $1
             WHERE last_status IS NULL
               AND (last_error IN ('could not connect to the receiver',
                                   'the receiver did not answer within 10 s')
                    OR last_error ILIKE 'the request failed:%')",
            &[&unreachable],
        )
        .await?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }
}
