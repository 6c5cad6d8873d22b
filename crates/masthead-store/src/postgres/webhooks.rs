//! Webhooks and their delivery log: the PostgreSQL mirror of
//! `sqlite/webhooks.rs`. The deliveries are written by the writes themselves
//! ([`PgWriter::enqueue_webhooks`]), not by triggers.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::PgWriter;
use super::sql::{exec, map, opt_u16_at, row_one, rows, u32_at};
use crate::error::{StoreError, StoreResult};
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
     d.next_attempt_at, d.last_status, d.last_error, d.created_at, d.finished_at";

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

    /// Takes up to `limit` deliveries that are due, marking them as being
    /// sent. `FOR UPDATE … SKIP LOCKED`: instances claiming at once take
    /// different deliveries, never the same one twice.
    // TODO(multi-instance): a claimed delivery has no lease yet; one left
    // "sending" by an instance that died waits for
    // `requeue_interrupted_deliveries` (issue 9 item 5: claim with a lease).
    pub async fn claim_due_deliveries(&self, now: i64, limit: u32) -> StoreResult<Vec<Due>> {
        let found = rows(
            self.tx(),
            &format!(
                "SELECT {DELIVERY_COLUMNS}, w.target_url, w.secret FROM webhook_deliveries d
                 JOIN webhooks w ON w.id = d.webhook_id
                 WHERE d.status = 'pending' AND d.next_attempt_at <= $1
                 ORDER BY d.next_attempt_at, d.id LIMIT $2
                 FOR UPDATE OF d SKIP LOCKED"
            ),
            &[&now, &i64::from(limit)],
        )
        .await?;
        let due = map(&found, |r| {
            Ok(Due {
                delivery: delivery_from_row(r)?,
                target_url: r.try_get(11)?,
                secret: r.try_get(12)?,
            })
        })?;
        for d in &due {
            exec(
                self.tx(),
                "UPDATE webhook_deliveries SET status = 'sending' WHERE id = $1",
                &[&d.delivery.id],
            )
            .await?;
        }
        Ok(due)
    }

    /// Records an attempt: delivered, to be retried at `retry_at`, or given up.
    pub async fn record_attempt(
        &self,
        id: i64,
        status_code: Option<u16>,
        error: Option<&str>,
        outcome: Outcome,
        now: i64,
    ) -> StoreResult<()> {
        let (status, next, finished) = match outcome {
            Outcome::Delivered => ("delivered", now, Some(now)),
            Outcome::Retry(at) => ("pending", at, None),
            Outcome::GaveUp => ("failed", now, Some(now)),
        };
        exec(
            self.tx(),
            "UPDATE webhook_deliveries SET status = $2, attempts = attempts + 1, next_attempt_at = $3,
                last_status = $4, last_error = $5, finished_at = $6 WHERE id = $1",
            &[&id, &status, &next, &status_code.map(i64::from), &error, &finished],
        )
        .await?;
        Ok(())
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

    /// Deliveries left "sending" by a crash are sent again.
    // TODO(multi-instance): with several instances this also requeues
    // deliveries another live instance is sending right now; it needs leases.
    pub async fn requeue_interrupted_deliveries(&self) -> StoreResult<usize> {
        let n = exec(
            self.tx(),
            "UPDATE webhook_deliveries SET status = 'pending' WHERE status = 'sending'",
            &[],
        )
        .await?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }
}
