//! The PostgreSQL backend (issue 9): a connection pool, the schema and its
//! migrations, and the store's operations ported from the SQLite module file
//! for file (`queries`, `api`, `staff`, …, `PgWriter` for `Writer`, `units`).
//! `Store` dispatches to them when opened with a `postgres://` URL; the
//! conformance suite runs them against SQLite's. Business rules that SQLite keeps in triggers
//! (post uuids, the webhook outbox) are Rust code in the writes here.
//!
//! The driver is `tokio-postgres` with a `deadpool-postgres` pool, without
//! TLS for now (docs/architecture.md, "PostgreSQL driver"). How the SQLite
//! schema is translated is said at the top of
//! `migrations/postgres/0001_init.sql` and in docs/architecture.md.

// The store's operations, ported from `sqlite/` file for file (same names,
// same types, async). A few helpers exist for the conformance tests only,
// hence the `dead_code` allowances.
#[allow(dead_code)]
pub mod api;
pub mod billing;
pub mod changes;
pub mod copy;
pub mod donations;
#[allow(dead_code)]
pub mod editing;
mod error;
pub mod figures;
#[allow(dead_code)]
pub mod media;
pub mod members;
mod migrate;
#[allow(dead_code)]
pub mod queries;
pub mod roster;
pub mod search;
pub mod sends;
#[allow(dead_code)]
mod sql;
#[allow(dead_code)]
pub mod staff;
#[allow(dead_code)]
pub mod taxonomy;
pub mod tiers;
#[allow(dead_code)]
pub mod transfer;
pub mod units;
#[allow(dead_code)]
pub mod webhooks;
#[allow(dead_code)]
mod write;

#[allow(unused_imports)]
pub use write::{PgWriter, SendFuture, new_uuid};

#[cfg(test)]
mod billing_tests;
#[cfg(test)]
mod conformance;
#[cfg(test)]
mod copy_tests;
#[cfg(test)]
mod donations_tests;
#[cfg(test)]
mod figures_tests;
#[cfg(test)]
pub(crate) mod tests;

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use crate::error::{StoreError, StoreResult};

/// Connections the pool keeps at most. PostgreSQL's default
/// `max_connections` is 100; a few instances of this size fit beside the
/// server's own and an operator's sessions.
const POOL_SIZE: usize = 16;

/// How long a request waits for a pooled connection, or to open one, before
/// the database counts as unavailable.
const WAIT: Duration = Duration::from_secs(10);

