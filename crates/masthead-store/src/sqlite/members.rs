//! Members' own side (issue 10): pending requests (sign-up, sign-in, e-mail
//! change) redeemed by link or code, member sessions, newsletters, the
//! account's data and its deletion. The PostgreSQL twin is
//! `postgres/members.rs`; the conformance suite runs both.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::write::Writer;
use crate::error::{StoreError, StoreResult};
use crate::model::ChangeTopic;
use masthead_model::members::*;

const MEMBER_COLUMNS: &str =
    "m.id, m.email, m.name, m.status, m.created_at, m.tier_id, m.comp_expires_at";
const NEWSLETTER_COLUMNS: &str = "n.id, n.uuid, n.name, n.slug, n.description, n.sender_name, \
     n.sender_reply_to, n.status, n.subscribe_on_signup, n.sort_order, n.visibility";

fn member_from_row(r: &Row<'_>) -> rusqlite::Result<Member> {
    Ok(Member {
        id: r.get(0)?,
        email: r.get(1)?,
        name: r.get(2)?,
        status: r.get(3)?,
        created_ms: r.get(4)?,
        tier_id: r.get(5)?,
        comp_expires_ms: r.get(6)?,
    })
}

fn newsletter_from_row(r: &Row<'_>) -> rusqlite::Result<Newsletter> {
    Ok(Newsletter {
        id: r.get(0)?,
        uuid: r.get(1)?,
        name: r.get(2)?,
        slug: r.get(3)?,
        description: r.get(4)?,
        sender_name: r.get(5)?,
        sender_reply_to: r.get(6)?,
        status: r.get(7)?,
        subscribe_on_signup: r.get(8)?,
        sort_order: r.get(9)?,
        visibility: r.get(10)?,
    })
}

