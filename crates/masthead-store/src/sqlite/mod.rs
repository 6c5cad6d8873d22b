//! The embedded SQLite backend: one file in WAL mode, one writer, a few readers.
//!
//! Writes go through a single connection behind a mutex (SQLite serialises
//! writers anyway) with `synchronous = FULL`, so a write is on disk before it
//! is acknowledged. Readers take pooled connections and never block the writer.

pub mod api;
pub mod backup;
pub mod billing;
pub mod copy;
pub mod donations;
pub mod editing;
pub mod figures;
pub mod media;
pub mod members;
pub mod queries;
pub mod roster;
pub mod search;
pub mod sends;
pub mod staff;
pub mod taxonomy;
pub mod tiers;
pub mod transfer;
mod units;
pub mod webhooks;
mod write;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags};

pub use write::Writer;

use crate::error::{StoreError, StoreResult};

const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "staff",
        include_str!("../../migrations/sqlite/0002_staff.sql"),
    ),
    (
        3,
        "editing",
        include_str!("../../migrations/sqlite/0003_editing.sql"),
    ),
    (
        4,
        "review",
        include_str!("../../migrations/sqlite/0004_review.sql"),
    ),
    (
        5,
        "media",
        include_str!("../../migrations/sqlite/0005_media.sql"),
    ),
    (
        6,
        "api",
        include_str!("../../migrations/sqlite/0006_api.sql"),
    ),
    (
        7,
        "webhooks",
        include_str!("../../migrations/sqlite/0007_webhooks.sql"),
    ),
    (
        8,
        "scheduled",
        include_str!("../../migrations/sqlite/0008_scheduled.sql"),
    ),
    (
        9,
        "no_triggers",
        include_str!("../../migrations/sqlite/0009_no_triggers.sql"),
    ),
    (
        10,
        "search",
        include_str!("../../migrations/sqlite/0010_search.sql"),
    ),
    (
        11,
        "search_index",
        include_str!("../../migrations/sqlite/0011_search_index.sql"),
    ),
    (
        12,
        "instances",
        include_str!("../../migrations/sqlite/0012_instances.sql"),
    ),
    (
        13,
        "members",
        include_str!("../../migrations/sqlite/0013_members.sql"),
    ),
    (
        14,
        "bouncing",
        include_str!("../../migrations/sqlite/0014_bouncing.sql"),
    ),
    (
        15,
        "email_sends",
        include_str!("../../migrations/sqlite/0015_email_sends.sql"),
    ),
    (
        16,
        "member_labels",
        include_str!("../../migrations/sqlite/0016_member_labels.sql"),
    ),
    (
        17,
        "handed",
        include_str!("../../migrations/sqlite/0017_handed.sql"),
    ),
    (
        18,
        "tiers",
        include_str!("../../migrations/sqlite/0018_tiers.sql"),
    ),
    (
        19,
        "stripe",
        include_str!("../../migrations/sqlite/0019_stripe.sql"),
    ),
    (
        20,
        "paid_fixes",
        include_str!("../../migrations/sqlite/0020_paid_fixes.sql"),
    ),
    (
        21,
        "donations",
        include_str!("../../migrations/sqlite/0021_donations.sql"),
    ),
];

/// The migration that edits `posts`' definition in `sqlite_schema` (its
/// visibility CHECK; see the file's notes). After it the runner bumps
/// `schema_version` by one, as SQLite's documented procedure for such edits
/// asks: the migrating connection then reads the new definition too, not
/// only connections opened later.
const VISIBILITY_MIGRATION: i64 = 18;

/// Most idle reader connections kept open.
const MAX_IDLE_READERS: usize = 16;

