//! Newsletter sends on PostgreSQL: the twin of `sqlite/sends.rs` (read its
//! notes). Claims lock their recipients `FOR UPDATE SKIP LOCKED`, so
//! instances claiming at once take different recipients.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::sql::{count_at, exec, map, row_one, row_opt, rows, u32_at};
use super::write::PgWriter;
use crate::error::{StoreError, StoreResult};
use crate::lease::{self, Dialect, LeasedQueue};
use crate::sqlite::sends::{SUMMARY_COLUMNS, SUMMARY_FROM, segment_condition};
use masthead_model::sends::*;

const RECIPIENTS: LeasedQueue = LeasedQueue {
    table: "email_recipients",
    running: "sending",
    due: "next_attempt_at",
    dialect: Dialect::Postgres,
};

fn summary_from_row(r: &Row) -> StoreResult<SendSummary> {
    Ok(SendSummary {
        id: r.try_get(0)?,
        post_id: r.try_get(1)?,
        post_title: r.try_get(2)?,
        newsletter_id: r.try_get(3)?,
        newsletter_name: r.try_get(4)?,
        segment: r.try_get(5)?,
        status: r.try_get(6)?,
        subject: r.try_get(7)?,
        recipients: count_at(r, 8)?,
        queued: count_at(r, 9)?,
        sent: count_at(r, 10)?,
        failed: count_at(r, 11)?,
        created_by: r.try_get(12)?,
        created_ms: r.try_get(13)?,
        started_ms: r.try_get(14)?,
        finished_ms: r.try_get(15)?,
    })
}

/// `?n` placeholders (shared SQL text) as `$n`.
fn dollars(sql: &str) -> String {
    sql.replace('?', "$")
}

pub async fn sends(
    c: &impl GenericClient,
    post_id: Option<i64>,
    limit: u32,
) -> StoreResult<Vec<SendSummary>> {
    let found = rows(
        c,
        &format!(
            "SELECT {SUMMARY_COLUMNS} FROM {SUMMARY_FROM}
             WHERE $1::BIGINT IS NULL OR s.post_id = $1
             ORDER BY s.created_at DESC, s.id DESC LIMIT $2"
        ),
        &[&post_id, &i64::from(limit)],
    )
    .await?;
    map(&found, summary_from_row)
}

pub async fn send(c: &impl GenericClient, id: i64) -> StoreResult<Option<SendSummary>> {
    row_opt(
        c,
        &format!("SELECT {SUMMARY_COLUMNS} FROM {SUMMARY_FROM} WHERE s.id = $1"),
        &[&id],
    )
    .await?
    .map(|r| summary_from_row(&r))
    .transpose()
}

pub async fn unsubscribed_since(c: &impl GenericClient, send_id: i64) -> StoreResult<u64> {
    let r = row_one(
        c,
        "SELECT count(*) FROM email_recipients r JOIN email_sends s ON s.id = r.send_id
         WHERE r.send_id = $1 AND NOT EXISTS (
             SELECT 1 FROM member_newsletters mn
             WHERE mn.member_id = r.member_id AND mn.newsletter_id = s.newsletter_id)",
        &[&send_id],
    )
    .await?;
    count_at(&r, 0)
}

pub async fn member_emails(
    c: &impl GenericClient,
    member_id: i64,
    limit: u32,
) -> StoreResult<Vec<MemberEmail>> {
    let found = rows(
        c,
        "SELECT r.send_id, s.subject, r.status, COALESCE(r.sent_at, s.created_at)
         FROM email_recipients r JOIN email_sends s ON s.id = r.send_id
         WHERE r.member_id = $1 ORDER BY r.send_id DESC LIMIT $2",
        &[&member_id, &i64::from(limit)],
    )
    .await?;
    map(&found, |r| {
        Ok(MemberEmail {
            send_id: r.try_get(0)?,
            subject: r.try_get(1)?,
            status: r.try_get(2)?,
            at_ms: r.try_get(3)?,
        })
    })
}

pub async fn send_recipients(
    c: &impl GenericClient,
    send_id: i64,
    status: Option<String>,
    after: i64,
    limit: u32,
) -> StoreResult<Vec<RecipientRow>> {
    let found = rows(
        c,
        "SELECT id, member_id, email, status, attempts, reply, sent_at FROM email_recipients
         WHERE send_id = $1 AND id > $2 AND ($3::TEXT IS NULL OR status = $3)
         ORDER BY id LIMIT $4",
        &[&send_id, &after, &status, &i64::from(limit)],
    )
    .await?;
    map(&found, |r| {
        Ok(RecipientRow {
            id: r.try_get(0)?,
            member_id: r.try_get(1)?,
            email: r.try_get(2)?,
            status: r.try_get(3)?,
            attempts: u32_at(r, 4)?,
            reply: r.try_get(5)?,
            sent_ms: r.try_get(6)?,
        })
    })
}

