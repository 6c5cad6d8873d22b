//! Paid memberships on PostgreSQL: the twin of `sqlite/billing.rs` (read
//! its notes). Transactions run side by side here: settling a member locks
//! the member's row first (`FOR UPDATE`), so two webhooks for one member
//! settle one after the other, each seeing the other's subscription; every
//! write takes a subscription's row before its member's, never the reverse.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::sql::{exec, map, row_one, row_opt, rows};
use super::write::PgWriter;
use crate::error::StoreResult;
use crate::model::ChangeTopic;
use crate::paid::{self as billing, Settled, SubscriptionLine};
use masthead_domain::billing::PAST_DUE_GRACE_MS;
use masthead_model::billing::*;

const EVENTS_KEPT_MS: i64 = 30 * 86_400_000;

/// The first key of the advisory locks that serialise syncs of one
/// subscription ("ST"); the second is a hash of its id.
const SUBSCRIPTION_LOCK_CLASS: i32 = 0x5354;

const SUBSCRIPTION_COLUMNS: &str = "subscription_id, customer_id, member_id, stripe_price_id, \
     stripe_product_id, tier_id, status, cancel_at_period_end, current_period_end, trial_end_at, \
     amount, currency, cadence, updated_at, current_period_start";

fn subscription_from_row(r: &Row) -> StoreResult<StripeSubscription> {
    Ok(StripeSubscription {
        subscription_id: r.try_get(0)?,
        customer_id: r.try_get(1)?,
        member_id: r.try_get(2)?,
        price_id: r.try_get(3)?,
        product_id: r.try_get(4)?,
        tier_id: r.try_get(5)?,
        status: r.try_get(6)?,
        cancel_at_period_end: r.try_get(7)?,
        current_period_end_ms: r.try_get(8)?,
        trial_end_ms: r.try_get(9)?,
        amount: r.try_get(10)?,
        currency: r.try_get(11)?,
        cadence: r.try_get(12)?,
        updated_ms: r.try_get(13)?,
        current_period_start_ms: r.try_get(14)?,
    })
}

fn price_from_row(r: &Row) -> StoreResult<StripePrice> {
    Ok(StripePrice {
        price_id: r.try_get(0)?,
        product_id: r.try_get(1)?,
        tier_id: r.try_get(2)?,
        amount: r.try_get(3)?,
        currency: r.try_get(4)?,
        cadence: r.try_get(5)?,
        active: r.try_get(6)?,
    })
}

/// The database server's clock, in Unix milliseconds (`clock_timestamp`,
/// not the transaction's start).
pub async fn clock_ms(c: &impl GenericClient) -> StoreResult<i64> {
    Ok(row_one(
        c,
        "SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::BIGINT",
        &[],
    )
    .await?
    .try_get(0)?)
}

pub async fn stripe_customer_member(
    c: &impl GenericClient,
    customer_id: &str,
) -> StoreResult<Option<i64>> {
    row_opt(
        c,
        "SELECT member_id FROM stripe_customers WHERE customer_id = $1",
        &[&customer_id],
    )
    .await?
    .map(|r| Ok(r.try_get(0)?))
    .transpose()
}

pub async fn stripe_event_seen(c: &impl GenericClient, event_id: &str) -> StoreResult<bool> {
    Ok(row_opt(
        c,
        "SELECT 1 FROM stripe_events WHERE event_id = $1",
        &[&event_id],
    )
    .await?
    .is_some())
}

pub async fn stripe_product_of_tier(
    c: &impl GenericClient,
    tier_id: i64,
) -> StoreResult<Option<String>> {
    row_opt(
        c,
        "SELECT stripe_product_id FROM stripe_products WHERE tier_id = $1
         ORDER BY created_at DESC, stripe_product_id LIMIT 1",
        &[&tier_id],
    )
    .await?
    .map(|r| Ok(r.try_get(0)?))
    .transpose()
}

