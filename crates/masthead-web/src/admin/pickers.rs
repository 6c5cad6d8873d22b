//! The editor's pickers for tags and bylines (`/admin/pickers/{tags,bylines}`):
//! a JSON search over the existing ones for the combobox in `pickers.js`,
//! and creating a new one where the role allows (tags: editors and up, as
//! on the Bylines and tags page; bylines likewise). The editor's form still
//! sends comma-separated slugs, so saving is unchanged and the page works
//! without the script.
//!
//! These answer in JSON, errors included (`{"error": "…"}`): a missing
//! session is 401 rather than a redirect to the sign-in page.

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use masthead_domain::editorial;
use masthead_domain::slug::slugify;
use masthead_domain::{Action, Whose, permits};
use masthead_store::{NamedRef, NewAuthor, NewTag, StaffSession, StoreError, Taxonomy};
use serde::{Deserialize, Serialize};

use crate::auth;
use crate::state::AppState;

/// Matches returned by default, and at most.
const DEFAULT_MATCHES: u32 = 10;
const MAX_MATCHES: u32 = 50;
/// Longer than any tag or byline name (120 characters).
const MAX_QUERY_CHARS: usize = 120;

/// One picker: what it lists, who may search it, who may add to it.
#[derive(Clone, Copy)]
struct Picker {
    which: Taxonomy,
    /// "tag" or "byline", for messages.
    noun: &'static str,
    /// Searching is for those who may set it on a post of their own.
    may_search: fn(masthead_domain::Role) -> bool,
    may_create: Action,
}

fn picker(kind: &str) -> Option<Picker> {
    match kind {
        "tags" => Some(Picker {
            which: Taxonomy::Tags,
            noun: "tag",
            may_search: |_| true,
            may_create: Action::ManageTags,
        }),
        "bylines" => Some(Picker {
            which: Taxonomy::Bylines,
            noun: "byline",
            may_search: |role| permits(role, Action::ChangeBylines { whose: Whose::Own }),
            may_create: Action::ManageAuthors,
        }),
        _ => None,
    }
}

#[derive(Serialize)]
struct PickError {
    error: String,
}

/// A JSON answer that no cache keeps.
fn json(status: StatusCode, body: impl Serialize) -> Response {
    let mut res = (status, axum::Json(body)).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn refuse(status: StatusCode, error: impl Into<String>) -> Response {
    json(
        status,
        PickError {
            error: error.into(),
        },
    )
}

fn unavailable(e: StoreError) -> Response {
    tracing::error!(error = %e, "picker store error");
    refuse(
        StatusCode::SERVICE_UNAVAILABLE,
        "The desk could not reach its database. Try again in a moment.",
    )
}

/// The signed-in staff member and the picker asked for, or the refusal.
#[allow(clippy::result_large_err)]
async fn open(
    state: &AppState,
    headers: &HeaderMap,
    kind: &str,
) -> Result<(StaffSession, Picker), Response> {
    let session = match super::session_of(state, headers).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            return Err(refuse(
                StatusCode::UNAUTHORIZED,
                "Sign in to the desk first.",
            ));
        }
        Err(e) => return Err(unavailable(e)),
    };
    let Some(p) = picker(kind) else {
        return Err(refuse(
            StatusCode::NOT_FOUND,
            "There are pickers for tags and bylines only.",
        ));
    };
    if !(p.may_search)(session.user.role) {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            format!(
                "Your role does not allow choosing {}s. Ask an editor.",
                p.noun
            ),
        ));
    }
    Ok((session, p))
}

#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    limit: Option<u32>,
    /// Instead of a search: these comma-separated slugs, in this order (the
    /// names of what a post already has, for its chips).
    #[serde(default)]
    slugs: Option<String>,
}

#[derive(Serialize)]
struct Choice {
    id: i64,
    slug: String,
    name: String,
}

impl From<NamedRef> for Choice {
    fn from((id, slug, name): NamedRef) -> Choice {
        Choice { id, slug, name }
    }
}

#[derive(Serialize)]
struct Matches {
    items: Vec<Choice>,
    /// Whether this person may add a new one from the picker.
    can_create: bool,
}

/// `GET /admin/pickers/{kind}?q=…&limit=…`: the tags or bylines whose name
/// or slug contains `q`, those starting with it first.
pub async fn search(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(kind): Path<String>,
    q: Result<Query<SearchQuery>, QueryRejection>,
) -> Response {
    let (session, p) = match open(&state, &headers, &kind).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Ok(Query(q)) = q else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "The search could not be read: send q (text) and, if you like, limit (1 to 50).",
        );
    };
    if q.q.chars().count() > MAX_QUERY_CHARS {
        return refuse(
            StatusCode::BAD_REQUEST,
            format!("Search for at most {MAX_QUERY_CHARS} characters."),
        );
    }
    let limit = match q.limit {
        None => DEFAULT_MATCHES,
        Some(n) if (1..=MAX_MATCHES).contains(&n) => n,
        Some(_) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                format!("The limit is from 1 to {MAX_MATCHES}."),
            );
        }
    };
    let can_create = permits(session.user.role, p.may_create);
    if let Some(slugs) = q.slugs {
        let wanted: Vec<&str> = slugs
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if wanted.len() > MAX_MATCHES as usize {
            return refuse(
                StatusCode::BAD_REQUEST,
                format!("Ask for at most {MAX_MATCHES} slugs at once."),
            );
        }
        let (authors, tags) = match state.store.all_authors_and_tags().await {
            Ok(x) => x,
            Err(e) => return unavailable(e),
        };
        let known = match p.which {
            Taxonomy::Tags => tags,
            Taxonomy::Bylines => authors,
        };
        // Unknown slugs are left out: the editor's save names them.
        let items = wanted
            .iter()
            .filter_map(|w| known.iter().find(|k| k.1 == *w).cloned())
            .map(Choice::from)
            .collect();
        return json(StatusCode::OK, Matches { items, can_create });
    }
    match state.store.find_named(p.which, q.q, limit).await {
        Ok(found) => json(
            StatusCode::OK,
            Matches {
                items: found.into_iter().map(Choice::from).collect(),
                can_create,
            },
        ),
        Err(e) => unavailable(e),
    }
}

