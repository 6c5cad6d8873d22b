-- A newsletter recipient's message is "handed over" once its body is with
-- the relay and only the final dot is left to write: `handed_at` is set in
-- a commit of its own just before that dot. A recipient whose worker died
-- with `handed_at` set is taken to be sent, not sent again (see
-- masthead-web's newsletters/mod.rs). Any recorded outcome clears it.
ALTER TABLE email_recipients ADD COLUMN handed_at INTEGER;
