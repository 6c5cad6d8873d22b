-- The newsroom's review workflow: contributors submit drafts, editors comment,
-- approve or send back.

ALTER TABLE posts ADD COLUMN review TEXT NOT NULL DEFAULT 'none'
    CHECK (review IN ('none', 'submitted', 'changes_requested', 'approved'));
CREATE INDEX posts_review ON posts (review, updated_at) WHERE review = 'submitted';

CREATE TABLE review_comments (
    id         INTEGER PRIMARY KEY,
    post_id    INTEGER NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    staff_id   INTEGER REFERENCES staff_users (id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL,
    decision   TEXT NOT NULL CHECK (decision IN ('submitted', 'comment', 'changes_requested', 'approved')),
    body       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX review_comments_post ON review_comments (post_id, id);
