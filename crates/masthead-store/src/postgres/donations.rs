//! Donations on PostgreSQL: the twin of `sqlite/donations.rs`.

use super::sql::row_opt;
use super::write::PgWriter;
use crate::error::StoreResult;
use crate::model::ChangeTopic;
use masthead_model::billing::NewDonation;

impl PgWriter<'_> {
    pub async fn record_donation(&self, d: &NewDonation) -> StoreResult<Option<i64>> {
        let id: Option<i64> = row_opt(
            self.tx(),
            "INSERT INTO donations (kind, amount, currency, member_id, email, name, stripe_ref,
                 stripe_session_id, stripe_subscription_id, stripe_customer_id, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (stripe_ref) DO NOTHING RETURNING id",
            &[
                &d.kind,
                &d.amount,
                &d.currency,
                &d.member_id,
                &d.email,
                &d.name,
                &d.stripe_ref,
                &d.stripe_session_id,
                &d.stripe_subscription_id,
                &d.stripe_customer_id,
                &d.created_ms,
            ],
        )
        .await?
        .map(|r| r.try_get(0))
        .transpose()?;
        if id.is_some() {
            self.log_change(ChangeTopic::Member, None, d.member_id)
                .await?;
        }
        Ok(id)
    }
}
