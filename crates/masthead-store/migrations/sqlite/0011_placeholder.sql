-- PLACEHOLDER for version 11, which another branch adds; dropped when the branches merge.
SELECT 1;
