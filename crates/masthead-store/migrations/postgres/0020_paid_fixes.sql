-- Paid memberships, corrected (issue 11, after review). The PostgreSQL
-- twin of migrations/sqlite/0020_paid_fixes.sql (read its notes): the
-- period a failed renewal was due in, the fetch order of subscriptions,
-- and complimentary grants kept apart from the member's status.

ALTER TABLE stripe_subscriptions ADD COLUMN current_period_start BIGINT;
ALTER TABLE stripe_subscriptions ADD COLUMN fetched_at BIGINT NOT NULL DEFAULT 0;
UPDATE stripe_subscriptions SET fetched_at = updated_at;

ALTER TABLE members ADD COLUMN comp_tier_id BIGINT REFERENCES tiers (id);
UPDATE members SET comp_tier_id = tier_id
 WHERE tier_id IS NOT NULL AND (status = 'comped' OR comp_expires_at IS NOT NULL);
