-- Paid memberships on Stripe (issue 11, items 2, 3 and 7): the Stripe
-- customer of each paying member, a mirror of their subscriptions, the
-- Stripe products and prices made from the tiers, and the webhook events
-- already handled. A member's history of billing changes goes in
-- `member_events` (0018), with kinds `subscription`, `status`, `billing`.
--
-- Stripe is the source of truth for subscriptions: every webhook makes
-- Masthead fetch the subscription and overwrite its row here, so these rows
-- are always what Stripe last said. Column names follow Ghost's
-- `members_stripe_customers`, `members_stripe_customers_subscriptions`,
-- `stripe_products` and `stripe_prices` (research/revenue.md, section 4).
-- Times are Unix milliseconds; amounts are in the currency's minor unit.

CREATE TABLE stripe_customers (
    customer_id TEXT PRIMARY KEY,
    member_id   INTEGER NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    -- The address Stripe had for the customer when it was linked.
    email       TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX stripe_customers_member ON stripe_customers (member_id);

-- A Stripe product per tier, and its prices (monthly, yearly). The tier's
-- id is kept without a foreign key: a deleted tier leaves its Stripe
-- objects (and the subscriptions on them) readable.
CREATE TABLE stripe_products (
    stripe_product_id TEXT PRIMARY KEY,
    tier_id           INTEGER NOT NULL,
    created_at        INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX stripe_products_tier ON stripe_products (tier_id);

CREATE TABLE stripe_prices (
    stripe_price_id   TEXT PRIMARY KEY,
    stripe_product_id TEXT NOT NULL REFERENCES stripe_products (stripe_product_id) ON DELETE CASCADE,
    tier_id           INTEGER NOT NULL,
    amount            INTEGER NOT NULL CHECK (amount >= 0),
    currency          TEXT NOT NULL,
    cadence           TEXT NOT NULL CHECK (cadence IN ('month', 'year')),
    -- Prices are never changed in Stripe: a new amount is a new price, and
    -- the old one is no longer offered (but its subscriptions go on).
    active            INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at        INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX stripe_prices_tier ON stripe_prices (tier_id, cadence);

-- A subscription as Stripe last described it. `member_id` is NULL while
-- the customer is not (yet) a member's: the row is kept, so nothing Stripe
-- said is lost.
CREATE TABLE stripe_subscriptions (
    subscription_id      TEXT PRIMARY KEY,
    customer_id          TEXT NOT NULL,
    member_id            INTEGER REFERENCES members (id) ON DELETE SET NULL,
    stripe_price_id      TEXT NOT NULL DEFAULT '',
    stripe_product_id    TEXT NOT NULL DEFAULT '',
    -- The tier the price belongs to, when Masthead knows it.
    tier_id              INTEGER,
    -- Stripe's: incomplete, incomplete_expired, trialing, active,
    -- past_due, canceled, unpaid, paused.
    status               TEXT NOT NULL,
    cancel_at_period_end INTEGER NOT NULL DEFAULT 0 CHECK (cancel_at_period_end IN (0, 1)),
    current_period_end   INTEGER,
    trial_end_at         INTEGER,
    amount               INTEGER NOT NULL DEFAULT 0,
    currency             TEXT NOT NULL DEFAULT '',
    cadence              TEXT NOT NULL DEFAULT '',
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX stripe_subscriptions_member ON stripe_subscriptions (member_id);
CREATE INDEX stripe_subscriptions_customer ON stripe_subscriptions (customer_id);

-- Webhook events handled, so a repeat is recognised and ignored.
CREATE TABLE stripe_events (
    event_id    TEXT PRIMARY KEY,
    event_type  TEXT NOT NULL,
    -- What Masthead did with it, for the operator (e.g. "applied",
    -- "unknown customer", "ignored").
    outcome     TEXT NOT NULL,
    received_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX stripe_events_received ON stripe_events (received_at);
