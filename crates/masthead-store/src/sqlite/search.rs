//! Full-text search on SQLite: the FTS5 table `post_search` (see migration
//! 0010 for its shape and why it keeps its own text), how a post's row in it
//! is written, and the ranked, keyset-paged search itself.
//!
//! The index holds published posts only, and is rewritten by
//! [`Writer::reindex_post`] in the same transaction as every write that
//! changes what a post's row holds: creating, saving (title, standfirst,
//! body, status, visibility, tags, bylines), publishing when due, deleting a
//! post or a tag, renaming a tag or a byline. The query reaches FTS5 only as
//! the rendering of a parsed [`SearchQuery`], every term quoted, so no input
//! is FTS5 syntax.

use masthead_domain::PostKind;
use masthead_domain::search::{Highlighted, SearchCursor, SearchQuery};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::Writer;
use super::queries::{card_columns, card_from_row};
use crate::error::StoreResult;
use crate::search::{IndexedPost, PostRow};
pub use crate::search::{SearchFilters, SearchHit, SearchPage};

/// The migration that creates the index (and after which it is filled).
pub(super) const INDEX_MIGRATION: i64 = 10;

/// Relevance weights of the columns (title, standfirst, body, tags, bylines,
/// facets): a word in the headline counts ten body words, in the standfirst
/// five, in a tag or byline four. Facets only ever match filters: weight 0.
const RANK: &str = "bm25(post_search, 10.0, 5.0, 1.0, 4.0, 4.0, 0.0)";
/// Starts every facet token: a private-use character, which the tokenizer
/// keeps in a token (unicode61 indexes letters, digits and private use) but
/// which the reader's query language treats as a separator and indexed text
/// never contains, so no word a reader types or a story holds can be a facet.
const FACET: char = '\u{E000}';
/// How many matches are ranked together: the newest this many, then the
/// next-older this many, and so on. Ranking costs per match (bm25 reads each
/// one's column sizes and positions), so a word found in half of a large
/// archive must not rank every match before the first page; a query with
/// fewer matches than this (most of them) is ranked as a whole.
pub(crate) const RANK_WINDOW: i64 = 1_000;
/// Tokens in a snippet (FTS5 allows at most 64).
const SNIPPET_TOKENS: i64 = 32;

/// The facet token of a kind: [`FACET`], then letters ending in a digit, so
/// that no stemming rule changes it.
fn kind_facet(kind: PostKind) -> String {
    format!("{FACET}k{}0", kind.as_str())
}

/// The facet token of a tag: its slug in hex (slugs hold `-`, which the
/// tokenizer would split on), ending in a digit like [`kind_facet`].
fn tag_facet(slug: &str) -> String {
    let mut out = String::with_capacity(slug.len() * 2 + 5);
    out.push(FACET);
    out.push('t');
    for b in slug.bytes() {
        out.push_str(&format!("{b:02x}"));
    }
    out.push('0');
    out
}

/// The whole `MATCH` expression: the reader's (already rendered with every
/// term quoted) and the filters' facets. No column filter: with one, FTS5
/// must read every match's positions to see where it is, which doubled the
/// cost of ranking (bm25 counts each term's matches over the whole table);
/// facet tokens cannot be matched by a reader's words anyway (see [`FACET`]).
fn match_expression(reader: &str, filters: &SearchFilters) -> String {
    let mut fts = format!("({reader})");
    if let Some(kind) = filters.kind {
        fts.push_str(&format!(" AND \"{}\"", kind_facet(kind)));
    }
    if let Some(tag) = &filters.tag {
        fts.push_str(&format!(" AND \"{}\"", tag_facet(tag)));
    }
    fts
}

