//! Tiers (Ghost's `products`), the tiers a post is open to, and members'
//! complimentary access with its history (issue 11). Prices are in minor
//! units (cents) of the tier's currency, ISO 4217 in lowercase.

use serde::Serialize;

/// The site's currency when the `currency` setting is unset.
pub const DEFAULT_CURRENCY: &str = "usd";
/// The settings key of the site's currency (paid tiers are priced in it).
pub const CURRENCY_SETTING: &str = "currency";

/// A tier as the desk, the APIs and the Stripe side read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tier {
    pub id: i64,
    pub uuid: String,
    pub slug: String,
    pub name: String,
    pub description: String,
    /// free | paid
    #[serde(rename = "type")]
    pub kind: String,
    /// Archived tiers are inactive: kept for their members and posts, not
    /// offered.
    pub active: bool,
    /// public | none
    pub visibility: String,
    /// `None` for the free tier.
    pub currency: Option<String>,
    pub monthly_price: Option<i64>,
    pub yearly_price: Option<i64>,
    pub trial_days: u32,
    pub welcome_page_url: Option<String>,
    /// In the order they are listed.
    pub benefits: Vec<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

impl Tier {
    pub fn is_free(&self) -> bool {
        self.kind == "free"
    }
}

/// A new tier or an edit of one (every field is written). The free tier's
/// prices and currency are ignored: it stays free. A tier's type never
/// changes after it is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierInput {
    pub name: String,
    /// Unique; checked by the caller for shape (`Slug`).
    pub slug: String,
    pub description: String,
    /// free | paid (used when creating only)
    pub kind: String,
    pub active: bool,
    /// public | none
    pub visibility: String,
    pub currency: Option<String>,
    pub monthly_price: Option<i64>,
    pub yearly_price: Option<i64>,
    pub trial_days: u32,
    pub welcome_page_url: Option<String>,
    pub benefits: Vec<String>,
}

/// A tier as a post names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TierRef {
    pub id: i64,
    pub slug: String,
    pub name: String,
    /// The free tier.
    pub free: bool,
}

/// Why a comp could not be given or ended. Nothing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompRefused {
    /// The tier is unknown, archived or the free tier.
    NotAPaidTier,
    /// The end is not in the future.
    EndInPast,
    /// The member has no comp to end.
    NoComp,
}

/// What giving a comp did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompGiven {
    /// The member is now `comped` on the tier.
    Comped,
    /// The member pays already: their status and tier stay as payments
    /// set them; the comp is recorded and takes over if the subscription
    /// ends before it does.
    Recorded,
}

/// One entry of a member's access history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemberEvent {
    pub id: i64,
    /// `comp_given`, `comp_ended`, `comp_expired`; the Stripe side adds its own.
    pub kind: String,
    pub tier_name: Option<String>,
    /// The end of the access it gave, if any.
    pub until_ms: Option<i64>,
    /// The staff member who did it, if staff did.
    pub staff_name: Option<String>,
    pub note: String,
    pub created_ms: i64,
}

/// A member event to record (any module of the store may add one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMemberEvent {
    pub member_id: i64,
    pub kind: String,
    pub tier_id: Option<i64>,
    pub until_ms: Option<i64>,
    pub staff_id: Option<i64>,
    pub note: String,
}
