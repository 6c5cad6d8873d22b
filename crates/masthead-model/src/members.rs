//! Members as they sign up, sign in and manage their account (issue 10):
//! pending requests (a sign-up, a sign-in, an e-mail change), member
//! sessions, newsletters. Secrets arrive here already hashed.

use masthead_domain::Email;
use serde::Serialize;

/// What a member request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum MemberRequestPurpose {
    /// Joining: the member row is written when the address is confirmed.
    Signup,
    Signin,
    /// A signed-in member's new address, confirmed there before it applies.
    EmailChange,
}

impl MemberRequestPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberRequestPurpose::Signup => "signup",
            MemberRequestPurpose::Signin => "signin",
            MemberRequestPurpose::EmailChange => "email_change",
        }
    }

    pub fn parse(s: &str) -> Option<MemberRequestPurpose> {
        match s {
            "signup" => Some(MemberRequestPurpose::Signup),
            "signin" => Some(MemberRequestPurpose::Signin),
            "email_change" => Some(MemberRequestPurpose::EmailChange),
            _ => None,
        }
    }
}

/// A request to record, and the mail it will send. The hashes are SHA-256:
/// of the link's token, of the asking page's reference, and of the
/// reference with the 6-digit code.
#[derive(Debug, Clone)]
pub struct NewMemberRequest {
    pub purpose: MemberRequestPurpose,
    pub email: Email,
    /// The member changing address (`EmailChange` only).
    pub member_id: Option<i64>,
    pub name: String,
    /// Newsletter ids chosen at sign-up; `None`: the sign-up defaults.
    pub newsletters: Option<Vec<i64>>,
    pub source: String,
    pub link_hash: Vec<u8>,
    pub ref_hash: Vec<u8>,
    pub code_hash: Vec<u8>,
    pub now_ms: i64,
    pub expires_ms: i64,
}

/// What was recorded for a request, so the caller knows which mail to send
/// (and the visitor is told the same thing whichever it is).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberRequestRecorded {
    /// A pending sign-up: send the confirmation.
    Signup,
    /// The address is already a member's (asked to join or to sign in):
    /// send a sign-in link instead.
    Signin,
    /// An e-mail change: send the confirmation to the new address.
    EmailChange,
    /// Nothing recorded, no mail: a sign-in for an address with no member,
    /// or an e-mail change to an address another member has.
    Nothing,
}

/// A session to open when a request is redeemed.
#[derive(Debug, Clone)]
pub struct NewMemberSession {
    pub token_hash: Vec<u8>,
    pub csrf_token: String,
    pub now_ms: i64,
    pub expires_ms: i64,
}

/// A redeemed request: the member now signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberRedeemed {
    pub member_id: i64,
    pub purpose: MemberRequestPurpose,
    /// A sign-up confirmed just now (the member row is new).
    pub joined: bool,
}

/// Why a link or code was not accepted. Nothing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedeemRefused {
    /// Unknown, already used, expired, or dead from too many wrong codes.
    Invalid,
    /// A wrong code; this many tries are left on the request.
    WrongCode { left: u32 },
    /// The new address became another member's meanwhile.
    AddressTaken,
}

/// A member as the site and the member themselves see it.
#[derive(Debug, Clone, Serialize)]
pub struct Member {
    pub id: i64,
    pub email: String,
    pub name: String,
    /// free | paid | comped, settled when read: a comp whose end has
    /// passed reads as `free` (`masthead_domain::access::settled_status`).
    pub status: String,
    pub created_ms: i64,
    /// The member's tier while paid or comped; `None`: the free tier.
    pub tier_id: Option<i64>,
    /// When complimentary access ends (`None`: no comp, or no end).
    pub comp_expires_ms: Option<i64>,
}

impl Member {
    /// Applies the comp rule at `now_ms` to a member as stored.
    pub fn settle(&mut self, now_ms: i64) {
        let settled =
            masthead_domain::access::settled_status(&self.status, self.comp_expires_ms, now_ms);
        if settled != self.status {
            self.status = settled.to_owned();
            self.tier_id = None;
            self.comp_expires_ms = None;
        }
    }

    /// The member as access decisions see them.
    pub fn reader(&self) -> masthead_domain::access::Reader {
        masthead_domain::access::Reader::new(&self.status, self.tier_id)
    }
}

/// A signed-in member and their session's CSRF token.
#[derive(Debug, Clone)]
pub struct MemberSession {
    pub member: Member,
    pub csrf_token: String,
}

/// Ghost's newsletter fields.
#[derive(Debug, Clone, Serialize)]
pub struct Newsletter {
    pub id: i64,
    pub uuid: String,
    pub name: String,
    pub slug: String,
    pub description: String,
    pub sender_name: Option<String>,
    pub sender_reply_to: String,
    /// active | archived
    pub status: String,
    pub subscribe_on_signup: bool,
    pub sort_order: i64,
    /// members | paid
    pub visibility: String,
}

/// Everything stored about one member, for "download my data".
#[derive(Debug, Clone, Serialize)]
pub struct MemberExport {
    pub member: Member,
    pub newsletters: Vec<Newsletter>,
    /// Open sessions (signed-in browsers), by when they were opened.
    pub sessions_created_ms: Vec<i64>,
}

