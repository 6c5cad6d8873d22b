//! The facade's newsletter-send operations: `sqlite/sends.rs` and its
//! PostgreSQL twin, one `match` each.

use masthead_model::sends::*;

use crate::{Backend, Store, StoreResult, postgres, sqlite};

/// A claimed recipient as the access rules see them, from their member's
/// row (`None`: gone meanwhile, read as free): a comp past its end is free.
pub(crate) fn reader_of(
    status: Option<&str>,
    tier_id: Option<i64>,
    comp_expires_ms: Option<i64>,
    now: i64,
) -> masthead_domain::access::Reader {
    use masthead_domain::access::{FREE, Reader, settled_status};
    Reader::new(
        settled_status(status.unwrap_or(FREE), comp_expires_ms, now),
        tier_id,
    )
}

/// Runs a `Writer`/`PgWriter` method on either backend, the arguments
/// moved into the transaction and passed by reference.
macro_rules! send_write {
    ($store:expr, $relaxed:ident, $f:ident ( $($arg:ident),* )) => {
        match &*$store.backend {
            Backend::Sqlite(db) => Store::$relaxed(db, move |w| w.$f($(&$arg),*)).await,
            Backend::Postgres(db) => {
                db.write_send(move |w| Box::pin(async move { w.$f($(&$arg),*).await }))
                    .await
            }
        }
    };
}

macro_rules! send_read {
    ($store:expr, $f:ident ( $($arg:expr),* )) => {
        match &*$store.backend {
            Backend::Sqlite(db) => {
                $store.lite_read(db, move |c| sqlite::sends::$f(c $(, $arg)*)).await
            }
            Backend::Postgres(db) => {
                postgres::sends::$f(&*$store.pg_read(db).await?, $($arg),*).await
            }
        }
    };
}

impl Store {
    /// Creates a send and snapshots its recipients in one transaction
    /// (subscribed, in the segment, not bouncing). `Conflict` when the post
    /// was already sent to that newsletter.
    pub async fn create_send(&self, new: NewSend) -> StoreResult<SendCreated> {
        send_write!(self, lite_write, create_send(new))
    }

