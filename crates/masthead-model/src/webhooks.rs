//! Webhooks and their deliveries.

use serde::Serialize;

/// The events a webhook may subscribe to.
pub const WEBHOOK_EVENTS: [&str; 5] = [
    "post.published",
    "post.updated",
    "post.unpublished",
    "member.added",
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
}

/// A delivery to make now, with where and how to sign it.
#[derive(Debug, Clone)]
pub struct Due {
    pub delivery: Delivery,
    pub target_url: String,
    pub secret: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    Retry(i64),
    GaveUp,
}
