//! What the two search indexes share: the types of a search and its results,
//! the key that orders a post in an index, and the text a published post is
//! found by. Each dialect keeps its own index and query (`sqlite/search.rs`:
//! FTS5; `postgres/search.rs`: a `tsvector` with a GIN index); both index
//! the same text, derived here in Rust, and page through results the same
//! way (windows of the newest matches, see `SearchCursor`).

use masthead_domain::html::free_part;
use masthead_domain::search::{Highlighted, clean_text, index_text};
use masthead_domain::{PostKind, Visibility};

use crate::model::PostCard;

/// Low bits of a search key taken by the post's id (see [`search_key`]).
const ID_BITS: u32 = 20;
/// Publication times are clamped to ±2^42 ms (about 139 years either side of
/// 1970), so that a key fits in an i64.
pub(crate) const MS_LIMIT: i64 = 1 << 42;

/// A post's key in an index: its publication time, then (the low bits of)
/// its id, so that key order is publication order.
pub(crate) fn search_key(published_ms: i64, id: i64) -> i64 {
    key_at(published_ms) | (id & ((1 << ID_BITS) - 1))
}

/// The smallest key of a post published at `ms`: bounds of a date filter.
pub(crate) fn key_at(ms: i64) -> i64 {
    ms.clamp(-MS_LIMIT, MS_LIMIT - 1) << ID_BITS
}

/// What a search may be narrowed to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchFilters {
    pub kind: Option<PostKind>,
    /// A tag's slug.
    pub tag: Option<String>,
    /// Published at or after this time (Unix ms).
    pub from_ms: Option<i64>,
    /// Published before this time (Unix ms).
    pub to_ms: Option<i64>,
}

impl SearchFilters {
    /// The key range the date filters allow: `lower..upper`.
    pub(crate) fn key_range(&self) -> (i64, i64) {
        (
            self.from_ms.map_or(i64::MIN, key_at),
            self.to_ms.map_or(i64::MAX, key_at),
        )
    }
}

/// One result: the post's card, its headline with matches marked, and a
/// snippet of its text (from the body, or the standfirst when that is where
/// the words are) with matches marked.
#[derive(Debug, Clone)]
pub struct SearchHit {
    pub card: PostCard,
    pub title: Highlighted,
    pub snippet: Highlighted,
}

#[derive(Debug, Clone, Default)]
pub struct SearchPage {
    pub hits: Vec<SearchHit>,
    /// Where the next page starts, if there is one.
    pub next: Option<masthead_domain::search::SearchCursor>,
}

/// A post as its index row sees it, read from the database.
pub(crate) struct PostRow<'a> {
    pub id: i64,
    pub kind: &'a str,
    pub status: &'a str,
    pub visibility: &'a str,
    pub published_ms: Option<i64>,
    pub title: &'a str,
    pub dek: &'a str,
    pub body_html: &'a str,
    /// `(name, slug)` of its tags, in order.
    pub tags: &'a [(String, String)],
    /// Names of its bylines, in order.
    pub bylines: &'a [String],
}

/// The text a published post is found by (and that snippets quote), as
/// both indexes hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IndexedPost {
    pub key: i64,
    pub kind: PostKind,
    pub title: String,
    pub dek: String,
    pub body: String,
    /// Tag names, joined by " · ".
    pub tags: String,
    /// Bylines, joined by " · ".
    pub bylines: String,
    pub tag_slugs: Vec<String>,
}

impl IndexedPost {
    /// The index row of `row`, or `None` when it must not have one (not
    /// published, or a page).
    pub(crate) fn of(row: &PostRow<'_>) -> Option<IndexedPost> {
        let (Ok(kind), Some(published)) = (PostKind::parse(row.kind), row.published_ms) else {
            return None;
        };
        if row.status != "published" || kind == PostKind::Page {
            return None;
        }
        let names: Vec<&str> = row.tags.iter().map(|(name, _)| name.as_str()).collect();
        Some(IndexedPost {
            key: search_key(published, row.id),
            kind,
            title: clean_text(row.title),
            dek: clean_text(row.dek),
            body: searchable_body(row.visibility, row.body_html),
            tags: clean_text(&names.join(" · ")),
            bylines: clean_text(&row.bylines.join(" · ")),
            tag_slugs: row.tags.iter().map(|(_, slug)| slug.clone()).collect(),
        })
    }
}

/// The plain text of a post's body that search may see: all of it for a
/// public story, only the free part of a gated one (up to its paywall
/// marker, else the teaser), so neither matches nor snippets reveal what
/// lies behind the gate.
pub(crate) fn searchable_body(visibility: &str, body_html: &str) -> String {
    if visibility == Visibility::Public.as_str() {
        index_text(body_html)
    } else {
        index_text(free_part(body_html).0)
    }
}

#[cfg(test)]
pub(crate) mod on_both;

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn only_published_stories_have_index_text_and_gated_bodies_stop_at_the_teaser() {
        let tags = [("Harbour".to_owned(), "harbour".to_owned())];
        let bylines = ["Rosa Quill".to_owned()];
        let row = PostRow {
            id: 7,
            kind: "article",
            status: "published",
            visibility: "members",
            published_ms: Some(1_000),
            title: "Ferry\u{2} cut",
            dek: "Dek",
            body_html: "<p>One.</p><p>Two.</p><p>Hidden.</p>",
            tags: &tags,
            bylines: &bylines,
        };
        let post = IndexedPost::of(&row).expect("indexed");
        assert_eq!(post.title, "Ferry  cut", "markers never reach the index");
        assert_eq!(post.body, "One. Two.");
        assert_eq!(post.tags, "Harbour");
        assert_eq!(post.tag_slugs, vec!["harbour"]);
        assert_eq!(post.key, search_key(1_000, 7));
        for (status, kind) in [
            ("draft", "article"),
            ("scheduled", "article"),
            ("published", "page"),
        ] {
            assert_eq!(
                IndexedPost::of(&PostRow {
                    status,
                    kind,
                    ..row
                }),
                None
            );
        }
        assert_eq!(
            IndexedPost::of(&PostRow {
                published_ms: None,
                ..row
            }),
            None
        );
    }

    proptest! {
        #[test]
        fn keys_follow_publication_order(a in -MS_LIMIT..MS_LIMIT, b in -MS_LIMIT..MS_LIMIT, i in 1i64..1 << 19, j in 1i64..1 << 19) {
            prop_assume!((a, i) != (b, j));
            prop_assert_eq!(search_key(a, i).cmp(&search_key(b, j)), (a, i).cmp(&(b, j)));
            prop_assert!(key_at(a) <= search_key(a, i) && search_key(a, i) < key_at(a + 1));
        }
    }
}
