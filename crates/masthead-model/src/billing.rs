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
    /// The period it is in: a renewal starts a new one before it is paid,
    /// so a `past_due` subscription's unpaid renewal was due at its start.
    pub current_period_start_ms: Option<i64>,
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
    pub current_period_start_ms: Option<i64>,
    pub current_period_end_ms: Option<i64>,
    pub trial_end_ms: Option<i64>,
    pub amount: i64,
    pub currency: String,
    pub cadence: String,
    pub updated_ms: i64,
}

impl StripeSubscription {
    /// The state it was mirrored from (to compare with a new one).
    pub fn state(&self) -> SubscriptionState {
        SubscriptionState {
            subscription_id: self.subscription_id.clone(),
            customer_id: self.customer_id.clone(),
            price_id: self.price_id.clone(),
            product_id: self.product_id.clone(),
            status: self.status.clone(),
            cancel_at_period_end: self.cancel_at_period_end,
            current_period_start_ms: self.current_period_start_ms,
            current_period_end_ms: self.current_period_end_ms,
            trial_end_ms: self.trial_end_ms,
            amount: self.amount,
            currency: self.currency.clone(),
            cadence: self.cadence.clone(),
        }
    }
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
    /// A fetch of the subscription that began later was mirrored first:
    /// this one's state may be older, so nothing was written.
    Outdated,
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

/// A donation received (issue 11, item 5): one payment, one-off or one
/// month of a monthly gift. Amounts in the currency's minor unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDonation {
    /// `one_off` or `monthly`.
    pub kind: String,
    pub amount: i64,
    /// Lowercase ISO 4217.
    pub currency: String,
    pub member_id: Option<i64>,
    pub email: String,
    pub name: String,
    /// The payment intent's id (one-off) or the invoice's (monthly): a
    /// repeat of the same payment records nothing.
    pub stripe_ref: String,
    pub stripe_session_id: Option<String>,
    pub stripe_subscription_id: Option<String>,
    pub stripe_customer_id: Option<String>,
    pub created_ms: i64,
}

/// Paid memberships from a Ghost export (issue 11, item 9), written in the
/// import's one transaction. Keys are the file's ids (Ghost's `products`).
#[derive(Debug, Clone, Default)]
pub struct ImportBilling {
    pub tiers: Vec<ImportTier>,
    pub products: Vec<ImportStripeProduct>,
    pub prices: Vec<ImportStripePrice>,
    pub customers: Vec<ImportCustomer>,
    pub subscriptions: Vec<ImportSubscription>,
    pub comps: Vec<ImportComp>,
}

/// A tier; one whose slug the site has is matched, not changed.
#[derive(Debug, Clone)]
pub struct ImportTier {
    pub key: String,
    pub tier: crate::tiers::TierInput,
}

#[derive(Debug, Clone)]
pub struct ImportStripeProduct {
    pub product_id: String,
    pub tier_key: String,
    pub created_ms: i64,
}

/// A recurring price (`tier_id` of `price` is filled in by the store).
#[derive(Debug, Clone)]
pub struct ImportStripePrice {
    pub price: StripePrice,
    pub tier_key: String,
    pub created_ms: i64,
}

/// A member's Stripe customer; the member is found by address.
#[derive(Debug, Clone)]
pub struct ImportCustomer {
    pub customer_id: String,
    pub member: Email,
    pub created_ms: i64,
}

/// A subscription as the file has it; written as a fetch at time 0, so
/// whatever Stripe says later wins.
#[derive(Debug, Clone)]
pub struct ImportSubscription {
    pub state: SubscriptionState,
    pub created_ms: i64,
}

/// Complimentary access from the file (a `comped` member's tier).
#[derive(Debug, Clone)]
pub struct ImportComp {
    pub member: Email,
    pub tier_key: String,
    pub until_ms: Option<i64>,
}

/// What an export writes of paid memberships. Times are Unix ms.
#[derive(Debug, Clone, Default)]
pub struct BillingExport {
    /// `(stripe_product_id, tier_id, created)`.
    pub products: Vec<(String, i64, i64)>,
    /// With when each was made.
    pub prices: Vec<(StripePrice, i64)>,
    /// `(customer_id, member_id, email, created)`.
    pub customers: Vec<(String, i64, String, i64)>,
    /// Mirrored subscriptions of known customers, with when each was first seen.
    pub subscriptions: Vec<(StripeSubscription, i64)>,
    /// `(member_id, tier_id, comp_expires)` of members with a tier.
    pub member_tiers: Vec<(i64, i64, Option<i64>)>,
}

/// A member's subscription as the Admin API lists it (Ghost 5's
/// `members[].subscriptions`): the mirror, with when it was first seen and
/// the address Stripe had for its customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSubscription {
    pub subscription: StripeSubscription,
    pub created_ms: i64,
    pub customer_email: String,
}
/// A donation as the thank-you page and e-mail need it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Donation {
    pub id: i64,
    /// `one_off` or `monthly`.
    pub kind: String,
    pub amount: i64,
    pub currency: String,
    pub member_id: Option<i64>,
    pub email: String,
    pub name: String,
    pub thanked: bool,
    pub created_ms: i64,
}
