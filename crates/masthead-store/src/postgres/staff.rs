//! Staff accounts, sessions, sign-in throttling and one-time tokens: the
//! PostgreSQL mirror of `sqlite/staff.rs`.

use std::collections::HashMap;

use deadpool_postgres::GenericClient;
use masthead_domain::Role;
use tokio_postgres::Row;

use super::PgWriter;
use super::sql::{count_at, exec, map, row_one, row_opt, rows};
use crate::error::{StoreError, StoreResult};
use crate::model::*;
use crate::sqlite::staff::{
    DeskFront, DeskPost, FrontViewer, NamedRef, PostFilter, PostOwnership, RunningLive, Taxonomy,
    like_patterns,
};

fn staff_from_row(r: &Row) -> StoreResult<StaffUser> {
    let role: String = r.try_get(3)?;
    Ok(StaffUser {
        id: r.try_get(0)?,
        email: r.try_get(1)?,
        name: r.try_get(2)?,
        role: Role::parse(&role).map_err(|e| StoreError::Other(format!("role: {e}")))?,
        author_id: r.try_get(4)?,
        active: r.try_get(5)?,
    })
}

const STAFF_COLUMNS: &str = "u.id, u.email, u.name, u.role, u.author_id, u.active";

/// The account and its password hash, by address (any case).
pub async fn staff_for_signin(
    c: &impl GenericClient,
    email_key: String,
) -> StoreResult<Option<(StaffUser, String)>> {
    row_opt(
        c,
        &format!(
            "SELECT {STAFF_COLUMNS}, u.password_hash FROM staff_users u WHERE u.email_key = $1"
        ),
        &[&email_key],
    )
    .await?
    .map(|r| Ok((staff_from_row(&r)?, r.try_get(6)?)))
    .transpose()
}

pub async fn session(
    c: &impl GenericClient,
    token_hash: Vec<u8>,
    now: i64,
) -> StoreResult<Option<StaffSession>> {
    row_opt(
        c,
        &format!(
            "SELECT {STAFF_COLUMNS}, s.csrf_token, s.expires_at FROM staff_sessions s
                 JOIN staff_users u ON u.id = s.user_id
                 WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.active"
        ),
        &[&token_hash, &now],
    )
    .await?
    .map(|r| {
        Ok(StaffSession {
            user: staff_from_row(&r)?,
            csrf_token: r.try_get(6)?,
            expires_ms: r.try_get(7)?,
        })
    })
    .transpose()
}

pub async fn owner_exists(c: &impl GenericClient) -> StoreResult<bool> {
    Ok(row_one(
        c,
        "SELECT EXISTS (SELECT 1 FROM staff_users WHERE role = 'owner' AND active)",
        &[],
    )
    .await?
    .try_get(0)?)
}

pub async fn staff_user(c: &impl GenericClient, id: i64) -> StoreResult<Option<StaffUser>> {
    row_opt(
        c,
        &format!("SELECT {STAFF_COLUMNS} FROM staff_users u WHERE u.id = $1"),
        &[&id],
    )
    .await?
    .as_ref()
    .map(staff_from_row)
    .transpose()
}

pub async fn staff_users(c: &impl GenericClient) -> StoreResult<Vec<StaffUser>> {
    let found = rows(
        c,
        &format!("SELECT {STAFF_COLUMNS} FROM staff_users u ORDER BY u.name"),
        &[],
    )
    .await?;
    map(&found, staff_from_row)
}

/// Whether a one-time token of `purpose` is unspent and unexpired.
pub async fn one_time_token_valid(
    c: &impl GenericClient,
    token_hash: Vec<u8>,
    purpose: &str,
    now: i64,
) -> StoreResult<bool> {
    Ok(row_one(
        c,
        "SELECT EXISTS (SELECT 1 FROM one_time_tokens
             WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3)",
        &[&token_hash, &purpose, &now],
    )
    .await?
    .try_get(0)?)
}

