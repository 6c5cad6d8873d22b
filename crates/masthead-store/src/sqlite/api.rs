//! Queries behind the Ghost-compatible APIs: API keys, and browsing posts,
//! pages, tags and authors with an NQL filter compiled to SQL.
//!
//! A filter is compiled against an allow-list of fields per resource; every
//! value becomes a bound parameter (never SQL text), and relations (`tags.slug`,
//! `authors.slug`, `primary_tag`) become `EXISTS` subqueries, so negations mean
//! "has no such tag" as in Ghost.

use masthead_nql::{Condition, Filter, Op, Value as Nql};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use super::Writer;
use crate::error::{StoreError, StoreResult};
use crate::model::ChangeTopic;
pub(crate) use masthead_model::api::*;

// ---------------------------------------------------------------- keys --

pub fn api_keys(c: &Connection) -> StoreResult<Vec<ApiKey>> {
    Ok(c.prepare_cached(
        "SELECT id, kind, name, key_id, secret, created_at, last_used_at, revoked_at IS NOT NULL
         FROM api_keys ORDER BY revoked_at IS NOT NULL, id DESC",
    )?
    .query_map([], |r| {
        let kind: String = r.get(1)?;
        Ok(ApiKey {
            id: r.get(0)?,
            kind: ApiKeyKind::parse(&kind).ok_or_else(|| {
                rusqlite::Error::FromSqlConversionFailure(
                    1,
                    rusqlite::types::Type::Text,
                    format!("unknown API key kind {kind:?}").into(),
                )
            })?,
            name: r.get(2)?,
            key_id: r.get(3)?,
            secret: r.get(4)?,
            created_ms: r.get(5)?,
            last_used_ms: r.get(6)?,
            revoked: r.get(7)?,
        })
    })?
    .collect::<Result<_, _>>()?)
}

/// A live key of `kind` with this public part: its row id and secret.
pub fn live_key(
    c: &Connection,
    kind: ApiKeyKind,
    key_id: String,
) -> StoreResult<Option<(i64, Option<String>)>> {
    Ok(c.prepare_cached(
        "SELECT id, secret FROM api_keys WHERE key_id = ?1 AND kind = ?2 AND revoked_at IS NULL",
    )?
    .query_row(params![key_id, kind.as_str()], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })
    .optional()?)
}

impl Writer<'_> {
    pub fn insert_api_key(
        &self,
        kind: ApiKeyKind,
        name: &str,
        key_id: &str,
        secret: Option<&str>,
        created_by: Option<i64>,
        now: i64,
    ) -> StoreResult<i64> {
        self.tx()
            .prepare_cached(
                "INSERT INTO api_keys (kind, name, key_id, secret, created_by, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                kind.as_str(),
                name,
                key_id,
                secret,
                created_by,
                now
            ])?;
        Ok(self.tx().last_insert_rowid())
    }

    pub fn revoke_api_key(&self, id: i64, now: i64) -> StoreResult<()> {
        let n = self.tx().execute(
            "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            params![id, now],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        self.log_change(ChangeTopic::Other, None, None)
    }

    /// Records use, at most once a minute per key (no write per request).
    pub fn touch_api_key(&self, id: i64, now: i64) -> StoreResult<()> {
        self.tx().execute(
            "UPDATE api_keys SET last_used_at = ?2
             WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at < ?2 - 60000)",
            params![id, now],
        )?;
        Ok(())
    }
}

// -------------------------------------------------------------- browse --

/// How a field's values are typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    Text,
    Int,
    Bool,
    /// Unix milliseconds; filters write dates.
    Date,
    /// Integer row ids, printed as 24 hex digits.
    Id,
}

