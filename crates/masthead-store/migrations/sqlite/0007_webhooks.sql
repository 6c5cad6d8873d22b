-- Webhooks: integrations are told when stories are published, updated or
-- unpublished and when members join. Triggers write a delivery row in the
-- same transaction as the change itself (an outbox), whichever process made
-- it (the desk, the APIs, the CLI, the scheduler, an import): nothing is
-- missed, and publishing never waits for a receiver.

CREATE TABLE webhooks (
    id         INTEGER PRIMARY KEY,
    event      TEXT NOT NULL CHECK (event IN ('post.published', 'post.updated', 'post.unpublished', 'member.added')),
    target_url TEXT NOT NULL,
    name       TEXT NOT NULL DEFAULT '',
    -- Signs every delivery (HMAC-SHA256), so the receiver can check it came from here.
    secret     TEXT NOT NULL,
    active     INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at INTEGER NOT NULL
);

CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY,
    webhook_id      INTEGER NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event           TEXT NOT NULL,
    -- The post or member the event is about.
    subject_id      INTEGER NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_status     INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    finished_at     INTEGER
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (webhook_id, id DESC);

CREATE TRIGGER webhooks_post_published_insert AFTER INSERT ON posts
WHEN NEW.status = 'published'
BEGIN
    INSERT INTO webhook_deliveries (webhook_id, event, subject_id, next_attempt_at, created_at)
    SELECT id, event, NEW.id, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER),
           CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
    FROM webhooks WHERE active = 1 AND event = 'post.published';
END;

CREATE TRIGGER webhooks_post_status AFTER UPDATE OF status, updated_at ON posts
BEGIN
    INSERT INTO webhook_deliveries (webhook_id, event, subject_id, next_attempt_at, created_at)
    SELECT id, event, NEW.id, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER),
           CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
    FROM webhooks
    WHERE active = 1 AND event = CASE
        WHEN OLD.status <> 'published' AND NEW.status = 'published' THEN 'post.published'
        WHEN OLD.status = 'published' AND NEW.status <> 'published' THEN 'post.unpublished'
        WHEN OLD.status = 'published' AND NEW.status = 'published' AND NEW.updated_at <> OLD.updated_at THEN 'post.updated'
    END;
END;

CREATE TRIGGER webhooks_member_added AFTER INSERT ON members
BEGIN
    INSERT INTO webhook_deliveries (webhook_id, event, subject_id, next_attempt_at, created_at)
    SELECT id, event, NEW.id, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER),
           CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
    FROM webhooks WHERE active = 1 AND event = 'member.added';
END;
