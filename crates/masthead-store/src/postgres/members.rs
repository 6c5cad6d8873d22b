//! Members' own side on PostgreSQL: the twin of `sqlite/members.rs` (read
//! its notes). A request being redeemed is locked (`FOR UPDATE`), so two
//! redemptions of one link or code at once cannot both succeed.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::sql::{exec, map, row_one, row_opt, rows};
use super::write::PgWriter;
use crate::error::{StoreError, StoreResult};
use crate::model::ChangeTopic;
use crate::sqlite::members::{decode_ids, encode_ids};
use masthead_model::members::*;

const MEMBER_COLUMNS: &str =
    "m.id, m.email, m.name, m.status, m.created_at, m.tier_id, m.comp_expires_at";
const NEWSLETTER_COLUMNS: &str = "n.id, n.uuid, n.name, n.slug, n.description, n.sender_name, \
     n.sender_reply_to, n.status, n.subscribe_on_signup, n.sort_order, n.visibility";

fn member_from_row(r: &Row) -> StoreResult<Member> {
    Ok(Member {
        id: r.try_get(0)?,
        email: r.try_get(1)?,
        name: r.try_get(2)?,
        status: r.try_get(3)?,
        created_ms: r.try_get(4)?,
        tier_id: r.try_get(5)?,
        comp_expires_ms: r.try_get(6)?,
    })
}

fn newsletter_from_row(r: &Row) -> StoreResult<Newsletter> {
    Ok(Newsletter {
        id: r.try_get(0)?,
        uuid: r.try_get(1)?,
        name: r.try_get(2)?,
        slug: r.try_get(3)?,
        description: r.try_get(4)?,
        sender_name: r.try_get(5)?,
        sender_reply_to: r.try_get(6)?,
        status: r.try_get(7)?,
        subscribe_on_signup: r.try_get(8)?,
        sort_order: r.try_get(9)?,
        visibility: r.try_get(10)?,
    })
}

pub async fn member_session(
    c: &impl GenericClient,
    token_hash: Vec<u8>,
    now: i64,
) -> StoreResult<Option<MemberSession>> {
    row_opt(
        c,
        &format!(
            "SELECT {MEMBER_COLUMNS}, s.csrf_token FROM member_sessions s
             JOIN members m ON m.id = s.member_id
             WHERE s.token_hash = $1 AND s.expires_at > $2"
        ),
        &[&token_hash, &now],
    )
    .await?
    .map(|r| {
        let mut member = member_from_row(&r)?;
        member.settle(now);
        Ok(MemberSession {
            member,
            csrf_token: r.try_get(7)?,
        })
    })
    .transpose()
}

pub async fn newsletters(c: &impl GenericClient) -> StoreResult<Vec<Newsletter>> {
    let rs = rows(
        c,
        &format!(
            "SELECT {NEWSLETTER_COLUMNS} FROM newsletters n
             ORDER BY n.status = 'archived', n.sort_order, n.id"
        ),
        &[],
    )
    .await?;
    map(&rs, newsletter_from_row)
}

pub async fn member_newsletters(
    c: &impl GenericClient,
    member_id: i64,
) -> StoreResult<Vec<Newsletter>> {
    let rs = rows(
        c,
        &format!(
            "SELECT {NEWSLETTER_COLUMNS} FROM member_newsletters mn
             JOIN newsletters n ON n.id = mn.newsletter_id
             WHERE mn.member_id = $1 ORDER BY n.sort_order, n.id"
        ),
        &[&member_id],
    )
    .await?;
    map(&rs, newsletter_from_row)
}

pub async fn member_export(
    c: &impl GenericClient,
    member_id: i64,
) -> StoreResult<Option<MemberExport>> {
    let Some(r) = row_opt(
        c,
        &format!("SELECT {MEMBER_COLUMNS} FROM members m WHERE m.id = $1"),
        &[&member_id],
    )
    .await?
    else {
        return Ok(None);
    };
    let mut member = member_from_row(&r)?;
    member.settle(crate::now_ms());
    let rs = rows(
        c,
        "SELECT created_at FROM member_sessions WHERE member_id = $1 ORDER BY created_at",
        &[&member_id],
    )
    .await?;
    let sessions_created_ms = map(&rs, |r| Ok(r.try_get(0)?))?;
    Ok(Some(MemberExport {
        newsletters: member_newsletters(c, member_id).await?,
        member,
        sessions_created_ms,
    }))
}

