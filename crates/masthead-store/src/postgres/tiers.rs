//! Tiers, post tiers and members' complimentary access on PostgreSQL: the
//! twin of `sqlite/tiers.rs` (read its notes), the rules shared through
//! `tiers.rs`.

use std::collections::HashMap;

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::sql::{exec, map, row_opt, rows, u32_at};
use super::write::PgWriter;
use crate::error::{StoreError, StoreResult};
use crate::memberships::{self as rules, Standing, TIER_COLUMNS};
use crate::model::ChangeTopic;
use masthead_model::tiers::*;

fn tier_from_row(r: &Row) -> StoreResult<Tier> {
    Ok(Tier {
        id: r.try_get(0)?,
        uuid: r.try_get(1)?,
        slug: r.try_get(2)?,
        name: r.try_get(3)?,
        description: r.try_get(4)?,
        kind: r.try_get(5)?,
        active: r.try_get(6)?,
        visibility: r.try_get(7)?,
        currency: r.try_get(8)?,
        monthly_price: r.try_get(9)?,
        yearly_price: r.try_get(10)?,
        trial_days: u32_at(r, 11)?,
        welcome_page_url: r.try_get(12)?,
        benefits: Vec::new(),
        created_ms: r.try_get(13)?,
        updated_ms: r.try_get(14)?,
    })
}

async fn fill(c: &impl GenericClient, tiers: &mut [Tier]) -> StoreResult<()> {
    if tiers.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = tiers.iter().map(|t| t.id).collect();
    let mut by_tier: HashMap<i64, Vec<String>> = HashMap::new();
    for r in rows(
        c,
        "SELECT tier_id, name FROM tier_benefits WHERE tier_id = ANY($1) ORDER BY tier_id, position",
        &[&ids],
    )
    .await?
    {
        by_tier.entry(r.try_get(0)?).or_default().push(r.try_get(1)?);
    }
    for t in tiers {
        t.benefits = by_tier.remove(&t.id).unwrap_or_default();
    }
    Ok(())
}

pub async fn tiers(c: &impl GenericClient) -> StoreResult<Vec<Tier>> {
    let rs = rows(
        c,
        &format!("SELECT {TIER_COLUMNS} FROM tiers t ORDER BY t.type = 'paid', t.id"),
        &[],
    )
    .await?;
    let mut list = map(&rs, tier_from_row)?;
    fill(c, &mut list).await?;
    Ok(list)
}

pub async fn tier(c: &impl GenericClient, id: i64) -> StoreResult<Option<Tier>> {
    let Some(r) = row_opt(
        c,
        &format!("SELECT {TIER_COLUMNS} FROM tiers t WHERE t.id = $1"),
        &[&id],
    )
    .await?
    else {
        return Ok(None);
    };
    let mut one = [tier_from_row(&r)?];
    fill(c, &mut one).await?;
    let [t] = one;
    Ok(Some(t))
}

pub async fn tier_by_slug(c: &impl GenericClient, slug: String) -> StoreResult<Option<Tier>> {
    let Some(r) = row_opt(
        c,
        &format!("SELECT {TIER_COLUMNS} FROM tiers t WHERE t.slug = $1"),
        &[&slug],
    )
    .await?
    else {
        return Ok(None);
    };
    let mut one = [tier_from_row(&r)?];
    fill(c, &mut one).await?;
    let [t] = one;
    Ok(Some(t))
}

pub async fn post_tier_ids(c: &impl GenericClient, post_id: i64) -> StoreResult<Vec<i64>> {
    let rs = rows(
        c,
        "SELECT tier_id FROM post_tiers WHERE post_id = $1 ORDER BY tier_id",
        &[&post_id],
    )
    .await?;
    map(&rs, |r| Ok(r.try_get(0)?))
}

pub async fn post_tier_refs(c: &impl GenericClient, post_id: i64) -> StoreResult<Vec<TierRef>> {
    let rs = rows(
        c,
        "SELECT t.id, t.slug, t.name, t.type = 'free' FROM post_tiers pt
         JOIN tiers t ON t.id = pt.tier_id WHERE pt.post_id = $1 ORDER BY t.type = 'paid', t.id",
        &[&post_id],
    )
    .await?;
    map(&rs, |r| {
        Ok(TierRef {
            id: r.try_get(0)?,
            slug: r.try_get(1)?,
            name: r.try_get(2)?,
            free: r.try_get(3)?,
        })
    })
}

pub async fn member_events(
    c: &impl GenericClient,
    member_id: i64,
) -> StoreResult<Vec<MemberEvent>> {
    let rs = rows(
        c,
        "SELECT e.id, e.kind, t.name, e.until_at, u.name, e.note, e.created_at
         FROM member_events e
         LEFT JOIN tiers t ON t.id = e.tier_id
         LEFT JOIN staff_users u ON u.id = e.staff_id
         WHERE e.member_id = $1 ORDER BY e.created_at DESC, e.id DESC",
        &[&member_id],
    )
    .await?;
    map(&rs, |r| {
        Ok(MemberEvent {
            id: r.try_get(0)?,
            kind: r.try_get(1)?,
            tier_name: r.try_get(2)?,
            until_ms: r.try_get(3)?,
            staff_name: r.try_get(4)?,
            note: r.try_get(5)?,
            created_ms: r.try_get(6)?,
        })
    })
}

