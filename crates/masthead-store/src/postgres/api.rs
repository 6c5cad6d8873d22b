//! Queries behind the Ghost-compatible APIs: the PostgreSQL mirror of
//! `sqlite/api.rs`. A filter is compiled against the same allow-list of
//! fields; every value is a bound parameter (`$n`), relations are `EXISTS`
//! subqueries. Dialect differences: `LIKE` is `ILIKE` (SQLite's LIKE ignores
//! ASCII case), `COLLATE NOCASE` is `lower()`, flags are BOOLEAN, NULLs are
//! ordered as SQLite orders them (first ascending, last descending), and an
//! empty condition is `TRUE`/`FALSE` rather than `1`/`0`.

use deadpool_postgres::GenericClient;
use masthead_nql::{Condition, Filter, Op, Value as Nql};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::PgWriter;
use super::sql::{count_at, exec, map, row_one, row_opt, rows};
use crate::error::{StoreError, StoreResult};
use crate::model::ChangeTopic;
use crate::sqlite::api::{
    ApiAuthor, ApiKey, ApiMember, ApiPost, ApiTag, Audience, Browse, Page, PostExtras, Resource,
};
#[allow(unused_imports)]
pub(crate) use crate::sqlite::api::{format_id, parse_id};
use masthead_model::ApiKeyKind;

// ---------------------------------------------------------------- keys --

pub async fn api_keys(c: &impl GenericClient) -> StoreResult<Vec<ApiKey>> {
    let found = rows(
        c,
        "SELECT id, kind, name, key_id, secret, created_at, last_used_at, revoked_at IS NOT NULL
         FROM api_keys ORDER BY revoked_at IS NOT NULL, id DESC",
        &[],
    )
    .await?;
    map(&found, |r| {
        let kind: String = r.try_get(1)?;
        Ok(ApiKey {
            id: r.try_get(0)?,
            kind: ApiKeyKind::parse(&kind)
                .ok_or_else(|| StoreError::Other(format!("unknown API key kind {kind:?}")))?,
            name: r.try_get(2)?,
            key_id: r.try_get(3)?,
            secret: r.try_get(4)?,
            created_ms: r.try_get(5)?,
            last_used_ms: r.try_get(6)?,
            revoked: r.try_get(7)?,
        })
    })
}

/// A live key of `kind` with this public part: its row id and secret.
pub async fn live_key(
    c: &impl GenericClient,
    kind: ApiKeyKind,
    key_id: String,
) -> StoreResult<Option<(i64, Option<String>)>> {
    row_opt(
        c,
        "SELECT id, secret FROM api_keys WHERE key_id = $1 AND kind = $2 AND revoked_at IS NULL",
        &[&key_id, &kind.as_str()],
    )
    .await?
    .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
    .transpose()
}

impl PgWriter<'_> {
    pub async fn insert_api_key(
        &self,
        kind: ApiKeyKind,
        name: &str,
        key_id: &str,
        secret: Option<&str>,
        created_by: Option<i64>,
        now: i64,
    ) -> StoreResult<i64> {
        Ok(row_one(
            self.tx(),
            "INSERT INTO api_keys (kind, name, key_id, secret, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            &[&kind.as_str(), &name, &key_id, &secret, &created_by, &now],
        )
        .await?
        .try_get(0)?)
    }

    pub async fn revoke_api_key(&self, id: i64, now: i64) -> StoreResult<()> {
        let n = exec(
            self.tx(),
            "UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            &[&id, &now],
        )
        .await?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        self.log_change(ChangeTopic::Other, None, None).await
    }

    /// Records use, at most once a minute per key (no write per request).
    pub async fn touch_api_key(&self, id: i64, now: i64) -> StoreResult<()> {
        exec(
            self.tx(),
            "UPDATE api_keys SET last_used_at = $2
             WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2::BIGINT - 60000)",
            &[&id, &now],
        )
        .await?;
        Ok(())
    }
}

// -------------------------------------------------------------- browse --

fn singular(r: Resource) -> &'static str {
    match r {
        Resource::Posts => "post",
        Resource::Pages => "page",
        Resource::Tags => "tag",
        Resource::Authors => "author",
        Resource::Members => "member",
    }
}

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

