//! Bylines (including guest contributors without a login) and tags.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use masthead_domain::slug::slugify;
use masthead_domain::{Action, editorial, permits};
use masthead_store::{AuthorEdit, NewAuthor, NewTag, StoreError, TagEdit};
use serde::Deserialize;

use super::{DeskForm, Staff, StaffView, message, page, unavailable};
use crate::state::AppState;

async fn render(
    state: &AppState,
    staff: &Staff,
    status: StatusCode,
    error: Option<&str>,
    notice: Option<&str>,
) -> Response {
    let (authors, _) = match state.store.all_authors_and_tags().await {
        Ok(x) => x,
        Err(e) => return unavailable(e),
    };
    let tags = match state.store.editable_tags().await {
        Ok(t) => t,
        Err(e) => return unavailable(e),
    };
    let role = staff.0.user.role;
    page(
        status,
        "taxonomy.html",
        serde_json::json!({
            "title": "Bylines and tags",
            "staff": StaffView::from(&staff.0.user),
            "csrf": staff.0.csrf_token,
            "authors": authors,
            "tags": tags,
            "can_authors": permits(role, Action::ManageAuthors),
            "can_tags": permits(role, Action::ManageTags),
            "error": error,
            "notice": notice,
        }),
    )
}

pub async fn list(State(state): State<AppState>, staff: Staff) -> Response {
    render(&state, &staff, StatusCode::OK, None, None).await
}

#[derive(Deserialize)]
pub struct AuthorForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    bio: String,
}

pub async fn add_author(
    State(state): State<AppState>,
    DeskForm { staff, form }: DeskForm<AuthorForm>,
) -> Response {
    let f = form;
    if !permits(staff.0.user.role, Action::ManageAuthors) {
        return not_allowed("Bylines");
    }
    let name = f.name.trim().to_owned();
    let Some(base) = slugify(&name).filter(|_| name.len() <= 120) else {
        return render(&state, &staff, StatusCode::UNPROCESSABLE_ENTITY, Some("Give the byline a name of at most 120 characters, with some Latin letters or digits."), None).await;
    };
    let bio = f.bio.trim().chars().take(500).collect::<String>();
    let result = state
        .store
        .create_author(
            base,
            NewAuthor {
                slug: String::new(),
                name,
                bio,
                location: String::new(),
            },
        )
        .await;
    match result {
        Ok(_) => render(&state, &staff, StatusCode::OK, None, Some("Byline added.")).await,
        Err(StoreError::Conflict(m)) => {
            render(&state, &staff, StatusCode::CONFLICT, Some(&m), None).await
        }
        Err(e) => unavailable(e),
    }
}

#[derive(Deserialize)]
pub struct TagForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    section: Option<String>,
}

pub async fn add_tag(
    State(state): State<AppState>,
    DeskForm { staff, form }: DeskForm<TagForm>,
) -> Response {
    let f = form;
    if !permits(staff.0.user.role, Action::ManageTags) {
        return not_allowed("Tags");
    }
    let name = f.name.trim().to_owned();
    let Some(slug) = editorial::tag_slug(None, &name)
        .ok()
        .filter(|_| name.len() <= 120)
    else {
        return render(
            &state,
            &staff,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(
                "Give the tag a name of at most 120 characters, with some Latin letters or digits.",
            ),
            None,
        )
        .await;
    };
    let description = f.description.trim().chars().take(500).collect::<String>();
    let is_section = f.section.is_some();
    let result = state
        .store
        // Sections appear in every page's navigation.
        .create_tag(NewTag {
            slug: slug.into_string(),
            name,
            description,
            is_section,
            position: 100,
        })
        .await;
    match result {
        Ok(_) => {
            if is_section {
                if let Err(e) = state.reload_site().await {
                    return unavailable(e);
                }
                state.cache.clear();
            }
            render(&state, &staff, StatusCode::OK, None, Some("Tag added.")).await
        }
        Err(StoreError::Conflict(_)) => {
            render(
                &state,
                &staff,
                StatusCode::CONFLICT,
                Some("A tag with that name already exists."),
                None,
            )
            .await
        }
        Err(e) => unavailable(e),
    }
}

fn not_allowed(who: &str) -> Response {
    message(
        StatusCode::FORBIDDEN,
        "Not allowed",
        &format!("{who} are managed by editors and above."),
        None,
    )
}

fn missing(what: &str) -> Response {
    message(
        StatusCode::NOT_FOUND,
        &format!("No such {what}"),
        &format!("That {what} does not exist."),
        None,
    )
}

/// Library images offered as portraits.
async fn portraits(state: &AppState) -> Vec<serde_json::Value> {
    state
        .store
        .media_page(None, 60)
        .await
        .unwrap_or_default()
        .iter()
        .map(|m| {
            serde_json::json!({
                "id": m.id,
                "label": if m.alt.is_empty() { m.filename.clone() } else { format!("{} ({})", m.alt, m.filename) },
                "src": m.url(m.widths.first().copied().unwrap_or(m.width), &m.fallback),
            })
        })
        .collect()
}

async fn byline_page(
    state: &AppState,
    staff: &Staff,
    author: &masthead_store::Author,
    status: StatusCode,
    error: Option<&str>,
    notice: Option<&str>,
) -> Response {
    page(
        status,
        "byline.html",
        serde_json::json!({
            "title": format!("Byline: {}", author.name),
            "staff": StaffView::from(&staff.0.user),
            "csrf": staff.0.csrf_token,
            "a": author,
            "portraits": portraits(state).await,
            "error": error,
            "notice": notice,
        }),
    )
}