#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
}

#[derive(Serialize)]
struct Created {
    #[serde(flatten)]
    choice: Choice,
    /// False when one by that name (or slug) existed already and is given instead.
    created: bool,
}

/// `POST /admin/pickers/{kind}` with `csrf` and `name`: a new tag or byline,
/// 201; one that exists already by that name is answered with 200.
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(kind): Path<String>,
    form: Result<Form<CreateForm>, FormRejection>,
) -> Response {
    let (session, p) = match open(&state, &headers, &kind).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Ok(Form(form)) = form else {
        return refuse(StatusCode::BAD_REQUEST, "The form could not be read.");
    };
    if !auth::constant_time_eq(form.csrf.as_bytes(), session.csrf_token.as_bytes()) {
        return refuse(
            StatusCode::FORBIDDEN,
            "For your security this could not be accepted. Reload the page and try again.",
        );
    }
    if !permits(session.user.role, p.may_create) {
        return refuse(
            StatusCode::FORBIDDEN,
            format!(
                "New {}s are added by editors and above. Choose an existing one, or ask an editor.",
                p.noun
            ),
        );
    }
    let name = form.name.trim().to_owned();
    let bad_name = || {
        refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "Give the {} a name of at most 120 characters, with some Latin letters or digits.",
                p.noun
            ),
        )
    };
    if name.chars().count() > 120 {
        return bad_name();
    }
    // One that exists by this name is the one meant.
    let existing = |found: NamedRef| {
        json(
            StatusCode::OK,
            Created {
                choice: found.into(),
                created: false,
            },
        )
    };
    let made = |id: i64, slug: String, name: String| {
        json(
            StatusCode::CREATED,
            Created {
                choice: Choice { id, slug, name },
                created: true,
            },
        )
    };
    match p.which {
        Taxonomy::Tags => {
            let Ok(slug) = editorial::tag_slug(None, &name) else {
                return bad_name();
            };
            let slug = slug.into_string();
            // A tag by this address is the one meant, whatever its name's case.
            match state.store.tag_by_slug(slug.clone()).await {
                Ok(Some(t)) => return existing((t.id, t.slug, t.name)),
                Ok(None) => {}
                Err(e) => return unavailable(e),
            }
            let created = state
                .store
                .create_tag(NewTag {
                    slug: slug.clone(),
                    name: name.clone(),
                    description: String::new(),
                    is_section: false,
                    position: 100,
                })
                .await;
            match created {
                Ok(id) => {
                    tracing::info!(
                        tag = id,
                        staff = session.user.id,
                        "tag added from the editor"
                    );
                    made(id, slug, name)
                }
                // Added by someone else a moment ago.
                Err(StoreError::Conflict(_)) => match state.store.tag_by_slug(slug).await {
                    Ok(Some(t)) => existing((t.id, t.slug, t.name)),
                    Ok(None) => refuse(
                        StatusCode::CONFLICT,
                        "That tag could not be added just now. Try again.",
                    ),
                    Err(e) => unavailable(e),
                },
                Err(e) => unavailable(e),
            }
        }
        Taxonomy::Bylines => {
            let Some(base) = slugify(&name) else {
                return bad_name();
            };
            let found = match state
                .store
                .find_named(p.which, name.clone(), MAX_MATCHES)
                .await
            {
                Ok(f) => f,
                Err(e) => return unavailable(e),
            };
            // A byline by exactly this name (case aside) is the one meant.
            if let Some(n) = found.into_iter().find(|n| n.2.eq_ignore_ascii_case(&name)) {
                return existing(n);
            }
            let created = state
                .store
                .create_author(
                    base,
                    NewAuthor {
                        slug: String::new(),
                        name: name.clone(),
                        bio: String::new(),
                        location: String::new(),
                    },
                )
                .await;
            let id = match created {
                Ok(id) => id,
                Err(e) => return unavailable(e),
            };
            // The store chose a free slug; read it back.
            match state.store.author_by_id(id).await {
                Ok(Some(a)) => {
                    tracing::info!(
                        author = id,
                        staff = session.user.id,
                        "byline added from the editor"
                    );
                    made(a.id, a.slug, a.name)
                }
                Ok(None) => refuse(StatusCode::CONFLICT, "The byline was removed at once."),
                Err(e) => unavailable(e),
            }
        }
    }
}

/// The pickers' script (progressive enhancement of the editor's tag and
/// byline fields).
pub async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        include_str!("../../admin/pickers.js"),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use masthead_domain::Role;

    #[test]
    fn pickers_follow_the_role_rules() {
        let tags = picker("tags").expect("tags");
        let bylines = picker("bylines").expect("bylines");
        assert!(picker("staff").is_none());
        for role in Role::ALL {
            assert!((tags.may_search)(role), "anyone may tag their work");
            assert_eq!((bylines.may_search)(role), role >= Role::Author);
            assert_eq!(permits(role, tags.may_create), role >= Role::Editor);
            assert_eq!(permits(role, bylines.may_create), role >= Role::Editor);
        }
    }
}
