//! Checks of a site's database file as it lies on disk, for integration
//! tests that must look beneath the store (a restored backup is a prefix of
//! its source, row by row). Only built with the `test-support` feature.

use std::path::Path;

use crate::error::StoreResult;

/// The ids of `table` in the database file at `path`, ascending.
pub fn file_row_ids(path: &Path, table: &str) -> StoreResult<Vec<i64>> {
    crate::sqlite::file_row_ids(path, table)
}

/// The keys of every media item in the database file at `path`.
pub fn file_media_keys(path: &Path) -> StoreResult<Vec<String>> {
    crate::sqlite::file_media_keys(path)
}
