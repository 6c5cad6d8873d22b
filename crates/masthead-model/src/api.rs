//! What the Ghost-compatible APIs browse and print: keys, browse requests
//! (an NQL filter, an order, a page), and the rows they return.

use masthead_nql::Filter;
use serde::Serialize;

use crate::model::Author;

/// The two kinds of API key: a content key reads the public site; an admin
/// key (an id and a secret) signs tokens for the Admin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiKeyKind {
    Content,
    Admin,
}

impl ApiKeyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ApiKeyKind::Content => "content",
            ApiKeyKind::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<ApiKeyKind> {
        match s {
            "content" => Some(ApiKeyKind::Content),
            "admin" => Some(ApiKeyKind::Admin),
            _ => None,
        }
    }
}

impl std::fmt::Display for ApiKeyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ApiKey {
    pub id: i64,
    pub kind: ApiKeyKind,
    pub name: String,
    pub key_id: String,
    /// Admin keys only.
    pub secret: Option<String>,
    pub created_ms: i64,
    pub last_used_ms: Option<i64>,
    pub revoked: bool,
}

/// What is being browsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Posts,
    Pages,
    Tags,
    Authors,
    Members,
}

impl Resource {
    /// The resource's name for one item, as errors print it.
    pub fn singular(self) -> &'static str {
        match self {
            Resource::Posts => "post",
            Resource::Pages => "page",
            Resource::Tags => "tag",
            Resource::Authors => "author",
            Resource::Members => "member",
        }
    }
}

/// Who is asking: the Content API sees published posts only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Content,
    Admin,
    /// The Admin API for staff who see only posts carrying their byline
    /// (`masthead_domain::editorial::Sight::Byline`); `None` sees none.
    AdminByline(Option<i64>),
}

#[derive(Debug, Clone)]
pub struct Order {
    pub field: String,
    pub desc: bool,
}

#[derive(Debug, Clone)]
pub struct Browse {
    pub resource: Resource,
    pub audience: Audience,
    pub filter: Option<Filter>,
    pub order: Vec<Order>,
    /// `None` is `limit=all`.
    pub limit: Option<u32>,
    /// 1-based.
    pub page: u32,
    /// For relative dates (`now-30d`).
    pub now_ms: i64,
}

/// A post or page as the APIs print it.
#[derive(Debug, Clone, Serialize)]
pub struct ApiPost {
    pub id: i64,
    pub uuid: String,
    pub kind: String,
    pub status: String,
    pub slug: String,
    pub title: String,
    pub dek: String,
    pub body_source: String,
    pub body_html: String,
    pub visibility: String,
    pub featured: bool,
    pub feature_image: Option<String>,
    pub feature_image_alt: String,
    pub feature_image_caption: String,
    pub feature_image_credit: String,
    pub canonical_url: Option<String>,
    pub meta_title: Option<String>,
    pub meta_description: Option<String>,
    pub reading_minutes: u32,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub published_ms: Option<i64>,
    pub tags: Vec<ApiTag>,
    pub authors: Vec<Author>,
    /// The tiers a `tiers` story is open to (empty for other visibilities).
    pub tier_ids: Vec<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ApiTag {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub description: String,
    /// Published posts carrying it.
    pub count_posts: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ApiAuthor {
    pub author: Author,
    pub count_posts: u64,
}

/// One page of results and how many there are in all.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
}

/// A member as the Admin API prints it.
#[derive(Debug, Clone, Serialize)]
pub struct ApiMember {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub status: String,
    pub source: String,
    pub created_ms: i64,
}

/// What the Admin API may set on a post beyond what the editor's save does.
#[derive(Debug, Clone, Default)]
pub struct PostExtras {
    pub featured: Option<bool>,
    /// `Some(None)` removes the feature image.
    pub feature_image: Option<Option<String>>,
    pub feature_image_alt: Option<String>,
    pub feature_image_caption: Option<String>,
    /// The tiers a `tiers` story is open to; `None` leaves them.
    pub tier_ids: Option<Vec<i64>>,
}

/// Parses a 24-hex Ghost id (or a plain number) into a row id.
pub fn parse_id(s: &str) -> Option<i64> {
    if s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        i64::from_str_radix(s, 16).ok().filter(|v| *v > 0)
    } else {
        s.parse().ok().filter(|v: &i64| *v > 0)
    }
}

/// A row id as Ghost prints ids: 24 lowercase hex digits.
pub fn format_id(id: i64) -> String {
    format!("{id:024x}")
}
