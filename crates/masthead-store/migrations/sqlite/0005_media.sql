-- The media library. Files live under `<data>/media/<key>/`: the original as
-- uploaded and the re-encoded widths readers are served. `key` is the start of
-- the SHA-256 of the original, so uploading the same file twice finds the
-- first item.

CREATE TABLE media (
    id           INTEGER PRIMARY KEY,
    key          TEXT NOT NULL UNIQUE,
    filename     TEXT NOT NULL,
    format       TEXT NOT NULL CHECK (format IN ('jpeg', 'png', 'gif', 'webp')),
    width        INTEGER NOT NULL CHECK (width > 0),
    height       INTEGER NOT NULL CHECK (height > 0),
    bytes        INTEGER NOT NULL,
    -- The generated widths, narrowest first, comma-separated ("320,640,1024").
    widths       TEXT NOT NULL,
    -- Extension of the non-WebP widths: 'jpg', 'png' or 'webp'.
    fallback     TEXT NOT NULL CHECK (fallback IN ('jpg', 'png', 'webp')),
    alt          TEXT NOT NULL DEFAULT '',
    caption      TEXT NOT NULL DEFAULT '',
    photographer TEXT NOT NULL DEFAULT '',
    agency       TEXT NOT NULL DEFAULT '',
    uploaded_by  INTEGER REFERENCES staff_users (id) ON DELETE SET NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);

-- A post's feature image may come from the library; its `srcset`s are worked
-- out when the post is saved, not on every page view.
ALTER TABLE posts ADD COLUMN feature_media_id INTEGER REFERENCES media (id) ON DELETE SET NULL;
ALTER TABLE posts ADD COLUMN feature_image_srcset TEXT;
ALTER TABLE posts ADD COLUMN feature_image_webp_srcset TEXT;

-- Autosaves: a run of them by one person keeps one revision, updated in place.
ALTER TABLE post_revisions ADD COLUMN autosave INTEGER NOT NULL DEFAULT 0 CHECK (autosave IN (0, 1));
