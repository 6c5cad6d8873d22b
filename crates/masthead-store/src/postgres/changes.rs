//! The change log, read in commit order and complete, and a listener that
//! wakes readers when another session commits a change. PostgreSQL only:
//! SQLite commits one writer at a time, in id order, so its reader takes the
//! rows with ids above the last one read (`sqlite::queries::changes_since`).
//!
//! Here identity values are handed out when rows are inserted and
//! transactions commit in any order, so a row with a lower id can commit
//! after a reader has passed it. Each row therefore records the transaction
//! that wrote it (`txid`, migration 0012), and a reader keeps a [`Horizon`]:
//!
//! - `below`: every transaction with a lower id has finished and all its
//!   rows have been read;
//! - `seen`: transactions at or above `below` whose rows have been read
//!   already (they committed while an older transaction was still running).
//!
//! A read takes, in one statement (one snapshot), the rows of transactions
//! at or above `below` that are not in `seen`, oldest transaction first, and
//! the snapshot's `xmin`, the oldest transaction still running. Every
//! transaction below `xmin` has finished: its rows are in that snapshot if
//! it committed, and never will be if it rolled back. So once a read has
//! taken everything the snapshot shows, `below` moves up to `xmin` and `seen`
//! forgets what lies under it. (Transaction ids are the server's, shared by
//! every database on it.) A transaction's rows become visible together,
//! and reads return whole transactions, so `seen` can hold transactions
//! rather than rows. It stays small: only transactions that committed while
//! an older one was still open (a long-open transaction anywhere on the
//! server keeps `below` back and lets `seen` grow until it ends).
//!
//! Writers `NOTIFY` (see `PgWriter::log_change`); the notification is
//! delivered when the writing transaction commits. [`listen`] keeps a
//! session of its own listening and reconnects when it is lost. Readers
//! still poll: a notice only makes them read sooner, and the horizon, not
//! the notice, makes the read complete, so a lost connection loses nothing.

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::GenericClient;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_postgres::{AsyncMessage, NoTls, Row};

use super::sql::{map, row_one, rows};
use crate::error::{StoreError, StoreResult};
use crate::model::{Change, ChangeTopic};

/// The channel writers notify and readers listen on.
pub(crate) const CHANNEL: &str = "masthead_changes";

/// Where a reader of the change log stands (see the module's account).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Horizon {
    below: i64,
    /// Sorted, no duplicates.
    seen: Vec<i64>,
}

impl Horizon {
    /// Before every change ever logged (tests read the whole log).
    #[cfg(test)]
    pub fn beginning() -> Horizon {
        Horizon {
            below: 0,
            seen: Vec::new(),
        }
    }
}

/// The snapshot's oldest running transaction, and every row of the
/// transactions at or above `$1` not in `$2`, oldest transaction first, at
/// most `$3`. The one-row subquery makes a row even when there are no
/// changes (then the change columns are NULL).
const READ_SQL: &str = "SELECT s.xmin, c.txid, c.id, c.at, c.topic, c.post_id, c.ref_id
    FROM (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin) s
    LEFT JOIN LATERAL (
        SELECT txid, id, at, topic, post_id, ref_id FROM change_log
        WHERE txid >= $1 AND txid <> ALL($2)
        ORDER BY txid, id LIMIT $3
    ) c ON TRUE
    ORDER BY c.txid, c.id";

/// The rest of one transaction's rows, after a batch that ended inside it.
const REST_SQL: &str = "SELECT txid, id, at, topic, post_id, ref_id FROM change_log
    WHERE txid = $1 AND id > $2 ORDER BY id";

/// A horizon past everything committed now: the oldest running
/// transaction, and the transactions at or above it that have committed.
pub async fn start(c: &impl GenericClient) -> StoreResult<Horizon> {
    let row = row_one(
        c,
        "SELECT s.xmin, ARRAY(SELECT DISTINCT txid FROM change_log WHERE txid >= s.xmin ORDER BY txid)
         FROM (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin) s",
        &[],
    )
    .await?;
    Ok(Horizon {
        below: row.try_get(0)?,
        seen: row.try_get(1)?,
    })
}

/// The changes committed since `from`, in whole transactions, oldest
/// transaction first (about `limit` of them; more when the last
/// transaction has more rows), and the horizon after them.
pub async fn read(
    c: &impl GenericClient,
    from: &Horizon,
    limit: u32,
) -> StoreResult<(Vec<Change>, Horizon)> {
    let limit = limit.max(1);
    let found = rows(c, READ_SQL, &[&from.below, &from.seen, &i64::from(limit)]).await?;
    let xmin: i64 = match found.first() {
        Some(r) => r.try_get(0)?,
        None => from.below,
    };
    let mut read: Vec<(i64, Change)> = Vec::with_capacity(found.len());
    for r in &found {
        if let Some(txid) = r.try_get::<_, Option<i64>>(1)? {
            read.push((txid, change_at(r, 2)?));
        }
    }
    let complete = read.len() < limit as usize;
    if let Some((txid, last)) = read.last().map(|(t, c)| (*t, c.id)).filter(|_| !complete) {
        // The batch may have stopped inside a transaction: take the rest of
        // it, so every transaction read is whole. (It committed, so all its
        // rows are visible to any later snapshot too.)
        let rest = rows(c, REST_SQL, &[&txid, &last]).await?;
        read.extend(map(&rest, |r| Ok((txid, change_at(r, 1)?)))?);
    }
    let mut next = from.clone();
    next.seen.extend(read.iter().map(|(t, _)| *t));
    next.seen.sort_unstable();
    next.seen.dedup();
    if complete {
        next.below = next.below.max(xmin);
        let below = next.below;
        next.seen.retain(|t| *t >= below);
    }
    Ok((read.into_iter().map(|(_, c)| c).collect(), next))
}

