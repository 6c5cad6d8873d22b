-- Donations (issue 11, item 5): one-off and monthly contributions through
-- Stripe Checkout, and campaigns that may count them.
--
-- One row per payment received: a one-off gift is one row (its payment
-- intent), a monthly gift is a row per paid invoice. `stripe_ref` (the
-- payment intent's or the invoice's id) makes recording a repeat webhook
-- do nothing. Amounts are in the currency's minor unit; times Unix ms.
-- A monthly gift's Stripe subscription is not a membership: it never
-- makes anyone `paid`.

CREATE TABLE donations (
    id                     INTEGER PRIMARY KEY,
    -- one_off | monthly
    kind                   TEXT NOT NULL CHECK (kind IN ('one_off', 'monthly')),
    amount                 INTEGER NOT NULL CHECK (amount > 0),
    currency               TEXT NOT NULL,
    -- The member who gave, when known (signed in, or the address is a
    -- member's); kept when the member is deleted, without them.
    member_id              INTEGER REFERENCES members (id) ON DELETE SET NULL,
    -- For the thank-you e-mail; erased with the member's personal data.
    email                  TEXT NOT NULL DEFAULT '',
    name                   TEXT NOT NULL DEFAULT '',
    stripe_ref             TEXT NOT NULL UNIQUE,
    stripe_session_id      TEXT,
    stripe_subscription_id TEXT,
    stripe_customer_id     TEXT,
    -- When the thank-you e-mail was sent (NULL: not yet, or no address).
    thanked_at             INTEGER,
    created_at             INTEGER NOT NULL
);
CREATE INDEX donations_created ON donations (created_at);
CREATE INDEX donations_member ON donations (member_id);
CREATE INDEX donations_subscription ON donations (stripe_subscription_id);

-- A campaign's "N out of GOAL" may now count donations: the sum given
-- since the campaign started, in whole units of the site's currency
-- (the goal too). SQLite cannot change a CHECK, so the table is rebuilt.
CREATE TABLE campaigns_new (
    id          INTEGER PRIMARY KEY,
    pitch       TEXT NOT NULL,
    goal        INTEGER NOT NULL CHECK (goal > 0),
    -- What counts towards the goal: confirmed members, paying members, or
    -- donations.
    metric      TEXT NOT NULL DEFAULT 'members' CHECK (metric IN ('members', 'paid', 'donations')),
    starts_at   INTEGER NOT NULL,
    deadline    INTEGER NOT NULL,
    active      INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1))
);
INSERT INTO campaigns_new (id, pitch, goal, metric, starts_at, deadline, active)
    SELECT id, pitch, goal, metric, starts_at, deadline, active FROM campaigns;
DROP TABLE campaigns;
ALTER TABLE campaigns_new RENAME TO campaigns;
