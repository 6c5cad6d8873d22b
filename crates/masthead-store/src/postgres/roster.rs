//! The desk's members list on PostgreSQL: the twin of `sqlite/roster.rs`
//! (read its notes), the WHERE clause shared through `roster.rs`.

use std::collections::HashMap;

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::sql::{count_at, exec, map, row_one, row_opt, rows};
use super::write::PgWriter;
use crate::error::{StoreError, StoreResult};
use crate::model::ChangeTopic;
use crate::roster::{self, Arg, LIST_COLUMNS};
use masthead_model::members::*;

fn bind(args: &[Arg]) -> Vec<Box<dyn ToSql + Sync + Send>> {
    args.iter()
        .map(|a| -> Box<dyn ToSql + Sync + Send> {
            match a {
                Arg::Text(s) => Box::new(s.clone()),
                Arg::Int(i) => Box::new(*i),
            }
        })
        .collect()
}

fn refs(b: &[Box<dyn ToSql + Sync + Send>]) -> Vec<&(dyn ToSql + Sync)> {
    b.iter()
        .map(|v| v.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

fn desk_member_from_row(r: &Row) -> StoreResult<DeskMember> {
    Ok(DeskMember {
        id: r.try_get(0)?,
        email: r.try_get(1)?,
        name: r.try_get(2)?,
        status: r.try_get(3)?,
        source: r.try_get(4)?,
        note: r.try_get(5)?,
        email_disabled: r.try_get(6)?,
        created_ms: r.try_get(7)?,
        tier_id: r.try_get(8)?,
        comp_expires_ms: r.try_get(9)?,
        comp_tier_id: r.try_get(10)?,
        labels: Vec::new(),
        newsletter_ids: Vec::new(),
    }
    .settled(crate::now_ms()))
}

fn label_from_row(r: &Row, at: usize) -> StoreResult<Label> {
    Ok(Label {
        id: r.try_get(at)?,
        name: r.try_get(at + 1)?,
        slug: r.try_get(at + 2)?,
        created_ms: r.try_get(at + 3)?,
    })
}

async fn fill(c: &impl GenericClient, members: &mut [DeskMember]) -> StoreResult<()> {
    if members.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = members.iter().map(|m| m.id).collect();
    let mut labels: HashMap<i64, Vec<Label>> = HashMap::new();
    for r in rows(
        c,
        "SELECT ml.member_id, l.id, l.name, l.slug, l.created_at
         FROM member_labels ml JOIN labels l ON l.id = ml.label_id
         WHERE ml.member_id = ANY($1) ORDER BY l.name, l.id",
        &[&ids],
    )
    .await?
    {
        labels
            .entry(r.try_get(0)?)
            .or_default()
            .push(label_from_row(&r, 1)?);
    }
    let mut newsletters: HashMap<i64, Vec<i64>> = HashMap::new();
    for r in rows(
        c,
        "SELECT member_id, newsletter_id FROM member_newsletters
         WHERE member_id = ANY($1) ORDER BY newsletter_id",
        &[&ids],
    )
    .await?
    {
        newsletters
            .entry(r.try_get(0)?)
            .or_default()
            .push(r.try_get(1)?);
    }
    for m in members {
        m.labels = labels.remove(&m.id).unwrap_or_default();
        m.newsletter_ids = newsletters.remove(&m.id).unwrap_or_default();
    }
    Ok(())
}

pub async fn desk_members(
    c: &impl GenericClient,
    filter: MemberFilter,
    after: Option<MemberCursor>,
    limit: u32,
    with_total: bool,
) -> StoreResult<MemberListPage> {
    let limit = limit.clamp(1, roster::MAX_PAGE);
    let w = roster::where_clause(&filter, after, '$');
    let args = bind(&w.args);
    let rs = rows(
        c,
        &format!(
            "SELECT {LIST_COLUMNS} FROM members m WHERE {}
             ORDER BY m.created_at DESC, m.id DESC LIMIT {}",
            w.clause,
            limit + 1
        ),
        &refs(&args),
    )
    .await?;
    let mut members = map(&rs, desk_member_from_row)?;
    let next = if members.len() > limit as usize {
        members.truncate(limit as usize);
        members.last().map(|m| MemberCursor {
            created_ms: m.created_ms,
            id: m.id,
        })
    } else {
        None
    };
    fill(c, &mut members).await?;
    let total = if with_total {
        let w = roster::where_clause(&filter, None, '$');
        let args = bind(&w.args);
        let r = row_one(
            c,
            &format!("SELECT COUNT(*) FROM members m WHERE {}", w.clause),
            &refs(&args),
        )
        .await?;
        Some(count_at(&r, 0)?)
    } else {
        None
    };
    Ok(MemberListPage {
        members,
        next,
        total,
    })
}

pub async fn desk_member(c: &impl GenericClient, id: i64) -> StoreResult<Option<DeskMember>> {
    let Some(r) = row_opt(
        c,
        &format!("SELECT {LIST_COLUMNS} FROM members m WHERE m.id = $1"),
        &[&id],
    )
    .await?
    else {
        return Ok(None);
    };
    let mut one = [desk_member_from_row(&r)?];
    fill(c, &mut one).await?;
    let [m] = one;
    Ok(Some(m))
}

pub async fn desk_members_by_id(
    c: &impl GenericClient,
    ids: Vec<i64>,
) -> StoreResult<Vec<DeskMember>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rs = rows(
        c,
        &format!("SELECT {LIST_COLUMNS} FROM members m WHERE m.id = ANY($1)"),
        &[&ids],
    )
    .await?;
    let mut members = map(&rs, desk_member_from_row)?;
    fill(c, &mut members).await?;
    Ok(members)
}

pub async fn labels(c: &impl GenericClient) -> StoreResult<Vec<Label>> {
    let rs = rows(
        c,
        "SELECT id, name, slug, created_at FROM labels ORDER BY name, id",
        &[],
    )
    .await?;
    map(&rs, |r| label_from_row(r, 0))
}

pub async fn joins_by_day(
    c: &impl GenericClient,
    from_ms: i64,
    offset_ms: i64,
) -> StoreResult<Vec<JoinsOnDay>> {
    let rs = rows(
        c,
        "SELECT (created_at + $2) / 86400000 AS day, COUNT(*) FROM members
         WHERE created_at >= $1 GROUP BY day ORDER BY day",
        &[&from_ms, &offset_ms],
    )
    .await?;
    map(&rs, |r| {
        Ok(JoinsOnDay {
            day: r.try_get(0)?,
            count: count_at(r, 1)?,
        })
    })
}

pub async fn newsletter(c: &impl GenericClient, id: i64) -> StoreResult<Option<Newsletter>> {
    Ok(super::members::newsletters(c)
        .await?
        .into_iter()
        .find(|n| n.id == id))
}

/// Slugs in `table` equal to `base` or `base-…`.
async fn taken_slugs(tx: &impl GenericClient, table: &str, base: &str) -> StoreResult<Vec<String>> {
    let rs = rows(
        tx,
        &format!(
            "SELECT slug FROM {table} WHERE slug = $1 OR left(slug, length($1) + 1) = $1 || '-'"
        ),
        &[&base],
    )
    .await?;
    map(&rs, |r| Ok(r.try_get(0)?))
}

impl PgWriter<'_> {
    async fn label_ids(&self, names: &[String], now: i64) -> StoreResult<Vec<i64>> {
        let mut ids = Vec::new();
        for name in roster::clean_label_names(names) {
            let found = row_opt(
                self.tx(),
                "SELECT id FROM labels WHERE lower(name) = lower($1)",
                &[&name],
            )
            .await?;
            let id: i64 = match found {
                Some(r) => r.try_get(0)?,
                None => {
                    let base = roster::label_slug_base(&name);
                    let taken = taken_slugs(self.tx(), "labels", &base).await?;
                    let slug = roster::free_label_slug(&name, &taken);
                    row_one(
                        self.tx(),
                        "INSERT INTO labels (name, slug, created_at) VALUES ($1, $2, $3) RETURNING id",
                        &[&name, &slug, &now],
                    )
                    .await?
                    .try_get(0)?
                }
            };
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    async fn set_member_labels(
        &self,
        member_id: i64,
        names: &[String],
        now: i64,
    ) -> StoreResult<()> {
        let ids = self.label_ids(names, now).await?;
        exec(
            self.tx(),
            "DELETE FROM member_labels WHERE member_id = $1",
            &[&member_id],
        )
        .await?;
        for id in ids {
            exec(
                self.tx(),
                "INSERT INTO member_labels (member_id, label_id, created_at) VALUES ($1, $2, $3)",
                &[&member_id, &id, &now],
            )
            .await?;
        }
        Ok(())
    }

    pub async fn add_desk_members(
        &self,
        members: &[NewDeskMember],
        now: i64,
    ) -> StoreResult<Vec<MemberAdded>> {
        let mut out = Vec::with_capacity(members.len());
        for m in members {
            let created = m.created_ms.unwrap_or(now);
            // Looked up first, so a duplicate spends no identity value.
            if row_opt(
                self.tx(),
                "SELECT 1 FROM members WHERE email_key = $1",
                &[&m.email.key()],
            )
            .await?
            .is_some()
            {
                out.push(MemberAdded::Duplicate);
                continue;
            }
            let Some(id) = self
                .insert_member(&m.email, &m.status, &m.source, created)
                .await?
            else {
                out.push(MemberAdded::Duplicate);
                continue;
            };
            exec(
                self.tx(),
                "UPDATE members SET name = $2, note = $3 WHERE id = $1",
                &[&id, &m.name, &m.note],
            )
            .await?;
            self.set_member_labels(id, &m.labels, now).await?;
            self.set_member_newsletters(id, &m.newsletters, now).await?;
            self.log_change(ChangeTopic::Member, None, Some(id)).await?;
            out.push(MemberAdded::Added(id));
        }
        Ok(out)
    }

    pub async fn edit_member(&self, id: i64, e: &MemberEdit, now: i64) -> StoreResult<()> {
        if row_opt(
            self.tx(),
            "SELECT 1 FROM members WHERE id = $1 FOR UPDATE",
            &[&id],
        )
        .await?
        .is_none()
        {
            return Err(StoreError::NotFound);
        }
        if let Some(email) = &e.email {
            exec(
                self.tx(),
                "UPDATE members SET email = $2, email_key = $3,
                     email_disabled = CASE WHEN email_key = $3 THEN email_disabled ELSE FALSE END
                 WHERE id = $1",
                &[&id, &email.as_str(), &email.key()],
            )
            .await
            .map_err(|err| match err {
                StoreError::Conflict(_) => {
                    StoreError::Conflict("Another member has that address.".into())
                }
                other => other,
            })?;
        }
        if let Some(name) = &e.name {
            exec(
                self.tx(),
                "UPDATE members SET name = $2 WHERE id = $1",
                &[&id, name],
            )
            .await?;
        }
        if let Some(note) = &e.note {
            exec(
                self.tx(),
                "UPDATE members SET note = $2 WHERE id = $1",
                &[&id, note],
            )
            .await?;
        }
        if e.clear_bouncing {
            exec(
                self.tx(),
                "UPDATE members SET email_disabled = FALSE WHERE id = $1",
                &[&id],
            )
            .await?;
        }
        if let Some(labels) = &e.labels {
            self.set_member_labels(id, labels, now).await?;
        }
        if let Some(ids) = &e.newsletters {
            self.set_member_newsletters(id, ids, now).await?;
        }
        self.enqueue_webhooks("member.edited", id).await?;
        self.log_change(ChangeTopic::Member, None, Some(id)).await
    }

    pub(crate) async fn import_newsletters(
        &self,
        list: &[crate::ImportNewsletter],
        now: i64,
    ) -> StoreResult<(usize, usize)> {
        let (mut added, mut present) = (0, 0);
        for n in list {
            if row_opt(
                self.tx(),
                "SELECT 1 FROM newsletters WHERE slug = $1 OR name = $2",
                &[&n.slug, &n.fields.name],
            )
            .await?
            .is_some()
            {
                present += 1;
                continue;
            }
            let f = &n.fields;
            exec(
                self.tx(),
                "INSERT INTO newsletters (uuid, name, slug, description, sender_name, sender_reply_to,
                     status, subscribe_on_signup, sort_order, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
                &[
                    &super::write::new_uuid()?,
                    &f.name,
                    &n.slug,
                    &f.description,
                    &f.sender_name,
                    &f.sender_reply_to,
                    &f.status,
                    &f.subscribe_on_signup,
                    &n.sort_order,
                    &now,
                ],
            )
            .await?;
            added += 1;
        }
        Ok((added, present))
    }

    pub(crate) async fn import_member_extras(
        &self,
        id: i64,
        m: &crate::ImportMember,
        now: i64,
    ) -> StoreResult<()> {
        if !m.note.is_empty() {
            exec(
                self.tx(),
                "UPDATE members SET note = $2 WHERE id = $1",
                &[&id, &m.note],
            )
            .await?;
        }
        if !m.labels.is_empty() {
            self.set_member_labels(id, &m.labels, now).await?;
        }
        for slug in &m.newsletters {
            exec(
                self.tx(),
                "INSERT INTO member_newsletters (member_id, newsletter_id, created_at)
                 SELECT $1, id, $3 FROM newsletters WHERE slug = $2 ON CONFLICT DO NOTHING",
                &[&id, slug, &now],
            )
            .await?;
        }
        Ok(())
    }

    pub async fn add_newsletter(&self, n: &NewsletterInput, now: i64) -> StoreResult<i64> {
        let base = roster::label_slug_base(&n.name);
        let taken = taken_slugs(self.tx(), "newsletters", &base).await?;
        let slug = roster::free_label_slug(&n.name, &taken);
        let id: i64 = row_one(
            self.tx(),
            "INSERT INTO newsletters (uuid, name, slug, description, sender_name, sender_reply_to,
                 status, subscribe_on_signup, sort_order, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8,
                 (SELECT COALESCE(MAX(sort_order), -1) + 1 FROM newsletters), $9, $9)
             RETURNING id",
            &[
                &super::write::new_uuid()?,
                &n.name,
                &slug,
                &n.description,
                &n.sender_name,
                &n.sender_reply_to,
                &n.status,
                &n.subscribe_on_signup,
                &now,
            ],
        )
        .await
        .map_err(newsletter_conflict)?
        .try_get(0)?;
        self.log_change(ChangeTopic::Site, None, None).await?;
        Ok(id)
    }

    pub async fn edit_newsletter(&self, id: i64, n: &NewsletterInput, now: i64) -> StoreResult<()> {
        let changed = exec(
            self.tx(),
            "UPDATE newsletters SET name = $2, description = $3, sender_name = $4,
                 sender_reply_to = $5, status = $6, subscribe_on_signup = $7, updated_at = $8
             WHERE id = $1",
            &[
                &id,
                &n.name,
                &n.description,
                &n.sender_name,
                &n.sender_reply_to,
                &n.status,
                &n.subscribe_on_signup,
                &now,
            ],
        )
        .await
        .map_err(newsletter_conflict)?;
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        self.log_change(ChangeTopic::Site, None, None).await
    }
}

fn newsletter_conflict(e: StoreError) -> StoreError {
    match e {
        StoreError::Conflict(_) => StoreError::Conflict("Another newsletter has that name.".into()),
        other => other,
    }
}