/// A change from the row's columns `i` (id), `i + 1` (at), … `i + 4` (ref_id).
fn change_at(r: &Row, i: usize) -> StoreResult<Change> {
    let topic: String = r.try_get(i + 2)?;
    Ok(Change {
        id: r.try_get(i)?,
        at_ms: r.try_get(i + 1)?,
        topic: ChangeTopic::parse(&topic),
        post_id: r.try_get(i + 3)?,
        ref_id: r.try_get(i + 4)?,
    })
}

/// The listening session's `application_name`.
const LISTENER_NAME: &str = "masthead-listener";

/// How often the listening session is checked to be alive: a connection
/// cut without a word (a dead network) would otherwise go unnoticed.
const PING_EVERY: Duration = Duration::from_secs(15);
/// How long a check may take.
const PING_WAIT: Duration = Duration::from_secs(5);
/// The first pause before reconnecting; doubled on each failure, up to `RETRY_MAX`.
const RETRY_FIRST: Duration = Duration::from_millis(250);
const RETRY_MAX: Duration = Duration::from_secs(10);

/// Keeps a session listening on [`CHANNEL`] and wakes `notify` at each
/// notification, and once after each (re)connection (changes committed
/// while nobody listened are in the log, not in a notification). Runs until
/// aborted.
pub(crate) fn listen(config: tokio_postgres::Config, notify: Arc<Notify>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut pause = RETRY_FIRST;
        let mut failing = false;
        loop {
            let outcome = session(&config, &notify, &mut || {
                if failing {
                    tracing::info!("listening for changes again");
                }
                failing = false;
                pause = RETRY_FIRST;
            })
            .await;
            match outcome {
                Err(e) if !failing => {
                    failing = true;
                    tracing::warn!(
                        error = %e,
                        "the change listener lost its database session; reconnecting \
                         (changes are still read every 200 ms meanwhile)"
                    );
                }
                Err(e) => tracing::debug!(error = %e, "the change listener cannot reconnect yet"),
                Ok(()) => {}
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(RETRY_MAX);
        }
    })
}