impl PgWriter<'_> {
    pub async fn record_member_request(
        &self,
        req: &NewMemberRequest,
    ) -> StoreResult<MemberRequestRecorded> {
        exec(
            self.tx(),
            "DELETE FROM member_requests WHERE expires_at <= $1",
            &[&req.now_ms],
        )
        .await?;
        let existing: Option<i64> = row_opt(
            self.tx(),
            "SELECT id FROM members WHERE email_key = $1",
            &[&req.email.key()],
        )
        .await?
        .map(|r| r.try_get(0))
        .transpose()?;
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
        let newsletters = req.newsletters.as_deref().map(encode_ids);
        exec(
            self.tx(),
            "INSERT INTO member_requests (purpose, email, email_key, member_id, name, newsletters,
                 source, link_hash, ref_hash, code_hash, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            &[
                &purpose.as_str(),
                &req.email.as_str(),
                &req.email.key(),
                &member_id,
                &req.name,
                &newsletters,
                &req.source,
                &req.link_hash,
                &req.ref_hash,
                &req.code_hash,
                &req.now_ms,
                &req.expires_ms,
            ],
        )
        .await?;
        Ok(recorded)
    }

    pub async fn redeem_member_request(
        &self,
        by: &RedeemBy,
        session: &NewMemberSession,
        max_attempts: u32,
    ) -> StoreResult<Result<MemberRedeemed, RedeemRefused>> {
        let now = session.now_ms;
        let max = i64::from(max_attempts);
        let columns = "id, purpose, email, email_key, member_id, name, newsletters, source, \
                       code_hash, attempts";
        let (sql, key) = match by {
            RedeemBy::Link(h) => (
                format!(
                    "SELECT {columns} FROM member_requests
                     WHERE link_hash = $1 AND used_at IS NULL AND expires_at > $2 AND attempts < $3
                     FOR UPDATE"
                ),
                h,
            ),
            RedeemBy::Code { ref_hash, .. } => (
                format!(
                    "SELECT {columns} FROM member_requests
                     WHERE ref_hash = $1 AND used_at IS NULL AND expires_at > $2 AND attempts < $3
                     FOR UPDATE"
                ),
                ref_hash,
            ),
        };
        let Some(r) = row_opt(self.tx(), &sql, &[key, &now, &max]).await? else {
            return Ok(Err(RedeemRefused::Invalid));
        };
        let id: i64 = r.try_get(0)?;
        let purpose: String = r.try_get(1)?;
        let purpose = MemberRequestPurpose::parse(&purpose)
            .ok_or_else(|| StoreError::Other(format!("unknown request purpose {purpose:?}")))?;
        let email: String = r.try_get(2)?;
        let email_key: String = r.try_get(3)?;
        let req_member: Option<i64> = r.try_get(4)?;
        let name: String = r.try_get(5)?;
        let chosen: Option<String> = r.try_get(6)?;
        let source: String = r.try_get(7)?;
        let stored_code: Vec<u8> = r.try_get(8)?;
        let attempts: i64 = r.try_get(9)?;
        if let RedeemBy::Code { code_hash, .. } = by
            && *code_hash != stored_code
        {
            exec(
                self.tx(),
                "UPDATE member_requests SET attempts = attempts + 1 WHERE id = $1",
                &[&id],
            )
            .await?;
            let left = (max - attempts - 1).max(0);
            return Ok(Err(RedeemRefused::WrongCode {
                left: u32::try_from(left).unwrap_or(0),
            }));
        }
        let (member_id, joined) = match purpose {
            MemberRequestPurpose::Signup => {
                let parsed = masthead_domain::Email::parse(&email)
                    .map_err(|e| StoreError::Other(format!("a stored address is invalid: {e}")))?;
                match self.insert_member(&parsed, "free", &source, now).await? {
                    Some(mid) => {
                        if !name.is_empty() {
                            exec(
                                self.tx(),
                                "UPDATE members SET name = $2 WHERE id = $1",
                                &[&mid, &name],
                            )
                            .await?;
                        }
                        let chosen = chosen.as_deref().map(decode_ids);
                        self.subscribe_on_signup(mid, chosen.as_deref(), now)
                            .await?;
                        self.log_change(ChangeTopic::Member, None, Some(mid))
                            .await?;
                        (mid, true)
                    }
                    None => (
                        row_one(
                            self.tx(),
                            "SELECT id FROM members WHERE email_key = $1",
                            &[&email_key],
                        )
                        .await?
                        .try_get(0)?,
                        false,
                    ),
                }
            }
            MemberRequestPurpose::Signin => match req_member {
                Some(mid) => (mid, false),
                None => return Ok(Err(RedeemRefused::Invalid)),
            },
            MemberRequestPurpose::EmailChange => {
                let Some(mid) = req_member else {
                    return Ok(Err(RedeemRefused::Invalid));
                };
                let taken: bool = row_one(
                    self.tx(),
                    "SELECT EXISTS (SELECT 1 FROM members WHERE email_key = $1 AND id <> $2)",
                    &[&email_key, &mid],
                )
                .await?
                .try_get(0)?;
                if taken {
                    return Ok(Err(RedeemRefused::AddressTaken));
                }
                exec(
                    self.tx(),
                    "UPDATE members SET email = $2, email_key = $3, email_disabled = FALSE WHERE id = $1",
                    &[&mid, &email, &email_key],
                )
                .await?;
                self.enqueue_webhooks("member.edited", mid).await?;
                self.log_change(ChangeTopic::Member, None, Some(mid))
                    .await?;
                (mid, false)
            }
        };
        exec(
            self.tx(),
            "UPDATE member_requests SET used_at = $2 WHERE id = $1",
            &[&id, &now],
        )
        .await?;
        self.open_member_session(member_id, session).await?;
        Ok(Ok(MemberRedeemed {
            member_id,
            purpose,
            joined,
        }))
    }

    async fn subscribe_on_signup(
        &self,
        member_id: i64,
        chosen: Option<&[i64]>,
        now: i64,
    ) -> StoreResult<()> {
        match chosen {
            None => {
                exec(
                    self.tx(),
                    "INSERT INTO member_newsletters (member_id, newsletter_id, created_at)
                     SELECT $1, id, $2 FROM newsletters
                     WHERE status = 'active' AND subscribe_on_signup",
                    &[&member_id, &now],
                )
                .await?;
            }
            Some(ids) => self.set_member_newsletters(member_id, ids, now).await?,
        }
        Ok(())
    }

    pub async fn open_member_session(
        &self,
        member_id: i64,
        s: &NewMemberSession,
    ) -> StoreResult<()> {
        exec(
            self.tx(),
            "INSERT INTO member_sessions (token_hash, member_id, csrf_token, created_at, last_seen_at, expires_at)
             VALUES ($1, $2, $3, $4, $4, $5)",
            &[&s.token_hash, &member_id, &s.csrf_token, &s.now_ms, &s.expires_ms],
        )
        .await?;
        exec(
            self.tx(),
            "DELETE FROM member_sessions WHERE expires_at <= $1",
            &[&s.now_ms],
        )
        .await?;
        Ok(())
    }

    pub async fn end_member_session(&self, token_hash: &[u8]) -> StoreResult<()> {
        exec(
            self.tx(),
            "DELETE FROM member_sessions WHERE token_hash = $1",
            &[&token_hash],
        )
        .await?;
        Ok(())
    }

    pub async fn end_member_sessions(&self, member_id: i64) -> StoreResult<usize> {
        let n = exec(
            self.tx(),
            "DELETE FROM member_sessions WHERE member_id = $1",
            &[&member_id],
        )
        .await?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    pub async fn set_member_display_name(&self, member_id: i64, name: &str) -> StoreResult<()> {
        let n = exec(
            self.tx(),
            "UPDATE members SET name = $2 WHERE id = $1",
            &[&member_id, &name],
        )
        .await?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        self.enqueue_webhooks("member.edited", member_id).await?;
        self.log_change(ChangeTopic::Member, None, Some(member_id))
            .await
    }

    pub async fn choose_member_newsletters(
        &self,
        member_id: i64,
        ids: &[i64],
        now: i64,
    ) -> StoreResult<()> {
        self.set_member_newsletters(member_id, ids, now).await?;
        self.enqueue_webhooks("member.edited", member_id).await?;
        self.log_change(ChangeTopic::Member, None, Some(member_id))
            .await
    }

    pub async fn set_member_newsletters(
        &self,
        member_id: i64,
        ids: &[i64],
        now: i64,
    ) -> StoreResult<()> {
        exec(
            self.tx(),
            "DELETE FROM member_newsletters WHERE member_id = $1
             AND newsletter_id IN (SELECT id FROM newsletters WHERE status = 'active')",
            &[&member_id],
        )
        .await?;
        for id in ids {
            exec(
                self.tx(),
                "INSERT INTO member_newsletters (member_id, newsletter_id, created_at)
                 SELECT $1, id, $3 FROM newsletters WHERE id = $2 AND status = 'active'
                 ON CONFLICT DO NOTHING",
                &[&member_id, id, &now],
            )
            .await?;
        }
        Ok(())
    }

    pub async fn delete_member_account(&self, member_id: i64) -> StoreResult<bool> {
        // Their donations stay (the accounts need them) without their name
        // and address.
        self.erase_member_donations(member_id).await?;
        let n = exec(
            self.tx(),
            "DELETE FROM members WHERE id = $1",
            &[&member_id],
        )
        .await?;
        if n == 0 {
            return Ok(false);
        }
        self.enqueue_webhooks("member.deleted", member_id).await?;
        self.log_change(ChangeTopic::Member, None, Some(member_id))
            .await?;
        Ok(true)
    }
}
