-- Staff accounts and their sign-in sessions. A staff account may be linked to
-- a byline (authors); a byline needs no account.

CREATE TABLE staff_users (
    id            INTEGER PRIMARY KEY,
    email         TEXT NOT NULL,
    email_key     TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('contributor', 'author', 'editor', 'administrator', 'owner')),
    -- Argon2id PHC string.
    password_hash TEXT NOT NULL,
    author_id     INTEGER REFERENCES authors (id) ON DELETE SET NULL,
    active        INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

-- Sessions are stored by the SHA-256 of their token: a copy of the database
-- does not let anyone sign in.
CREATE TABLE staff_sessions (
    token_hash   BLOB PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES staff_users (id) ON DELETE CASCADE,
    csrf_token   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX staff_sessions_user ON staff_sessions (user_id);

-- Failed sign-ins, by account ("email:...") and by address ("ip:..."), for throttling.
CREATE TABLE signin_failures (
    id  INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    at  INTEGER NOT NULL
);
CREATE INDEX signin_failures_key ON signin_failures (key, at);

-- One-time links: the owner set-up link printed by `serve`, password resets.
CREATE TABLE one_time_tokens (
    token_hash BLOB PRIMARY KEY,
    purpose    TEXT NOT NULL CHECK (purpose IN ('setup', 'reset')),
    user_id    INTEGER REFERENCES staff_users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) WITHOUT ROWID;
