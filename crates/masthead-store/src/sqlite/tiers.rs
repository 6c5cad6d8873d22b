//! Tiers, the tiers a post is open to, and members' complimentary access
//! with its history, on SQLite (issue 11; migration 0018). The rules shared
//! by both dialects are in `tiers.rs`; the PostgreSQL twin is
//! `postgres/tiers.rs`.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::write::Writer;
use crate::error::{StoreError, StoreResult};
use crate::memberships::{self as rules, Standing, TIER_COLUMNS};
use crate::model::ChangeTopic;
use masthead_model::tiers::*;

fn tier_from_row(r: &Row<'_>) -> rusqlite::Result<Tier> {
    Ok(Tier {
        id: r.get(0)?,
        uuid: r.get(1)?,
        slug: r.get(2)?,
        name: r.get(3)?,
        description: r.get(4)?,
        kind: r.get(5)?,
        active: r.get(6)?,
        visibility: r.get(7)?,
        currency: r.get(8)?,
        monthly_price: r.get(9)?,
        yearly_price: r.get(10)?,
        trial_days: r.get(11)?,
        welcome_page_url: r.get(12)?,
        benefits: Vec::new(),
        created_ms: r.get(13)?,
        updated_ms: r.get(14)?,
    })
}

/// Fills in the benefits of `tiers` (one query for the lot).
fn fill(c: &Connection, tiers: &mut [Tier]) -> StoreResult<()> {
    if tiers.is_empty() {
        return Ok(());
    }
    // Ids come from the database, not input: safe to write inline.
    let ids = tiers
        .iter()
        .map(|t| t.id.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let mut by_tier: HashMap<i64, Vec<String>> = HashMap::new();
    let mut stmt = c.prepare(&format!(
        "SELECT tier_id, name FROM tier_benefits WHERE tier_id IN ({ids}) ORDER BY tier_id, position"
    ))?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
    for row in rows {
        let (id, name) = row?;
        by_tier.entry(id).or_default().push(name);
    }
    for t in tiers {
        t.benefits = by_tier.remove(&t.id).unwrap_or_default();
    }
    Ok(())
}

/// Every tier: the free one first, then paid ones as they were made.
pub fn tiers(c: &Connection) -> StoreResult<Vec<Tier>> {
    let mut list: Vec<Tier> = c
        .prepare_cached(&format!(
            "SELECT {TIER_COLUMNS} FROM tiers t ORDER BY t.type = 'paid', t.id"
        ))?
        .query_map([], tier_from_row)?
        .collect::<Result<_, _>>()?;
    fill(c, &mut list)?;
    Ok(list)
}

pub fn tier(c: &Connection, id: i64) -> StoreResult<Option<Tier>> {
    one(c, "t.id = ?1", &id)
}

pub fn tier_by_slug(c: &Connection, slug: String) -> StoreResult<Option<Tier>> {
    one(c, "t.slug = ?1", &slug)
}

fn one(c: &Connection, cond: &str, arg: &dyn rusqlite::ToSql) -> StoreResult<Option<Tier>> {
    let Some(t) = c
        .prepare_cached(&format!("SELECT {TIER_COLUMNS} FROM tiers t WHERE {cond}"))?
        .query_row([arg], tier_from_row)
        .optional()?
    else {
        return Ok(None);
    };
    let mut one = [t];
    fill(c, &mut one)?;
    let [t] = one;
    Ok(Some(t))
}

/// The ids of the tiers a post is open to.
pub fn post_tier_ids(c: &Connection, post_id: i64) -> StoreResult<Vec<i64>> {
    Ok(
        c.prepare_cached("SELECT tier_id FROM post_tiers WHERE post_id = ?1 ORDER BY tier_id")?
            .query_map([post_id], |r| r.get(0))?
            .collect::<Result<_, _>>()?,
    )
}

/// The tiers a post is open to, as the site and the APIs name them.
pub fn post_tier_refs(c: &Connection, post_id: i64) -> StoreResult<Vec<TierRef>> {
    Ok(c
        .prepare_cached(
            "SELECT t.id, t.slug, t.name, t.type = 'free' FROM post_tiers pt
             JOIN tiers t ON t.id = pt.tier_id WHERE pt.post_id = ?1 ORDER BY t.type = 'paid', t.id",
        )?
        .query_map([post_id], |r| {
            Ok(TierRef {
                id: r.get(0)?,
                slug: r.get(1)?,
                name: r.get(2)?,
                free: r.get(3)?,
            })
        })?
        .collect::<Result<_, _>>()?)
}

/// A member's access history, newest first.
pub fn member_events(c: &Connection, member_id: i64) -> StoreResult<Vec<MemberEvent>> {
    Ok(c.prepare_cached(
        "SELECT e.id, e.kind, t.name, e.until_at, u.name, e.note, e.created_at
             FROM member_events e
             LEFT JOIN tiers t ON t.id = e.tier_id
             LEFT JOIN staff_users u ON u.id = e.staff_id
             WHERE e.member_id = ?1 ORDER BY e.created_at DESC, e.id DESC",
    )?
    .query_map([member_id], |r| {
        Ok(MemberEvent {
            id: r.get(0)?,
            kind: r.get(1)?,
            tier_name: r.get(2)?,
            until_ms: r.get(3)?,
            staff_name: r.get(4)?,
            note: r.get(5)?,
            created_ms: r.get(6)?,
        })
    })?
    .collect::<Result<_, _>>()?)
}

/// A member's status, tier and comp end as stored.
impl Writer<'_> {
    fn set_benefits(&self, tier_id: i64, benefits: &[String]) -> StoreResult<()> {
        self.tx()
            .prepare_cached("DELETE FROM tier_benefits WHERE tier_id = ?1")?
            .execute([tier_id])?;
        let mut insert = self.tx().prepare_cached(
            "INSERT INTO tier_benefits (tier_id, position, name) VALUES (?1, ?2, ?3)",
        )?;
        for (i, b) in benefits.iter().enumerate() {
            insert.execute(params![tier_id, i as i64, b])?;
        }
        Ok(())
    }

    /// A new tier; `Conflict` if its slug is taken.
    pub fn create_tier(&self, t: &TierInput, now: i64) -> StoreResult<i64> {
        let t = rules::checked(t, &t.kind)?;
        self.tx()
            .prepare_cached(
                "INSERT INTO tiers (uuid, slug, name, description, type, active, visibility, currency,
                     monthly_price, yearly_price, trial_days, welcome_page_url, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13)",
            )?
            .execute(params![
                super::write::new_uuid()?,
                t.slug,
                t.name,
                t.description,
                t.kind,
                t.active,
                t.visibility,
                t.currency,
                t.monthly_price,
                t.yearly_price,
                t.trial_days,
                t.welcome_page_url,
                now
            ])
            .map_err(|e| rules::slug_conflict(e.into()))?;
        let id = self.tx().last_insert_rowid();
        self.set_benefits(id, &t.benefits)?;
        self.log_change(ChangeTopic::Site, None, None)?;
        Ok(id)
    }

    /// Rewrites a tier (its type stays what it is).
    pub fn update_tier(&self, id: i64, t: &TierInput, now: i64) -> StoreResult<()> {
        let kind: String = self
            .tx()
            .prepare_cached("SELECT type FROM tiers WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?
            .ok_or(StoreError::NotFound)?;
        let t = rules::checked(t, &kind)?;
        self.tx()
            .prepare_cached(
                "UPDATE tiers SET slug = ?2, name = ?3, description = ?4, active = ?5, visibility = ?6,
                     currency = ?7, monthly_price = ?8, yearly_price = ?9, trial_days = ?10,
                     welcome_page_url = ?11, updated_at = ?12
                 WHERE id = ?1",
            )?
            .execute(params![
                id,
                t.slug,
                t.name,
                t.description,
                t.active,
                t.visibility,
                t.currency,
                t.monthly_price,
                t.yearly_price,
                t.trial_days,
                t.welcome_page_url,
                now
            ])
            .map_err(|e| rules::slug_conflict(e.into()))?;
        self.set_benefits(id, &t.benefits)?;
        self.log_change(ChangeTopic::Site, None, None)
    }

    /// Archives a tier: no longer offered; its members and posts keep it.
    pub fn archive_tier(&self, id: i64, now: i64) -> StoreResult<()> {
        let kind: String = self
            .tx()
            .prepare_cached("SELECT type FROM tiers WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?
            .ok_or(StoreError::NotFound)?;
        if kind == "free" {
            return Err(StoreError::Invalid(rules::FREE_TIER_STAYS.into()));
        }
        self.tx()
            .prepare_cached("UPDATE tiers SET active = 0, updated_at = ?2 WHERE id = ?1")?
            .execute(params![id, now])?;
        self.log_change(ChangeTopic::Site, None, None)
    }

    /// Replaces the tiers a post is open to (unknown ids are left out).
    pub(crate) fn set_post_tiers(&self, post_id: i64, tier_ids: &[i64]) -> StoreResult<()> {
        self.tx()
            .prepare_cached("DELETE FROM post_tiers WHERE post_id = ?1")?
            .execute([post_id])?;
        let mut insert = self.tx().prepare_cached(
            "INSERT INTO post_tiers (post_id, tier_id) SELECT ?1, id FROM tiers WHERE id = ?2
             ON CONFLICT DO NOTHING",
        )?;
        for t in tier_ids {
            insert.execute(params![post_id, t])?;
        }
        Ok(())
    }

    /// Adds an entry to a member's access history.
    pub fn record_member_event(&self, e: &NewMemberEvent, now: i64) -> StoreResult<i64> {
        self.tx()
            .prepare_cached(
                "INSERT INTO member_events (member_id, kind, tier_id, until_at, staff_id, note, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                e.member_id,
                e.kind,
                e.tier_id,
                e.until_ms,
                e.staff_id,
                e.note,
                now
            ])?;
        Ok(self.tx().last_insert_rowid())
    }

    pub(crate) fn standing(&self, member_id: i64) -> StoreResult<Standing> {
        self.tx()
            .prepare_cached(
                "SELECT status, tier_id, comp_expires_at, comp_tier_id FROM members WHERE id = ?1",
            )?
            .query_row([member_id], |r| {
                Ok(Standing {
                    status: r.get(0)?,
                    tier_id: r.get(1)?,
                    comp_expires_ms: r.get(2)?,
                    comp_tier_id: r.get(3)?,
                })
            })
            .optional()?
            .ok_or(StoreError::NotFound)
    }

    /// Gives complimentary access to a paid tier until `until` (`None`:
    /// no end), recorded in the member's history as given by `staff_id`.
    pub fn give_comp(
        &self,
        member_id: i64,
        tier_id: i64,
        until: Option<i64>,
        staff_id: Option<i64>,
        now: i64,
    ) -> StoreResult<Result<CompGiven, CompRefused>> {
        let standing = self.standing(member_id)?;
        let paid_tier = self
            .tx()
            .prepare_cached("SELECT 1 FROM tiers WHERE id = ?1 AND type = 'paid' AND active = 1")?
            .query_row([tier_id], |_| Ok(()))
            .optional()?
            .is_some();
        if let Some(refused) = rules::comp_refused(paid_tier, until, now) {
            return Ok(Err(refused));
        }
        let given = rules::comp_outcome(&standing, now);
        match given {
            CompGiven::Comped => self
                .tx()
                .prepare_cached(
                    "UPDATE members SET status = 'comped', tier_id = ?2, comp_expires_at = ?3,
                         comp_tier_id = ?2 WHERE id = ?1",
                )?
                .execute(params![member_id, tier_id, until])?,
            CompGiven::Recorded => self
                .tx()
                .prepare_cached(
                    "UPDATE members SET comp_expires_at = ?2, comp_tier_id = ?3 WHERE id = ?1",
                )?
                .execute(params![member_id, until, tier_id])?,
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
        )?;
        self.enqueue_webhooks("member.edited", member_id)?;
        self.log_change(ChangeTopic::Member, None, Some(member_id))?;
        Ok(Ok(given))
    }

    /// Ends a member's complimentary access now: a `comped` member becomes
    /// `free`; a paying member keeps the subscription and loses the comp
    /// that would have followed it.
    pub fn end_comp(
        &self,
        member_id: i64,
        staff_id: Option<i64>,
        now: i64,
    ) -> StoreResult<Result<(), CompRefused>> {
        let standing = self.standing(member_id)?;
        let comp_tier = standing.comp(now).and_then(|c| c.tier_id);
        match rules::comp_to_end(&standing, now) {
            None => return Ok(Err(CompRefused::NoComp)),
            Some(rules::Ending::Comp) => self
                .tx()
                .prepare_cached(
                    "UPDATE members SET status = 'free', tier_id = NULL, comp_expires_at = NULL,
                         comp_tier_id = NULL WHERE id = ?1",
                )?
                .execute([member_id])?,
            Some(rules::Ending::FollowUp) => self
                .tx()
                .prepare_cached(
                    "UPDATE members SET comp_expires_at = NULL, comp_tier_id = NULL WHERE id = ?1",
                )?
                .execute([member_id])?,
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
        )?;
        self.enqueue_webhooks("member.edited", member_id)?;
        self.log_change(ChangeTopic::Member, None, Some(member_id))?;
        Ok(Ok(()))
    }

    /// Writes down the comps that ended by `now` (readers already count
    /// them as free): each member becomes `free`, with a history entry.
    pub fn end_expired_comps(&self, now: i64) -> StoreResult<usize> {
        let ended: Vec<(i64, Option<i64>, Option<i64>)> = self
            .tx()
            .prepare_cached(
                "SELECT id, tier_id, comp_expires_at FROM members
                 WHERE status = 'comped' AND comp_expires_at <= ?1 ORDER BY id LIMIT 500",
            )?
            .query_map([now], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        for (member_id, tier_id, until) in &ended {
            self.tx()
                .prepare_cached(
                    "UPDATE members SET status = 'free', tier_id = NULL, comp_expires_at = NULL,
                         comp_tier_id = NULL WHERE id = ?1",
                )?
                .execute([member_id])?;
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
            )?;
            self.enqueue_webhooks("member.edited", *member_id)?;
            self.log_change(ChangeTopic::Member, None, Some(*member_id))?;
        }
        Ok(ended.len())
    }
}