/// The next window below `end`: the keys of the newest [`RANK_WINDOW`]
/// matches in `lower..end`, as `(oldest key, end)`; `None` when there are none.
fn window_below(
    c: &Connection,
    fts: &str,
    lower: i64,
    end: i64,
) -> StoreResult<Option<(i64, i64)>> {
    let keys: Vec<i64> = c
        .prepare_cached(
            "SELECT rowid FROM post_search WHERE post_search MATCH ?1 AND rowid >= ?2 AND rowid < ?3
             ORDER BY rowid DESC LIMIT ?4",
        )?
        .query_map(params![fts, lower, end, RANK_WINDOW], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(keys.last().map(|oldest| (*oldest, end)))
}

/// A page of results for `query`: best first (ties: newest first) within
/// windows of the newest matches, strictly after `after`. A query with
/// nothing to search for finds nothing.
pub fn search(
    c: &Connection,
    query: SearchQuery,
    filters: SearchFilters,
    after: Option<SearchCursor>,
    limit: u32,
) -> StoreResult<SearchPage> {
    let Some(expr) = query.to_fts5() else {
        return Ok(SearchPage::default());
    };
    let limit = limit.clamp(1, 100) as usize;
    let fts = match_expression(&expr, &filters);
    let (lower, upper) = filters.key_range();
    let (mut window, mut resume) = match after {
        Some(a) => ((a.window_start, a.window_end), Some((a.score, a.key))),
        None => match window_below(c, &fts, lower, upper)? {
            Some(w) => (w, None),
            None => return Ok(SearchPage::default()),
        },
    };
    let sql = format!(
        "SELECT rowid, {RANK} AS score FROM post_search
         WHERE post_search MATCH ?1 AND rowid >= ?2 AND rowid < ?3
           AND (?4 IS NULL OR score > ?4 OR (score = ?4 AND rowid < ?5))
         ORDER BY score, rowid DESC LIMIT ?6"
    );
    let mut rank = c.prepare_cached(&sql)?;
    let mut ranked: Vec<SearchCursor> = Vec::with_capacity(limit + 1);
    loop {
        let (start, end) = window;
        let need = (limit + 1 - ranked.len()) as i64;
        let rows = rank.query_map(
            params![
                fts,
                start.max(lower),
                end.min(upper),
                resume.map(|r| r.0),
                resume.map(|r| r.1),
                need
            ],
            |r| {
                Ok(SearchCursor {
                    window_start: start,
                    window_end: end,
                    key: r.get(0)?,
                    score: r.get(1)?,
                })
            },
        )?;
        for row in rows {
            ranked.push(row?);
        }
        if ranked.len() > limit {
            break;
        }
        // This window is done: on to the next-older one.
        match window_below(c, &fts, lower, start.max(lower))? {
            Some(w) => {
                window = w;
                resume = None;
            }
            None => break,
        }
    }
    let next = if ranked.len() > limit {
        ranked.truncate(limit);
        ranked.last().copied()
    } else {
        None
    };
    // Cards and snippets for this page only: snippets cost, so never for
    // matches that are not shown.
    let mut post_stmt =
        c.prepare_cached("SELECT post_id FROM post_search_keys WHERE search_key = ?1")?;
    let mut card_stmt = c.prepare_cached(concat!(
        "SELECT ",
        card_columns!(),
        " FROM posts p LEFT JOIN tags t ON t.id = p.primary_tag_id
          WHERE p.id = ?1 AND p.status = 'published'"
    ))?;
    let mut snip_stmt = c.prepare_cached(&format!(
        "SELECT highlight(post_search, 0, char(2), char(3)),
                snippet(post_search, 2, char(2), char(3), '…', {SNIPPET_TOKENS}),
                highlight(post_search, 1, char(2), char(3))
         FROM post_search WHERE post_search MATCH ?1 AND rowid = ?2"
    ))?;
    let mut hits = Vec::with_capacity(ranked.len());
    for r in &ranked {
        let Some(post_id) = post_stmt
            .query_row([r.key], |row| row.get::<_, i64>(0))
            .optional()?
        else {
            continue;
        };
        let Some(card) = card_stmt.query_row([post_id], card_from_row).optional()? else {
            continue;
        };
        let (title, body, dek): (String, String, String) = snip_stmt
            .query_row(params![fts, r.key], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })
            .optional()?
            .unwrap_or_default();
        let marked = |s: &str| s.contains(masthead_domain::search::MARK_START);
        let snippet = if marked(&body) || (!marked(&dek) && !body.is_empty()) {
            body
        } else {
            dek
        };
        hits.push(SearchHit {
            card,
            title: Highlighted(title),
            snippet: Highlighted(snippet),
        });
    }
    Ok(SearchPage { hits, next })
}

