//! Reading a request the way Ghost does: the query string's parameters
//! (filter, order, limit, page, include…), and the pieces of a response both
//! APIs print the same way.

use axum::extract::Query;
use masthead_nql::Filter;
use masthead_store::{Order, Resource};
use serde_json::{Value, json};

use super::ApiError;
use crate::state::AppState;

pub const DEFAULT_LIMIT: u32 = 15;

/// The query string, read as Ghost reads it.
pub struct Params {
    /// Most items a page may hold: larger limits, and `limit=all`, get this
    /// many (as in Ghost 6.0), and clients page on with `meta.pagination`.
    /// The site's `api_max_limit` setting, 100 unless raised.
    pub max_limit: u32,
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

impl Default for Params {
    fn default() -> Params {
        Params {
            max_limit: masthead_store::API_MAX_LIMIT,
            key: None,
            include: Vec::new(),
            fields: None,
            formats: None,
            filter: None,
            limit: None,
            page: None,
            order: None,
        }
    }
}

/// The query string's parameters, with the site's page cap.
pub fn site_params(state: &AppState, raw: Vec<(String, String)>) -> Result<Params, ApiError> {
    let mut p = params(raw)?;
    p.max_limit = state.site().settings.api_max_limit;
    Ok(p)
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

/// The page size: `limit=N` or `limit=all`, never more than `p.max_limit`
/// (always `Some`; larger values are held to the cap, as Ghost does).
pub fn limit_of(p: &Params) -> Result<Option<u32>, ApiError> {
    let cap = p.max_limit.max(1);
    let n = match p.limit.as_deref().map(str::trim) {
        None | Some("") => DEFAULT_LIMIT,
        Some("all") => cap,
        Some(n) => match whole_number(n) {
            Some(Ok(0)) | None => {
                return Err(ApiError::validation(format!(
                    "limit must be a whole number from 1 (at most {cap} are returned), or all; {:?} is not.",
                    clip(n)
                ))
                .code("INVALID_LIMIT"));
            }
            Some(Ok(n)) => u32::try_from(n).unwrap_or(u32::MAX),
            // More digits than any count: the cap.
            Some(Err(TooLarge)) => cap,
        },
    };
    Ok(Some(n.min(cap)))
}

/// The page number, from 1, such that the rows it skips can be counted in
/// SQL's 64-bit integers with the given page size.
pub fn page_of(p: &Params) -> Result<u32, ApiError> {
    let refuse = |n: &str| {
        ApiError::validation(format!(
            "page must be a whole number from 1 to {}; {:?} is not.",
            u32::MAX,
            clip(n)
        ))
        .code("INVALID_PAGE")
    };
    let page = match p.page.as_deref().map(str::trim) {
        None | Some("") => return Ok(1),
        Some(n) => match whole_number(n) {
            Some(Ok(v)) if v >= 1 => u32::try_from(v).map_err(|_| refuse(n))?,
            _ => return Err(refuse(n)),
        },
    };
    let limit = limit_of(p)?.unwrap_or(p.max_limit);
    offset(page, limit).ok_or_else(|| refuse(p.page.as_deref().unwrap_or("")))?;
    Ok(page)
}

/// Rows skipped before `page` (from 1) of `limit` rows, if SQL can count them.
pub fn offset(page: u32, limit: u32) -> Option<i64> {
    i64::from(page.checked_sub(1)?).checked_mul(i64::from(limit))
}

struct TooLarge;

/// `Some(Ok(n))` for ASCII digits only (no sign, exponent or fraction),
/// `Some(Err(TooLarge))` for digits beyond `u64`, `None` for anything else.
fn whole_number(s: &str) -> Option<Result<u64, TooLarge>> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.parse::<u64>().map_err(|_| TooLarge))
}

/// At most 40 characters of a value, for an error message.
fn clip(s: &str) -> String {
    s.chars().take(40).collect()
}

pub fn pagination(page: u32, limit: Option<u32>, total: u64) -> Value {
    let (limit_v, pages) = match limit {
        Some(l) => (json!(l), total.div_ceil(u64::from(l.max(1))).max(1)),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn with(limit: Option<&str>, page: Option<&str>) -> Params {
        Params {
            limit: limit.map(str::to_owned),
            page: page.map(str::to_owned),
            ..Params::default()
        }
    }

    #[test]
    fn limits_are_whole_numbers_held_to_the_cap() {
        let limit = |v| limit_of(&with(Some(v), None)).map_err(|e| e.status);
        assert_eq!(limit_of(&with(None, None)).ok(), Some(Some(DEFAULT_LIMIT)));
        assert_eq!(limit("7").ok(), Some(Some(7)));
        assert_eq!(limit("all").ok(), Some(Some(100)));
        assert_eq!(limit("1000").ok(), Some(Some(100)));
        assert_eq!(limit("99999999999999999999999").ok(), Some(Some(100)));
        for bad in ["-1", "0", "1e9", "1.5", "ten", "+5", " ", "0x10"] {
            if bad.trim().is_empty() {
                continue;
            }
            assert_eq!(
                limit(bad).err(),
                Some(axum::http::StatusCode::UNPROCESSABLE_ENTITY),
                "{bad}"
            );
        }
        let mut p = with(Some("all"), None);
        p.max_limit = 500;
        assert_eq!(limit_of(&p).ok(), Some(Some(500)));
    }

    #[test]
    fn pages_never_overflow_the_offset() {
        let page = |v| page_of(&with(Some("100"), Some(v))).map_err(|e| e.status);
        assert_eq!(page("1").ok(), Some(1));
        assert_eq!(page("4294967295").ok(), Some(u32::MAX));
        for bad in ["0", "-1", "18446744073709551615", "4294967296", "1e3", "x"] {
            assert_eq!(
                page(bad).err(),
                Some(axum::http::StatusCode::UNPROCESSABLE_ENTITY),
                "{bad}"
            );
        }
        // SQL's OFFSET is a signed 64-bit integer: the product is checked.
        assert_eq!(offset(u32::MAX, u32::MAX), None);
        assert_eq!(
            offset(u32::MAX, 1_000),
            Some((i64::from(u32::MAX) - 1) * 1_000)
        );
        assert_eq!(offset(0, 10), None);
    }
}
