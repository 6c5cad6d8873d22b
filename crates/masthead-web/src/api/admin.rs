//! The Admin API: `/ghost/api/admin/`. Integrations authenticate with a JWT
//! signed by their admin key (`Authorization: Ghost <token>`); staff with
//! their desk session. Posts and pages (browse, read, add, edit with
//! `updated_at` collision detection, delete; `?source=html`), tags, members
//! (with labels, newsletters, note and status), newsletters, tiers, image
//! upload and site info.

use axum::Router;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{DefaultBodyLimit, OriginalUri, Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use masthead_domain::editorial::{self, Actor, PostState, Refused, Sight};
use masthead_domain::{Action, Email, PostKind, PostStatus, Role, Visibility, permits};
use masthead_render::sanitize_html;
use masthead_store::{
    self as q, ApiKeyKind, Audience, Browse, CreatePost, NewPost, PostEdit, PostExtras, Resource,
    SavePost, Seo, StoreError, format_id, now_ms,
};
use serde_json::{Value, json};

use super::json::{self as out, PostOptions};
use super::query::{
    RawQuery, capital, filter_of, limit_of, order_of, page_of, pagination, query_or_400,
    site_params, site_tz,
};
use super::{ApiError, common_headers};
use crate::state::AppState;

/// JSON bodies (a long read in HTML) and image uploads.
const JSON_LIMIT: usize = 4 * 1024 * 1024;

pub fn routes() -> Router<AppState> {
    let uploads = Router::new()
        .route("/images/upload/", post(upload_image))
        .layer(DefaultBodyLimit::max(
            crate::admin::media::UPLOAD_BODY_LIMIT,
        ));
    Router::new()
        .route("/site/", get(site))
        .route("/posts/", get(browse_posts).post(add_post))
        .route(
            "/posts/{id}/",
            get(read_post).put(edit_post).delete(delete_post),
        )
        .route("/posts/slug/{slug}/", get(read_post_slug))
        .route("/pages/", get(browse_pages).post(add_page))
        .route(
            "/pages/{id}/",
            get(read_page).put(edit_page).delete(delete_page),
        )
        .route("/pages/slug/{slug}/", get(read_page_slug))
        .route("/tags/", get(browse_tags).post(add_tag))
        .route(
            "/tags/{id}/",
            get(read_tag).put(edit_tag).delete(delete_tag),
        )
        .route("/members/", get(browse_members).post(add_member))
        .route("/members/{id}/", get(read_member).put(edit_member))
        .route(
            "/newsletters/",
            get(browse_newsletters).post(add_newsletter),
        )
        .route(
            "/newsletters/{id}/",
            get(read_newsletter).put(edit_newsletter),
        )
        .route("/tiers/", get(browse_tiers).post(add_tier))
        .route("/tiers/{id}/", get(read_tier).put(edit_tier))
        .layer(DefaultBodyLimit::max(JSON_LIMIT))
        .merge(uploads)
        .fallback(fallback)
}

async fn fallback(method: Method, OriginalUri(uri): OriginalUri) -> Response {
    let _ = (method, uri);
    ApiError::new(StatusCode::NOT_FOUND, "NotFoundError", "Resource not found").into_response()
}

/// Who is calling.
struct Caller {
    role: Role,
    /// A staff member (session) or an integration (admin key).
    staff_id: Option<i64>,
    author_id: Option<i64>,
}

impl Caller {
    fn may(&self, action: Action) -> Result<(), ApiError> {
        if permits(self.role, action) {
            Ok(())
        } else {
            Err(refused(Refused(action)))
        }
    }

    /// Who acts, for the editorial rules: an admin key acts as an
    /// integration (an administrator without a byline), as in Ghost.
    fn actor(&self) -> Actor {
        match self.staff_id {
            Some(_) => Actor::staff(self.role, self.author_id),
            None => Actor::integration(),
        }
    }

    /// Which posts this caller may browse and read: what the desk shows them.
    fn audience(&self) -> Audience {
        match editorial::sight(&self.actor()) {
            Sight::All => Audience::Admin,
            Sight::Byline(b) => Audience::AdminByline(b),
        }
    }
}

fn refused(r: Refused) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "NoPermissionError",
        "You do not have permission to perform this action",
    )
    .context(format!(
        "Your role does not allow you to {}.",
        r.0.describe()
    ))
}

fn invalid(e: editorial::EditorialError) -> ApiError {
    ApiError::validation(e.to_string())
}

async fn caller(state: &AppState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let unauthorized = |m: &str| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "UnauthorizedError",
            "Authorization failed",
        )
        .context(m.to_owned())
    };
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value
            .to_str()
            .map_err(|_| unauthorized("unreadable header"))?;
        let Some(token) = value.strip_prefix("Ghost ") else {
            return Err(unauthorized(
                "Use `Authorization: Ghost <token>`, a JWT signed with an admin API key.",
            ));
        };
        let jwt = super::jwt::parse(token.trim()).map_err(|e| unauthorized(e.0))?;
        let kid = jwt.kid.clone();
        let key = state
            .store
            .live_api_key(ApiKeyKind::Admin, kid)
            .await
            .map_err(ApiError::unavailable)?;
        let Some((row, Some(secret))) = key else {
            return Err(unauthorized("Unknown Admin API Key").code("UNKNOWN_ADMIN_API_KEY"));
        };
        jwt.verify(&secret, now_ms() / 1_000)
            .map_err(|e| unauthorized(&format!("Invalid token: {}", e.0)))?;
        super::keys::touch(state, row).await;
        return Ok(Caller {
            role: Role::Administrator,
            staff_id: None,
            author_id: None,
        });
    }
    match crate::admin::session_of(state, headers).await {
        Ok(Some(s)) => Ok(Caller {
            role: s.user.role,
            staff_id: Some(s.user.id),
            author_id: s.user.author_id,
        }),
        Ok(None) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "NoPermissionError",
            "Authorization failed",
        )
        .context("Send `Authorization: Ghost <token>` signed with an admin API key, or sign in to the desk.")),
        Err(e) => Err(ApiError::unavailable(e)),
    }
}

fn respond(status: StatusCode, body: &Value) -> Response {
    let mut res = (status, axum::Json(body)).into_response();
    let h = res.headers_mut();
    common_headers(h);
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private, no-store, must-revalidate, max-stale=0"),
    );
    res
}

fn param<'a>(raw: &'a [(String, String)], name: &str) -> Option<&'a str> {
    raw.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

async fn site(State(state): State<AppState>) -> Response {
    let base = state.public_url();
    let s = state.site().settings.clone();
    respond(
        StatusCode::OK,
        &json!({ "site": {
            "title": s.title,
            "description": s.description,
            "logo": s.logo.as_deref().map(|l| format!("{base}{l}")),
            "icon": null,
            "accent_color": s.accent,
            "locale": s.locale,
            "url": format!("{base}/"),
            "version": "5.0",
        }}),
    )
}

// --------------------------------------------------------------- posts --

fn resource_of(kind_page: bool) -> (Resource, &'static str, &'static str) {
    if kind_page {
        (Resource::Pages, "page", "pages")
    } else {
        (Resource::Posts, "post", "posts")
    }
}

fn browse_of(
    state: &AppState,
    resource: Resource,
    raw: &[(String, String)],
    filter: Option<masthead_nql::Filter>,
) -> Result<Browse, ApiError> {
    let p = site_params(state, raw.to_vec())?;
    let filter = match (filter_of(&p, resource)?, filter) {
        (Some(a), Some(b)) => Some(masthead_nql::Filter::and([a, b])),
        (a, b) => a.or(b),
    };
    Ok(Browse {
        resource,
        audience: Audience::Admin,
        filter,
        order: order_of(&p)?,
        limit: limit_of(&p)?,
        page: page_of(&p)?,
        now_ms: now_ms(),
    })
}

fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::Invalid(m) => ApiError::validation(m),
        StoreError::Conflict(m) => ApiError::validation(m),
        StoreError::NotFound => ApiError::not_found("Resource"),
        e => ApiError::unavailable(e),
    }
}

async fn load_post(
    state: &AppState,
    resource: Resource,
    id: i64,
) -> Result<Option<q::ApiPost>, ApiError> {
    let b = Browse {
        resource,
        audience: Audience::Admin,
        filter: Some(masthead_nql::Filter::Cond(masthead_nql::Condition {
            field: "id".into(),
            op: masthead_nql::Op::Eq,
            value: masthead_nql::Value::Int(id),
        })),
        order: Vec::new(),
        limit: Some(1),
        page: 1,
        now_ms: now_ms(),
    };
    Ok(state
        .store
        .browse_posts(b)
        .await
        .map_err(store_error)?
        .items
        .into_iter()
        .next())
}

