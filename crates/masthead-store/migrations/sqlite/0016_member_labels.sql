-- The desk's members list (issue 10, items 7 and 8): labels an editor puts
-- on members (Ghost's `labels` and `members_labels`), a private note per
-- member (Ghost's member `note`), and the index the list pages through
-- (newest first, keyset on (created_at, id)).

CREATE TABLE labels (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    slug       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE member_labels (
    member_id  INTEGER NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    label_id   INTEGER NOT NULL REFERENCES labels (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (member_id, label_id)
) WITHOUT ROWID;
CREATE INDEX member_labels_label ON member_labels (label_id, member_id);

-- Staff-only: never shown to the member, never in the Content API.
ALTER TABLE members ADD COLUMN note TEXT NOT NULL DEFAULT '';

CREATE INDEX members_created ON members (created_at, id);

-- Webhooks may now subscribe to `member.edited`. SQLite cannot change a
-- CHECK in place: the table is rebuilt as 0013 did, its deliveries set
-- aside first (the DROP would cascade to them) and put back afterwards.
CREATE TABLE webhooks_rebuilt (
    id         INTEGER PRIMARY KEY,
    event      TEXT NOT NULL CHECK (event IN ('post.published', 'post.updated', 'post.unpublished', 'member.added', 'member.edited', 'member.deleted')),
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
