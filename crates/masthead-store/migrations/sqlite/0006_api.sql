-- Ghost-compatible APIs: keys, and the post fields Ghost clients rely on.

-- Content keys are 26 hex characters, sent in the query string. Admin keys
-- are `id:secret` (24 and 64 hex); the secret signs the client's short-lived
-- JWTs, so it is kept (as Ghost keeps it) to check their signatures.
CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('content', 'admin')),
    name         TEXT NOT NULL,
    key_id       TEXT NOT NULL UNIQUE,
    secret       TEXT,
    created_by   INTEGER REFERENCES staff_users (id) ON DELETE SET NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER,
    CHECK ((kind = 'admin') = (secret IS NOT NULL))
);

-- Ghost's `featured` flag and a stable `uuid` per post.
ALTER TABLE posts ADD COLUMN featured INTEGER NOT NULL DEFAULT 0 CHECK (featured IN (0, 1));
ALTER TABLE posts ADD COLUMN uuid TEXT;
UPDATE posts SET uuid = lower(
    hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' ||
    substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))
) WHERE uuid IS NULL;
CREATE UNIQUE INDEX posts_uuid ON posts (uuid);
-- Every new post gets one, whoever inserts it (the desk, the CLI, an import
-- that brings none).
CREATE TRIGGER posts_uuid_default AFTER INSERT ON posts WHEN NEW.uuid IS NULL
BEGIN
    UPDATE posts SET uuid = lower(
        hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' ||
        substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))
    ) WHERE id = NEW.id;
END;