/// A bound value, typed for its column (SQL NULL never is bound: it becomes
/// `IS NULL`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Arg {
    Int(i64),
    Text(String),
    Bool(bool),
}

impl Arg {
    fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Arg::Int(v) => v,
            Arg::Text(v) => v,
            Arg::Bool(v) => v,
        }
    }
}

fn params(args: &[Arg]) -> Vec<&(dyn ToSql + Sync)> {
    args.iter().map(Arg::as_sql).collect()
}

/// A filterable field: a column of the main row, or one reached through a relation.
enum Field {
    Column(&'static str, Ty),
    /// `EXISTS (SELECT 1 FROM {from} WHERE {link} AND {column} <op> $n)`.
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
            // A typed literal: `'public' = $1` alone gives the server no type.
            "visibility" => Column("'public'::text", Ty::Text),
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
        (Resource::Posts | Resource::Pages, "title") => "lower(p.title)",
        (Resource::Posts | Resource::Pages, "slug") => "p.slug",
        (Resource::Posts | Resource::Pages, "featured") => "p.featured",
        (Resource::Posts | Resource::Pages, "reading_time") => "p.reading_minutes",
        (Resource::Posts | Resource::Pages, "id") => "p.id",
        (Resource::Tags, "name") => "lower(t.name)",
        (Resource::Tags, "slug") => "t.slug",
        (Resource::Tags, "id") => "t.id",
        (Resource::Tags, "count.posts") => "count_posts",
        (Resource::Authors, "name") => "lower(a.name)",
        (Resource::Authors, "slug") => "a.slug",
        (Resource::Authors, "id") => "a.id",
        (Resource::Authors, "count.posts") => "count_posts",
        (Resource::Members, "created_at") => "m.created_at",
        (Resource::Members, "email") => "m.email_key",
        (Resource::Members, "name") => "lower(m.name)",
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
fn typed(field: &str, ty: Ty, v: &Nql, now: i64) -> StoreResult<Option<Arg>> {
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
    Ok(Some(match (ty, v) {
        (_, Nql::Null) => return Ok(None),
        (_, Nql::List(_)) => return Err(bad()),
        (Ty::Text, Nql::Str(s)) => Arg::Text(s.clone()),
        (Ty::Text, Nql::Int(i)) => Arg::Text(i.to_string()),
        (Ty::Text, Nql::Bool(b)) => Arg::Text(b.to_string()),
        (Ty::Text, Nql::RelativeDate { .. } | Nql::Now) => Arg::Text(v.to_string()),
        (Ty::Int, Nql::Int(i)) => Arg::Int(*i),
        (Ty::Int, Nql::Str(s)) => Arg::Int(s.parse().map_err(|_| bad())?),
        (Ty::Bool, Nql::Bool(b)) => Arg::Bool(*b),
        (Ty::Bool, Nql::Int(i @ (0 | 1))) => Arg::Bool(*i == 1),
        (Ty::Bool, Nql::Str(s)) => match s.as_str() {
            "true" => Arg::Bool(true),
            "false" => Arg::Bool(false),
            _ => return Err(bad()),
        },
        (Ty::Id, Nql::Str(s)) => Arg::Int(parse_id(s).ok_or_else(bad)?),
        (Ty::Id, Nql::Int(i)) => Arg::Int(*i),
        (Ty::Date, Nql::Str(s)) => Arg::Int(parse_date(s).ok_or_else(bad)?),
        (Ty::Date, Nql::Now) => Arg::Int(now),
        (Ty::Date, Nql::RelativeDate { sign, amount, unit }) => Arg::Int(
            masthead_nql::resolve_relative_date(now, *sign, *amount, *unit)
                .map_err(|e| invalid(e.to_string()))?,
        ),
        _ => return Err(bad()),
    }))
}

fn like_pattern(v: &Nql, op: Op) -> StoreResult<Arg> {
    let Nql::Str(s) = v else {
        return Err(invalid("contains, starts and ends need text"));
    };
    let escaped = s
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    Ok(Arg::Text(match op {
        Op::StartsWith | Op::NotStartsWith => format!("{escaped}%"),
        Op::EndsWith | Op::NotEndsWith => format!("%{escaped}"),
        _ => format!("%{escaped}%"),
    }))
}

/// Binds `v` and returns its placeholder.
fn bind(args: &mut Vec<Arg>, v: Arg) -> String {
    args.push(v);
    format!("${}", args.len())
}

/// The positive test for `column` (negation is applied by the caller).
fn predicate(
    column: &str,
    name: &str,
    ty: Ty,
    cond: &Condition,
    now: i64,
    args: &mut Vec<Arg>,
) -> StoreResult<String> {
    let op = cond.op;
    Ok(match op {
        Op::Eq | Op::Ne => match typed(name, ty, &cond.value, now)? {
            None => format!("{column} IS NULL"),
            Some(v) => format!("{column} = {}", bind(args, v)),
        },
        Op::Gt | Op::Gte | Op::Lt | Op::Lte => {
            let Some(v) = typed(name, ty, &cond.value, now)? else {
                return Err(invalid(format!("{name} cannot be compared with null")));
            };
            let sym = match op {
                Op::Gt => ">",
                Op::Gte => ">=",
                Op::Lt => "<",
                _ => "<=",
            };
            format!("{column} {sym} {}", bind(args, v))
        }
        Op::In | Op::NotIn => {
            let Nql::List(items) = &cond.value else {
                return Err(invalid("[…] needs a list"));
            };
            if items.is_empty() {
                return Ok("FALSE".into());
            }
            let mut marks = Vec::with_capacity(items.len());
            let mut null = false;
            for item in items {
                match typed(name, ty, item, now)? {
                    None => null = true,
                    Some(v) => marks.push(bind(args, v)),
                }
            }
            let list = if marks.is_empty() {
                "FALSE".to_owned()
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
            let pattern = like_pattern(&cond.value, op)?;
            format!("{column} ILIKE {} ESCAPE '\\'", bind(args, pattern))
        }
    })
}

fn negated(op: Op) -> bool {
    matches!(
        op,
        Op::Ne | Op::NotIn | Op::NotContains | Op::NotStartsWith | Op::NotEndsWith
    )
}

fn compile(f: &Filter, resource: Resource, now: i64, args: &mut Vec<Arg>) -> StoreResult<String> {
    match f {
        Filter::And(parts) | Filter::Or(parts) => {
            if parts.is_empty() {
                return Ok("TRUE".into());
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
                    singular(resource)
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
    args: Vec<Arg>,
    order: String,
    limit: String,
}

/// `ASC`/`DESC` with NULLs where SQLite puts them (first ascending, last descending).
fn direction(desc: bool) -> &'static str {
    if desc {
        "DESC NULLS LAST"
    } else {
        "ASC NULLS FIRST"
    }
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
            let mark = bind(&mut args, Arg::Int(byline.unwrap_or(-1)));
            clauses.push(format!(
                "p.kind {} 'page' AND EXISTS (SELECT 1 FROM post_authors own
                   WHERE own.post_id = p.id AND own.author_id = {mark})",
                if b.resource == Resource::Pages {
                    "="
                } else {
                    "<>"
                }
            ));
        }
        _ => {}
    }
    if let Some(f) = &b.filter {
        clauses.push(compile(f, b.resource, b.now_ms, &mut args)?);
    }
    let clause = if clauses.is_empty() {
        "TRUE".to_owned()
    } else {
        clauses.join(" AND ")
    };
    let mut order: Vec<String> = Vec::new();
    for o in &b.order {
        let Some(col) = order_column(b.resource, &o.field) else {
            return Err(invalid(format!(
                "cannot order {}s by {:?}",
                singular(b.resource),
                o.field
            )));
        };
        order.push(format!("{col} {}", direction(o.desc)));
    }
    let tiebreak = match b.resource {
        Resource::Posts | Resource::Pages => {
            if order.is_empty() {
                // Ghost's default: newest first; drafts (no date) first in the admin.
                order.push("p.published_at IS NOT NULL, p.published_at DESC NULLS LAST".into());
            }
            "p.id DESC"
        }
        Resource::Tags => {
            if order.is_empty() {
                order.push("lower(t.name) ASC".into());
            }
            "t.id ASC"
        }
        Resource::Authors => {
            if order.is_empty() {
                order.push("lower(a.name) ASC".into());
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

fn post_from_row(r: &Row) -> StoreResult<ApiPost> {
    let photographer: String = r.try_get(14)?;
    let agency: String = r.try_get(15)?;
    let credit = match (photographer.trim(), agency.trim()) {
        ("", "") => String::new(),
        (p, "") => p.to_owned(),
        ("", a) => a.to_owned(),
        (p, a) => format!("{p} / {a}"),
    };
    Ok(ApiPost {
        id: r.try_get(0)?,
        uuid: r.try_get(1)?,
        kind: r.try_get(2)?,
        status: r.try_get(3)?,
        slug: r.try_get(4)?,
        title: r.try_get(5)?,
        dek: r.try_get(6)?,
        body_source: r.try_get(7)?,
        body_html: r.try_get(8)?,
        visibility: r.try_get(9)?,
        featured: r.try_get(10)?,
        feature_image: r.try_get(11)?,
        feature_image_alt: r.try_get(12)?,
        feature_image_caption: r.try_get(13)?,
        feature_image_credit: credit,
        canonical_url: r.try_get(16)?,
        meta_title: r.try_get(17)?,
        meta_description: r.try_get(18)?,
        reading_minutes: super::sql::u32_at(r, 19)?,
        created_ms: r.try_get(20)?,
        updated_ms: r.try_get(21)?,
        published_ms: r.try_get(22)?,
        tags: Vec::new(),
        authors: Vec::new(),
        tier_ids: Vec::new(),
    })
}

async fn count(c: &impl GenericClient, table: &str, p: &Plan) -> StoreResult<u64> {
    let row = c
        .query_one(
            format!("SELECT COUNT(*) FROM {table} WHERE {}", p.clause).as_str(),
            &params(&p.args),
        )
        .await?;
    count_at(&row, 0)
}

/// Posts or pages, with their tags and authors (two queries for the page,
/// not two per post).
pub async fn browse_posts(c: &impl GenericClient, b: &Browse) -> StoreResult<Page<ApiPost>> {
    let p = plan(b)?;
    let found = c
        .query(
            format!(
                "SELECT {POST_COLUMNS} FROM posts p WHERE {} ORDER BY {}{}",
                p.clause, p.order, p.limit
            )
            .as_str(),
            &params(&p.args),
        )
        .await?;
    let mut items = map(&found, post_from_row)?;
    let total = if b.limit.is_none() {
        items.len() as u64
    } else {
        count(c, "posts p", &p).await?
    };
    attach_relations(c, &mut items).await?;
    Ok(Page { items, total })
}

async fn attach_relations(c: &impl GenericClient, items: &mut [ApiPost]) -> StoreResult<()> {
    if items.is_empty() {
        return Ok(());
    }
    let index: std::collections::HashMap<i64, usize> =
        items.iter().enumerate().map(|(i, p)| (p.id, i)).collect();
    let ids: Vec<i64> = items.iter().map(|p| p.id).collect();
    let found = rows(
        c,
        "SELECT pt.post_id, t.id, t.slug, t.name, t.description FROM post_tags pt
         JOIN tags t ON t.id = pt.tag_id WHERE pt.post_id = ANY($1) ORDER BY pt.post_id, pt.position",
        &[&ids],
    )
    .await?;
    for r in &found {
        let post: i64 = r.try_get(0)?;
        if let Some(&i) = index.get(&post) {
            items[i].tags.push(ApiTag {
                id: r.try_get(1)?,
                slug: r.try_get(2)?,
                name: r.try_get(3)?,
                description: r.try_get(4)?,
                count_posts: 0,
            });
        }
    }
    let found = rows(
        c,
        "SELECT pa.post_id, a.id, a.slug, a.name, a.bio, a.location, a.avatar FROM post_authors pa
         JOIN authors a ON a.id = pa.author_id WHERE pa.post_id = ANY($1) ORDER BY pa.post_id, pa.position",
        &[&ids],
    )
    .await?;
    for r in &found {
        let post: i64 = r.try_get(0)?;
        if let Some(&i) = index.get(&post) {
            items[i].authors.push(super::taxonomy::author_at(r, 1)?);
        }
    }
    // Tiers only for stories open to chosen tiers (most pages have none).
    let gated: Vec<i64> = items
        .iter()
        .filter(|p| p.visibility == "tiers")
        .map(|p| p.id)
        .collect();
    if !gated.is_empty() {
        let found = rows(
            c,
            "SELECT post_id, tier_id FROM post_tiers WHERE post_id = ANY($1) ORDER BY post_id, tier_id",
            &[&gated],
        )
        .await?;
        for r in &found {
            let post: i64 = r.try_get(0)?;
            if let Some(&i) = index.get(&post) {
                items[i].tier_ids.push(r.try_get(1)?);
            }
        }
    }
    Ok(())
}

pub async fn browse_tags(c: &impl GenericClient, b: &Browse) -> StoreResult<Page<ApiTag>> {
    let p = plan(b)?;
    let found = c
        .query(
            format!(
                "SELECT t.id, t.slug, t.name, t.description,
                        (SELECT COUNT(*) FROM post_tags pt WHERE pt.tag_id = t.id AND pt.published_at IS NOT NULL) AS count_posts
                 FROM tags t WHERE {} ORDER BY {}{}",
                p.clause, p.order, p.limit
            )
            .as_str(),
            &params(&p.args),
        )
        .await?;
    let items = map(&found, |r| {
        Ok(ApiTag {
            id: r.try_get(0)?,
            slug: r.try_get(1)?,
            name: r.try_get(2)?,
            description: r.try_get(3)?,
            count_posts: count_at(r, 4)?,
        })
    })?;
    let total = if b.limit.is_none() {
        items.len() as u64
    } else {
        count(c, "tags t", &p).await?
    };
    Ok(Page { items, total })
}

pub async fn browse_authors(c: &impl GenericClient, b: &Browse) -> StoreResult<Page<ApiAuthor>> {
    let p = plan(b)?;
    let found = c
        .query(
            format!(
                "SELECT a.id, a.slug, a.name, a.bio, a.location, a.avatar,
                        (SELECT COUNT(*) FROM post_authors pa WHERE pa.author_id = a.id AND pa.published_at IS NOT NULL) AS count_posts
                 FROM authors a WHERE {} ORDER BY {}{}",
                p.clause, p.order, p.limit
            )
            .as_str(),
            &params(&p.args),
        )
        .await?;
    let items = map(&found, |r| {
        Ok(ApiAuthor {
            author: super::taxonomy::author_at(r, 0)?,
            count_posts: count_at(r, 6)?,
        })
    })?;
    let total = if b.limit.is_none() {
        items.len() as u64
    } else {
        count(c, "authors a", &p).await?
    };
    Ok(Page { items, total })
}

fn member_from_row(r: &Row) -> StoreResult<ApiMember> {
    Ok(ApiMember {
        id: r.try_get(0)?,
        email: r.try_get(1)?,
        name: r.try_get(2)?,
        status: r.try_get(3)?,
        source: r.try_get(4)?,
        created_ms: r.try_get(5)?,
    })
}

pub async fn browse_members(c: &impl GenericClient, b: &Browse) -> StoreResult<Page<ApiMember>> {
    let p = plan(b)?;
    let found = c
        .query(
            format!(
                "SELECT m.id, m.email, m.name, m.status, m.source, m.created_at FROM members m
                 WHERE {} ORDER BY {}{}",
                p.clause, p.order, p.limit
            )
            .as_str(),
            &params(&p.args),
        )
        .await?;
    let items = map(&found, member_from_row)?;
    let total = if b.limit.is_none() {
        items.len() as u64
    } else {
        count(c, "members m", &p).await?
    };
    Ok(Page { items, total })
}

pub async fn member(c: &impl GenericClient, id: i64) -> StoreResult<Option<ApiMember>> {
    row_opt(
        c,
        "SELECT m.id, m.email, m.name, m.status, m.source, m.created_at FROM members m WHERE m.id = $1",
        &[&id],
    )
    .await?
    .as_ref()
    .map(member_from_row)
    .transpose()
}

impl PgWriter<'_> {
    /// A new member from the Admin API; `Conflict` if the address is taken.
    pub async fn add_member(
        &self,
        email: &masthead_domain::Email,
        name: &str,
        now: i64,
    ) -> StoreResult<i64> {
        let Some(id) = self.insert_member_id(email, "free", "api", now).await? else {
            return Err(StoreError::Conflict("Member already exists".into()));
        };
        if !name.is_empty() {
            exec(
                self.tx(),
                "UPDATE members SET name = $2 WHERE id = $1",
                &[&id, &name],
            )
            .await?;
        }
        self.log_change(ChangeTopic::Member, None, Some(id)).await?;
        Ok(id)
    }

    pub async fn update_member(
        &self,
        id: i64,
        email: Option<&masthead_domain::Email>,
        name: Option<&str>,
    ) -> StoreResult<()> {
        if let Some(e) = email {
            exec(
                self.tx(),
                "UPDATE members SET email = $2, email_key = $3 WHERE id = $1",
                &[&id, &e.as_str(), &e.key()],
            )
            .await
            .map_err(|err| match err {
                StoreError::Conflict(_) => StoreError::Conflict("Member already exists".into()),
                other => other,
            })?;
        }
        if let Some(n) = name {
            exec(
                self.tx(),
                "UPDATE members SET name = $2 WHERE id = $1",
                &[&id, &n],
            )
            .await?;
        }
        if row_opt(self.tx(), "SELECT 1 FROM members WHERE id = $1", &[&id])
            .await?
            .is_none()
        {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub async fn set_post_extras(&self, id: i64, x: &PostExtras) -> StoreResult<()> {
        if let Some(tiers) = &x.tier_ids {
            self.set_post_tiers(id, tiers).await?;
        }
        if let Some(f) = x.featured {
            exec(
                self.tx(),
                "UPDATE posts SET featured = $2 WHERE id = $1",
                &[&id, &f],
            )
            .await?;
        }
        if let Some(img) = &x.feature_image {
            exec(
                self.tx(),
                "UPDATE posts SET feature_image = $2, feature_media_id = NULL, feature_image_srcset = NULL,
                    feature_image_webp_srcset = NULL, feature_image_width = NULL, feature_image_height = NULL
                 WHERE id = $1",
                &[&id, img],
            )
            .await?;
        }
        if let Some(alt) = &x.feature_image_alt {
            exec(
                self.tx(),
                "UPDATE posts SET feature_image_alt = $2 WHERE id = $1",
                &[&id, alt],
            )
            .await?;
        }
        if let Some(caption) = &x.feature_image_caption {
            exec(
                self.tx(),
                "UPDATE posts SET feature_image_caption = $2 WHERE id = $1",
                &[&id, caption],
            )
            .await?;
        }
        self.log_change(ChangeTopic::Post, Some(id), None).await
    }

    pub async fn set_post_seo(
        &self,
        id: i64,
        seo: &crate::sqlite::editing::Seo,
    ) -> StoreResult<()> {
        let none_if_empty = |v: &str| (!v.is_empty()).then(|| v.to_owned());
        exec(
            self.tx(),
            "UPDATE posts SET meta_title = $2, meta_description = $3, canonical_url = $4 WHERE id = $1",
            &[
                &id,
                &none_if_empty(&seo.meta_title),
                &none_if_empty(&seo.meta_description),
                &none_if_empty(&seo.canonical_url),
            ],
        )
        .await?;
        Ok(())
    }

    /// Deletes a post with everything hanging off it (cascades).
    pub async fn delete_post(&self, id: i64) -> StoreResult<()> {
        // Log first, so caches drop the post's pages (the row is gone after).
        self.log_change(ChangeTopic::Post, Some(id), None).await?;
        let n = exec(self.tx(), "DELETE FROM posts WHERE id = $1", &[&id]).await?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        self.reindex_post(id).await
    }

    pub async fn delete_tag(&self, id: i64) -> StoreResult<()> {
        let tagged = self.posts_tagged(id).await?;
        let n = exec(self.tx(), "DELETE FROM tags WHERE id = $1", &[&id]).await?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        // Posts whose primary tag it was take their next tag as primary.
        exec(
            self.tx(),
            "UPDATE posts SET primary_tag_id =
                (SELECT tag_id FROM post_tags pt WHERE pt.post_id = posts.id ORDER BY position LIMIT 1)
             WHERE primary_tag_id IS NULL",
            &[],
        )
        .await?;
        self.reindex_posts(&tagged).await?;
        self.log_change(ChangeTopic::Site, None, None).await
    }

    /// The tag with this slug, created with `name` if there is none. Two
    /// transactions creating the same tag at once both get it: the insert
    /// yields to the unique slug and the loser reads the winner's row.
    pub async fn tag_by_slug_or_create(&self, slug: &str, name: &str) -> StoreResult<i64> {
        let find = async || -> StoreResult<Option<i64>> {
            row_opt(self.tx(), "SELECT id FROM tags WHERE slug = $1", &[&slug])
                .await?
                .map(|r| Ok(r.try_get(0)?))
                .transpose()
        };
        if let Some(id) = find().await? {
            return Ok(id);
        }
        masthead_domain::Slug::parse(slug)?;
        let inserted: Option<i64> = row_opt(
            self.tx(),
            "INSERT INTO tags (slug, name, description, is_section, position, created_at)
             VALUES ($1, $2, '', FALSE, 100, $3)
             ON CONFLICT (slug) DO NOTHING RETURNING id",
            &[&slug, &name, &crate::now_ms()],
        )
        .await?
        .map(|r| r.try_get(0))
        .transpose()?;
        match inserted {
            Some(id) => Ok(id),
            None => find().await?.ok_or(StoreError::NotFound),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sql(resource: Resource, nql: &str) -> StoreResult<(String, Vec<Arg>)> {
        let f = masthead_nql::expand_post_shortcuts(masthead_nql::parse(nql).expect("parses"));
        let mut args = Vec::new();
        let s = compile(&f, resource, 1_000_000_000_000, &mut args)?;
        Ok((s, args))
    }

    #[test]
    fn filters_compile_to_numbered_parameters() {
        let (s, a) = sql(Resource::Posts, "tag:news+featured:true").expect("ok");
        assert_eq!(
            s,
            "(EXISTS (SELECT 1 FROM post_tags rt JOIN tags rx ON rx.id = rt.tag_id WHERE rt.post_id = p.id AND rx.slug = $1) AND p.featured = $2)"
        );
        assert_eq!(a, vec![Arg::Text("news".into()), Arg::Bool(true)]);
        let (s, a) = sql(Resource::Posts, "title:~'50%_off'").expect("ok");
        assert_eq!(s, "p.title ILIKE $1 ESCAPE '\\'");
        assert_eq!(a, vec![Arg::Text("%50\\%\\_off%".into())]);
        let (s, a) = sql(Resource::Posts, "id:[00000000000000000000000a,5,null]").expect("ok");
        assert_eq!(s, "(p.id IN ($1, $2) OR p.id IS NULL)");
        assert_eq!(a, vec![Arg::Int(10), Arg::Int(5)]);
        let (s, _) = sql(Resource::Posts, "feature_image:-null").expect("ok");
        assert_eq!(s, "NOT (p.feature_image IS NULL)");
        let (s, a) = sql(Resource::Tags, "visibility:public").expect("ok");
        assert_eq!(
            (s.as_str(), a),
            ("'public'::text = $1", vec![Arg::Text("public".into())])
        );
    }

    #[test]
    fn orders_put_nulls_where_sqlite_does() {
        let b = Browse {
            resource: Resource::Posts,
            audience: Audience::Content,
            filter: None,
            order: vec![crate::sqlite::api::Order {
                field: "title".into(),
                desc: false,
            }],
            limit: Some(10),
            page: 3,
            now_ms: 0,
        };
        let p = plan(&b).expect("plan");
        assert_eq!(p.order, "lower(p.title) ASC NULLS FIRST, p.id DESC");
        assert_eq!(p.limit, " LIMIT 10 OFFSET 20");
        assert_eq!(p.clause, "p.status = 'published' AND p.kind <> 'page'");
    }
}