/// A pool of connections to one PostgreSQL database.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    /// Kept to open the migration's own session (see [`migrate`]).
    config: tokio_postgres::Config,
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/db`,
    /// or libpq's `key=value` form). Fails at once, with the server's reason,
    /// when it cannot open one connection. Does not migrate: call
    /// [`PgStore::migrate`].
    pub async fn connect(url: &str) -> StoreResult<PgStore> {
        PgStore::connect_config(parse_url(url)?).await
    }

    pub(crate) async fn connect_config(mut config: tokio_postgres::Config) -> StoreResult<PgStore> {
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(WAIT);
        }
        if config.get_application_name().is_none() {
            // Shown in pg_stat_activity, so an operator can tell our sessions.
            config.application_name("masthead");
        }
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(WAIT))
            .create_timeout(Some(WAIT))
            .recycle_timeout(Some(WAIT))
            .build()
            .map_err(|e| StoreError::Other(format!("cannot build the connection pool: {e}")))?;
        let store = PgStore { pool, config };
        store.ping().await?;
        Ok(store)
    }

    /// Applies the migrations this build knows and the database has not
    /// seen, each in its own transaction, under an advisory lock so that
    /// instances starting together take turns. Returns the versions applied.
    pub async fn migrate(&self) -> StoreResult<Vec<i64>> {
        migrate::run(&self.config, migrate::MIGRATIONS).await
    }

    /// The newest migration applied (0 for an empty database).
    pub async fn schema_version(&self) -> StoreResult<i64> {
        let client = self.client().await?;
        migrate::schema_version(&client).await
    }

    /// Newest version this build can migrate to.
    pub fn newest_known_version() -> i64 {
        migrate::MIGRATIONS.last().map_or(0, |m| m.version)
    }

    /// Cheap liveness check.
    pub async fn ping(&self) -> StoreResult<()> {
        self.client().await?.simple_query("SELECT 1").await?;
        Ok(())
    }

    /// Moves every identity sequence in the schema past the largest id in its
    /// table. Rows inserted with explicit ids (an import, `masthead copy`) do
    /// not advance the sequence as SQLite's rowids do; without this the next
    /// insert without an id would collide with them.
    pub async fn resync_id_sequences(&self) -> StoreResult<()> {
        resync_sequences(&self.client().await?).await
    }

    /// A pooled connection.
    /// Refreshes the planner's statistics of the site's tables, after a
    /// bulk write (a seed, an import, a copy). Without them a freshly filled
    /// archive is planned as if empty until autovacuum comes round: the
    /// home page's feed took a bitmap scan and a sort of every post (12 ms
    /// at 2,000 posts) instead of walking `posts_feed` (0.4 ms).
    pub(crate) async fn analyze(&self) -> StoreResult<()> {
        let client = self.client().await?;
        let tables: Vec<String> = client
            .query(
                "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = current_schema()",
                &[],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        if !tables.is_empty() {
            client
                .batch_execute(&format!("ANALYZE {}", tables.join(", ")))
                .await?;
        }
        Ok(())
    }

    /// Keeps a session listening for changes other sessions commit, waking
    /// `notify` (see [`changes::listen`]); runs until aborted.
    pub(crate) fn listen_for_changes(
        &self,
        notify: std::sync::Arc<tokio::sync::Notify>,
    ) -> tokio::task::JoinHandle<()> {
        changes::listen(self.config.clone(), notify)
    }

    /// A pooled connection.
    pub(crate) async fn client(&self) -> StoreResult<deadpool_postgres::Object> {
        Ok(self.pool.get().await?)
    }
}

/// [`PgStore::resync_id_sequences`] on `client`, which may be a transaction
/// (a copy moves the sequences in the transaction that wrote the ids).
pub(crate) async fn resync_sequences(
    client: &impl deadpool_postgres::GenericClient,
) -> StoreResult<()> {
    let columns = client
        .query(
            "SELECT c.relname::text, a.attname::text
               FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
              WHERE c.relnamespace = current_schema()::regnamespace
                AND c.relkind = 'r' AND a.attidentity <> '' AND NOT a.attisdropped",
            &[],
        )
        .await?;
    for row in columns {
        let table: String = row.try_get(0)?;
        let column: String = row.try_get(1)?;
        let sql = format!(
            "SELECT setval(pg_get_serial_sequence($1, $2),
                           COALESCE((SELECT MAX({c}) FROM {t}), 0) + 1, false)",
            t = quote_ident(&table),
            c = quote_ident(&column),
        );
        client
            .execute(&sql, &[&quote_ident(&table), &column])
            .await?;
    }
    Ok(())
}

/// See `crate::testing::dump_tables`.
#[cfg(any(test, feature = "test-support"))]
pub(crate) async fn dump_tables(
    client: &impl deadpool_postgres::GenericClient,
    tables: &[String],
) -> StoreResult<std::collections::BTreeMap<String, Vec<String>>> {
    use crate::testing::{bytes_text, row_text};
    use tokio_postgres::types::Type;
    let mut dump = std::collections::BTreeMap::new();
    for table in tables {
        let stmt = client
            .prepare(&format!("SELECT * FROM {}", quote_ident(table)))
            .await?;
        let mut texts = Vec::new();
        for row in client.query(&stmt, &[]).await? {
            let mut pairs = Vec::with_capacity(row.len());
            for (i, column) in row.columns().iter().enumerate() {
                let ty = column.type_();
                let value = if *ty == Type::INT8 {
                    row.try_get::<_, Option<i64>>(i)?.map(|n| n.to_string())
                } else if *ty == Type::BOOL {
                    row.try_get::<_, Option<bool>>(i)?
                        .map(|b| i64::from(b).to_string())
                } else if *ty == Type::TEXT {
                    row.try_get::<_, Option<String>>(i)?
                        .map(|t| format!("{t:?}"))
                } else if *ty == Type::BYTEA {
                    row.try_get::<_, Option<Vec<u8>>>(i)?
                        .map(|b| bytes_text(&b))
                } else {
                    Some(format!("unexpected type {ty}"))
                };
                pairs.push((
                    column.name().to_owned(),
                    value.unwrap_or_else(|| "NULL".to_owned()),
                ));
            }
            texts.push(row_text(pairs, table));
        }
        texts.sort();
        dump.insert(table.clone(), texts);
    }
    Ok(dump)
}

/// Parses a connection URL; the message never repeats the URL (it may hold a
/// password).
fn parse_url(url: &str) -> StoreResult<tokio_postgres::Config> {
    url.parse::<tokio_postgres::Config>()
        .map_err(|e| StoreError::Invalid(format!("the database URL is not valid: {e}")))
}

/// Where a connection URL points, for messages: `user@host:port/database`,
/// never the password. `None` when the URL does not parse.
pub fn describe_url(url: &str) -> Option<String> {
    use tokio_postgres::config::Host;
    let config = url.parse::<tokio_postgres::Config>().ok()?;
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "localhost".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or("(default user)");
    let db = config.get_dbname().unwrap_or("(default database)");
    Some(format!("{user}@{host}:{port}/{db}"))
}

/// `name` as an SQL identifier, quoted.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