pub async fn stripe_prices_of_tier(
    c: &impl GenericClient,
    tier_id: i64,
) -> StoreResult<Vec<StripePrice>> {
    let rs = rows(
        c,
        "SELECT stripe_price_id, stripe_product_id, tier_id, amount, currency, cadence, active
         FROM stripe_prices WHERE tier_id = $1
         ORDER BY active DESC, created_at DESC, stripe_price_id",
        &[&tier_id],
    )
    .await?;
    map(&rs, price_from_row)
}

pub async fn member_billing(c: &impl GenericClient, member_id: i64) -> StoreResult<MemberBilling> {
    let customer_id = row_opt(
        c,
        "SELECT customer_id FROM stripe_customers WHERE member_id = $1
         ORDER BY created_at DESC, customer_id LIMIT 1",
        &[&member_id],
    )
    .await?
    .map(|r| r.try_get(0))
    .transpose()?;
    let rs = rows(
        c,
        &format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM stripe_subscriptions WHERE member_id = $1
             ORDER BY updated_at DESC, subscription_id"
        ),
        &[&member_id],
    )
    .await?;
    Ok(MemberBilling {
        customer_id,
        subscriptions: map(&rs, subscription_from_row)?,
    })
}

pub async fn subscriptions_of_members(
    c: &impl GenericClient,
    member_ids: Vec<i64>,
) -> StoreResult<Vec<MemberSubscription>> {
    if member_ids.is_empty() {
        return Ok(Vec::new());
    }
    let columns = SUBSCRIPTION_COLUMNS.replace(", ", ", s.");
    let rs = rows(
        c,
        &format!(
            "SELECT s.{columns}, s.created_at, COALESCE(c.email, '')
             FROM stripe_subscriptions s LEFT JOIN stripe_customers c ON c.customer_id = s.customer_id
             WHERE s.member_id = ANY($1)
             ORDER BY s.member_id, s.created_at DESC, s.subscription_id"
        ),
        &[&member_ids],
    )
    .await?;
    map(&rs, |r| {
        Ok(MemberSubscription {
            subscription: subscription_from_row(r)?,
            created_ms: r.try_get(15)?,
            customer_email: r.try_get(16)?,
        })
    })
}

