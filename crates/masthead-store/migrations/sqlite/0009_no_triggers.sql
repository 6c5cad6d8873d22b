-- Business rules leave the schema for Rust, beside the writes they belong
-- to, so every database dialect shares one copy of them: webhook deliveries
-- are queued by the store's write functions (`Writer::enqueue_webhooks`, in
-- the same transaction as the change, as the triggers did), and posts get
-- their UUID when they are inserted (`new_uuid`).

DROP TRIGGER IF EXISTS webhooks_post_published_insert;
DROP TRIGGER IF EXISTS webhooks_post_status;
DROP TRIGGER IF EXISTS webhooks_member_added;
DROP TRIGGER IF EXISTS posts_uuid_default;