fn print_post(state: &AppState, p: &q::ApiPost, raw: &[(String, String)]) -> Value {
    let base = state.public_url();
    let tz = site_tz(state);
    let formats: Vec<&str> = param(raw, "formats").map_or(vec!["html"], |f| f.split(',').collect());
    let o = PostOptions {
        base,
        tz: &tz,
        tags: true,
        authors: true,
        tiers: None,
        html: formats.contains(&"html"),
        plaintext: formats.contains(&"plaintext"),
        admin: true,
    };
    out::post(p, &o)
}

async fn browse(
    state: AppState,
    headers: HeaderMap,
    raw: Vec<(String, String)>,
    page_kind: bool,
) -> Result<Response, ApiError> {
    let who = caller(&state, &headers).await?;
    let (resource, _, plural) = resource_of(page_kind);
    let mut b = browse_of(&state, resource, &raw, None)?;
    b.audience = who.audience();
    let (limit, page) = (b.limit, b.page);
    let r = state
        .store
        .browse_posts_bulk(b)
        .await
        .map_err(|e| match e {
            StoreError::Invalid(m) => ApiError::bad_request("Error parsing filter").context(m),
            e => store_error(e),
        })?;
    let items: Vec<Value> = r
        .items
        .iter()
        .map(|p| print_post(&state, p, &raw))
        .collect();
    Ok(respond(
        StatusCode::OK,
        &json!({ plural: items, "meta": { "pagination": pagination(page, limit, r.total) } }),
    ))
}

async fn read(
    state: AppState,
    headers: HeaderMap,
    raw: Vec<(String, String)>,
    page_kind: bool,
    by: (&'static str, String),
) -> Result<Response, ApiError> {
    let who = caller(&state, &headers).await?;
    let (resource, singular, plural) = resource_of(page_kind);
    if by.0 == "id" && q::parse_id(&by.1).is_none() {
        return Err(ApiError::not_found(&capital(singular)));
    }
    let filter = masthead_nql::Filter::Cond(masthead_nql::Condition {
        field: by.0.into(),
        op: masthead_nql::Op::Eq,
        value: masthead_nql::Value::Str(by.1),
    });
    let mut b = browse_of(&state, resource, &[], Some(filter))?;
    b.limit = Some(1);
    // Others' posts are not found for those who may not see them.
    b.audience = who.audience();
    let r = state.store.browse_posts(b).await.map_err(store_error)?;
    let Some(p) = r.items.first() else {
        return Err(ApiError::not_found(&capital(singular)));
    };
    Ok(respond(
        StatusCode::OK,
        &json!({ plural: [print_post(&state, p, &raw)] }),
    ))
}

/// The one object in `{"posts": [ {...} ]}`.
fn first_object<'a>(
    body: &'a Value,
    plural: &str,
) -> Result<&'a serde_json::Map<String, Value>, ApiError> {
    body.get(plural)
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(Value::as_object)
        .ok_or_else(|| {
            ApiError::validation(format!(
                "No {plural} found in the request body: send {{\"{plural}\": [{{...}}]}}."
            ))
        })
}

fn text(o: &serde_json::Map<String, Value>, k: &str) -> Option<String> {
    o.get(k).and_then(Value::as_str).map(str::to_owned)
}

fn parse_ts(v: &Value, field: &str) -> Result<Option<i64>, ApiError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => s
            .parse::<jiff::Timestamp>()
            .map(|t| Some(t.as_millisecond()))
            .map_err(|_| ApiError::validation(format!("{field} must be an ISO 8601 date."))),
        _ => Err(ApiError::validation(format!(
            "{field} must be an ISO 8601 date."
        ))),
    }
}

/// The fields of an add or edit, checked.
struct Incoming {
    title: Option<String>,
    slug: Option<String>,
    html: Option<String>,
    status: Option<PostStatus>,
    published_ms: Option<Option<i64>>,
    dek: Option<String>,
    visibility: Option<Visibility>,
    seo: Option<Seo>,
    extras: PostExtras,
    tags: Option<Vec<(String, String)>>,
    authors: Option<Vec<Value>>,
    /// `tiers` as sent: objects with an `id` or a `slug`.
    tiers: Option<Vec<Value>>,
    updated_ms: Option<i64>,
}

fn incoming(o: &serde_json::Map<String, Value>, source_html: bool) -> Result<Incoming, ApiError> {
    let html = match (o.get("html"), source_html) {
        (Some(Value::String(h)), true) => Some(h.clone()),
        (Some(Value::String(_)), false) => {
            return Err(ApiError::validation(
                "Send HTML with ?source=html (Masthead stores HTML or Markdown, not mobiledoc or lexical).",
            ));
        }
        _ => None,
    };
    if html.is_none() && (o.contains_key("lexical") || o.contains_key("mobiledoc")) {
        let has_content = |k: &str| o.get(k).is_some_and(|v| !v.is_null());
        if has_content("lexical") || has_content("mobiledoc") {
            return Err(ApiError::validation(
                "Lexical and mobiledoc bodies are not accepted here: send HTML with ?source=html.",
            ));
        }
    }
    let status = match text(o, "status").as_deref() {
        None => None,
        Some("draft") => Some(PostStatus::Draft),
        Some("published") => Some(PostStatus::Published),
        Some("scheduled") => Some(PostStatus::Scheduled),
        Some(other) => {
            return Err(ApiError::validation(format!(
                "status must be draft, published or scheduled, not {other:?}."
            )));
        }
    };
    let visibility = match text(o, "visibility").as_deref() {
        None => None,
        Some(v) => Some(Visibility::parse(v).map_err(|_| {
            ApiError::validation("visibility must be public, members, paid or tiers.")
        })?),
    };
    let tags = match o.get("tags") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => {
            let mut v = Vec::new();
            for t in items {
                let (slug, name) = match t {
                    Value::String(name) => (None, name.clone()),
                    Value::Object(m) => (text(m, "slug"), text(m, "name").unwrap_or_default()),
                    _ => {
                        return Err(ApiError::validation(
                            "tags must be names or {\"name\"/\"slug\"} objects.",
                        ));
                    }
                };
                let slug = editorial::tag_slug(slug.as_deref(), &name)
                    .map_err(invalid)?
                    .into_string();
                let name = if name.trim().is_empty() {
                    slug.clone()
                } else {
                    name.trim().to_owned()
                };
                v.push((slug, name));
            }
            Some(v)
        }
        Some(_) => return Err(ApiError::validation("tags must be a list.")),
    };
    let authors = match o.get("authors") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => Some(a.clone()),
        Some(_) => return Err(ApiError::validation("authors must be a list.")),
    };
    let tiers = match o.get("tiers") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => Some(a.clone()),
        Some(_) => return Err(ApiError::validation("tiers must be a list.")),
    };
    let seo = if ["meta_title", "meta_description", "canonical_url"]
        .iter()
        .any(|k| o.contains_key(*k))
    {
        Some(Seo {
            meta_title: text(o, "meta_title").unwrap_or_default(),
            meta_description: text(o, "meta_description").unwrap_or_default(),
            canonical_url: text(o, "canonical_url").unwrap_or_default(),
        })
    } else {
        None
    };
    let extras = PostExtras {
        featured: o.get("featured").and_then(Value::as_bool),
        feature_image: match o.get("feature_image") {
            None => None,
            Some(Value::Null) => Some(None),
            Some(Value::String(u))
                if u.starts_with("https://") || u.starts_with("http://") || u.starts_with('/') =>
            {
                Some(Some(u.clone()))
            }
            Some(_) => return Err(ApiError::validation("feature_image must be a URL.")),
        },
        feature_image_alt: text(o, "feature_image_alt"),
        feature_image_caption: text(o, "feature_image_caption"),
        tier_ids: None,
    };
    Ok(Incoming {
        title: text(o, "title"),
        slug: text(o, "slug"),
        html,
        status,
        published_ms: match o.get("published_at") {
            None => None,
            Some(v) => Some(parse_ts(v, "published_at")?),
        },
        dek: text(o, "custom_excerpt"),
        visibility,
        seo,
        extras,
        tags,
        authors,
        tiers,
        updated_ms: match o.get("updated_at") {
            None => None,
            Some(v) => parse_ts(v, "updated_at")?,
        },
    })
}

