//! Small helpers the ported operations share: cached statements, and reading
//! `BIGINT` columns into the narrower integers the model uses (tokio-postgres
//! has no `u32`; docs/architecture.md, "PostgreSQL dialect").

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::error::{StoreError, StoreResult};

/// Parameters as tokio-postgres takes them.
pub(crate) type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// Every row of a statement prepared once per connection.
pub(crate) async fn rows(
    c: &impl GenericClient,
    sql: &str,
    params: Params<'_>,
) -> StoreResult<Vec<Row>> {
    let stmt = c.prepare_cached(sql).await?;
    Ok(c.query(&stmt, params).await?)
}

/// The row, if there is one (rusqlite's `.optional()`).
pub(crate) async fn row_opt(
    c: &impl GenericClient,
    sql: &str,
    params: Params<'_>,
) -> StoreResult<Option<Row>> {
    let stmt = c.prepare_cached(sql).await?;
    Ok(c.query_opt(&stmt, params).await?)
}

/// The one row a statement always returns (a count, an `EXISTS`).
pub(crate) async fn row_one(
    c: &impl GenericClient,
    sql: &str,
    params: Params<'_>,
) -> StoreResult<Row> {
    let stmt = c.prepare_cached(sql).await?;
    Ok(c.query_one(&stmt, params).await?)
}

/// Runs a statement; the number of rows it touched.
pub(crate) async fn exec(
    c: &impl GenericClient,
    sql: &str,
    params: Params<'_>,
) -> StoreResult<u64> {
    let stmt = c.prepare_cached(sql).await?;
    Ok(c.execute(&stmt, params).await?)
}

fn out_of_range(i: usize, v: i64) -> StoreError {
    StoreError::Other(format!("column {i} holds {v}, out of range for its type"))
}

/// A `BIGINT` column read as `u32` (as rusqlite refuses out-of-range values, so does this).
pub(crate) fn u32_at(r: &Row, i: usize) -> StoreResult<u32> {
    let v: i64 = r.try_get(i)?;
    u32::try_from(v).map_err(|_| out_of_range(i, v))
}

pub(crate) fn opt_u32_at(r: &Row, i: usize) -> StoreResult<Option<u32>> {
    let v: Option<i64> = r.try_get(i)?;
    v.map(|v| u32::try_from(v).map_err(|_| out_of_range(i, v)))
        .transpose()
}

pub(crate) fn opt_u16_at(r: &Row, i: usize) -> StoreResult<Option<u16>> {
    let v: Option<i64> = r.try_get(i)?;
    v.map(|v| u16::try_from(v).map_err(|_| out_of_range(i, v)))
        .transpose()
}

/// A count, never negative.
pub(crate) fn count_at(r: &Row, i: usize) -> StoreResult<u64> {
    let v: i64 = r.try_get(i)?;
    Ok(v.max(0) as u64)
}

/// Maps a result's rows.
pub(crate) fn map<T>(rows: &[Row], f: impl Fn(&Row) -> StoreResult<T>) -> StoreResult<Vec<T>> {
    rows.iter().map(f).collect()
}