/// A filterable field: a column of the main row, or one reached through a relation.
enum Field {
    Column(&'static str, Ty),
    /// `EXISTS (SELECT 1 FROM {from} WHERE {link} AND {column} <op> ?)`.
    Related {
        from: &'static str,
        link: &'static str,
        column: &'static str,
        ty: Ty,
    },
}

const POST_TAGS: &str = "post_tags rt JOIN tags rx ON rx.id = rt.tag_id";
const POST_AUTHORS: &str = "post_authors ra JOIN authors rx ON rx.id = ra.author_id";
const MEMBER_LABELS: &str = "member_labels rl JOIN labels rx ON rx.id = rl.label_id";
const MEMBER_NEWSLETTERS: &str =
    "member_newsletters rn JOIN newsletters rx ON rx.id = rn.newsletter_id";

fn field(resource: Resource, name: &str) -> Option<Field> {
    use Field::{Column, Related};
    let tag = |column, ty, primary| Related {
        from: POST_TAGS,
        link: if primary {
            "rt.post_id = p.id AND rt.position = 0"
        } else {
            "rt.post_id = p.id"
        },
        column,
        ty,
    };
    let author = |column, ty, primary| Related {
        from: POST_AUTHORS,
        link: if primary {
            "ra.post_id = p.id AND ra.position = 0"
        } else {
            "ra.post_id = p.id"
        },
        column,
        ty,
    };
    Some(match resource {
        Resource::Posts | Resource::Pages => match name {
            "id" => Column("p.id", Ty::Id),
            "uuid" => Column("p.uuid", Ty::Text),
            "slug" => Column("p.slug", Ty::Text),
            "title" => Column("p.title", Ty::Text),
            "custom_excerpt" => Column("p.dek", Ty::Text),
            "visibility" => Column("p.visibility", Ty::Text),
            "featured" => Column("p.featured", Ty::Bool),
            "status" => Column("p.status", Ty::Text),
            "type" => Column(
                "(CASE p.kind WHEN 'page' THEN 'page' ELSE 'post' END)",
                Ty::Text,
            ),
            "kind" => Column("p.kind", Ty::Text),
            "published_at" => Column("p.published_at", Ty::Date),
            "updated_at" => Column("p.updated_at", Ty::Date),
            "created_at" => Column("p.created_at", Ty::Date),
            "feature_image" => Column("p.feature_image", Ty::Text),
            "canonical_url" => Column("p.canonical_url", Ty::Text),
            "meta_title" => Column("p.meta_title", Ty::Text),
            "meta_description" => Column("p.meta_description", Ty::Text),
            "reading_time" => Column("p.reading_minutes", Ty::Int),
            "tags.slug" => tag("rx.slug", Ty::Text, false),
            "tags.name" => tag("rx.name", Ty::Text, false),
            "tags.id" => tag("rx.id", Ty::Id, false),
            "primary_tag" | "primary_tag.slug" => tag("rx.slug", Ty::Text, true),
            "primary_tag.id" => tag("rx.id", Ty::Id, true),
            "authors.slug" => author("rx.slug", Ty::Text, false),
            "authors.name" => author("rx.name", Ty::Text, false),
            "authors.id" => author("rx.id", Ty::Id, false),
            "primary_author" | "primary_author.slug" => author("rx.slug", Ty::Text, true),
            "primary_author.id" => author("rx.id", Ty::Id, true),
            _ => return None,
        },
        Resource::Tags => match name {
            "id" => Column("t.id", Ty::Id),
            "slug" => Column("t.slug", Ty::Text),
            "name" => Column("t.name", Ty::Text),
            "description" => Column("t.description", Ty::Text),
            "visibility" => Column("'public'", Ty::Text),
            _ => return None,
        },
        Resource::Authors => match name {
            "id" => Column("a.id", Ty::Id),
            "slug" => Column("a.slug", Ty::Text),
            "name" => Column("a.name", Ty::Text),
            "bio" => Column("a.bio", Ty::Text),
            "location" => Column("a.location", Ty::Text),
            _ => return None,
        },
        Resource::Members => match name {
            "id" => Column("m.id", Ty::Id),
            "email" => Column("m.email_key", Ty::Text),
            "name" => Column("m.name", Ty::Text),
            "status" => Column("m.status", Ty::Text),
            "created_at" => Column("m.created_at", Ty::Date),
            "email_disabled" => Column("m.email_disabled", Ty::Bool),
            "label" | "labels.slug" => Related {
                from: MEMBER_LABELS,
                link: "rl.member_id = m.id",
                column: "rx.slug",
                ty: Ty::Text,
            },
            "labels.name" => Related {
                from: MEMBER_LABELS,
                link: "rl.member_id = m.id",
                column: "rx.name",
                ty: Ty::Text,
            },
            "newsletters.slug" => Related {
                from: MEMBER_NEWSLETTERS,
                link: "rn.member_id = m.id",
                column: "rx.slug",
                ty: Ty::Text,
            },
            "newsletters.id" => Related {
                from: MEMBER_NEWSLETTERS,
                link: "rn.member_id = m.id",
                column: "rx.id",
                ty: Ty::Id,
            },
            _ => return None,
        },
    })
}

fn order_column(resource: Resource, name: &str) -> Option<&'static str> {
    Some(match (resource, name) {
        (Resource::Posts | Resource::Pages, "published_at") => "p.published_at",
        (Resource::Posts | Resource::Pages, "updated_at") => "p.updated_at",
        (Resource::Posts | Resource::Pages, "created_at") => "p.created_at",
        (Resource::Posts | Resource::Pages, "title") => "p.title COLLATE NOCASE",
        (Resource::Posts | Resource::Pages, "slug") => "p.slug",
        (Resource::Posts | Resource::Pages, "featured") => "p.featured",
        (Resource::Posts | Resource::Pages, "reading_time") => "p.reading_minutes",
        (Resource::Posts | Resource::Pages, "id") => "p.id",
        (Resource::Tags, "name") => "t.name COLLATE NOCASE",
        (Resource::Tags, "slug") => "t.slug",
        (Resource::Tags, "id") => "t.id",
        (Resource::Tags, "count.posts") => "count_posts",
        (Resource::Authors, "name") => "a.name COLLATE NOCASE",
        (Resource::Authors, "slug") => "a.slug",
        (Resource::Authors, "id") => "a.id",
        (Resource::Authors, "count.posts") => "count_posts",
        (Resource::Members, "created_at") => "m.created_at",
        (Resource::Members, "email") => "m.email_key",
        (Resource::Members, "name") => "m.name COLLATE NOCASE",
        (Resource::Members, "id") => "m.id",
        _ => return None,
    })
}