/// Author ids for `authors` given as ids, slugs or e-mail addresses.
async fn resolve_authors(state: &AppState, given: &[Value]) -> Result<Vec<i64>, ApiError> {
    let (known, _) = state
        .store
        .all_authors_and_tags()
        .await
        .map_err(ApiError::unavailable)?;
    let staff = state
        .store
        .staff_users()
        .await
        .map_err(ApiError::unavailable)?;
    let mut ids = Vec::new();
    for a in given {
        let m = a.as_object();
        let get = |k: &str| {
            m.and_then(|m| m.get(k))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let found = if let Some(id) = get("id").and_then(|i| q::parse_id(&i)) {
            known.iter().find(|k| k.0 == id).map(|k| k.0)
        } else if let Some(slug) = get("slug").or_else(|| a.as_str().map(str::to_owned)) {
            known.iter().find(|k| k.1 == slug).map(|k| k.0)
        } else if let Some(email) = get("email") {
            staff
                .iter()
                .find(|u| u.email.eq_ignore_ascii_case(&email))
                .and_then(|u| u.author_id)
        } else {
            None
        };
        match found {
            Some(id) if !ids.contains(&id) => ids.push(id),
            Some(_) => {}
            None => return Err(ApiError::validation(format!("No author matches {a}."))),
        }
    }
    Ok(ids)
}

/// The byline of posts created without naming authors: the staff member's
/// own (none if they have no byline); for an integration, the owner's.
async fn default_author(state: &AppState, caller: &Caller) -> Result<Vec<i64>, ApiError> {
    if caller.staff_id.is_some() {
        return Ok(caller.author_id.into_iter().collect());
    }
    let staff = state
        .store
        .staff_users()
        .await
        .map_err(ApiError::unavailable)?;
    if let Some(a) = staff
        .iter()
        .filter(|u| u.active)
        .find(|u| u.role == Role::Owner)
        .and_then(|u| u.author_id)
    {
        return Ok(vec![a]);
    }
    let (known, _) = state
        .store
        .all_authors_and_tags()
        .await
        .map_err(ApiError::unavailable)?;
    Ok(known.first().map(|k| vec![k.0]).unwrap_or_default())
}

async fn add(
    state: AppState,
    headers: HeaderMap,
    raw: Vec<(String, String)>,
    page_kind: bool,
    body: Value,
) -> Result<Response, ApiError> {
    let who = caller(&state, &headers).await?;
    who.may(Action::CreatePost)?;
    let (resource, _, plural) = resource_of(page_kind);
    let o = first_object(&body, plural)?;
    let source_html = param(&raw, "source") == Some("html");
    let inc = incoming(o, source_html)?;
    let title = editorial::title(inc.title.as_deref().unwrap_or(""))
        .map_err(invalid)?
        .to_owned();
    let status = inc.status.unwrap_or(PostStatus::Draft);
    let now = now_ms();
    let published_ms = match status {
        PostStatus::Draft => None,
        PostStatus::Published => Some(inc.published_ms.flatten().unwrap_or(now)),
        PostStatus::Scheduled => match inc.published_ms.flatten() {
            Some(t) if t > now => Some(t),
            _ => {
                return Err(ApiError::validation(
                    "A scheduled post needs a published_at in the future.",
                ));
            }
        },
    };
    let author_ids = match &inc.authors {
        Some(a) if !a.is_empty() => resolve_authors(&state, a).await?,
        _ => default_author(&state, &who).await?,
    };
    let actor = who.actor();
    editorial::may_create(
        &actor,
        &PostState {
            status,
            published_ms,
            bylines: &author_ids,
        },
    )
    .map_err(refused)?;
    let tags = inc.tags.clone().unwrap_or_default();
    may_tag(&state, &actor, &tags).await?;
    let image = inc
        .extras
        .feature_image
        .as_ref()
        .is_some_and(Option::is_some);
    let alt = inc.extras.feature_image_alt.as_deref().unwrap_or("");
    editorial::feature_alt(status, image, alt).map_err(invalid)?;
    let html = sanitize_html(inc.html.as_deref().unwrap_or(""));
    let reading = masthead_domain::ReadingTime::of_html(
        &html,
        inc.extras
            .feature_image
            .as_ref()
            .is_some_and(Option::is_some),
    );
    let base = editorial::post_slug(inc.slug.as_deref(), &title).map_err(invalid)?;
    let kind = if page_kind {
        PostKind::Page
    } else {
        PostKind::Article
    };
    let visibility = inc.visibility.unwrap_or(Visibility::Public);
    let dek = inc.dek.clone().unwrap_or_default();
    let seo = inc.seo.clone();
    let mut extras = inc.extras.clone();
    if let Some(list) = &inc.tiers {
        extras.tier_ids = Some(tier_ids_of(&state, list).await?);
    }
    let email = match status {
        PostStatus::Published => email_request(&state, &raw, None).await?,
        _ => None,
    };
    let id = state
        .store
        .create_post(CreatePost {
            base_slug: base,
            post: NewPost {
                kind,
                slug: String::new(),
                title,
                dek,
                body_source: html.clone(),
                body_html: html,
                word_count: reading.words,
                reading_minutes: reading.minutes,
                status,
                visibility,
                image: None,
                video: None,
                published_ms,
                updated_ms: now,
                tag_ids: Vec::new(),
                author_ids,
            },
            tags_by_slug: tags,
            extras: Some(extras),
            seo,
        })
        .await
        .map_err(store_error)?;
    crate::changes::invalidate_post_now(&state, id).await;
    state.wrote.notify_one();
    if let Some(request) = email {
        send_email(&state, id, request, who.staff_id).await?;
    }
    let p = load_post(&state, resource, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Post"))?;
    let mut res = respond(
        StatusCode::CREATED,
        &json!({ plural: [print_post(&state, &p, &raw)] }),
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{}/ghost/api/admin/{plural}/{}/",
        state.public_url(),
        format_id(id)
    )) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    Ok(res)
}

/// Refuses tags that do not exist yet unless the caller may create tags:
/// naming a new tag on a post creates it.
async fn may_tag(
    state: &AppState,
    actor: &Actor,
    tags: &[(String, String)],
) -> Result<(), ApiError> {
    let Err(no) = editorial::may_create_tags(actor) else {
        return Ok(());
    };
    if tags.is_empty() {
        return Ok(());
    }
    let (_, known) = state
        .store
        .all_authors_and_tags()
        .await
        .map_err(ApiError::unavailable)?;
    if tags
        .iter()
        .all(|(slug, _)| known.iter().any(|k| &k.1 == slug))
    {
        Ok(())
    } else {
        Err(refused(no))
    }
}

/// A post's state for the editorial rules.
fn state_of(p: &q::ApiPost) -> (PostStatus, Option<i64>, Vec<i64>) {
    (
        PostStatus::parse(&p.status).unwrap_or(PostStatus::Draft),
        p.published_ms,
        p.authors.iter().map(|a| a.id).collect(),
    )
}

async fn edit(
    state: AppState,
    headers: HeaderMap,
    raw: Vec<(String, String)>,
    page_kind: bool,
    id: String,
    body: Value,
) -> Result<Response, ApiError> {
    let who = caller(&state, &headers).await?;
    let (resource, singular, plural) = resource_of(page_kind);
    let id = q::parse_id(&id).ok_or_else(|| ApiError::not_found(&capital(singular)))?;
    let current = load_post(&state, resource, id)
        .await?
        .ok_or_else(|| ApiError::not_found(&capital(singular)))?;
    let actor = who.actor();
    let (current_status, current_published, current_bylines) = state_of(&current);
    let before = PostState {
        status: current_status,
        published_ms: current_published,
        bylines: &current_bylines,
    };
    editorial::may_open_for_editing(&actor, &before).map_err(refused)?;
    let o = first_object(&body, plural)?;
    let inc = incoming(o, param(&raw, "source") == Some("html"))?;
    let Some(version) = inc.updated_ms else {
        return Err(ApiError::validation("Validation (FieldIsRequired) failed for updated_at")
            .context("Send the updated_at you read, so that two people editing at once get a conflict, not a lost edit."));
    };
    if version != current.updated_ms {
        return Err(collision());
    }
    let status = inc.status.unwrap_or(current_status);
    let now = now_ms();
    let published_ms = match status {
        PostStatus::Draft => None,
        PostStatus::Published => Some(
            inc.published_ms
                .flatten()
                .or(current
                    .published_ms
                    .filter(|_| current_status == PostStatus::Published))
                .unwrap_or(now),
        ),
        PostStatus::Scheduled => match inc.published_ms.flatten().or(current.published_ms) {
            Some(t) if t > now => Some(t),
            _ => {
                return Err(ApiError::validation(
                    "A scheduled post needs a published_at in the future.",
                ));
            }
        },
    };
    let author_ids = match &inc.authors {
        Some(a) if !a.is_empty() => Some(resolve_authors(&state, a).await?),
        _ => None,
    };
    // "Own" is judged on the bylines before and after this change.
    editorial::may_edit(
        &actor,
        &before,
        &PostState {
            status,
            published_ms,
            bylines: author_ids.as_deref().unwrap_or(&current_bylines),
        },
    )
    .map_err(refused)?;
    let title = match &inc.title {
        Some(t) => editorial::title(t).map_err(invalid)?.to_owned(),
        None => current.title.clone(),
    };
    let tags = inc.tags.clone();
    may_tag(&state, &actor, tags.as_deref().unwrap_or_default()).await?;
    let image = match &inc.extras.feature_image {
        Some(i) => i.is_some(),
        None => current.feature_image.is_some(),
    };
    let alt = inc
        .extras
        .feature_image_alt
        .as_deref()
        .unwrap_or(&current.feature_image_alt);
    editorial::feature_alt(status, image, alt).map_err(invalid)?;
    let (body_source, body_html, words, minutes) = match &inc.html {
        Some(h) => {
            let html = sanitize_html(h);
            let r = masthead_domain::ReadingTime::of_html(&html, current.feature_image.is_some());
            (html.clone(), html, r.words, r.minutes)
        }
        None => (
            current.body_source.clone(),
            current.body_html.clone(),
            masthead_domain::ReadingTime::of_html(
                &current.body_html,
                current.feature_image.is_some(),
            )
            .words,
            current.reading_minutes,
        ),
    };
    let slug = match &inc.slug {
        Some(s) => editorial::post_slug(Some(s), &title)
            .map_err(invalid)?
            .into_string(),
        None => current.slug.clone(),
    };
    let edit = PostEdit {
        tier_ids: None,
        title,
        dek: inc.dek.clone().unwrap_or(current.dek.clone()),
        slug,
        body_source,
        body_html,
        word_count: words,
        reading_minutes: minutes,
        status,
        published_ms,
        tag_ids: None,
        author_ids,
        seo: inc.seo.clone(),
        feature: None,
        visibility: inc.visibility,
        video_embed: None,
        autosave: false,
    };
    let mut extras = inc.extras.clone();
    if let Some(list) = &inc.tiers {
        extras.tier_ids = Some(tier_ids_of(&state, list).await?);
    }
    let staff = who.staff_id;
    // Ghost e-mails a post when a call publishes it and names a newsletter.
    let email = if status == PostStatus::Published && current_status != PostStatus::Published {
        email_request(&state, &raw, Some(id)).await?
    } else {
        None
    };
    crate::changes::invalidate_post_now(&state, id).await;
    state
        .store
        .save_post(SavePost {
            id,
            version,
            edit,
            tags_by_slug: tags,
            extras: Some(extras),
            staff_id: staff,
            now,
        })
        .await
        .map_err(|e| match e {
            StoreError::Conflict(m) if m.contains("someone else") => collision(),
            e => store_error(e),
        })?;
    crate::changes::invalidate_post_now(&state, id).await;
    state.wrote.notify_one();
    if let Some(request) = email {
        send_email(&state, id, request, staff).await?;
    }
    let p = load_post(&state, resource, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Post"))?;
    Ok(respond(
        StatusCode::OK,
        &json!({ plural: [print_post(&state, &p, &raw)] }),
    ))
}

fn already_sent() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "ConflictError",
        "This post has already been sent to that newsletter; a post is e-mailed at most once per newsletter.",
    )
}

