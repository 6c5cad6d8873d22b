//! A whole site as export and import see it.

use crate::model::Author;

/// A post with every column an export carries.
#[derive(Debug, Clone, Default)]
pub struct ExportPost {
    pub id: i64,
    pub uuid: String,
    pub kind: String,
    pub status: String,
    pub visibility: String,
    pub featured: bool,
    pub slug: String,
    pub title: String,
    pub dek: String,
    pub body_source: String,
    pub body_html: String,
    pub feature_image: Option<String>,
    pub feature_image_alt: String,
    pub feature_image_caption: String,
    pub photographer: String,
    pub agency: String,
    pub video_src: Option<String>,
    pub video_embed: Option<String>,
    pub video_duration_s: Option<i64>,
    pub canonical_url: Option<String>,
    pub meta_title: Option<String>,
    pub meta_description: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub published_ms: Option<i64>,
    pub tag_ids: Vec<i64>,
    pub author_ids: Vec<i64>,
    /// `(kind, noted_ms, note)`.
    pub notes: Vec<(String, i64, String)>,
    /// `(title, body_source, pinned, created_ms)`.
    pub live_entries: Vec<(String, String, bool, i64)>,
}

#[derive(Debug, Clone)]
pub struct ExportMember {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub status: String,
    pub created_ms: i64,
    pub note: String,
}

#[derive(Debug, Clone, Default)]
pub struct Everything {
    pub posts: Vec<ExportPost>,
    pub tags: Vec<super::taxonomy::EditableTag>,
    pub authors: Vec<Author>,
    pub members: Vec<ExportMember>,
    pub labels: Vec<super::members::Label>,
    /// `(member_id, label_id)`.
    pub member_labels: Vec<(i64, i64)>,
    pub newsletters: Vec<super::members::Newsletter>,
    /// `(member_id, newsletter_id)`.
    pub member_newsletters: Vec<(i64, i64)>,
    pub tiers: Vec<super::tiers::Tier>,
    pub billing: super::billing::BillingExport,
}

/// Columns an import sets after inserting a post.
#[derive(Debug, Clone, Default)]
pub struct ImportFields {
    pub uuid: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub featured: bool,
    pub canonical_url: Option<String>,
    pub meta_title: Option<String>,
    pub meta_description: Option<String>,
    pub feature_image_alt: String,
    pub feature_image_caption: String,
    pub photographer: String,
    pub agency: String,
}
