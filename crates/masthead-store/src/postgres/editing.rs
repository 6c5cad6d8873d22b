//! The editor's writes: the PostgreSQL mirror of `sqlite/editing.rs`.

use deadpool_postgres::GenericClient;

use super::sql::{map, rows};
use crate::error::StoreResult;

/// Corrections and update notes of a post, oldest first.
pub async fn post_notes(
    c: &impl GenericClient,
    post_id: i64,
) -> StoreResult<Vec<crate::model::PostNote>> {
    let found = rows(
        c,
        "SELECT kind, noted_at, note FROM post_notes WHERE post_id = $1 ORDER BY noted_at, id",
        &[&post_id],
    )
    .await?;
    map(&found, |r| {
        Ok(crate::model::PostNote {
            kind: r.try_get(0)?,
            noted_ms: r.try_get(1)?,
            note: r.try_get(2)?,
        })
    })
}