/// `?newsletter=<slug>&email_segment=all|status:free|status:-free` on a call
/// that publishes: the newsletter and segment to e-mail the post to, checked
/// before anything is saved (a second send to one newsletter is refused).
async fn email_request(
    state: &AppState,
    raw: &[(String, String)],
    post_id: Option<i64>,
) -> Result<Option<(i64, masthead_store::Segment)>, ApiError> {
    let Some(slug) = param(raw, "newsletter").filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let segment = masthead_store::Segment::parse(param(raw, "email_segment").unwrap_or("all"))
        .ok_or_else(|| {
            ApiError::validation("email_segment must be all, status:free or status:-free.")
        })?;
    let newsletter = state
        .store
        .newsletters()
        .await
        .map_err(store_error)?
        .into_iter()
        .find(|n| n.slug == slug && n.status == "active")
        .ok_or_else(|| ApiError::not_found("Newsletter"))?;
    if let Some(id) = post_id {
        let sends = state
            .store
            .sends(Some(id), 100)
            .await
            .map_err(store_error)?;
        if sends.iter().any(|s| s.newsletter_id == newsletter.id) {
            return Err(already_sent());
        }
    }
    Ok(Some((newsletter.id, segment)))
}

async fn send_email(
    state: &AppState,
    post_id: i64,
    (newsletter, segment): (i64, masthead_store::Segment),
    staff_id: Option<i64>,
) -> Result<(), ApiError> {
    use crate::newsletters::SendRefused;
    match crate::newsletters::start_send(state, post_id, newsletter, segment, staff_id).await {
        Ok(_) => Ok(()),
        Err(SendRefused::AlreadySent) => Err(already_sent()),
        Err(SendRefused::NotPublished) => Err(ApiError::validation(
            "Only a published post can be e-mailed.",
        )),
        Err(SendRefused::NoNewsletter) => Err(ApiError::not_found("Newsletter")),
        Err(SendRefused::Store(e)) => Err(store_error(e)),
    }
}

fn collision() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "UpdateCollisionError",
        "Saving failed! Someone else is editing this post.",
    )
    .code("UPDATE_COLLISION")
}

async fn delete(
    state: AppState,
    headers: HeaderMap,
    page_kind: bool,
    id: String,
) -> Result<Response, ApiError> {
    let who = caller(&state, &headers).await?;
    let (resource, singular, _) = resource_of(page_kind);
    let id = q::parse_id(&id).ok_or_else(|| ApiError::not_found(&capital(singular)))?;
    let current = load_post(&state, resource, id)
        .await?
        .ok_or_else(|| ApiError::not_found(&capital(singular)))?;
    let (status, published_ms, bylines) = state_of(&current);
    editorial::may_delete(
        &who.actor(),
        &PostState {
            status,
            published_ms,
            bylines: &bylines,
        },
    )
    .map_err(refused)?;
    crate::changes::invalidate_post_now(&state, id).await;
    state.store.delete_post(id).await.map_err(store_error)?;
    state.cache.clear();
    state.wrote.notify_one();
    let mut res = StatusCode::NO_CONTENT.into_response();
    common_headers(res.headers_mut());
    res.headers_mut().remove(header::CONTENT_TYPE);
    Ok(res)
}

// --------------------------------------------------- endpoint plumbing --

type QueryResult = Result<RawQuery, axum::extract::rejection::QueryRejection>;
type JsonResult = Result<axum::Json<Value>, axum::extract::rejection::JsonRejection>;

fn json_body(b: JsonResult) -> Result<Value, ApiError> {
    b.map(|axum::Json(v)| v).map_err(|e| {
        ApiError::bad_request(format!(
            "The request body is not valid JSON: {}",
            e.body_text()
        ))
    })
}

macro_rules! run {
    ($e:expr) => {
        async { $e }
            .await
            .unwrap_or_else(IntoResponse::into_response)
    };
}

/// The handlers for posts and pages: the same code, `page` set for pages.
macro_rules! post_endpoints {
    ($page:expr, $browse:ident, $read:ident, $read_slug:ident, $add:ident, $edit:ident, $delete:ident) => {
        async fn $browse(State(s): State<AppState>, h: HeaderMap, q: QueryResult) -> Response {
            run!(browse(s, h, query_or_400(q)?, $page).await)
        }
        async fn $read(
            State(s): State<AppState>,
            h: HeaderMap,
            Path(id): Path<String>,
            q: QueryResult,
        ) -> Response {
            run!(read(s, h, query_or_400(q)?, $page, ("id", id)).await)
        }
        async fn $read_slug(
            State(s): State<AppState>,
            h: HeaderMap,
            Path(slug): Path<String>,
            q: QueryResult,
        ) -> Response {
            run!(read(s, h, query_or_400(q)?, $page, ("slug", slug)).await)
        }
        async fn $add(
            State(s): State<AppState>,
            h: HeaderMap,
            q: QueryResult,
            b: JsonResult,
        ) -> Response {
            run!(add(s, h, query_or_400(q)?, $page, json_body(b)?).await)
        }
        async fn $edit(
            State(s): State<AppState>,
            h: HeaderMap,
            Path(id): Path<String>,
            q: QueryResult,
            b: JsonResult,
        ) -> Response {
            run!(edit(s, h, query_or_400(q)?, $page, id, json_body(b)?).await)
        }
        async fn $delete(
            State(s): State<AppState>,
            h: HeaderMap,
            Path(id): Path<String>,
        ) -> Response {
            run!(delete(s, h, $page, id).await)
        }
    };
}

post_endpoints!(
    false,
    browse_posts,
    read_post,
    read_post_slug,
    add_post,
    edit_post,
    delete_post
);
post_endpoints!(
    true,
    browse_pages,
    read_page,
    read_page_slug,
    add_page,
    edit_page,
    delete_page
);

// ---------------------------------------------------------------- tags --

async fn browse_tags(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: QueryResult,
) -> Response {
    run!({
        caller(&state, &headers).await?;
        let raw = query_or_400(q)?;
        let b = browse_of(&state, Resource::Tags, &raw, None)?;
        let (limit, page) = (b.limit, b.page);
        let r = state.store.browse_tags_bulk(b).await.map_err(store_error)?;
        let base = state.public_url();
        let items: Vec<Value> = r.items.iter().map(|t| out::tag(t, base, true)).collect();
        Ok::<_, ApiError>(respond(
            StatusCode::OK,
            &json!({ "tags": items, "meta": { "pagination": pagination(page, limit, r.total) } }),
        ))
    })
}

