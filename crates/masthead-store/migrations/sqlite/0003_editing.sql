-- Editing: every save is a revision; a changed published slug keeps a redirect.

CREATE TABLE post_revisions (
    id          INTEGER PRIMARY KEY,
    post_id     INTEGER NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    staff_id    INTEGER REFERENCES staff_users (id) ON DELETE SET NULL,
    created_at  INTEGER NOT NULL,
    title       TEXT NOT NULL,
    dek         TEXT NOT NULL,
    slug        TEXT NOT NULL,
    body_source TEXT NOT NULL,
    status      TEXT NOT NULL
);
CREATE INDEX post_revisions_post ON post_revisions (post_id, id DESC);

CREATE TABLE slug_redirects (
    old_slug   TEXT PRIMARY KEY,
    post_id    INTEGER NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
