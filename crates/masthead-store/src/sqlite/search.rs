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

use masthead_domain::html::{TEASER_BLOCKS, teaser};
use masthead_domain::search::{Highlighted, SearchCursor, SearchQuery, clean_text, index_text};
use masthead_domain::{PostKind, Visibility};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::Writer;
use super::queries::{card_columns, card_from_row};
use crate::error::StoreResult;
use crate::model::PostCard;

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
const RANK_WINDOW: i64 = 1_000;
/// Tokens in a snippet (FTS5 allows at most 64).
const SNIPPET_TOKENS: i64 = 32;
/// Low bits of a search key taken by the post's id (see [`search_key`]).
const ID_BITS: u32 = 20;
/// Publication times are clamped to ±2^42 ms (about 139 years either side of
/// 1970), so that a key fits in an i64.
const MS_LIMIT: i64 = 1 << 42;

/// A post's key in the index: its publication time, then (the low bits of)
/// its id, so that key order is publication order.
fn search_key(published_ms: i64, id: i64) -> i64 {
    key_at(published_ms) | (id & ((1 << ID_BITS) - 1))
}

/// The smallest key of a post published at `ms`: bounds of a date filter.
fn key_at(ms: i64) -> i64 {
    ms.clamp(-MS_LIMIT, MS_LIMIT - 1) << ID_BITS
}

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
    pub next: Option<SearchCursor>,
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
    let lower = filters.from_ms.map_or(i64::MIN, key_at);
    let upper = filters.to_ms.map_or(i64::MAX, key_at);
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
    let Some((kind, status, visibility, published, title, dek, body_html)) = row else {
        return Ok(None);
    };
    let (Ok(kind), Some(published)) = (PostKind::parse(&kind), published) else {
        return Ok(None);
    };
    if status != "published" || kind == PostKind::Page {
        return Ok(None);
    }
    // Members-only stories are found by what everyone may read, nothing more.
    let body = if visibility == Visibility::Public.as_str() {
        index_text(&body_html)
    } else {
        index_text(teaser(&body_html, TEASER_BLOCKS).0)
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
    let names: Vec<&str> = tags.iter().map(|(name, _)| name.as_str()).collect();
    let mut facets = vec![kind_facet(kind)];
    facets.extend(tags.iter().map(|(_, slug)| tag_facet(slug)));
    Ok(Some(Document {
        key: search_key(published, id),
        columns: [
            clean_text(&title),
            clean_text(&dek),
            body,
            clean_text(&names.join(" · ")),
            clean_text(&bylines.join(" · ")),
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
    use masthead_domain::search::parse;
    use masthead_domain::{PostKind, PostStatus, Visibility};
    use proptest::prelude::*;

    use super::*;
    use crate::model::{NewAuthor, NewPost, NewTag};
    use crate::sqlite::editing::PostEdit;
    use crate::sqlite::taxonomy::{AuthorEdit, TagEdit};
    use crate::sqlite::tests::TempDb;

    struct Fixture {
        db: TempDb,
        author: i64,
        tag: i64,
    }

    fn new_post(slug: &str, title: &str, body: &str, status: PostStatus, at: i64) -> NewPost {
        NewPost {
            kind: PostKind::Article,
            slug: slug.into(),
            title: title.into(),
            dek: String::new(),
            body_source: body.into(),
            body_html: format!("<p>{body}</p>"),
            word_count: 1,
            reading_minutes: 1,
            status,
            visibility: Visibility::Public,
            image: None,
            video: None,
            published_ms: (status != PostStatus::Draft).then_some(at),
            updated_ms: at,
            tag_ids: vec![],
            author_ids: vec![],
        }
    }

    fn fixture(name: &str) -> Fixture {
        let db = TempDb::new(name);
        let (author, tag) = db
            .store
            .write(|w| {
                let a = w.insert_author(&NewAuthor {
                    slug: "rosa".into(),
                    name: "Rosa Quill".into(),
                    bio: String::new(),
                    location: String::new(),
                })?;
                let t = w.insert_tag(&NewTag {
                    slug: "harbour".into(),
                    name: "Harbour".into(),
                    description: String::new(),
                    is_section: false,
                    position: 0,
                })?;
                Ok((a, t))
            })
            .expect("seed");
        Fixture { db, author, tag }
    }

    impl Fixture {
        fn ids(&self, q: &str) -> Vec<i64> {
            self.find(q, SearchFilters::default())
        }

        fn find(&self, q: &str, f: SearchFilters) -> Vec<i64> {
            let q = parse(q).expect("query");
            self.db
                .store
                .read(|c| search(c, q, f, None, 100))
                .expect("search")
                .hits
                .iter()
                .map(|h| h.card.id)
                .collect()
        }

        fn insert(&self, p: NewPost) -> i64 {
            self.db.store.write(|w| w.insert_post(&p)).expect("insert")
        }

        fn edit(&self, id: i64, change: impl FnOnce(&mut PostEdit)) {
            let post = self
                .db
                .store
                .read(|c| crate::sqlite::editing::editable_post(c, id))
                .expect("read")
                .expect("post");
            let body_html = format!("<p>{}</p>", post.body_source);
            let mut edit = PostEdit {
                title: post.title,
                dek: post.dek,
                slug: post.slug,
                body_source: post.body_source,
                body_html,
                word_count: 1,
                reading_minutes: 1,
                status: post.status,
                published_ms: post.published_ms,
                tag_ids: None,
                author_ids: None,
                seo: None,
                feature: None,
                visibility: None,
                video_embed: None,
                autosave: false,
            };
            change(&mut edit);
            self.db
                .store
                .write(|w| w.save_post(id, post.updated_ms, &edit, None, crate::now_ms()))
                .expect("save");
        }
    }

    #[test]
    fn every_write_path_keeps_the_index_right() {
        let f = fixture("search-writes");
        let mut p = new_post(
            "ferry",
            "Ferry timetable cut",
            "The crossing runs twice daily.",
            PostStatus::Published,
            1_000,
        );
        p.tag_ids = vec![f.tag];
        p.author_ids = vec![f.author];
        let id = f.insert(p);
        let draft = f.insert(new_post(
            "secret",
            "Secret ferry plan",
            "Unpublished.",
            PostStatus::Draft,
            2_000,
        ));
        let later = f.insert(new_post(
            "later",
            "Scheduled ferry story",
            "Tomorrow.",
            PostStatus::Scheduled,
            3_000,
        ));
        assert_eq!(
            f.ids("ferry"),
            vec![id],
            "drafts and scheduled posts are never found"
        );
        assert_eq!(f.ids("running"), vec![id], "stemming: running finds runs");
        assert_eq!(f.ids("harbour"), vec![id], "tags are searched");
        assert_eq!(f.ids("quill"), vec![id], "bylines are searched");

        // Editing the headline: the old word goes, the new one comes.
        f.edit(id, |e| e.title = "Ferry timetable restored".into());
        assert!(f.ids("cut").is_empty());
        assert_eq!(f.ids("restored"), vec![id]);

        // Tags and bylines replaced by an edit.
        f.edit(id, |e| {
            e.tag_ids = Some(vec![]);
            e.author_ids = Some(vec![]);
        });
        assert!(f.ids("harbour").is_empty() && f.ids("quill").is_empty());
        f.edit(id, |e| {
            e.tag_ids = Some(vec![f.tag]);
            e.author_ids = Some(vec![f.author]);
        });

        // Renaming a tag or a byline reindexes the posts carrying it.
        f.db.store
            .write(|w| {
                w.update_tag(
                    f.tag,
                    &TagEdit {
                        name: "Waterfront".into(),
                        description: String::new(),
                        is_section: false,
                        position: 0,
                    },
                )?;
                w.update_author(
                    f.author,
                    &AuthorEdit {
                        name: "Rosa Penn".into(),
                        bio: String::new(),
                        location: String::new(),
                        avatar: None,
                    },
                )
            })
            .expect("rename");
        assert_eq!(f.ids("waterfront"), vec![id]);
        assert!(f.ids("harbour").is_empty());
        assert_eq!(f.ids("penn"), vec![id]);
        assert!(f.ids("quill").is_empty());

        // Members-only: found by its teaser, never by what lies behind the gate.
        let gated = "<p>Open paragraph one.</p><p>Open paragraph two.</p><p>Hidden lighthouse.</p>";
        f.edit(id, |e| {
            e.body_html = gated.into();
            e.visibility = Some(Visibility::Members);
        });
        assert_eq!(f.ids("open"), vec![id]);
        assert!(f.ids("lighthouse").is_empty());
        f.edit(id, |e| {
            e.body_html = gated.into();
            e.visibility = Some(Visibility::Public);
        });
        assert_eq!(f.ids("lighthouse"), vec![id]);

        // Unpublishing removes; publishing (by an edit, or when due) adds.
        f.edit(id, |e| e.status = PostStatus::Draft);
        assert!(f.ids("ferry").is_empty());
        f.edit(draft, |e| {
            e.status = PostStatus::Published;
            e.published_ms = Some(2_000);
        });
        assert_eq!(f.ids("ferry"), vec![draft]);
        f.db.store
            .write(|w| w.publish_due(3_000))
            .expect("publish due");
        assert_eq!(f.ids("ferry"), vec![later, draft]);

        // Deleting a tag reindexes its posts; deleting a post removes it.
        f.edit(later, |e| e.tag_ids = Some(vec![f.tag]));
        assert_eq!(f.ids("waterfront"), vec![later]);
        f.db.store
            .write(|w| w.delete_tag(f.tag))
            .expect("delete tag");
        assert!(f.ids("waterfront").is_empty());
        f.db.store.write(|w| w.delete_post(later)).expect("delete");
        assert_eq!(f.ids("ferry"), vec![draft]);
        let rows: i64 =
            f.db.store
                .read(|c| Ok(c.query_row("SELECT count(*) FROM post_search", [], |r| r.get(0))?))
                .expect("count");
        assert_eq!(rows, 1, "only the one published post is indexed");
    }

    #[test]
    fn ranking_phrases_prefixes_filters_and_paging() {
        let f = fixture("search-rank");
        // Headline beats body; equal relevance falls back to newest first.
        let body_hit = f.insert(new_post(
            "a",
            "Harbour news",
            "The council met.",
            PostStatus::Published,
            5_000,
        ));
        let title_hit = f.insert(new_post(
            "b",
            "Council votes",
            "Nothing else.",
            PostStatus::Published,
            1_000,
        ));
        assert_eq!(f.ids("council"), vec![title_hit, body_hit]);
        let phrase = f.insert(new_post(
            "c",
            "Plans",
            "The city council agreed.",
            PostStatus::Published,
            2_000,
        ));
        let apart = f.insert(new_post(
            "d",
            "Plans",
            "The council of the city.",
            PostStatus::Published,
            2_000,
        ));
        assert_eq!(f.ids("\"city council\""), vec![phrase]);
        let mut both = f.ids("city council");
        both.sort_unstable();
        assert_eq!(both, vec![phrase, apart]);
        assert_eq!(f.ids("counc*").len(), 4);
        assert_eq!(f.ids("council -city"), vec![title_hit, body_hit]);
        let mut v = new_post("v", "Council video", "", PostStatus::Published, 9_000);
        v.kind = PostKind::Video;
        let video = f.insert(v);
        let only = |kind| SearchFilters {
            kind: Some(kind),
            ..SearchFilters::default()
        };
        assert_eq!(f.find("council", only(PostKind::Video)), vec![video]);
        let dated = SearchFilters {
            from_ms: Some(2_000),
            to_ms: Some(6_000),
            ..SearchFilters::default()
        };
        let mut found = f.find("council", dated);
        found.sort_unstable();
        assert_eq!(found, vec![body_hit, phrase, apart]);
        let tagged = SearchFilters {
            tag: Some("harbour".into()),
            ..SearchFilters::default()
        };
        // Facet tokens are out of readers' reach, whatever they type.
        for q in ["karticle0", "\u{E000}karticle0", "kvideo0"] {
            assert!(f.ids(q).is_empty(), "{q:?}");
        }
        assert!(f.find("council", tagged.clone()).is_empty());
        f.edit(apart, |e| e.tag_ids = Some(vec![f.tag]));
        assert_eq!(f.find("council", tagged), vec![apart]);
        let unknown = SearchFilters {
            tag: Some("nope".into()),
            ..SearchFilters::default()
        };
        assert!(f.find("council", unknown).is_empty());

        // Keyset paging: every page strictly after the last, no repeats, no gaps.
        let many: Vec<i64> = (0..23)
            .map(|i| {
                f.insert(new_post(
                    &format!("m{i}"),
                    &format!("Market day {i}"),
                    if i % 3 == 0 {
                        "market market"
                    } else {
                        "market"
                    },
                    PostStatus::Published,
                    10_000 + i64::from(i % 4),
                ))
            })
            .collect();
        let all = f.ids("market");
        let (mut seen, mut after) = (Vec::new(), None);
        loop {
            let q = parse("market").expect("query");
            let page =
                f.db.store
                    .read(move |c| search(c, q, SearchFilters::default(), after, 5))
                    .expect("page");
            assert!(page.hits.len() <= 5);
            seen.extend(page.hits.iter().map(|h| h.card.id));
            match page.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        assert_eq!(seen, all);
        let mut sorted = seen.clone();
        sorted.sort_unstable();
        let mut expected = many.clone();
        expected.sort_unstable();
        assert_eq!(sorted, expected);
    }

    #[test]
    fn many_matches_rank_window_by_window_and_page_without_gaps() {
        let f = fixture("search-windows");
        let n = RANK_WINDOW as usize * 2 + 150;
        let ids: Vec<i64> =
            f.db.store
                .write(move |w| {
                    (0..n)
                        .map(|i| {
                            // Every seventh story says it twice: more relevant.
                            let body = if i % 7 == 0 {
                                "tidal tidal gate"
                            } else {
                                "tidal gate"
                            };
                            w.insert_post(&new_post(
                                &format!("t{i}"),
                                &format!("Story {i}"),
                                body,
                                PostStatus::Published,
                                1_000_000 + i as i64 * 1_000,
                            ))
                        })
                        .collect()
                })
                .expect("insert");
        let (mut seen, mut after, mut pages) = (Vec::new(), None, 0);
        loop {
            let q = parse("tidal").expect("query");
            let page =
                f.db.store
                    .read(move |c| search(c, q, SearchFilters::default(), after, 100))
                    .expect("page");
            if pages == 0 {
                // The first page: the more relevant stories among the newest window, newest first.
                let newest: Vec<i64> = ids
                    .iter()
                    .rev()
                    .take(RANK_WINDOW as usize)
                    .copied()
                    .collect();
                let first: Vec<i64> = page.hits.iter().map(|h| h.card.id).collect();
                let best: Vec<i64> = newest
                    .iter()
                    .filter(|id| (*id - ids[0]) % 7 == 0)
                    .copied()
                    .collect();
                assert_eq!(first[..best.len().min(100)], best[..best.len().min(100)]);
            }
            pages += 1;
            seen.extend(page.hits.iter().map(|h| h.card.id));
            match page.next {
                Some(c) => after = Some(c),
                None => break,
            }
        }
        assert_eq!(seen.len(), n, "nothing twice");
        let mut sorted = seen.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, ids, "nothing missed");
        assert_eq!(pages, n.div_ceil(100));
        // A date filter is a range of keys: only the stories of that span.
        let span = SearchFilters {
            from_ms: Some(1_000_000 + 10 * 1_000),
            to_ms: Some(1_000_000 + 20 * 1_000),
            ..SearchFilters::default()
        };
        let mut found = f.find("tidal", span);
        found.sort_unstable();
        assert_eq!(found, ids[10..20].to_vec());
    }

    #[test]
    fn snippets_mark_matches_and_come_from_the_text() {
        let f = fixture("search-snippets");
        let id = f.insert(new_post(
            "s",
            "Bridge <repairs>",
            "Engineers say the &lt;script&gt; bridge needs work before winter.",
            PostStatus::Published,
            1,
        ));
        let q = parse("bridge").expect("q");
        let page =
            f.db.store
                .read(|c| search(c, q, SearchFilters::default(), None, 10))
                .expect("search");
        assert_eq!(page.hits[0].card.id, id);
        assert_eq!(
            page.hits[0].title.to_html(),
            "<mark>Bridge</mark> &lt;repairs&gt;"
        );
        let snippet = page.hits[0].snippet.to_html();
        assert!(
            snippet.contains("&lt;script&gt; <mark>bridge</mark> needs"),
            "{snippet}"
        );
    }

    #[test]
    fn the_migration_indexes_existing_posts() {
        let f = fixture("search-migrate");
        let id = f.insert(new_post(
            "m",
            "Lighthouse keeper",
            "x",
            PostStatus::Published,
            1,
        ));
        f.insert(new_post("d", "Lighthouse draft", "x", PostStatus::Draft, 1));
        // Empty the index, then run the migration's fill as an upgrade would.
        f.db.store
            .write(|w| {
                w.tx().execute("DELETE FROM post_search", [])?;
                w.tx().execute("DELETE FROM post_search_keys", [])?;
                w.rebuild_search_index()
            })
            .expect("rebuild");
        assert_eq!(f.ids("lighthouse"), vec![id]);
    }

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

        #[test]
        fn keys_follow_publication_order(a in -MS_LIMIT..MS_LIMIT, b in -MS_LIMIT..MS_LIMIT, i in 1i64..1 << 19, j in 1i64..1 << 19) {
            prop_assume!((a, i) != (b, j));
            prop_assert_eq!(search_key(a, i).cmp(&search_key(b, j)), (a, i).cmp(&(b, j)));
            prop_assert!(key_at(a) <= search_key(a, i) && search_key(a, i) < key_at(a + 1));
        }
    }
}
