//! The Content API: `/ghost/api/content/{posts,pages,tags,authors,tiers,settings}/`,
//! read-only, authorised by a content key in `?key=`.

use axum::Router;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use masthead_domain::digest::fnv1a64;
use masthead_nql::{Condition, Filter, Op, Value as Nql};
use masthead_store::now_ms;
use masthead_store::{self as q, ApiKeyKind, Audience, Browse, Resource};
use serde_json::{Value, json};

use super::json::{self as out, PostOptions};
use super::query::{
    DEFAULT_LIMIT, Params, RawQuery, capital, filter_of, limit_of, order_of, page_of, pagination,
    params, query_or_400, site_params, site_tz,
};
use super::{ApiError, common_headers};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/posts/", get(browse_posts).options(preflight))
        .route("/posts/{id}/", get(read_post).options(preflight))
        .route(
            "/posts/slug/{slug}/",
            get(read_post_slug).options(preflight),
        )
        .route("/pages/", get(browse_pages).options(preflight))
        .route("/pages/{id}/", get(read_page).options(preflight))
        .route(
            "/pages/slug/{slug}/",
            get(read_page_slug).options(preflight),
        )
        .route("/tags/", get(browse_tags).options(preflight))
        .route("/tags/{id}/", get(read_tag).options(preflight))
        .route("/tags/slug/{slug}/", get(read_tag_slug).options(preflight))
        .route("/authors/", get(browse_authors).options(preflight))
        .route("/authors/{id}/", get(read_author).options(preflight))
        .route(
            "/authors/slug/{slug}/",
            get(read_author_slug).options(preflight),
        )
        .route("/tiers/", get(tiers).options(preflight))
        .route("/settings/", get(settings).options(preflight))
        .fallback(fallback)
}

/// CORS preflight: any origin may read the Content API.
async fn preflight() -> Response {
    let mut res = StatusCode::NO_CONTENT.into_response();
    let h = res.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, OPTIONS"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("accept-version, content-type"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    res
}

/// Ghost's URLs end in a slash; others are redirected there, unknown ones are 404.
async fn fallback(method: Method, OriginalUri(uri): OriginalUri) -> Response {
    let path = uri.path();
    if method == Method::GET && !path.ends_with('/') && !path.contains('.') {
        let target = match uri.query() {
            Some(qs) => format!("{path}/?{qs}"),
            None => format!("{path}/"),
        };
        return Redirect::permanent(&target).into_response();
    }
    ApiError::new(StatusCode::NOT_FOUND, "NotFoundError", "Resource not found").into_response()
}

async fn authorize(state: &AppState, p: &Params) -> Result<(), ApiError> {
    let Some(key) = p.key.as_deref() else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "NoPermissionError",
            "Authorization failed",
        )
        .context("Give a Content API key as ?key=… (create one in the desk under Integrations, or with `masthead key create content`)."));
    };
    let unknown = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "UnauthorizedError",
            "Unknown Content API Key",
        )
        .code("UNKNOWN_CONTENT_API_KEY")
    };
    if !super::keys::is_content_key(key) {
        return Err(unknown());
    }
    let key = key.to_ascii_lowercase();
    match state.store.live_api_key(ApiKeyKind::Content, key).await {
        Ok(Some((row, _))) => {
            super::keys::touch(state, row).await;
            Ok(())
        }
        Ok(None) => Err(unknown()),
        Err(e) => Err(ApiError::unavailable(e)),
    }
}

fn check_include(p: &Params, allowed: &[&str], what: &str) -> Result<(), ApiError> {
    for i in &p.include {
        if !allowed.contains(&i.as_str()) {
            return Err(
                ApiError::validation(format!("Validation error, cannot browse {what}.")).context(
                    format!("include={i} is not valid here; use {}.", allowed.join(", ")),
                ),
            );
        }
    }
    Ok(())
}

fn store_error(e: masthead_store::StoreError) -> ApiError {
    match e {
        masthead_store::StoreError::Invalid(m) => {
            ApiError::bad_request("Error parsing filter").context(m)
        }
        e => ApiError::unavailable(e),
    }
}

fn unwritable(e: serde_json::Error) -> ApiError {
    tracing::error!(error = %e, "api serialisation failed");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "InternalServerError",
        "The response could not be written.",
    )
}

/// A JSON body with Ghost's headers and a strong ETag (304 on a match).
fn respond(headers: &HeaderMap, body: &Value) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => respond_bytes(headers, bytes),
        Err(e) => unwritable(e).into_response(),
    }
}

