-- Full-text search over published posts (SQLite FTS5).
--
-- One row per published post (not a page) holding the text a reader may
-- search: headline, standfirst, body as plain text (only the public teaser of
-- a members-only story, so neither matches nor snippets reveal the rest), tag
-- names and bylines; plus `facets`, tokens for the kind and tag filters
-- (each starts with a private-use character, which the tokenizer keeps but
-- neither a reader's query nor indexed text ever contains, so no reader's
-- word matches one). That text is derived in Rust from the post's HTML, tags and
-- authors, so it exists in no other table: an external-content table would
-- need a second copy of it to point at, and a contentless one cannot produce
-- the snippets shown under results. The table therefore keeps its own copy,
-- and the store rewrites a post's row in the same transaction as every write
-- that changes what it holds (`sqlite/search.rs`); the rows for posts that
-- already exist are written by the store when this migration runs.
--
-- `porter unicode61 remove_diacritics 2`: English stemming (runs, running ->
-- run) over Unicode words, accents folded. `prefix = '2 3'` keeps short
-- prefix queries (`co*`) off a scan of the term list. Detail stays `full`:
-- phrase queries need token positions.
CREATE VIRTUAL TABLE post_search USING fts5(
    title, dek, body, tags, bylines, facets,
    tokenize = 'porter unicode61 remove_diacritics 2',
    prefix = '2 3'
);

-- A row's rowid is not the post's id but a key in publication order
-- (publication time, then id), so that FTS5 can walk matches newest first
-- and bound them by date without reading them: results are ranked in windows
-- of the newest matches (see `sqlite/search.rs`), and a date filter is a
-- range of keys. This table maps a post to its current key.
CREATE TABLE post_search_keys (
    post_id    INTEGER PRIMARY KEY,
    search_key INTEGER NOT NULL UNIQUE
);
