//! Leases on queued jobs, so that any number of instances (processes on one
//! SQLite file, servers on one PostgreSQL database) can work one queue: each
//! job is worked by one of them at a time, and a job whose worker died is
//! taken over once its lease ends.
//!
//! A leasable queue is a table with a `status` column (`'pending'` for a job
//! waiting, the queue's own word for a job being worked) and three lease
//! columns: `lease_owner` (`host:pid` of the holder, for people reading the
//! queue), `lease_token` (random, known only to the claim) and `lease_until`
//! (milliseconds on the database's clock, so instances' clocks need not
//! agree). The rules, written once here as SQL fragments both dialects
//! share:
//!
//! - a claim takes jobs that are pending and due, or being worked under a
//!   lease that has ended ([`LeasedQueue::claimable`]), and marks them with a
//!   new lease ([`LeasedQueue::take`]) in the same transaction (on
//!   PostgreSQL `FOR UPDATE … SKIP LOCKED`, so racing claims take different
//!   jobs; SQLite's single writer serialises them);
//! - a worker records the outcome only while it still holds the lease
//!   ([`LeasedQueue::held`] in the `WHERE`): once another instance has taken
//!   the job over, the old worker's outcome is dropped, never written over
//!   the new one's;
//! - a worker that stops on purpose hands its jobs back at once
//!   ([`LeasedQueue::release_sql`]) rather than making them wait out the lease.
//!
//! A job must therefore finish well within its lease: a worker that outlives
//! its lease may see the job done twice. Webhook deliveries (a 10 s send
//! timeout, a 60 s lease) are the first queue; newsletter recipients the
//! second (`sqlite/sends.rs`, one lane's batch per claim).

use std::sync::OnceLock;

use crate::error::{StoreError, StoreResult};

/// A table of jobs worked under leases (see the module's rules).
pub(crate) struct LeasedQueue {
    pub table: &'static str,
    /// The status of a job being worked.
    pub running: &'static str,
    /// The column (milliseconds) from which a pending job is due.
    pub due: &'static str,
    pub dialect: Dialect,
}

#[derive(Clone, Copy)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The database's clock in Unix milliseconds: one clock for every
    /// instance, so a skewed machine cannot end another's lease early.
    fn now_ms(self) -> &'static str {
        match self {
            Dialect::Sqlite => "CAST(unixepoch('subsec') * 1000 AS INTEGER)",
            Dialect::Postgres => "(extract(epoch FROM clock_timestamp()) * 1000)::BIGINT",
        }
    }
}

impl LeasedQueue {
    /// The condition for a job of alias `a` that a claim may take at `now`
    /// (a parameter, the caller's clock, for when pending jobs are due).
    pub fn claimable(&self, a: &str, now: &str) -> String {
        format!(
            "(({a}.status = 'pending' AND {a}.{due} <= {now}) \
              OR ({a}.status = '{running}' AND {a}.lease_until <= {clock}))",
            due = self.due,
            running = self.running,
            clock = self.dialect.now_ms(),
        )
    }

    /// The `SET` assignments that give a job a new lease of `ms`
    /// milliseconds, held by `owner` with `token` (all parameters).
    pub fn take(&self, owner: &str, token: &str, ms: &str) -> String {
        format!(
            "status = '{running}', lease_owner = {owner}, lease_token = {token}, \
             lease_until = {clock} + {ms}",
            running = self.running,
            clock = self.dialect.now_ms(),
        )
    }

    /// The condition that the job is still worked under the lease `token`.
    pub fn held(&self, token: &str) -> String {
        format!(
            "status = '{running}' AND lease_token = {token}",
            running = self.running
        )
    }

    /// The `SET` assignments that end a lease (with the job's new status).
    pub fn cleared(&self) -> &'static str {
        "lease_owner = NULL, lease_token = NULL, lease_until = NULL"
    }

    /// Hands back the jobs held under the lease `token` (a parameter):
    /// pending again, due as before.
    pub fn release_sql(&self, token: &str) -> String {
        format!(
            "UPDATE {table} SET status = 'pending', {cleared} WHERE {held}",
            table = self.table,
            cleared = self.cleared(),
            held = self.held(token),
        )
    }
}

/// A new lease's token: 128 random bits in hex.
pub(crate) fn new_token() -> StoreResult<String> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b)
        .map_err(|e| StoreError::Other(format!("no randomness for a lease: {e}")))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// This process as a lease holder: `host:pid`.
pub(crate) fn owner() -> &'static str {
    static OWNER: OnceLock<String> = OnceLock::new();
    OWNER.get_or_init(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".to_owned());
        format!("{host}:{}", std::process::id())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_owners_name_this_process() {
        let (a, b) = (new_token().expect("token"), new_token().expect("token"));
        assert_ne!(a, b);
        assert!(
            a.len() == 32 && a.bytes().all(|c| c.is_ascii_hexdigit()),
            "{a}"
        );
        assert!(
            owner().ends_with(&format!(":{}", std::process::id())),
            "{}",
            owner()
        );
    }
}