async fn tier_kind(w: &PgWriter<'_>, id: i64) -> StoreResult<String> {
    let r = row_opt(
        w.tx(),
        "SELECT type FROM tiers WHERE id = $1 FOR UPDATE",
        &[&id],
    )
    .await?
    .ok_or(StoreError::NotFound)?;
    Ok(r.try_get(0)?)
}

impl PgWriter<'_> {
    async fn set_benefits(&self, tier_id: i64, benefits: &[String]) -> StoreResult<()> {
        exec(
            self.tx(),
            "DELETE FROM tier_benefits WHERE tier_id = $1",
            &[&tier_id],
        )
        .await?;
        for (i, b) in benefits.iter().enumerate() {
            exec(
                self.tx(),
                "INSERT INTO tier_benefits (tier_id, position, name) VALUES ($1, $2, $3)",
                &[&tier_id, &(i as i64), b],
            )
            .await?;
        }
        Ok(())
    }

    pub async fn create_tier(&self, t: &TierInput, now: i64) -> StoreResult<i64> {
        let t = rules::checked(t, &t.kind)?;
        let r = row_opt(
            self.tx(),
            "INSERT INTO tiers (uuid, slug, name, description, type, active, visibility, currency,
                 monthly_price, yearly_price, trial_days, welcome_page_url, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)
             RETURNING id",
            &[
                &super::write::new_uuid()?,
                &t.slug,
                &t.name,
                &t.description,
                &t.kind,
                &t.active,
                &t.visibility,
                &t.currency,
                &t.monthly_price,
                &t.yearly_price,
                &i64::from(t.trial_days),
                &t.welcome_page_url,
                &now,
            ],
        )
        .await
        .map_err(rules::slug_conflict)?
        .ok_or_else(|| StoreError::Other("INSERT … RETURNING returned nothing".into()))?;
        let id: i64 = r.try_get(0)?;
        self.set_benefits(id, &t.benefits).await?;
        self.log_change(ChangeTopic::Site, None, None).await?;
        Ok(id)
    }

    pub async fn update_tier(&self, id: i64, t: &TierInput, now: i64) -> StoreResult<()> {
        let kind = tier_kind(self, id).await?;
        let t = rules::checked(t, &kind)?;
        exec(
            self.tx(),
            "UPDATE tiers SET slug = $2, name = $3, description = $4, active = $5, visibility = $6,
                 currency = $7, monthly_price = $8, yearly_price = $9, trial_days = $10,
                 welcome_page_url = $11, updated_at = $12
             WHERE id = $1",
            &[
                &id,
                &t.slug,
                &t.name,
                &t.description,
                &t.active,
                &t.visibility,
                &t.currency,
                &t.monthly_price,
                &t.yearly_price,
                &i64::from(t.trial_days),
                &t.welcome_page_url,
                &now,
            ],
        )
        .await
        .map_err(rules::slug_conflict)?;
        self.set_benefits(id, &t.benefits).await?;
        self.log_change(ChangeTopic::Site, None, None).await
    }

    pub async fn archive_tier(&self, id: i64, now: i64) -> StoreResult<()> {
        if tier_kind(self, id).await? == "free" {
            return Err(StoreError::Invalid(rules::FREE_TIER_STAYS.into()));
        }
        exec(
            self.tx(),
            "UPDATE tiers SET active = FALSE, updated_at = $2 WHERE id = $1",
            &[&id, &now],
        )
        .await?;
        self.log_change(ChangeTopic::Site, None, None).await
    }

    pub(crate) async fn set_post_tiers(&self, post_id: i64, tier_ids: &[i64]) -> StoreResult<()> {
        exec(
            self.tx(),
            "DELETE FROM post_tiers WHERE post_id = $1",
            &[&post_id],
        )
        .await?;
        exec(
            self.tx(),
            "INSERT INTO post_tiers (post_id, tier_id)
             SELECT $1, id FROM tiers WHERE id = ANY($2) ON CONFLICT DO NOTHING",
            &[&post_id, &tier_ids],
        )
        .await?;
        Ok(())
    }

    pub async fn record_member_event(&self, e: &NewMemberEvent, now: i64) -> StoreResult<i64> {
        let r = row_opt(
            self.tx(),
            "INSERT INTO member_events (member_id, kind, tier_id, until_at, staff_id, note, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            &[
                &e.member_id,
                &e.kind,
                &e.tier_id,
                &e.until_ms,
                &e.staff_id,
                &e.note,
                &now,
            ],
        )
        .await?
        .ok_or_else(|| StoreError::Other("INSERT … RETURNING returned nothing".into()))?;
        Ok(r.try_get(0)?)
    }

    pub(crate) async fn standing(&self, member_id: i64) -> StoreResult<Standing> {
        // Locked: a payment event changing the same member waits its turn.
        let r = row_opt(
            self.tx(),
            "SELECT status, tier_id, comp_expires_at, comp_tier_id FROM members
             WHERE id = $1 FOR UPDATE",
            &[&member_id],
        )
        .await?
        .ok_or(StoreError::NotFound)?;
        Ok(Standing {
            status: r.try_get(0)?,
            tier_id: r.try_get(1)?,
            comp_expires_ms: r.try_get(2)?,
            comp_tier_id: r.try_get(3)?,
        })
    }

    pub async fn give_comp(
        &self,
        member_id: i64,
        tier_id: i64,
        until: Option<i64>,
        staff_id: Option<i64>,
        now: i64,
    ) -> StoreResult<Result<CompGiven, CompRefused>> {
        let standing = self.standing(member_id).await?;
        let paid_tier = row_opt(
            self.tx(),
            "SELECT 1 FROM tiers WHERE id = $1 AND type = 'paid' AND active",
            &[&tier_id],
        )
        .await?
        .is_some();
        if let Some(refused) = rules::comp_refused(paid_tier, until, now) {
            return Ok(Err(refused));
        }
        let given = rules::comp_outcome(&standing, now);
        match given {
            CompGiven::Comped => {
                exec(
                    self.tx(),
                    "UPDATE members SET status = 'comped', tier_id = $2, comp_expires_at = $3,
                         comp_tier_id = $2 WHERE id = $1",
                    &[&member_id, &tier_id, &until],
                )
                .await?
            }
            CompGiven::Recorded => {
                exec(
                    self.tx(),
                    "UPDATE members SET comp_expires_at = $2, comp_tier_id = $3 WHERE id = $1",
                    &[&member_id, &until, &tier_id],
                )
                .await?
            }
        };
        self.record_member_event(
            &NewMemberEvent {
                member_id,
                kind: rules::COMP_GIVEN.into(),
                tier_id: Some(tier_id),
                until_ms: until,
                staff_id,
                note: String::new(),
            },
            now,
        )
        .await?;
        self.enqueue_webhooks("member.edited", member_id).await?;
        self.log_change(ChangeTopic::Member, None, Some(member_id))
            .await?;
        Ok(Ok(given))
    }

    pub async fn end_comp(
        &self,
        member_id: i64,
        staff_id: Option<i64>,
        now: i64,
    ) -> StoreResult<Result<(), CompRefused>> {
        let standing = self.standing(member_id).await?;
        let comp_tier = standing.comp(now).and_then(|c| c.tier_id);
        match rules::comp_to_end(&standing, now) {
            None => return Ok(Err(CompRefused::NoComp)),
            Some(rules::Ending::Comp) => {
                exec(
                    self.tx(),
                    "UPDATE members SET status = 'free', tier_id = NULL, comp_expires_at = NULL,
                     comp_tier_id = NULL WHERE id = $1",
                    &[&member_id],
                )
                .await?
            }
            Some(rules::Ending::FollowUp) => {
                exec(
                    self.tx(),
                    "UPDATE members SET comp_expires_at = NULL, comp_tier_id = NULL WHERE id = $1",
                    &[&member_id],
                )
                .await?
            }
        };
        self.record_member_event(
            &NewMemberEvent {
                member_id,
                kind: rules::COMP_ENDED.into(),
                tier_id: comp_tier,
                until_ms: None,
                staff_id,
                note: String::new(),
            },
            now,
        )
        .await?;
        self.enqueue_webhooks("member.edited", member_id).await?;
        self.log_change(ChangeTopic::Member, None, Some(member_id))
            .await?;
        Ok(Ok(()))
    }

    pub async fn end_expired_comps(&self, now: i64) -> StoreResult<usize> {
        // SKIP LOCKED: several instances may run this job at once; each
        // member's comp is ended (and written down) once.
        let rs = rows(
            self.tx(),
            "SELECT id, tier_id, comp_expires_at FROM members
             WHERE status = 'comped' AND comp_expires_at <= $1
             ORDER BY id LIMIT 500 FOR UPDATE SKIP LOCKED",
            &[&now],
        )
        .await?;
        let ended: Vec<(i64, Option<i64>, Option<i64>)> =
            map(&rs, |r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))?;
        for (member_id, tier_id, until) in &ended {
            exec(
                self.tx(),
                "UPDATE members SET status = 'free', tier_id = NULL, comp_expires_at = NULL,
                     comp_tier_id = NULL WHERE id = $1",
                &[member_id],
            )
            .await?;
            self.record_member_event(
                &NewMemberEvent {
                    member_id: *member_id,
                    kind: rules::COMP_EXPIRED.into(),
                    tier_id: *tier_id,
                    until_ms: *until,
                    staff_id: None,
                    note: String::new(),
                },
                now,
            )
            .await?;
            self.enqueue_webhooks("member.edited", *member_id).await?;
            self.log_change(ChangeTopic::Member, None, Some(*member_id))
                .await?;
        }
        Ok(ended.len())
    }
}
