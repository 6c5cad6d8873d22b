//! Donations on SQLite; the twin is `postgres/donations.rs`.

use rusqlite::{Connection, OptionalExtension, params};

use super::write::Writer;
use crate::error::StoreResult;
use crate::model::ChangeTopic;
use masthead_model::billing::{Donation, NewDonation};

/// The columns [`donation_row`] reads, in its order.
const DONATION_COLUMNS: &str =
    "id, kind, amount, currency, member_id, email, name, thanked_at IS NOT NULL, created_at";

fn donation_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Donation> {
    Ok(Donation {
        id: r.get(0)?,
        kind: r.get(1)?,
        amount: r.get(2)?,
        currency: r.get(3)?,
        member_id: r.get(4)?,
        email: r.get(5)?,
        name: r.get(6)?,
        thanked: r.get(7)?,
        created_ms: r.get(8)?,
    })
}

pub fn donation(c: &Connection, id: i64) -> StoreResult<Option<Donation>> {
    Ok(c.prepare_cached(&format!(
        "SELECT {DONATION_COLUMNS} FROM donations WHERE id = ?1"
    ))?
    .query_row([id], donation_row)
    .optional()?)
}

/// The donation paid through a Checkout Session (one-off gifts).
pub fn donation_by_session(c: &Connection, session_id: &str) -> StoreResult<Option<Donation>> {
    Ok(c.prepare_cached(&format!(
        "SELECT {DONATION_COLUMNS} FROM donations WHERE stripe_session_id = ?1
             ORDER BY id LIMIT 1"
    ))?
    .query_row([session_id], donation_row)
    .optional()?)
}

/// A member's donations, newest first (their data export).
pub fn member_donations(c: &Connection, member_id: i64) -> StoreResult<Vec<Donation>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {DONATION_COLUMNS} FROM donations WHERE member_id = ?1
             ORDER BY created_at DESC, id DESC"
    ))?;
    let rows = stmt.query_map([member_id], donation_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// The sum given in `currency` since `since_ms`, in minor units.
pub fn donations_total(c: &Connection, currency: &str, since_ms: i64) -> StoreResult<i64> {
    Ok(c.prepare_cached(
        "SELECT COALESCE(SUM(amount), 0) FROM donations WHERE currency = ?1 AND created_at >= ?2",
    )?
    .query_row(params![currency, since_ms], |r| r.get(0))?)
}

impl Writer<'_> {
    pub fn record_donation(&self, d: &NewDonation) -> StoreResult<Option<i64>> {
        // A gift from an address that is a member's is theirs, signed in or not.
        let n = self
            .tx()
            .prepare_cached(
                "INSERT INTO donations (kind, amount, currency, member_id, email, name, stripe_ref,
                     stripe_session_id, stripe_subscription_id, stripe_customer_id, created_at)
                 VALUES (?1, ?2, ?3,
                     COALESCE((SELECT id FROM members WHERE id = ?4),
                              (SELECT id FROM members WHERE email_key = ?12 AND ?12 <> '')),
                     ?5, ?6, ?7, ?8, ?9, ?10, ?11)
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
                d.created_ms,
                d.email.to_ascii_lowercase()
            ])?;
        if n == 0 {
            return Ok(None);
        }
        let id = self.tx().last_insert_rowid();
        // The campaign counter may count donations.
        self.log_change(ChangeTopic::Member, None, d.member_id)?;
        Ok(Some(id))
    }

    /// Notes that the thank-you e-mail went; false if it had been noted.
    pub fn mark_donation_thanked(&self, id: i64, now_ms: i64) -> StoreResult<bool> {
        Ok(self
            .tx()
            .prepare_cached(
                "UPDATE donations SET thanked_at = ?2 WHERE id = ?1 AND thanked_at IS NULL",
            )?
            .execute(params![id, now_ms])?
            == 1)
    }

    /// Erases the address and name kept on a member's donations (their
    /// account is being deleted): the amounts stay, for the accounts.
    pub(crate) fn erase_member_donations(&self, member_id: i64) -> StoreResult<()> {
        self.tx()
            .prepare_cached(
                "UPDATE donations SET email = '', name = '', stripe_customer_id = NULL,
                     stripe_session_id = NULL, stripe_subscription_id = NULL
                 WHERE member_id = ?1
                    OR (email <> '' AND lower(email) = (SELECT email_key FROM members WHERE id = ?1))",
            )?
            .execute([member_id])?;
        Ok(())
    }
}
