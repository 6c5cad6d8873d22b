//! Staff accounts, sessions, sign-in throttling and one-time tokens.

use masthead_domain::Role;

use crate::model::ChangeTopic;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::Writer;
use crate::error::{StoreError, StoreResult};
use crate::model::*;
pub(crate) use masthead_model::staff::*;

fn staff_from_row(r: &Row<'_>) -> rusqlite::Result<StaffUser> {
    let role: String = r.get(3)?;
    Ok(StaffUser {
        id: r.get(0)?,
        email: r.get(1)?,
        name: r.get(2)?,
        role: Role::parse(&role).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(
                3,
                rusqlite::types::Type::Text,
                e.to_string().into(),
            )
        })?,
        author_id: r.get(4)?,
        active: r.get(5)?,
    })
}

const STAFF_COLUMNS: &str = "u.id, u.email, u.name, u.role, u.author_id, u.active";

/// The account and its password hash, by address (any case).
pub fn staff_for_signin(
    c: &Connection,
    email_key: String,
) -> StoreResult<Option<(StaffUser, String)>> {
    Ok(c.prepare_cached(&format!(
        "SELECT {STAFF_COLUMNS}, u.password_hash FROM staff_users u WHERE u.email_key = ?1"
    ))?
    .query_row([email_key], |r| Ok((staff_from_row(r)?, r.get(6)?)))
    .optional()?)
}

pub fn session(c: &Connection, token_hash: Vec<u8>, now: i64) -> StoreResult<Option<StaffSession>> {
    Ok(c.prepare_cached(&format!(
        "SELECT {STAFF_COLUMNS}, s.csrf_token, s.expires_at FROM staff_sessions s
             JOIN staff_users u ON u.id = s.user_id
             WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND u.active = 1"
    ))?
    .query_row(params![token_hash, now], |r| {
        Ok(StaffSession {
            user: staff_from_row(r)?,
            csrf_token: r.get(6)?,
            expires_ms: r.get(7)?,
        })
    })
    .optional()?)
}

pub fn owner_exists(c: &Connection) -> StoreResult<bool> {
    Ok(c.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM staff_users WHERE role = 'owner' AND active = 1)",
    )?
    .query_row([], |r| r.get(0))?)
}

pub fn staff_user(c: &Connection, id: i64) -> StoreResult<Option<StaffUser>> {
    Ok(c.prepare_cached(&format!(
        "SELECT {STAFF_COLUMNS} FROM staff_users u WHERE u.id = ?1"
    ))?
    .query_row([id], staff_from_row)
    .optional()?)
}

pub fn staff_users(c: &Connection) -> StoreResult<Vec<StaffUser>> {
    Ok(c.prepare_cached(&format!(
        "SELECT {STAFF_COLUMNS} FROM staff_users u ORDER BY u.name"
    ))?
    .query_map([], staff_from_row)?
    .collect::<Result<_, _>>()?)
}

/// Whether a one-time token of `purpose` is unspent and unexpired.
pub fn one_time_token_valid(
    c: &Connection,
    token_hash: Vec<u8>,
    purpose: &str,
    now: i64,
) -> StoreResult<bool> {
    Ok(c.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM one_time_tokens
             WHERE token_hash = ?1 AND purpose = ?2 AND used_at IS NULL AND expires_at > ?3)",
    )?
    .query_row(params![token_hash, purpose, now], |r| r.get(0))?)
}

