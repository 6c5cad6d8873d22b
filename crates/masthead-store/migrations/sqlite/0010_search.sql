-- Full-text search over published posts (SQLite FTS5).
--
-- One row per published post (not a page), rowid = posts.id, holding the
-- text a reader may search: headline, standfirst, body as plain text (only
-- the public teaser of a members-only story, so neither matches nor snippets
-- reveal the rest), tag names and bylines. That text is derived in Rust from
-- the post's HTML and its tags and authors, so it exists in no other table:
-- an external-content table would need a second copy of it to point at, and a
-- contentless one cannot produce the snippets shown under results. The table
-- therefore keeps its own copy, and the store rewrites a post's row in the
-- same transaction as every write that changes what it holds
-- (`sqlite/search.rs`); the rows for posts that already exist are written by
-- the store when this migration runs.
--
-- `porter unicode61 remove_diacritics 2`: English stemming (runs, running ->
-- run) over Unicode words, accents folded. `prefix = '2 3'` keeps prefix
-- queries (`counc*`) off a full scan of the term list. Detail stays `full`:
-- phrase queries need token positions.
CREATE VIRTUAL TABLE post_search USING fts5(
    title, dek, body, tags, bylines,
    tokenize = 'porter unicode61 remove_diacritics 2',
    prefix = '2 3'
);
