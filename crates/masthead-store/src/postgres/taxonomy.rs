//! Editing bylines and tags from the desk: the PostgreSQL mirror of
//! `sqlite/taxonomy.rs`.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::PgWriter;
use super::sql::{exec, map, row_opt, rows};
use crate::error::{StoreError, StoreResult};
use crate::model::{Author, ChangeTopic};
use crate::sqlite::taxonomy::{AuthorEdit, EditableTag, TagEdit};

/// An author from six columns starting at `at`: id, slug, name, bio, location, avatar.
pub(crate) fn author_at(r: &Row, at: usize) -> StoreResult<Author> {
    Ok(Author {
        id: r.try_get(at)?,
        slug: r.try_get(at + 1)?,
        name: r.try_get(at + 2)?,
        bio: r.try_get(at + 3)?,
        location: r.try_get(at + 4)?,
        avatar: r.try_get(at + 5)?,
    })
}

fn editable_tag_from_row(r: &Row) -> StoreResult<EditableTag> {
    Ok(EditableTag {
        id: r.try_get(0)?,
        slug: r.try_get(1)?,
        name: r.try_get(2)?,
        description: r.try_get(3)?,
        is_section: r.try_get(4)?,
        position: r.try_get(5)?,
    })
}

pub async fn author_by_id(c: &impl GenericClient, id: i64) -> StoreResult<Option<Author>> {
    row_opt(
        c,
        "SELECT id, slug, name, bio, location, avatar FROM authors WHERE id = $1",
        &[&id],
    )
    .await?
    .map(|r| author_at(&r, 0))
    .transpose()
}

pub async fn editable_tag(c: &impl GenericClient, id: i64) -> StoreResult<Option<EditableTag>> {
    row_opt(
        c,
        "SELECT id, slug, name, description, is_section, position FROM tags WHERE id = $1",
        &[&id],
    )
    .await?
    .as_ref()
    .map(editable_tag_from_row)
    .transpose()
}

/// Every tag in navigation order (sections first), for the desk's list.
pub async fn editable_tags(c: &impl GenericClient) -> StoreResult<Vec<EditableTag>> {
    let found = rows(
        c,
        "SELECT id, slug, name, description, is_section, position FROM tags
         ORDER BY is_section DESC, position, name",
        &[],
    )
    .await?;
    map(&found, editable_tag_from_row)
}

impl PgWriter<'_> {
    /// Bylines print on every story they sign: the whole site is refreshed.
    pub async fn update_author(&self, id: i64, a: &AuthorEdit) -> StoreResult<()> {
        let n = exec(
            self.tx(),
            "UPDATE authors SET name = $2, bio = $3, location = $4, avatar = $5 WHERE id = $1",
            &[&id, &a.name, &a.bio, &a.location, &a.avatar],
        )
        .await?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        self.reindex_posts_by(id).await?;
        self.log_change(ChangeTopic::Site, None, None).await
    }

    /// Tag names print on cards and in the navigation: the whole site is refreshed.
    pub async fn update_tag(&self, id: i64, t: &TagEdit) -> StoreResult<()> {
        let n = exec(
            self.tx(),
            "UPDATE tags SET name = $2, description = $3, is_section = $4, position = $5 WHERE id = $1",
            &[&id, &t.name, &t.description, &t.is_section, &t.position],
        )
        .await?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        self.reindex_posts(&self.posts_tagged(id).await?).await?;
        self.log_change(ChangeTopic::Site, None, None).await
    }
}