/// Takes a lock held until the transaction ends, named by `name` (advisory:
/// it only excludes other holders of the same name).
pub(crate) async fn xact_lock(w: &PgWriter<'_>, name: &str) -> StoreResult<()> {
    w.tx()
        .execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            &[&name],
        )
        .await?;
    Ok(())
}

impl PgWriter<'_> {
    /// Creates the account and, unless one is given, the byline it writes
    /// under (a staff member's own posts are those carrying their byline).
    pub async fn insert_staff_user(&self, u: &NewStaffUser) -> StoreResult<i64> {
        let now = crate::now_ms();
        let author_id = match u.author_id {
            Some(a) => Some(a),
            None => {
                let base = masthead_domain::slug::slugify(&u.name)
                    .or_else(|| masthead_domain::slug::slugify("staff"))
                    .ok_or_else(|| StoreError::Invalid("cannot make a byline slug".into()))?;
                // `unique_slug` asks synchronously; the answers come from the
                // database one at a time: ask, look up what it settled on,
                // and ask again knowing that one is taken. (A byline created
                // by a concurrent transaction meanwhile breaks the unique
                // key: a `Conflict`, not a duplicate.)
                let mut taken: HashMap<String, bool> = HashMap::new();
                let slug = loop {
                    let candidate = masthead_domain::slug::unique_slug(&base, |s| {
                        taken.get(s).copied().unwrap_or(false)
                    });
                    let exists = row_opt(
                        self.tx(),
                        "SELECT 1 FROM authors WHERE slug = $1",
                        &[&candidate.as_str()],
                    )
                    .await?
                    .is_some();
                    if !exists {
                        break candidate;
                    }
                    taken.insert(candidate.into_string(), true);
                };
                Some(
                    self.insert_author(&NewAuthor {
                        slug: slug.into_string(),
                        name: u.name.clone(),
                        bio: String::new(),
                        location: String::new(),
                    })
                    .await?,
                )
            }
        };
        let id = row_one(
            self.tx(),
            "INSERT INTO staff_users (email, email_key, name, role, password_hash, author_id, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
            &[
                &u.email.as_str(),
                &u.email.key(),
                &u.name,
                &u.role.as_str(),
                &u.password_hash,
                &author_id,
                &now,
            ],
        )
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => StoreError::Conflict(format!(
                "a staff account with the address {} already exists",
                u.email.as_str()
            )),
            other => other,
        })?;
        Ok(id.try_get(0)?)
    }

    pub async fn insert_session(
        &self,
        token_hash: &[u8],
        user_id: i64,
        csrf: &str,
        now: i64,
        expires: i64,
    ) -> StoreResult<()> {
        exec(
            self.tx(),
            "INSERT INTO staff_sessions (token_hash, user_id, csrf_token, created_at, last_seen_at, expires_at)
             VALUES ($1, $2, $3, $4, $4, $5)",
            &[&token_hash, &user_id, &csrf, &now, &expires],
        )
        .await?;
        Ok(())
    }

    pub async fn delete_session(&self, token_hash: &[u8]) -> StoreResult<()> {
        exec(
            self.tx(),
            "DELETE FROM staff_sessions WHERE token_hash = $1",
            &[&token_hash],
        )
        .await?;
        Ok(())
    }

    /// Signs a person out everywhere (also used after a password change).
    pub async fn delete_sessions_of(&self, user_id: i64) -> StoreResult<usize> {
        let n = exec(
            self.tx(),
            "DELETE FROM staff_sessions WHERE user_id = $1",
            &[&user_id],
        )
        .await?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    /// One attempt against several limits, checked and recorded in this
    /// transaction (see the SQLite twin). SQLite serialises writers, so there
    /// parallel attempts cannot all pass a check made before any was
    /// recorded; here each limit's key is locked (an advisory lock, in key
    /// order so that two attempts never wait on each other crosswise) until
    /// the transaction ends, which gives the same guarantee per key.
    pub async fn throttle(
        &self,
        limits: &[Limit],
        now: i64,
    ) -> StoreResult<Result<Vec<i64>, usize>> {
        let mut keys: Vec<&str> = limits.iter().map(|l| l.key.as_str()).collect();
        keys.sort_unstable();
        keys.dedup();
        for key in keys {
            xact_lock(self, &format!("masthead:throttle:{key}")).await?;
        }
        for (i, l) in limits.iter().enumerate() {
            let since = now.saturating_sub(l.window_ms);
            // Events older than the window no longer count: drop them (an
            // index range on (key, at)).
            exec(
                self.tx(),
                "DELETE FROM signin_failures WHERE key = $1 AND at <= $2",
                &[&l.key, &since],
            )
            .await?;
            let n: i64 = row_one(
                self.tx(),
                "SELECT COUNT(*) FROM signin_failures WHERE key = $1",
                &[&l.key],
            )
            .await?
            .try_get(0)?;
            if n >= i64::from(l.max) {
                return Ok(Err(i));
            }
        }
        let mut ids = Vec::with_capacity(limits.len());
        for l in limits {
            let id: i64 = row_one(
                self.tx(),
                "INSERT INTO signin_failures (key, at) VALUES ($1, $2) RETURNING id",
                &[&l.key, &now],
            )
            .await?
            .try_get(0)?;
            ids.push(id);
        }
        // Keys not seen again (an address that left) are swept now and then.
        if ids.last().is_some_and(|id| id % 512 == 0) {
            exec(
                self.tx(),
                "DELETE FROM signin_failures WHERE at < $1",
                &[&now.saturating_sub(86_400_000)],
            )
            .await?;
        }
        Ok(Ok(ids))
    }

    /// Forgets every event counted under `key`.
    pub async fn clear_throttle(&self, key: &str) -> StoreResult<()> {
        exec(
            self.tx(),
            "DELETE FROM signin_failures WHERE key = $1",
            &[&key],
        )
        .await?;
        Ok(())
    }

    /// Takes back events recorded by [`PgWriter::throttle`].
    pub async fn forget_attempt(&self, ids: &[i64]) -> StoreResult<()> {
        for id in ids {
            exec(
                self.tx(),
                "DELETE FROM signin_failures WHERE id = $1",
                &[id],
            )
            .await?;
        }
        Ok(())
    }

    pub async fn insert_one_time_token(
        &self,
        token_hash: &[u8],
        purpose: &str,
        user_id: Option<i64>,
        now: i64,
        expires: i64,
    ) -> StoreResult<()> {
        exec(
            self.tx(),
            "INSERT INTO one_time_tokens (token_hash, purpose, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
            &[&token_hash, &purpose, &user_id, &now, &expires],
        )
        .await?;
        Ok(())
    }

    /// Marks a token used; `Ok(None)` when unknown, expired or already used.
    /// (One UPDATE: of two concurrent uses, the second waits for the first's
    /// row lock, re-checks `used_at IS NULL`, and finds nothing.)
    pub async fn use_one_time_token(
        &self,
        token_hash: &[u8],
        purpose: &str,
        now: i64,
    ) -> StoreResult<Option<Option<i64>>> {
        row_opt(
            self.tx(),
            "UPDATE one_time_tokens SET used_at = $3
             WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3
             RETURNING user_id",
            &[&token_hash, &purpose, &now],
        )
        .await?
        .map(|r| Ok(r.try_get(0)?))
        .transpose()
    }

    pub async fn set_password_hash(&self, user_id: i64, hash: &str) -> StoreResult<()> {
        exec(
            self.tx(),
            "UPDATE staff_users SET password_hash = $2, updated_at = $3 WHERE id = $1",
            &[&user_id, &hash, &crate::now_ms()],
        )
        .await?;
        Ok(())
    }

    pub async fn owner_exists(&self) -> StoreResult<bool> {
        owner_exists(self.tx()).await
    }

    /// Changes an account's role. Refuses to leave the site without an
    /// active owner.
    pub async fn set_staff_role(&self, user_id: i64, role: Role) -> StoreResult<()> {
        self.keep_an_owner(user_id, role != Role::Owner).await?;
        let n = exec(
            self.tx(),
            "UPDATE staff_users SET role = $2, updated_at = $3 WHERE id = $1",
            &[&user_id, &role.as_str(), &crate::now_ms()],
        )
        .await?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Deactivates (ending every session) or reactivates an account.
    pub async fn set_staff_active(&self, user_id: i64, active: bool) -> StoreResult<()> {
        self.keep_an_owner(user_id, !active).await?;
        let n = exec(
            self.tx(),
            "UPDATE staff_users SET active = $2, updated_at = $3 WHERE id = $1",
            &[&user_id, &active, &crate::now_ms()],
        )
        .await?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        if !active {
            self.delete_sessions_of(user_id).await?;
        }
        Ok(())
    }

    /// `Invalid` when `user_id` is the last active owner and `losing` says it
    /// is about to stop being one. Two owners demoting each other at once
    /// would each see the other still owner and both pass; an advisory lock
    /// makes such changes take turns (held to the end of the transaction, so
    /// the second one counts after the first has committed).
    async fn keep_an_owner(&self, user_id: i64, losing: bool) -> StoreResult<()> {
        if !losing {
            return Ok(());
        }
        xact_lock(self, "masthead:owners").await?;
        let r = row_one(
            self.tx(),
            "SELECT EXISTS (SELECT 1 FROM staff_users WHERE id = $1 AND role = 'owner' AND active),
                    (SELECT COUNT(*) FROM staff_users WHERE role = 'owner' AND active)",
            &[&user_id],
        )
        .await?;
        let is_owner: bool = r.try_get(0)?;
        let owners: i64 = r.try_get(1)?;
        if is_owner && owners <= 1 {
            return Err(StoreError::Invalid(
                "the site must keep at least one active owner; make someone else owner first"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// Newest-updated first, at most `limit`. Bylines are listed in byline
/// order (`string_agg … ORDER BY position`; SQLite's `group_concat` has no
/// stated order).
pub async fn desk_posts(
    c: &impl GenericClient,
    f: PostFilter,
    limit: u32,
) -> StoreResult<Vec<DeskPost>> {
    let like = f.title.as_deref().map(|t| {
        let escaped = t
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%{escaped}%")
    });
    let found = rows(
        c,
        "SELECT p.id, p.kind, p.status, p.slug, p.title, p.updated_at, p.published_at,
                COALESCE((SELECT string_agg(a.name, ', ' ORDER BY pa.position) FROM post_authors pa
                          JOIN authors a ON a.id = pa.author_id WHERE pa.post_id = p.id), '')
         FROM posts p
         WHERE ($1::text IS NULL OR p.status = $1)
           AND ($2::text IS NULL OR p.kind = $2)
           AND ($3::bigint IS NULL OR EXISTS (SELECT 1 FROM post_authors x WHERE x.post_id = p.id AND x.author_id = $3))
           AND ($4::bigint IS NULL OR EXISTS (SELECT 1 FROM post_tags y WHERE y.post_id = p.id AND y.tag_id = $4))
           AND ($5::text IS NULL OR p.title ILIKE $5 ESCAPE '\\')
         ORDER BY p.updated_at DESC, p.id DESC LIMIT $6",
        &[
            &f.status.map(|s| s.as_str()),
            &f.kind.map(|k| k.as_str()),
            &f.author_id,
            &f.tag_id,
            &like,
            &i64::from(limit.clamp(1, 500)),
        ],
    )
    .await?;
    map(&found, |r| {
        Ok(DeskPost {
            id: r.try_get(0)?,
            kind: r.try_get(1)?,
            status: r.try_get(2)?,
            slug: r.try_get(3)?,
            title: r.try_get(4)?,
            updated_ms: r.try_get(5)?,
            published_ms: r.try_get(6)?,
            authors: r.try_get(7)?,
        })
    })
}

/// Every author and tag, for the desk's filter menus.
pub async fn all_authors_and_tags(
    c: &impl GenericClient,
) -> StoreResult<(Vec<NamedRef>, Vec<NamedRef>)> {
    let named = |r: &Row| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?));
    let authors = map(
        &rows(c, "SELECT id, slug, name FROM authors ORDER BY name", &[]).await?,
        named,
    )?;
    let tags = map(
        &rows(c, "SELECT id, slug, name FROM tags ORDER BY name", &[]).await?,
        named,
    )?;
    Ok((authors, tags))
}

/// Tags or bylines whose name or slug contains `text` (case ignored), those
/// starting with it first, then by name: the desk's pickers.
pub async fn find_named(
    c: &impl GenericClient,
    which: Taxonomy,
    text: String,
    limit: u32,
) -> StoreResult<Vec<NamedRef>> {
    let sql = match which {
        Taxonomy::Tags => {
            "SELECT id, slug, name FROM tags
             WHERE name ILIKE $1 ESCAPE '\\' OR slug ILIKE $1 ESCAPE '\\'
             ORDER BY (name ILIKE $2 ESCAPE '\\' OR slug ILIKE $2 ESCAPE '\\') DESC, lower(name), id
             LIMIT $3"
        }
        Taxonomy::Bylines => {
            "SELECT id, slug, name FROM authors
             WHERE name ILIKE $1 ESCAPE '\\' OR slug ILIKE $1 ESCAPE '\\'
             ORDER BY (name ILIKE $2 ESCAPE '\\' OR slug ILIKE $2 ESCAPE '\\') DESC, lower(name), id
             LIMIT $3"
        }
    };
    let (anywhere, start) = like_patterns(text.trim());
    let found = rows(
        c,
        sql,
        &[&anywhere, &start, &i64::from(limit.clamp(1, 100))],
    )
    .await?;
    map(&found, |r| {
        Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))
    })
}

/// The columns of a [`DeskPost`] from `posts p`, bylines in order.
macro_rules! desk_columns {
    () => {
        "SELECT p.id, p.kind, p.status, p.slug, p.title, p.updated_at, p.published_at,
                COALESCE((SELECT string_agg(a.name, ', ' ORDER BY pa.position) FROM post_authors pa
                          JOIN authors a ON a.id = pa.author_id WHERE pa.post_id = p.id), '')"
    };
}

/// Only posts with byline `$1` when it is not NULL.
macro_rules! desk_sight {
    () => {
        "($1::bigint IS NULL OR EXISTS (SELECT 1 FROM post_authors x WHERE x.post_id = p.id AND x.author_id = $1))"
    };
}

fn desk_post_at(r: &Row) -> StoreResult<DeskPost> {
    Ok(DeskPost {
        id: r.try_get(0)?,
        kind: r.try_get(1)?,
        status: r.try_get(2)?,
        slug: r.try_get(3)?,
        title: r.try_get(4)?,
        updated_ms: r.try_get(5)?,
        published_ms: r.try_get(6)?,
        authors: r.try_get(7)?,
    })
}

/// The desk's front page (see `sqlite::staff::desk_front`).
pub async fn desk_front(
    c: &impl GenericClient,
    viewer: FrontViewer,
    limit: u32,
) -> StoreResult<DeskFront> {
    let limit = i64::from(limit.clamp(1, 100));
    async fn list(
        c: &impl GenericClient,
        sql: &str,
        who: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<DeskPost>> {
        map(&rows(c, sql, &[&who, &limit]).await?, desk_post_at)
    }
    let drafts = match viewer.byline {
        Some(mine) => {
            list(
                c,
                concat!(
                    desk_columns!(),
                    " FROM posts p WHERE p.status = 'draft' AND ",
                    desk_sight!(),
                    " ORDER BY p.updated_at DESC, p.id DESC LIMIT $2"
                ),
                Some(mine),
                limit,
            )
            .await?
        }
        None => Vec::new(),
    };
    let in_review = list(
        c,
        concat!(
            desk_columns!(),
            " FROM posts p WHERE p.review = 'submitted' AND ",
            desk_sight!(),
            " ORDER BY p.updated_at, p.id LIMIT $2"
        ),
        viewer.only,
        limit,
    )
    .await?;
    let scheduled = list(
        c,
        concat!(
            desk_columns!(),
            " FROM posts p WHERE p.status = 'scheduled' AND ",
            desk_sight!(),
            " ORDER BY p.published_at, p.id LIMIT $2"
        ),
        viewer.only,
        limit,
    )
    .await?;
    let published = list(
        c,
        concat!(
            desk_columns!(),
            " FROM posts p WHERE p.status = 'published' AND p.kind <> 'page' AND ",
            desk_sight!(),
            " ORDER BY p.published_at DESC, p.id DESC LIMIT $2"
        ),
        viewer.only,
        limit,
    )
    .await?;
    let found = rows(
        c,
        concat!(
            desk_columns!(),
            ", (SELECT count(*) FROM live_entries e WHERE e.post_id = p.id),
               (SELECT max(e.created_at) FROM live_entries e WHERE e.post_id = p.id)
             FROM posts p WHERE p.status = 'published' AND p.kind = 'live' AND ",
            desk_sight!(),
            " ORDER BY COALESCE((SELECT max(e.created_at) FROM live_entries e WHERE e.post_id = p.id), p.published_at) DESC,
                 p.id DESC LIMIT $2"
        ),
        &[&viewer.only, &limit],
    )
    .await?;
    let live = map(&found, |r| {
        Ok(RunningLive {
            post: desk_post_at(r)?,
            entries: count_at(r, 8)?,
            last_entry_ms: r.try_get(9)?,
        })
    })?;
    Ok(DeskFront {
        drafts,
        in_review,
        scheduled,
        published,
        live,
    })
}

/// A post's kind and its byline ids (to decide "own" for permissions).
pub async fn post_kind_and_authors(
    c: &impl GenericClient,
    post_id: i64,
) -> StoreResult<Option<PostOwnership>> {
    let Some(r) = row_opt(
        c,
        "SELECT kind, slug, title FROM posts WHERE id = $1",
        &[&post_id],
    )
    .await?
    else {
        return Ok(None);
    };
    let kind: String = r.try_get(0)?;
    let kind = masthead_domain::PostKind::parse(&kind)?;
    let authors = map(
        &rows(
            c,
            "SELECT author_id FROM post_authors WHERE post_id = $1 ORDER BY author_id",
            &[&post_id],
        )
        .await?,
        |r| Ok(r.try_get(0)?),
    )?;
    Ok(Some((kind, r.try_get(1)?, r.try_get(2)?, authors)))
}

impl PgWriter<'_> {
    /// Changes an entry of a live post; `Ok(false)` when it does not exist.
    pub async fn update_live_entry(
        &self,
        entry_id: i64,
        title: &str,
        body_source: &str,
        body_html: &str,
        pinned: bool,
    ) -> StoreResult<bool> {
        let now = crate::now_ms();
        let post_id: Option<i64> = row_opt(
            self.tx(),
            "UPDATE live_entries SET title = $2, body_source = $3, body_html = $4, pinned = $5, updated_at = $6
             WHERE id = $1 RETURNING post_id",
            &[&entry_id, &title, &body_source, &body_html, &pinned, &now],
        )
        .await?
        .map(|r| r.try_get(0))
        .transpose()?;
        match post_id {
            Some(post_id) => {
                self.log_change(ChangeTopic::LiveEntry, Some(post_id), Some(entry_id))
                    .await?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    pub async fn live_entry_belongs(&self, entry_id: i64, post_id: i64) -> StoreResult<bool> {
        Ok(row_one(
            self.tx(),
            "SELECT EXISTS (SELECT 1 FROM live_entries WHERE id = $1 AND post_id = $2)",
            &[&entry_id, &post_id],
        )
        .await?
        .try_get(0)?)
    }

    pub async fn delete_live_entry(&self, entry_id: i64) -> StoreResult<bool> {
        let post_id: Option<i64> = row_opt(
            self.tx(),
            "DELETE FROM live_entries WHERE id = $1 RETURNING post_id",
            &[&entry_id],
        )
        .await?
        .map(|r| r.try_get(0))
        .transpose()?;
        match post_id {
            Some(post_id) => {
                self.log_change(ChangeTopic::LiveEntry, Some(post_id), Some(entry_id))
                    .await?;
                Ok(true)
            }
            None => Ok(false),
        }
    }
}
