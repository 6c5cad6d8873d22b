-- PLACEHOLDER for migration 0015, which belongs to the newsletter-sends work
-- on another branch. It does nothing; the migration list needs contiguous
-- versions. Dropped when the branches are merged.
SELECT 1;
