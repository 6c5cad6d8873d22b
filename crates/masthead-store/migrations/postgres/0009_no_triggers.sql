-- Version 9 dropped SQLite's triggers that held business rules (webhook
-- enqueueing, post UUID defaults); those rules are Rust now, beside the writes
-- (`enqueue_webhooks`, `new_uuid`). The PostgreSQL schema never had them, so
-- this version changes nothing here: it exists so both dialects share version
-- numbers.
SELECT 1;
