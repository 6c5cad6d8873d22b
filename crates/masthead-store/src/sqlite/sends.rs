//! Newsletter sends and their recipients, a leased queue (see `lease.rs`
//! and migration 0015). The PostgreSQL twin is `postgres/sends.rs`; the
//! conformance suite runs both.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::write::Writer;
use crate::error::{StoreError, StoreResult};
use crate::lease::{self, Dialect, LeasedQueue};
use masthead_model::sends::*;

/// Recipients are a leased queue: 'sending' while a worker holds them.
const RECIPIENTS: LeasedQueue = LeasedQueue {
    table: "email_recipients",
    running: "sending",
    due: "next_attempt_at",
    dialect: Dialect::Sqlite,
};

/// The members a send in `segment` goes to (parameter `?1`: the newsletter).
pub(crate) fn segment_condition(segment: Segment) -> &'static str {
    match segment {
        Segment::All => "",
        Segment::Free => "AND m.status = 'free'",
        Segment::Paid => "AND m.status IN ('paid', 'comped')",
    }
}

pub(crate) const SUMMARY_COLUMNS: &str = "s.id, s.post_id, p.title, s.newsletter_id, n.name, \
     s.segment, s.status, s.subject, s.recipients, \
     (SELECT count(*) FROM email_recipients r WHERE r.send_id = s.id AND r.status IN ('pending', 'sending')), \
     (SELECT count(*) FROM email_recipients r WHERE r.send_id = s.id AND r.status = 'sent'), \
     (SELECT count(*) FROM email_recipients r WHERE r.send_id = s.id AND r.status = 'failed'), \
     u.name, s.created_at, s.started_at, s.finished_at";

pub(crate) const SUMMARY_FROM: &str = "email_sends s JOIN posts p ON p.id = s.post_id \
     JOIN newsletters n ON n.id = s.newsletter_id \
     LEFT JOIN staff_users u ON u.id = s.created_by";

fn summary_from_row(r: &Row<'_>) -> rusqlite::Result<SendSummary> {
    Ok(SendSummary {
        id: r.get(0)?,
        post_id: r.get(1)?,
        post_title: r.get(2)?,
        newsletter_id: r.get(3)?,
        newsletter_name: r.get(4)?,
        segment: r.get(5)?,
        status: r.get(6)?,
        subject: r.get(7)?,
        recipients: r.get::<_, i64>(8)?.max(0) as u64,
        queued: r.get::<_, i64>(9)?.max(0) as u64,
        sent: r.get::<_, i64>(10)?.max(0) as u64,
        failed: r.get::<_, i64>(11)?.max(0) as u64,
        created_by: r.get(12)?,
        created_ms: r.get(13)?,
        started_ms: r.get(14)?,
        finished_ms: r.get(15)?,
    })
}

/// The newest sends, or those of one post.
pub fn sends(c: &Connection, post_id: Option<i64>, limit: u32) -> StoreResult<Vec<SendSummary>> {
    Ok(c.prepare_cached(&format!(
        "SELECT {SUMMARY_COLUMNS} FROM {SUMMARY_FROM}
         WHERE ?1 IS NULL OR s.post_id = ?1
         ORDER BY s.created_at DESC, s.id DESC LIMIT ?2"
    ))?
    .query_map(params![post_id, limit], summary_from_row)?
    .collect::<Result<_, _>>()?)
}

pub fn send(c: &Connection, id: i64) -> StoreResult<Option<SendSummary>> {
    Ok(c.prepare_cached(&format!(
        "SELECT {SUMMARY_COLUMNS} FROM {SUMMARY_FROM} WHERE s.id = ?1"
    ))?
    .query_row([id], summary_from_row)
    .optional()?)
}

/// Recipients of a send who are no longer subscribed to its newsletter.
pub fn unsubscribed_since(c: &Connection, send_id: i64) -> StoreResult<u64> {
    Ok(c.prepare_cached(
        "SELECT count(*) FROM email_recipients r JOIN email_sends s ON s.id = r.send_id
         WHERE r.send_id = ?1 AND NOT EXISTS (
             SELECT 1 FROM member_newsletters mn
             WHERE mn.member_id = r.member_id AND mn.newsletter_id = s.newsletter_id)",
    )?
    .query_row([send_id], |r| r.get::<_, i64>(0))?
    .max(0) as u64)
}

/// A member's newsletter e-mails, newest send first.
pub fn member_emails(c: &Connection, member_id: i64, limit: u32) -> StoreResult<Vec<MemberEmail>> {
    Ok(c.prepare_cached(
        "SELECT r.send_id, s.subject, r.status, COALESCE(r.sent_at, s.created_at)
         FROM email_recipients r JOIN email_sends s ON s.id = r.send_id
         WHERE r.member_id = ?1 ORDER BY r.send_id DESC LIMIT ?2",
    )?
    .query_map(params![member_id, limit], |r| {
        Ok(MemberEmail {
            send_id: r.get(0)?,
            subject: r.get(1)?,
            status: r.get(2)?,
            at_ms: r.get(3)?,
        })
    })?
    .collect::<Result<_, _>>()?)
}

