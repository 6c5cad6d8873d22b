//! Webhooks and their delivery log (deliveries are queued beside the writes
//! they are about: see `Writer::enqueue_webhooks`).

use rusqlite::{Connection, params};

use super::Writer;
use crate::error::{StoreError, StoreResult};
use crate::lease::{self, Dialect, LeasedQueue};
pub(crate) use masthead_model::webhooks::*;

pub fn webhooks(c: &Connection) -> StoreResult<Vec<Webhook>> {
    Ok(c.prepare_cached(
        "SELECT id, event, target_url, name, secret, active, created_at FROM webhooks
         WHERE active = 1 ORDER BY id",
    )?
    .query_map([], |r| {
        Ok(Webhook {
            id: r.get(0)?,
            event: r.get(1)?,
            target_url: r.get(2)?,
            name: r.get(3)?,
            secret: r.get(4)?,
            active: r.get(5)?,
            created_ms: r.get(6)?,
        })
    })?
    .collect::<Result<_, _>>()?)
}

const DELIVERY_COLUMNS: &str = "d.id, d.webhook_id, d.event, d.subject_id, d.status, d.attempts, \
     d.next_attempt_at, d.last_status, d.last_error, d.created_at, d.finished_at, \
     d.lease_owner, d.lease_until";

/// Deliveries are a leased queue (see `lease.rs`): 'sending' while held.
const DELIVERIES: LeasedQueue = LeasedQueue {
    table: "webhook_deliveries",
    running: "sending",
    due: "next_attempt_at",
    dialect: Dialect::Sqlite,
};

fn delivery_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Delivery> {
    Ok(Delivery {
        id: r.get(0)?,
        webhook_id: r.get(1)?,
        event: r.get(2)?,
        subject_id: r.get(3)?,
        status: r.get(4)?,
        attempts: r.get(5)?,
        next_attempt_ms: r.get(6)?,
        last_status: r.get(7)?,
        last_error: r.get(8)?,
        created_ms: r.get(9)?,
        finished_ms: r.get(10)?,
        lease_owner: r.get(11)?,
        lease_until_ms: r.get(12)?,
    })
}

/// The newest deliveries, for the desk's log.
pub fn recent_deliveries(c: &Connection, limit: u32) -> StoreResult<Vec<Delivery>> {
    Ok(c.prepare_cached(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d ORDER BY d.id DESC LIMIT ?1"
    ))?
    .query_map([limit], delivery_from_row)?
    .collect::<Result<_, _>>()?)
}