/// One listening session, until it fails or the server closes it.
async fn session(
    config: &tokio_postgres::Config,
    notify: &Arc<Notify>,
    listening: &mut impl FnMut(),
) -> StoreResult<()> {
    let mut config = config.clone();
    // Named apart from the pool's sessions in `pg_stat_activity`.
    config.application_name(LISTENER_NAME);
    let (client, mut connection) = config.connect(NoTls).await?;
    // The connection runs on a task of its own, which also receives the
    // notifications; this side only listens and checks the session.
    let wake = notify.clone();
    let mut driver = tokio::spawn(async move {
        loop {
            match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(_))) => wake.notify_one(),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e),
                None => return Ok(()),
            }
        }
    });
    let _stop_driver = AbortOnDrop(driver.abort_handle());
    client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
    listening();
    notify.notify_one();
    loop {
        tokio::select! {
            ended = &mut driver => {
                return match ended {
                    Ok(Err(e)) => Err(e.into()),
                    _ => Ok(()),
                };
            }
            _ = tokio::time::sleep(PING_EVERY) => {
                match tokio::time::timeout(PING_WAIT, client.simple_query("SELECT 1")).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => return Err(e.into()),
                    Err(_) => {
                        return Err(StoreError::Unavailable(
                            "the listening session stopped answering".into(),
                        ));
                    }
                }
            }
        }
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::postgres::PgWriter;
    use crate::postgres::tests::TestDb;

    async fn log(pg: &super::super::PgStore, post: i64) {
        pg.write(async |w| w.log_change(ChangeTopic::Post, Some(post), None).await)
            .await
            .expect("log a change");
    }

    fn posts(changes: &[Change]) -> Vec<i64> {
        changes.iter().filter_map(|c| c.post_id).collect()
    }

    /// Identity values are taken at insert, so a transaction that commits
    /// late holds a lower id than rows already read: the horizon still
    /// delivers it, exactly once, and forgets nothing a rollback leaves.
    #[tokio::test]
    async fn a_late_commit_is_read_and_nothing_twice() {
        let db = TestDb::new("feed_order").await;
        let pg = db.migrated().await;
        log(&pg, 1).await;
        let reader = pg.client().await.expect("reader");
        let start = start(&reader).await.expect("start");
        let (none, start) = read(&reader, &start, 100).await.expect("read");
        assert!(none.is_empty(), "the start is past what was committed");

        // A logs first (lower id) but commits last; R rolls back.
        let mut a = pg.client().await.expect("a");
        let a = a.transaction().await.expect("begin a");
        PgWriter::new(&a)
            .log_change(ChangeTopic::Post, Some(2), None)
            .await
            .expect("a logs");
        let mut r = pg.client().await.expect("r");
        let r = r.transaction().await.expect("begin r");
        PgWriter::new(&r)
            .log_change(ChangeTopic::Post, Some(99), None)
            .await
            .expect("r logs");
        log(&pg, 3).await;
        let (got, h1) = read(&reader, &start, 100).await.expect("read");
        assert_eq!(posts(&got), [3], "what has committed, and only that");
        let id3 = got[0].id;
        let (got, h1) = read(&reader, &h1, 100).await.expect("read");
        assert!(got.is_empty(), "nothing twice: {got:?}");

        a.commit().await.expect("commit a");
        r.rollback().await.expect("roll back r");
        log(&pg, 4).await;
        let (got, h2) = read(&reader, &h1, 100).await.expect("read");
        assert_eq!(posts(&got), [2, 4], "the late commit, then the next");
        assert!(got[0].id < id3, "the late row has the lower id");
        let (got, h3) = read(&reader, &h2, 100).await.expect("read");
        assert!(got.is_empty(), "{got:?}");
        // (Other tests' transactions share the server's transaction ids and
        // may hold `below` back; what lies under it is forgotten.)
        assert!(
            h3.below >= start.below && h3.seen.iter().all(|t| *t >= h3.below),
            "{h3:?}"
        );
    }

    /// A batch never splits a transaction, and a reader that starts behind
    /// a long-open transaction still reads what commits after it, once.
    #[tokio::test]
    async fn batches_hold_whole_transactions() {
        let db = TestDb::new("feed_batches").await;
        let pg = db.migrated().await;
        let reader = pg.client().await.expect("reader");
        let mut open = pg.client().await.expect("open");
        let open = open.transaction().await.expect("begin");
        PgWriter::new(&open)
            .log_change(ChangeTopic::Site, None, None)
            .await
            .expect("open logs");
        let open_xid: i64 = open
            .query_one("SELECT pg_current_xact_id()::text::bigint", &[])
            .await
            .expect("xid")
            .get(0);
        let from = Horizon::beginning();
        pg.write(async |w| {
            for post in 10..15 {
                w.log_change(ChangeTopic::Post, Some(post), None).await?;
            }
            Ok(())
        })
        .await
        .expect("five in one transaction");
        log(&pg, 20).await;
        let (got, h) = read(&reader, &from, 2).await.expect("read");
        assert_eq!(posts(&got), [10, 11, 12, 13, 14], "the whole transaction");
        let (got, h) = read(&reader, &h, 2).await.expect("read");
        assert_eq!(posts(&got), [20]);
        assert!(
            h.below <= open_xid,
            "held back by the open transaction: {h:?}"
        );
        assert_eq!(h.seen.len(), 2, "the two read above it: {h:?}");
        open.commit().await.expect("commit");
        let (got, h) = read(&reader, &h, 2).await.expect("read");
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].topic, ChangeTopic::Site);
        let (got, h) = read(&reader, &h, 2).await.expect("read");
        assert!(got.is_empty(), "{got:?}");
        assert!(h.below > open_xid || h.seen.contains(&open_xid), "{h:?}");
    }

    /// A commit elsewhere wakes the listener; a member join does not (it
    /// is polled); a listening session that is cut is replaced, and says so
    /// with a wake-up of its own.
    #[tokio::test]
    async fn commits_wake_listeners_who_survive_a_lost_session() {
        let db = TestDb::new("feed_listen").await;
        let pg = db.migrated().await;
        let notify = Arc::new(Notify::new());
        let listener = pg.listen_for_changes(notify.clone());
        let wait = |what: &'static str| {
            let notify = notify.clone();
            async move {
                tokio::time::timeout(Duration::from_secs(5), notify.notified())
                    .await
                    .unwrap_or_else(|_| panic!("no wake-up: {what}"));
            }
        };
        wait("on listening").await;
        log(&pg, 1).await;
        wait("a commit").await;

        pg.write(async |w| w.log_change(ChangeTopic::Member, None, None).await)
            .await
            .expect("join");
        let quiet = tokio::time::timeout(Duration::from_millis(500), notify.notified()).await;
        assert!(quiet.is_err(), "joins do not notify");

        let admin = pg.client().await.expect("admin");
        let cut: i64 = admin
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                 WHERE application_name = $1 AND datname = current_database()",
                &[&LISTENER_NAME],
            )
            .await
            .expect("terminate")
            .get(0);
        assert_eq!(cut, 1, "one listening session");
        wait("listening again").await;
        log(&pg, 2).await;
        wait("a commit after reconnecting").await;
        listener.abort();
    }
}
