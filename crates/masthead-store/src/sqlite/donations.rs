//! Donations on SQLite; the twin is `postgres/donations.rs`.

use rusqlite::params;

use super::write::Writer;
use crate::error::StoreResult;
use crate::model::ChangeTopic;
use masthead_model::billing::NewDonation;

impl Writer<'_> {
    pub fn record_donation(&self, d: &NewDonation) -> StoreResult<Option<i64>> {
        let n = self
            .tx()
            .prepare_cached(
                "INSERT INTO donations (kind, amount, currency, member_id, email, name, stripe_ref,
                     stripe_session_id, stripe_subscription_id, stripe_customer_id, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 ON CONFLICT (stripe_ref) DO NOTHING",
            )?
            .execute(params![
                d.kind,
                d.amount,
                d.currency,
                d.member_id,
                d.email,
                d.name,
                d.stripe_ref,
                d.stripe_session_id,
                d.stripe_subscription_id,
                d.stripe_customer_id,
                d.created_ms
            ])?;
        if n == 0 {
            return Ok(None);
        }
        let id = self.tx().last_insert_rowid();
        // The campaign counter may count donations.
        self.log_change(ChangeTopic::Member, None, d.member_id)?;
        Ok(Some(id))
    }
}
