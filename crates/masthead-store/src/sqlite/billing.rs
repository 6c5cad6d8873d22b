//! Paid memberships on SQLite (issue 11): Stripe customers, the mirror of
//! subscriptions, products and prices per tier, handled webhook events and
//! members' history. The rules shared with PostgreSQL are in `billing.rs`;
//! the twin is `postgres/billing.rs`.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::write::Writer;
use crate::error::StoreResult;
use crate::model::ChangeTopic;
use crate::paid::{self as billing, Settled, SubscriptionLine};
use masthead_domain::billing::PAST_DUE_GRACE_MS;
use masthead_model::billing::*;

/// Handled events are kept this long: Stripe retries for three days.
const EVENTS_KEPT_MS: i64 = 30 * 86_400_000;

const SUBSCRIPTION_COLUMNS: &str = "subscription_id, customer_id, member_id, stripe_price_id, \
     stripe_product_id, tier_id, status, cancel_at_period_end, current_period_end, trial_end_at, \
     amount, currency, cadence, updated_at, current_period_start";

fn subscription_from_row(r: &Row<'_>) -> rusqlite::Result<StripeSubscription> {
    Ok(StripeSubscription {
        subscription_id: r.get(0)?,
        customer_id: r.get(1)?,
        member_id: r.get(2)?,
        price_id: r.get(3)?,
        product_id: r.get(4)?,
        tier_id: r.get(5)?,
        status: r.get(6)?,
        cancel_at_period_end: r.get(7)?,
        current_period_end_ms: r.get(8)?,
        trial_end_ms: r.get(9)?,
        amount: r.get(10)?,
        currency: r.get(11)?,
        cadence: r.get(12)?,
        updated_ms: r.get(13)?,
        current_period_start_ms: r.get(14)?,
    })
}

fn price_from_row(r: &Row<'_>) -> rusqlite::Result<StripePrice> {
    Ok(StripePrice {
        price_id: r.get(0)?,
        product_id: r.get(1)?,
        tier_id: r.get(2)?,
        amount: r.get(3)?,
        currency: r.get(4)?,
        cadence: r.get(5)?,
        active: r.get(6)?,
    })
}

pub fn stripe_customer_member(c: &Connection, customer_id: &str) -> StoreResult<Option<i64>> {
    Ok(
        c.prepare_cached("SELECT member_id FROM stripe_customers WHERE customer_id = ?1")?
            .query_row([customer_id], |r| r.get(0))
            .optional()?,
    )
}

pub fn stripe_event_seen(c: &Connection, event_id: &str) -> StoreResult<bool> {
    Ok(
        c.prepare_cached("SELECT 1 FROM stripe_events WHERE event_id = ?1")?
            .query_row([event_id], |_| Ok(()))
            .optional()?
            .is_some(),
    )
}

pub fn stripe_product_of_tier(c: &Connection, tier_id: i64) -> StoreResult<Option<String>> {
    Ok(c.prepare_cached(
        "SELECT stripe_product_id FROM stripe_products WHERE tier_id = ?1
             ORDER BY created_at DESC, stripe_product_id LIMIT 1",
    )?
    .query_row([tier_id], |r| r.get(0))
    .optional()?)
}

pub fn stripe_prices_of_tier(c: &Connection, tier_id: i64) -> StoreResult<Vec<StripePrice>> {
    Ok(c.prepare_cached(
        "SELECT stripe_price_id, stripe_product_id, tier_id, amount, currency, cadence, active
             FROM stripe_prices WHERE tier_id = ?1
             ORDER BY active DESC, created_at DESC, stripe_price_id",
    )?
    .query_map([tier_id], price_from_row)?
    .collect::<Result<_, _>>()?)
}

pub fn member_billing(c: &Connection, member_id: i64) -> StoreResult<MemberBilling> {
    let customer_id = c
        .prepare_cached(
            "SELECT customer_id FROM stripe_customers WHERE member_id = ?1
             ORDER BY created_at DESC, customer_id LIMIT 1",
        )?
        .query_row([member_id], |r| r.get(0))
        .optional()?;
    let subscriptions = c
        .prepare_cached(&format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM stripe_subscriptions WHERE member_id = ?1
             ORDER BY updated_at DESC, subscription_id"
        ))?
        .query_map([member_id], subscription_from_row)?
        .collect::<Result<_, _>>()?;
    Ok(MemberBilling {
        customer_id,
        subscriptions,
    })
}

