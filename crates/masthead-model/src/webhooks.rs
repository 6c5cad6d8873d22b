//! Webhooks and their deliveries.

use serde::Serialize;

/// The events a webhook may subscribe to.
pub const WEBHOOK_EVENTS: [&str; 6] = [
    "post.published",
    "post.updated",
    "post.unpublished",
    "member.added",
    "member.edited",
    "member.deleted",
];

#[derive(Debug, Clone, Serialize)]
pub struct Webhook {
    pub id: i64,
    pub event: String,
    pub target_url: String,
    pub name: String,
    pub secret: String,
    pub active: bool,
    pub created_ms: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub id: i64,
    pub webhook_id: i64,
    pub event: String,
    pub subject_id: i64,
    pub status: String,
    pub attempts: u32,
    pub next_attempt_ms: i64,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub created_ms: i64,
    pub finished_ms: Option<i64>,
    /// While it is being sent: which process holds it (`host:pid`), and
    /// until when (the database's clock); after that another may take it over.
    pub lease_owner: Option<String>,
    pub lease_until_ms: Option<i64>,
}

/// A delivery to make now, with where and how to sign it. `delivery.attempts`
/// counts this attempt already (attempts are counted when claimed, so one
/// whose sender keeps dying is still given up after the last).
#[derive(Debug, Clone)]
pub struct Due {
    pub delivery: Delivery,
    pub target_url: String,
    pub secret: String,
    /// The claim's lease: only its holder records the outcome.
    pub lease_token: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    Retry(i64),
    GaveUp,
}