pub struct SqliteStore {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave a half-done transaction:
    // rusqlite rolls back on drop. So a poisoned lock is safe to reuse.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub fn open(path: &Path) -> StoreResult<SqliteStore> {
        let writer = open_connection(path, false)?;
        let store = SqliteStore {
            path: path.to_owned(),
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
        };
        store.migrate()?;
        Ok(store)
    }

    #[cfg(test)]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Applies the migrations this build knows and the file has not seen.
    pub fn migrate(&self) -> StoreResult<Vec<i64>> {
        let mut conn = lock(&self.writer);
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
        )?;
        let current: i64 = conn.query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |r| r.get(0),
        )?;
        let newest_known = MIGRATIONS.last().map_or(0, |m| m.0);
        if current > newest_known {
            return Err(StoreError::Unavailable(format!(
                "the database is at schema version {current}, newer than this build of Masthead knows \
                 ({newest_known}); run a newer Masthead"
            )));
        }
        let mut applied = Vec::new();
        for (version, name, sql) in MIGRATIONS {
            if *version <= current {
                continue;
            }
            let tx = conn.transaction()?;
            tx.execute_batch(sql)?;
            if *version == search::INDEX_MIGRATION {
                // The index's text is derived in Rust: fill it for the posts there are.
                search::rebuild_index(&tx)?;
            }
            if *version == VISIBILITY_MIGRATION {
                let v: i64 = tx.query_row("PRAGMA schema_version", [], |r| r.get(0))?;
                tx.execute_batch(&format!("PRAGMA schema_version = {}", v + 1))?;
            }
            tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
                rusqlite::params![version, name, crate::now_ms()],
            )?;
            tx.commit()?;
            applied.push(*version);
        }
        Ok(applied)
    }

    /// Folds the write-ahead log into the database file (after bulk loads).
    pub fn checkpoint(&self) -> StoreResult<()> {
        lock(&self.writer).query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// Runs `f` on a reader connection.
    pub fn read<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let conn = match lock(&self.readers).pop() {
            Some(c) => c,
            None => open_connection(&self.path, true)?,
        };
        let result = f(&conn);
        let mut idle = lock(&self.readers);
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        result
    }

    /// Like [`SqliteStore::write`], but the commit does not wait for the
    /// disk (`synchronous = NORMAL` for this transaction): for bookkeeping
    /// whose loss in a power cut costs nothing, such as counted attempts. A
    /// crash of the process loses nothing either way (the WAL is written);
    /// the next durable commit syncs these too. Anonymous requests that are
    /// only counted must not each cost a disk flush.
    pub fn write_relaxed<T>(
        &self,
        f: impl FnOnce(&Writer<'_>) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let mut conn = lock(&self.writer);
        conn.execute_batch("PRAGMA synchronous = NORMAL")?;
        let result: StoreResult<T> = (|| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let writer = Writer::new(&tx);
            let value = f(&writer)?;
            tx.commit()?;
            Ok(value)
        })();
        let restored = conn.execute_batch("PRAGMA synchronous = FULL");
        let value = result?;
        restored?;
        Ok(value)
    }

    /// Runs `f` in one write transaction: all of it lands, or none of it.
    pub fn write<T>(&self, f: impl FnOnce(&Writer<'_>) -> StoreResult<T>) -> StoreResult<T> {
        let mut conn = lock(&self.writer);
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let writer = Writer::new(&tx);
        let value = f(&writer)?;
        tx.commit()?;
        Ok(value)
    }
}

/// The ids of `table`, ascending, read from the file (for tests).
#[cfg(any(test, feature = "test-support"))]
pub(crate) fn file_row_ids(path: &Path, table: &str) -> StoreResult<Vec<i64>> {
    if !table.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
        return Err(StoreError::Invalid(format!("not a table name: {table:?}")));
    }
    let conn = open_connection(path, true)?;
    let mut stmt = conn.prepare(&format!("SELECT id FROM {table} ORDER BY id"))?;
    Ok(stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?)
}

/// Every media key in the file (for tests).
#[cfg(any(test, feature = "test-support"))]
pub(crate) fn file_media_keys(path: &Path) -> StoreResult<Vec<String>> {
    let conn = open_connection(path, true)?;
    let mut stmt = conn.prepare("SELECT key FROM media")?;
    Ok(stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?)
}

/// See `crate::testing::dump_tables`.
#[cfg(any(test, feature = "test-support"))]
pub(crate) fn dump_tables(
    c: &Connection,
    tables: &[String],
) -> StoreResult<std::collections::BTreeMap<String, Vec<String>>> {
    use crate::testing::{bytes_text, row_text};
    use rusqlite::types::ValueRef;
    let mut dump = std::collections::BTreeMap::new();
    for table in tables {
        let mut stmt = c.prepare(&format!(
            "SELECT * FROM {}",
            crate::copy::quote_ident(table)
        ))?;
        let names: Vec<String> = stmt.column_names().map(str::to_owned).collect();
        let mut rows = stmt.query([])?;
        let mut texts = Vec::new();
        while let Some(row) = rows.next()? {
            let mut pairs = Vec::with_capacity(names.len());
            for (i, name) in names.iter().enumerate() {
                let value = match row.get_ref(i)? {
                    ValueRef::Null => "NULL".to_owned(),
                    ValueRef::Integer(n) => n.to_string(),
                    ValueRef::Real(f) => format!("real {f}"),
                    ValueRef::Text(t) => format!("{:?}", String::from_utf8_lossy(t)),
                    ValueRef::Blob(b) => bytes_text(b),
                };
                pairs.push((name.clone(), value));
            }
            texts.push(row_text(pairs, table));
        }
        texts.sort();
        dump.insert(table.clone(), texts);
    }
    Ok(dump)
}

fn open_connection(path: &Path, read_only: bool) -> StoreResult<Connection> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags)
        .map_err(|e| StoreError::Unavailable(format!("cannot open {}: {e}", path.display())))?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    if !read_only {
        // WAL lets readers run beside the writer; FULL syncs the WAL on every
        // commit, so an acknowledged write survives a power cut.
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Unavailable(format!(
                "{} could not switch to WAL mode (got {mode})",
                path.display()
            )));
        }
    }
    conn.execute_batch(
        "PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -4000;",
    )?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

#[cfg(test)]
pub(crate) mod tests;