impl Writer<'_> {
    /// Creates the account and, unless one is given, the byline it writes
    /// under (a staff member's own posts are those carrying their byline).
    pub fn insert_staff_user(&self, u: &NewStaffUser) -> StoreResult<i64> {
        let now = crate::now_ms();
        let author_id = match u.author_id {
            Some(a) => Some(a),
            None => {
                let base = masthead_domain::slug::slugify(&u.name)
                    .or_else(|| masthead_domain::slug::slugify("staff"))
                    .ok_or_else(|| StoreError::Invalid("cannot make a byline slug".into()))?;
                let slug = masthead_domain::slug::unique_slug(&base, |s| {
                    self.tx()
                        .query_row("SELECT 1 FROM authors WHERE slug = ?1", [s], |_| Ok(()))
                        .optional()
                        .ok()
                        .flatten()
                        .is_some()
                });
                Some(self.insert_author(&NewAuthor {
                    slug: slug.into_string(),
                    name: u.name.clone(),
                    bio: String::new(),
                    location: String::new(),
                })?)
            }
        };
        self.tx()
            .prepare_cached(
                "INSERT INTO staff_users (email, email_key, name, role, password_hash, author_id, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
            )?
            .execute(params![
                u.email.as_str(),
                u.email.key(),
                u.name,
                u.role.as_str(),
                u.password_hash,
                author_id,
                now
            ])
            .map_err(|e| match StoreError::from(e) {
                StoreError::Conflict(_) => StoreError::Conflict(format!(
                    "a staff account with the address {} already exists",
                    u.email.as_str()
                )),
                other => other,
            })?;
        Ok(self.tx().last_insert_rowid())
    }

    pub fn insert_session(
        &self,
        token_hash: &[u8],
        user_id: i64,
        csrf: &str,
        now: i64,
        expires: i64,
    ) -> StoreResult<()> {
        self.tx()
            .prepare_cached(
                "INSERT INTO staff_sessions (token_hash, user_id, csrf_token, created_at, last_seen_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
            )?
            .execute(params![token_hash, user_id, csrf, now, expires])?;
        Ok(())
    }

    pub fn delete_session(&self, token_hash: &[u8]) -> StoreResult<()> {
        self.tx()
            .prepare_cached("DELETE FROM staff_sessions WHERE token_hash = ?1")?
            .execute([token_hash])?;
        Ok(())
    }

    /// Signs a person out everywhere (also used after a password change).
    pub fn delete_sessions_of(&self, user_id: i64) -> StoreResult<usize> {
        Ok(self
            .tx()
            .prepare_cached("DELETE FROM staff_sessions WHERE user_id = ?1")?
            .execute([user_id])?)
    }

    /// One attempt against several limits, checked and recorded in this
    /// write transaction, so parallel attempts cannot all pass a check made
    /// before any was recorded (writes are serialised). If any limit is
    /// already reached nothing is recorded and its index is returned as
    /// `Err`; otherwise one event is recorded per limit and their row ids
    /// returned (see [`Writer::forget_attempt`]). Each key holds at most its
    /// limit of events, so a flood cannot grow the table.
    pub fn throttle(&self, limits: &[Limit], now: i64) -> StoreResult<Result<Vec<i64>, usize>> {
        for (i, l) in limits.iter().enumerate() {
            let since = now.saturating_sub(l.window_ms);
            // Events older than the window no longer count: drop them (an
            // index range on (key, at)).
            self.tx()
                .prepare_cached("DELETE FROM signin_failures WHERE key = ?1 AND at <= ?2")?
                .execute(params![l.key, since])?;
            let n: u32 = self
                .tx()
                .prepare_cached("SELECT COUNT(*) FROM signin_failures WHERE key = ?1")?
                .query_row([&l.key], |r| r.get(0))?;
            if n >= l.max {
                return Ok(Err(i));
            }
        }
        let mut ids = Vec::with_capacity(limits.len());
        for l in limits {
            self.tx()
                .prepare_cached("INSERT INTO signin_failures (key, at) VALUES (?1, ?2)")?
                .execute(params![l.key, now])?;
            ids.push(self.tx().last_insert_rowid());
        }
        // Keys not seen again (an address that left) are swept now and then.
        if ids.last().is_some_and(|id| id % 512 == 0) {
            self.tx()
                .prepare_cached("DELETE FROM signin_failures WHERE at < ?1")?
                .execute([now.saturating_sub(86_400_000)])?;
        }
        Ok(Ok(ids))
    }

    /// Forgets every event counted under `key` (a sign-in that succeeded
    /// forgives that address's earlier failures at the account).
    pub fn clear_throttle(&self, key: &str) -> StoreResult<()> {
        self.tx()
            .prepare_cached("DELETE FROM signin_failures WHERE key = ?1")?
            .execute([key])?;
        Ok(())
    }

    /// Takes back events recorded by [`Writer::throttle`] (a sign-in that
    /// succeeded counts against nothing).
    pub fn forget_attempt(&self, ids: &[i64]) -> StoreResult<()> {
        for id in ids {
            self.tx()
                .prepare_cached("DELETE FROM signin_failures WHERE id = ?1")?
                .execute([id])?;
        }
        Ok(())
    }

    pub fn insert_one_time_token(
        &self,
        token_hash: &[u8],
        purpose: &str,
        user_id: Option<i64>,
        now: i64,
        expires: i64,
    ) -> StoreResult<()> {
        self.tx()
            .prepare_cached(
                "INSERT INTO one_time_tokens (token_hash, purpose, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![token_hash, purpose, user_id, now, expires])?;
        Ok(())
    }

    /// Marks a token used; `Ok(None)` when unknown, expired or already used.
    pub fn use_one_time_token(
        &self,
        token_hash: &[u8],
        purpose: &str,
        now: i64,
    ) -> StoreResult<Option<Option<i64>>> {
        let user: Option<Option<i64>> = self
            .tx()
            .prepare_cached(
                "UPDATE one_time_tokens SET used_at = ?3
                 WHERE token_hash = ?1 AND purpose = ?2 AND used_at IS NULL AND expires_at > ?3
                 RETURNING user_id",
            )?
            .query_row(params![token_hash, purpose, now], |r| r.get(0))
            .optional()?;
        Ok(user)
    }

    pub fn set_password_hash(&self, user_id: i64, hash: &str) -> StoreResult<()> {
        self.tx()
            .prepare_cached(
                "UPDATE staff_users SET password_hash = ?2, updated_at = ?3 WHERE id = ?1",
            )?
            .execute(params![user_id, hash, crate::now_ms()])?;
        Ok(())
    }

    pub fn owner_exists(&self) -> StoreResult<bool> {
        owner_exists(self.tx())
    }

    /// Changes an account's role. Refuses to leave the site without an
    /// active owner.
    pub fn set_staff_role(&self, user_id: i64, role: Role) -> StoreResult<()> {
        self.keep_an_owner(user_id, role != Role::Owner)?;
        let n = self.tx().execute(
            "UPDATE staff_users SET role = ?2, updated_at = ?3 WHERE id = ?1",
            params![user_id, role.as_str(), crate::now_ms()],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Deactivates (ending every session) or reactivates an account.
    pub fn set_staff_active(&self, user_id: i64, active: bool) -> StoreResult<()> {
        self.keep_an_owner(user_id, !active)?;
        let n = self.tx().execute(
            "UPDATE staff_users SET active = ?2, updated_at = ?3 WHERE id = ?1",
            params![user_id, active, crate::now_ms()],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        if !active {
            self.delete_sessions_of(user_id)?;
        }
        Ok(())
    }

    /// `Invalid` when `user_id` is the last active owner and `losing` says it
    /// is about to stop being one.
    fn keep_an_owner(&self, user_id: i64, losing: bool) -> StoreResult<()> {
        if !losing {
            return Ok(());
        }
        let (is_owner, owners): (bool, i64) = self.tx().query_row(
            "SELECT EXISTS (SELECT 1 FROM staff_users WHERE id = ?1 AND role = 'owner' AND active = 1),
                    (SELECT COUNT(*) FROM staff_users WHERE role = 'owner' AND active = 1)",
            [user_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        if is_owner && owners <= 1 {
            return Err(StoreError::Invalid(
                "the site must keep at least one active owner; make someone else owner first"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// Newest-updated first, at most `limit`.
pub fn desk_posts(c: &Connection, f: PostFilter, limit: u32) -> StoreResult<Vec<DeskPost>> {
    let like = f.title.as_deref().map(|t| {
        let escaped = t
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%{escaped}%")
    });
    Ok(c
        .prepare_cached(
            "SELECT p.id, p.kind, p.status, p.slug, p.title, p.updated_at, p.published_at,
                    COALESCE((SELECT group_concat(a.name, ', ') FROM post_authors pa
                              JOIN authors a ON a.id = pa.author_id WHERE pa.post_id = p.id), '')
             FROM posts p
             WHERE (?1 IS NULL OR p.status = ?1)
               AND (?2 IS NULL OR p.kind = ?2)
               AND (?3 IS NULL OR EXISTS (SELECT 1 FROM post_authors x WHERE x.post_id = p.id AND x.author_id = ?3))
               AND (?4 IS NULL OR EXISTS (SELECT 1 FROM post_tags y WHERE y.post_id = p.id AND y.tag_id = ?4))
               AND (?5 IS NULL OR p.title LIKE ?5 ESCAPE '\\')
             ORDER BY p.updated_at DESC, p.id DESC LIMIT ?6",
        )?
        .query_map(
            params![
                f.status.map(|s| s.as_str()),
                f.kind.map(|k| k.as_str()),
                f.author_id,
                f.tag_id,
                like,
                limit.clamp(1, 500)
            ],
            |r| {
                Ok(DeskPost {
                    id: r.get(0)?,
                    kind: r.get(1)?,
                    status: r.get(2)?,
                    slug: r.get(3)?,
                    title: r.get(4)?,
                    updated_ms: r.get(5)?,
                    published_ms: r.get(6)?,
                    authors: r.get(7)?,
                })
            },
        )?
        .collect::<Result<_, _>>()?)
}

/// Every author and tag, for the desk's filter menus.
pub fn all_authors_and_tags(c: &Connection) -> StoreResult<(Vec<NamedRef>, Vec<NamedRef>)> {
    let authors = c
        .prepare_cached("SELECT id, slug, name FROM authors ORDER BY name")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    let tags = c
        .prepare_cached("SELECT id, slug, name FROM tags ORDER BY name")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    Ok((authors, tags))
}

/// `%text%` and `text%` for `LIKE … ESCAPE '\'`, the text's wildcards escaped.
pub(crate) fn like_patterns(text: &str) -> (String, String) {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    (format!("%{escaped}%"), format!("{escaped}%"))
}

/// Tags or bylines whose name or slug contains `text` (ASCII case
/// ignored), those starting with it first, then by name: the desk's pickers.
pub fn find_named(
    c: &Connection,
    which: Taxonomy,
    text: String,
    limit: u32,
) -> StoreResult<Vec<NamedRef>> {
    let sql = match which {
        Taxonomy::Tags => {
            "SELECT id, slug, name FROM tags
             WHERE name LIKE ?1 ESCAPE '\\' OR slug LIKE ?1 ESCAPE '\\'
             ORDER BY (name LIKE ?2 ESCAPE '\\' OR slug LIKE ?2 ESCAPE '\\') DESC, lower(name), id
             LIMIT ?3"
        }
        Taxonomy::Bylines => {
            "SELECT id, slug, name FROM authors
             WHERE name LIKE ?1 ESCAPE '\\' OR slug LIKE ?1 ESCAPE '\\'
             ORDER BY (name LIKE ?2 ESCAPE '\\' OR slug LIKE ?2 ESCAPE '\\') DESC, lower(name), id
             LIMIT ?3"
        }
    };
    let (anywhere, start) = like_patterns(text.trim());
    Ok(c.prepare_cached(sql)?
        .query_map(params![anywhere, start, limit.clamp(1, 100)], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<Result<_, _>>()?)
}

/// The columns of a [`DeskPost`] from `posts p`, bylines in order.
macro_rules! desk_columns {
    () => {
        "SELECT p.id, p.kind, p.status, p.slug, p.title, p.updated_at, p.published_at,
                COALESCE((SELECT group_concat(a.name, ', ' ORDER BY pa.position) FROM post_authors pa
                          JOIN authors a ON a.id = pa.author_id WHERE pa.post_id = p.id), '')"
    };
}

/// Only posts with byline `?1` when it is not NULL.
macro_rules! desk_sight {
    () => {
        "(?1 IS NULL OR EXISTS (SELECT 1 FROM post_authors x WHERE x.post_id = p.id AND x.author_id = ?1))"
    };
}

fn desk_post_at(r: &Row<'_>) -> rusqlite::Result<DeskPost> {
    Ok(DeskPost {
        id: r.get(0)?,
        kind: r.get(1)?,
        status: r.get(2)?,
        slug: r.get(3)?,
        title: r.get(4)?,
        updated_ms: r.get(5)?,
        published_ms: r.get(6)?,
        authors: r.get(7)?,
    })
}

/// The desk's front page: the viewer's drafts, what waits for review, what
/// is scheduled, what was published last, and the live roundups, each at
/// most `limit` long. Each list reads its own index (review, scheduled,
/// feed, kind).
pub fn desk_front(c: &Connection, viewer: FrontViewer, limit: u32) -> StoreResult<DeskFront> {
    let limit = limit.clamp(1, 100);
    let list = |sql: &str, who: Option<i64>| -> StoreResult<Vec<DeskPost>> {
        Ok(c.prepare_cached(sql)?
            .query_map(params![who, limit], desk_post_at)?
            .collect::<Result<_, _>>()?)
    };
    let drafts = match viewer.byline {
        Some(mine) => list(
            concat!(
                desk_columns!(),
                " FROM posts p WHERE p.status = 'draft' AND ",
                desk_sight!(),
                " ORDER BY p.updated_at DESC, p.id DESC LIMIT ?2"
            ),
            Some(mine),
        )?,
        None => Vec::new(),
    };
    let in_review = list(
        concat!(
            desk_columns!(),
            " FROM posts p WHERE p.review = 'submitted' AND ",
            desk_sight!(),
            " ORDER BY p.updated_at, p.id LIMIT ?2"
        ),
        viewer.only,
    )?;
    let scheduled = list(
        concat!(
            desk_columns!(),
            " FROM posts p WHERE p.status = 'scheduled' AND ",
            desk_sight!(),
            " ORDER BY p.published_at, p.id LIMIT ?2"
        ),
        viewer.only,
    )?;
    let published = list(
        concat!(
            desk_columns!(),
            " FROM posts p WHERE p.status = 'published' AND p.kind <> 'page' AND ",
            desk_sight!(),
            " ORDER BY p.published_at DESC, p.id DESC LIMIT ?2"
        ),
        viewer.only,
    )?;
    let live = c
        .prepare_cached(concat!(
            desk_columns!(),
            ", (SELECT count(*) FROM live_entries e WHERE e.post_id = p.id),
               (SELECT max(e.created_at) FROM live_entries e WHERE e.post_id = p.id)
             FROM posts p WHERE p.status = 'published' AND p.kind = 'live' AND ",
            desk_sight!(),
            " ORDER BY COALESCE((SELECT max(e.created_at) FROM live_entries e WHERE e.post_id = p.id), p.published_at) DESC,
                 p.id DESC LIMIT ?2"
        ))?
        .query_map(params![viewer.only, limit], |r| {
            Ok(RunningLive {
                post: desk_post_at(r)?,
                entries: r.get::<_, i64>(8)?.max(0) as u64,
                last_entry_ms: r.get(9)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(DeskFront {
        drafts,
        in_review,
        scheduled,
        published,
        live,
    })
}

/// A post's kind and its byline ids (to decide "own" for permissions).
pub fn post_kind_and_authors(c: &Connection, post_id: i64) -> StoreResult<Option<PostOwnership>> {
    let Some((kind, slug, title)) = c
        .prepare_cached("SELECT kind, slug, title FROM posts WHERE id = ?1")?
        .query_row([post_id], |r| {
            Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?
    else {
        return Ok(None);
    };
    let kind = masthead_domain::PostKind::parse(&kind)?;
    let authors = c
        .prepare_cached("SELECT author_id FROM post_authors WHERE post_id = ?1")?
        .query_map([post_id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(Some((kind, slug, title, authors)))
}

impl Writer<'_> {
    /// Changes an entry of a live post; `Ok(false)` when it does not exist.
    pub fn update_live_entry(
        &self,
        entry_id: i64,
        title: &str,
        body_source: &str,
        body_html: &str,
        pinned: bool,
    ) -> StoreResult<bool> {
        let now = crate::now_ms();
        let post_id: Option<i64> = self
            .tx()
            .prepare_cached(
                "UPDATE live_entries SET title = ?2, body_source = ?3, body_html = ?4, pinned = ?5, updated_at = ?6
                 WHERE id = ?1 RETURNING post_id",
            )?
            .query_row(params![entry_id, title, body_source, body_html, pinned, now], |r| r.get(0))
            .optional()?;
        match post_id {
            Some(post_id) => {
                self.log_change(ChangeTopic::LiveEntry, Some(post_id), Some(entry_id))?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    pub fn live_entry_belongs(&self, entry_id: i64, post_id: i64) -> StoreResult<bool> {
        Ok(self
            .tx()
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM live_entries WHERE id = ?1 AND post_id = ?2)",
            )?
            .query_row(params![entry_id, post_id], |r| r.get(0))?)
    }

    pub fn delete_live_entry(&self, entry_id: i64) -> StoreResult<bool> {
        let post_id: Option<i64> = self
            .tx()
            .prepare_cached("DELETE FROM live_entries WHERE id = ?1 RETURNING post_id")?
            .query_row([entry_id], |r| r.get(0))
            .optional()?;
        match post_id {
            Some(post_id) => {
                self.log_change(ChangeTopic::LiveEntry, Some(post_id), Some(entry_id))?;
                Ok(true)
            }
            None => Ok(false),
        }
    }
}
