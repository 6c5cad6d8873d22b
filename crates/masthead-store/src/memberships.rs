//! Tiers and complimentary access (issue 11): the rules both dialects share
//! (what a valid tier is, when a comp may be given or ended) and the
//! [`Store`] operations, each one `match` with its two arms. The SQL is in
//! `sqlite/tiers.rs` and `postgres/tiers.rs`.

use masthead_domain::access::{COMPED, PAID, settled_status};
use masthead_model::tiers::*;

use crate::error::{StoreError, StoreResult};
use crate::{Backend, Store, now_ms, postgres, sqlite};

/// The columns every tier query reads, in `Tier` order (benefits apart).
pub(crate) const TIER_COLUMNS: &str = "t.id, t.uuid, t.slug, t.name, t.description, t.type, \
     t.active, t.visibility, t.currency, t.monthly_price, t.yearly_price, t.trial_days, \
     t.welcome_page_url, t.created_at, t.updated_at";

pub(crate) const FREE_TIER_STAYS: &str =
    "The free tier cannot be archived: every member who pays nothing is on it.";

/// History kinds written here.
pub(crate) const COMP_GIVEN: &str = "comp_given";
pub(crate) const COMP_ENDED: &str = "comp_ended";
pub(crate) const COMP_EXPIRED: &str = "comp_expired";

/// Most benefits a tier lists.
pub const MAX_BENEFITS: usize = 20;

/// `t` as it will be stored for a tier of type `kind`, or why it cannot be:
/// the free tier has no prices and stays active; a paid tier has a
/// currency and a monthly or yearly price above zero. (The desk and the
/// APIs check the same with friendlier words first; this is the last line.)
pub(crate) fn checked(t: &TierInput, kind: &str) -> StoreResult<TierInput> {
    let mut t = t.clone();
    t.name = t.name.trim().to_owned();
    t.slug = t.slug.trim().to_owned();
    t.benefits = t
        .benefits
        .iter()
        .map(|b| b.trim().to_owned())
        .filter(|b| !b.is_empty())
        .collect();
    let invalid = |m: &str| Err(StoreError::Invalid(m.to_owned()));
    if t.name.is_empty() {
        return invalid("A tier needs a name.");
    }
    if t.slug.is_empty() {
        return invalid("A tier needs a slug.");
    }
    if t.benefits.len() > MAX_BENEFITS {
        return invalid("A tier lists at most 20 benefits.");
    }
    if !matches!(t.visibility.as_str(), "public" | "none") {
        return invalid("A tier's visibility is public or none.");
    }
    match kind {
        "free" => {
            if !t.active {
                return invalid(FREE_TIER_STAYS);
            }
            t.kind = "free".into();
            t.currency = None;
            t.monthly_price = None;
            t.yearly_price = None;
            t.trial_days = 0;
        }
        "paid" => {
            t.kind = "paid".into();
            let currency_ok = t
                .currency
                .as_deref()
                .is_some_and(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_lowercase()));
            if !currency_ok {
                return invalid(
                    "A paid tier needs a currency (three lowercase letters, such as usd).",
                );
            }
            if t.monthly_price.is_some_and(|p| p <= 0) || t.yearly_price.is_some_and(|p| p <= 0) {
                return invalid("Prices must be above zero.");
            }
            if t.monthly_price.is_none() && t.yearly_price.is_none() {
                return invalid("A paid tier needs a monthly or a yearly price.");
            }
        }
        _ => return invalid("A tier is free or paid."),
    }
    Ok(t)
}

/// A unique-slug violation, in words.
pub(crate) fn slug_conflict(e: StoreError) -> StoreError {
    match e {
        StoreError::Conflict(_) => StoreError::Conflict("Another tier has that slug.".into()),
        other => other,
    }
}

/// Why a comp of a tier until `until` cannot be given at `now`, if it cannot.
pub(crate) fn comp_refused(paid_tier: bool, until: Option<i64>, now: i64) -> Option<CompRefused> {
    if !paid_tier {
        Some(CompRefused::NotAPaidTier)
    } else if until.is_some_and(|u| u <= now) {
        Some(CompRefused::EndInPast)
    } else {
        None
    }
}

/// A member's standing as the comp and payment rules read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Standing {
    pub status: String,
    pub tier_id: Option<i64>,
    pub comp_expires_ms: Option<i64>,
    /// The tier of a complimentary grant; `None`: no comp (but see
    /// [`Standing::comp`] for comped members from before it was kept).
    pub comp_tier_id: Option<i64>,
}

/// A complimentary grant: its tier and its end (`None`: no end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Comp {
    pub tier_id: Option<i64>,
    pub until: Option<i64>,
}

impl Standing {
    /// The member's complimentary grant in force at `now`, if any: the one
    /// recorded with its tier, or (for a member comped before grants were
    /// kept apart, or by an import) their comped status and tier.
    pub(crate) fn comp(&self, now: i64) -> Option<Comp> {
        let tier_id = match (self.comp_tier_id, self.status.as_str()) {
            (Some(t), _) => Some(t),
            (None, COMPED) => self.tier_id,
            (None, _) => return None,
        };
        let comp = Comp {
            tier_id,
            until: self.comp_expires_ms,
        };
        comp.until.is_none_or(|end| end > now).then_some(comp)
    }
}

