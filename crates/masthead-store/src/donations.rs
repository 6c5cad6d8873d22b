//! Donations (issue 11, item 5): the [`Store`] operations, each one `match`
//! with a SQLite and a PostgreSQL arm (`sqlite/donations.rs` and its twin
//! `postgres/donations.rs`; migration 0021).

use crate::*;

impl Store {
    /// Records a donation; `Some(id)` when new, `None` when its payment
    /// (`stripe_ref`) was recorded before. A gift from a member's address
    /// is linked to that member even when `member_id` is not given.
    pub async fn record_donation(&self, d: NewDonation) -> StoreResult<Option<i64>> {
        match &*self.backend {
            Backend::Sqlite(db) => Store::lite_write(db, move |w| w.record_donation(&d)).await,
            Backend::Postgres(db) => {
                db.write_send(move |w| Box::pin(async move { w.record_donation(&d).await }))
                    .await
            }
        }
    }

    /// Notes that a donation's thank-you e-mail was sent; false if it had
    /// been noted already.
    pub async fn mark_donation_thanked(&self, id: i64, now_ms: i64) -> StoreResult<bool> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                Store::lite_write(db, move |w| w.mark_donation_thanked(id, now_ms)).await
            }
            Backend::Postgres(db) => {
                db.write_send(move |w| {
                    Box::pin(async move { w.mark_donation_thanked(id, now_ms).await })
                })
                .await
            }
        }
    }

    pub async fn donation(&self, id: i64) -> StoreResult<Option<Donation>> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                self.lite_read(db, move |c| sqlite::donations::donation(c, id))
                    .await
            }
            Backend::Postgres(db) => {
                postgres::donations::donation(&*self.pg_read(db).await?, id).await
            }
        }
    }

    /// The donation paid through a Checkout Session (a one-off gift), for
    /// the thank-you page.
    pub async fn donation_by_session(&self, session_id: String) -> StoreResult<Option<Donation>> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                self.lite_read(db, move |c| {
                    sqlite::donations::donation_by_session(c, &session_id)
                })
                .await
            }
            Backend::Postgres(db) => {
                postgres::donations::donation_by_session(&*self.pg_read(db).await?, &session_id)
                    .await
            }
        }
    }

    /// What was given in `currency` since `since_ms`, in minor units (a
    /// campaign counting donations).
    pub async fn donations_total(&self, currency: String, since_ms: i64) -> StoreResult<i64> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                self.lite_read(db, move |c| {
                    sqlite::donations::donations_total(c, &currency, since_ms)
                })
                .await
            }
            Backend::Postgres(db) => {
                postgres::donations::donations_total(&*self.pg_read(db).await?, &currency, since_ms)
                    .await
            }
        }
    }

    /// A member's donations, newest first (their data export).
    pub async fn member_donations(&self, member_id: i64) -> StoreResult<Vec<Donation>> {
        match &*self.backend {
            Backend::Sqlite(db) => {
                self.lite_read(db, move |c| {
                    sqlite::donations::member_donations(c, member_id)
                })
                .await
            }
            Backend::Postgres(db) => {
                postgres::donations::member_donations(&*self.pg_read(db).await?, member_id).await
            }
        }
    }
}
