-- The PostgreSQL twin of migrations/sqlite/0014_bouncing.sql: a member whose
-- mail server refused a message for good is "bouncing" and skipped by sends.
ALTER TABLE members ADD COLUMN email_disabled BOOLEAN NOT NULL DEFAULT FALSE;