pub async fn edit_author(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
) -> Response {
    if !permits(staff.0.user.role, Action::ManageAuthors) {
        return not_allowed("Bylines");
    }
    match state.store.author_by_id(id).await {
        Ok(Some(a)) => byline_page(&state, &staff, &a, StatusCode::OK, None, None).await,
        Ok(None) => missing("byline"),
        Err(e) => unavailable(e),
    }
}

#[derive(Deserialize)]
pub struct BylineForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    bio: String,
    #[serde(default)]
    location: String,
    /// `keep`, empty (none) or a media library id.
    #[serde(default = "keep")]
    avatar_media: String,
}

fn keep() -> String {
    "keep".to_owned()
}

pub async fn save_author(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    DeskForm { staff, form }: DeskForm<BylineForm>,
) -> Response {
    if !permits(staff.0.user.role, Action::ManageAuthors) {
        return not_allowed("Bylines");
    }
    let author = match state.store.author_by_id(id).await {
        Ok(Some(a)) => a,
        Ok(None) => return missing("byline"),
        Err(e) => return unavailable(e),
    };
    let name = form.name.trim().to_owned();
    if name.is_empty() || name.len() > 120 || form.bio.len() > 1_000 || form.location.len() > 120 {
        return byline_page(
            &state,
            &staff,
            &author,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("A byline needs a name (at most 120 characters); the bio is at most 1,000 and the location 120."),
            None,
        )
        .await;
    }
    let avatar = match form.avatar_media.trim() {
        "keep" => author.avatar.clone(),
        "" => None,
        id => match id.parse::<i64>().ok().filter(|i| *i > 0) {
            Some(media_id) => match state.store.media_item(media_id).await {
                Ok(Some(m)) => {
                    Some(m.url(m.widths.first().copied().unwrap_or(m.width), &m.fallback))
                }
                Ok(None) => {
                    return byline_page(
                        &state,
                        &staff,
                        &author,
                        StatusCode::UNPROCESSABLE_ENTITY,
                        Some("That image is no longer in the media library."),
                        None,
                    )
                    .await;
                }
                Err(e) => return unavailable(e),
            },
            None => {
                return byline_page(
                    &state,
                    &staff,
                    &author,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some("Choose the portrait from the media library."),
                    None,
                )
                .await;
            }
        },
    };
    let edit = AuthorEdit {
        name,
        bio: form.bio.trim().to_owned(),
        location: form.location.trim().to_owned(),
        avatar,
    };
    match state.store.update_author(id, edit).await {
        Ok(()) => {
            state.cache.clear();
            state.wrote.notify_one();
            match state.store.author_by_id(id).await {
                Ok(Some(a)) => {
                    byline_page(
                        &state,
                        &staff,
                        &a,
                        StatusCode::OK,
                        None,
                        Some("Saved: every story it signs shows the change."),
                    )
                    .await
                }
                Ok(None) => missing("byline"),
                Err(e) => unavailable(e),
            }
        }
        Err(e) => unavailable(e),
    }
}

async fn tag_page(
    staff: &Staff,
    tag: &masthead_store::EditableTag,
    status: StatusCode,
    error: Option<&str>,
    notice: Option<&str>,
) -> Response {
    page(
        status,
        "tag.html",
        serde_json::json!({
            "title": format!("Tag: {}", tag.name),
            "staff": StaffView::from(&staff.0.user),
            "csrf": staff.0.csrf_token,
            "t": tag,
            "error": error,
            "notice": notice,
        }),
    )
}

pub async fn edit_tag(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
) -> Response {
    if !permits(staff.0.user.role, Action::ManageTags) {
        return not_allowed("Tags");
    }
    match state.store.editable_tag(id).await {
        Ok(Some(t)) => tag_page(&staff, &t, StatusCode::OK, None, None).await,
        Ok(None) => missing("tag"),
        Err(e) => unavailable(e),
    }
}

#[derive(Deserialize)]
pub struct TagEditForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    section: Option<String>,
    #[serde(default)]
    position: String,
}

pub async fn save_tag(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    DeskForm { staff, form }: DeskForm<TagEditForm>,
) -> Response {
    if !permits(staff.0.user.role, Action::ManageTags) {
        return not_allowed("Tags");
    }
    let tag = match state.store.editable_tag(id).await {
        Ok(Some(t)) => t,
        Ok(None) => return missing("tag"),
        Err(e) => return unavailable(e),
    };
    let name = form.name.trim().to_owned();
    let position = match form.position.trim() {
        "" => Ok(tag.position),
        p => p.parse::<i64>().map_err(|_| ()).and_then(|p| {
            if (0..=10_000).contains(&p) {
                Ok(p)
            } else {
                Err(())
            }
        }),
    };
    let (Ok(position), false) = (
        position,
        name.is_empty() || name.len() > 120 || form.description.len() > 500,
    ) else {
        return tag_page(
            &staff,
            &tag,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("A tag needs a name (at most 120 characters), a description of at most 500, and a position from 0 to 10,000."),
            None,
        )
        .await;
    };
    let edit = TagEdit {
        name,
        description: form.description.trim().to_owned(),
        is_section: form.section.is_some(),
        position,
    };
    match state.store.update_tag(id, edit).await {
        Ok(()) => {
            if let Err(e) = state.reload_site().await {
                return unavailable(e);
            }
            state.cache.clear();
            state.wrote.notify_one();
            match state.store.editable_tag(id).await {
                Ok(Some(t)) => {
                    tag_page(
                        &staff,
                        &t,
                        StatusCode::OK,
                        None,
                        Some("Saved: the site shows the change now."),
                    )
                    .await
                }
                Ok(None) => missing("tag"),
                Err(e) => unavailable(e),
            }
        }
        Err(e) => unavailable(e),
    }
}

crate::admin::has_csrf!(AuthorForm, TagForm, BylineForm, TagEditForm);
