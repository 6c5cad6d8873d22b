//! The desk's members list on SQLite (issue 10, items 7 and 8): filtered,
//! keyset-paged lists, a member's page, labels, staff edits, members added
//! by hand or imported, joins by day, newsletters. The filter is built in
//! `roster.rs` for both dialects; the PostgreSQL twin is `postgres/roster.rs`.

use std::collections::HashMap;

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use super::write::Writer;
use crate::error::{StoreError, StoreResult};
use crate::model::ChangeTopic;
use crate::roster::{self, Arg, LIST_COLUMNS};
use masthead_model::members::*;

fn bind(args: &[Arg]) -> Vec<Value> {
    args.iter()
        .map(|a| match a {
            Arg::Text(s) => Value::Text(s.clone()),
            Arg::Int(i) => Value::Integer(*i),
        })
        .collect()
}

fn desk_member_from_row(r: &Row<'_>) -> rusqlite::Result<DeskMember> {
    Ok(DeskMember {
        id: r.get(0)?,
        email: r.get(1)?,
        name: r.get(2)?,
        status: r.get(3)?,
        source: r.get(4)?,
        note: r.get(5)?,
        email_disabled: r.get(6)?,
        created_ms: r.get(7)?,
        tier_id: r.get(8)?,
        comp_expires_ms: r.get(9)?,
        comp_tier_id: r.get(10)?,
        labels: Vec::new(),
        newsletter_ids: Vec::new(),
    }
    .settled(crate::now_ms()))
}

fn label_from_row(r: &Row<'_>, at: usize) -> rusqlite::Result<Label> {
    Ok(Label {
        id: r.get(at)?,
        name: r.get(at + 1)?,
        slug: r.get(at + 2)?,
        created_ms: r.get(at + 3)?,
    })
}

/// Fills in the labels and newsletters of `members` (two queries for the lot).
fn fill(c: &Connection, members: &mut [DeskMember]) -> StoreResult<()> {
    if members.is_empty() {
        return Ok(());
    }
    // Ids are integers from the database, not input: safe to write inline.
    let ids = members
        .iter()
        .map(|m| m.id.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let mut labels: HashMap<i64, Vec<Label>> = HashMap::new();
    let mut stmt = c.prepare(&format!(
        "SELECT ml.member_id, l.id, l.name, l.slug, l.created_at
         FROM member_labels ml JOIN labels l ON l.id = ml.label_id
         WHERE ml.member_id IN ({ids}) ORDER BY l.name, l.id"
    ))?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        labels
            .entry(r.get(0)?)
            .or_default()
            .push(label_from_row(r, 1)?);
    }
    let mut newsletters: HashMap<i64, Vec<i64>> = HashMap::new();
    let mut stmt = c.prepare(&format!(
        "SELECT member_id, newsletter_id FROM member_newsletters
         WHERE member_id IN ({ids}) ORDER BY newsletter_id"
    ))?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        newsletters.entry(r.get(0)?).or_default().push(r.get(1)?);
    }
    for m in members {
        m.labels = labels.remove(&m.id).unwrap_or_default();
        m.newsletter_ids = newsletters.remove(&m.id).unwrap_or_default();
    }
    Ok(())
}

/// A page of the members list, newest first, starting after `after`.
pub fn desk_members(
    c: &Connection,
    filter: MemberFilter,
    after: Option<MemberCursor>,
    limit: u32,
    with_total: bool,
) -> StoreResult<MemberListPage> {
    let limit = limit.clamp(1, roster::MAX_PAGE);
    let w = roster::where_clause(&filter, after, '?');
    let mut members: Vec<DeskMember> = c
        .prepare(&format!(
            "SELECT {LIST_COLUMNS} FROM members m WHERE {}
             ORDER BY m.created_at DESC, m.id DESC LIMIT {}",
            w.clause,
            limit + 1
        ))?
        .query_map(params_from_iter(bind(&w.args)), desk_member_from_row)?
        .collect::<Result<_, _>>()?;
    let next = if members.len() > limit as usize {
        members.truncate(limit as usize);
        members.last().map(|m| MemberCursor {
            created_ms: m.created_ms,
            id: m.id,
        })
    } else {
        None
    };
    fill(c, &mut members)?;
    let total = if with_total {
        let w = roster::where_clause(&filter, None, '?');
        let n: i64 = c
            .prepare(&format!(
                "SELECT COUNT(*) FROM members m WHERE {}",
                w.clause
            ))?
            .query_row(params_from_iter(bind(&w.args)), |r| r.get(0))?;
        Some(n.max(0) as u64)
    } else {
        None
    };
    Ok(MemberListPage {
        members,
        next,
        total,
    })
}