impl PgWriter<'_> {
    /// A line of the member's history (`member_events`, migration 0018).
    async fn billing_event(
        &self,
        member_id: i64,
        kind: &str,
        detail: &str,
        now: i64,
    ) -> StoreResult<()> {
        exec(
            self.tx(),
            "INSERT INTO member_events (member_id, kind, note, created_at) VALUES ($1, $2, $3, $4)",
            &[&member_id, &kind, &detail, &now],
        )
        .await?;
        Ok(())
    }

    async fn member_by_email_key(&self, key: &str) -> StoreResult<Option<i64>> {
        row_opt(
            self.tx(),
            "SELECT id FROM members WHERE email_key = $1",
            &[&key],
        )
        .await?
        .map(|r| Ok(r.try_get(0)?))
        .transpose()
    }

    pub async fn link_stripe_customer(&self, link: &CustomerLink) -> StoreResult<CustomerLinked> {
        if let Some(member_id) = stripe_customer_member(self.tx(), &link.customer_id).await? {
            return Ok(CustomerLinked::Member {
                member_id,
                created: false,
            });
        }
        let by_id: Option<i64> = match link.member_id {
            Some(id) => row_opt(self.tx(), "SELECT id FROM members WHERE id = $1", &[&id])
                .await?
                .map(|r| r.try_get(0))
                .transpose()?,
            None => None,
        };
        let by_email = match (by_id, &link.email) {
            (None, Some(email)) => self.member_by_email_key(email.key()).await?,
            _ => None,
        };
        let (member_id, created) = match (by_id.or(by_email), &link.email) {
            (Some(id), _) => (id, false),
            (None, Some(email)) if link.create_member => {
                match self
                    .insert_member(email, "free", "stripe", link.now_ms)
                    .await?
                {
                    Some(id) => {
                        exec(
                            self.tx(),
                            "UPDATE members SET name = $2 WHERE id = $1",
                            &[&id, &link.name],
                        )
                        .await?;
                        exec(
                            self.tx(),
                            "INSERT INTO member_newsletters (member_id, newsletter_id, created_at)
                             SELECT $1, id, $2 FROM newsletters
                             WHERE status = 'active' AND subscribe_on_signup",
                            &[&id, &link.now_ms],
                        )
                        .await?;
                        self.billing_event(
                            id,
                            "billing",
                            "Joined by subscribing through Stripe Checkout",
                            link.now_ms,
                        )
                        .await?;
                        (id, true)
                    }
                    // The address joined meanwhile (another transaction).
                    None => match self.member_by_email_key(email.key()).await? {
                        Some(id) => (id, false),
                        None => return Ok(CustomerLinked::NoMember),
                    },
                }
            }
            _ => return Ok(CustomerLinked::NoMember),
        };
        let inserted = exec(
            self.tx(),
            "INSERT INTO stripe_customers (customer_id, member_id, email, created_at)
             VALUES ($1, $2, $3, $4) ON CONFLICT (customer_id) DO NOTHING",
            &[
                &link.customer_id,
                &member_id,
                &link.email.as_ref().map_or("", |e| e.as_str()),
                &link.now_ms,
            ],
        )
        .await?;
        if inserted == 0 {
            // Linked by a concurrent webhook: its member stands.
            if let Some(member_id) = stripe_customer_member(self.tx(), &link.customer_id).await? {
                return Ok(CustomerLinked::Member {
                    member_id,
                    created: false,
                });
            }
        }
        self.billing_event(
            member_id,
            "billing",
            &format!("Linked to Stripe customer {}", link.customer_id),
            link.now_ms,
        )
        .await?;
        let adopted = exec(
            self.tx(),
            "UPDATE stripe_subscriptions SET member_id = $2
             WHERE customer_id = $1 AND member_id IS NULL",
            &[&link.customer_id, &member_id],
        )
        .await?;
        if adopted > 0 || created {
            self.settle_member(member_id, link.now_ms).await?;
            self.log_change(ChangeTopic::Member, None, Some(member_id))
                .await?;
        }
        Ok(CustomerLinked::Member { member_id, created })
    }

    async fn tier_of_price(&self, price_id: &str, product_id: &str) -> StoreResult<Option<i64>> {
        if let Some(r) = row_opt(
            self.tx(),
            "SELECT tier_id FROM stripe_prices WHERE stripe_price_id = $1",
            &[&price_id],
        )
        .await?
        {
            return Ok(Some(r.try_get(0)?));
        }
        row_opt(
            self.tx(),
            "SELECT tier_id FROM stripe_products WHERE stripe_product_id = $1",
            &[&product_id],
        )
        .await?
        .map(|r| Ok(r.try_get(0)?))
        .transpose()
    }

    /// Mirrors `s`, fetched by a fetch that began at `fetched`, unless a
    /// fetch that began later was mirrored already. Syncs of one
    /// subscription take turns (a transaction-scoped advisory lock on its
    /// id, which also covers a first insert, where there is no row to lock
    /// yet), so the check and the write cannot be split by another instance.
    pub async fn sync_subscription(
        &self,
        s: &SubscriptionState,
        fetched: i64,
        now: i64,
    ) -> StoreResult<SubscriptionSynced> {
        exec(
            self.tx(),
            "SELECT pg_advisory_xact_lock($1, hashtext($2))",
            &[&SUBSCRIPTION_LOCK_CLASS, &s.subscription_id],
        )
        .await?;
        let before = row_opt(
            self.tx(),
            &format!(
                "SELECT {SUBSCRIPTION_COLUMNS}, fetched_at FROM stripe_subscriptions
                 WHERE subscription_id = $1 FOR UPDATE"
            ),
            &[&s.subscription_id],
        )
        .await?
        .map(|r| {
            Ok::<_, crate::error::StoreError>((
                subscription_from_row(&r)?,
                r.try_get::<_, i64>(15)?,
            ))
        })
        .transpose()?;
        if before.as_ref().is_some_and(|(_, at)| *at > fetched) {
            return Ok(SubscriptionSynced::Outdated);
        }
        let before = before.map(|(b, _)| b);
        let member_id = stripe_customer_member(self.tx(), &s.customer_id).await?;
        let tier_id = self.tier_of_price(&s.price_id, &s.product_id).await?;
        exec(
            self.tx(),
            "INSERT INTO stripe_subscriptions (subscription_id, customer_id, member_id,
                 stripe_price_id, stripe_product_id, tier_id, status, cancel_at_period_end,
                 current_period_end, trial_end_at, amount, currency, cadence, created_at, updated_at,
                 current_period_start, fetched_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, $15, $16)
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
            &[
                &s.subscription_id,
                &s.customer_id,
                &member_id,
                &s.price_id,
                &s.product_id,
                &tier_id,
                &s.status,
                &s.cancel_at_period_end,
                &s.current_period_end_ms,
                &s.trial_end_ms,
                &s.amount,
                &s.currency,
                &s.cadence,
                &now,
                &s.current_period_start_ms,
                &fetched,
            ],
        )
        .await?;
        // `updated_at` dates the last change Stripe reported (the revenue
        // figures date a cancellation by it): a repeat of the same state,
        // or an import of it again, leaves it as it was.
        if let Some(b) = before.as_ref().filter(|b| b.state() == *s) {
            exec(
                self.tx(),
                "UPDATE stripe_subscriptions SET updated_at = $2 WHERE subscription_id = $1",
                &[&s.subscription_id, &b.updated_ms],
            )
            .await?;
        }
        let Some(member_id) = member_id else {
            return Ok(SubscriptionSynced::UnknownCustomer);
        };
        let before_state = before.as_ref().map(StripeSubscription::state);
        let line = billing::subscription_line(s, before_state.as_ref());
        if let Some(line) = &line {
            self.billing_event(member_id, "subscription", line, now)
                .await?;
        }
        let (settled, status_changed) = self.settle_member(member_id, now).await?;
        if line.is_some() || status_changed {
            self.log_change(ChangeTopic::Member, None, Some(member_id))
                .await?;
        }
        Ok(SubscriptionSynced::Member {
            member_id,
            status: settled.status.to_owned(),
            tier_id: settled.tier_id,
            changed: line.is_some() || status_changed,
        })
    }

    pub(crate) async fn settle_member(
        &self,
        member_id: i64,
        now: i64,
    ) -> StoreResult<(Settled, bool)> {
        let standing = self.standing(member_id).await?;
        let rs = rows(
            self.tx(),
            "SELECT status, current_period_start, current_period_end, tier_id
             FROM stripe_subscriptions WHERE member_id = $1",
            &[&member_id],
        )
        .await?;
        let lines = map(&rs, |r| {
            Ok(SubscriptionLine {
                status: r.try_get(0)?,
                current_period_start_ms: r.try_get(1)?,
                current_period_end_ms: r.try_get(2)?,
                tier_id: r.try_get(3)?,
            })
        })?;
        let settled = billing::settle(&lines, &standing, now);
        if billing::comp_to_keep(&standing, &settled, now) {
            exec(
                self.tx(),
                "UPDATE members SET comp_tier_id = COALESCE(tier_id,
                     (SELECT id FROM tiers WHERE type = 'paid' AND active ORDER BY id LIMIT 1))
                 WHERE id = $1",
                &[&member_id],
            )
            .await?;
        }
        let (current, current_tier) = (standing.status, standing.tier_id);
        let tier_id: Option<i64> = match settled.tier_id {
            Some(t) => row_opt(self.tx(), "SELECT id FROM tiers WHERE id = $1", &[&t])
                .await?
                .map(|r| r.try_get(0))
                .transpose()?,
            None => None,
        };
        let settled = Settled { tier_id, ..settled };
        if settled.status == current && settled.tier_id == current_tier {
            return Ok((settled, false));
        }
        exec(
            self.tx(),
            "UPDATE members SET status = $2, tier_id = $3 WHERE id = $1",
            &[&member_id, &settled.status, &settled.tier_id],
        )
        .await?;
        if settled.status != current {
            self.billing_event(
                member_id,
                "status",
                &billing::status_line(&current, settled.status),
                now,
            )
            .await?;
        }
        self.enqueue_webhooks("member.edited", member_id).await?;
        Ok((settled, true))
    }

    pub async fn lapse_overdue_members(&self, now: i64) -> StoreResult<Vec<i64>> {
        let rs = rows(
            self.tx(),
            "SELECT DISTINCT m.id FROM members m
             JOIN stripe_subscriptions s ON s.member_id = m.id
             WHERE m.status = 'paid' AND s.status = 'past_due'
               AND COALESCE(s.current_period_start, s.current_period_end) < $1
             ORDER BY m.id",
            &[&(now - PAST_DUE_GRACE_MS)],
        )
        .await?;
        let ids = map(&rs, |r| Ok(r.try_get::<_, i64>(0)?))?;
        let mut lapsed = Vec::new();
        for id in ids {
            if self.settle_member(id, now).await?.1 {
                self.log_change(ChangeTopic::Member, None, Some(id)).await?;
                lapsed.push(id);
            }
        }
        Ok(lapsed)
    }

    pub async fn record_stripe_event(
        &self,
        event_id: &str,
        event_type: &str,
        outcome: &str,
        now: i64,
    ) -> StoreResult<bool> {
        exec(
            self.tx(),
            "DELETE FROM stripe_events WHERE received_at < $1",
            &[&(now - EVENTS_KEPT_MS)],
        )
        .await?;
        let n = exec(
            self.tx(),
            "INSERT INTO stripe_events (event_id, event_type, outcome, received_at)
             VALUES ($1, $2, $3, $4) ON CONFLICT (event_id) DO NOTHING",
            &[&event_id, &event_type, &outcome, &now],
        )
        .await?;
        Ok(n == 1)
    }

    pub async fn save_stripe_product(
        &self,
        tier_id: i64,
        product_id: &str,
        now: i64,
    ) -> StoreResult<()> {
        exec(
            self.tx(),
            "INSERT INTO stripe_products (stripe_product_id, tier_id, created_at)
             VALUES ($1, $2, $3) ON CONFLICT (stripe_product_id) DO NOTHING",
            &[&product_id, &tier_id, &now],
        )
        .await?;
        Ok(())
    }

    pub async fn save_stripe_price(&self, p: &StripePrice, now: i64) -> StoreResult<()> {
        exec(
            self.tx(),
            "UPDATE stripe_prices SET active = FALSE
             WHERE tier_id = $1 AND cadence = $2 AND stripe_price_id <> $3",
            &[&p.tier_id, &p.cadence, &p.price_id],
        )
        .await?;
        exec(
            self.tx(),
            "INSERT INTO stripe_prices (stripe_price_id, stripe_product_id, tier_id, amount,
                 currency, cadence, active, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, TRUE, $7)
             ON CONFLICT (stripe_price_id) DO UPDATE SET active = TRUE",
            &[
                &p.price_id,
                &p.product_id,
                &p.tier_id,
                &p.amount,
                &p.currency,
                &p.cadence,
                &now,
            ],
        )
        .await?;
        Ok(())
    }

    /// Paid memberships from a Ghost export, inside the import's
    /// transaction: the twin of the SQLite writer's `import_billing`.
    pub(crate) async fn import_billing(
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
                super::tiers::tiers(self.tx())
                    .await?
                    .into_iter()
                    .find(|x| x.kind == "free")
            } else {
                super::tiers::tier_by_slug(self.tx(), t.tier.slug.clone()).await?
            };
            let id = match found {
                Some(found) => {
                    report.tiers_present += 1;
                    found.id
                }
                None => match self.create_tier(&t.tier, now).await {
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
                Some(&tier) => {
                    self.save_stripe_product(tier, &p.product_id, p.created_ms)
                        .await?
                }
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
            exec(
                self.tx(),
                "INSERT INTO stripe_prices (stripe_price_id, stripe_product_id, tier_id, amount,
                     currency, cadence, active, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (stripe_price_id) DO NOTHING",
                &[
                    &p.price.price_id,
                    &p.price.product_id,
                    &tier_id,
                    &p.price.amount,
                    &p.price.currency,
                    &p.price.cadence,
                    &p.price.active,
                    &p.created_ms,
                ],
            )
            .await?;
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
            match self.link_stripe_customer(&link).await? {
                CustomerLinked::Member { .. } => report.customers_linked += 1,
                CustomerLinked::NoMember => report.skipped.push((
                    format!("Stripe customer {}", c.customer_id),
                    "no member has its address".into(),
                )),
            }
        }
        for s in &b.subscriptions {
            match self.sync_subscription(&s.state, 0, now).await? {
                SubscriptionSynced::Member { changed, .. } => {
                    report.subscriptions_written += usize::from(changed)
                }
                SubscriptionSynced::Outdated => continue,
                SubscriptionSynced::UnknownCustomer => report.skipped.push((
                    format!("subscription {}", s.state.subscription_id),
                    "its customer is no member's (kept, unlinked)".into(),
                )),
            }
            exec(
                self.tx(),
                "UPDATE stripe_subscriptions SET created_at = $2 WHERE subscription_id = $1",
                &[&s.state.subscription_id, &s.created_ms],
            )
            .await?;
        }
        for c in &b.comps {
            let Some(&tier) = tiers.get(c.tier_key.as_str()) else {
                report.skipped.push((
                    format!("comp of {}", c.member.as_str()),
                    "its tier is not in the file".into(),
                ));
                continue;
            };
            let key = c.member.key();
            let member: Option<i64> = row_opt(
                self.tx(),
                "SELECT id FROM members WHERE email_key = $1",
                &[&key],
            )
            .await?
            .map(|r| r.try_get(0))
            .transpose()?;
            let Some(member) = member else { continue };
            let n = exec(
                self.tx(),
                "UPDATE members SET comp_tier_id = $2, comp_expires_at = $3,
                     tier_id = CASE WHEN status = 'comped' AND tier_id IS NULL THEN $2 ELSE tier_id END
                 WHERE id = $1 AND comp_tier_id IS NULL",
                &[&member, &tier, &c.until_ms],
            )
            .await?;
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
                )
                .await?;
                if self.settle_member(member, now).await?.1 {
                    self.log_change(ChangeTopic::Member, None, Some(member))
                        .await?;
                }
            }
        }
        Ok(())
    }
}