    /// Claims up to `limit` due recipients (or ones whose worker's lease
    /// ended) under one lease of `lease_ms` (see `lease.rs`).
    pub async fn claim_recipients(
        &self,
        now: i64,
        limit: u32,
        lease_ms: i64,
    ) -> StoreResult<RecipientClaim> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                Store::lite_write(db, move |w| w.claim_recipients(now, limit, lease_ms)).await
            }
            Backend::Postgres(db) => {
                db.write_send(move |w| {
                    Box::pin(async move { w.claim_recipients(now, limit, lease_ms).await })
                })
                .await
            }
        }
    }

    /// Marks a recipient held under `token` as handed over to the relay:
    /// its body is written and only the final dot is left. A recipient
    /// whose worker dies after this is recorded as sent by the next claim,
    /// not sent again. `false` when the lease was lost (send nothing).
    ///
    /// Blocking, on purpose: the caller writes the dot on the same thread
    /// the moment this returns, so that no scheduling gap (a task waiting
    /// for a busy CPU) sits between the record and the dot, where a kill
    /// would lose the message. Call it from a multi-thread runtime (it
    /// steps aside with `block_in_place`); on another runtime SQLite runs
    /// it in place and PostgreSQL refuses. The commit does not wait for
    /// the disk (as `record_recipient`).
    pub fn mark_handed_blocking(&self, id: i64, token: &str, now: i64) -> StoreResult<bool> {
        use tokio::runtime::{Handle, RuntimeFlavor};
        let multi_thread = Handle::try_current()
            .map(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread)
            .unwrap_or(false);
        match &*self.backend {
            Backend::Sqlite(db) => {
                let run = || db.write_relaxed(|w| w.mark_handed(id, token, now));
                if multi_thread {
                    tokio::task::block_in_place(run)
                } else {
                    run()
                }
            }
            Backend::Postgres(db) if multi_thread => tokio::task::block_in_place(|| {
                let token = token.to_owned();
                Handle::current().block_on(db.write_relaxed_send(move |w| {
                    Box::pin(async move { w.mark_handed(id, &token, now).await })
                }))
            }),
            Backend::Postgres(_) => Err(crate::StoreError::Other(
                "recording a handover on PostgreSQL needs a multi-thread runtime".into(),
            )),
        }
    }

    /// Records one try under the lease `token`; `false` when the lease was
    /// lost and nothing was written. On SQLite the commit does not wait for
    /// the disk: a killed process loses nothing (the WAL is written), only a
    /// power cut could, and then a message is sent again, never lost.
    pub async fn record_recipient(
        &self,
        id: i64,
        token: String,
        outcome: RecipientOutcome,
        now: i64,
    ) -> StoreResult<bool> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                Store::lite_write_relaxed(db, move |w| {
                    w.record_recipient(id, &token, &outcome, now)
                })
                .await
            }
            Backend::Postgres(db) => {
                db.write_send(move |w| {
                    Box::pin(async move { w.record_recipient(id, &token, &outcome, now).await })
                })
                .await
            }
        }
    }

    /// Hands back the recipients still held under `token`.
    pub async fn release_recipients(&self, token: String) -> StoreResult<usize> {
        send_write!(self, lite_write, release_recipients(token))
    }

    /// Marks as sent the sends with nothing left queued or in flight.
    pub async fn finish_sends(&self, now: i64) -> StoreResult<usize> {
        match &*self.backend {
            Backend::Sqlite(db) => Store::lite_write(db, move |w| w.finish_sends(now)).await,
            Backend::Postgres(db) => {
                db.write_send(move |w| Box::pin(async move { w.finish_sends(now).await }))
                    .await
            }
        }
    }

    /// Takes a member off one newsletter; `false` if they were not on it.
    pub async fn unsubscribe_member(
        &self,
        member_id: i64,
        newsletter_id: i64,
    ) -> StoreResult<bool> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                Store::lite_write(db, move |w| w.unsubscribe_member(member_id, newsletter_id)).await
            }
            Backend::Postgres(db) => {
                db.write_send(move |w| {
                    Box::pin(async move { w.unsubscribe_member(member_id, newsletter_id).await })
                })
                .await
            }
        }
    }

    /// The setting `key`, first stored as `candidate` if unset; every
    /// instance gets the same value.
    pub async fn setting_or_insert(
        &self,
        key: &'static str,
        candidate: String,
    ) -> StoreResult<String> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                Store::lite_write(db, move |w| w.setting_or_insert(key, &candidate)).await
            }
            Backend::Postgres(db) => {
                db.write_send(move |w| {
                    Box::pin(async move { w.setting_or_insert(key, &candidate).await })
                })
                .await
            }
        }
    }

    /// The newest sends (of one post, with `post_id`).
    pub async fn sends(&self, post_id: Option<i64>, limit: u32) -> StoreResult<Vec<SendSummary>> {
        send_read!(self, sends(post_id, limit))
    }

    pub async fn send(&self, id: i64) -> StoreResult<Option<SendSummary>> {
        send_read!(self, send(id))
    }

    /// Recipients of a send no longer subscribed to its newsletter.
    pub async fn unsubscribed_since(&self, send_id: i64) -> StoreResult<u64> {
        send_read!(self, unsubscribed_since(send_id))
    }

    /// The newsletter e-mails a member was sent or is queued for, newest first.
    pub async fn member_emails(&self, member_id: i64, limit: u32) -> StoreResult<Vec<MemberEmail>> {
        send_read!(self, member_emails(member_id, limit))
    }

    /// A page of a send's recipients, by id after `after`.
    pub async fn send_recipients(
        &self,
        send_id: i64,
        status: Option<String>,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<RecipientRow>> {
        send_read!(self, send_recipients(send_id, status, after, limit))
    }
}
