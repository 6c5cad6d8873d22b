-- Several instances on one database (issue 9 item 5): webhook deliveries are
-- claimed under a lease. A claim writes who holds the delivery
-- (`lease_owner`, host and process id, for people reading the queue), a
-- token only the claim knows (`lease_token`: only its holder may record the
-- outcome) and when the lease ends (`lease_until`, milliseconds on the
-- database's clock). A delivery still 'sending' after its lease is taken over
-- by whichever instance claims next, so one left by a process that died is
-- sent again, and one a live process is sending is never sent twice.
-- The same three columns make any other queue leasable (see
-- `masthead-store/src/lease.rs`).
ALTER TABLE webhook_deliveries ADD COLUMN lease_owner TEXT;
ALTER TABLE webhook_deliveries ADD COLUMN lease_token TEXT;
ALTER TABLE webhook_deliveries ADD COLUMN lease_until INTEGER;

-- Deliveries an older version left 'sending' had no lease: theirs has ended.
UPDATE webhook_deliveries SET lease_until = 0 WHERE status = 'sending';

CREATE INDEX webhook_deliveries_leased ON webhook_deliveries (lease_until) WHERE status = 'sending';