/// Paid memberships for `masthead export`.
pub async fn billing_export(c: &impl GenericClient) -> StoreResult<BillingExport> {
    let products = map(
        &rows(
            c,
            "SELECT stripe_product_id, tier_id, created_at FROM stripe_products
             ORDER BY created_at, stripe_product_id",
            &[],
        )
        .await?,
        |r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)),
    )?;
    let prices = map(
        &rows(
            c,
            "SELECT stripe_price_id, stripe_product_id, tier_id, amount, currency, cadence, active,
                    created_at
             FROM stripe_prices ORDER BY created_at, stripe_price_id",
            &[],
        )
        .await?,
        |r| Ok((price_from_row(r)?, r.try_get(7)?)),
    )?;
    let customers = map(
        &rows(
            c,
            "SELECT customer_id, member_id, email, created_at FROM stripe_customers
             ORDER BY created_at, customer_id",
            &[],
        )
        .await?,
        |r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)),
    )?;
    let subscriptions = map(
        &rows(
            c,
            &format!(
                "SELECT {SUBSCRIPTION_COLUMNS}, created_at FROM stripe_subscriptions
                 WHERE customer_id IN (SELECT customer_id FROM stripe_customers)
                 ORDER BY created_at, subscription_id"
            ),
            &[],
        )
        .await?,
        |r| Ok((subscription_from_row(r)?, r.try_get(15)?)),
    )?;
    let member_tiers = map(
        &rows(
            c,
            "SELECT id, tier_id, CASE WHEN status = 'comped' THEN comp_expires_at END
             FROM members WHERE tier_id IS NOT NULL ORDER BY id",
            &[],
        )
        .await?,
        |r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)),
    )?;
    Ok(BillingExport {
        products,
        prices,
        customers,
        subscriptions,
        member_tiers,
    })
}