/// One member as the desk shows them.
pub fn desk_member(c: &Connection, id: i64) -> StoreResult<Option<DeskMember>> {
    let Some(m) = c
        .prepare_cached(&format!(
            "SELECT {LIST_COLUMNS} FROM members m WHERE m.id = ?1"
        ))?
        .query_row([id], desk_member_from_row)
        .optional()?
    else {
        return Ok(None);
    };
    let mut one = [m];
    fill(c, &mut one)?;
    let [m] = one;
    Ok(Some(m))
}

/// The members with these ids (in no particular order), for the Admin API.
pub fn desk_members_by_id(c: &Connection, ids: Vec<i64>) -> StoreResult<Vec<DeskMember>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // Integers, not input text: safe to write inline.
    let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let mut members: Vec<DeskMember> = c
        .prepare(&format!(
            "SELECT {LIST_COLUMNS} FROM members m WHERE m.id IN ({list})"
        ))?
        .query_map([], desk_member_from_row)?
        .collect::<Result<_, _>>()?;
    fill(c, &mut members)?;
    Ok(members)
}

/// Every label, by name.
pub fn labels(c: &Connection) -> StoreResult<Vec<Label>> {
    Ok(
        c.prepare_cached("SELECT id, name, slug, created_at FROM labels ORDER BY name, id")?
            .query_map([], |r| label_from_row(r, 0))?
            .collect::<Result<_, _>>()?,
    )
}

/// Members who joined from `from_ms` on, counted by day; `offset_ms` moves
/// UTC to the site's time zone. Days with no one are left out.
pub fn joins_by_day(c: &Connection, from_ms: i64, offset_ms: i64) -> StoreResult<Vec<JoinsOnDay>> {
    Ok(c.prepare_cached(
        "SELECT (created_at + ?2) / 86400000 AS day, COUNT(*) FROM members
         WHERE created_at >= ?1 GROUP BY day ORDER BY day",
    )?
    .query_map(params![from_ms, offset_ms], |r| {
        Ok(JoinsOnDay {
            day: r.get(0)?,
            count: r.get::<_, i64>(1)?.max(0) as u64,
        })
    })?
    .collect::<Result<_, _>>()?)
}

/// A newsletter by id.
pub fn newsletter(c: &Connection, id: i64) -> StoreResult<Option<Newsletter>> {
    Ok(super::members::newsletters(c)?
        .into_iter()
        .find(|n| n.id == id))
}