async fn one_tag(state: &AppState, id: i64) -> Result<Value, ApiError> {
    let b = Browse {
        resource: Resource::Tags,
        audience: Audience::Admin,
        filter: Some(masthead_nql::Filter::Cond(masthead_nql::Condition {
            field: "id".into(),
            op: masthead_nql::Op::Eq,
            value: masthead_nql::Value::Int(id),
        })),
        order: Vec::new(),
        limit: Some(1),
        page: 1,
        now_ms: now_ms(),
    };
    let r = state.store.browse_tags(b).await.map_err(store_error)?;
    let base = state.public_url();
    r.items
        .first()
        .map(|t| out::tag(t, base, true))
        .ok_or_else(|| ApiError::not_found("Tag"))
}

async fn read_tag(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    run!({
        caller(&state, &headers).await?;
        let id = q::parse_id(&id).ok_or_else(|| ApiError::not_found("Tag"))?;
        Ok::<_, ApiError>(respond(
            StatusCode::OK,
            &json!({ "tags": [one_tag(&state, id).await?] }),
        ))
    })
}

async fn add_tag(State(state): State<AppState>, headers: HeaderMap, b: JsonResult) -> Response {
    run!({
        let who = caller(&state, &headers).await?;
        who.may(Action::ManageTags)?;
        let body = json_body(b)?;
        let o = first_object(&body, "tags")?;
        let name = text(o, "name").unwrap_or_default().trim().to_owned();
        if name.is_empty() || name.len() > 191 {
            return Err(ApiError::validation(
                "A tag needs a name of 1 to 191 characters.",
            ));
        }
        let slug = editorial::tag_slug(text(o, "slug").as_deref(), &name)
            .map_err(invalid)?
            .into_string();
        let description = text(o, "description").unwrap_or_default();
        let id = state
            .store
            .create_tag(masthead_store::NewTag {
                slug,
                name,
                description,
                is_section: false,
                position: 100,
            })
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => {
                    ApiError::validation("A tag with that slug already exists.")
                }
                e => store_error(e),
            })?;
        Ok::<_, ApiError>(respond(
            StatusCode::CREATED,
            &json!({ "tags": [one_tag(&state, id).await?] }),
        ))
    })
}

async fn edit_tag(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    b: JsonResult,
) -> Response {
    run!({
        let who = caller(&state, &headers).await?;
        who.may(Action::ManageTags)?;
        let id = q::parse_id(&id).ok_or_else(|| ApiError::not_found("Tag"))?;
        let current = state
            .store
            .editable_tag(id)
            .await
            .map_err(ApiError::unavailable)?
            .ok_or_else(|| ApiError::not_found("Tag"))?;
        let body = json_body(b)?;
        let o = first_object(&body, "tags")?;
        let edit = masthead_store::TagEdit {
            name: text(o, "name").unwrap_or(current.name),
            description: text(o, "description").unwrap_or(current.description),
            is_section: current.is_section,
            position: current.position,
        };
        if edit.name.trim().is_empty() {
            return Err(ApiError::validation("A tag needs a name."));
        }
        state
            .store
            .update_tag(id, edit)
            .await
            .map_err(store_error)?;
        state.cache.clear();
        if let Err(e) = state.reload_site().await {
            return Err(ApiError::unavailable(e));
        }
        Ok::<_, ApiError>(respond(
            StatusCode::OK,
            &json!({ "tags": [one_tag(&state, id).await?] }),
        ))
    })
}

async fn delete_tag(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    run!({
        let who = caller(&state, &headers).await?;
        who.may(Action::ManageTags)?;
        let id = q::parse_id(&id).ok_or_else(|| ApiError::not_found("Tag"))?;
        state.store.delete_tag(id).await.map_err(|e| match e {
            StoreError::NotFound => ApiError::not_found("Tag"),
            e => store_error(e),
        })?;
        state.cache.clear();
        if let Err(e) = state.reload_site().await {
            return Err(ApiError::unavailable(e));
        }
        let mut res = StatusCode::NO_CONTENT.into_response();
        common_headers(res.headers_mut());
        res.headers_mut().remove(header::CONTENT_TYPE);
        Ok::<_, ApiError>(res)
    })
}

// ------------------------------------------------------------- members --

/// A member as Ghost's Admin API prints one: with its labels (objects),
/// newsletters (objects), note, status, tiers (the paid or comped tier) and
/// bouncing flag.
fn member_json(
    m: &q::DeskMember,
    all: &[q::Newsletter],
    tiers: &[q::Tier],
    subscriptions: &[&masthead_store::billing::MemberSubscription],
    tz: &jiff::tz::TimeZone,
) -> Value {
    let newsletters: Vec<Value> = all
        .iter()
        .filter(|n| m.newsletter_ids.contains(&n.id))
        .map(newsletter_ref_json)
        .collect();
    json!({
        "id": format_id(m.id),
        "uuid": null,
        "email": m.email,
        "name": if m.name.is_empty() { Value::Null } else { Value::String(m.name.clone()) },
        "note": if m.note.is_empty() { Value::Null } else { Value::String(m.note.clone()) },
        "geolocation": null,
        "subscribed": !newsletters.is_empty(),
        "created_at": out::date(m.created_ms, tz),
        "updated_at": out::date(m.created_ms, tz),
        "labels": m.labels.iter().map(|l| json!({
            "id": format_id(l.id),
            "name": l.name,
            "slug": l.slug,
            "created_at": out::date(l.created_ms, tz),
            "updated_at": out::date(l.created_ms, tz),
        })).collect::<Vec<_>>(),
        "subscriptions": subscriptions
            .iter()
            .map(|s| subscription_json(m, s, tiers, tz))
            .collect::<Vec<_>>(),
        "avatar_image": null,
        "comped": m.status == "comped",
        "email_count": 0,
        "email_opened_count": 0,
        "email_open_rate": null,
        "email_disabled": m.email_disabled,
        "status": m.status,
        "last_seen_at": null,
        "newsletters": newsletters,
        "tiers": tiers
            .iter()
            .filter(|t| m.status != "free" && Some(t.id) == m.tier_id)
            .map(|t| {
                let mut v = out::tier(t, tz, out::TierIncludes::default());
                if let Some(o) = v.as_object_mut() {
                    o.insert(
                        "expiry_at".into(),
                        m.comp_expires_ms.map_or(Value::Null, |ms| out::date(ms, tz)),
                    );
                }
                v
            })
            .collect::<Vec<_>>(),
    })
}

/// A subscription as Ghost 5 lists it in `members[].subscriptions`: the
/// Stripe mirror, its customer, its price and the tier the price is for.
fn subscription_json(
    m: &q::DeskMember,
    s: &masthead_store::billing::MemberSubscription,
    tiers: &[q::Tier],
    tz: &jiff::tz::TimeZone,
) -> Value {
    let sub = &s.subscription;
    let tier = tiers.iter().find(|t| Some(t.id) == sub.tier_id);
    let nickname = match sub.cadence.as_str() {
        "year" => "Yearly",
        "month" => "Monthly",
        _ => "",
    };
    let opt_date = |ms: Option<i64>| ms.map_or(Value::Null, |ms| out::date(ms, tz));
    json!({
        "id": sub.subscription_id,
        "customer": {
            "id": sub.customer_id,
            "name": if m.name.is_empty() { Value::Null } else { Value::String(m.name.clone()) },
            "email": if s.customer_email.is_empty() { m.email.clone() } else { s.customer_email.clone() },
        },
        "plan": {
            "id": sub.price_id, "nickname": nickname, "amount": sub.amount,
            "interval": sub.cadence, "currency": sub.currency.to_ascii_uppercase(),
        },
        "status": sub.status,
        "start_date": out::date(s.created_ms, tz),
        "default_payment_card_last4": null,
        "cancel_at_period_end": sub.cancel_at_period_end,
        "cancellation_reason": null,
        "current_period_end": opt_date(sub.current_period_end_ms),
        "trial_end_at": opt_date(sub.trial_end_ms),
        "price": {
            "id": sub.price_id,
            "price_id": sub.price_id,
            "nickname": nickname,
            "amount": sub.amount,
            "interval": sub.cadence,
            "type": "recurring",
            "currency": sub.currency.to_ascii_uppercase(),
            "tier": tier.map_or(Value::Null, |t| json!({
                "id": sub.product_id, "name": t.name, "tier_id": format_id(t.id),
            })),
        },
        "tier": tier.map_or(Value::Null, |t| out::tier(t, tz, out::TierIncludes::default())),
        "offer": null,
    })
}

/// A newsletter as members list it (`members[].newsletters`).
fn newsletter_ref_json(n: &q::Newsletter) -> Value {
    json!({
        "id": format_id(n.id),
        "uuid": n.uuid,
        "name": n.name,
        "slug": n.slug,
        "description": if n.description.is_empty() { Value::Null } else { Value::String(n.description.clone()) },
        "status": n.status,
        "sort_order": n.sort_order,
    })
}

