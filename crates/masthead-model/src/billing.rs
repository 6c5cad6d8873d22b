//! Paid memberships on Stripe (issue 11): the Stripe customer of a member,
//! the mirror of their subscriptions, the Stripe products and prices made
//! from the tiers, and the webhook events already handled.

use masthead_domain::Email;
use serde::Serialize;

/// A subscription as Stripe last described it (fetched from Stripe, never
/// taken from a webhook's body), to be mirrored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionState {
    pub subscription_id: String,
    pub customer_id: String,
    /// The price (or plan: Stripe answers plans as prices) of its item.
    pub price_id: String,
    pub product_id: String,
    /// Stripe's status: active, trialing, past_due, canceled, unpaid, …
    pub status: String,
    pub cancel_at_period_end: bool,
    pub current_period_end_ms: Option<i64>,
    pub trial_end_ms: Option<i64>,
    /// Per period, in the currency's minor unit.
    pub amount: i64,
    /// Lowercase ISO 4217.
    pub currency: String,
    /// month | year (or whatever Stripe says)
    pub cadence: String,
}

/// A mirrored subscription, with what Masthead made of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StripeSubscription {
    pub subscription_id: String,
    pub customer_id: String,
    /// `None`: the customer is no member's (yet).
    pub member_id: Option<i64>,
    pub price_id: String,
    pub product_id: String,
    /// The tier of its price, when Masthead knows the price.
    pub tier_id: Option<i64>,
    pub status: String,
    pub cancel_at_period_end: bool,
    pub current_period_end_ms: Option<i64>,
    pub trial_end_ms: Option<i64>,
    pub amount: i64,
    pub currency: String,
    pub cadence: String,
    pub updated_ms: i64,
}

/// What mirroring a subscription did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscriptionSynced {
    /// The member's status was settled from all their subscriptions.
    Member {
        member_id: i64,
        /// free | paid | comped, afterwards
        status: String,
        /// The tier the member has through it, when known.
        tier_id: Option<i64>,
        /// Whether the mirror or the member changed at all.
        changed: bool,
    },
    /// The customer is no member's: the subscription is kept, unlinked.
    UnknownCustomer,
}

/// Linking a Stripe customer to a member.
#[derive(Debug, Clone)]
pub struct CustomerLink {
    pub customer_id: String,
    /// The customer's address in Stripe, when known.
    pub email: Option<Email>,
    /// The member it belongs to, when known (a signed-in member's checkout).
    pub member_id: Option<i64>,
    /// Create a member from `email` when no member has it (a reader who
    /// subscribed without an account: their payment confirms the address).
    pub create_member: bool,
    /// The new member's name, if one is created.
    pub name: String,
    pub now_ms: i64,
}

/// What linking a customer found or did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomerLinked {
    /// The customer is (now) this member's; `created`: the member is new.
    Member { member_id: i64, created: bool },
    /// No member to link to (and none was to be created).
    NoMember,
}

/// A Stripe price made from a tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StripePrice {
    pub price_id: String,
    pub product_id: String,
    pub tier_id: i64,
    pub amount: i64,
    pub currency: String,
    /// month | year
    pub cadence: String,
    pub active: bool,
}

/// A member's billing as the account page and the desk show it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MemberBilling {
    /// Their Stripe customer, if they have one.
    pub customer_id: Option<String>,
    /// Newest first.
    pub subscriptions: Vec<StripeSubscription>,
}
