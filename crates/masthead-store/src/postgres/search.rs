//! Full-text search on PostgreSQL: the twin of `sqlite/search.rs`, with the
//! same results, cursors and highlights. The index is the `document`
//! tsvector of `post_search_keys` with a GIN index (migration 0011 says what
//! it holds and why); a post's row is rewritten by [`PgWriter::reindex_post`]
//! in the same transaction as every write SQLite reindexes in (creating,
//! saving, publishing when due, deleting a post or a tag, renaming a tag or
//! a byline). The reader's query reaches PostgreSQL only as the rendering of
//! a parsed [`SearchQuery`] (`to_tsquery`, every term a quoted operand).
//!
//! Results are ranked in windows of the newest matches, as on SQLite;
//! here a window is counted in candidates (posts with every word, a
//! phrase's in any order: see [`Match`]). What finds a window is the part
//! that must be fast at 100,000 posts, whatever the words. A word in half
//! the archive has its newest few hundred candidates among the newest
//! thousand posts, where its GIN entry lists fifty thousand: such a window
//! is found by walking the newest posts in key order and testing each
//! ([`walk`]). A rarer word would make that walk long, so a first, short
//! walk measures the hit rate, and unless it says a longer walk fills the
//! window, the rest comes from the GIN index, within a key range the hit
//! rate says should hold it ([`matches_in`]). Either way a search reads a few thousand rows at most
//! per window, ranks only a window's matches, and reads a bounded number of
//! windows per page; headlines are made for the page's results only, each
//! from the stretch of its text around the first match.

use std::collections::{HashMap, HashSet};

use deadpool_postgres::Transaction;
use masthead_domain::search::{
    Highlighted, MARK_END, MARK_START, SearchCursor, SearchQuery, TsQueryText, clean_text,
};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{GenericClient, IsolationLevel, Row};

use super::PgWriter;
use super::queries::{card_columns, card_from_row};
use super::sql::rows;
use crate::error::{StoreError, StoreResult};
use crate::search::{IndexedPost, PostRow, SearchFilters, SearchHit, SearchPage, searchable_body};

/// The migration that adds the index (and after which it is filled).
pub(super) const INDEX_MIGRATION: i64 = 11;

/// How a search reads the index (tests use smaller numbers, to reach every
/// path with a few hundred posts).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tuning {
    /// How many matches are ranked together (SQLite's `RANK_WINDOW`): the
    /// newest this many, then the next-older this many, and so on.
    pub rank_window: i64,
    /// The newest posts a search walks first, testing each.
    pub first_walk: i64,
    /// How many more it walks when the first walk's hit rate says that is
    /// enough to fill the window; else (and when it was not) it asks the
    /// GIN index instead.
    pub walk_on: i64,
    /// The most windows one page reads: a bound on its work when few
    /// candidates match (a phrase of common words, seldom side by side).
    pub max_windows: usize,
}

/// Ranking windows smaller than SQLite's: here every ranked match is a row
/// read from the table, and a phrase is checked in each candidate's row,
/// where FTS5 reads positions from its own index. Walks of 400 and 1,200
/// posts fill a window for words found in one post of eight or more; a
/// rarer word's are looked up in the GIN index after the first 400.
pub(crate) const TUNING: Tuning = Tuning {
    rank_window: 200,
    first_walk: 400,
    walk_on: 1_200,
    max_windows: 25,
};
/// The most bytes of a body indexed. PostgreSQL refuses a tsvector over a
/// megabyte, and stops counting word positions at 16,383 anyway (phrases
/// match only before that); this is several times a long story.
const MAX_BODY_BYTES: usize = 256 * 1024;
/// Posts written per statement when the whole index is rebuilt.
const REBUILD_BATCH: i64 = 500;

/// `ts_rank`'s weights for D (body), C (tags, bylines), B (standfirst) and A
/// (headline): SQLite's bm25 weights 1, 4, 5 and 10, scaled to at most 1.
/// Normalisation 1 divides by the logarithm of the document's length, as
/// bm25 lets a match in a short story count for more. The score is negated
/// so that lower is better, as bm25's.
macro_rules! score {
    ($document:literal, $query:literal) => {
        concat!(
            "-ts_rank('{0.1, 0.4, 0.5, 1.0}', ",
            $document,
            ", ",
            $query,
            ", 1)::float8"
        )
    };
}

/// Headline and standfirst are shown whole, matches marked.
const WHOLE_TEXT: &str = "HighlightAll=true, StartSel=\"\u{2}\", StopSel=\"\u{3}\"";
/// A snippet of the body: about as many words as SQLite's 32 tokens.
const SNIPPET: &str = "MaxWords=32, MinWords=16, StartSel=\"\u{2}\", StopSel=\"\u{3}\"";
/// What SQLite's snippets put where they cut the text.
const ELLIPSIS: &str = "…";

/// Text as PostgreSQL's parser should read it. It reads `<…>` as an HTML
/// tag, which is not a word (and which headlines drop, `<script>` and all),
/// while a story's text is plain: `<` and `>` become control characters,
/// which plain text never holds (`clean_text`), and which separate words as
/// FTS5's tokenizer separates them at `<` and `>`. [`from_pg_text`] undoes it.
fn pg_text(text: &str) -> String {
    text.replace('<', "\u{1}").replace('>', "\u{4}")
}

fn from_pg_text(text: &str) -> String {
    text.replace('\u{1}', "<").replace('\u{4}', ">")
}