/// How a request is looked up when redeemed.
#[derive(Debug, Clone)]
pub enum RedeemBy {
    /// The SHA-256 of the link's token.
    Link(Vec<u8>),
    /// The SHA-256 of the asking page's reference, and of reference + code.
    Code {
        ref_hash: Vec<u8>,
        code_hash: Vec<u8>,
    },
}

// ------------------------------------------------ the desk's members list --

/// A label an editor puts on members (Ghost's `labels`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Label {
    pub id: i64,
    pub name: String,
    pub slug: String,
    pub created_ms: i64,
}

/// Which members the desk's list shows; every field narrows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberFilter {
    /// A substring of the name or the address, any case.
    pub search: Option<String>,
    /// free | paid | comped
    pub status: Option<String>,
    /// Receives this newsletter (by id).
    pub newsletter: Option<i64>,
    /// Has this label (by slug).
    pub label: Option<String>,
    /// Joined at or after (Unix ms).
    pub joined_from_ms: Option<i64>,
    /// Joined before (Unix ms).
    pub joined_before_ms: Option<i64>,
    /// Bouncing (`email_disabled`) or not.
    pub bouncing: Option<bool>,
}

/// Where a page of the members list starts: after the member with this
/// (created_at, id), newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberCursor {
    pub created_ms: i64,
    pub id: i64,
}

/// A member as the desk lists and shows them.
#[derive(Debug, Clone, Serialize)]
pub struct DeskMember {
    pub id: i64,
    pub email: String,
    pub name: String,
    /// free | paid | comped (settled when read, as [`Member::status`])
    pub status: String,
    pub source: String,
    pub note: String,
    /// The tier while paid or comped.
    pub tier_id: Option<i64>,
    /// When complimentary access ends.
    pub comp_expires_ms: Option<i64>,
    /// The tier of a complimentary grant (`None`: no comp). A paying
    /// member's comp waits behind their subscription and takes over when
    /// it ends.
    pub comp_tier_id: Option<i64>,
    /// Bouncing: a mail server refused a message for good.
    pub email_disabled: bool,
    pub created_ms: i64,
    pub labels: Vec<Label>,
    /// Ids of the newsletters the member receives.
    pub newsletter_ids: Vec<i64>,
}

impl DeskMember {
    /// Applies the comp rule at `now_ms` (see [`Member::settle`]).
    pub fn settled(mut self, now_ms: i64) -> DeskMember {
        let settled =
            masthead_domain::access::settled_status(&self.status, self.comp_expires_ms, now_ms);
        if settled != self.status {
            self.status = settled.to_owned();
            self.tier_id = None;
            self.comp_expires_ms = None;
            self.comp_tier_id = None;
        }
        self
    }

    /// Whether a complimentary grant is in force at `now_ms` (given to a
    /// comped member, or waiting behind a paying member's subscription).
    pub fn has_comp(&self, now_ms: i64) -> bool {
        self.comp_tier_id.is_some() && self.comp_expires_ms.is_none_or(|end| end > now_ms)
            || self.status == masthead_domain::access::COMPED
    }
}

/// One page of the members list.
#[derive(Debug, Clone)]
pub struct MemberListPage {
    pub members: Vec<DeskMember>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<MemberCursor>,
    /// How many members match the filter (when asked for).
    pub total: Option<u64>,
}

/// A member added by staff or by an import: confirmed at once (the staff
/// member vouches for the address), and sent no mail.
#[derive(Debug, Clone)]
pub struct NewDeskMember {
    pub email: Email,
    pub name: String,
    pub note: String,
    /// free | comped (a paid status comes from payments only)
    pub status: String,
    /// Label names, created when new.
    pub labels: Vec<String>,
    /// Newsletter ids (active ones are kept).
    pub newsletters: Vec<i64>,
    /// admin | import | api
    pub source: String,
    /// When they joined; `None`: now.
    pub created_ms: Option<i64>,
}

/// What happened to one member of an import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberAdded {
    Added(i64),
    /// The address is already a member's (or appeared earlier in the batch).
    Duplicate,
}

/// A staff edit of a member; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct MemberEdit {
    pub name: Option<String>,
    pub email: Option<Email>,
    pub note: Option<String>,
    /// The member's labels afterwards, by name (new names are created).
    pub labels: Option<Vec<String>>,
    /// The member's newsletters afterwards, by id.
    pub newsletters: Option<Vec<i64>>,
    /// Clears the bouncing flag.
    pub clear_bouncing: bool,
}

/// Members who joined on one day (in the site's time zone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct JoinsOnDay {
    /// Days since 1970-01-01 in the site's time zone.
    pub day: i64,
    pub count: u64,
}

/// A newsletter as the desk adds or edits it.
#[derive(Debug, Clone)]
pub struct NewsletterInput {
    pub name: String,
    pub description: String,
    pub sender_name: Option<String>,
    /// newsletter | support
    pub sender_reply_to: String,
    pub subscribe_on_signup: bool,
    /// active | archived
    pub status: String,
}
