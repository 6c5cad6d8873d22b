-- Paid memberships, part one (issue 11, items 1 and 4): tiers, posts
-- visible to chosen tiers, a member's tier and complimentary access, and a
-- member's history of such changes.
--
-- Tiers are Ghost's `products`: one free tier (seeded here, slug `free`)
-- and any number of paid ones, priced in minor units of the site's
-- currency (the `currency` setting, `usd` by default). Tiers are archived
-- (`active = 0`), never deleted: members and posts keep pointing at them.

-- Posts may now be visible to chosen tiers (`visibility = 'tiers'`, the
-- tiers in `post_tiers`). SQLite cannot change a CHECK in place, and
-- rebuilding `posts` inside this transaction would cascade its DROP to
-- every table that refers to it (foreign keys cannot be turned off inside a
-- transaction). Widening the list of allowed values changes nothing stored
-- and no existing row can fail it, which is the case SQLite documents
-- for editing the table's definition directly ("ALTER TABLE", section
-- "Making Other Kinds Of Table Schema Changes"). The migration runner then
-- bumps `schema_version`, so every connection, this one included, reads
-- the new definition (sqlite/mod.rs, `VISIBILITY_MIGRATION`).
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
   SET sql = replace(sql,
                     'CHECK (visibility IN (''public'', ''members'', ''paid''))',
                     'CHECK (visibility IN (''public'', ''members'', ''paid'', ''tiers''))')
 WHERE type = 'table' AND name = 'posts';
PRAGMA writable_schema = OFF;

CREATE TABLE tiers (
    id               INTEGER PRIMARY KEY,
    uuid             TEXT NOT NULL UNIQUE,
    slug             TEXT NOT NULL UNIQUE,
    name             TEXT NOT NULL,
    description      TEXT NOT NULL DEFAULT '',
    type             TEXT NOT NULL DEFAULT 'paid' CHECK (type IN ('free', 'paid')),
    active           INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    -- `none`: not offered on the site's pages (staff may still comp it).
    visibility       TEXT NOT NULL DEFAULT 'public' CHECK (visibility IN ('public', 'none')),
    -- ISO 4217, lowercase (Stripe's spelling); NULL for the free tier.
    currency         TEXT,
    -- Minor units (cents); NULL where the tier has no such price.
    monthly_price    INTEGER CHECK (monthly_price > 0),
    yearly_price     INTEGER CHECK (yearly_price > 0),
    trial_days       INTEGER NOT NULL DEFAULT 0 CHECK (trial_days >= 0),
    welcome_page_url TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    -- A paid tier has a price and a currency; the free tier has neither.
    CHECK (type = 'free' OR (currency IS NOT NULL AND (monthly_price IS NOT NULL OR yearly_price IS NOT NULL))),
    CHECK (type = 'paid' OR (monthly_price IS NULL AND yearly_price IS NULL))
);

-- A tier's benefits, in the order they are listed.
CREATE TABLE tier_benefits (
    tier_id  INTEGER NOT NULL REFERENCES tiers (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    name     TEXT NOT NULL,
    PRIMARY KEY (tier_id, position)
) WITHOUT ROWID;

INSERT INTO tiers (uuid, slug, name, description, type, created_at, updated_at)
VALUES (
    lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-'
          || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))),
    'free', 'Free', 'Free membership: members-only stories and the newsletters.', 'free',
    CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER),
    CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
);

-- The tiers a `visibility = 'tiers'` post is open to.
CREATE TABLE post_tiers (
    post_id INTEGER NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    tier_id INTEGER NOT NULL REFERENCES tiers (id) ON DELETE CASCADE,
    PRIMARY KEY (post_id, tier_id)
) WITHOUT ROWID;
CREATE INDEX post_tiers_tier ON post_tiers (tier_id, post_id);

-- A member's tier (NULL: the free tier) and the end of complimentary
-- access (ms; NULL: none, or a comp without end). `status` says which:
-- `paid` (a live subscription), `comped` (a grant), else `free`. A comp
-- whose end has passed counts as `free` wherever access is decided, and a
-- job writes that down (`end_expired_comps`).
ALTER TABLE members ADD COLUMN tier_id INTEGER REFERENCES tiers (id);
ALTER TABLE members ADD COLUMN comp_expires_at INTEGER;
CREATE INDEX members_comp_expires ON members (comp_expires_at) WHERE status = 'comped';

-- What happened to a member's access, for their page in the desk:
-- `comp_given`, `comp_ended`, `comp_expired` here; the Stripe side adds
-- its own kinds. `staff_id` is who did it, when staff did.
CREATE TABLE member_events (
    id         INTEGER PRIMARY KEY,
    member_id  INTEGER NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    tier_id    INTEGER REFERENCES tiers (id) ON DELETE SET NULL,
    -- The end of the access it gave, if any (ms).
    until_at   INTEGER,
    staff_id   INTEGER REFERENCES staff_users (id) ON DELETE SET NULL,
    note       TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
);
CREATE INDEX member_events_member ON member_events (member_id, created_at);