/// Newsletter ids as `member_requests.newsletters` keeps them.
pub(crate) fn encode_ids(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

pub(crate) fn decode_ids(s: &str) -> Vec<i64> {
    s.split(',').filter_map(|p| p.trim().parse().ok()).collect()
}

/// The signed-in member of a live session.
pub fn member_session(
    c: &Connection,
    token_hash: Vec<u8>,
    now: i64,
) -> StoreResult<Option<MemberSession>> {
    Ok(c.prepare_cached(&format!(
        "SELECT {MEMBER_COLUMNS}, s.csrf_token FROM member_sessions s
         JOIN members m ON m.id = s.member_id
         WHERE s.token_hash = ?1 AND s.expires_at > ?2"
    ))?
    .query_row(params![token_hash, now], |r| {
        let mut member = member_from_row(r)?;
        member.settle(now);
        Ok(MemberSession {
            member,
            csrf_token: r.get(7)?,
        })
    })
    .optional()?)
}

/// Every newsletter, active ones first, in their order.
pub fn newsletters(c: &Connection) -> StoreResult<Vec<Newsletter>> {
    Ok(c.prepare_cached(&format!(
        "SELECT {NEWSLETTER_COLUMNS} FROM newsletters n
         ORDER BY n.status = 'archived', n.sort_order, n.id"
    ))?
    .query_map([], newsletter_from_row)?
    .collect::<Result<_, _>>()?)
}

/// The newsletters a member receives.
pub fn member_newsletters(c: &Connection, member_id: i64) -> StoreResult<Vec<Newsletter>> {
    Ok(c.prepare_cached(&format!(
        "SELECT {NEWSLETTER_COLUMNS} FROM member_newsletters mn
         JOIN newsletters n ON n.id = mn.newsletter_id
         WHERE mn.member_id = ?1 ORDER BY n.sort_order, n.id"
    ))?
    .query_map([member_id], newsletter_from_row)?
    .collect::<Result<_, _>>()?)
}

/// Everything stored about a member.
pub fn member_export(c: &Connection, member_id: i64) -> StoreResult<Option<MemberExport>> {
    let Some(member) = c
        .prepare_cached(&format!(
            "SELECT {MEMBER_COLUMNS} FROM members m WHERE m.id = ?1"
        ))?
        .query_row([member_id], member_from_row)
        .optional()?
    else {
        return Ok(None);
    };
    let mut member = member;
    member.settle(crate::now_ms());
    let sessions_created_ms = c
        .prepare_cached(
            "SELECT created_at FROM member_sessions WHERE member_id = ?1 ORDER BY created_at",
        )?
        .query_map([member_id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(Some(MemberExport {
        newsletters: member_newsletters(c, member_id)?,
        member,
        sessions_created_ms,
    }))
}

/// A pending request as [`Writer::redeem`] reads it.
struct PendingRequest {
    id: i64,
    purpose: MemberRequestPurpose,
    email: String,
    email_key: String,
    member_id: Option<i64>,
    name: String,
    newsletters: Option<String>,
    source: String,
    code_hash: Vec<u8>,
    attempts: u32,
}

const PENDING_COLUMNS: &str = "id, purpose, email, email_key, member_id, name, newsletters, \
     source, code_hash, attempts";

fn pending_from_row(r: &Row<'_>) -> rusqlite::Result<(PendingRequest, String)> {
    let purpose: String = r.get(1)?;
    Ok((
        PendingRequest {
            id: r.get(0)?,
            purpose: MemberRequestPurpose::Signup,
            email: r.get(2)?,
            email_key: r.get(3)?,
            member_id: r.get(4)?,
            name: r.get(5)?,
            newsletters: r.get(6)?,
            source: r.get(7)?,
            code_hash: r.get(8)?,
            attempts: r.get(9)?,
        },
        purpose,
    ))
}

impl Writer<'_> {
    /// Records a request (after dropping expired ones): see
    /// [`MemberRequestRecorded`] for what is recorded when.
    pub fn record_member_request(
        &self,
        req: &NewMemberRequest,
    ) -> StoreResult<MemberRequestRecorded> {
        self.tx()
            .prepare_cached("DELETE FROM member_requests WHERE expires_at <= ?1")?
            .execute([req.now_ms])?;
        let existing: Option<i64> = self
            .tx()
            .prepare_cached("SELECT id FROM members WHERE email_key = ?1")?
            .query_row([req.email.key()], |r| r.get(0))
            .optional()?;
        let (purpose, member_id, recorded) = match (req.purpose, existing) {
            (MemberRequestPurpose::Signup, None) => (
                MemberRequestPurpose::Signup,
                None,
                MemberRequestRecorded::Signup,
            ),
            (MemberRequestPurpose::Signup | MemberRequestPurpose::Signin, Some(id)) => (
                MemberRequestPurpose::Signin,
                Some(id),
                MemberRequestRecorded::Signin,
            ),
            (MemberRequestPurpose::Signin, None) => return Ok(MemberRequestRecorded::Nothing),
            (MemberRequestPurpose::EmailChange, Some(_)) => {
                return Ok(MemberRequestRecorded::Nothing);
            }
            (MemberRequestPurpose::EmailChange, None) => {
                let Some(id) = req.member_id else {
                    return Err(StoreError::Invalid(
                        "an e-mail change needs the member".into(),
                    ));
                };
                (
                    MemberRequestPurpose::EmailChange,
                    Some(id),
                    MemberRequestRecorded::EmailChange,
                )
            }
        };
        self.tx()
            .prepare_cached(
                "INSERT INTO member_requests (purpose, email, email_key, member_id, name, newsletters,
                     source, link_hash, ref_hash, code_hash, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?
            .execute(params![
                purpose.as_str(),
                req.email.as_str(),
                req.email.key(),
                member_id,
                req.name,
                req.newsletters.as_deref().map(encode_ids),
                req.source,
                req.link_hash,
                req.ref_hash,
                req.code_hash,
                req.now_ms,
                req.expires_ms,
            ])?;
        Ok(recorded)
    }

    /// Redeems a request by its link or by its code: on success the request
    /// is spent, its effect applied (a sign-up becomes a member, an e-mail
    /// change takes effect) and a session opened, all at once. A wrong code
    /// counts against the request (`max_attempts` kill it); nothing else
    /// changes on a refusal.
    pub fn redeem_member_request(
        &self,
        by: &RedeemBy,
        session: &NewMemberSession,
        max_attempts: u32,
    ) -> StoreResult<Result<MemberRedeemed, RedeemRefused>> {
        let now = session.now_ms;
        let (sql, key) = match by {
            RedeemBy::Link(h) => (
                format!(
                    "SELECT {PENDING_COLUMNS} FROM member_requests
                     WHERE link_hash = ?1 AND used_at IS NULL AND expires_at > ?2 AND attempts < ?3"
                ),
                h,
            ),
            RedeemBy::Code { ref_hash, .. } => (
                format!(
                    "SELECT {PENDING_COLUMNS} FROM member_requests
                     WHERE ref_hash = ?1 AND used_at IS NULL AND expires_at > ?2 AND attempts < ?3"
                ),
                ref_hash,
            ),
        };
        let Some((mut req, purpose)) = self
            .tx()
            .prepare_cached(&sql)?
            .query_row(params![key, now, max_attempts], pending_from_row)
            .optional()?
        else {
            return Ok(Err(RedeemRefused::Invalid));
        };
        req.purpose = MemberRequestPurpose::parse(&purpose)
            .ok_or_else(|| StoreError::Other(format!("unknown request purpose {purpose:?}")))?;
        if let RedeemBy::Code { code_hash, .. } = by
            && *code_hash != req.code_hash
        {
            self.tx()
                .prepare_cached("UPDATE member_requests SET attempts = attempts + 1 WHERE id = ?1")?
                .execute([req.id])?;
            return Ok(Err(RedeemRefused::WrongCode {
                left: max_attempts.saturating_sub(req.attempts + 1),
            }));
        }
        let (member_id, joined) = match req.purpose {
            MemberRequestPurpose::Signup => {
                let email = masthead_domain::Email::parse(&req.email)
                    .map_err(|e| StoreError::Other(format!("a stored address is invalid: {e}")))?;
                match self.insert_member(&email, "free", &req.source, now)? {
                    Some(id) => {
                        if !req.name.is_empty() {
                            self.tx()
                                .prepare_cached("UPDATE members SET name = ?2 WHERE id = ?1")?
                                .execute(params![id, req.name])?;
                        }
                        let chosen = req.newsletters.as_deref().map(decode_ids);
                        self.subscribe_on_signup(id, chosen.as_deref(), now)?;
                        self.log_change(ChangeTopic::Member, None, Some(id))?;
                        (id, true)
                    }
                    // Confirmed by another request of the same address meanwhile.
                    None => (
                        self.tx()
                            .prepare_cached("SELECT id FROM members WHERE email_key = ?1")?
                            .query_row([&req.email_key], |r| r.get(0))?,
                        false,
                    ),
                }
            }
            MemberRequestPurpose::Signin => match req.member_id {
                Some(id) => (id, false),
                None => return Ok(Err(RedeemRefused::Invalid)),
            },
            MemberRequestPurpose::EmailChange => {
                let Some(id) = req.member_id else {
                    return Ok(Err(RedeemRefused::Invalid));
                };
                let taken: bool = self
                    .tx()
                    .prepare_cached(
                        "SELECT EXISTS (SELECT 1 FROM members WHERE email_key = ?1 AND id <> ?2)",
                    )?
                    .query_row(params![req.email_key, id], |r| r.get(0))?;
                if taken {
                    return Ok(Err(RedeemRefused::AddressTaken));
                }
                self.tx()
                    .prepare_cached("UPDATE members SET email = ?2, email_key = ?3, email_disabled = 0 WHERE id = ?1")?
                    .execute(params![id, req.email, req.email_key])?;
                self.enqueue_webhooks("member.edited", id)?;
                self.log_change(ChangeTopic::Member, None, Some(id))?;
                (id, false)
            }
        };
        self.tx()
            .prepare_cached("UPDATE member_requests SET used_at = ?2 WHERE id = ?1")?
            .execute(params![req.id, now])?;
        self.open_member_session(member_id, session)?;
        Ok(Ok(MemberRedeemed {
            member_id,
            purpose: req.purpose,
            joined,
        }))
    }

    /// Subscribes a new member to `chosen` (active ones only), or with
    /// `None` to every active newsletter that new members get.
    fn subscribe_on_signup(
        &self,
        member_id: i64,
        chosen: Option<&[i64]>,
        now: i64,
    ) -> StoreResult<()> {
        match chosen {
            None => {
                self.tx()
                    .prepare_cached(
                        "INSERT INTO member_newsletters (member_id, newsletter_id, created_at)
                         SELECT ?1, id, ?2 FROM newsletters
                         WHERE status = 'active' AND subscribe_on_signup = 1",
                    )?
                    .execute(params![member_id, now])?;
            }
            Some(ids) => self.set_member_newsletters(member_id, ids, now)?,
        }
        Ok(())
    }

    pub fn open_member_session(&self, member_id: i64, s: &NewMemberSession) -> StoreResult<()> {
        self.tx()
            .prepare_cached(
                "INSERT INTO member_sessions (token_hash, member_id, csrf_token, created_at, last_seen_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
            )?
            .execute(params![s.token_hash, member_id, s.csrf_token, s.now_ms, s.expires_ms])?;
        // Expired sessions of anyone go as new ones come.
        self.tx()
            .prepare_cached("DELETE FROM member_sessions WHERE expires_at <= ?1")?
            .execute([s.now_ms])?;
        Ok(())
    }

    pub fn end_member_session(&self, token_hash: &[u8]) -> StoreResult<()> {
        self.tx()
            .prepare_cached("DELETE FROM member_sessions WHERE token_hash = ?1")?
            .execute([token_hash])?;
        Ok(())
    }

    /// Signs a member out everywhere; returns how many sessions ended.
    pub fn end_member_sessions(&self, member_id: i64) -> StoreResult<usize> {
        Ok(self
            .tx()
            .prepare_cached("DELETE FROM member_sessions WHERE member_id = ?1")?
            .execute([member_id])?)
    }

    pub fn set_member_display_name(&self, member_id: i64, name: &str) -> StoreResult<()> {
        let n = self
            .tx()
            .prepare_cached("UPDATE members SET name = ?2 WHERE id = ?1")?
            .execute(params![member_id, name])?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        self.enqueue_webhooks("member.edited", member_id)?;
        self.log_change(ChangeTopic::Member, None, Some(member_id))
    }

    /// A member's own choice of newsletters; queues `member.edited`.
    pub fn choose_member_newsletters(
        &self,
        member_id: i64,
        ids: &[i64],
        now: i64,
    ) -> StoreResult<()> {
        self.set_member_newsletters(member_id, ids, now)?;
        self.enqueue_webhooks("member.edited", member_id)?;
        self.log_change(ChangeTopic::Member, None, Some(member_id))
    }

    /// Replaces a member's active newsletters with the active ones among
    /// `ids`; subscriptions to archived newsletters are kept (nobody can
    /// choose those, and unarchiving brings the readers back).
    pub fn set_member_newsletters(&self, member_id: i64, ids: &[i64], now: i64) -> StoreResult<()> {
        self.tx()
            .prepare_cached(
                "DELETE FROM member_newsletters WHERE member_id = ?1
                 AND newsletter_id IN (SELECT id FROM newsletters WHERE status = 'active')",
            )?
            .execute([member_id])?;
        let mut insert = self.tx().prepare_cached(
            "INSERT INTO member_newsletters (member_id, newsletter_id, created_at)
             SELECT ?1, id, ?3 FROM newsletters WHERE id = ?2 AND status = 'active'
             ON CONFLICT DO NOTHING",
        )?;
        for id in ids {
            insert.execute(params![member_id, id, now])?;
        }
        Ok(())
    }

    /// Erases a member at once (sessions, requests and subscriptions go with
    /// the row) and queues `member.deleted`; `false` if there was none.
    pub fn delete_member_account(&self, member_id: i64) -> StoreResult<bool> {
        // Their donations stay (the accounts need them) without their name
        // and address.
        self.erase_member_donations(member_id)?;
        let n = self
            .tx()
            .prepare_cached("DELETE FROM members WHERE id = ?1")?
            .execute([member_id])?;
        if n == 0 {
            return Ok(false);
        }
        self.enqueue_webhooks("member.deleted", member_id)?;
        self.log_change(ChangeTopic::Member, None, Some(member_id))?;
        Ok(true)
    }
}