impl PgWriter<'_> {
    pub async fn create_send(&self, new: &NewSend) -> StoreResult<SendCreated> {
        // Checked first, so a refused send uses up no id (as on SQLite);
        // the ON CONFLICT covers two creating it at once.
        let exists = row_opt(
            self.tx(),
            "SELECT id FROM email_sends WHERE post_id = $1 AND newsletter_id = $2",
            &[&new.post_id, &new.newsletter_id],
        )
        .await?;
        let inserted = match exists {
            Some(_) => None,
            None => row_opt(
            self.tx(),
            "INSERT INTO email_sends (post_id, newsletter_id, segment, subject, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (post_id, newsletter_id) DO NOTHING RETURNING id",
            &[
                &new.post_id,
                &new.newsletter_id,
                &new.segment.as_str(),
                &new.subject,
                &new.created_by,
                &new.now_ms,
            ],
        )
        .await?,
        };
        let Some(row) = inserted else {
            return Err(StoreError::Conflict(
                "this post has already been sent to that newsletter".into(),
            ));
        };
        let id: i64 = row.try_get(0)?;
        let n = exec(
            self.tx(),
            &dollars(&format!(
                "INSERT INTO email_recipients (send_id, member_id, email, name, next_attempt_at)
                 SELECT ?1, m.id, m.email, m.name, ?3 FROM member_newsletters mn
                 JOIN members m ON m.id = mn.member_id
                 WHERE mn.newsletter_id = ?2 AND NOT m.email_disabled {segment}
                 ORDER BY m.id",
                segment = segment_condition(new.segment)
            )),
            &[&id, &new.newsletter_id, &new.now_ms],
        )
        .await?;
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        exec(
            self.tx(),
            "UPDATE email_sends SET recipients = $2::BIGINT,
                 status = CASE WHEN $2::BIGINT = 0 THEN 'sent' ELSE 'sending' END,
                 finished_at = CASE WHEN $2 = 0 THEN $3::BIGINT END
             WHERE id = $1",
            &[&id, &n, &new.now_ms],
        )
        .await?;
        Ok(SendCreated {
            id,
            recipients: n as u64,
        })
    }

    pub async fn claim_recipients(
        &self,
        now: i64,
        limit: u32,
        lease_ms: i64,
    ) -> StoreResult<RecipientClaim> {
        let token = lease::new_token()?;
        // Handed over by a worker that then died: sent (see `mark_handed`).
        exec(
            self.tx(),
            &format!(
                "UPDATE email_recipients SET status = 'sent', sent_at = handed_at,
                     reply = '{HANDED_REPLY}', handed_at = NULL, {cleared}
                 WHERE id IN (SELECT r.id FROM email_recipients r
                              WHERE (r.status = 'pending' OR r.status = 'sending')
                                AND r.handed_at IS NOT NULL AND {claimable}
                              FOR UPDATE SKIP LOCKED)",
                cleared = RECIPIENTS.cleared(),
                claimable = RECIPIENTS.claimable("r", "$1"),
            ),
            &[&now],
        )
        .await?;
        let found = rows(
            self.tx(),
            &format!(
                "SELECT r.id FROM email_recipients r
                 WHERE (r.status = 'pending' OR r.status = 'sending') AND {claimable}
                 ORDER BY r.next_attempt_at, r.id LIMIT $2
                 FOR UPDATE SKIP LOCKED",
                claimable = RECIPIENTS.claimable("r", "$1"),
            ),
            &[&now, &i64::from(limit)],
        )
        .await?;
        let ids = map(&found, |r| Ok(r.try_get::<_, i64>(0)?))?;
        if ids.is_empty() {
            return Ok(RecipientClaim {
                token,
                recipients: Vec::new(),
            });
        }
        let taken = rows(
            self.tx(),
            &format!(
                "UPDATE email_recipients SET {take} WHERE id = ANY($4)
                 RETURNING id, send_id, member_id, email, name, attempts, next_attempt_at,
                     (SELECT m.status FROM members m WHERE m.id = email_recipients.member_id),
                     (SELECT m.tier_id FROM members m WHERE m.id = email_recipients.member_id),
                     (SELECT m.comp_expires_at FROM members m
                      WHERE m.id = email_recipients.member_id)",
                take = RECIPIENTS.take("$1", "$2", "$3"),
            ),
            &[&lease::owner(), &token, &lease_ms, &ids],
        )
        .await?;
        let mut recipients = map(&taken, |r| {
            Ok((
                r.try_get::<_, i64>(6)?,
                ClaimedRecipient {
                    id: r.try_get(0)?,
                    send_id: r.try_get(1)?,
                    member_id: r.try_get(2)?,
                    email: r.try_get(3)?,
                    name: r.try_get(4)?,
                    attempts: u32_at(r, 5)?,
                    reader: crate::sending::reader_of(
                        r.try_get::<_, Option<String>>(7)?.as_deref(),
                        r.try_get(8)?,
                        r.try_get(9)?,
                        now,
                    ),
                },
            ))
        })?;
        // RETURNING has no order; claims are worked oldest first.
        recipients.sort_by_key(|(due, r)| (*due, r.id));
        let recipients: Vec<ClaimedRecipient> = recipients.into_iter().map(|(_, r)| r).collect();
        let mut sends: Vec<i64> = recipients.iter().map(|r| r.send_id).collect();
        sends.sort_unstable();
        sends.dedup();
        exec(
            self.tx(),
            "UPDATE email_sends SET started_at = $2 WHERE id = ANY($1) AND started_at IS NULL",
            &[&sends, &now],
        )
        .await?;
        Ok(RecipientClaim { token, recipients })
    }

    pub async fn mark_handed(&self, id: i64, token: &str, now: i64) -> StoreResult<bool> {
        let n = exec(
            self.tx(),
            &format!(
                "UPDATE email_recipients SET handed_at = $3 WHERE id = $1 AND {held}",
                held = RECIPIENTS.held("$2"),
            ),
            &[&id, &token, &now],
        )
        .await?;
        Ok(n == 1)
    }

    pub async fn record_recipient(
        &self,
        id: i64,
        token: &str,
        outcome: &RecipientOutcome,
        now: i64,
    ) -> StoreResult<bool> {
        let (status, reply, next, sent_at, failed_try, bounce) = match outcome {
            RecipientOutcome::Sent { reply } => ("sent", reply, now, Some(now), 0_i64, false),
            RecipientOutcome::Retry { reply, at_ms } => ("pending", reply, *at_ms, None, 1, false),
            RecipientOutcome::Failed { reply, bounce } => ("failed", reply, now, None, 1, *bounce),
        };
        let n = exec(
            self.tx(),
            &format!(
                "UPDATE email_recipients SET status = $2, reply = $3, next_attempt_at = $4,
                     sent_at = $5, attempts = attempts + $6, handed_at = NULL, {cleared}
                 WHERE id = $1 AND {held}",
                cleared = RECIPIENTS.cleared(),
                held = RECIPIENTS.held("$7"),
            ),
            &[&id, &status, reply, &next, &sent_at, &failed_try, &token],
        )
        .await?;
        if n == 1 && bounce {
            exec(
                self.tx(),
                "UPDATE members SET email_disabled = TRUE
                 WHERE id = (SELECT member_id FROM email_recipients WHERE id = $1)",
                &[&id],
            )
            .await?;
        }
        Ok(n == 1)
    }

    pub async fn release_recipients(&self, token: &str) -> StoreResult<usize> {
        let n = exec(self.tx(), &RECIPIENTS.release_sql("$1"), &[&token]).await?;
        Ok(n as usize)
    }

    pub async fn finish_sends(&self, now: i64) -> StoreResult<usize> {
        let n = exec(
            self.tx(),
            "UPDATE email_sends SET status = 'sent', finished_at = $1
             WHERE status = 'sending' AND NOT EXISTS (
                 SELECT 1 FROM email_recipients r
                 WHERE r.send_id = email_sends.id AND r.status IN ('pending', 'sending'))",
            &[&now],
        )
        .await?;
        Ok(n as usize)
    }

    /// The setting `key`, stored as `candidate` if it was unset (one value
    /// for every instance, whoever comes first).
    pub async fn setting_or_insert(&self, key: &str, candidate: &str) -> StoreResult<String> {
        exec(
            self.tx(),
            "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
            &[&key, &candidate],
        )
        .await?;
        let r = row_one(
            self.tx(),
            "SELECT value FROM settings WHERE key = $1",
            &[&key],
        )
        .await?;
        Ok(r.try_get(0)?)
    }

    pub async fn unsubscribe_member(
        &self,
        member_id: i64,
        newsletter_id: i64,
    ) -> StoreResult<bool> {
        let n = exec(
            self.tx(),
            "DELETE FROM member_newsletters WHERE member_id = $1 AND newsletter_id = $2",
            &[&member_id, &newsletter_id],
        )
        .await?;
        Ok(n == 1)
    }
}