impl Writer<'_> {
    /// The ids of labels named `names` (any case), creating the new ones.
    fn label_ids(&self, names: &[String], now: i64) -> StoreResult<Vec<i64>> {
        let mut ids = Vec::new();
        for name in roster::clean_label_names(names) {
            let found: Option<i64> = self
                .tx()
                .prepare_cached("SELECT id FROM labels WHERE lower(name) = lower(?1)")?
                .query_row([&name], |r| r.get(0))
                .optional()?;
            let id = match found {
                Some(id) => id,
                None => {
                    let base = roster::label_slug_base(&name);
                    let taken: Vec<String> = self
                        .tx()
                        .prepare_cached(
                            "SELECT slug FROM labels WHERE slug = ?1 OR substr(slug, 1, length(?1) + 1) = ?1 || '-'",
                        )?
                        .query_map([&base], |r| r.get(0))?
                        .collect::<Result<_, _>>()?;
                    let slug = roster::free_label_slug(&name, &taken);
                    self.tx()
                        .prepare_cached(
                            "INSERT INTO labels (name, slug, created_at) VALUES (?1, ?2, ?3)",
                        )?
                        .execute(params![name, slug, now])?;
                    self.tx().last_insert_rowid()
                }
            };
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    fn set_member_labels(&self, member_id: i64, names: &[String], now: i64) -> StoreResult<()> {
        let ids = self.label_ids(names, now)?;
        self.tx()
            .prepare_cached("DELETE FROM member_labels WHERE member_id = ?1")?
            .execute([member_id])?;
        let mut insert = self.tx().prepare_cached(
            "INSERT INTO member_labels (member_id, label_id, created_at) VALUES (?1, ?2, ?3)",
        )?;
        for id in ids {
            insert.execute(params![member_id, id, now])?;
        }
        Ok(())
    }

    /// Adds members confirmed at once (by hand or imported), in order; an
    /// address already a member's is reported, not written. No mail is sent.
    pub fn add_desk_members(
        &self,
        members: &[NewDeskMember],
        now: i64,
    ) -> StoreResult<Vec<MemberAdded>> {
        let mut out = Vec::with_capacity(members.len());
        for m in members {
            let created = m.created_ms.unwrap_or(now);
            // Looked up first, so a duplicate spends no id (PostgreSQL's
            // identity would, and the backends' ids would part).
            let known = self
                .tx()
                .prepare_cached("SELECT 1 FROM members WHERE email_key = ?1")?
                .query_row([m.email.key()], |_| Ok(()))
                .optional()?
                .is_some();
            if known {
                out.push(MemberAdded::Duplicate);
                continue;
            }
            let Some(id) = self.insert_member(&m.email, &m.status, &m.source, created)? else {
                out.push(MemberAdded::Duplicate);
                continue;
            };
            self.tx()
                .prepare_cached("UPDATE members SET name = ?2, note = ?3 WHERE id = ?1")?
                .execute(params![id, m.name, m.note])?;
            self.set_member_labels(id, &m.labels, now)?;
            self.set_member_newsletters(id, &m.newsletters, now)?;
            self.log_change(ChangeTopic::Member, None, Some(id))?;
            out.push(MemberAdded::Added(id));
        }
        Ok(out)
    }

    /// A staff edit of a member (desk or Admin API); queues `member.edited`.
    pub fn edit_member(&self, id: i64, e: &MemberEdit, now: i64) -> StoreResult<()> {
        let exists = self
            .tx()
            .prepare_cached("SELECT 1 FROM members WHERE id = ?1")?
            .query_row([id], |_| Ok(()))
            .optional()?
            .is_some();
        if !exists {
            return Err(StoreError::NotFound);
        }
        if let Some(email) = &e.email {
            // A new address is not known to bounce.
            self.tx()
                .prepare_cached(
                    "UPDATE members SET email = ?2, email_key = ?3,
                         email_disabled = CASE WHEN email_key = ?3 THEN email_disabled ELSE 0 END
                     WHERE id = ?1",
                )?
                .execute(params![id, email.as_str(), email.key()])
                .map_err(|err| match StoreError::from(err) {
                    StoreError::Conflict(_) => {
                        StoreError::Conflict("Another member has that address.".into())
                    }
                    other => other,
                })?;
        }
        if let Some(name) = &e.name {
            self.tx()
                .prepare_cached("UPDATE members SET name = ?2 WHERE id = ?1")?
                .execute(params![id, name])?;
        }
        if let Some(note) = &e.note {
            self.tx()
                .prepare_cached("UPDATE members SET note = ?2 WHERE id = ?1")?
                .execute(params![id, note])?;
        }
        if e.clear_bouncing {
            self.tx()
                .prepare_cached("UPDATE members SET email_disabled = 0 WHERE id = ?1")?
                .execute([id])?;
        }
        if let Some(labels) = &e.labels {
            self.set_member_labels(id, labels, now)?;
        }
        if let Some(ids) = &e.newsletters {
            self.set_member_newsletters(id, ids, now)?;
        }
        self.enqueue_webhooks("member.edited", id)?;
        self.log_change(ChangeTopic::Member, None, Some(id))
    }

    /// An import's newsletters: those whose slug (or name) the site has are
    /// left as they are. `(added, present)`.
    pub(crate) fn import_newsletters(
        &self,
        list: &[crate::ImportNewsletter],
        now: i64,
    ) -> StoreResult<(usize, usize)> {
        let (mut added, mut present) = (0, 0);
        for n in list {
            let known = self
                .tx()
                .prepare_cached("SELECT 1 FROM newsletters WHERE slug = ?1 OR name = ?2")?
                .query_row(params![n.slug, n.fields.name], |_| Ok(()))
                .optional()?
                .is_some();
            if known {
                present += 1;
                continue;
            }
            let f = &n.fields;
            self.tx()
                .prepare_cached(
                    "INSERT INTO newsletters (uuid, name, slug, description, sender_name, sender_reply_to,
                         status, subscribe_on_signup, sort_order, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
                )?
                .execute(params![
                    super::write::new_uuid()?,
                    f.name,
                    n.slug,
                    f.description,
                    f.sender_name,
                    f.sender_reply_to,
                    f.status,
                    f.subscribe_on_signup,
                    n.sort_order,
                    now
                ])?;
            added += 1;
        }
        Ok((added, present))
    }

    /// An imported member's note, labels and newsletters (by slug).
    pub(crate) fn import_member_extras(
        &self,
        id: i64,
        m: &crate::ImportMember,
        now: i64,
    ) -> StoreResult<()> {
        if !m.note.is_empty() {
            self.tx()
                .prepare_cached("UPDATE members SET note = ?2 WHERE id = ?1")?
                .execute(params![id, m.note])?;
        }
        if !m.labels.is_empty() {
            self.set_member_labels(id, &m.labels, now)?;
        }
        let mut insert = self.tx().prepare_cached(
            "INSERT INTO member_newsletters (member_id, newsletter_id, created_at)
             SELECT ?1, id, ?3 FROM newsletters WHERE slug = ?2 ON CONFLICT DO NOTHING",
        )?;
        for slug in &m.newsletters {
            insert.execute(params![id, slug, now])?;
        }
        Ok(())
    }

    /// A new newsletter, last in the order; `Conflict` if the name is taken.
    pub fn add_newsletter(&self, n: &NewsletterInput, now: i64) -> StoreResult<i64> {
        let base = roster::label_slug_base(&n.name);
        let taken: Vec<String> = self
            .tx()
            .prepare_cached(
                "SELECT slug FROM newsletters WHERE slug = ?1 OR substr(slug, 1, length(?1) + 1) = ?1 || '-'",
            )?
            .query_map([&base], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let slug = roster::free_label_slug(&n.name, &taken);
        self.tx()
            .prepare_cached(
                "INSERT INTO newsletters (uuid, name, slug, description, sender_name, sender_reply_to,
                     status, subscribe_on_signup, sort_order, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,
                     (SELECT COALESCE(MAX(sort_order), -1) + 1 FROM newsletters), ?9, ?9)",
            )?
            .execute(params![
                super::write::new_uuid()?,
                n.name,
                slug,
                n.description,
                n.sender_name,
                n.sender_reply_to,
                n.status,
                n.subscribe_on_signup,
                now
            ])
            .map_err(newsletter_conflict)?;
        let id = self.tx().last_insert_rowid();
        self.log_change(ChangeTopic::Site, None, None)?;
        Ok(id)
    }

    pub fn edit_newsletter(&self, id: i64, n: &NewsletterInput, now: i64) -> StoreResult<()> {
        let changed = self
            .tx()
            .prepare_cached(
                "UPDATE newsletters SET name = ?2, description = ?3, sender_name = ?4,
                     sender_reply_to = ?5, status = ?6, subscribe_on_signup = ?7, updated_at = ?8
                 WHERE id = ?1",
            )?
            .execute(params![
                id,
                n.name,
                n.description,
                n.sender_name,
                n.sender_reply_to,
                n.status,
                n.subscribe_on_signup,
                now
            ])
            .map_err(newsletter_conflict)?;
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        self.log_change(ChangeTopic::Site, None, None)
    }
}

fn newsletter_conflict(e: rusqlite::Error) -> StoreError {
    match StoreError::from(e) {
        StoreError::Conflict(_) => StoreError::Conflict("Another newsletter has that name.".into()),
        other => other,
    }
}
