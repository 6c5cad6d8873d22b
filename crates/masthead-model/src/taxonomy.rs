//! Tags and bylines as the desk edits them.

use serde::Serialize;

/// A tag with what only the desk needs (its place in the navigation).
#[derive(Debug, Clone, Serialize)]
pub struct EditableTag {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub is_section: bool,
    pub position: i64,
}

#[derive(Debug, Clone)]
pub struct AuthorEdit {
    pub name: String,
    pub bio: String,
    pub location: String,
    /// Address of the portrait, or `None` for none.
    pub avatar: Option<String>,
}

#[derive(Debug, Clone)]
pub struct TagEdit {
    pub name: String,
    pub description: String,
    pub is_section: bool,
    /// Order in the navigation (smaller first).
    pub position: i64,
}