/// What giving a comp does to a member: a paying member keeps their
/// subscription (paid wins over comped) and the comp waits behind it;
/// anyone else is comped at once.
pub(crate) fn comp_outcome(standing: &Standing, now: i64) -> CompGiven {
    if settled_status(&standing.status, standing.comp_expires_ms, now) == PAID {
        CompGiven::Recorded
    } else {
        CompGiven::Comped
    }
}

/// What ending a member's comp ends.
pub(crate) enum Ending {
    /// Their complimentary access: they become free.
    Comp,
    /// The comp recorded to follow their subscription.
    FollowUp,
}

pub(crate) fn comp_to_end(standing: &Standing, now: i64) -> Option<Ending> {
    standing.comp(now)?;
    match settled_status(&standing.status, standing.comp_expires_ms, now) {
        COMPED => Some(Ending::Comp),
        PAID => Some(Ending::FollowUp),
        _ => None,
    }
}

/// Runs a read in `tiers` on either backend.
macro_rules! tiers_read {
    ($store:expr, $f:ident ( $($arg:expr),* )) => {
        match &*$store.backend {
            Backend::Sqlite(db) => {
                $store.lite_read(db, move |c| sqlite::tiers::$f(c $(, $arg)*)).await
            }
            Backend::Postgres(db) => {
                postgres::tiers::$f(&*$store.pg_read(db).await?, $($arg),*).await
            }
        }
    };
}

/// Runs a writer method on either backend, its arguments moved into the
/// transaction.
macro_rules! tiers_write {
    ($store:expr, $f:ident ( $($arg:expr),* )) => {
        match &*$store.backend {
            Backend::Sqlite(db) => Store::lite_write(db, move |w| w.$f($($arg),*)).await,
            Backend::Postgres(db) => {
                db.write_send(move |w| Box::pin(async move { w.$f($($arg),*).await }))
                    .await
            }
        }
    };
}

impl Store {
    /// Every tier, the free one first, archived ones included.
    pub async fn tiers(&self) -> StoreResult<Vec<Tier>> {
        tiers_read!(self, tiers())
    }

    pub async fn tier(&self, id: i64) -> StoreResult<Option<Tier>> {
        tiers_read!(self, tier(id))
    }

    pub async fn tier_by_slug(&self, slug: String) -> StoreResult<Option<Tier>> {
        tiers_read!(self, tier_by_slug(slug))
    }

    /// The tiers a post is open to (when its visibility is `tiers`).
    pub async fn post_tiers(&self, post_id: i64) -> StoreResult<Vec<TierRef>> {
        tiers_read!(self, post_tier_refs(post_id))
    }

    /// A member's access history, newest first.
    pub async fn member_events(&self, member_id: i64) -> StoreResult<Vec<MemberEvent>> {
        tiers_read!(self, member_events(member_id))
    }

    /// The site's currency (lowercase ISO 4217): paid tiers are priced in it.
    pub async fn site_currency(&self) -> StoreResult<String> {
        Ok(self
            .site_settings_raw(CURRENCY_SETTING)
            .await?
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| DEFAULT_CURRENCY.to_owned()))
    }

    /// A new tier; `Conflict` when the slug is taken, `Invalid` when the
    /// tier breaks a rule (see `checked`).
    pub async fn create_tier(&self, input: TierInput) -> StoreResult<i64> {
        let now = now_ms();
        tiers_write!(self, create_tier(&input, now))
    }

    /// Rewrites a tier; its type stays.
    pub async fn update_tier(&self, id: i64, input: TierInput) -> StoreResult<()> {
        let now = now_ms();
        tiers_write!(self, update_tier(id, &input, now))
    }

    /// Archives a paid tier (never the free one).
    pub async fn archive_tier(&self, id: i64) -> StoreResult<()> {
        let now = now_ms();
        tiers_write!(self, archive_tier(id, now))
    }

    /// Gives `member_id` complimentary access to a paid tier until `until`
    /// (`None`: no end), by staff member `by_user`; written to the member's
    /// history. `NotFound` for an unknown member.
    pub async fn give_comp(
        &self,
        member_id: i64,
        tier_id: i64,
        until: Option<i64>,
        by_user: Option<i64>,
    ) -> StoreResult<Result<CompGiven, CompRefused>> {
        let now = now_ms();
        tiers_write!(self, give_comp(member_id, tier_id, until, by_user, now))
    }

    /// Ends a member's complimentary access now, by staff member `by_user`.
    pub async fn end_comp(
        &self,
        member_id: i64,
        by_user: Option<i64>,
    ) -> StoreResult<Result<(), CompRefused>> {
        let now = now_ms();
        tiers_write!(self, end_comp(member_id, by_user, now))
    }

    /// Writes down comps that ended by `now` (access already treats them as
    /// ended); how many members became free.
    pub async fn end_expired_comps(&self, now: i64) -> StoreResult<usize> {
        tiers_write!(self, end_expired_comps(now))
    }

    /// Adds an entry to a member's access history (for the payments side).
    pub async fn record_member_event(&self, event: NewMemberEvent) -> StoreResult<i64> {
        let now = now_ms();
        tiers_write!(self, record_member_event(&event, now))
    }
}

