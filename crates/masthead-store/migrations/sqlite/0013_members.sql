-- Membership made real (issue 10, items 1-4): confirmed sign-ups, passwordless
-- sign-in, member sessions, newsletters and members' choice of them.
--
-- A member row exists only once its address is confirmed; until then the
-- sign-up is a row of `member_requests`, which also holds sign-in requests
-- and e-mail changes. Every secret is stored as its SHA-256 only: the link's
-- token, the asking page's reference, and the 6-digit code (hashed together
-- with the reference, so a copy of the database cannot try the million codes
-- without the reference, which is itself stored hashed).

CREATE TABLE member_requests (
    id          INTEGER PRIMARY KEY,
    purpose     TEXT NOT NULL CHECK (purpose IN ('signup', 'signin', 'email_change')),
    -- The address the mail went to (for an e-mail change: the new one).
    email       TEXT NOT NULL,
    email_key   TEXT NOT NULL,
    -- The member signing in or changing address; NULL for a sign-up.
    member_id   INTEGER REFERENCES members (id) ON DELETE CASCADE,
    name        TEXT NOT NULL DEFAULT '',
    -- Newsletter ids chosen at sign-up, comma-separated; NULL: those that
    -- new members get (`subscribe_on_signup`).
    newsletters TEXT,
    source      TEXT NOT NULL DEFAULT 'site',
    link_hash   BLOB NOT NULL UNIQUE,
    ref_hash    BLOB NOT NULL UNIQUE,
    code_hash   BLOB NOT NULL,
    -- Wrong codes typed so far; at the limit the request is dead.
    attempts    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);
CREATE INDEX member_requests_expires ON member_requests (expires_at);

-- Member sessions, apart from staff sessions, stored by the SHA-256 of their token.
CREATE TABLE member_sessions (
    token_hash   BLOB PRIMARY KEY,
    member_id    INTEGER NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    csrf_token   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX member_sessions_member ON member_sessions (member_id);

-- Ghost's newsletter fields (research/revenue.md, section 2).
CREATE TABLE newsletters (
    id                  INTEGER PRIMARY KEY,
    uuid                TEXT NOT NULL UNIQUE,
    name                TEXT NOT NULL UNIQUE,
    slug                TEXT NOT NULL UNIQUE,
    description         TEXT NOT NULL DEFAULT '',
    sender_name         TEXT,
    sender_reply_to     TEXT NOT NULL DEFAULT 'newsletter',
    status              TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
    subscribe_on_signup INTEGER NOT NULL DEFAULT 1 CHECK (subscribe_on_signup IN (0, 1)),
    sort_order          INTEGER NOT NULL DEFAULT 0,
    visibility          TEXT NOT NULL DEFAULT 'members' CHECK (visibility IN ('members', 'paid')),
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);

INSERT INTO newsletters (uuid, name, slug, description, created_at, updated_at)
VALUES (
    lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-'
          || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))),
    'The briefing', 'default-newsletter', 'Our morning briefing: the day''s stories, in your inbox.',
    CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER),
    CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
);

CREATE TABLE member_newsletters (
    member_id     INTEGER NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    newsletter_id INTEGER NOT NULL REFERENCES newsletters (id) ON DELETE CASCADE,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (member_id, newsletter_id)
) WITHOUT ROWID;
CREATE INDEX member_newsletters_newsletter ON member_newsletters (newsletter_id, member_id);

-- Webhooks may now subscribe to `member.deleted`. SQLite cannot change a
-- CHECK in place: the table is rebuilt. Its deliveries are set aside first
-- (the DROP would cascade to them) and put back under the rebuilt table.
CREATE TABLE webhooks_rebuilt (
    id         INTEGER PRIMARY KEY,
    event      TEXT NOT NULL CHECK (event IN ('post.published', 'post.updated', 'post.unpublished', 'member.added', 'member.deleted')),
    target_url TEXT NOT NULL,
    name       TEXT NOT NULL DEFAULT '',
    -- Signs every delivery (HMAC-SHA256), so the receiver can check it came from here.
    secret     TEXT NOT NULL,
    active     INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at INTEGER NOT NULL
);
INSERT INTO webhooks_rebuilt (id, event, target_url, name, secret, active, created_at)
SELECT id, event, target_url, name, secret, active, created_at FROM webhooks;
CREATE TEMP TABLE webhook_deliveries_kept AS SELECT * FROM webhook_deliveries;
DELETE FROM webhook_deliveries;
DROP TABLE webhooks;
ALTER TABLE webhooks_rebuilt RENAME TO webhooks;
INSERT INTO webhook_deliveries SELECT * FROM webhook_deliveries_kept;
DROP TABLE webhook_deliveries_kept;
