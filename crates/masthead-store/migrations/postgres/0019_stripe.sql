-- Paid memberships on Stripe (issue 11, items 2, 3 and 7). The PostgreSQL
-- twin of migrations/sqlite/0019_stripe.sql (read its notes): customers,
-- the subscriptions' mirror, products and prices per tier, the webhook
-- events handled (members' history is 0018's `member_events`).

CREATE TABLE stripe_customers (
    customer_id TEXT COLLATE "C" PRIMARY KEY,
    member_id   BIGINT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    email       TEXT COLLATE "C" NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL
);
CREATE INDEX stripe_customers_member ON stripe_customers (member_id);

CREATE TABLE stripe_products (
    stripe_product_id TEXT COLLATE "C" PRIMARY KEY,
    tier_id           BIGINT NOT NULL,
    created_at        BIGINT NOT NULL
);
CREATE INDEX stripe_products_tier ON stripe_products (tier_id);

CREATE TABLE stripe_prices (
    stripe_price_id   TEXT COLLATE "C" PRIMARY KEY,
    stripe_product_id TEXT COLLATE "C" NOT NULL REFERENCES stripe_products (stripe_product_id) ON DELETE CASCADE,
    tier_id           BIGINT NOT NULL,
    amount            BIGINT NOT NULL CHECK (amount >= 0),
    currency          TEXT COLLATE "C" NOT NULL,
    cadence           TEXT COLLATE "C" NOT NULL CHECK (cadence IN ('month', 'year')),
    active            BOOLEAN NOT NULL DEFAULT TRUE,
    created_at        BIGINT NOT NULL
);
CREATE INDEX stripe_prices_tier ON stripe_prices (tier_id, cadence);

CREATE TABLE stripe_subscriptions (
    subscription_id      TEXT COLLATE "C" PRIMARY KEY,
    customer_id          TEXT COLLATE "C" NOT NULL,
    member_id            BIGINT REFERENCES members (id) ON DELETE SET NULL,
    stripe_price_id      TEXT COLLATE "C" NOT NULL DEFAULT '',
    stripe_product_id    TEXT COLLATE "C" NOT NULL DEFAULT '',
    tier_id              BIGINT,
    status               TEXT COLLATE "C" NOT NULL,
    cancel_at_period_end BOOLEAN NOT NULL DEFAULT FALSE,
    current_period_end   BIGINT,
    trial_end_at         BIGINT,
    amount               BIGINT NOT NULL DEFAULT 0,
    currency             TEXT COLLATE "C" NOT NULL DEFAULT '',
    cadence              TEXT COLLATE "C" NOT NULL DEFAULT '',
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);
CREATE INDEX stripe_subscriptions_member ON stripe_subscriptions (member_id);
CREATE INDEX stripe_subscriptions_customer ON stripe_subscriptions (customer_id);

CREATE TABLE stripe_events (
    event_id    TEXT COLLATE "C" PRIMARY KEY,
    event_type  TEXT COLLATE "C" NOT NULL,
    outcome     TEXT COLLATE "C" NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE INDEX stripe_events_received ON stripe_events (received_at);
