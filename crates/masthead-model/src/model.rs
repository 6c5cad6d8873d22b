//! Rows as the rest of Masthead sees them.

use masthead_domain::{FeedCursor, PostKind, PostStatus, Visibility};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct TagRef {
    pub id: i64,
    pub slug: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Tag {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub is_section: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Author {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub bio: String,
    pub location: String,
    pub avatar: Option<String>,
}

/// A photo as printed: where it is, what it shows, who took it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Image {
    pub src: String,
    pub alt: String,
    pub caption: String,
    pub photographer: String,
    pub agency: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Responsive widths (`srcset`) when the image comes from the media library.
    pub srcset: Option<String>,
    /// The same widths in WebP.
    pub webp_srcset: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Video {
    /// A file served by Masthead.
    pub src: Option<String>,
    /// A provider page URL (YouTube, Vimeo…), checked against the allow-list when rendered.
    pub embed: Option<String>,
    pub duration_s: Option<u32>,
}

/// What a feed card needs, and nothing more.
#[derive(Debug, Clone, Serialize)]
pub struct PostCard {
    pub id: i64,
    pub kind: PostKind,
    pub slug: String,
    pub title: String,
    pub dek: String,
    pub visibility: Visibility,
    pub published_ms: i64,
    pub updated_ms: i64,
    pub reading_minutes: u32,
    pub primary_tag: Option<TagRef>,
    pub image: Option<Image>,
}

impl PostCard {
    pub fn cursor(&self) -> FeedCursor {
        FeedCursor {
            published_ms: self.published_ms,
            id: self.id,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PostNote {
    pub kind: String,
    pub noted_ms: i64,
    pub note: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Post {
    pub id: i64,
    /// Stable whatever the slug or the site's address (feeds' item ids).
    pub uuid: Option<String>,
    pub kind: PostKind,
    pub status: PostStatus,
    pub visibility: Visibility,
    pub slug: String,
    pub title: String,
    pub dek: String,
    pub body_html: String,
    pub word_count: u32,
    pub reading_minutes: u32,
    pub image: Option<Image>,
    pub video: Option<Video>,
    pub language: String,
    pub canonical_url: Option<String>,
    pub meta_title: Option<String>,
    pub meta_description: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub published_ms: Option<i64>,
    pub tags: Vec<TagRef>,
    pub authors: Vec<Author>,
    pub notes: Vec<PostNote>,
    /// The tiers a `tiers` story is open to (empty for other visibilities).
    pub tiers: Vec<crate::tiers::TierRef>,
}

impl Post {
    pub fn primary_tag(&self) -> Option<&TagRef> {
        self.tags.first()
    }

    /// Whether `reader` (`None`: anonymous) may read this story in full.
    pub fn readable_by(&self, reader: Option<masthead_domain::access::Reader>) -> bool {
        let open: Vec<masthead_domain::access::OpenTo> = self
            .tiers
            .iter()
            .map(|t| masthead_domain::access::OpenTo {
                tier_id: t.id,
                free: t.free,
            })
            .collect();
        masthead_domain::access::may_read(self.visibility, &open, reader)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct LiveEntry {
    pub id: i64,
    pub post_id: i64,
    pub title: String,
    pub body_html: String,
    /// The Markdown it was rendered from (for the live console).
    pub body_source: String,
    pub pinned: bool,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// One page of a live post: pinned entries (first page only), the newest
/// others, and where the older ones continue.
#[derive(Debug, Clone, Default)]
pub struct LivePage {
    pub pinned: Vec<LiveEntry>,
    pub entries: Vec<LiveEntry>,
    pub older: Option<FeedCursor>,
    pub total: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Campaign {
    pub id: i64,
    pub pitch: String,
    pub goal: u64,
    pub metric: String,
    pub starts_ms: i64,
    pub deadline_ms: i64,
}

/// One page of a listing, with the cursor for the next one if there is more.
#[derive(Debug, Clone, Serialize)]
pub struct FeedPage {
    pub cards: Vec<PostCard>,
    pub next: Option<FeedCursor>,
}

/// Which posts a listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FeedScope {
    /// The News Feed: everything but pages.
    All,
    /// Posts carrying a tag anywhere in their tag list.
    Tag(i64),
    /// Posts whose primary tag is this section.
    Section(i64),
    Author(i64),
    Kind(PostKind),
}

/// The listings a post appears in.
#[derive(Debug, Clone)]
pub struct PostRefs {
    pub kind: PostKind,
    pub primary_tag_id: Option<i64>,
    pub tag_ids: Vec<i64>,
    pub author_ids: Vec<i64>,
}

/// A recorded write, as tailed from the change log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub id: i64,
    pub at_ms: i64,
    pub topic: ChangeTopic,
    pub post_id: Option<i64>,
    pub ref_id: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeTopic {
    Post,
    LiveEntry,
    Member,
    Site,
    Other,
}

impl ChangeTopic {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeTopic::Post => "post",
            ChangeTopic::LiveEntry => "live_entry",
            ChangeTopic::Member => "member",
            ChangeTopic::Site => "site",
            ChangeTopic::Other => "other",
        }
    }

    pub fn parse(s: &str) -> ChangeTopic {
        match s {
            "post" => ChangeTopic::Post,
            "live_entry" => ChangeTopic::LiveEntry,
            "member" => ChangeTopic::Member,
            "site" => ChangeTopic::Site,
            _ => ChangeTopic::Other,
        }
    }
}

/// How much of each story the RSS, Atom and JSON feeds carry.
/// Members-only stories carry their excerpt either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FeedContent {
    /// The whole body.
    #[default]
    Full,
    /// The excerpt only: readers follow the link for the rest.
    Excerpt,
}

impl FeedContent {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedContent::Full => "full",
            FeedContent::Excerpt => "excerpt",
        }
    }

    pub fn parse(s: &str) -> Option<FeedContent> {
        match s {
            "full" => Some(FeedContent::Full),
            "excerpt" => Some(FeedContent::Excerpt),
            _ => None,
        }
    }
}

/// A page listed in a sitemap: the variable part of its address (a slug) and
/// when it last changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SitemapEntry {
    pub slug: String,
    pub updated_ms: i64,
}

/// A tag with published posts, for the sitemap; sections also have a section page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SitemapTag {
    pub slug: String,
    pub is_section: bool,
    /// When its newest post was published.
    pub updated_ms: i64,
}

/// A story in the Google News sitemap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewsEntry {
    pub slug: String,
    pub title: String,
    pub published_ms: i64,
}

/// Site-wide settings the theme prints.
#[derive(Debug, Clone, Serialize)]
pub struct SiteSettings {
    pub title: String,
    pub description: String,
    pub accent: String,
    pub timezone: String,
    pub locale: String,
    /// The logo's address, if the site has one, and its size.
    pub logo: Option<String>,
    pub logo_width: Option<u32>,
    pub logo_height: Option<u32>,
    /// What the feeds carry of each story.
    pub feed_content: FeedContent,
    /// Most items in one page of the Content and Admin APIs (settings key
    /// `api_max_limit`; 100 as in Ghost 6.0, at most [`API_MAX_LIMIT_CEILING`]).
    pub api_max_limit: u32,
    /// Members-only stories an anonymous reader may open in 30 days before
    /// the sign-up box (settings key `meter_free_stories`; 0, the default,
    /// turns the meter off; at most `meter::MAX_FREE_STORIES`).
    pub meter_free_stories: u32,
}

/// The default largest API page (Ghost 6.0's).
pub const API_MAX_LIMIT: u32 = 100;
/// The highest `api_max_limit` a site may set: a page is read in one query
/// and its relations in one `IN (…)` list each.
pub const API_MAX_LIMIT_CEILING: u32 = 1_000;

impl Default for SiteSettings {
    fn default() -> Self {
        SiteSettings {
            title: "Masthead".to_owned(),
            description: String::new(),
            accent: "#b3261e".to_owned(),
            timezone: "UTC".to_owned(),
            locale: "en-GB".to_owned(),
            logo: None,
            logo_width: None,
            logo_height: None,
            feed_content: FeedContent::Full,
            api_max_limit: API_MAX_LIMIT,
            meter_free_stories: 0,
        }
    }
}

// ---- inputs ----

#[derive(Debug, Clone)]
pub struct NewAuthor {
    pub slug: String,
    pub name: String,
    pub bio: String,
    pub location: String,
}

#[derive(Debug, Clone)]
pub struct NewTag {
    pub slug: String,
    pub name: String,
    pub description: String,
    pub is_section: bool,
    pub position: i64,
}

/// A post ready to store: its body already rendered and measured.
#[derive(Debug, Clone)]
pub struct NewPost {
    pub kind: PostKind,
    pub slug: String,
    pub title: String,
    pub dek: String,
    pub body_source: String,
    pub body_html: String,
    pub word_count: u32,
    pub reading_minutes: u32,
    pub status: PostStatus,
    pub visibility: Visibility,
    pub image: Option<Image>,
    pub video: Option<Video>,
    pub published_ms: Option<i64>,
    pub updated_ms: i64,
    /// Tag ids in order; the first is primary.
    pub tag_ids: Vec<i64>,
    /// Author ids in order; the first is the lead byline.
    pub author_ids: Vec<i64>,
}

#[derive(Debug, Clone)]
pub struct NewLiveEntry {
    pub post_id: i64,
    pub title: String,
    pub body_source: String,
    pub body_html: String,
    pub pinned: bool,
    pub created_ms: i64,
}

/// A staff account, without its password hash.
#[derive(Debug, Clone, Serialize)]
pub struct StaffUser {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: masthead_domain::Role,
    pub author_id: Option<i64>,
    pub active: bool,
}

/// A signed-in session, found by its token.
#[derive(Debug, Clone)]
pub struct StaffSession {
    pub user: StaffUser,
    pub csrf_token: String,
    pub expires_ms: i64,
}

#[derive(Debug, Clone)]
pub struct NewStaffUser {
    pub email: masthead_domain::Email,
    pub name: String,
    pub role: masthead_domain::Role,
    pub password_hash: String,
    pub author_id: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinOutcome {
    Joined,
    AlreadyMember,
}

/// A limit on attempts: at most `max` events for `key` within `window_ms`.
/// Keys name what is counted (`signin-ip:203.0.113.9`, `join-ip:…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    pub key: String,
    pub max: u32,
    pub window_ms: i64,
}

impl Limit {
    pub fn new(key: impl Into<String>, max: u32, window_ms: i64) -> Limit {
        Limit {
            key: key.into(),
            max,
            window_ms,
        }
    }
}