fn invalid(msg: impl Into<String>) -> StoreError {
    StoreError::Invalid(msg.into())
}

/// A date as filters write it: `2024-05-01`, `2024-05-01 10:00:00`, or ISO 8601.
fn parse_date(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        return Some(ts.as_millisecond());
    }
    if let Ok(dt) = s.replace(' ', "T").parse::<jiff::civil::DateTime>() {
        return dt
            .to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp().as_millisecond());
    }
    if let Ok(d) = s.parse::<jiff::civil::Date>() {
        return d
            .at(0, 0, 0, 0)
            .to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp().as_millisecond());
    }
    None
}

/// One value, typed for its column. `None` is SQL NULL.
fn typed(field: &str, ty: Ty, v: &Nql, now: i64) -> StoreResult<Value> {
    let bad = || {
        invalid(format!(
            "the value {v} does not fit the field {field:?}{}",
            match ty {
                Ty::Date => " (write a date like '2024-05-01 09:30:00' or now-7d)",
                Ty::Bool => " (use true or false)",
                Ty::Int | Ty::Id => " (use a number)",
                Ty::Text => "",
            }
        ))
    };
    Ok(match (ty, v) {
        (_, Nql::Null) => Value::Null,
        (_, Nql::List(_)) => return Err(bad()),
        (Ty::Text, Nql::Str(s)) => Value::Text(s.clone()),
        (Ty::Text, Nql::Int(i)) => Value::Text(i.to_string()),
        (Ty::Text, Nql::Bool(b)) => Value::Text(b.to_string()),
        (Ty::Text, Nql::RelativeDate { .. } | Nql::Now) => Value::Text(v.to_string()),
        (Ty::Int, Nql::Int(i)) => Value::Integer(*i),
        (Ty::Int, Nql::Str(s)) => Value::Integer(s.parse().map_err(|_| bad())?),
        (Ty::Bool, Nql::Bool(b)) => Value::Integer(i64::from(*b)),
        (Ty::Bool, Nql::Int(i @ (0 | 1))) => Value::Integer(*i),
        (Ty::Bool, Nql::Str(s)) => match s.as_str() {
            "true" => Value::Integer(1),
            "false" => Value::Integer(0),
            _ => return Err(bad()),
        },
        (Ty::Id, Nql::Str(s)) => Value::Integer(parse_id(s).ok_or_else(bad)?),
        (Ty::Id, Nql::Int(i)) => Value::Integer(*i),
        (Ty::Date, Nql::Str(s)) => Value::Integer(parse_date(s).ok_or_else(bad)?),
        (Ty::Date, Nql::Now) => Value::Integer(now),
        (Ty::Date, Nql::RelativeDate { sign, amount, unit }) => Value::Integer(
            masthead_nql::resolve_relative_date(now, *sign, *amount, *unit)
                .map_err(|e| invalid(e.to_string()))?,
        ),
        _ => return Err(bad()),
    })
}

fn like_pattern(v: &Nql, op: Op) -> StoreResult<Value> {
    let Nql::Str(s) = v else {
        return Err(invalid("contains, starts and ends need text"));
    };
    let escaped = s
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    Ok(Value::Text(match op {
        Op::StartsWith | Op::NotStartsWith => format!("{escaped}%"),
        Op::EndsWith | Op::NotEndsWith => format!("%{escaped}"),
        _ => format!("%{escaped}%"),
    }))
}

