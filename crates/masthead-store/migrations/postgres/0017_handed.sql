-- The PostgreSQL twin of migrations/sqlite/0017_handed.sql: when a
-- newsletter recipient's message was handed over (body written, the final
-- dot next).
ALTER TABLE email_recipients ADD COLUMN handed_at BIGINT;