/// Members as JSON, in the order of `ids`.
async fn members_json(state: &AppState, ids: Vec<i64>) -> Result<Vec<Value>, ApiError> {
    let (found, all, tiers, subs) = tokio::try_join!(
        state.store.desk_members_by_id(ids.clone()),
        state.store.newsletters(),
        state.store.tiers(),
        state.store.subscriptions_of_members(ids.clone())
    )
    .map_err(ApiError::unavailable)?;
    let tz = site_tz(state);
    Ok(ids
        .iter()
        .filter_map(|id| found.iter().find(|m| m.id == *id))
        .map(|m| {
            let mine: Vec<_> = subs
                .iter()
                .filter(|s| s.subscription.member_id == Some(m.id))
                .collect();
            member_json(m, &all, &tiers, &mine, &tz)
        })
        .collect())
}

async fn browse_members(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: QueryResult,
) -> Response {
    run!({
        caller(&state, &headers).await?.may(Action::ManageMembers)?;
        let raw = query_or_400(q)?;
        let b = browse_of(&state, Resource::Members, &raw, None)?;
        let (limit, page) = (b.limit, b.page);
        let r = state
            .store
            .browse_members_bulk(b)
            .await
            .map_err(|e| match e {
                StoreError::Invalid(m) => ApiError::bad_request("Error parsing filter").context(m),
                e => store_error(e),
            })?;
        let items = members_json(&state, r.items.iter().map(|m| m.id).collect()).await?;
        Ok::<_, ApiError>(respond(
            StatusCode::OK,
            &json!({ "members": items, "meta": { "pagination": pagination(page, limit, r.total) } }),
        ))
    })
}

async fn one_member(state: &AppState, id: i64) -> Result<Value, ApiError> {
    members_json(state, vec![id])
        .await?
        .pop()
        .ok_or_else(|| ApiError::not_found("Member"))
}

async fn read_member(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    run!({
        caller(&state, &headers).await?.may(Action::ManageMembers)?;
        let id = q::parse_id(&id).ok_or_else(|| ApiError::not_found("Member"))?;
        Ok::<_, ApiError>(respond(
            StatusCode::OK,
            &json!({ "members": [one_member(&state, id).await?] }),
        ))
    })
}

/// `labels` as Ghost takes them: names, or objects with a `name` (or just a
/// `slug` of an existing label). New names become labels.
fn labels_of(
    o: &serde_json::Map<String, Value>,
    known: &[q::Label],
) -> Result<Option<Vec<String>>, ApiError> {
    let Some(v) = o.get("labels") else {
        return Ok(None);
    };
    let Some(items) = v.as_array() else {
        return Err(ApiError::validation("labels must be a list."));
    };
    let mut names = Vec::new();
    for item in items {
        let name = match item {
            Value::String(s) => s.clone(),
            Value::Object(l) => match (text(l, "name"), text(l, "slug")) {
                (Some(n), _) => n,
                (None, Some(slug)) => known
                    .iter()
                    .find(|k| k.slug == slug)
                    .map(|k| k.name.clone())
                    .ok_or_else(|| ApiError::validation(format!("There is no label {slug:?}.")))?,
                (None, None) => return Err(ApiError::validation("A label needs a name.")),
            },
            _ => return Err(ApiError::validation("A label is a name or an object.")),
        };
        let name = name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 191 {
            return Err(ApiError::validation(
                "A label's name is 1 to 191 characters.",
            ));
        }
        names.push(name);
    }
    Ok(Some(names))
}

/// `newsletters` as Ghost takes them: objects with an `id`, a `slug` or a
/// `name` of an active newsletter.
fn newsletters_of(
    o: &serde_json::Map<String, Value>,
    all: &[q::Newsletter],
) -> Result<Option<Vec<i64>>, ApiError> {
    let Some(v) = o.get("newsletters") else {
        return Ok(None);
    };
    let Some(items) = v.as_array() else {
        return Err(ApiError::validation("newsletters must be a list."));
    };
    let mut ids = Vec::new();
    for item in items {
        let Some(n) = item.as_object() else {
            return Err(ApiError::validation(
                "A newsletter is an object with an id.",
            ));
        };
        let found = all.iter().find(|x| {
            text(n, "id").and_then(|i| q::parse_id(&i)) == Some(x.id)
                || text(n, "slug").as_deref() == Some(x.slug.as_str())
                || text(n, "name").as_deref() == Some(x.name.as_str())
        });
        match found {
            Some(x) if x.status == "active" => ids.push(x.id),
            Some(x) => {
                return Err(ApiError::validation(format!(
                    "The newsletter {:?} is archived.",
                    x.name
                )));
            }
            None => return Err(ApiError::validation("There is no such newsletter.")),
        }
    }
    Ok(Some(ids))
}

fn note_of(o: &serde_json::Map<String, Value>) -> Result<Option<String>, ApiError> {
    match o.get("note") {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(String::new())),
        Some(Value::String(s)) if s.chars().count() <= 2000 => Ok(Some(s.trim().to_owned())),
        Some(_) => Err(ApiError::validation(
            "note must be text of at most 2,000 characters.",
        )),
    }
}

async fn add_member(State(state): State<AppState>, headers: HeaderMap, b: JsonResult) -> Response {
    run!({
        caller(&state, &headers).await?.may(Action::ManageMembers)?;
        let body = json_body(b)?;
        let o = first_object(&body, "members")?;
        let email = Email::parse(&text(o, "email").unwrap_or_default())
            .map_err(|e| ApiError::validation(format!("Invalid email: {e}")))?;
        let name = text(o, "name")
            .unwrap_or_default()
            .trim()
            .chars()
            .take(191)
            .collect::<String>();
        let (all, known) = tokio::try_join!(state.store.newsletters(), state.store.labels())
            .map_err(ApiError::unavailable)?;
        // Ghost's rule: a new member gets the newsletters new members get,
        // unless the request names them or says `subscribed: false`.
        let newsletters = match newsletters_of(o, &all)? {
            Some(ids) => ids,
            None if o.get("subscribed") == Some(&Value::Bool(false)) => Vec::new(),
            None => all
                .iter()
                .filter(|n| n.status == "active" && n.subscribe_on_signup)
                .map(|n| n.id)
                .collect(),
        };
        let comped = o.get("comped") == Some(&Value::Bool(true));
        let new = q::NewDeskMember {
            email,
            name,
            note: note_of(o)?.unwrap_or_default(),
            status: if comped { "comped" } else { "free" }.to_owned(),
            labels: labels_of(o, &known)?.unwrap_or_default(),
            newsletters,
            source: "api".into(),
            created_ms: None,
        };
        let added = state
            .store
            .add_desk_members(vec![new])
            .await
            .map_err(store_error)?;
        let Some(q::MemberAdded::Added(id)) = added.first().copied() else {
            return Err(ApiError::validation("Member already exists"));
        };
        state.wrote.notify_one();
        Ok::<_, ApiError>(respond(
            StatusCode::CREATED,
            &json!({ "members": [one_member(&state, id).await?] }),
        ))
    })
}

async fn edit_member(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    b: JsonResult,
) -> Response {
    run!({
        caller(&state, &headers).await?.may(Action::ManageMembers)?;
        let id = q::parse_id(&id).ok_or_else(|| ApiError::not_found("Member"))?;
        let body = json_body(b)?;
        let o = first_object(&body, "members")?;
        let email = match text(o, "email") {
            Some(e) => Some(
                Email::parse(&e)
                    .map_err(|e| ApiError::validation(format!("Invalid email: {e}")))?,
            ),
            None => None,
        };
        let name = text(o, "name").map(|n| n.trim().chars().take(191).collect::<String>());
        let (all, known) = tokio::try_join!(state.store.newsletters(), state.store.labels())
            .map_err(ApiError::unavailable)?;
        let edit = q::MemberEdit {
            name,
            email,
            note: note_of(o)?,
            labels: labels_of(o, &known)?,
            newsletters: newsletters_of(o, &all)?,
            // Ghost's editor clears the flag by saving `email_disabled: false`.
            clear_bouncing: o.get("email_disabled") == Some(&Value::Bool(false)),
        };
        state
            .store
            .edit_member(id, edit)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => ApiError::not_found("Member"),
                StoreError::Conflict(_) => ApiError::validation("Member already exists"),
                e => store_error(e),
            })?;
        Ok::<_, ApiError>(respond(
            StatusCode::OK,
            &json!({ "members": [one_member(&state, id).await?] }),
        ))
    })
}

// --------------------------------------------------------- newsletters --

/// A newsletter with Ghost's Admin API fields.
fn newsletter_json(n: &q::Newsletter) -> Value {
    json!({
        "id": format_id(n.id),
        "uuid": n.uuid,
        "name": n.name,
        "slug": n.slug,
        "description": if n.description.is_empty() { Value::Null } else { Value::String(n.description.clone()) },
        "sender_name": n.sender_name,
        "sender_email": null,
        "sender_reply_to": n.sender_reply_to,
        "status": n.status,
        "visibility": n.visibility,
        "subscribe_on_signup": n.subscribe_on_signup,
        "sort_order": n.sort_order,
        "feedback_enabled": false,
    })
}