/// The positive test for `column` (negation is applied by the caller).
fn predicate(
    column: &str,
    name: &str,
    ty: Ty,
    cond: &Condition,
    now: i64,
    args: &mut Vec<Value>,
) -> StoreResult<String> {
    let op = cond.op;
    Ok(match op {
        Op::Eq | Op::Ne => match typed(name, ty, &cond.value, now)? {
            Value::Null => format!("{column} IS NULL"),
            v => {
                args.push(v);
                format!("{column} = ?")
            }
        },
        Op::Gt | Op::Gte | Op::Lt | Op::Lte => {
            let v = typed(name, ty, &cond.value, now)?;
            if v == Value::Null {
                return Err(invalid(format!("{name} cannot be compared with null")));
            }
            args.push(v);
            let sym = match op {
                Op::Gt => ">",
                Op::Gte => ">=",
                Op::Lt => "<",
                _ => "<=",
            };
            format!("{column} {sym} ?")
        }
        Op::In | Op::NotIn => {
            let Nql::List(items) = &cond.value else {
                return Err(invalid("[…] needs a list"));
            };
            if items.is_empty() {
                return Ok("0".into());
            }
            let mut marks = Vec::with_capacity(items.len());
            let mut null = false;
            for item in items {
                match typed(name, ty, item, now)? {
                    Value::Null => null = true,
                    v => {
                        args.push(v);
                        marks.push("?");
                    }
                }
            }
            let list = if marks.is_empty() {
                "0".to_owned()
            } else {
                format!("{column} IN ({})", marks.join(", "))
            };
            if null {
                format!("({list} OR {column} IS NULL)")
            } else {
                list
            }
        }
        _ => {
            args.push(like_pattern(&cond.value, op)?);
            format!("{column} LIKE ? ESCAPE '\\'")
        }
    })
}

fn negated(op: Op) -> bool {
    matches!(
        op,
        Op::Ne | Op::NotIn | Op::NotContains | Op::NotStartsWith | Op::NotEndsWith
    )
}

fn compile(f: &Filter, resource: Resource, now: i64, args: &mut Vec<Value>) -> StoreResult<String> {
    match f {
        Filter::And(parts) | Filter::Or(parts) => {
            if parts.is_empty() {
                return Ok("1".into());
            }
            let joiner = if matches!(f, Filter::And(_)) {
                " AND "
            } else {
                " OR "
            };
            let mut out = Vec::with_capacity(parts.len());
            for p in parts {
                out.push(compile(p, resource, now, args)?);
            }
            Ok(format!("({})", out.join(joiner)))
        }
        Filter::Cond(c) => {
            let name = c.field.as_str();
            let Some(field) = field(resource, name) else {
                return Err(invalid(format!(
                    "the {} filter has no field {name:?}",
                    resource.singular()
                )));
            };
            match field {
                Field::Column(column, ty) => {
                    let test = predicate(column, name, ty, c, now, args)?;
                    Ok(if negated(c.op) {
                        format!("NOT ({test})")
                    } else {
                        test
                    })
                }
                Field::Related {
                    from,
                    link,
                    column,
                    ty,
                } => {
                    let test = predicate(column, name, ty, c, now, args)?;
                    let exists = format!("EXISTS (SELECT 1 FROM {from} WHERE {link} AND {test})");
                    Ok(if negated(c.op) {
                        format!("NOT {exists}")
                    } else {
                        exists
                    })
                }
            }
        }
    }
}

/// The WHERE clause, ORDER BY and LIMIT of a browse.
struct Plan {
    clause: String,
    args: Vec<Value>,
    order: String,
    limit: String,
}

fn plan(b: &Browse) -> StoreResult<Plan> {
    let mut args = Vec::new();
    let mut clauses: Vec<String> = Vec::new();
    match (b.resource, b.audience) {
        (Resource::Posts, Audience::Content) => {
            clauses.push("p.status = 'published' AND p.kind <> 'page'".into())
        }
        (Resource::Pages, Audience::Content) => {
            clauses.push("p.status = 'published' AND p.kind = 'page'".into())
        }
        (Resource::Posts, Audience::Admin) => clauses.push("p.kind <> 'page'".into()),
        (Resource::Pages, Audience::Admin) => clauses.push("p.kind = 'page'".into()),
        (Resource::Posts | Resource::Pages, Audience::AdminByline(byline)) => {
            clauses.push(format!(
                "p.kind {} 'page' AND EXISTS (SELECT 1 FROM post_authors own
                   WHERE own.post_id = p.id AND own.author_id = ?)",
                if b.resource == Resource::Pages {
                    "="
                } else {
                    "<>"
                }
            ));
            args.push(Value::Integer(byline.unwrap_or(-1)));
        }
        _ => {}
    }
    if let Some(f) = &b.filter {
        clauses.push(compile(f, b.resource, b.now_ms, &mut args)?);
    }
    let clause = if clauses.is_empty() {
        "1".to_owned()
    } else {
        clauses.join(" AND ")
    };
    let mut order: Vec<String> = Vec::new();
    for o in &b.order {
        let Some(col) = order_column(b.resource, &o.field) else {
            return Err(invalid(format!(
                "cannot order {}s by {:?}",
                b.resource.singular(),
                o.field
            )));
        };
        order.push(format!("{col} {}", if o.desc { "DESC" } else { "ASC" }));
    }
    let tiebreak = match b.resource {
        Resource::Posts | Resource::Pages => {
            if order.is_empty() {
                // Ghost's default: newest first; drafts (no date) first in the
                // admin. The Content API sees only published posts, all dated,
                // so it orders by date alone: that order is the `posts_feed`
                // index's, and a page stops after `limit` rows instead of
                // sorting the whole archive.
                order.push(match b.audience {
                    Audience::Content => "p.published_at DESC".into(),
                    _ => "p.published_at IS NOT NULL, p.published_at DESC".into(),
                });
            }
            "p.id DESC"
        }
        Resource::Tags => {
            if order.is_empty() {
                order.push("t.name COLLATE NOCASE ASC".into());
            }
            "t.id ASC"
        }
        Resource::Authors => {
            if order.is_empty() {
                order.push("a.name COLLATE NOCASE ASC".into());
            }
            "a.id ASC"
        }
        Resource::Members => {
            if order.is_empty() {
                order.push("m.created_at DESC".into());
            }
            "m.id DESC"
        }
    };
    order.push(tiebreak.into());
    let limit = match b.limit {
        Some(n) => format!(
            " LIMIT {n} OFFSET {}",
            u64::from(b.page.max(1) - 1) * u64::from(n)
        ),
        None => String::new(),
    };
    Ok(Plan {
        clause,
        args,
        order: order.join(", "),
        limit,
    })
}