impl Writer<'_> {
    pub fn insert_webhook(
        &self,
        event: &str,
        target_url: &str,
        name: &str,
        secret: &str,
        now: i64,
    ) -> StoreResult<i64> {
        if !WEBHOOK_EVENTS.contains(&event) {
            return Err(StoreError::Invalid(format!("unknown event {event:?}")));
        }
        self.tx().execute(
            "INSERT INTO webhooks (event, target_url, name, secret, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![event, target_url, name, secret, now],
        )?;
        Ok(self.tx().last_insert_rowid())
    }

    /// Stops a webhook; its log stays, its pending deliveries are dropped.
    pub fn deactivate_webhook(&self, id: i64) -> StoreResult<()> {
        let n = self.tx().execute(
            "UPDATE webhooks SET active = 0 WHERE id = ?1 AND active = 1",
            [id],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        self.tx().execute(
            "UPDATE webhook_deliveries SET status = 'failed', last_error = 'webhook removed'
             WHERE webhook_id = ?1 AND status = 'pending'",
            [id],
        )?;
        Ok(())
    }

    /// Takes up to `limit` deliveries that are due (or whose sender's lease
    /// has ended), each under a new lease of `lease_ms`, and counts the
    /// attempt. The writer lock makes claims from several processes take
    /// turns, so none takes a delivery another holds.
    pub fn claim_due_deliveries(
        &self,
        now: i64,
        limit: u32,
        lease_ms: i64,
    ) -> StoreResult<Vec<Due>> {
        let token = lease::new_token()?;
        let mut due: Vec<Due> = self
            .tx()
            .prepare_cached(&format!(
                "SELECT {DELIVERY_COLUMNS}, w.target_url, w.secret FROM webhook_deliveries d
                 JOIN webhooks w ON w.id = d.webhook_id
                 WHERE {claimable}
                 ORDER BY d.next_attempt_at, d.id LIMIT ?2",
                claimable = DELIVERIES.claimable("d", "?1"),
            ))?
            .query_map(params![now, limit], |r| {
                Ok(Due {
                    delivery: delivery_from_row(r)?,
                    target_url: r.get(13)?,
                    secret: r.get(14)?,
                    lease_token: token.clone(),
                })
            })?
            .collect::<Result<_, _>>()?;
        let mut take = self.tx().prepare_cached(&format!(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, {take} WHERE id = ?4
             RETURNING status, attempts, lease_owner, lease_until",
            take = DELIVERIES.take("?1", "?2", "?3"),
        ))?;
        for d in &mut due {
            let (status, attempts, owner, until) = take.query_row(
                params![lease::owner(), token, lease_ms, d.delivery.id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )?;
            d.delivery.status = status;
            d.delivery.attempts = attempts;
            d.delivery.lease_owner = owner;
            d.delivery.lease_until_ms = until;
        }
        Ok(due)
    }

    /// Records an attempt made under the lease `token`: delivered, to be
    /// retried at `retry_at`, or given up. `false` (nothing written) when
    /// the lease was lost: another instance took the delivery over.
    pub fn record_attempt(
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
        let n = self.tx().execute(
            &format!(
                "UPDATE webhook_deliveries SET status = ?2, next_attempt_at = ?3,
                    last_status = ?4, last_error = ?5, finished_at = ?6, {cleared}
                 WHERE id = ?1 AND {held}",
                cleared = DELIVERIES.cleared(),
                held = DELIVERIES.held("?7"),
            ),
            params![id, status, next, status_code, error, finished, token],
        )?;
        Ok(n == 1)
    }

    /// Hands back the deliveries claimed under `token` that are still being
    /// sent (a server stopping): pending again, due as they were, so the
    /// next claim anywhere takes them without waiting out the lease.
    pub fn release_deliveries(&self, token: &str) -> StoreResult<usize> {
        Ok(self.tx().execute(&DELIVERIES.release_sql("?1"), [token])?)
    }

    /// Older versions logged why a receiver could not be reached ("could not
    /// connect", "did not answer within 10 s", "the request failed: …"),
    /// which told an open port from a closed one. Those rows now read like
    /// any unreachable receiver: `unreachable` (the web layer's wording).
    pub fn forget_failure_causes(&self, unreachable: &str) -> StoreResult<usize> {
        Ok(self.tx().execute(
            "UPDATE webhook_deliveries SET last_error = ?1
             WHERE last_status IS NULL
               AND (last_error IN ('could not connect to the receiver',
                                   'the receiver did not answer within 10 s')
                    OR last_error LIKE 'the request failed:%')",
            [unreachable],
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqlite::tests::TempDb;

    /// Two handles on one file, as two processes would have: the file's
    /// write lock orders their claims, a held delivery is nobody else's
    /// until its lease ends, and then the first holder's outcome is refused.
    #[test]
    fn processes_sharing_a_file_respect_each_others_leases() {
        let db = TempDb::new("webhook-leases");
        let other = crate::sqlite::SqliteStore::open(db.store.path()).expect("second handle");
        db.store
            .write(|w| {
                let hook = w.insert_webhook("member.added", "https://h.example/", "h", "s", 1)?;
                w.tx().execute(
                    "INSERT INTO webhook_deliveries (webhook_id, event, subject_id, next_attempt_at, created_at)
                     VALUES (?1, 'member.added', 7, 1, 1)",
                    [hook],
                )?;
                Ok(())
            })
            .expect("queue");
        let first = db
            .store
            .write(|w| w.claim_due_deliveries(10, 8, 200))
            .expect("claim");
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].delivery.attempts, 1, "counted when claimed");
        let none = other
            .write(|w| w.claim_due_deliveries(10, 8, 60_000))
            .expect("claim");
        assert!(none.is_empty(), "held by the first: {none:?}");
        std::thread::sleep(std::time::Duration::from_millis(300));
        let taken = other
            .write(|w| w.claim_due_deliveries(10, 8, 60_000))
            .expect("claim");
        assert_eq!(taken.len(), 1, "taken over once the lease ended");
        assert_eq!(taken[0].delivery.attempts, 2);
        let (old, new) = (&first[0].lease_token, &taken[0].lease_token);
        let late = db
            .store
            .write(|w| {
                w.record_attempt(
                    taken[0].delivery.id,
                    old,
                    Some(200),
                    None,
                    Outcome::Delivered,
                    20,
                )
            })
            .expect("record");
        assert!(!late, "the first holder lost its lease");
        let done = other
            .write(|w| {
                w.record_attempt(
                    taken[0].delivery.id,
                    new,
                    Some(200),
                    None,
                    Outcome::Delivered,
                    20,
                )
            })
            .expect("record");
        assert!(done);
        let log = db.store.read(|c| recent_deliveries(c, 1)).expect("log");
        assert_eq!(
            (
                log[0].status.as_str(),
                log[0].attempts,
                log[0].lease_owner.as_deref()
            ),
            ("delivered", 2, None)
        );
    }

    #[test]
    fn old_failure_causes_are_forgotten_and_answers_kept() {
        let db = TempDb::new("webhook-causes");
        let errors = db
            .store
            .write(|w| {
                let hook = w.insert_webhook("member.added", "https://h.example/", "h", "s", 1)?;
                for (status, error) in [
                    (None, Some("could not connect to the receiver")),
                    (None, Some("the receiver did not answer within 10 s")),
                    (None, Some("the request failed: error sending request")),
                    (Some(404), Some("the receiver answered 404 Not Found")),
                    (None, Some("webhook removed")),
                    (None, None),
                ] {
                    w.tx().execute(
                        "INSERT INTO webhook_deliveries
                           (webhook_id, event, subject_id, next_attempt_at, last_status, last_error, created_at)
                         VALUES (?1, 'member.added', 1, 1, ?2, ?3, 1)",
                        params![hook, status, error],
                    )?;
                }
                assert_eq!(w.forget_failure_causes("delivery failed")?, 3);
                Ok(())
            })
            .and_then(|()| db.store.read(|c| recent_deliveries(c, 10)))
            .expect("store")
            .into_iter()
            .rev()
            .map(|d| d.last_error)
            .collect::<Vec<_>>();
        assert_eq!(
            errors,
            [
                Some("delivery failed".to_owned()),
                Some("delivery failed".to_owned()),
                Some("delivery failed".to_owned()),
                Some("the receiver answered 404 Not Found".to_owned()),
                Some("webhook removed".to_owned()),
                None,
            ]
        );
    }
}
