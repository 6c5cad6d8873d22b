-- A member whose mail server refused a message for good (an SMTP 5xx reply)
-- is "bouncing": later sends skip the address until it is changed or an
-- editor clears the flag. Set by the newsletter sender, shown and filtered
-- in the desk's members list.
ALTER TABLE members ADD COLUMN email_disabled INTEGER NOT NULL DEFAULT 0 CHECK (email_disabled IN (0, 1));