const POST_COLUMNS: &str = "p.id, COALESCE(p.uuid, ''), p.kind, p.status, p.slug, p.title, p.dek, p.body_source, \
     p.body_html, p.visibility, p.featured, p.feature_image, p.feature_image_alt, p.feature_image_caption, \
     p.feature_image_photographer, p.feature_image_agency, p.canonical_url, p.meta_title, p.meta_description, \
     p.reading_minutes, p.created_at, p.updated_at, p.published_at";

fn post_from_row(r: &Row<'_>) -> rusqlite::Result<ApiPost> {
    let photographer: String = r.get(14)?;
    let agency: String = r.get(15)?;
    let credit = match (photographer.trim(), agency.trim()) {
        ("", "") => String::new(),
        (p, "") => p.to_owned(),
        ("", a) => a.to_owned(),
        (p, a) => format!("{p} / {a}"),
    };
    Ok(ApiPost {
        id: r.get(0)?,
        uuid: r.get(1)?,
        kind: r.get(2)?,
        status: r.get(3)?,
        slug: r.get(4)?,
        title: r.get(5)?,
        dek: r.get(6)?,
        body_source: r.get(7)?,
        body_html: r.get(8)?,
        visibility: r.get(9)?,
        featured: r.get(10)?,
        feature_image: r.get(11)?,
        feature_image_alt: r.get(12)?,
        feature_image_caption: r.get(13)?,
        feature_image_credit: credit,
        canonical_url: r.get(16)?,
        meta_title: r.get(17)?,
        meta_description: r.get(18)?,
        reading_minutes: r.get(19)?,
        created_ms: r.get(20)?,
        updated_ms: r.get(21)?,
        published_ms: r.get(22)?,
        tags: Vec::new(),
        authors: Vec::new(),
        tier_ids: Vec::new(),
    })
}

fn count(c: &Connection, table: &str, p: &Plan) -> StoreResult<u64> {
    let n: i64 = c
        .prepare(&format!("SELECT COUNT(*) FROM {table} WHERE {}", p.clause))?
        .query_row(params_from_iter(p.args.iter()), |r| r.get(0))?;
    Ok(n.max(0) as u64)
}

/// Posts or pages, with their tags and authors (two queries for the page,
/// not two per post).
pub fn browse_posts(c: &Connection, b: &Browse) -> StoreResult<Page<ApiPost>> {
    let p = plan(b)?;
    let mut items: Vec<ApiPost> = c
        .prepare(&format!(
            "SELECT {POST_COLUMNS} FROM posts p WHERE {} ORDER BY {}{}",
            p.clause, p.order, p.limit
        ))?
        .query_map(params_from_iter(p.args.iter()), post_from_row)?
        .collect::<Result<_, _>>()?;
    let total = if b.limit.is_none() {
        items.len() as u64
    } else {
        count(c, "posts p", &p)?
    };
    attach_relations(c, &mut items)?;
    Ok(Page { items, total })
}

