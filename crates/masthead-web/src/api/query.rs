//! Reading a request the way Ghost does: the query string's parameters
//! (filter, order, limit, page, include…), and the pieces of a response both
//! APIs print the same way.

use axum::extract::Query;
use masthead_nql::Filter;
use masthead_store::sqlite::api::{Order, Resource};
use serde_json::{Value, json};

use super::ApiError;
use crate::state::AppState;

/// Largest numeric `limit` (use `limit=all` for everything).
pub const MAX_LIMIT: u32 = 1_000;
pub const DEFAULT_LIMIT: u32 = 15;

/// The query string, read as Ghost reads it.
#[derive(Default)]
pub struct Params {
    pub key: Option<String>,
    pub include: Vec<String>,
    pub fields: Option<Vec<String>>,
    pub formats: Option<Vec<String>>,
    pub filter: Option<String>,
    pub limit: Option<String>,
    pub page: Option<String>,
    pub order: Option<String>,
}

pub fn list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

pub fn params(raw: Vec<(String, String)>) -> Result<Params, ApiError> {
    let mut p = Params::default();
    let mut seen_key = false;
    for (k, v) in raw {
        match k.as_str() {
            "key" | "key[]" => {
                if seen_key || k == "key[]" {
                    return Err(
                        ApiError::bad_request("Only one key may be given.").code("INVALID_REQUEST")
                    );
                }
                seen_key = true;
                p.key = Some(v);
            }
            "include" => p.include.extend(list(&v)),
            "fields" => p.fields = Some(list(&v)),
            "formats" => p.formats = Some(list(&v)),
            "filter" => p.filter = Some(v),
            "limit" => p.limit = Some(v),
            "page" => p.page = Some(v),
            "order" => p.order = Some(v),
            _ => {}
        }
    }
    Ok(p)
}

pub fn filter_of(p: &Params, resource: Resource) -> Result<Option<Filter>, ApiError> {
    let Some(text) = p.filter.as_deref().filter(|f| !f.trim().is_empty()) else {
        return Ok(None);
    };
    let f = masthead_nql::parse(text)
        .map_err(|e| ApiError::bad_request("Error parsing filter").context(e.to_string()))?;
    Ok(Some(match resource {
        Resource::Posts | Resource::Pages => masthead_nql::expand_post_shortcuts(f),
        _ => f,
    }))
}

pub fn order_of(p: &Params) -> Result<Vec<Order>, ApiError> {
    let Some(text) = p.order.as_deref() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let mut words = part.split_whitespace();
        let field = words.next().unwrap_or("").to_ascii_lowercase();
        let desc = match words.next().map(str::to_ascii_lowercase).as_deref() {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "Order direction must be asc or desc, not {other:?}."
                )));
            }
        };
        out.push(Order { field, desc });
    }
    Ok(out)
}

pub fn limit_of(p: &Params) -> Result<Option<u32>, ApiError> {
    match p.limit.as_deref() {
        None | Some("") => Ok(Some(DEFAULT_LIMIT)),
        Some("all") => Ok(None),
        Some(n) => match n.parse::<u32>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(Some(n)),
            _ => Err(ApiError::validation(format!(
                "limit must be a whole number from 1 to {MAX_LIMIT}, or all."
            ))),
        },
    }
}

pub fn page_of(p: &Params) -> Result<u32, ApiError> {
    match p.page.as_deref() {
        None | Some("") => Ok(1),
        Some(n) => match n.parse::<u32>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(ApiError::validation("page must be a whole number from 1.")),
        },
    }
}

pub fn pagination(page: u32, limit: Option<u32>, total: u64) -> Value {
    let (limit_v, pages) = match limit {
        Some(l) => (json!(l), total.div_ceil(u64::from(l)).max(1)),
        None => (json!("all"), 1),
    };
    let page = u64::from(page);
    json!({
        "page": page,
        "limit": limit_v,
        "pages": pages,
        "total": total,
        "next": if page < pages { json!(page + 1) } else { Value::Null },
        "prev": if page > 1 { json!(page - 1) } else { Value::Null },
    })
}

pub fn site_tz(state: &AppState) -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::get(&state.site().settings.timezone).unwrap_or(jiff::tz::TimeZone::UTC)
}

pub fn capital(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

pub type RawQuery = Query<Vec<(String, String)>>;

pub fn query_or_400(
    q: Result<RawQuery, axum::extract::rejection::QueryRejection>,
) -> Result<Vec<(String, String)>, ApiError> {
    q.map(|Query(v)| v)
        .map_err(|e| ApiError::bad_request(format!("The query string could not be read: {e}")))
}