/// A page of a send's recipients (`status` narrows it), by id after `after`.
pub fn send_recipients(
    c: &Connection,
    send_id: i64,
    status: Option<String>,
    after: i64,
    limit: u32,
) -> StoreResult<Vec<RecipientRow>> {
    Ok(c.prepare_cached(
        "SELECT id, member_id, email, status, attempts, reply, sent_at FROM email_recipients
         WHERE send_id = ?1 AND id > ?2 AND (?3 IS NULL OR status = ?3)
         ORDER BY id LIMIT ?4",
    )?
    .query_map(params![send_id, after, status, limit], |r| {
        Ok(RecipientRow {
            id: r.get(0)?,
            member_id: r.get(1)?,
            email: r.get(2)?,
            status: r.get(3)?,
            attempts: r.get(4)?,
            reply: r.get(5)?,
            sent_ms: r.get(6)?,
        })
    })?
    .collect::<Result<_, _>>()?)
}

impl Writer<'_> {
    /// Creates a send and snapshots its recipients: the members subscribed
    /// to the newsletter, in the segment, not bouncing. `Conflict` when the
    /// post was already sent to that newsletter.
    pub fn create_send(&self, new: &NewSend) -> StoreResult<SendCreated> {
        let exists: Option<i64> = self
            .tx()
            .prepare_cached("SELECT id FROM email_sends WHERE post_id = ?1 AND newsletter_id = ?2")?
            .query_row([new.post_id, new.newsletter_id], |r| r.get(0))
            .optional()?;
        if exists.is_some() {
            return Err(StoreError::Conflict(
                "this post has already been sent to that newsletter".into(),
            ));
        }
        self.tx().execute(
            "INSERT INTO email_sends (post_id, newsletter_id, segment, subject, created_by, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                new.post_id,
                new.newsletter_id,
                new.segment.as_str(),
                new.subject,
                new.created_by,
                new.now_ms
            ],
        )?;
        let id = self.tx().last_insert_rowid();
        let n = self.tx().execute(
            &format!(
                "INSERT INTO email_recipients (send_id, member_id, email, name, next_attempt_at)
                 SELECT ?1, m.id, m.email, m.name, ?3 FROM member_newsletters mn
                 JOIN members m ON m.id = mn.member_id
                 WHERE mn.newsletter_id = ?2 AND m.email_disabled = 0 {segment}
                 ORDER BY m.id",
                segment = segment_condition(new.segment)
            ),
            params![id, new.newsletter_id, new.now_ms],
        )?;
        self.tx().execute(
            "UPDATE email_sends SET recipients = ?2, status = CASE WHEN ?2 = 0 THEN 'sent' ELSE 'sending' END,
                 finished_at = CASE WHEN ?2 = 0 THEN ?3 END
             WHERE id = ?1",
            params![id, n as i64, new.now_ms],
        )?;
        Ok(SendCreated {
            id,
            recipients: n as u64,
        })
    }

    /// Takes up to `limit` recipients that are due (or whose worker's lease
    /// has ended), oldest first, under one new lease of `lease_ms`.
    pub fn claim_recipients(
        &self,
        now: i64,
        limit: u32,
        lease_ms: i64,
    ) -> StoreResult<RecipientClaim> {
        let token = lease::new_token()?;
        // Messages handed over by a worker that then died: the relay has
        // them (see `mark_handed`); sent, not sent again.
        self.tx()
            .prepare_cached(&format!(
                "UPDATE email_recipients SET status = 'sent', sent_at = handed_at,
                     reply = '{HANDED_REPLY}', handed_at = NULL, {cleared}
                 WHERE id IN (SELECT r.id FROM email_recipients r
                              WHERE (r.status = 'pending' OR r.status = 'sending')
                                AND r.handed_at IS NOT NULL AND {claimable})",
                cleared = RECIPIENTS.cleared(),
                claimable = RECIPIENTS.claimable("r", "?1"),
            ))?
            .execute(params![now])?;
        let recipients: Vec<ClaimedRecipient> = self
            .tx()
            .prepare_cached(&format!(
                "SELECT r.id, r.send_id, r.member_id, r.email, r.name, r.attempts,
                     m.status, m.tier_id, m.comp_expires_at
                 FROM email_recipients r LEFT JOIN members m ON m.id = r.member_id
                 WHERE (r.status = 'pending' OR r.status = 'sending') AND {claimable}
                 ORDER BY r.next_attempt_at, r.id LIMIT ?2",
                claimable = RECIPIENTS.claimable("r", "?1"),
            ))?
            .query_map(params![now, limit], |r| {
                Ok(ClaimedRecipient {
                    id: r.get(0)?,
                    send_id: r.get(1)?,
                    member_id: r.get(2)?,
                    email: r.get(3)?,
                    name: r.get(4)?,
                    attempts: r.get(5)?,
                    reader: crate::sending::reader_of(
                        r.get::<_, Option<String>>(6)?.as_deref(),
                        r.get(7)?,
                        r.get(8)?,
                        now,
                    ),
                })
            })?
            .collect::<Result<_, _>>()?;
        let mut take = self.tx().prepare_cached(&format!(
            "UPDATE email_recipients SET {take} WHERE id = ?4",
            take = RECIPIENTS.take("?1", "?2", "?3"),
        ))?;
        let mut started = self.tx().prepare_cached(
            "UPDATE email_sends SET started_at = ?2 WHERE id = ?1 AND started_at IS NULL",
        )?;
        let mut last_send = None;
        for r in &recipients {
            take.execute(params![lease::owner(), token, lease_ms, r.id])?;
            if last_send != Some(r.send_id) {
                started.execute(params![r.send_id, now])?;
                last_send = Some(r.send_id);
            }
        }
        Ok(RecipientClaim { token, recipients })
    }

    /// Marks a recipient held under `token` as handed over to the relay
    /// (its message's final dot is next); `false` when the lease was lost.
    pub fn mark_handed(&self, id: i64, token: &str, now: i64) -> StoreResult<bool> {
        let n = self
            .tx()
            .prepare_cached(&format!(
                "UPDATE email_recipients SET handed_at = ?3 WHERE id = ?1 AND {held}",
                held = RECIPIENTS.held("?2"),
            ))?
            .execute(params![id, token, now])?;
        Ok(n == 1)
    }

    /// Records a try made under the lease `token`. `false` (nothing
    /// written) when the lease was lost to another worker.
    pub fn record_recipient(
        &self,
        id: i64,
        token: &str,
        outcome: &RecipientOutcome,
        now: i64,
    ) -> StoreResult<bool> {
        let (status, reply, next, sent_at, failed_try, bounce) = match outcome {
            RecipientOutcome::Sent { reply } => ("sent", reply, now, Some(now), 0, false),
            RecipientOutcome::Retry { reply, at_ms } => ("pending", reply, *at_ms, None, 1, false),
            RecipientOutcome::Failed { reply, bounce } => ("failed", reply, now, None, 1, *bounce),
        };
        let n = self
            .tx()
            .prepare_cached(&format!(
                "UPDATE email_recipients SET status = ?2, reply = ?3, next_attempt_at = ?4,
                 sent_at = ?5, attempts = attempts + ?6, handed_at = NULL, {cleared}
             WHERE id = ?1 AND {held}",
                cleared = RECIPIENTS.cleared(),
                held = RECIPIENTS.held("?7"),
            ))?
            .execute(params![id, status, reply, next, sent_at, failed_try, token])?;
        if n == 1 && bounce {
            self.tx().execute(
                "UPDATE members SET email_disabled = 1
                 WHERE id = (SELECT member_id FROM email_recipients WHERE id = ?1)",
                [id],
            )?;
        }
        Ok(n == 1)
    }

    /// Hands back the recipients still held under `token` (a worker
    /// stopping, or ending a claim early): queued again at once.
    pub fn release_recipients(&self, token: &str) -> StoreResult<usize> {
        Ok(self.tx().execute(&RECIPIENTS.release_sql("?1"), [token])?)
    }

    /// Marks as sent the sends with nothing left queued or in flight.
    pub fn finish_sends(&self, now: i64) -> StoreResult<usize> {
        Ok(self.tx().execute(
            "UPDATE email_sends SET status = 'sent', finished_at = ?1
             WHERE status = 'sending' AND NOT EXISTS (
                 SELECT 1 FROM email_recipients r
                 WHERE r.send_id = email_sends.id AND r.status IN ('pending', 'sending'))",
            [now],
        )?)
    }

    /// The setting `key`, stored as `candidate` if it was unset (one value
    /// for every instance, whoever comes first).
    pub fn setting_or_insert(&self, key: &str, candidate: &str) -> StoreResult<String> {
        self.tx().execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING",
            [key, candidate],
        )?;
        Ok(self
            .tx()
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })?)
    }

    /// Takes a member off one newsletter; `false` when they were not on it.
    pub fn unsubscribe_member(&self, member_id: i64, newsletter_id: i64) -> StoreResult<bool> {
        Ok(self.tx().execute(
            "DELETE FROM member_newsletters WHERE member_id = ?1 AND newsletter_id = ?2",
            [member_id, newsletter_id],
        )? == 1)
    }
}