fn attach_relations(c: &Connection, items: &mut [ApiPost]) -> StoreResult<()> {
    if items.is_empty() {
        return Ok(());
    }
    // Rows come back grouped by post; find each post's place through a map
    // (linear in posts + relations, however long the page).
    let index: std::collections::HashMap<i64, usize> =
        items.iter().enumerate().map(|(i, p)| (p.id, i)).collect();
    let ids: Vec<Value> = items.iter().map(|p| Value::Integer(p.id)).collect();
    let marks = vec!["?"; ids.len()].join(", ");
    let mut tags = c.prepare(&format!(
        "SELECT pt.post_id, t.id, t.slug, t.name, t.description FROM post_tags pt
         JOIN tags t ON t.id = pt.tag_id WHERE pt.post_id IN ({marks}) ORDER BY pt.post_id, pt.position"
    ))?;
    let rows = tags.query_map(params_from_iter(ids.iter()), |r| {
        Ok((
            r.get::<_, i64>(0)?,
            ApiTag {
                id: r.get(1)?,
                slug: r.get(2)?,
                name: r.get(3)?,
                description: r.get(4)?,
                count_posts: 0,
            },
        ))
    })?;
    for row in rows {
        let (post, tag) = row?;
        if let Some(&i) = index.get(&post) {
            items[i].tags.push(tag);
        }
    }
    let mut authors = c.prepare(&format!(
        "SELECT pa.post_id, a.id, a.slug, a.name, a.bio, a.location, a.avatar FROM post_authors pa
         JOIN authors a ON a.id = pa.author_id WHERE pa.post_id IN ({marks}) ORDER BY pa.post_id, pa.position"
    ))?;
    let rows = authors.query_map(params_from_iter(ids.iter()), |r| {
        Ok((r.get::<_, i64>(0)?, super::taxonomy::author_at(r, 1)?))
    })?;
    for row in rows {
        let (post, author) = row?;
        if let Some(&i) = index.get(&post) {
            items[i].authors.push(author);
        }
    }
    // Tiers only for stories open to chosen tiers (most pages have none).
    let gated: Vec<Value> = items
        .iter()
        .filter(|p| p.visibility == "tiers")
        .map(|p| Value::Integer(p.id))
        .collect();
    if !gated.is_empty() {
        let marks = vec!["?"; gated.len()].join(", ");
        let mut tiers = c.prepare(&format!(
            "SELECT post_id, tier_id FROM post_tiers WHERE post_id IN ({marks}) ORDER BY post_id, tier_id"
        ))?;
        let rows = tiers.query_map(params_from_iter(gated.iter()), |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
        })?;
        for row in rows {
            let (post, tier) = row?;
            if let Some(&i) = index.get(&post) {
                items[i].tier_ids.push(tier);
            }
        }
    }
    Ok(())
}

pub fn browse_tags(c: &Connection, b: &Browse) -> StoreResult<Page<ApiTag>> {
    let p = plan(b)?;
    let items: Vec<ApiTag> = c
        .prepare(&format!(
            "SELECT t.id, t.slug, t.name, t.description,
                    (SELECT COUNT(*) FROM post_tags pt WHERE pt.tag_id = t.id AND pt.published_at IS NOT NULL) AS count_posts
             FROM tags t WHERE {} ORDER BY {}{}",
            p.clause, p.order, p.limit
        ))?
        .query_map(params_from_iter(p.args.iter()), |r| {
            Ok(ApiTag {
                id: r.get(0)?,
                slug: r.get(1)?,
                name: r.get(2)?,
                description: r.get(3)?,
                count_posts: r.get::<_, i64>(4)?.max(0) as u64,
            })
        })?
        .collect::<Result<_, _>>()?;
    let total = if b.limit.is_none() {
        items.len() as u64
    } else {
        count(c, "tags t", &p)?
    };
    Ok(Page { items, total })
}

pub fn browse_authors(c: &Connection, b: &Browse) -> StoreResult<Page<ApiAuthor>> {
    let p = plan(b)?;
    let items: Vec<ApiAuthor> = c
        .prepare(&format!(
            "SELECT a.id, a.slug, a.name, a.bio, a.location, a.avatar,
                    (SELECT COUNT(*) FROM post_authors pa WHERE pa.author_id = a.id AND pa.published_at IS NOT NULL) AS count_posts
             FROM authors a WHERE {} ORDER BY {}{}",
            p.clause, p.order, p.limit
        ))?
        .query_map(params_from_iter(p.args.iter()), |r| {
            Ok(ApiAuthor {
                author: super::taxonomy::author_at(r, 0)?,
                count_posts: r.get::<_, i64>(6)?.max(0) as u64,
            })
        })?
        .collect::<Result<_, _>>()?;
    let total = if b.limit.is_none() {
        items.len() as u64
    } else {
        count(c, "authors a", &p)?
    };
    Ok(Page { items, total })
}

fn member_from_row(r: &Row<'_>) -> rusqlite::Result<ApiMember> {
    Ok(ApiMember {
        id: r.get(0)?,
        email: r.get(1)?,
        name: r.get(2)?,
        status: r.get(3)?,
        source: r.get(4)?,
        created_ms: r.get(5)?,
    })
}

