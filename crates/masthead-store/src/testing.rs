//! Checks beneath the store, for tests: a site's database file as it lies
//! on disk (a restored backup is a prefix of its source, row by row), and
//! every row of a site's tables in either backend (a copy between
//! databases must carry every one). Built with the `test-support` feature.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::StoreResult;
use crate::{Backend, Store};

/// The ids of `table` in the database file at `path`, ascending.
pub fn file_row_ids(path: &Path, table: &str) -> StoreResult<Vec<i64>> {
    crate::sqlite::file_row_ids(path, table)
}

/// The keys of every media item in the database file at `path`.
pub fn file_media_keys(path: &Path) -> StoreResult<Vec<String>> {
    crate::sqlite::file_media_keys(path)
}

/// The tables `masthead copy` carries over, in the order it writes them.
pub fn copied_tables() -> Vec<&'static str> {
    crate::copy::TABLES
        .iter()
        .filter(|(_, t)| {
            matches!(
                t,
                crate::copy::Treatment::Copied | crate::copy::Treatment::Defaulted
            )
        })
        .map(|(name, _)| *name)
        .collect()
}

/// Every row of each of `tables`, read with `SELECT *` (not with the
/// copy's own code, so a column it forgot would show), each row as
/// `column=value` pairs in column-name order, the rows sorted. Values are
/// written alike on both backends: integers and 0/1 flags as numbers
/// (PostgreSQL's booleans as 0 and 1), text quoted, bytes as `x'…'`.
/// Columns only one dialect derives (the copy's `DERIVED_COLUMNS`) are left
/// out.
pub async fn dump_tables(
    store: &Store,
    tables: &[&str],
) -> StoreResult<BTreeMap<String, Vec<String>>> {
    let tables: Vec<String> = tables.iter().map(|t| (*t).to_owned()).collect();
    match &*store.backend {
        Backend::Sqlite(db) => {
            store
                .lite_read(db, move |c| crate::sqlite::dump_tables(c, &tables))
                .await
        }
        Backend::Postgres(db) => {
            crate::postgres::dump_tables(&*store.pg_read(db).await?, &tables).await
        }
    }
}

/// [`dump_tables`] of every table a copy carries over.
pub async fn dump_site(store: &Store) -> StoreResult<BTreeMap<String, Vec<String>>> {
    dump_tables(store, &copied_tables()).await
}

/// One row as text: `column=value` pairs sorted by column.
pub(crate) fn row_text(mut pairs: Vec<(String, String)>, table: &str) -> String {
    pairs.retain(|(column, _)| !crate::copy::DERIVED_COLUMNS.contains(&(table, column.as_str())));
    pairs.sort();
    pairs
        .into_iter()
        .map(|(c, v)| format!("{c}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

pub(crate) fn bytes_text(b: &[u8]) -> String {
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("x'{hex}'")
}
