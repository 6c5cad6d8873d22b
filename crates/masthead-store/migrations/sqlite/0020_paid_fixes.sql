-- Paid memberships, corrected (issue 11, after review).
--
-- 1. A failed renewal's grace counts from the day the renewal was due,
--    which is the start of the period Stripe moved the subscription into
--    (`current_period_start`), not from that period's end a month later.
-- 2. A webhook's fetch of a subscription is written only if no fetch that
--    started later was written first: `fetched_at` is when the fetch
--    began (Unix ms). Two events for one subscription handled at once, on
--    one instance or several, cannot leave the older state behind.
-- 3. A complimentary grant is kept apart from the member's status: its
--    tier in `comp_tier_id` (NULL: no comp), its end in `comp_expires_at`
--    (NULL with a tier: no end). A paying member given a comp keeps it
--    when the subscription ends, with the comp's tier.

ALTER TABLE stripe_subscriptions ADD COLUMN current_period_start INTEGER;
ALTER TABLE stripe_subscriptions ADD COLUMN fetched_at INTEGER NOT NULL DEFAULT 0;
UPDATE stripe_subscriptions SET fetched_at = updated_at;

ALTER TABLE members ADD COLUMN comp_tier_id INTEGER REFERENCES tiers (id);
UPDATE members SET comp_tier_id = tier_id
 WHERE tier_id IS NOT NULL AND (status = 'comped' OR comp_expires_at IS NOT NULL);