pub fn browse_members(c: &Connection, b: &Browse) -> StoreResult<Page<ApiMember>> {
    let p = plan(b)?;
    let items: Vec<ApiMember> = c
        .prepare(&format!(
            "SELECT m.id, m.email, m.name, m.status, m.source, m.created_at FROM members m
             WHERE {} ORDER BY {}{}",
            p.clause, p.order, p.limit
        ))?
        .query_map(params_from_iter(p.args.iter()), member_from_row)?
        .collect::<Result<_, _>>()?;
    let total = if b.limit.is_none() {
        items.len() as u64
    } else {
        count(c, "members m", &p)?
    };
    Ok(Page { items, total })
}

pub fn member(c: &Connection, id: i64) -> StoreResult<Option<ApiMember>> {
    Ok(c.prepare_cached(
        "SELECT m.id, m.email, m.name, m.status, m.source, m.created_at FROM members m WHERE m.id = ?1",
    )?
    .query_row([id], member_from_row)
    .optional()?)
}

impl Writer<'_> {
    /// A new member from the Admin API; `Conflict` if the address is taken.
    pub fn add_member(
        &self,
        email: &masthead_domain::Email,
        name: &str,
        now: i64,
    ) -> StoreResult<i64> {
        let Some(id) = self.insert_member(email, "free", "api", now)? else {
            return Err(StoreError::Conflict("Member already exists".into()));
        };
        if !name.is_empty() {
            self.tx().execute(
                "UPDATE members SET name = ?2 WHERE id = ?1",
                params![id, name],
            )?;
        }
        self.log_change(ChangeTopic::Member, None, Some(id))?;
        Ok(id)
    }

    pub fn update_member(
        &self,
        id: i64,
        email: Option<&masthead_domain::Email>,
        name: Option<&str>,
    ) -> StoreResult<()> {
        if let Some(e) = email {
            self.tx()
                .execute(
                    "UPDATE members SET email = ?2, email_key = ?3 WHERE id = ?1",
                    params![id, e.as_str(), e.key()],
                )
                .map_err(|err| match StoreError::from(err) {
                    StoreError::Conflict(_) => StoreError::Conflict("Member already exists".into()),
                    other => other,
                })?;
        }
        if let Some(n) = name {
            self.tx()
                .execute("UPDATE members SET name = ?2 WHERE id = ?1", params![id, n])?;
        }
        if self
            .tx()
            .query_row("SELECT 1 FROM members WHERE id = ?1", [id], |_| Ok(()))
            .optional()?
            .is_none()
        {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub fn set_post_extras(&self, id: i64, x: &PostExtras) -> StoreResult<()> {
        if let Some(tiers) = &x.tier_ids {
            self.set_post_tiers(id, tiers)?;
        }
        if let Some(f) = x.featured {
            self.tx().execute(
                "UPDATE posts SET featured = ?2 WHERE id = ?1",
                params![id, f],
            )?;
        }
        if let Some(img) = &x.feature_image {
            self.tx().execute(
                "UPDATE posts SET feature_image = ?2, feature_media_id = NULL, feature_image_srcset = NULL,
                    feature_image_webp_srcset = NULL, feature_image_width = NULL, feature_image_height = NULL
                 WHERE id = ?1",
                params![id, img],
            )?;
        }
        if let Some(alt) = &x.feature_image_alt {
            self.tx().execute(
                "UPDATE posts SET feature_image_alt = ?2 WHERE id = ?1",
                params![id, alt],
            )?;
        }
        if let Some(caption) = &x.feature_image_caption {
            self.tx().execute(
                "UPDATE posts SET feature_image_caption = ?2 WHERE id = ?1",
                params![id, caption],
            )?;
        }
        self.log_change(ChangeTopic::Post, Some(id), None)
    }

    pub fn set_post_seo(&self, id: i64, seo: &masthead_model::Seo) -> StoreResult<()> {
        let none_if_empty = |v: &str| (!v.is_empty()).then(|| v.to_owned());
        self.tx().execute(
            "UPDATE posts SET meta_title = ?2, meta_description = ?3, canonical_url = ?4 WHERE id = ?1",
            params![
                id,
                none_if_empty(&seo.meta_title),
                none_if_empty(&seo.meta_description),
                none_if_empty(&seo.canonical_url)
            ],
        )?;
        Ok(())
    }

    /// Deletes a post with everything hanging off it (cascades).
    pub fn delete_post(&self, id: i64) -> StoreResult<()> {
        // Log first, so caches drop the post's pages (the row is gone after).
        self.log_change(ChangeTopic::Post, Some(id), None)?;
        let n = self.tx().execute("DELETE FROM posts WHERE id = ?1", [id])?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        self.reindex_post(id)
    }

    pub fn delete_tag(&self, id: i64) -> StoreResult<()> {
        let tagged = self.posts_tagged(id)?;
        let n = self.tx().execute("DELETE FROM tags WHERE id = ?1", [id])?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        // Posts whose primary tag it was take their next tag as primary.
        self.tx().execute(
            "UPDATE posts SET primary_tag_id =
                (SELECT tag_id FROM post_tags pt WHERE pt.post_id = posts.id ORDER BY position LIMIT 1)
             WHERE primary_tag_id IS NULL",
            [],
        )?;
        self.reindex_posts(&tagged)?;
        self.log_change(ChangeTopic::Site, None, None)
    }

    /// The tag with this slug, created with `name` if there is none.
    pub fn tag_by_slug_or_create(&self, slug: &str, name: &str) -> StoreResult<i64> {
        if let Some(id) = self
            .tx()
            .query_row("SELECT id FROM tags WHERE slug = ?1", [slug], |r| r.get(0))
            .optional()?
        {
            return Ok(id);
        }
        self.insert_tag(&crate::model::NewTag {
            slug: slug.to_owned(),
            name: name.to_owned(),
            description: String::new(),
            is_section: false,
            position: 100,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sql(resource: Resource, nql: &str) -> StoreResult<(String, Vec<Value>)> {
        let f = masthead_nql::expand_post_shortcuts(masthead_nql::parse(nql).expect("parses"));
        let mut args = Vec::new();
        let s = compile(&f, resource, 1_000_000_000_000, &mut args)?;
        Ok((s, args))
    }

    #[test]
    fn filters_compile_to_bound_parameters() {
        let (s, a) = sql(Resource::Posts, "tag:news+featured:true").expect("ok");
        assert_eq!(
            s,
            "(EXISTS (SELECT 1 FROM post_tags rt JOIN tags rx ON rx.id = rt.tag_id WHERE rt.post_id = p.id AND rx.slug = ?) AND p.featured = ?)"
        );
        assert_eq!(a, vec![Value::Text("news".into()), Value::Integer(1)]);
        let (s, _) = sql(Resource::Posts, "tag:-news").expect("ok");
        assert!(s.starts_with("NOT EXISTS"), "{s}");
        let (s, a) = sql(Resource::Posts, "title:~'50%_off'").expect("ok");
        assert_eq!(s, "p.title LIKE ? ESCAPE '\\'");
        assert_eq!(a, vec![Value::Text("%50\\%\\_off%".into())]);
        let (s, a) = sql(Resource::Posts, "published_at:>now-2d").expect("ok");
        assert_eq!(s, "p.published_at > ?");
        assert_eq!(a, vec![Value::Integer(1_000_000_000_000 - 2 * 86_400_000)]);
        let (s, _) = sql(Resource::Posts, "feature_image:null").expect("ok");
        assert_eq!(s, "p.feature_image IS NULL");
        let (s, _) = sql(Resource::Posts, "feature_image:-null").expect("ok");
        assert_eq!(s, "NOT (p.feature_image IS NULL)");
        let (s, a) = sql(Resource::Posts, "id:[00000000000000000000000a,5]").expect("ok");
        assert_eq!(s, "p.id IN (?, ?)");
        assert_eq!(a, vec![Value::Integer(10), Value::Integer(5)]);
        let (s, _) = sql(Resource::Posts, "primary_tag:city").expect("ok");
        assert!(s.contains("rt.position = 0"), "{s}");
    }

    #[test]
    fn unknown_fields_and_misfit_values_are_clear_errors() {
        for (nql, says) in [
            ("authors.email:x@y.z", "no field \"authors.email\""),
            ("password:x", "no field \"password\""),
            ("published_at:>yesterday", "write a date"),
            ("featured:maybe", "use true or false"),
            ("reading_time:>lots", "use a number"),
            ("published_at:>null", "cannot be compared with null"),
        ] {
            match sql(Resource::Posts, nql) {
                Err(StoreError::Invalid(m)) => assert!(m.contains(says), "{nql}: {m}"),
                other => panic!("{nql}: {other:?}"),
            }
        }
        assert!(sql(Resource::Tags, "tags.slug:x").is_err());
    }

    #[test]
    fn ids_are_24_hex_digits() {
        assert_eq!(format_id(10), "00000000000000000000000a");
        assert_eq!(parse_id("00000000000000000000000a"), Some(10));
        assert_eq!(parse_id("42"), Some(42));
        assert_eq!(parse_id("zz"), None);
        assert_eq!(parse_id("0"), None);
        assert_eq!(parse_id("ffffffffffffffffffffffff"), None);
    }
}
