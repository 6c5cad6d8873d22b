//! Donations on PostgreSQL: the twin of `sqlite/donations.rs`.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::sql::{exec, row_one, row_opt, rows};
use super::write::PgWriter;
use crate::error::StoreResult;
use crate::model::ChangeTopic;
use masthead_model::billing::{Donation, NewDonation};

const DONATION_COLUMNS: &str =
    "id, kind, amount, currency, member_id, email, name, thanked_at IS NOT NULL, created_at";

fn donation_row(r: &Row) -> StoreResult<Donation> {
    Ok(Donation {
        id: r.try_get(0)?,
        kind: r.try_get(1)?,
        amount: r.try_get(2)?,
        currency: r.try_get(3)?,
        member_id: r.try_get(4)?,
        email: r.try_get(5)?,
        name: r.try_get(6)?,
        thanked: r.try_get(7)?,
        created_ms: r.try_get(8)?,
    })
}

pub async fn donation(c: &impl GenericClient, id: i64) -> StoreResult<Option<Donation>> {
    row_opt(
        c,
        &format!("SELECT {DONATION_COLUMNS} FROM donations WHERE id = $1"),
        &[&id],
    )
    .await?
    .map(|r| donation_row(&r))
    .transpose()
}

pub async fn donation_by_session(
    c: &impl GenericClient,
    session_id: &str,
) -> StoreResult<Option<Donation>> {
    row_opt(
        c,
        &format!(
            "SELECT {DONATION_COLUMNS} FROM donations WHERE stripe_session_id = $1
             ORDER BY id LIMIT 1"
        ),
        &[&session_id],
    )
    .await?
    .map(|r| donation_row(&r))
    .transpose()
}

pub async fn member_donations(
    c: &impl GenericClient,
    member_id: i64,
) -> StoreResult<Vec<Donation>> {
    rows(
        c,
        &format!(
            "SELECT {DONATION_COLUMNS} FROM donations WHERE member_id = $1
             ORDER BY created_at DESC, id DESC"
        ),
        &[&member_id],
    )
    .await?
    .iter()
    .map(donation_row)
    .collect()
}

pub async fn donations_total(
    c: &impl GenericClient,
    currency: &str,
    since_ms: i64,
) -> StoreResult<i64> {
    // SUM of BIGINT is NUMERIC in PostgreSQL: cast back.
    Ok(row_one(
        c,
        "SELECT COALESCE(SUM(amount), 0)::BIGINT FROM donations
         WHERE currency = $1 AND created_at >= $2",
        &[&currency, &since_ms],
    )
    .await?
    .try_get(0)?)
}

impl PgWriter<'_> {
    pub async fn record_donation(&self, d: &NewDonation) -> StoreResult<Option<i64>> {
        let id: Option<i64> = row_opt(
            self.tx(),
            "INSERT INTO donations (kind, amount, currency, member_id, email, name, stripe_ref,
                 stripe_session_id, stripe_subscription_id, stripe_customer_id, created_at)
             VALUES ($1, $2, $3,
                 COALESCE((SELECT id FROM members WHERE id = $4),
                          (SELECT id FROM members WHERE email_key = $12 AND $12 <> '')),
                 $5, $6, $7, $8, $9, $10, $11)
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
                &d.email.to_ascii_lowercase(),
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

    pub async fn mark_donation_thanked(&self, id: i64, now_ms: i64) -> StoreResult<bool> {
        Ok(exec(
            self.tx(),
            "UPDATE donations SET thanked_at = $2 WHERE id = $1 AND thanked_at IS NULL",
            &[&id, &now_ms],
        )
        .await?
            == 1)
    }

    pub(crate) async fn erase_member_donations(&self, member_id: i64) -> StoreResult<()> {
        exec(
            self.tx(),
            "UPDATE donations SET email = '', name = '', stripe_customer_id = NULL,
                 stripe_session_id = NULL, stripe_subscription_id = NULL
             WHERE member_id = $1
                OR (email <> '' AND lower(email) = (SELECT email_key FROM members WHERE id = $1))",
            &[&member_id],
        )
        .await?;
        Ok(())
    }
}