/// At most [`MAX_BODY_BYTES`] of `text`, cut at a character boundary.
fn capped(mut text: String) -> String {
    if text.len() > MAX_BODY_BYTES {
        let mut end = MAX_BODY_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// A `tsquery` operand for a lexeme taken as it is (a facet).
fn tsquery_lexeme(lexeme: &str) -> String {
    format!("'{}'", lexeme.replace('\\', "\\\\").replace('\'', "''"))
}

/// The facet lexeme of a kind, or of a tag's slug: a space inside, so that
/// no word can be one (the parser splits words at spaces).
fn kind_facet(kind: masthead_domain::PostKind) -> String {
    format!("kind {}", kind.as_str())
}

fn tag_facet(slug: &str) -> String {
    format!("tag {slug}")
}

// --- the index ----------------------------------------------------------------

/// Reads posts as their index rows see them; `{}` is the WHERE clause.
macro_rules! post_rows_sql {
    ($tail:literal) => {
        concat!(
            "SELECT p.id, p.kind, p.status, p.visibility, p.published_at, p.title, p.dek, p.body_html,
                ARRAY(SELECT t.name FROM post_tags pt JOIN tags t ON t.id = pt.tag_id
                       WHERE pt.post_id = p.id ORDER BY pt.position),
                ARRAY(SELECT t.slug FROM post_tags pt JOIN tags t ON t.id = pt.tag_id
                       WHERE pt.post_id = p.id ORDER BY pt.position),
                ARRAY(SELECT a.name FROM post_authors pa JOIN authors a ON a.id = pa.author_id
                       WHERE pa.post_id = p.id ORDER BY pa.position)
             FROM posts p ",
            $tail
        )
    };
}

/// Writes index rows; a row whose key is taken is skipped (and its id not returned).
const INSERT_SQL: &str = "INSERT INTO post_search_keys (post_id, search_key, document)
    SELECT u.id, u.key,
        setweight(to_tsvector('masthead_english', u.title), 'A') ||
        setweight(to_tsvector('masthead_english', u.dek), 'B') ||
        setweight(to_tsvector('masthead_english', u.tags), 'C') ||
        setweight(to_tsvector('masthead_english', u.bylines), 'C') ||
        setweight(to_tsvector('masthead_english', u.body), 'D') ||
        array_to_tsvector(string_to_array(u.facets, E'\\n'))
    FROM unnest($1::int8[], $2::int8[], $3::text[], $4::text[], $5::text[], $6::text[],
                $7::text[], $8::text[]) AS u(id, key, title, dek, tags, bylines, body, facets)
    ON CONFLICT (search_key) DO NOTHING
    RETURNING post_id";

/// The index row of a post read by [`post_rows_sql`], if it should have one.
fn indexed(r: &Row) -> StoreResult<Option<IndexedPost>> {
    let tag_names: Vec<String> = r.try_get(8)?;
    let tag_slugs: Vec<String> = r.try_get(9)?;
    let tags: Vec<(String, String)> = tag_names.into_iter().zip(tag_slugs).collect();
    let bylines: Vec<String> = r.try_get(10)?;
    Ok(IndexedPost::of(&PostRow {
        id: r.try_get(0)?,
        kind: r.try_get(1)?,
        status: r.try_get(2)?,
        visibility: r.try_get(3)?,
        published_ms: r.try_get(4)?,
        title: r.try_get(5)?,
        dek: r.try_get(6)?,
        body_html: r.try_get(7)?,
        tags: &tags,
        bylines: &bylines,
    }))
}

/// Index rows as [`INSERT_SQL`]'s columns.
#[derive(Default)]
struct Batch {
    ids: Vec<i64>,
    keys: Vec<i64>,
    titles: Vec<String>,
    deks: Vec<String>,
    tags: Vec<String>,
    bylines: Vec<String>,
    bodies: Vec<String>,
    facets: Vec<String>,
}

impl Batch {
    fn push(&mut self, id: i64, key: i64, post: IndexedPost) {
        let mut facets = vec![kind_facet(post.kind)];
        facets.extend(post.tag_slugs.iter().map(|s| tag_facet(s)));
        self.ids.push(id);
        self.keys.push(key);
        self.titles.push(pg_text(&post.title));
        self.deks.push(pg_text(&post.dek));
        self.tags.push(pg_text(&post.tags));
        self.bylines.push(pg_text(&post.bylines));
        self.bodies.push(pg_text(&capped(post.body)));
        facets.sort_unstable();
        facets.dedup();
        self.facets.push(facets.join("\n"));
    }

    /// Writes the rows; the ids written.
    async fn insert(&self, c: &impl GenericClient) -> StoreResult<Vec<i64>> {
        let rows = c
            .query_typed(
                INSERT_SQL,
                &[
                    (&self.ids as &(dyn ToSql + Sync), Type::INT8_ARRAY),
                    (&self.keys, Type::INT8_ARRAY),
                    (&self.titles, Type::TEXT_ARRAY),
                    (&self.deks, Type::TEXT_ARRAY),
                    (&self.tags, Type::TEXT_ARRAY),
                    (&self.bylines, Type::TEXT_ARRAY),
                    (&self.bodies, Type::TEXT_ARRAY),
                    (&self.facets, Type::TEXT_ARRAY),
                ],
            )
            .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }
}

/// Makes post `id`'s row in the index what the post now is: rewritten if it
/// is a published post, gone otherwise.
pub(crate) async fn reindex(c: &impl GenericClient, id: i64) -> StoreResult<()> {
    // FOR NO KEY UPDATE: two transactions reindexing one post (a save, and a
    // renamed tag it carries) take turns, so the second sees the first's row.
    let row = c
        .query_typed(
            post_rows_sql!("WHERE p.id = $1 FOR NO KEY UPDATE OF p"),
            &[(&id, Type::INT8)],
        )
        .await?;
    c.query_typed(
        "DELETE FROM post_search_keys WHERE post_id = $1",
        &[(&id, Type::INT8)],
    )
    .await?;
    let Some(post) = row.first().map(indexed).transpose()?.flatten() else {
        return Ok(());
    };
    // Two posts published in the same millisecond whose ids agree in their
    // low bits would share a key: the later one takes the next free key. A
    // transaction inserting the same key at once makes this wait for it.
    let mut key = post.key;
    let mut batch = Batch::default();
    batch.push(id, key, post);
    while batch.insert(c).await?.is_empty() {
        key = key
            .checked_add(1)
            .ok_or_else(|| StoreError::Other("no free search key".into()))?;
        batch.keys[0] = key;
    }
    Ok(())
}

/// Fills the index from scratch: when the migration adds it, and for bulk
/// loads. Writers wait for it (the table is locked against writes, not reads).
pub(crate) async fn rebuild_index(c: &impl GenericClient) -> StoreResult<()> {
    c.batch_execute("LOCK TABLE post_search_keys IN EXCLUSIVE MODE; DELETE FROM post_search_keys;")
        .await?;
    let mut taken: HashSet<i64> = HashSet::new();
    let mut last_id = 0i64;
    loop {
        let rows = c
            .query_typed(
                post_rows_sql!(
                    "WHERE p.status = 'published' AND p.kind <> 'page' AND p.id > $1
                     ORDER BY p.id LIMIT $2"
                ),
                &[(&last_id, Type::INT8), (&REBUILD_BATCH, Type::INT8)],
            )
            .await?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        last_id = last.try_get(0)?;
        let mut batch = Batch::default();
        for r in &rows {
            let Some(post) = indexed(r)? else { continue };
            // As `reindex` does, in id order: a taken key moves to the next free one.
            let mut key = post.key;
            while !taken.insert(key) {
                key = key
                    .checked_add(1)
                    .ok_or_else(|| StoreError::Other("no free search key".into()))?;
            }
            batch.push(r.try_get(0)?, key, post);
        }
        let written = batch.insert(c).await?.len();
        if written != batch.ids.len() {
            return Err(StoreError::Other(format!(
                "rebuilding the search index wrote {written} of {} rows",
                batch.ids.len()
            )));
        }
    }
}

impl PgWriter<'_> {
    /// Brings post `id`'s search row up to date; every write path that
    /// changes a post's text, status, visibility, tags or bylines calls it.
    pub async fn reindex_post(&self, id: i64) -> StoreResult<()> {
        reindex(&**self.tx(), id).await
    }

    /// Rebuilds the whole index from the posts (for bulk loads that write
    /// posts other than through [`PgWriter::insert_post`], such as a copy of
    /// a site between databases).
    pub async fn rebuild_search_index(&self) -> StoreResult<()> {
        rebuild_index(&**self.tx()).await
    }

    /// The ids of the posts carrying tag `tag_id` (before it changes or goes).
    pub(super) async fn posts_tagged(&self, tag_id: i64) -> StoreResult<Vec<i64>> {
        let rows = self
            .tx()
            .query_typed(
                "SELECT post_id FROM post_tags WHERE tag_id = $1 ORDER BY post_id",
                &[(&tag_id, Type::INT8)],
            )
            .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    /// Reindexes every post signed by author `author_id` (a renamed byline).
    pub(super) async fn reindex_posts_by(&self, author_id: i64) -> StoreResult<()> {
        let rows = self
            .tx()
            .query_typed(
                "SELECT post_id FROM post_authors WHERE author_id = $1 ORDER BY post_id",
                &[(&author_id, Type::INT8)],
            )
            .await?;
        let ids: Vec<i64> = rows
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        self.reindex_posts(&ids).await
    }

    /// Reindexes `ids` (posts whose tags changed), in id order, so that
    /// transactions reindexing the same posts lock them in the same order.
    pub(super) async fn reindex_posts(&self, ids: &[i64]) -> StoreResult<()> {
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        for id in ids {
            self.reindex_post(id).await?;
        }
        Ok(())
    }
}

// --- the search -----------------------------------------------------------------

/// A query as PostgreSQL's `tsquery` text. Windows are counted in
/// candidates: posts that have every word (a phrase's in any order, which
/// the GIN index can tell without reading a row) and the filters' facets.
/// Results are the candidates that match (phrases in order); they are
/// ranked by the reader's query alone.
struct Match {
    candidate: String,
    filter: String,
    rank: String,
}

/// The reader's query, normalised by PostgreSQL (stemmed, with exclusions
/// applied), as it must match and with its phrases' words in any order;
/// `None` when none of the words that must match is one it indexes (so
/// that "-x" alone never means "everything but x").
async fn normalise(c: &Transaction<'_>, ts: &TsQueryText) -> StoreResult<Option<(String, String)>> {
    let any_order = ts.required_any_order.as_deref().unwrap_or(&ts.required);
    let excluded = ts.excluded.as_deref().unwrap_or("");
    let rows = rows(
        c,
        "SELECT coalesce(r && e, r)::text, coalesce(a && e, a)::text, numnode(r)
           FROM to_tsquery('masthead_english', $1::text) r,
                to_tsquery('masthead_english', $2::text) a,
                (SELECT CASE WHEN $3::text <> ''
                        THEN !!to_tsquery('masthead_english', $3::text) END AS e) x",
        &[&ts.required, &any_order, &excluded],
    )
    .await?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let nodes: i32 = row.try_get(2)?;
    if nodes == 0 {
        return Ok(None);
    }
    Ok(Some((row.try_get(0)?, row.try_get(1)?)))
}

/// Candidates, newest first, with the score of those that match.
type Scored = Vec<(i64, Option<f64>)>;

/// Walks the newest `posts` posts in `from..to`, newest first, testing
/// each: the first `limit` candidates (all, when `None`) with the scores of
/// those that match, the key of the first post walked and, when the walk
/// went all `posts` posts without finding `limit` candidates, the key of
/// the last.
async fn walk(
    c: &Transaction<'_>,
    posts: i64,
    m: &Match,
    (from, to): (i64, i64),
    limit: Option<i64>,
) -> StoreResult<(Scored, Option<i64>, Option<i64>)> {
    // Prepared once per connection: its plan (walk the key index backwards)
    // is the same whatever the words.
    let rows = rows(
        c,
        concat!(
            "SELECT search_key, hit, CASE WHEN hit AND document @@ $7::text::tsquery THEN ",
            score!("document", "$2::text::tsquery"),
            " END, n
             FROM (SELECT search_key, document, document @@ $1::text::tsquery AS hit,
                          row_number() OVER (ORDER BY search_key DESC) AS n
                     FROM (SELECT search_key, document FROM post_search_keys
                            WHERE search_key >= $3 AND search_key < $4
                            ORDER BY search_key DESC LIMIT $5) newest) w
            WHERE hit OR n = 1 OR n = $5
            LIMIT $6"
        ),
        &[
            &m.candidate,
            &m.rank,
            &from,
            &to,
            &posts,
            // The first and the last post walked may be no candidate.
            &limit.map(|l| l + 2),
            &m.filter,
        ],
    )
    .await?;
    let (mut found, mut first, mut last) = (Vec::new(), None, None);
    for r in &rows {
        let key: i64 = r.try_get(0)?;
        let n: i64 = r.try_get(3)?;
        if n == 1 {
            first = Some(key);
        }
        if n == posts {
            last = Some(key);
        }
        if r.try_get(1)? {
            found.push((key, r.try_get(2)?));
        }
    }
    if let Some(limit) = limit
        && found.len() as i64 >= limit
    {
        found.truncate(limit as usize);
        last = None;
    }
    Ok((found, first, last))
}

/// The newest candidates in `from..to` (at most `limit`, or all), newest
/// first, with the scores of those that match, found with the GIN index.
/// The planner is told not to walk the key index instead: it guesses a phrase as common as its words together (it cannot
/// see positions), and would walk a long range for a rare phrase of common
/// words, testing every post. The candidates are found and sorted as keys
/// and row addresses only; the documents (3 kB each) are read back by
/// address for the few hundred kept (sorting the documents themselves took
/// half the lookup's time).
async fn look_up(
    c: &Transaction<'_>,
    m: &Match,
    (from, to): (i64, i64),
    limit: Option<i64>,
) -> StoreResult<Scored> {
    let params: [(&(dyn ToSql + Sync), Type); 6] = [
        (&m.candidate, Type::TEXT),
        (&m.rank, Type::TEXT),
        (&from, Type::INT8),
        (&to, Type::INT8),
        (&limit, Type::INT8),
        (&m.filter, Type::TEXT),
    ];
    // Sent together, run in order (tokio-postgres pipelines requests polled
    // at once): one round trip instead of three.
    let (off, rows, back) = tokio::join!(
        c.batch_execute("SET LOCAL enable_indexscan = off"),
        c.query_typed(
            concat!(
                "SELECT m.search_key, CASE WHEN k.document @@ $6::tsquery THEN ",
                score!("k.document", "$2::tsquery"),
                " END FROM (SELECT ctid AS at, search_key FROM post_search_keys
                        WHERE document @@ $1::tsquery AND search_key >= $3 AND search_key < $4
                        ORDER BY search_key DESC LIMIT $5) m
                   JOIN post_search_keys k ON k.ctid = m.at
                 ORDER BY m.search_key DESC"
            ),
            &params,
        ),
        c.batch_execute("SET LOCAL enable_indexscan TO DEFAULT"),
    );
    off?;
    let rows = rows?;
    back?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

/// The newest candidates in `from..to` (at most `limit`, or all), newest
/// first, with the scores of those that match. A first walk of the newest
/// posts measures their hit rate; if it says a second, longer walk holds
/// the rest, the walk goes on (it stops at what it needs). Else, and if
/// that falls short, the rest is looked up in the index, range by range
/// below the walk: the first range twice as long as the hit rate says, each
/// next one (seldom needed) four times longer. A lookup reads every
/// candidate in its range, so the ranges stay close to what is needed, and
/// each reads the words' whole entries in the index, so there are few
/// lookups.
async fn matches_in(
    c: &Transaction<'_>,
    t: &Tuning,
    m: &Match,
    (from, to): (i64, i64),
    limit: Option<i64>,
) -> StoreResult<Scored> {
    if from >= to {
        return Ok(Vec::new());
    }
    let (mut found, first, last) = walk(c, t.first_walk, m, (from, to), limit).await?;
    let (Some(first), Some(mut below)) = (first, last) else {
        // The walk found enough, or walked the whole range.
        return Ok(found);
    };
    let Some(limit) = limit.filter(|_| !found.is_empty()) else {
        // No hit rate to go by, or no limit (a window's candidates, all of
        // them): one lookup for the rest.
        let need = limit.map(|l| l - found.len() as i64);
        found.extend(look_up(c, m, (from, below), need).await?);
        return Ok(found);
    };
    let mut walked = t.first_walk;
    let need = limit - found.len() as i64;
    if need as f64 * walked as f64 / found.len() as f64 <= t.walk_on as f64 {
        // Dense enough to walk on: the walk stops at what it needs.
        let (rest, _, last) = walk(c, t.walk_on, m, (from, below), Some(need)).await?;
        found.extend(rest);
        match last {
            Some(last) => below = last,
            None => return Ok(found),
        }
        walked += t.walk_on;
    }
    // Keys per post walked, and posts per candidate found.
    let keys_per_post = ((i128::from(first) - i128::from(below)) as f64 / walked as f64).max(1.0);
    let posts_per_candidate = walked as f64 / found.len().max(1) as f64;
    let mut span = 2.0 * (limit - found.len() as i64) as f64 * posts_per_candidate * keys_per_post;
    while (found.len() as i64) < limit && below > from {
        let start = (below as f64 - span).max(from as f64) as i64;
        let start = start.clamp(from, below - 1);
        let need = limit - found.len() as i64;
        found.extend(look_up(c, m, (start, below), Some(need)).await?);
        below = start;
        span *= 4.0;
    }
    Ok(found)
}

/// A window: the keys `start..end`, and its matches with their scores.
struct Window {
    start: i64,
    end: i64,
    matches: Vec<(i64, f64)>,
}

/// The matches among `candidates`.
fn matching(candidates: Scored) -> Vec<(i64, f64)> {
    candidates
        .into_iter()
        .filter_map(|(key, score)| Some((key, score?)))
        .collect()
}

/// The next window below `hi`: the newest `rank_window` candidates in
/// `lower..hi`, as `(oldest key, hi)`; `None` when there are none.
async fn window_below(
    c: &Transaction<'_>,
    t: &Tuning,
    m: &Match,
    lower: i64,
    hi: i64,
) -> StoreResult<Option<Window>> {
    let candidates = matches_in(c, t, m, (lower, hi), Some(t.rank_window)).await?;
    let Some(&(start, _)) = candidates.last() else {
        return Ok(None);
    };
    Ok(Some(Window {
        start,
        end: hi,
        matches: matching(candidates),
    }))
}

/// A page of results for `query`: best first (ties: newest first) within
/// windows of the newest matches, strictly after `after`. A query with
/// nothing to search for finds nothing.
pub async fn search(
    c: &mut deadpool_postgres::Client,
    query: SearchQuery,
    filters: SearchFilters,
    after: Option<SearchCursor>,
    limit: u32,
) -> StoreResult<SearchPage> {
    search_tuned(c, &TUNING, query, filters, after, limit).await
}

/// [`search`], reading the index as `t` says.
pub(crate) async fn search_tuned(
    c: &mut deadpool_postgres::Client,
    t: &Tuning,
    query: SearchQuery,
    filters: SearchFilters,
    after: Option<SearchCursor>,
    limit: u32,
) -> StoreResult<SearchPage> {
    let Some(ts) = query.to_tsquery() else {
        return Ok(SearchPage::default());
    };
    // One snapshot for the whole search, so that its windows and results
    // agree; read-only, and a rollback at the end (dropping it).
    let tx = c
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let Some((rank, any_order)) = normalise(&tx, &ts).await? else {
        return Ok(SearchPage::default());
    };
    let mut facets = String::new();
    if let Some(kind) = filters.kind {
        facets.push_str(&format!(" & {}", tsquery_lexeme(&kind_facet(kind))));
    }
    if let Some(tag) = &filters.tag {
        facets.push_str(&format!(" & {}", tsquery_lexeme(&tag_facet(tag))));
    }
    let m = Match {
        candidate: format!("({any_order}){facets}"),
        filter: format!("({rank}){facets}"),
        rank,
    };
    let limit = limit.clamp(1, 100) as usize;
    let (lower, upper) = filters.key_range();
    let (mut window, mut resume) = match after {
        Some(a) => {
            let range = (a.window_start.max(lower), a.window_end.min(upper));
            let window = Window {
                start: a.window_start,
                end: a.window_end,
                matches: matching(matches_in(&tx, t, &m, range, None).await?),
            };
            (window, Some((a.score, a.key)))
        }
        None => match window_below(&tx, t, &m, lower, upper).await? {
            Some(w) => (w, None),
            None => return Ok(SearchPage::default()),
        },
    };
    let mut ranked: Vec<SearchCursor> = Vec::with_capacity(limit + 1);
    // Windows read whole by this page (a cursor's own window is not: the
    // page must get past it, or it would end where it began).
    let mut windows = usize::from(after.is_none());
    // Set when the page stops at its budget of windows: resume after this one.
    let mut cut = None;
    loop {
        // Best first, ties newest first: the order SQLite's query sorts in.
        window
            .matches
            .sort_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
        let after_resume = window.matches.iter().filter(|(key, score)| match resume {
            None => true,
            Some((s, k)) => *score > s || (*score == s && *key < k),
        });
        for (key, score) in after_resume.take(limit + 1 - ranked.len()) {
            ranked.push(SearchCursor {
                window_start: window.start,
                window_end: window.end,
                score: *score,
                key: *key,
            });
        }
        if ranked.len() > limit {
            break;
        }
        if windows >= t.max_windows {
            // A phrase of common words seldom next to each other can leave
            // window after window without a result: the page ends here,
            // and the next one starts after this window.
            cut = Some(SearchCursor {
                window_start: window.start,
                window_end: window.end,
                score: f64::MAX,
                key: window.start,
            });
            break;
        }
        windows += 1;
        // This window is done: on to the next-older one.
        match window_below(&tx, t, &m, lower, window.start.max(lower)).await? {
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
        cut.filter(|c| c.window_start > lower)
    };
    let hits = hits(&tx, &m, &ranked).await?;
    Ok(SearchPage { hits, next })
}

/// The lexemes a match must have, read from PostgreSQL's text of a
/// `tsquery` (those under a `!` left out).
fn required_lexemes(tsquery: &str) -> Vec<String> {
    let mut out = Vec::new();
    // Whether each open bracket is negated, and whether the next operand is.
    let (mut negated, mut not_next) = (vec![false], false);
    let mut chars = tsquery.chars();
    while let Some(c) = chars.next() {
        let inside_not = negated.last().copied().unwrap_or(false);
        match c {
            '!' => not_next = true,
            '(' => {
                negated.push(inside_not || not_next);
                not_next = false;
            }
            ')' => {
                negated.pop();
            }
            '\'' => {
                let mut lexeme = String::new();
                loop {
                    match chars.next() {
                        None => break,
                        Some('\\') => lexeme.extend(chars.next()),
                        Some('\'') if chars.clone().next() == Some('\'') => {
                            chars.next();
                            lexeme.push('\'');
                        }
                        Some('\'') => break,
                        Some(c) => lexeme.push(c),
                    }
                }
                if !(inside_not || not_next || lexeme.is_empty()) {
                    out.push(lexeme);
                }
                not_next = false;
            }
            _ => {}
        }
    }
    out
}

/// Bytes of a body given to `ts_headline`, around the first match: it
/// parses and stems all it is given, and most of a long body is nowhere
/// near the snippet.
const HEADLINE_BEFORE: usize = 150;
const HEADLINE_AFTER: usize = 450;

/// The stretch of `text` a snippet is made from: around the first word that
/// starts like one of `lexemes` (a stem, less its last letter, which the
/// stemmer may have changed: "citi" from "city"), or the start.
fn snippet_source<'a>(text: &'a str, lexemes: &[String]) -> &'a str {
    if text.len() <= HEADLINE_BEFORE + HEADLINE_AFTER {
        return text;
    }
    let needles: Vec<Vec<char>> = lexemes
        .iter()
        .map(|l| {
            let mut chars: Vec<char> = l.chars().collect();
            if chars.len() > 3 {
                chars.pop();
            }
            chars
        })
        .collect();
    let starts_like = |word: &str| {
        needles.iter().any(|needle| {
            let mut lower = word.chars().flat_map(char::to_lowercase);
            needle.iter().all(|n| lower.next() == Some(*n))
        })
    };
    let mut at = 0;
    let mut previous = ' ';
    for (i, c) in text.char_indices() {
        if c.is_alphanumeric() && !previous.is_alphanumeric() && starts_like(&text[i..]) {
            at = i;
            break;
        }
        previous = c;
    }
    // From a space before `at - HEADLINE_BEFORE` to one after `at + HEADLINE_AFTER`.
    let floor = |mut i: usize| {
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let start = floor(at.saturating_sub(HEADLINE_BEFORE));
    let start = text[start..at]
        .find(char::is_whitespace)
        .map_or(start, |s| start + s + 1)
        .min(at);
    let end = floor((at + HEADLINE_AFTER).min(text.len()));
    let end = text[end..]
        .find(char::is_whitespace)
        .map_or(text.len(), |e| end + e);
    &text[start..end]
}

/// Cards and highlights for this page's results only: headlines cost, so
/// never for matches that are not shown.
async fn hits(
    c: &Transaction<'_>,
    m: &Match,
    ranked: &[SearchCursor],
) -> StoreResult<Vec<SearchHit>> {
    if ranked.is_empty() {
        return Ok(Vec::new());
    }
    let keys: Vec<i64> = ranked.iter().map(|r| r.key).collect();
    let found_rows = rows(
        c,
        concat!(
            "SELECT ",
            card_columns!(),
            ", k.search_key, p.body_html
             FROM post_search_keys k JOIN posts p ON p.id = k.post_id
             LEFT JOIN tags t ON t.id = p.primary_tag_id
             WHERE k.search_key = ANY($1) AND p.status = 'published'"
        ),
        &[&keys],
    )
    .await?;
    let mut found = HashMap::with_capacity(found_rows.len());
    for r in &found_rows {
        let card = card_from_row(r)?;
        let key: i64 = r.try_get(21)?;
        let body_html: String = r.try_get(22)?;
        let body = pg_text(&capped(searchable_body(
            card.visibility.as_str(),
            &body_html,
        )));
        found.insert(key, (card, body));
    }
    // The page's posts in rank order (a post deleted since is left out).
    let shown: Vec<&(crate::model::PostCard, String)> =
        keys.iter().filter_map(|k| found.get(k)).collect();
    let lexemes = required_lexemes(&m.rank);
    let titles: Vec<String> = shown
        .iter()
        .map(|(card, _)| pg_text(&clean_text(&card.title)))
        .collect();
    let deks: Vec<String> = shown
        .iter()
        .map(|(card, _)| pg_text(&clean_text(&card.dek)))
        .collect();
    let bodies: Vec<&str> = shown
        .iter()
        .map(|(_, body)| snippet_source(body, &lexemes))
        .collect();
    let marked = rows(
        c,
        "SELECT ts_headline('masthead_english', u.title, q, $5::text),
                ts_headline('masthead_english', u.body, q, $6::text),
                ts_headline('masthead_english', u.dek, q, $5::text)
           FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS u(title, body, dek, i),
                (SELECT $1::text::tsquery AS q) query
          ORDER BY u.i",
        &[&m.rank, &titles, &bodies, &deks, &WHOLE_TEXT, &SNIPPET],
    )
    .await?;
    let mut hits = Vec::with_capacity(shown.len());
    for ((card, body), r) in shown.into_iter().zip(&marked) {
        let title: String = r.try_get(0)?;
        let snippet: String = r.try_get(1)?;
        let dek: String = r.try_get(2)?;
        let is_marked = |s: &str| s.contains(MARK_START);
        let snippet = if is_marked(&snippet) || (!is_marked(&dek) && !body.is_empty()) {
            with_ellipses(&snippet, body)
        } else {
            dek
        };
        hits.push(SearchHit {
            card: card.clone(),
            title: Highlighted(from_pg_text(&title)),
            snippet: Highlighted(from_pg_text(&snippet)),
        });
    }
    Ok(hits)
}

/// A snippet of `text` with an ellipsis where it cuts the text, as SQLite's.
fn with_ellipses(snippet: &str, text: &str) -> String {
    let plain: String = snippet
        .chars()
        .filter(|c| *c != MARK_START && *c != MARK_END)
        .collect();
    let Some(at) = text.find(&plain).filter(|_| !plain.is_empty()) else {
        return snippet.to_owned();
    };
    let mut out = String::with_capacity(snippet.len() + 2 * ELLIPSIS.len());
    if at > 0 {
        out.push_str(ELLIPSIS);
    }
    out.push_str(snippet);
    if at + plain.len() < text.len() {
        out.push_str(ELLIPSIS);
    }
    out
}

#[cfg(test)]
mod tests {
    //! PostgreSQL's own search tests: every input is a valid query, windows
    //! are the newest matches whichever way they are found, and the
    //! migration fills the index. What search finds is tested on both
    //! backends at once (`search/on_both.rs`).
    use masthead_domain::search::parse;
    use masthead_domain::{PostKind, PostStatus};
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    use super::*;
    use crate::search::on_both::{Backend, Fixture, new_post};

    #[test]
    fn required_lexemes_leave_out_exclusions() {
        assert_eq!(
            required_lexemes("( 'citi' <-> 'council' ) & 'counc':* & !'park' & !( 'a' | 'b' )"),
            vec!["citi", "council", "counc"]
        );
        assert_eq!(
            required_lexemes(r"'o''brien' & 'a\\b'"),
            vec!["o'brien", r"a\b"]
        );
        assert!(required_lexemes("!'x'").is_empty());
    }

    #[test]
    fn snippets_are_made_from_the_text_around_the_first_match() {
        let text = format!(
            "{} The City council met. {}",
            "word ".repeat(200),
            "tail ".repeat(300)
        );
        let source = snippet_source(&text, &["citi".into(), "council".into()]);
        let at = source.find("City council").expect("the match");
        assert!(at <= HEADLINE_BEFORE && source.len() <= HEADLINE_BEFORE + HEADLINE_AFTER + 8);
        assert!(
            source.starts_with("word") && source.ends_with("tail"),
            "whole words: {source:?}"
        );
        assert!(text.contains(source));
        // No match found (a stem the text does not start any word with): the start.
        assert!(snippet_source(&text, &["zzz".into()]).starts_with("word word"));
        // Short texts go whole; multibyte text is cut at character boundaries.
        assert_eq!(
            snippet_source("é council", &["council".into()]),
            "é council"
        );
        let wide = format!("{}council{}", "é".repeat(400), " é".repeat(700));
        assert!(snippet_source(&wide, &["council".into()]).contains("council"));
    }

    #[test]
    fn any_input_is_a_valid_query_on_postgres() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let f = rt.block_on(async {
            let f = Fixture::new(Backend::Postgres, "search-any-input").await;
            f.insert(new_post(
                "a",
                "City council AND NOT near",
                "Title: x (y) 'quoted' \\ back-slash e-mail o'brien <b> café",
                PostStatus::Published,
                1,
            ))
            .await;
            f
        });
        let inputs = "\\PC{0,60}|[\"*()\\-:^+&|!<>'\\\\a-zA-Z0-9 \\x00\u{301}\u{E000}é{}]{0,60}|(<->|:\\*|:A|&|\\||!|'|''|\\\\|\"|\\*|-|\\(|\\)| |x){0,30}";
        let mut runner = TestRunner::new(Config::with_cases(600));
        let strategy = (
            inputs,
            proptest::option::of(proptest::sample::select(PostKind::ALL.to_vec())),
            proptest::option::of("[a-z0-9'\\\\-]{1,20}"),
        );
        runner
            .run(&strategy, |(input, kind, tag)| {
                let Ok(query) = parse(&input) else {
                    return Ok(());
                };
                let filters = SearchFilters {
                    kind,
                    tag,
                    from_ms: None,
                    to_ms: None,
                };
                let outcome = rt.block_on(f.try_page(query, filters));
                prop_assert!(outcome.is_ok(), "{input:?}: {outcome:?}");
                Ok(())
            })
            .expect("every input is a valid search");
    }

    /// Every result of `q` with tuning `t`, page by page.
    async fn all_pages(f: &Fixture, t: &Tuning, q: &str, limit: u32) -> Vec<i64> {
        let (mut seen, mut after) = (Vec::new(), None);
        loop {
            let page = f
                .tuned_page(t, parse(q).expect("query"), after, limit)
                .await
                .expect("search");
            seen.extend(page.hits.iter().map(|h| h.card.id));
            match page.next {
                Some(n) => after = Some(n),
                None => return seen,
            }
        }
    }

    /// What search should return for `q` in windows of `window`, worked out
    /// from every candidate: the candidates newest first, in runs of
    /// `window`, each run's matches best first (ties newest first).
    async fn expected(f: &Fixture, q: &str, window: usize) -> Vec<i64> {
        let mut client = f.pg().client().await.expect("client");
        let ts = parse(q).expect("query").to_tsquery().expect("searchable");
        let tx = client.transaction().await.expect("transaction");
        let (rank, any_order) = normalise(&tx, &ts)
            .await
            .expect("normalise")
            .expect("words");
        drop(tx);
        let rows = client
            .query(
                concat!(
                    "SELECT post_id, search_key, CASE WHEN document @@ $1::text::tsquery THEN ",
                    score!("document", "$1::text::tsquery"),
                    " END FROM post_search_keys WHERE document @@ $2::text::tsquery
                     ORDER BY search_key DESC"
                ),
                &[&rank, &any_order],
            )
            .await
            .expect("candidates");
        let all: Vec<(i64, i64, Option<f64>)> = rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        let mut out = Vec::new();
        for run in all.chunks(window) {
            let mut matches: Vec<(i64, i64, f64)> = run
                .iter()
                .filter_map(|(id, key, score)| Some((*id, *key, (*score)?)))
                .collect();
            matches.sort_by(|a, b| a.2.total_cmp(&b.2).then(b.1.cmp(&a.1)));
            out.extend(matches.iter().map(|(id, _, _)| *id));
        }
        out
    }

    #[tokio::test]
    async fn windows_are_the_newest_matches_whether_walked_or_looked_up() {
        let f = Fixture::new(Backend::Postgres, "search-paths").await;
        // Post i (oldest first) says "every", "third" when i % 3 == 0,
        // "often" when i % 8 < 3,
        // "rare" when i % 13 == 0, "fading" in every third of the newest 30
        // and every 41st before, and the phrase "red kite" when i % 5 == 0
        // (while "red" and "kite" appear apart in every other post); every
        // fourth post says its words twice.
        let n = 320;
        let posts = (0..n)
            .map(|i| {
                let mut words = vec!["every"];
                if i % 3 == 0 {
                    words.push("third");
                }
                if i % 8 < 3 {
                    words.push("often");
                }
                if i % 13 == 0 {
                    words.push("rare");
                }
                if (i >= 290 && i % 3 == 0) || i % 41 == 0 {
                    words.push("fading");
                }
                if i % 5 == 0 {
                    words.push("red kite");
                } else if i % 2 == 0 {
                    words.push("red and kite");
                }
                let mut body = words.join(" ");
                if i % 4 == 0 {
                    body = format!("{body} {body}");
                }
                new_post(
                    &format!("p{i}"),
                    "Story",
                    &body,
                    PostStatus::Published,
                    10_000 + i as i64 * 10,
                )
            })
            .collect();
        f.insert_all(posts).await;
        // Windows of 20, walks of 50 then 150 posts: "every" fills its
        // windows in the first walk, "often" and "third" in the second,
        // "rare" needs a range of the index after the first, "fading" also
        // longer ranges below that one; the phrase "red kite" has
        // candidates ("red" and "kite" anywhere) that do not match.
        let t = Tuning {
            rank_window: 20,
            first_walk: 50,
            walk_on: 150,
            max_windows: 25,
        };
        for (q, matches) in [
            ("every", n),
            ("third", 107),
            ("often", 120),
            ("rare", 25),
            ("fading", 18),
            ("\"red kite\"", 64),
            ("red kite", 64 + 128),
        ] {
            let want = expected(&f, q, 20).await;
            assert_eq!(want.len(), matches, "{q}");
            for limit in [7, 20, 100] {
                assert_eq!(all_pages(&f, &t, q, limit).await, want, "{q} by {limit}");
            }
        }
        // A page that may read one window only ends short when its window
        // holds too few matches, and the next page goes on after it.
        let one = Tuning {
            max_windows: 1,
            ..t
        };
        let want = expected(&f, "\"red kite\"", 20).await;
        assert_eq!(all_pages(&f, &one, "\"red kite\"", 20).await, want);
        let first = f
            .tuned_page(&one, parse("\"red kite\"").expect("query"), None, 20)
            .await
            .expect("search");
        assert!(
            first.hits.len() < 20 && first.next.is_some(),
            "{:?}",
            first.next
        );
    }

    #[tokio::test]
    async fn migrating_fills_the_index_for_the_posts_there_are() {
        let f = Fixture::new(Backend::Postgres, "search-migration").await;
        let id = f
            .insert(new_post(
                "k",
                "Lighthouse keeper",
                "x",
                PostStatus::Published,
                1,
            ))
            .await;
        f.insert(new_post("d", "Lighthouse draft", "x", PostStatus::Draft, 1))
            .await;
        // Back to version 10, as a database made before the index.
        let store = f.pg();
        store
            .client()
            .await
            .expect("client")
            .batch_execute(
                "DROP INDEX post_search_keys_document;
                 ALTER TABLE post_search_keys DROP COLUMN document;
                 INSERT INTO post_search_keys (post_id, search_key) VALUES (999, 999);
                 DROP TEXT SEARCH CONFIGURATION masthead_english;
                 DROP TEXT SEARCH DICTIONARY masthead_english_stem;
                 DELETE FROM schema_migrations WHERE version >= 11;",
            )
            .await
            .expect("downgrade");
        // Later migrations are still in place: apply the index's alone, as a
        // build of that version would, then put the later ones' records back.
        let upto = crate::postgres::migrate::MIGRATIONS
            .iter()
            .position(|m| m.version == INDEX_MIGRATION)
            .expect("the index migration")
            + 1;
        assert_eq!(
            crate::postgres::migrate::run(
                &store.config,
                &crate::postgres::migrate::MIGRATIONS[..upto]
            )
            .await
            .expect("migrate"),
            vec![INDEX_MIGRATION]
        );
        for m in &crate::postgres::migrate::MIGRATIONS[upto..] {
            store
                .client()
                .await
                .expect("client")
                .execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, 0)",
                    &[&m.version, &m.name],
                )
                .await
                .expect("record");
        }
        assert_eq!(store.migrate().await.expect("migrate"), Vec::<i64>::new());
        assert_eq!(f.ids("lighthouse").await, vec![id]);
    }
}
