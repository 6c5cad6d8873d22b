//! The desk's editor: a post as it is edited, an edit to save, revisions
//! and review.

use masthead_domain::{PostKind, PostStatus, Visibility};
use serde::Serialize;

use crate::media::MediaDetails;

/// Autosaves by one person within this long of each other share a revision.
pub const AUTOSAVE_REVISION_MS: i64 = 10 * 60_000;

/// A post as the editor shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EditablePost {
    pub id: i64,
    pub kind: PostKind,
    pub status: PostStatus,
    pub slug: String,
    pub title: String,
    pub dek: String,
    pub body_source: String,
    pub published_ms: Option<i64>,
    /// The version token: a save must name the version it started from.
    pub updated_ms: i64,
    pub author_ids: Vec<i64>,
    /// Byline slugs in order, the lead first.
    pub author_slugs: Vec<String>,
    pub meta_title: String,
    pub meta_description: String,
    pub canonical_url: String,
    /// Tag slugs in order, the primary first.
    pub tag_slugs: Vec<String>,
    pub visibility: Visibility,
    /// The tiers a `tiers` story is open to.
    pub tier_ids: Vec<i64>,
    /// The feature image as printed on this post, if any.
    pub feature_image: Option<String>,
    /// Set when the feature image comes from the media library.
    pub feature_media_id: Option<i64>,
    pub feature_alt: String,
    pub feature_caption: String,
    pub feature_photographer: String,
    pub feature_agency: String,
    /// A provider page (YouTube, Vimeo) for video posts.
    pub video_embed: String,
}

/// Which feature image a save leaves on the post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureChoice {
    /// Whatever it has now (only the words may change).
    Keep,
    /// None.
    Remove,
    /// This item of the media library.
    Media(i64),
}

#[derive(Debug, Clone)]
pub struct FeatureEdit {
    pub choice: FeatureChoice,
    pub words: MediaDetails,
}

/// What the editor sends on save.
#[derive(Debug, Clone)]
pub struct PostEdit {
    pub title: String,
    pub dek: String,
    pub slug: String,
    pub body_source: String,
    pub body_html: String,
    pub word_count: u32,
    pub reading_minutes: u32,
    pub status: PostStatus,
    pub published_ms: Option<i64>,
    /// Tags in order (first = primary); `None` leaves them as they are.
    pub tag_ids: Option<Vec<i64>>,
    /// Bylines in order (first = lead); `None` leaves them as they are.
    pub author_ids: Option<Vec<i64>>,
    /// Search and sharing: `None` leaves them as they are; `Some("")` clears.
    pub seo: Option<Seo>,
    /// `None` leaves the feature image as it is.
    pub feature: Option<FeatureEdit>,
    /// `None` leaves who may read it as it is.
    pub visibility: Option<Visibility>,
    /// The tiers a `tiers` story is open to; `None` leaves them as they are.
    pub tier_ids: Option<Vec<i64>>,
    /// `None` leaves it; `Some("")` clears.
    pub video_embed: Option<String>,
    /// Saved by the editor's timer, not by a person pressing Save: a run of
    /// autosaves by one person keeps one revision, updated in place.
    pub autosave: bool,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Revision {
    pub id: i64,
    pub created_ms: i64,
    pub staff_name: Option<String>,
    pub title: String,
    pub dek: String,
    pub slug: String,
    pub body_source: String,
    pub status: String,
}

/// A draft waiting for an editor.
#[derive(Debug, Clone, Serialize)]
pub struct ReviewItem {
    pub post_id: i64,
    pub title: String,
    /// Its bylines, comma-separated.
    pub by: String,
    pub submitted_ms: i64,
}

/// A note in a post's review thread.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReviewNote {
    pub created_ms: i64,
    pub staff_name: Option<String>,
    pub decision: String,
    pub body: String,
}

#[derive(Debug, Clone, Default)]
pub struct Seo {
    pub meta_title: String,
    pub meta_description: String,
    pub canonical_url: String,
}