/// [`respond`] for a body already serialised.
fn respond_bytes(headers: &HeaderMap, bytes: Vec<u8>) -> Response {
    let etag = format!("\"{:016x}\"", fnv1a64(&bytes));
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim().trim_start_matches("W/") == etag)
        });
    let mut res = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (StatusCode::OK, bytes).into_response()
    };
    let h = res.headers_mut();
    common_headers(h);
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=0"),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    res
}

/// `field:value` for reads by id or slug.
fn exact(field: &str, value: &str) -> Filter {
    Filter::Cond(Condition {
        field: field.to_owned(),
        op: Op::Eq,
        value: Nql::Str(value.to_owned()),
    })
}

enum Read {
    Browse,
    Id(String),
    Slug(String),
}

/// The client's filter, narrowed to one record for a read by id or slug.
fn read_filter(
    read: &Read,
    filter: Option<Filter>,
    singular: &str,
) -> Result<Option<Filter>, ApiError> {
    let one = match read {
        Read::Browse => return Ok(filter),
        Read::Id(id) => {
            if q::parse_id(id).is_none() {
                return Err(ApiError::not_found(&capital(singular)));
            }
            exact("id", id)
        }
        Read::Slug(slug) => exact("slug", slug),
    };
    Ok(Some(match filter {
        Some(f) => Filter::and([f, one]),
        None => one,
    }))
}

/// `{"posts": [...]}` for a read, with `meta.pagination` for a browse.
fn envelope(plural: &str, items: Vec<Value>, reading: bool, pagination: Value) -> Value {
    if reading {
        json!({ plural: items })
    } else {
        json!({ plural: items, "meta": { "pagination": pagination } })
    }
}

async fn posts(
    state: AppState,
    headers: HeaderMap,
    raw: Vec<(String, String)>,
    resource: Resource,
    read: Read,
) -> Result<Response, ApiError> {
    let p = site_params(&state, raw)?;
    authorize(&state, &p).await?;
    let (singular, plural) = match resource {
        Resource::Pages => ("page", "pages"),
        _ => ("post", "posts"),
    };
    check_include(&p, &["tags", "authors", "tiers"], singular)?;
    let formats = p.formats.clone().unwrap_or_else(|| vec!["html".into()]);
    for f in &formats {
        if !matches!(f.as_str(), "html" | "plaintext" | "mobiledoc" | "lexical") {
            return Err(ApiError::validation(format!(
                "Validation error, cannot browse {singular}."
            ))
            .context(format!("formats={f} is not valid; use html or plaintext.")));
        }
    }
    let reading = !matches!(read, Read::Browse);
    let filter = read_filter(&read, filter_of(&p, resource)?, singular)?;
    let b = Browse {
        resource,
        audience: Audience::Content,
        filter,
        order: order_of(&p)?,
        limit: if reading { Some(1) } else { limit_of(&p)? },
        page: if reading { 1 } else { page_of(&p)? },
        now_ms: now_ms(),
    };
    let (limit, page) = (b.limit, b.page);
    let base = state.public_url().to_owned();
    let tz = site_tz(&state);
    let include = |what: &str| p.include.iter().any(|i| i == what);
    let (tags, authors) = (include("tags"), include("authors"));
    let tiers = if include("tiers") {
        Some(state.store.tiers().await.map_err(ApiError::unavailable)?)
    } else {
        None
    };
    let html = formats.iter().any(|f| f == "html");
    let plaintext = formats.iter().any(|f| f == "plaintext");
    let fields = p.fields.clone();
    let plural = plural.to_owned();
    // The page is read and turned into JSON bytes on the blocking pool, under
    // a bulk slot: a hundred long posts are real work, and on the async
    // workers it would hold up every other request.
    let body = state
        .store
        .browse_posts_bulk_then(b, move |result| {
            if reading && result.items.is_empty() {
                return None;
            }
            let o = PostOptions {
                base: &base,
                tz: &tz,
                tags,
                authors,
                tiers: tiers.as_deref(),
                html,
                plaintext,
                admin: false,
            };
            let items: Vec<Value> = result
                .items
                .iter()
                .map(|post| out::only_fields(out::post(post, &o), fields.as_deref()))
                .collect();
            let body = envelope(
                &plural,
                items,
                reading,
                pagination(page, limit, result.total),
            );
            Some(serde_json::to_vec(&body))
        })
        .await
        .map_err(store_error)?;
    match body {
        None => Err(ApiError::not_found(&capital(singular))),
        Some(Ok(bytes)) => Ok(respond_bytes(&headers, bytes)),
        Some(Err(e)) => Err(unwritable(e)),
    }
}

