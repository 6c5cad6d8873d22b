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

/// Which of the desk's pickers is asking: tags or bylines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taxonomy {
    Tags,
    Bylines,
}

/// Whose posts the desk's front page shows.
#[derive(Debug, Clone, Copy, Default)]
pub struct FrontViewer {
    /// The viewer's own byline: their drafts are "my drafts".
    pub byline: Option<i64>,
    /// Only posts with this byline (for those who may not see others' work);
    /// `None` shows everyone's.
    pub only: Option<i64>,
}

/// A live roundup on the front page, with how busy it is.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunningLive {
    #[serde(flatten)]
    pub post: DeskPost,
    pub entries: u64,
    /// When its newest entry was posted (none yet: `None`).
    pub last_entry_ms: Option<i64>,
}

/// The desk's front page: each list newest-relevant first, at most the
/// limit asked for.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct DeskFront {
    /// The viewer's drafts, most recently changed first.
    pub drafts: Vec<DeskPost>,
    /// Submitted for review, the longest waiting first.
    pub in_review: Vec<DeskPost>,
    /// Scheduled, the soonest first.
    pub scheduled: Vec<DeskPost>,
    /// Published (pages aside), the newest first.
    pub published: Vec<DeskPost>,
    /// Published live roundups, the most recently updated first.
    pub live: Vec<RunningLive>,
}
