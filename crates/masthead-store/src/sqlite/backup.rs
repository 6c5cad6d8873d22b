//! Online snapshots of the database, and the checks a snapshot must pass
//! before it becomes a site's database again.
//!
//! A snapshot is taken with `VACUUM INTO` on a connection of its own: it reads
//! one consistent state in a single read transaction (WAL mode lets the writer
//! carry on meanwhile) and writes a compact copy that needs no `-wal` file.

use std::path::Path;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::{MIGRATIONS, SqliteStore, open_connection};
use crate::error::{StoreError, StoreResult};
pub(crate) use masthead_model::backup::*;

impl SqliteStore {
    /// Writes a consistent copy of the database to `dest` (which must not
    /// exist yet) while the site keeps reading and writing, and syncs it.
    /// Every write committed before the call is in the copy; none committed
    /// after it starts is.
    pub fn backup_to(&self, dest: &Path) -> StoreResult<()> {
        let target = dest
            .to_str()
            .ok_or_else(|| StoreError::Other(format!("{} is not a UTF-8 path", dest.display())))?;
        if dest.exists() {
            return Err(StoreError::Conflict(format!(
                "{} already exists",
                dest.display()
            )));
        }
        // A connection of its own: a long backup must not hold a pooled reader.
        let conn = open_connection(&self.path, true)?;
        conn.execute("VACUUM INTO ?1", [target])?;
        std::fs::File::open(dest)
            .and_then(|f| f.sync_all())
            .map_err(|e| StoreError::Other(format!("cannot sync {}: {e}", dest.display())))?;
        Ok(())
    }
}

/// Checks a database file before it is put in place: SQLite's own
/// `integrity_check` must say `ok`, and its schema must be one this build
/// knows (older is fine: opening it migrates it forward).
pub fn check_snapshot(path: &Path) -> StoreResult<SnapshotInfo> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| StoreError::Unavailable(format!("cannot open {}: {e}", path.display())))?;
    let problems = {
        let mut stmt = conn.prepare("PRAGMA integrity_check")?;
        stmt.query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StoreError::Other(format!("{} is not a database: {e}", path.display())))?
    };
    if problems != ["ok"] {
        let shown: Vec<&str> = problems.iter().take(5).map(String::as_str).collect();
        return Err(StoreError::Other(format!(
            "{} fails SQLite's integrity check: {}",
            path.display(),
            shown.join("; ")
        )));
    }
    let has_table = |name: &str| -> StoreResult<bool> {
        Ok(conn
            .query_row(
                "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1",
                [name],
                |r| r.get::<_, i64>(0),
            )
            .optional()?
            .is_some())
    };
    if !has_table("schema_migrations")? {
        return Err(StoreError::Other(format!(
            "{} is not a Masthead database (it has no schema_migrations table)",
            path.display()
        )));
    }
    let schema_version: i64 = conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )?;
    let newest_known = MIGRATIONS.last().map_or(0, |m| m.0);
    if schema_version > newest_known {
        return Err(StoreError::Unavailable(format!(
            "{} is at schema version {schema_version}, newer than this build of Masthead knows \
             ({newest_known}); restore it with a newer Masthead",
            path.display()
        )));
    }
    // The media library came with migration 5.
    let media_keys = if has_table("media")? {
        let mut stmt = conn.prepare("SELECT key FROM media ORDER BY id")?;
        stmt.query_map([], |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?
    } else {
        Vec::new()
    };
    let count = |table: &str| -> StoreResult<u64> {
        Ok(
            conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| {
                r.get::<_, i64>(0)
            })? as u64,
        )
    };
    Ok(SnapshotInfo {
        schema_version,
        media_keys,
        posts: count("posts")?,
        members: count("members")?,
    })
}