async fn taxonomy(
    state: AppState,
    headers: HeaderMap,
    raw: Vec<(String, String)>,
    resource: Resource,
    read: Read,
) -> Result<Response, ApiError> {
    let p = site_params(&state, raw)?;
    authorize(&state, &p).await?;
    let (singular, plural) = match resource {
        Resource::Tags => ("tag", "tags"),
        _ => ("author", "authors"),
    };
    check_include(&p, &["count.posts"], singular)?;
    let reading = !matches!(read, Read::Browse);
    let filter = read_filter(&read, filter_of(&p, resource)?, singular)?;
    let b = Browse {
        resource,
        audience: Audience::Content,
        filter,
        order: order_of(&p)?,
        limit: if reading { Some(1) } else { limit_of(&p)? },
        page: if reading { 1 } else { page_of(&p)? },
        now_ms: now_ms(),
    };
    let (limit, page) = (b.limit, b.page);
    let count = p.include.iter().any(|i| i == "count.posts");
    let base = state.public_url();
    let (items, total): (Vec<Value>, u64) = if resource == Resource::Tags {
        let r = state.store.browse_tags_bulk(b).await.map_err(store_error)?;
        (
            r.items
                .iter()
                .map(|t| out::only_fields(out::tag(t, base, count), p.fields.as_deref()))
                .collect(),
            r.total,
        )
    } else {
        let r = state
            .store
            .browse_authors_bulk(b)
            .await
            .map_err(store_error)?;
        (
            r.items
                .iter()
                .map(|a| out::only_fields(out::api_author(a, base, count), p.fields.as_deref()))
                .collect(),
            r.total,
        )
    };
    if reading && items.is_empty() {
        return Err(ApiError::not_found(&capital(singular)));
    }
    let body = envelope(plural, items, reading, pagination(page, limit, total));
    Ok(respond(&headers, &body))
}

macro_rules! endpoint {
    ($name:ident, $inner:ident, $resource:expr, browse) => {
        async fn $name(
            State(state): State<AppState>,
            headers: HeaderMap,
            q: Result<RawQuery, axum::extract::rejection::QueryRejection>,
        ) -> Response {
            let run = async {
                let raw = query_or_400(q)?;
                $inner(state, headers, raw, $resource, Read::Browse).await
            };
            run.await.unwrap_or_else(IntoResponse::into_response)
        }
    };
    ($name:ident, $inner:ident, $resource:expr, $read:ident) => {
        async fn $name(
            State(state): State<AppState>,
            headers: HeaderMap,
            Path(key): Path<String>,
            q: Result<RawQuery, axum::extract::rejection::QueryRejection>,
        ) -> Response {
            let run = async {
                let raw = query_or_400(q)?;
                $inner(state, headers, raw, $resource, Read::$read(key)).await
            };
            run.await.unwrap_or_else(IntoResponse::into_response)
        }
    };
}

endpoint!(browse_posts, posts, Resource::Posts, browse);
endpoint!(read_post, posts, Resource::Posts, Id);
endpoint!(read_post_slug, posts, Resource::Posts, Slug);
endpoint!(browse_pages, posts, Resource::Pages, browse);
endpoint!(read_page, posts, Resource::Pages, Id);
endpoint!(read_page_slug, posts, Resource::Pages, Slug);
endpoint!(browse_tags, taxonomy, Resource::Tags, browse);
endpoint!(read_tag, taxonomy, Resource::Tags, Id);
endpoint!(read_tag_slug, taxonomy, Resource::Tags, Slug);
endpoint!(browse_authors, taxonomy, Resource::Authors, browse);
endpoint!(read_author, taxonomy, Resource::Authors, Id);
endpoint!(read_author_slug, taxonomy, Resource::Authors, Slug);

