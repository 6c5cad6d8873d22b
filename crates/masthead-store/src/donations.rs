//! Donations (issue 11, item 5): the [`Store`] operations, each one `match`
//! with a SQLite and a PostgreSQL arm (`sqlite/donations.rs` and its twin
//! `postgres/donations.rs`; migration 0021).

use crate::*;

impl Store {
    /// Records a donation; `Some(id)` when new, `None` when its payment
    /// (`stripe_ref`) was recorded before.
    pub async fn record_donation(&self, d: NewDonation) -> StoreResult<Option<i64>> {
        match &*self.backend {
            Backend::Sqlite(db) => Store::lite_write(db, move |w| w.record_donation(&d)).await,
            Backend::Postgres(db) => {
                db.write_send(move |w| Box::pin(async move { w.record_donation(&d).await }))
                    .await
            }
        }
    }
}
