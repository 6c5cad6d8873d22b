//! Inputs and outcomes of the store's named units of work: the multi-step
//! writes (create a post, save an edit, sign in, seed a site, import a Ghost
//! file) that run as one transaction. Plain values, no SQL.

use masthead_domain::{Email, Slug};

use crate::api::PostExtras;
use crate::editing::{PostEdit, Seo};
use crate::model::{Campaign, NewAuthor, NewPost, NewStaffUser, NewTag};
use crate::transfer::ImportFields;

/// A new post, whatever surface it comes from (desk, Admin API, importer).
#[derive(Debug, Clone)]
pub struct CreatePost {
    /// The address wanted; a number is added when it is taken.
    pub base_slug: Slug,
    /// `post.slug` is ignored (the unique slug is made from `base_slug`), and
    /// `post.tag_ids` come first, before any of `tags_by_slug`.
    pub post: NewPost,
    /// Tags by `(slug, name)`, created when missing (Admin API).
    pub tags_by_slug: Vec<(String, String)>,
    pub extras: Option<PostExtras>,
    pub seo: Option<Seo>,
}

/// An edit of an existing post, checked against the version the editor saw.
#[derive(Debug, Clone)]
pub struct SavePost {
    pub id: i64,
    /// The `updated_at` the editor started from.
    pub version: i64,
    pub edit: PostEdit,
    /// When given, replaces the edit's tags: `(slug, name)`, created when
    /// missing (Admin API).
    pub tags_by_slug: Option<Vec<(String, String)>>,
    pub extras: Option<PostExtras>,
    pub staff_id: Option<i64>,
    pub now: i64,
}

/// A staff sign-in that passed its checks: the session to open, and the
/// throttle records to forgive.
#[derive(Debug, Clone)]
pub struct SignIn {
    /// Attempts counted for this try (not held against anyone now).
    pub attempts: Vec<i64>,
    /// A throttle key whose earlier failures are forgiven.
    pub forgiven: String,
    pub token_hash: Vec<u8>,
    pub user_id: i64,
    pub csrf: String,
    pub now: i64,
    pub expires: i64,
}

/// A change to a live entry from the desk.
#[derive(Debug, Clone)]
pub enum LiveEntryChange {
    Delete,
    Update {
        title: String,
        body_source: String,
        body_html: String,
        pinned: bool,
    },
}

/// Site settings saved together, with a new campaign when it changed.
#[derive(Debug, Clone, Default)]
pub struct SettingsUpdate {
    /// `(key, value)`, written in order.
    pub values: Vec<(&'static str, String)>,
    pub campaign: Option<Campaign>,
}

/// A live entry without its post (the post is made in the same unit).
#[derive(Debug, Clone)]
pub struct EntryDraft {
    pub title: String,
    pub body_source: String,
    pub body_html: String,
    pub pinned: bool,
    pub created_ms: i64,
}

/// A post of a seeded site; tags and bylines by index into the seed's lists.
#[derive(Debug, Clone)]
pub struct SeedPost {
    /// `post.tag_ids` and `post.author_ids` are ignored.
    pub post: NewPost,
    pub tags: Vec<usize>,
    pub authors: Vec<usize>,
    /// `(kind, noted_ms, note)`.
    pub notes: Vec<(String, i64, String)>,
    pub entries: Vec<EntryDraft>,
}

/// A whole site written into an empty store in one transaction (demo
/// content, benchmark archives). Posts come from an iterator so a large
/// archive need not be held in memory at once.
pub struct SiteSeed {
    /// `(key, value)`, written first.
    pub settings: Vec<(String, String)>,
    pub authors: Vec<NewAuthor>,
    pub tags: Vec<NewTag>,
    pub posts: Box<dyn Iterator<Item = SeedPost> + Send>,
    pub campaign: Option<Campaign>,
    /// `(address, created_ms)`, all free members from `member_source`.
    pub members: Vec<(Email, i64)>,
    pub member_source: String,
    /// `(key, value)`, written last.
    pub closing_settings: Vec<(String, String)>,
}

/// What a seed wrote.
#[derive(Debug, Clone, Copy, Default)]
pub struct SeedCounts {
    pub posts: usize,
    pub live_entries: usize,
    pub members: usize,
}

/// A tag from an imported file; `key` is the file's own id for it.
#[derive(Debug, Clone)]
pub struct ImportTag {
    pub key: String,
    pub tag: NewTag,
}

/// A byline from an imported file.
#[derive(Debug, Clone)]
pub struct ImportAuthor {
    pub key: String,
    pub author: NewAuthor,
    pub avatar: Option<String>,
}

/// A post or page from an imported file, converted and checked.
#[derive(Debug, Clone)]
pub struct ImportPost {
    /// How the report names it ("post \"slug\"").
    pub what: String,
    /// `post.tag_ids` and `post.author_ids` are filled from the refs.
    pub post: NewPost,
    pub fields: ImportFields,
    /// Keys of [`ImportTag`]s and [`ImportAuthor`]s, in order.
    pub tag_refs: Vec<String>,
    pub author_refs: Vec<String>,
    /// `(kind, noted_ms, note)`.
    pub notes: Vec<(String, i64, String)>,
    pub entries: Vec<EntryDraft>,
}

/// A member from an imported file.
#[derive(Debug, Clone)]
pub struct ImportMember {
    pub email: Email,
    /// `free`, `paid` or `comped`.
    pub status: &'static str,
    pub created_ms: i64,
    pub name: String,
    /// The staff's note (Ghost's member `note`).
    pub note: String,
    /// Label names (Ghost's `members_labels`), created when new.
    pub labels: Vec<String>,
    /// Slugs of the newsletters the member receives (Ghost's
    /// `members_newsletters`), among the site's and the import's.
    pub newsletters: Vec<String>,
}

/// A newsletter from an import; one whose slug the site has is left as it is.
#[derive(Debug, Clone)]
pub struct ImportNewsletter {
    pub slug: String,
    pub fields: crate::members::NewsletterInput,
    pub sort_order: i64,
}

/// A whole import, written in one transaction: all of it, or nothing.
#[derive(Debug, Clone, Default)]
pub struct SiteImport {
    pub tags: Vec<ImportTag>,
    pub authors: Vec<ImportAuthor>,
    pub posts: Vec<ImportPost>,
    pub members: Vec<ImportMember>,
    pub newsletters: Vec<ImportNewsletter>,
    /// `(key, value)` of site settings taken from the file.
    pub settings: Vec<(&'static str, String)>,
    /// Tiers, Stripe products, prices, customers, subscriptions and comps.
    pub billing: crate::billing::ImportBilling,
    /// Told `(written, total)` every thousand posts.
    pub progress: Option<fn(usize, usize)>,
}

/// What an import added and what it found already present.
#[derive(Debug, Clone, Default)]
pub struct ImportOutcome {
    pub posts_added: usize,
    pub pages_added: usize,
    pub tags_added: usize,
    pub tags_present: usize,
    pub bylines_added: usize,
    pub bylines_present: usize,
    pub members_added: usize,
    pub members_present: usize,
    pub newsletters_added: usize,
    pub newsletters_present: usize,
    pub tiers_added: usize,
    pub tiers_present: usize,
    pub customers_linked: usize,
    pub subscriptions_written: usize,
    pub comps_set: usize,
    pub settings: Vec<String>,
    /// `(what, why)`.
    pub skipped: Vec<(String, String)>,
}

/// A new staff account with a one-time link to choose its password.
#[derive(Debug, Clone)]
pub struct Invite {
    pub user: NewStaffUser,
    pub token_hash: Vec<u8>,
    pub now: i64,
    pub expires: i64,
}
