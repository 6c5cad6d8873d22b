-- Newsletters that are sent (issue 10, items 5, 6, 9): a send is a job.
--
-- `email_sends` is one post sent to one newsletter's members in a segment,
-- at most once per (post, newsletter). Creating it snapshots its recipients
-- into `email_recipients` in the same transaction: who gets it is decided
-- then, not while it is being sent. Recipients are a leased queue (see the
-- store's `lease.rs`): 'pending' is queued, 'sending' is held by a worker
-- under a lease, then 'sent' (with the relay's reply) or 'failed'.

CREATE TABLE email_sends (
    id            INTEGER PRIMARY KEY,
    post_id       INTEGER NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    newsletter_id INTEGER NOT NULL REFERENCES newsletters (id) ON DELETE CASCADE,
    segment       TEXT NOT NULL CHECK (segment IN ('all', 'free', 'paid')),
    status        TEXT NOT NULL DEFAULT 'sending' CHECK (status IN ('sending', 'sent')),
    subject       TEXT NOT NULL,
    recipients    INTEGER NOT NULL DEFAULT 0,
    created_by    INTEGER REFERENCES staff_users (id) ON DELETE SET NULL,
    created_at    INTEGER NOT NULL,
    started_at    INTEGER,
    finished_at   INTEGER,
    UNIQUE (post_id, newsletter_id)
);
CREATE INDEX email_sends_newest ON email_sends (created_at DESC, id DESC);

CREATE TABLE email_recipients (
    id              INTEGER PRIMARY KEY,
    send_id         INTEGER NOT NULL REFERENCES email_sends (id) ON DELETE CASCADE,
    -- A member who deletes their account takes their rows with them
    -- (personal data goes at once); `email_sends.recipients` keeps the count.
    member_id       INTEGER NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    email           TEXT NOT NULL,
    name            TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    -- Failed tries so far (a refusal or an unreachable relay); a worker
    -- that died is not a try.
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    -- The relay's reply to the last try ("250 2.0.0 Ok: queued as …").
    reply           TEXT,
    sent_at         INTEGER,
    lease_owner     TEXT,
    lease_token     TEXT,
    lease_until     INTEGER,
    UNIQUE (send_id, member_id)
);
CREATE INDEX email_recipients_open ON email_recipients (next_attempt_at, id) WHERE status = 'pending' OR status = 'sending';
CREATE INDEX email_recipients_send ON email_recipients (send_id, status);
CREATE INDEX email_recipients_member ON email_recipients (member_id);