/// A post's row in the index.
struct Document {
    key: i64,
    columns: [String; 6],
}

/// The row post `id` should have in the index, or `None` if it must not be
/// in it (missing, not published, or a page).
fn document(tx: &Transaction<'_>, id: i64) -> StoreResult<Option<Document>> {
    type Row = (String, String, String, Option<i64>, String, String, String);
    let row: Option<Row> = tx
        .prepare_cached(
            "SELECT kind, status, visibility, published_at, title, dek, body_html FROM posts WHERE id = ?1",
        )?
        .query_row([id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
        })
        .optional()?;
    let Some((kind, status, visibility, published_ms, title, dek, body_html)) = row else {
        return Ok(None);
    };
    let tags: Vec<(String, String)> = tx
        .prepare_cached(
            "SELECT t.name, t.slug FROM post_tags pt JOIN tags t ON t.id = pt.tag_id
             WHERE pt.post_id = ?1 ORDER BY pt.position",
        )?
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let bylines: Vec<String> = tx
        .prepare_cached(
            "SELECT a.name FROM post_authors pa JOIN authors a ON a.id = pa.author_id
             WHERE pa.post_id = ?1 ORDER BY pa.position",
        )?
        .query_map([id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let Some(post) = IndexedPost::of(&PostRow {
        id,
        kind: &kind,
        status: &status,
        visibility: &visibility,
        published_ms,
        title: &title,
        dek: &dek,
        body_html: &body_html,
        tags: &tags,
        bylines: &bylines,
    }) else {
        return Ok(None);
    };
    let mut facets = vec![kind_facet(post.kind)];
    facets.extend(post.tag_slugs.iter().map(|slug| tag_facet(slug)));
    Ok(Some(Document {
        key: post.key,
        columns: [
            post.title,
            post.dek,
            post.body,
            post.tags,
            post.bylines,
            facets.join(" "),
        ],
    }))
}

/// Makes post `id`'s row in the index what the post now is: rewritten if it
/// is a published post, gone otherwise.
fn reindex(tx: &Transaction<'_>, id: i64) -> StoreResult<()> {
    let old: Option<i64> = tx
        .prepare_cached("DELETE FROM post_search_keys WHERE post_id = ?1 RETURNING search_key")?
        .query_row([id], |r| r.get(0))
        .optional()?;
    if let Some(key) = old {
        tx.prepare_cached("DELETE FROM post_search WHERE rowid = ?1")?
            .execute([key])?;
    }
    let Some(doc) = document(tx, id)? else {
        return Ok(());
    };
    // Two posts published in the same millisecond whose ids agree in their
    // low bits would share a key: the later one takes the next free key.
    let mut key = doc.key;
    let mut taken = tx.prepare_cached("SELECT 1 FROM post_search_keys WHERE search_key = ?1")?;
    while taken.exists([key])? {
        key = key
            .checked_add(1)
            .ok_or_else(|| crate::error::StoreError::Other("no free search key".into()))?;
    }
    tx.prepare_cached("INSERT INTO post_search_keys (post_id, search_key) VALUES (?1, ?2)")?
        .execute([id, key])?;
    let [title, dek, body, tags, bylines, facets] = &doc.columns;
    tx.prepare_cached(
        "INSERT INTO post_search (rowid, title, dek, body, tags, bylines, facets)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![key, title, dek, body, tags, bylines, facets])?;
    Ok(())
}

/// Fills the index from scratch (when the migration creates it).
pub(super) fn rebuild_index(tx: &Transaction<'_>) -> StoreResult<()> {
    tx.execute("DELETE FROM post_search", [])?;
    tx.execute("DELETE FROM post_search_keys", [])?;
    let ids: Vec<i64> = tx
        .prepare("SELECT id FROM posts WHERE status = 'published' AND kind <> 'page'")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for id in ids {
        reindex(tx, id)?;
    }
    optimize(tx)
}

fn optimize(tx: &Transaction<'_>) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO post_search (post_search) VALUES ('optimize')",
        [],
    )?;
    Ok(())
}

impl Writer<'_> {
    /// Brings post `id`'s search row up to date; every write path that
    /// changes a post's text, status, visibility, tags or bylines calls it.
    pub fn reindex_post(&self, id: i64) -> StoreResult<()> {
        reindex(self.tx(), id)
    }

    /// Rebuilds the whole index from the posts (for bulk loads that write
    /// posts other than through [`Writer::insert_post`], such as a copy of a
    /// site between databases).
    pub fn rebuild_search_index(&self) -> StoreResult<()> {
        rebuild_index(self.tx())
    }

    /// Merges the index into one segment. Writes add small segments that
    /// FTS5 merges as it goes; a bulk load of thousands of posts in one
    /// transaction leaves many, and every query then looks each term up in
    /// each of them (ten times slower at 100,000 posts). Bulk loads end with this.
    pub fn optimize_search_index(&self) -> StoreResult<()> {
        optimize(self.tx())
    }

    /// The ids of the posts carrying tag `tag_id` (before it changes or goes).
    pub(super) fn posts_tagged(&self, tag_id: i64) -> StoreResult<Vec<i64>> {
        Ok(self
            .tx()
            .prepare_cached("SELECT post_id FROM post_tags WHERE tag_id = ?1")?
            .query_map([tag_id], |r| r.get(0))?
            .collect::<Result<_, _>>()?)
    }

    /// Reindexes every post signed by author `author_id` (a renamed byline).
    pub(super) fn reindex_posts_by(&self, author_id: i64) -> StoreResult<()> {
        let ids: Vec<i64> = self
            .tx()
            .prepare_cached("SELECT post_id FROM post_authors WHERE author_id = ?1")?
            .query_map([author_id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        ids.into_iter().try_for_each(|id| self.reindex_post(id))
    }

    /// Reindexes `ids` (posts whose tags changed).
    pub(super) fn reindex_posts(&self, ids: &[i64]) -> StoreResult<()> {
        ids.iter().try_for_each(|id| self.reindex_post(*id))
    }
}

#[cfg(test)]
mod tests {
    //! The FTS5 rendering against a real FTS5 table. What search finds is
    //! tested on both backends at once (`search/on_both.rs`).
    use masthead_domain::search::parse;
    use proptest::prelude::*;

    use super::*;

    /// A real FTS5 table shaped like the index, to run rendered queries on.
    fn fts_table() -> Connection {
        let c = Connection::open_in_memory().expect("db");
        c.execute_batch(include_str!("../../migrations/sqlite/0010_search.sql"))
            .expect("table");
        c.execute(
            "INSERT INTO post_search (rowid, title, dek, body, tags, bylines, facets)
             VALUES (1, 'City council', 'Near the river', 'AND OR NOT NEAR title x', 'tag', 'A. Writer', 'karticle0')",
            [],
        )
        .expect("row");
        c
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn any_input_renders_to_a_valid_fts5_query(
            input in "\\PC{0,60}|[\"*()\\-:^+a-zA-Z0-9 \\x00\u{301}\u{E000}é{}]{0,60}|(NEAR|AND|OR|NOT|title:|facets|\\{|\\}|\\(|\\)|\"|\\*|-| ){0,20}",
            kind in proptest::option::of(proptest::sample::select(PostKind::ALL.to_vec())),
            tag in proptest::option::of("[a-z0-9-]{1,20}"),
        ) {
            thread_local!(static DB: Connection = fts_table());
            if let Ok(q) = parse(&input)
                && let Some(expr) = q.to_fts5()
            {
                let fts = match_expression(&expr, &SearchFilters { kind, tag, from_ms: None, to_ms: None });
                let sql = format!(
                    "SELECT rowid, {RANK}, snippet(post_search, 2, char(2), char(3), '…', 8)
                     FROM post_search WHERE post_search MATCH ?1"
                );
                let outcome = DB.with(|c| {
                    c.prepare(&sql)?.query_map([&fts], |_| Ok(()))?.collect::<Result<Vec<_>, _>>()
                });
                prop_assert!(outcome.is_ok(), "{input:?} -> {fts} -> {outcome:?}");
            }
        }
    }
}
