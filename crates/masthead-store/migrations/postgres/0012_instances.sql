-- Several instances on one database (issue 9 item 5).
--
-- Webhook deliveries are claimed under a lease, as on SQLite (see the SQLite
-- twin of this file): who holds it, a token only the claim knows, and when
-- it ends, on the database's clock.
ALTER TABLE webhook_deliveries ADD COLUMN lease_owner TEXT COLLATE "C";
ALTER TABLE webhook_deliveries ADD COLUMN lease_token TEXT COLLATE "C";
ALTER TABLE webhook_deliveries ADD COLUMN lease_until BIGINT;

UPDATE webhook_deliveries SET lease_until = 0 WHERE status = 'sending';

CREATE INDEX webhook_deliveries_leased ON webhook_deliveries (lease_until) WHERE status = 'sending';

-- PostgreSQL only: the change log records the transaction that wrote each
-- row, so readers can take rows in commit order. Identity values are handed
-- out when rows are inserted, not when they commit, so "rows with id above
-- the last one read" would miss a row committed late by a slower
-- transaction. A reader instead takes every row of the transactions that
-- finished since it last looked (`postgres/changes.rs`). Rows written before
-- this version get 0: they are behind every reader.
ALTER TABLE change_log ADD COLUMN txid BIGINT NOT NULL DEFAULT 0;
ALTER TABLE change_log ALTER COLUMN txid SET DEFAULT (pg_current_xact_id()::text::bigint);
CREATE INDEX change_log_txid ON change_log (txid, id);
