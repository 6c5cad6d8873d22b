-- Paid memberships, corrected (issue 11, after review). The PostgreSQL
-- twin of migrations/sqlite/0020_paid_fixes.sql (read its notes): the
-- period a failed renewal was due in, the fetch order of subscriptions,
-- and complimentary grants kept apart from the member's status.

ALTER TABLE stripe_subscriptions ADD COLUMN current_period_start BIGINT;
ALTER TABLE stripe_subscriptions ADD COLUMN fetched_at BIGINT NOT NULL DEFAULT 0;
-- A mirror from before this has only its period's end: its start is
-- one period earlier (the next webhook writes Stripe's own value).
UPDATE stripe_subscriptions
   SET current_period_start = current_period_end
       - CASE cadence WHEN 'year' THEN 365 ELSE 30 END * 86400000
 WHERE current_period_start IS NULL AND current_period_end IS NOT NULL;

ALTER TABLE members ADD COLUMN comp_tier_id BIGINT REFERENCES tiers (id);
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