async fn browse_newsletters(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: QueryResult,
) -> Response {
    run!({
        caller(&state, &headers).await?.may(Action::ManageMembers)?;
        let raw = query_or_400(q)?;
        // The filters Ghost's own admin sends: by status.
        let filter = raw
            .iter()
            .find(|(k, _)| k == "filter")
            .map(|(_, v)| v.as_str());
        let status = match filter {
            None | Some("") => None,
            Some("status:active") => Some("active"),
            Some("status:archived") => Some("archived"),
            Some(other) => {
                return Err(ApiError::bad_request("Error parsing filter")
                    .context(format!("newsletters filter only by status, not {other:?}")));
            }
        };
        let all = state
            .store
            .newsletters()
            .await
            .map_err(ApiError::unavailable)?;
        let items: Vec<Value> = all
            .iter()
            .filter(|n| status.is_none_or(|s| n.status == s))
            .map(newsletter_json)
            .collect();
        let total = items.len() as u64;
        Ok::<_, ApiError>(respond(
            StatusCode::OK,
            &json!({ "newsletters": items, "meta": { "pagination": pagination(1, None, total) } }),
        ))
    })
}

async fn read_newsletter(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    run!({
        caller(&state, &headers).await?.may(Action::ManageMembers)?;
        let id = q::parse_id(&id).ok_or_else(|| ApiError::not_found("Newsletter"))?;
        let n = one_newsletter(&state, id).await?;
        Ok::<_, ApiError>(respond(
            StatusCode::OK,
            &json!({ "newsletters": [newsletter_json(&n)] }),
        ))
    })
}

/// The newsletter a body describes, over `current`'s fields; 422 on bad input.
fn newsletter_body(
    o: &serde_json::Map<String, Value>,
    current: Option<&q::Newsletter>,
) -> Result<q::NewsletterInput, ApiError> {
    let string = |k: &str, fallback: String| -> Result<String, ApiError> {
        match o.get(k) {
            None => Ok(fallback),
            Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(ApiError::validation(format!("{k} must be text."))),
        }
    };
    let c = current;
    let name = string("name", c.map(|n| n.name.clone()).unwrap_or_default())?;
    let description = string(
        "description",
        c.map(|n| n.description.clone()).unwrap_or_default(),
    )?;
    let sender_name = string(
        "sender_name",
        c.and_then(|n| n.sender_name.clone()).unwrap_or_default(),
    )?;
    let reply = string(
        "sender_reply_to",
        c.map_or_else(|| "newsletter".to_owned(), |n| n.sender_reply_to.clone()),
    )?;
    let status = string(
        "status",
        c.map_or_else(|| "active".to_owned(), |n| n.status.clone()),
    )?;
    let on_signup = match o.get("subscribe_on_signup") {
        None => c.is_none_or(|n| n.subscribe_on_signup),
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(ApiError::validation(
                "subscribe_on_signup must be true or false.",
            ));
        }
    };
    crate::admin::members::newsletter_input(
        &name,
        &description,
        &sender_name,
        &reply,
        on_signup,
        &status,
    )
    .map_err(ApiError::validation)
}

async fn add_newsletter(
    State(state): State<AppState>,
    headers: HeaderMap,
    b: JsonResult,
) -> Response {
    run!({
        caller(&state, &headers).await?.may(Action::ManageMembers)?;
        let body = json_body(b)?;
        let o = first_object(&body, "newsletters")?;
        let input = newsletter_body(o, None)?;
        let id = state
            .store
            .add_newsletter(input)
            .await
            .map_err(store_error)?;
        let n = one_newsletter(&state, id).await?;
        Ok::<_, ApiError>(respond(
            StatusCode::CREATED,
            &json!({ "newsletters": [newsletter_json(&n)] }),
        ))
    })
}

/// A newsletter by id, or the API's 404.
async fn one_newsletter(state: &AppState, id: i64) -> Result<q::Newsletter, ApiError> {
    state
        .store
        .newsletter(id)
        .await
        .map_err(ApiError::unavailable)?
        .ok_or_else(|| ApiError::not_found("Newsletter"))
}

async fn edit_newsletter(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    b: JsonResult,
) -> Response {
    run!({
        caller(&state, &headers).await?.may(Action::ManageMembers)?;
        let id = q::parse_id(&id).ok_or_else(|| ApiError::not_found("Newsletter"))?;
        let body = json_body(b)?;
        let o = first_object(&body, "newsletters")?;
        let current = one_newsletter(&state, id).await?;
        let input = newsletter_body(o, Some(&current))?;
        state
            .store
            .edit_newsletter(id, input)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => ApiError::not_found("Newsletter"),
                e => store_error(e),
            })?;
        let n = one_newsletter(&state, id).await?;
        Ok::<_, ApiError>(respond(
            StatusCode::OK,
            &json!({ "newsletters": [newsletter_json(&n)] }),
        ))
    })
}

// --------------------------------------------------------------- tiers --

/// A post's `tiers` as Ghost sends them (objects with an `id` or a `slug`),
/// as tier ids; an unknown tier is a 422.
async fn tier_ids_of(state: &AppState, list: &[Value]) -> Result<Vec<i64>, ApiError> {
    let all = state.store.tiers().await.map_err(ApiError::unavailable)?;
    let mut ids = Vec::new();
    for item in list {
        let Value::Object(m) = item else {
            return Err(ApiError::validation(
                "A tier is an object with an id or a slug.",
            ));
        };
        let found = match (text(m, "id"), text(m, "slug")) {
            (Some(id), _) => q::parse_id(&id).and_then(|id| all.iter().find(|t| t.id == id)),
            (None, Some(slug)) => all.iter().find(|t| t.slug == slug),
            (None, None) => None,
        };
        let Some(t) = found else {
            return Err(ApiError::validation("There is no such tier."));
        };
        if !ids.contains(&t.id) {
            ids.push(t.id);
        }
    }
    Ok(ids)
}

/// `include=monthly_price,yearly_price,benefits`, as the Content API reads it.
fn tier_includes(raw: &[(String, String)]) -> Result<out::TierIncludes, ApiError> {
    let mut inc = out::TierIncludes::default();
    for i in param(raw, "include")
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|i| !i.is_empty())
    {
        match i {
            "monthly_price" | "yearly_price" => inc.prices = true,
            "benefits" => inc.benefits = true,
            other => {
                return Err(ApiError::validation("Validation error, cannot browse tiers.")
                    .context(format!(
                        "include={other} is not valid here; use monthly_price, yearly_price, benefits."
                    )));
            }
        }
    }
    Ok(inc)
}

/// A tier as Ghost 5's Admin API prints it: prices and benefits always
/// (`include` is accepted but changes nothing, as in Ghost), and no
/// currency or prices on the free tier.
fn admin_tier(t: &q::Tier, tz: &jiff::tz::TimeZone) -> Value {
    let mut v = out::tier(
        t,
        tz,
        out::TierIncludes {
            prices: true,
            benefits: true,
        },
    );
    if t.kind == "free"
        && let Some(o) = v.as_object_mut()
    {
        for k in ["currency", "monthly_price", "yearly_price"] {
            o.remove(k);
        }
    }
    v
}

/// Every tier (archived ones too, as Ghost's admin sees them); staff of any
/// role may read them (the editor offers them), only administrators and the
/// owner change them.
async fn browse_tiers(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: QueryResult,
) -> Response {
    run!({
        caller(&state, &headers).await?;
        let raw = query_or_400(q)?;
        tier_includes(&raw)?;
        let filter = super::content::tier_filter(param(&raw, "filter"))?;
        let tz = site_tz(&state);
        let all = state.store.tiers().await.map_err(ApiError::unavailable)?;
        let items: Vec<Value> = all
            .iter()
            .filter(|t| {
                filter
                    .as_ref()
                    .is_none_or(|f| super::content::tier_matches(f, t))
            })
            .map(|t| admin_tier(t, &tz))
            .collect();
        let total = items.len() as u64;
        Ok::<_, ApiError>(respond(
            StatusCode::OK,
            &json!({ "tiers": items, "meta": { "pagination": pagination(1, None, total) } }),
        ))
    })
}

/// A tier by id, or the API's 404.
async fn one_tier(state: &AppState, id: &str) -> Result<q::Tier, ApiError> {
    let id = q::parse_id(id).ok_or_else(|| ApiError::not_found("Tier"))?;
    state
        .store
        .tier(id)
        .await
        .map_err(ApiError::unavailable)?
        .ok_or_else(|| ApiError::not_found("Tier"))
}

async fn read_tier(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    q: QueryResult,
) -> Response {
    run!({
        caller(&state, &headers).await?;
        let raw = query_or_400(q)?;
        tier_includes(&raw)?;
        let t = one_tier(&state, &id).await?;
        Ok::<_, ApiError>(respond(
            StatusCode::OK,
            &json!({ "tiers": [admin_tier(&t, &site_tz(&state))] }),
        ))
    })
}