pub fn subscriptions_of_members(
    c: &Connection,
    member_ids: Vec<i64>,
) -> StoreResult<Vec<MemberSubscription>> {
    if member_ids.is_empty() {
        return Ok(Vec::new());
    }
    // Integers, not input text: safe to write inline.
    let list = member_ids
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let columns = SUBSCRIPTION_COLUMNS.replace(", ", ", s.");
    Ok(c.prepare(&format!(
        "SELECT s.{columns}, s.created_at, COALESCE(c.email, '')
         FROM stripe_subscriptions s LEFT JOIN stripe_customers c ON c.customer_id = s.customer_id
         WHERE s.member_id IN ({list})
         ORDER BY s.member_id, s.created_at DESC, s.subscription_id"
    ))?
    .query_map([], |r| {
        Ok(MemberSubscription {
            subscription: subscription_from_row(r)?,
            created_ms: r.get(15)?,
            customer_email: r.get(16)?,
        })
    })?
    .collect::<Result<_, _>>()?)
}

impl Writer<'_> {
    /// A line of the member's history (`member_events`, migration 0018),
    /// written by Stripe's side: kinds `subscription`, `status`, `billing`.
    fn billing_event(&self, member_id: i64, kind: &str, detail: &str, now: i64) -> StoreResult<()> {
        self.tx()
            .prepare_cached(
                "INSERT INTO member_events (member_id, kind, note, created_at) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![member_id, kind, detail, now])?;
        Ok(())
    }

    pub fn link_stripe_customer(&self, link: &CustomerLink) -> StoreResult<CustomerLinked> {
        if let Some(member_id) = stripe_customer_member(self.tx(), &link.customer_id)? {
            return Ok(CustomerLinked::Member {
                member_id,
                created: false,
            });
        }
        let by_id = match link.member_id {
            Some(id) => self
                .tx()
                .prepare_cached("SELECT id FROM members WHERE id = ?1")?
                .query_row([id], |r| r.get::<_, i64>(0))
                .optional()?,
            None => None,
        };
        let by_email = match (by_id, &link.email) {
            (None, Some(email)) => self
                .tx()
                .prepare_cached("SELECT id FROM members WHERE email_key = ?1")?
                .query_row([email.key()], |r| r.get::<_, i64>(0))
                .optional()?,
            _ => None,
        };
        let (member_id, created) = match (by_id.or(by_email), &link.email) {
            (Some(id), _) => (id, false),
            (None, Some(email)) if link.create_member => {
                let Some(id) = self.insert_member(email, "free", "stripe", link.now_ms)? else {
                    return Ok(CustomerLinked::NoMember);
                };
                self.tx()
                    .prepare_cached("UPDATE members SET name = ?2 WHERE id = ?1")?
                    .execute(params![id, link.name])?;
                // The newsletters that new members get, as a sign-up would.
                self.tx()
                    .prepare_cached(
                        "INSERT INTO member_newsletters (member_id, newsletter_id, created_at)
                         SELECT ?1, id, ?2 FROM newsletters
                         WHERE status = 'active' AND subscribe_on_signup = 1",
                    )?
                    .execute(params![id, link.now_ms])?;
                self.billing_event(
                    id,
                    "billing",
                    "Joined by subscribing through Stripe Checkout",
                    link.now_ms,
                )?;
                (id, true)
            }
            _ => return Ok(CustomerLinked::NoMember),
        };
        self.tx()
            .prepare_cached(
                "INSERT INTO stripe_customers (customer_id, member_id, email, created_at)
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (customer_id) DO NOTHING",
            )?
            .execute(params![
                link.customer_id,
                member_id,
                link.email.as_ref().map_or("", |e| e.as_str()),
                link.now_ms
            ])?;
        self.billing_event(
            member_id,
            "billing",
            &format!("Linked to Stripe customer {}", link.customer_id),
            link.now_ms,
        )?;
        // Subscriptions that arrived before the customer was anyone's are
        // this member's now.
        let adopted = self
            .tx()
            .prepare_cached(
                "UPDATE stripe_subscriptions SET member_id = ?2
                 WHERE customer_id = ?1 AND member_id IS NULL",
            )?
            .execute(params![link.customer_id, member_id])?;
        if adopted > 0 || created {
            self.settle_member(member_id, link.now_ms)?;
            self.log_change(ChangeTopic::Member, None, Some(member_id))?;
        }
        Ok(CustomerLinked::Member { member_id, created })
    }

    /// The tier a price (or, failing that, its product) was made for.
    fn tier_of_price(&self, price_id: &str, product_id: &str) -> StoreResult<Option<i64>> {
        let by_price = self
            .tx()
            .prepare_cached("SELECT tier_id FROM stripe_prices WHERE stripe_price_id = ?1")?
            .query_row([price_id], |r| r.get(0))
            .optional()?;
        if by_price.is_some() {
            return Ok(by_price);
        }
        Ok(self
            .tx()
            .prepare_cached("SELECT tier_id FROM stripe_products WHERE stripe_product_id = ?1")?
            .query_row([product_id], |r| r.get(0))
            .optional()?)
    }

    /// Mirrors `s`, fetched from Stripe by a fetch that began at `fetched`,
    /// unless a fetch that began later was mirrored already (writes are one
    /// at a time here, so the check and the write cannot be split).
    pub fn sync_subscription(
        &self,
        s: &SubscriptionState,
        fetched: i64,
        now: i64,
    ) -> StoreResult<SubscriptionSynced> {
        let before = self
            .tx()
            .prepare_cached(&format!(
                "SELECT {SUBSCRIPTION_COLUMNS}, fetched_at FROM stripe_subscriptions
                 WHERE subscription_id = ?1"
            ))?
            .query_row([&s.subscription_id], |r| {
                Ok((subscription_from_row(r)?, r.get::<_, i64>(15)?))
            })
            .optional()?;
        if before.as_ref().is_some_and(|(_, at)| *at > fetched) {
            return Ok(SubscriptionSynced::Outdated);
        }
        let before = before.map(|(b, _)| b);
        let member_id = stripe_customer_member(self.tx(), &s.customer_id)?;
        let tier_id = self.tier_of_price(&s.price_id, &s.product_id)?;
        self.tx()
            .prepare_cached(
                "INSERT INTO stripe_subscriptions (subscription_id, customer_id, member_id,
                     stripe_price_id, stripe_product_id, tier_id, status, cancel_at_period_end,
                     current_period_end, trial_end_at, amount, currency, cadence, created_at, updated_at,
                     current_period_start, fetched_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14, ?15, ?16)
                 ON CONFLICT (subscription_id) DO UPDATE SET
                     customer_id = excluded.customer_id, member_id = excluded.member_id,
                     stripe_price_id = excluded.stripe_price_id,
                     stripe_product_id = excluded.stripe_product_id, tier_id = excluded.tier_id,
                     status = excluded.status, cancel_at_period_end = excluded.cancel_at_period_end,
                     current_period_end = excluded.current_period_end,
                     trial_end_at = excluded.trial_end_at, amount = excluded.amount,
                     currency = excluded.currency, cadence = excluded.cadence,
                     updated_at = excluded.updated_at,
                     current_period_start = excluded.current_period_start,
                     fetched_at = excluded.fetched_at",
            )?
            .execute(params![
                s.subscription_id,
                s.customer_id,
                member_id,
                s.price_id,
                s.product_id,
                tier_id,
                s.status,
                s.cancel_at_period_end,
                s.current_period_end_ms,
                s.trial_end_ms,
                s.amount,
                s.currency,
                s.cadence,
                now,
                s.current_period_start_ms,
                fetched
            ])?;
        // `updated_at` dates the last change Stripe reported (the revenue
        // figures date a cancellation by it): a repeat of the same state,
        // or an import of it again, leaves it as it was.
        if let Some(b) = before.as_ref().filter(|b| b.state() == *s) {
            self.tx()
                .prepare_cached(
                    "UPDATE stripe_subscriptions SET updated_at = ?2 WHERE subscription_id = ?1",
                )?
                .execute(params![s.subscription_id, b.updated_ms])?;
        }
        let Some(member_id) = member_id else {
            return Ok(SubscriptionSynced::UnknownCustomer);
        };
        let before_state = before.as_ref().map(StripeSubscription::state);
        let line = billing::subscription_line(s, before_state.as_ref());
        if let Some(line) = &line {
            self.billing_event(member_id, "subscription", line, now)?;
        }
        let (settled, status_changed) = self.settle_member(member_id, now)?;
        if line.is_some() || status_changed {
            self.log_change(ChangeTopic::Member, None, Some(member_id))?;
        }
        Ok(SubscriptionSynced::Member {
            member_id,
            status: settled.status.to_owned(),
            tier_id: settled.tier_id,
            changed: line.is_some() || status_changed,
        })
    }

    /// Settles a member's status from their subscriptions; writes the change
    /// (with its history line and `member.edited`) when there is one.
    pub(crate) fn settle_member(&self, member_id: i64, now: i64) -> StoreResult<(Settled, bool)> {
        let standing = self.standing(member_id)?;
        let lines: Vec<SubscriptionLine> = self
            .tx()
            .prepare_cached(
                "SELECT status, current_period_start, current_period_end, tier_id
                 FROM stripe_subscriptions WHERE member_id = ?1",
            )?
            .query_map([member_id], |r| {
                Ok(SubscriptionLine {
                    status: r.get(0)?,
                    current_period_start_ms: r.get(1)?,
                    current_period_end_ms: r.get(2)?,
                    tier_id: r.get(3)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        let settled = billing::settle(&lines, &standing, now);
        if billing::comp_to_keep(&standing, &settled, now) {
            self.tx()
                .prepare_cached(
                    "UPDATE members SET comp_tier_id = COALESCE(tier_id,
                         (SELECT id FROM tiers WHERE type = 'paid' AND active = 1 ORDER BY id LIMIT 1))
                     WHERE id = ?1",
                )?
                .execute([member_id])?;
        }
        let (current, current_tier) = (standing.status, standing.tier_id);
        // A tier Masthead no longer has is not written (tiers are archived,
        // never deleted, but a price may name one from another site).
        let tier_id: Option<i64> = match settled.tier_id {
            Some(t) => self
                .tx()
                .prepare_cached("SELECT id FROM tiers WHERE id = ?1")?
                .query_row([t], |r| r.get(0))
                .optional()?,
            None => None,
        };
        let settled = Settled { tier_id, ..settled };
        if settled.status == current && settled.tier_id == current_tier {
            return Ok((settled, false));
        }
        self.tx()
            .prepare_cached("UPDATE members SET status = ?2, tier_id = ?3 WHERE id = ?1")?
            .execute(params![member_id, settled.status, settled.tier_id])?;
        if settled.status != current {
            self.billing_event(
                member_id,
                "status",
                &billing::status_line(&current, settled.status),
                now,
            )?;
        }
        self.enqueue_webhooks("member.edited", member_id)?;
        Ok((settled, true))
    }

    pub fn lapse_overdue_members(&self, now: i64) -> StoreResult<Vec<i64>> {
        let ids: Vec<i64> = self
            .tx()
            .prepare_cached(
                "SELECT DISTINCT m.id FROM members m
                 JOIN stripe_subscriptions s ON s.member_id = m.id
                 WHERE m.status = 'paid' AND s.status = 'past_due'
                   AND COALESCE(s.current_period_start, s.current_period_end) < ?1
                 ORDER BY m.id",
            )?
            .query_map([now - PAST_DUE_GRACE_MS], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut lapsed = Vec::new();
        for id in ids {
            if self.settle_member(id, now)?.1 {
                self.log_change(ChangeTopic::Member, None, Some(id))?;
                lapsed.push(id);
            }
        }
        Ok(lapsed)
    }

    pub fn record_stripe_event(
        &self,
        event_id: &str,
        event_type: &str,
        outcome: &str,
        now: i64,
    ) -> StoreResult<bool> {
        self.tx()
            .prepare_cached("DELETE FROM stripe_events WHERE received_at < ?1")?
            .execute([now - EVENTS_KEPT_MS])?;
        let n = self
            .tx()
            .prepare_cached(
                "INSERT INTO stripe_events (event_id, event_type, outcome, received_at)
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (event_id) DO NOTHING",
            )?
            .execute(params![event_id, event_type, outcome, now])?;
        Ok(n == 1)
    }

    pub fn save_stripe_product(&self, tier_id: i64, product_id: &str, now: i64) -> StoreResult<()> {
        self.tx()
            .prepare_cached(
                "INSERT INTO stripe_products (stripe_product_id, tier_id, created_at)
                 VALUES (?1, ?2, ?3) ON CONFLICT (stripe_product_id) DO NOTHING",
            )?
            .execute(params![product_id, tier_id, now])?;
        Ok(())
    }

    pub fn save_stripe_price(&self, p: &StripePrice, now: i64) -> StoreResult<()> {
        self.tx()
            .prepare_cached(
                "UPDATE stripe_prices SET active = 0
                 WHERE tier_id = ?1 AND cadence = ?2 AND stripe_price_id <> ?3",
            )?
            .execute(params![p.tier_id, p.cadence, p.price_id])?;
        self.tx()
            .prepare_cached(
                "INSERT INTO stripe_prices (stripe_price_id, stripe_product_id, tier_id, amount,
                     currency, cadence, active, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7)
                 ON CONFLICT (stripe_price_id) DO UPDATE SET active = 1",
            )?
            .execute(params![
                p.price_id,
                p.product_id,
                p.tier_id,
                p.amount,
                p.currency,
                p.cadence,
                now
            ])?;
        Ok(())
    }

    /// Paid memberships from a Ghost export, inside the import's
    /// transaction (issue 11, item 9): tiers match by slug, Stripe objects by
    /// their ids, so running an import again changes nothing.
    pub(crate) fn import_billing(
        &self,
        b: &ImportBilling,
        report: &mut crate::units::ImportOutcome,
        now: i64,
    ) -> StoreResult<()> {
        use crate::StoreError;
        use std::collections::HashMap;
        let mut tiers: HashMap<&str, i64> = HashMap::new();
        for t in &b.tiers {
            // A site has one free tier, whatever the file calls its own.
            let found = if t.tier.kind == "free" {
                super::tiers::tiers(self.tx())?
                    .into_iter()
                    .find(|x| x.kind == "free")
            } else {
                super::tiers::tier_by_slug(self.tx(), t.tier.slug.clone())?
            };
            let id = match found {
                Some(found) => {
                    report.tiers_present += 1;
                    found.id
                }
                None => match self.create_tier(&t.tier, now) {
                    Ok(id) => {
                        report.tiers_added += 1;
                        id
                    }
                    Err(StoreError::Invalid(why)) => {
                        report
                            .skipped
                            .push((format!("tier {:?}", t.tier.name), why));
                        continue;
                    }
                    Err(e) => return Err(e),
                },
            };
            tiers.insert(&t.key, id);
        }
        for p in &b.products {
            match tiers.get(p.tier_key.as_str()) {
                Some(&tier) => self.save_stripe_product(tier, &p.product_id, p.created_ms)?,
                None => report.skipped.push((
                    format!("Stripe product {}", p.product_id),
                    "its tier is not in the file".into(),
                )),
            }
        }
        for p in &b.prices {
            let Some(&tier_id) = tiers.get(p.tier_key.as_str()) else {
                report.skipped.push((
                    format!("Stripe price {}", p.price.price_id),
                    "its product's tier is not in the file".into(),
                ));
                continue;
            };
            self.tx()
                .prepare_cached(
                    "INSERT INTO stripe_prices (stripe_price_id, stripe_product_id, tier_id, amount,
                         currency, cadence, active, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (stripe_price_id) DO NOTHING",
                )?
                .execute(params![
                    p.price.price_id,
                    p.price.product_id,
                    tier_id,
                    p.price.amount,
                    p.price.currency,
                    p.price.cadence,
                    p.price.active,
                    p.created_ms
                ])?;
        }
        for c in &b.customers {
            let link = CustomerLink {
                customer_id: c.customer_id.clone(),
                email: Some(c.member.clone()),
                member_id: None,
                create_member: false,
                name: String::new(),
                now_ms: c.created_ms,
            };
            match self.link_stripe_customer(&link)? {
                CustomerLinked::Member { .. } => report.customers_linked += 1,
                CustomerLinked::NoMember => report.skipped.push((
                    format!("Stripe customer {}", c.customer_id),
                    "no member has its address".into(),
                )),
            }
        }
        for s in &b.subscriptions {
            match self.sync_subscription(&s.state, 0, now)? {
                SubscriptionSynced::Member { changed, .. } => {
                    report.subscriptions_written += usize::from(changed)
                }
                SubscriptionSynced::Outdated => continue,
                SubscriptionSynced::UnknownCustomer => report.skipped.push((
                    format!("subscription {}", s.state.subscription_id),
                    "its customer is no member's (kept, unlinked)".into(),
                )),
            }
            self.tx()
                .prepare_cached(
                    "UPDATE stripe_subscriptions SET created_at = ?2 WHERE subscription_id = ?1",
                )?
                .execute(params![s.state.subscription_id, s.created_ms])?;
        }
        for c in &b.comps {
            let Some(&tier) = tiers.get(c.tier_key.as_str()) else {
                report.skipped.push((
                    format!("comp of {}", c.member.as_str()),
                    "its tier is not in the file".into(),
                ));
                continue;
            };
            let member: Option<i64> = self
                .tx()
                .prepare_cached("SELECT id FROM members WHERE email_key = ?1")?
                .query_row([c.member.key()], |r| r.get(0))
                .optional()?;
            let Some(member) = member else { continue };
            let n = self
                .tx()
                .prepare_cached(
                    "UPDATE members SET comp_tier_id = ?2, comp_expires_at = ?3,
                         tier_id = CASE WHEN status = 'comped' AND tier_id IS NULL THEN ?2 ELSE tier_id END
                     WHERE id = ?1 AND comp_tier_id IS NULL",
                )?
                .execute(params![member, tier, c.until_ms])?;
            if n > 0 {
                report.comps_set += 1;
                self.record_member_event(
                    &masthead_model::tiers::NewMemberEvent {
                        member_id: member,
                        kind: crate::memberships::COMP_GIVEN.into(),
                        tier_id: Some(tier),
                        until_ms: c.until_ms,
                        staff_id: None,
                        note: "From a Ghost import".into(),
                    },
                    now,
                )?;
                if self.settle_member(member, now)?.1 {
                    self.log_change(ChangeTopic::Member, None, Some(member))?;
                }
            }
        }
        Ok(())
    }
}

/// Paid memberships for `masthead export`.
pub fn billing_export(c: &Connection) -> StoreResult<BillingExport> {
    let products = c
        .prepare(
            "SELECT stripe_product_id, tier_id, created_at FROM stripe_products
             ORDER BY created_at, stripe_product_id",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    let prices = c
        .prepare(
            "SELECT stripe_price_id, stripe_product_id, tier_id, amount, currency, cadence, active,
                    created_at
             FROM stripe_prices ORDER BY created_at, stripe_price_id",
        )?
        .query_map([], |r| Ok((price_from_row(r)?, r.get(7)?)))?
        .collect::<Result<_, _>>()?;
    let customers = c
        .prepare(
            "SELECT customer_id, member_id, email, created_at FROM stripe_customers
             ORDER BY created_at, customer_id",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<Result<_, _>>()?;
    let subscriptions = c
        .prepare(&format!(
            "SELECT {SUBSCRIPTION_COLUMNS}, created_at FROM stripe_subscriptions
             WHERE customer_id IN (SELECT customer_id FROM stripe_customers)
             ORDER BY created_at, subscription_id"
        ))?
        .query_map([], |r| Ok((subscription_from_row(r)?, r.get(15)?)))?
        .collect::<Result<_, _>>()?;
    let member_tiers = c
        .prepare(
            "SELECT id, tier_id, CASE WHEN status = 'comped' THEN comp_expires_at END
             FROM members WHERE tier_id IS NOT NULL ORDER BY id",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    Ok(BillingExport {
        products,
        prices,
        customers,
        subscriptions,
        member_tiers,
    })
}
