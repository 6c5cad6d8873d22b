//! Newsletter sends: one post e-mailed to one newsletter's members, and
//! each recipient's state (see migration 0015).

use serde::Serialize;

/// Which members of a newsletter a send goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Segment {
    All,
    /// Members with status `free`.
    Free,
    /// Paying and comped members.
    Paid,
}

impl Segment {
    pub fn as_str(self) -> &'static str {
        match self {
            Segment::All => "all",
            Segment::Free => "free",
            Segment::Paid => "paid",
        }
    }

    /// The desk's words (`all`, `free`, `paid`) and Ghost's NQL forms for
    /// `email_segment` (`all`, `status:free`, `status:-free`).
    pub fn parse(s: &str) -> Option<Segment> {
        match s.trim() {
            "all" | "" => Some(Segment::All),
            "free" | "status:free" => Some(Segment::Free),
            "paid" | "status:-free" => Some(Segment::Paid),
            _ => None,
        }
    }

    /// How the desk names it.
    pub fn describe(self) -> &'static str {
        match self {
            Segment::All => "all members",
            Segment::Free => "free members",
            Segment::Paid => "paying members",
        }
    }
}

/// A send to create: its recipients are chosen when it is created.
#[derive(Debug, Clone)]
pub struct NewSend {
    pub post_id: i64,
    pub newsletter_id: i64,
    pub segment: Segment,
    pub subject: String,
    pub created_by: Option<i64>,
    pub now_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SendCreated {
    pub id: i64,
    pub recipients: u64,
}

/// A send as the desk shows it.
#[derive(Debug, Clone, Serialize)]
pub struct SendSummary {
    pub id: i64,
    pub post_id: i64,
    pub post_title: String,
    pub newsletter_id: i64,
    pub newsletter_name: String,
    pub segment: String,
    /// `sending` until no recipient is left queued or in flight, then `sent`.
    pub status: String,
    pub subject: String,
    /// Members chosen when it was created.
    pub recipients: u64,
    /// Queued or being sent.
    pub queued: u64,
    pub sent: u64,
    pub failed: u64,
    pub created_by: Option<String>,
    pub created_ms: i64,
    pub started_ms: Option<i64>,
    pub finished_ms: Option<i64>,
}

/// One recipient's row, for the desk.
#[derive(Debug, Clone, Serialize)]
pub struct RecipientRow {
    pub id: i64,
    pub member_id: i64,
    pub email: String,
    /// `pending` (queued), `sending`, `sent` or `failed`.
    pub status: String,
    pub attempts: u32,
    pub reply: Option<String>,
    pub sent_ms: Option<i64>,
}

/// A newsletter e-mail one member was sent (or is queued for): the desk's
/// member history.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MemberEmail {
    pub send_id: i64,
    pub subject: String,
    /// `pending` (queued), `sending`, `sent` or `failed`.
    pub status: String,
    /// When the relay accepted it; else when the send was made.
    pub at_ms: i64,
}

/// A recipient taken by a worker under a lease.
#[derive(Debug, Clone)]
pub struct ClaimedRecipient {
    pub id: i64,
    pub send_id: i64,
    pub member_id: i64,
    pub email: String,
    pub name: String,
    /// Failed tries before this one.
    pub attempts: u32,
    /// The member as access rules see them when claimed (status settled,
    /// tier): a story for paying members goes in full only to those who
    /// may read it, the others get its free part.
    pub reader: masthead_domain::access::Reader,
}

/// Recipients claimed together, all under one lease token.
#[derive(Debug, Clone, Default)]
pub struct RecipientClaim {
    pub token: String,
    pub recipients: Vec<ClaimedRecipient>,
}

/// The reply recorded for a message handed over to the relay by a server
/// that stopped before the relay's answer (see the store's `mark_handed`).
pub const HANDED_REPLY: &str =
    "handed to the relay; the server stopped before its answer, so it is not sent again";

/// What became of one try.
#[derive(Debug, Clone)]
pub enum RecipientOutcome {
    /// The relay accepted it; its reply.
    Sent { reply: String },
    /// A temporary failure: queued again, due at `at`.
    Retry { reply: String, at_ms: i64 },
    /// Given up. `bounce`: the address was refused for good, and the member
    /// is marked as bouncing (later sends skip them).
    Failed { reply: String, bounce: bool },
}
