-- Masthead schema, version 1 (SQLite). Times are Unix milliseconds, UTC.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- A byline is a person, not an account: staff accounts (later) point here.
CREATE TABLE authors (
    id         INTEGER PRIMARY KEY,
    slug       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    bio        TEXT NOT NULL DEFAULT '',
    location   TEXT NOT NULL DEFAULT '',
    avatar     TEXT,
    created_at INTEGER NOT NULL
);

CREATE TABLE tags (
    id          INTEGER PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    -- Sections are tags shown in the site's navigation, in `position` order.
    is_section  INTEGER NOT NULL DEFAULT 0 CHECK (is_section IN (0, 1)),
    position    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
);

CREATE TABLE posts (
    id                   INTEGER PRIMARY KEY,
    kind                 TEXT NOT NULL CHECK (kind IN ('article', 'brief', 'video', 'live', 'page')),
    slug                 TEXT NOT NULL UNIQUE,
    title                TEXT NOT NULL,
    dek                  TEXT NOT NULL DEFAULT '',
    body_format          TEXT NOT NULL DEFAULT 'markdown' CHECK (body_format IN ('markdown', 'html')),
    body_source          TEXT NOT NULL DEFAULT '',
    body_html            TEXT NOT NULL DEFAULT '',
    word_count           INTEGER NOT NULL DEFAULT 0,
    reading_minutes      INTEGER NOT NULL DEFAULT 1,
    status               TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'scheduled', 'published')),
    visibility           TEXT NOT NULL DEFAULT 'public' CHECK (visibility IN ('public', 'members', 'paid')),
    primary_tag_id       INTEGER REFERENCES tags (id) ON DELETE SET NULL,
    feature_image        TEXT,
    feature_image_alt    TEXT NOT NULL DEFAULT '',
    feature_image_caption TEXT NOT NULL DEFAULT '',
    feature_image_photographer TEXT NOT NULL DEFAULT '',
    feature_image_agency TEXT NOT NULL DEFAULT '',
    feature_image_width  INTEGER,
    feature_image_height INTEGER,
    video_src            TEXT,
    video_embed          TEXT,
    video_duration_s     INTEGER,
    language             TEXT NOT NULL DEFAULT 'en',
    canonical_url        TEXT,
    meta_title           TEXT,
    meta_description     TEXT,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    published_at         INTEGER
);

-- The News Feed, newest first: keyset pagination on (published_at, id).
CREATE INDEX posts_feed ON posts (published_at DESC, id DESC)
    WHERE status = 'published' AND kind <> 'page';
-- Section pages list posts by primary tag.
CREATE INDEX posts_section ON posts (primary_tag_id, published_at DESC, id DESC)
    WHERE status = 'published' AND kind <> 'page';
-- The Video section and other per-kind listings.
CREATE INDEX posts_kind ON posts (kind, published_at DESC, id DESC)
    WHERE status = 'published';

-- Ordered tags of a post (position 0 = primary). `published_at` mirrors the
-- post's while it is published and in feeds (NULL otherwise) so that tag pages
-- paginate on this table's own index.
CREATE TABLE post_tags (
    post_id      INTEGER NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    tag_id       INTEGER NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    published_at INTEGER,
    PRIMARY KEY (post_id, tag_id)
) WITHOUT ROWID;
CREATE INDEX post_tags_feed ON post_tags (tag_id, published_at DESC, post_id DESC)
    WHERE published_at IS NOT NULL;

CREATE TABLE post_authors (
    post_id      INTEGER NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    author_id    INTEGER NOT NULL REFERENCES authors (id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    published_at INTEGER,
    PRIMARY KEY (post_id, author_id)
) WITHOUT ROWID;
CREATE INDEX post_authors_feed ON post_authors (author_id, published_at DESC, post_id DESC)
    WHERE published_at IS NOT NULL;

-- Corrections and update notes, printed at the foot of an article.
CREATE TABLE post_notes (
    id       INTEGER PRIMARY KEY,
    post_id  INTEGER NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    kind     TEXT NOT NULL CHECK (kind IN ('correction', 'update')),
    noted_at INTEGER NOT NULL,
    note     TEXT NOT NULL
);
CREATE INDEX post_notes_post ON post_notes (post_id, noted_at);

CREATE TABLE live_entries (
    id          INTEGER PRIMARY KEY,
    post_id     INTEGER NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    title       TEXT NOT NULL DEFAULT '',
    body_source TEXT NOT NULL DEFAULT '',
    body_html   TEXT NOT NULL DEFAULT '',
    pinned      INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1)),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX live_entries_post ON live_entries (post_id, created_at DESC, id DESC);

CREATE TABLE members (
    id         INTEGER PRIMARY KEY,
    email      TEXT NOT NULL,
    -- Lowercase address: one member per mailbox whatever the case typed.
    email_key  TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL DEFAULT '',
    status     TEXT NOT NULL DEFAULT 'free' CHECK (status IN ('free', 'paid', 'comped')),
    source     TEXT NOT NULL DEFAULT 'site',
    created_at INTEGER NOT NULL
);

CREATE TABLE campaigns (
    id          INTEGER PRIMARY KEY,
    pitch       TEXT NOT NULL,
    goal        INTEGER NOT NULL CHECK (goal > 0),
    -- Which members count towards the goal: all members, or paying ones.
    metric      TEXT NOT NULL DEFAULT 'members' CHECK (metric IN ('members', 'paid')),
    starts_at   INTEGER NOT NULL,
    deadline    INTEGER NOT NULL,
    active      INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1))
);

-- Every write appends here in its own transaction. Servers tail it to
-- invalidate caches and push live updates, including for writes made by
-- another process (the CLI, another instance).
CREATE TABLE change_log (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    topic   TEXT NOT NULL,
    post_id INTEGER,
    ref_id  INTEGER
);
