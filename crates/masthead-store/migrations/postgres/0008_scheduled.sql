-- The scheduler asks every second, inside a write transaction, for scheduled
-- posts whose time has come. Without this index that question scans every
-- post, holding the writer throughout.
CREATE INDEX posts_scheduled ON posts (published_at) WHERE status = 'scheduled';
