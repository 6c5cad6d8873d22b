//! Editing bylines and tags from the desk.

use rusqlite::{Connection, OptionalExtension, params};

use super::Writer;
use crate::error::{StoreError, StoreResult};
use crate::model::{Author, ChangeTopic};
pub(crate) use masthead_model::taxonomy::*;

/// An author from six columns starting at `at`: id, slug, name, bio, location, avatar.
pub(crate) fn author_at(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Author> {
    Ok(Author {
        id: r.get(at)?,
        slug: r.get(at + 1)?,
        name: r.get(at + 2)?,
        bio: r.get(at + 3)?,
        location: r.get(at + 4)?,
        avatar: r.get(at + 5)?,
    })
}

pub fn author_by_id(c: &Connection, id: i64) -> StoreResult<Option<Author>> {
    Ok(
        c.prepare_cached(
            "SELECT id, slug, name, bio, location, avatar FROM authors WHERE id = ?1",
        )?
        .query_row([id], |r| author_at(r, 0))
        .optional()?,
    )
}

pub fn editable_tag(c: &Connection, id: i64) -> StoreResult<Option<EditableTag>> {
    Ok(c.prepare_cached(
        "SELECT id, slug, name, description, is_section, position FROM tags WHERE id = ?1",
    )?
    .query_row([id], |r| {
        Ok(EditableTag {
            id: r.get(0)?,
            slug: r.get(1)?,
            name: r.get(2)?,
            description: r.get(3)?,
            is_section: r.get(4)?,
            position: r.get(5)?,
        })
    })
    .optional()?)
}

/// Every tag in navigation order (sections first), for the desk's list.
pub fn editable_tags(c: &Connection) -> StoreResult<Vec<EditableTag>> {
    Ok(c.prepare_cached(
        "SELECT id, slug, name, description, is_section, position FROM tags
         ORDER BY is_section DESC, position, name",
    )?
    .query_map([], |r| {
        Ok(EditableTag {
            id: r.get(0)?,
            slug: r.get(1)?,
            name: r.get(2)?,
            description: r.get(3)?,
            is_section: r.get(4)?,
            position: r.get(5)?,
        })
    })?
    .collect::<Result<_, _>>()?)
}

impl Writer<'_> {
    /// Bylines print on every story they sign: the whole site is refreshed.
    pub fn update_author(&self, id: i64, a: &AuthorEdit) -> StoreResult<()> {
        let n = self.tx().execute(
            "UPDATE authors SET name = ?2, bio = ?3, location = ?4, avatar = ?5 WHERE id = ?1",
            params![id, a.name, a.bio, a.location, a.avatar],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        self.reindex_posts_by(id)?;
        self.log_change(ChangeTopic::Site, None, None)
    }

    /// Tag names print on cards and in the navigation: the whole site is refreshed.
    pub fn update_tag(&self, id: i64, t: &TagEdit) -> StoreResult<()> {
        let n = self
            .tx()
            .execute(
                "UPDATE tags SET name = ?2, description = ?3, is_section = ?4, position = ?5 WHERE id = ?1",
                params![id, t.name, t.description, t.is_section, t.position],
            )?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        self.reindex_posts(&self.posts_tagged(id)?)?;
        self.log_change(ChangeTopic::Site, None, None)
    }
}