/// `GET /tiers/`: the tiers offered on the site (active, visibility
/// public), free first; `include=monthly_price,yearly_price,benefits` adds
/// prices (minor units of `currency`) and benefits, as in Ghost.
async fn tiers(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: Result<RawQuery, axum::extract::rejection::QueryRejection>,
) -> Response {
    let run = async {
        let p = params(query_or_400(q)?)?;
        authorize(&state, &p).await?;
        check_include(&p, &["monthly_price", "yearly_price", "benefits"], "tiers")?;
        let filter = tier_filter(p.filter.as_deref())?;
        let tz = site_tz(&state);
        let inc = out::TierIncludes {
            prices: p
                .include
                .iter()
                .any(|i| i == "monthly_price" || i == "yearly_price"),
            benefits: p.include.iter().any(|i| i == "benefits"),
        };
        let all = state.store.tiers().await.map_err(ApiError::unavailable)?;
        let items: Vec<Value> = all
            .iter()
            .filter(|t| t.active && t.visibility == "public")
            .filter(|t| filter.as_ref().is_none_or(|f| tier_matches(f, t)))
            .map(|t| out::only_fields(out::tier(t, &tz, inc), p.fields.as_deref()))
            .collect();
        let total = items.len() as u64;
        Ok::<_, ApiError>(respond(
            &headers,
            &json!({ "tiers": items, "meta": { "pagination": pagination(1, Some(DEFAULT_LIMIT.max(total as u32)), total) } }),
        ))
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}

/// A tiers filter (`type:paid`, `slug:[gold,silver]`…) over the few fields
/// a tier has: `id`, `slug`, `name`, `type`, `visibility`, `active`.
pub(crate) fn tier_filter(raw: Option<&str>) -> Result<Option<Filter>, ApiError> {
    let Some(raw) = raw.filter(|r| !r.trim().is_empty()) else {
        return Ok(None);
    };
    let f = masthead_nql::parse(raw)
        .map_err(|e| ApiError::bad_request("Error parsing filter").context(e.to_string()))?;
    for c in f.conditions() {
        let known = matches!(
            c.field.as_str(),
            "id" | "slug" | "name" | "type" | "visibility" | "active"
        );
        let op = matches!(c.op, Op::Eq | Op::Ne | Op::In | Op::NotIn);
        if !known || !op {
            return Err(ApiError::bad_request("Error parsing filter").context(format!(
                "tiers filter on id, slug, name, type, visibility or active, with : - [] only; not {}",
                c.field
            )));
        }
    }
    Ok(Some(f))
}

pub(crate) fn tier_matches(f: &Filter, t: &q::Tier) -> bool {
    match f {
        Filter::And(parts) => parts.iter().all(|p| tier_matches(p, t)),
        Filter::Or(parts) => parts.iter().any(|p| tier_matches(p, t)),
        Filter::Cond(c) => {
            let is = |v: &Nql| -> bool {
                match (c.field.as_str(), v) {
                    ("active", Nql::Bool(b)) => t.active == *b,
                    ("id", Nql::Str(s)) => q::parse_id(s) == Some(t.id),
                    ("id", Nql::Int(i)) => *i == t.id,
                    ("slug", Nql::Str(s)) => t.slug == *s,
                    ("name", Nql::Str(s)) => t.name == *s,
                    ("type", Nql::Str(s)) => t.kind == *s,
                    ("visibility", Nql::Str(s)) => t.visibility == *s,
                    _ => false,
                }
            };
            let any = || match &c.value {
                Nql::List(vs) => vs.iter().any(is),
                v => is(v),
            };
            match c.op {
                Op::Eq | Op::In => any(),
                Op::Ne | Op::NotIn => !any(),
                _ => false,
            }
        }
    }
}

async fn settings(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: Result<RawQuery, axum::extract::rejection::QueryRejection>,
) -> Response {
    let run = async {
        let p = params(query_or_400(q)?)?;
        authorize(&state, &p).await?;
        let base = state.public_url();
        let site = state.site();
        let s = &site.settings;
        let navigation: Vec<Value> = std::iter::once(json!({ "label": "News Feed", "url": "/" }))
            .chain(
                site.sections
                    .iter()
                    .map(|t| json!({ "label": t.name, "url": format!("/section/{}/", t.slug) })),
            )
            .chain(std::iter::once(
                json!({ "label": "Video", "url": "/video/" }),
            ))
            .collect();
        let body = json!({
            "settings": {
                "title": s.title,
                "description": s.description,
                "logo": s.logo.as_deref().map(|l| format!("{base}{l}")),
                "icon": null,
                "accent_color": s.accent,
                "cover_image": null,
                "facebook": null,
                "twitter": null,
                "lang": s.locale.split('-').next().unwrap_or("en"),
                "locale": s.locale,
                "timezone": s.timezone,
                "codeinjection_head": null,
                "codeinjection_foot": null,
                "navigation": navigation,
                "secondary_navigation": [],
                "meta_title": null,
                "meta_description": null,
                "og_image": null, "og_title": null, "og_description": null,
                "twitter_image": null, "twitter_title": null, "twitter_description": null,
                "members_support_address": "noreply",
                "members_enabled": true,
                "members_invite_only": false,
                "allow_self_signup": true,
                "paid_members_enabled": false,
                "comments_enabled": "off",
                "recommendations_enabled": false,
                "url": format!("{base}/"),
                "version": "5.0",
            },
            "meta": {}
        });
        Ok::<_, ApiError>(respond(&headers, &body))
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}
