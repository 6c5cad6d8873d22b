//! Schema migrations for PostgreSQL, embedded in the binary. Versions and
//! names are those of the SQLite migrations (a test checks the two
//! directories match), recorded in `schema_migrations` as SQLite records them.
//!
//! Several instances may start at once against one database: the run holds a
//! session-level advisory lock on a connection of its own, so they take
//! turns, and the second finds nothing left to do. Each migration is one
//! transaction (PostgreSQL's DDL is transactional), so a failed one leaves
//! the schema at the version before it. Closing the session releases the
//! lock, whatever went wrong.

use tokio_postgres::{Client, Config, NoTls};

use crate::error::{StoreError, StoreResult};

/// One migration: `migrations/postgres/{version:04}_{name}.sql`.
pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

macro_rules! migration {
    ($version:literal, $name:literal, $file:literal) => {
        Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!("../../migrations/postgres/", $file)),
        }
    };
}

pub(crate) const MIGRATIONS: &[Migration] = &[
    migration!(1, "init", "0001_init.sql"),
    migration!(2, "staff", "0002_staff.sql"),
    migration!(3, "editing", "0003_editing.sql"),
    migration!(4, "review", "0004_review.sql"),
    migration!(5, "media", "0005_media.sql"),
    migration!(6, "api", "0006_api.sql"),
    migration!(7, "webhooks", "0007_webhooks.sql"),
    migration!(8, "scheduled", "0008_scheduled.sql"),
    migration!(9, "no_triggers", "0009_no_triggers.sql"),
    migration!(10, "search", "0010_search.sql"),
    migration!(11, "search_index", "0011_search_index.sql"),
    migration!(12, "instances", "0012_instances.sql"),
    migration!(13, "members", "0013_members.sql"),
    migration!(14, "bouncing", "0014_bouncing.sql"),
    migration!(15, "email_sends", "0015_email_sends.sql"),
    migration!(16, "member_labels", "0016_member_labels.sql"),
    migration!(17, "handed", "0017_handed.sql"),
    migration!(18, "tiers", "0018_tiers.sql"),
    migration!(19, "stripe", "0019_stripe.sql"),
    migration!(20, "paid_fixes", "0020_paid_fixes.sql"),
    migration!(21, "donations", "0021_donations.sql"),
];

/// The advisory lock's key: "masthead" in ASCII, so it is recognisable in
/// `pg_locks` and unlikely to meet another application's key.
pub(crate) const LOCK_KEY: i64 = 0x6d61_7374_6865_6164;

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version    BIGINT PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at BIGINT NOT NULL
)";

/// Applies `migrations` (in version order) that the database has not seen.
pub(crate) async fn run(config: &Config, migrations: &[Migration]) -> StoreResult<Vec<i64>> {
    // Not a pooled connection: the lock belongs to the session, and this
    // session ends, releasing it, when this function returns or fails.
    let (mut client, connection) = config.connect(NoTls).await?;
    let connection = tokio::spawn(connection);
    let result = run_locked(&mut client, migrations).await;
    drop(client);
    // The connection task ends once the session is closed: wait for it, so
    // the lock is free when we return.
    let _ = connection.await;
    result
}

async fn run_locked(client: &mut Client, migrations: &[Migration]) -> StoreResult<Vec<i64>> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&LOCK_KEY])
        .await?;
    client.batch_execute(CREATE_TABLE).await?;
    let current = schema_version(client).await?;
    let newest_known = migrations.last().map_or(0, |m| m.version);
    if current > newest_known {
        return Err(StoreError::Unavailable(format!(
            "the database is at schema version {current}, newer than this build of Masthead knows \
             ({newest_known}); run a newer Masthead"
        )));
    }
    let mut applied = Vec::new();
    for m in migrations.iter().filter(|m| m.version > current) {
        let tx = client.transaction().await?;
        tx.batch_execute(m.sql)
            .await
            .map_err(|e| in_migration(m, e.into()))?;
        if m.version == super::search::INDEX_MIGRATION {
            // The index's text is derived in Rust: fill it for the posts there are.
            super::search::rebuild_index(&tx)
                .await
                .map_err(|e| in_migration(m, e))?;
        }
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            &[&m.version, &m.name, &crate::now_ms()],
        )
        .await?;
        tx.commit().await?;
        applied.push(m.version);
    }
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY])
        .await?;
    Ok(applied)
}

/// The newest version recorded, 0 when none is (or there is no table yet).
pub(crate) async fn schema_version(client: &Client) -> StoreResult<i64> {
    let row = client
        .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])
        .await?;
    if !row.try_get::<_, bool>(0)? {
        return Ok(0);
    }
    let row = client
        .query_one(
            "SELECT COALESCE(MAX(version), 0)::BIGINT FROM schema_migrations",
            &[],
        )
        .await?;
    Ok(row.try_get(0)?)
}

/// Names the migration that failed, unless the server itself went away.
fn in_migration(m: &Migration, e: StoreError) -> StoreError {
    match e {
        StoreError::Unavailable(_) => e,
        other => StoreError::Other(format!(
            "migration {:04}_{} failed: {other}",
            m.version, m.name
        )),
    }
}
