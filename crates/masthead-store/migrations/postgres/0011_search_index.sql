-- Full-text search over published posts (PostgreSQL).
--
-- Each published post (not a page) has one row in `post_search_keys` (made
-- by version 10): its key in publication order (publication time, then id;
-- see `search.rs`) and, from this version, `document`: a tsvector of the
-- text a reader may search, the same text SQLite's FTS5 table holds, derived
-- in Rust from the post's HTML, tags and bylines (`postgres/search.rs`):
-- headline (weight A), standfirst (B), tag names and bylines (C), body as
-- plain text (D; only the public teaser of a members-only story), plus
-- facet lexemes for the kind and tag filters ("kind article", "tag harbour":
-- a lexeme with a space, which no word a reader types or a story holds can
-- become, since the parser splits at spaces). The store rewrites a post's
-- row in the same transaction as every write that changes what it holds;
-- the rows for posts that already exist are written by the store when this
-- migration runs.
--
-- The text configuration is English stemming without stop words, as
-- SQLite's `porter` tokenizer: "what we know" stays a phrase of three words
-- and "the" is a word like any other.
CREATE TEXT SEARCH DICTIONARY masthead_english_stem (TEMPLATE = snowball, Language = english);
CREATE TEXT SEARCH CONFIGURATION masthead_english (COPY = english);
ALTER TEXT SEARCH CONFIGURATION masthead_english
    ALTER MAPPING FOR asciiword, asciihword, hword_asciipart, word, hword, hword_part
    WITH masthead_english_stem;

DELETE FROM post_search_keys;
ALTER TABLE post_search_keys ADD COLUMN document tsvector NOT NULL;
-- Kept in the row, uncompressed (tsvectors barely compress), so that ranking
-- and phrase checks read it without a trip to the TOAST table; only a
-- document too large for a page goes there.
ALTER TABLE post_search_keys ALTER COLUMN document SET STORAGE MAIN;

-- GIN finds the matches of rarer words; the unique index on `search_key`
-- walks the newest posts for common ones (see `postgres/search.rs`). A
-- small pending list: writes batch their index entries, and a search never
-- scans more than half a megabyte of them.
CREATE INDEX post_search_keys_document ON post_search_keys USING gin (document)
    WITH (fastupdate = on, gin_pending_list_limit = 512);