#[cfg(any(test, feature = "test-support"))]
impl Store {
    /// Moves a member's comp end to `at`, as time passing would: for tests
    /// of what happens when a comp runs out.
    pub async fn move_comp_end_for_tests(&self, member_id: i64, at: i64) -> StoreResult<()> {
        const SQL_LITE: &str = "UPDATE members SET comp_expires_at = ?2 WHERE id = ?1";
        const SQL_PG: &str = "UPDATE members SET comp_expires_at = $2 WHERE id = $1";
        match &*self.backend {
            Backend::Sqlite(db) => {
                Store::lite_write(db, move |w| {
                    w.tx().execute(SQL_LITE, rusqlite::params![member_id, at])?;
                    Ok(())
                })
                .await
            }
            Backend::Postgres(db) => {
                db.write_send(move |w| {
                    Box::pin(async move {
                        w.tx().execute(SQL_PG, &[&member_id, &at]).await?;
                        Ok(())
                    })
                })
                .await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paid() -> TierInput {
        TierInput {
            name: " Gold ".into(),
            slug: "gold".into(),
            description: String::new(),
            kind: "paid".into(),
            active: true,
            visibility: "public".into(),
            currency: Some("usd".into()),
            monthly_price: Some(500),
            yearly_price: None,
            trial_days: 0,
            welcome_page_url: None,
            benefits: vec![" Ad-free ".into(), "  ".into()],
        }
    }

    #[test]
    fn tiers_are_checked_before_they_are_written() {
        let t = checked(&paid(), "paid").expect("valid");
        assert_eq!(t.name, "Gold");
        assert_eq!(t.benefits, ["Ad-free"]);
        let mut no_price = paid();
        no_price.monthly_price = None;
        assert!(checked(&no_price, "paid").is_err());
        let mut zero = paid();
        zero.yearly_price = Some(0);
        assert!(checked(&zero, "paid").is_err());
        let mut no_currency = paid();
        no_currency.currency = Some("USD".into());
        assert!(checked(&no_currency, "paid").is_err());
        // The free tier drops prices and may not be archived.
        let free = checked(&paid(), "free").expect("free");
        assert_eq!((free.monthly_price, free.currency), (None, None));
        let mut archived = paid();
        archived.active = false;
        assert!(checked(&archived, "free").is_err());
        assert!(checked(&archived, "paid").is_ok());
    }

    fn standing(status: &str, comp_tier: Option<i64>, until: Option<i64>) -> Standing {
        Standing {
            status: status.into(),
            tier_id: Some(7),
            comp_expires_ms: until,
            comp_tier_id: comp_tier,
        }
    }

    #[test]
    fn comps_follow_the_status_rules() {
        let free = Standing {
            tier_id: None,
            ..standing("free", None, None)
        };
        assert!(matches!(comp_outcome(&free, 10), CompGiven::Comped));
        assert!(matches!(
            comp_outcome(&standing("comped", Some(7), Some(5)), 10),
            CompGiven::Comped
        ));
        assert!(matches!(
            comp_outcome(&standing("paid", None, None), 10),
            CompGiven::Recorded
        ));
        assert_eq!(
            comp_refused(false, None, 10),
            Some(CompRefused::NotAPaidTier)
        );
        assert_eq!(
            comp_refused(true, Some(10), 10),
            Some(CompRefused::EndInPast)
        );
        assert_eq!(comp_refused(true, Some(11), 10), None);
        assert!(matches!(
            comp_to_end(&standing("comped", Some(7), None), 10),
            Some(Ending::Comp)
        ));
        // Comped before grants were kept apart: the status is the grant.
        assert!(matches!(
            comp_to_end(&standing("comped", None, None), 10),
            Some(Ending::Comp)
        ));
        assert!(comp_to_end(&standing("comped", Some(7), Some(9)), 10).is_none());
        assert!(matches!(
            comp_to_end(&standing("paid", Some(7), Some(11)), 10),
            Some(Ending::FollowUp)
        ));
        // A paying member's comp with no end waits behind the subscription.
        assert!(matches!(
            comp_to_end(&standing("paid", Some(7), None), 10),
            Some(Ending::FollowUp)
        ));
        assert!(comp_to_end(&standing("paid", None, None), 10).is_none());
        assert!(comp_to_end(&free, 10).is_none());
    }

    #[test]
    fn a_grant_has_its_own_tier_and_end() {
        let paying = Standing {
            comp_tier_id: Some(3),
            ..standing("paid", None, None)
        };
        assert_eq!(
            paying.comp(10),
            Some(Comp {
                tier_id: Some(3),
                until: None
            })
        );
        assert_eq!(standing("paid", Some(3), Some(10)).comp(10), None);
        assert_eq!(
            standing("comped", None, Some(11)).comp(10),
            Some(Comp {
                tier_id: Some(7),
                until: Some(11)
            })
        );
        assert_eq!(standing("free", None, None).comp(10), None);
    }
}