/// The tier a body describes, over `current`'s fields; 422 on bad input.
/// Prices are minor units (Ghost's), in the site's currency.
fn tier_body(
    o: &serde_json::Map<String, Value>,
    current: Option<&q::Tier>,
    currency: &str,
) -> Result<q::TierInput, ApiError> {
    let c = current;
    let string = |k: &str, fallback: String| -> Result<String, ApiError> {
        match o.get(k) {
            None => Ok(fallback),
            Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(ApiError::validation(format!("{k} must be text."))),
        }
    };
    let price = |k: &str, fallback: Option<i64>| -> Result<Option<i64>, ApiError> {
        match o.get(k) {
            None => Ok(fallback),
            Some(Value::Null) => Ok(None),
            Some(v) => v.as_i64().map(Some).ok_or_else(|| {
                ApiError::validation(format!(
                    "{k} is a whole number of the currency's smallest unit (cents)."
                ))
            }),
        }
    };
    let kind = match (c, o.get("type")) {
        (Some(t), _) => t.kind.clone(),
        (None, None) => "paid".to_owned(),
        (None, Some(Value::String(k))) if k == "paid" => k.clone(),
        (None, Some(_)) => {
            return Err(ApiError::validation(
                "A new tier is paid: the site has its one free tier already.",
            ));
        }
    };
    if let Some(sent) = o.get("currency").and_then(Value::as_str)
        && kind == "paid"
        && !sent.eq_ignore_ascii_case(currency)
    {
        return Err(ApiError::validation(format!(
            "Tiers are priced in the site's currency, {}.",
            currency.to_uppercase()
        )));
    }
    let active = match o.get("active") {
        None => c.is_none_or(|t| t.active),
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ApiError::validation("active must be true or false.")),
    };
    let trial_days = match o.get("trial_days") {
        None => c.map_or(0, |t| t.trial_days),
        Some(Value::Null) => 0,
        Some(v) => v
            .as_u64()
            .and_then(|d| u32::try_from(d).ok())
            .ok_or_else(|| ApiError::validation("trial_days is a whole number of days."))?,
    };
    let benefits = match o.get("benefits") {
        None => c.map(|t| t.benefits.clone()).unwrap_or_default(),
        Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|b| match b {
                Value::String(s) => Ok(s.clone()),
                // Ghost's older shape: objects with a name.
                Value::Object(m) => m
                    .get("name")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| ApiError::validation("A benefit is text.")),
                _ => Err(ApiError::validation("A benefit is text.")),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(ApiError::validation("benefits must be a list of text.")),
    };
    let fields = crate::admin::tiers::TierFields {
        name: string("name", c.map(|t| t.name.clone()).unwrap_or_default())?,
        slug: string("slug", c.map(|t| t.slug.clone()).unwrap_or_default())?,
        description: string(
            "description",
            c.map(|t| t.description.clone()).unwrap_or_default(),
        )?,
        kind,
        active,
        visibility: string(
            "visibility",
            c.map_or_else(|| "public".to_owned(), |t| t.visibility.clone()),
        )?,
        monthly: price("monthly_price", c.and_then(|t| t.monthly_price))?,
        yearly: price("yearly_price", c.and_then(|t| t.yearly_price))?,
        trial_days,
        welcome_page_url: string(
            "welcome_page_url",
            c.and_then(|t| t.welcome_page_url.clone())
                .unwrap_or_default(),
        )?,
        benefits,
    };
    let currency = c
        .and_then(|t| t.currency.clone())
        .unwrap_or(currency.to_owned());
    crate::admin::tiers::tier_input(&fields, &currency).map_err(ApiError::validation)
}

async fn add_tier(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: QueryResult,
    b: JsonResult,
) -> Response {
    run!({
        caller(&state, &headers)
            .await?
            .may(Action::ManageSettings)?;
        let raw = query_or_400(q)?;
        tier_includes(&raw)?;
        let body = json_body(b)?;
        let o = first_object(&body, "tiers")?;
        let currency = state
            .store
            .site_currency()
            .await
            .map_err(ApiError::unavailable)?;
        let input = tier_body(o, None, &currency)?;
        let id = state.store.create_tier(input).await.map_err(store_error)?;
        state.wrote.notify_one();
        let t = one_tier(&state, &format_id(id)).await?;
        Ok::<_, ApiError>(respond(
            StatusCode::CREATED,
            &json!({ "tiers": [admin_tier(&t, &site_tz(&state))] }),
        ))
    })
}

async fn edit_tier(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    q: QueryResult,
    b: JsonResult,
) -> Response {
    run!({
        caller(&state, &headers)
            .await?
            .may(Action::ManageSettings)?;
        let raw = query_or_400(q)?;
        tier_includes(&raw)?;
        let body = json_body(b)?;
        let o = first_object(&body, "tiers")?;
        let current = one_tier(&state, &id).await?;
        let currency = state
            .store
            .site_currency()
            .await
            .map_err(ApiError::unavailable)?;
        let input = tier_body(o, Some(&current), &currency)?;
        state
            .store
            .update_tier(current.id, input)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => ApiError::not_found("Tier"),
                e => store_error(e),
            })?;
        state.wrote.notify_one();
        let t = one_tier(&state, &format_id(current.id)).await?;
        Ok::<_, ApiError>(respond(
            StatusCode::OK,
            &json!({ "tiers": [admin_tier(&t, &site_tz(&state))] }),
        ))
    })
}

// -------------------------------------------------------------- images --

async fn upload_image(
    State(state): State<AppState>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    run!({
        let who = caller(&state, &headers).await?;
        who.may(Action::UploadMedia)?;
        let mut multipart = multipart.map_err(|_| {
            ApiError::bad_request("Send the image as multipart/form-data in a field named file.")
        })?;
        let mut file = None;
        let mut reference = None;
        while let Some(field) = multipart.next_field().await.map_err(|e| {
            ApiError::new(
                e.status(),
                "ValidationError",
                "The upload was cut off or is over the 20 MB limit.",
            )
        })? {
            match field.name() {
                Some("file") => {
                    let name = field.file_name().unwrap_or("upload").to_owned();
                    let bytes = field.bytes().await.map_err(|e| {
                        ApiError::new(
                            e.status(),
                            "ValidationError",
                            "The upload was cut off or is over the 20 MB limit.",
                        )
                    })?;
                    file = Some((name, bytes));
                }
                Some("ref") => reference = field.text().await.ok(),
                _ => {}
            }
        }
        let Some((name, bytes)) = file.filter(|(_, b)| !b.is_empty()) else {
            return Err(ApiError::validation("Please select an image."));
        };
        let name: String = name
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or("upload")
            .chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect();
        match crate::admin::media::store_upload(&state, who.staff_id, name, bytes).await {
            Ok((item, _)) => {
                let base = state.public_url();
                Ok::<_, ApiError>(respond(
                    StatusCode::CREATED,
                    &json!({ "images": [{ "url": format!("{base}{}", item.src()), "ref": reference }] }),
                ))
            }
            Err(crate::admin::media::UploadError::Refused(e)) => {
                let status = match e {
                    masthead_media::MediaError::TooLarge { .. }
                    | masthead_media::MediaError::TooManyPixels { .. } => {
                        StatusCode::PAYLOAD_TOO_LARGE
                    }
                    masthead_media::MediaError::NotAnImage => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    _ => StatusCode::UNPROCESSABLE_ENTITY,
                };
                Err(ApiError::new(status, "ValidationError", e.to_string()))
            }
            Err(crate::admin::media::UploadError::Failed(m)) => {
                tracing::error!(error = %m, "api upload failed");
                Err(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "InternalServerError",
                    "The image could not be saved; try again shortly.",
                ))
            }
        }
    })
}

/// The body of a webhook delivery: the post or member as the Admin API
/// prints it now, in Ghost's `{"post": {"current": …}}` shape.
pub(crate) async fn webhook_payload(state: &AppState, event: &str, id: i64) -> Option<Value> {
    let base = state.public_url();
    let tz = site_tz(state);
    if event == "member.deleted" {
        // The member's data is erased at once: only their id is left to say.
        return Some(json!({ "member": { "current": {}, "previous": { "id": format_id(id) } } }));
    }
    if event == "member.added" || event == "member.edited" {
        let m = members_json(state, vec![id]).await.ok()?.pop()?;
        return Some(json!({ "member": { "current": m, "previous": {} } }));
    }
    let post = match load_post(state, Resource::Posts, id).await {
        Ok(Some(p)) => p,
        _ => load_post(state, Resource::Pages, id).await.ok()??,
    };
    let o = PostOptions {
        base,
        tz: &tz,
        tags: true,
        authors: true,
        tiers: None,
        html: true,
        plaintext: false,
        admin: true,
    };
    let key = if post.kind == "page" { "page" } else { "post" };
    Some(json!({ key: { "current": out::post(&post, &o), "previous": {} } }))
}
