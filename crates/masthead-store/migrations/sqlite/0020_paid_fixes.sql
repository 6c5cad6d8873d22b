-- Paid memberships, corrected (issue 11, after review).
--
-- 1. A failed renewal's grace counts from the day the renewal was due,
--    which is the start of the period Stripe moved the subscription into
--    (`current_period_start`), not from that period's end a month later.
-- 2. A webhook's fetch of a subscription is written only if no fetch that
--    began later was written first: `fetched_at` is the fetch's ticket,
--    taken just before it (the database's clock in Unix ms: on PostgreSQL
--    the server's, one clock for every instance; 0 for older rows). Two
--    events for one subscription handled at once, on one instance or
--    several, cannot leave the older state behind.
-- 3. A complimentary grant is kept apart from the member's status: its
--    tier in `comp_tier_id` (NULL: no comp), its end in `comp_expires_at`
--    (NULL with a tier: no end). A paying member given a comp keeps it
--    when the subscription ends, with the comp's tier.

ALTER TABLE stripe_subscriptions ADD COLUMN current_period_start INTEGER;
ALTER TABLE stripe_subscriptions ADD COLUMN fetched_at INTEGER NOT NULL DEFAULT 0;
-- A mirror from before this has only its period's end: its start is
-- one period earlier (the next webhook writes Stripe's own value).
UPDATE stripe_subscriptions
   SET current_period_start = current_period_end
       - CASE cadence WHEN 'year' THEN 365 ELSE 30 END * 86400000
 WHERE current_period_start IS NULL AND current_period_end IS NOT NULL;

ALTER TABLE members ADD COLUMN comp_tier_id INTEGER REFERENCES tiers (id);
-- The grant in force is the one the member's history last gave and did
-- not end (a paying member's open-ended comp was kept nowhere else); a
-- comped member without such a line (an import) keeps their tier.
UPDATE members
   SET comp_tier_id = (
       SELECT CASE WHEN e.kind = 'comp_given' THEN e.tier_id END
         FROM member_events e
        WHERE e.member_id = members.id
          AND e.kind IN ('comp_given', 'comp_ended', 'comp_expired')
        ORDER BY e.created_at DESC, e.id DESC
        LIMIT 1)
 WHERE status IN ('paid', 'comped');
UPDATE members SET comp_tier_id = tier_id
 WHERE comp_tier_id IS NULL AND status = 'comped' AND tier_id IS NOT NULL;
