//! The desk's posts list and the references it offers.

/// Filters for the desk's posts list.
#[derive(Debug, Clone, Default)]
pub struct PostFilter {
    pub status: Option<masthead_domain::PostStatus>,
    pub kind: Option<masthead_domain::PostKind>,
    pub author_id: Option<i64>,
    pub tag_id: Option<i64>,
    /// Case-insensitive substring of the title.
    pub title: Option<String>,
}

/// A row of the desk's posts list.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeskPost {
    pub id: i64,
    pub kind: String,
    pub status: String,
    pub slug: String,
    pub title: String,
    pub updated_ms: i64,
    pub published_ms: Option<i64>,
    pub authors: String,
}

/// `(id, slug, name)` of an author or tag.
pub type NamedRef = (i64, String, String);

/// A post's kind, slug, title and byline ids.
pub type PostOwnership = (masthead_domain::PostKind, String, String, Vec<i64>);
