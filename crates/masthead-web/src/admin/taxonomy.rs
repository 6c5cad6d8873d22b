//! Bylines (including guest contributors without a login) and tags.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use masthead_domain::slug::{slugify, unique_slug};
use masthead_domain::{Action, permits};
use masthead_store::{NewAuthor, NewTag, StoreError};
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
    let (authors, tags) = match state.store.all_authors_and_tags().await {
        Ok(x) => x,
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
        return message(
            StatusCode::FORBIDDEN,
            "Not allowed",
            "Editors and above manage bylines.",
            None,
        );
    }
    let name = f.name.trim().to_owned();
    let Some(base) = slugify(&name).filter(|_| name.len() <= 120) else {
        return render(&state, &staff, StatusCode::UNPROCESSABLE_ENTITY, Some("Give the byline a name of at most 120 characters, with some Latin letters or digits."), None).await;
    };
    let bio = f.bio.trim().chars().take(500).collect::<String>();
    let result = state
        .store
        .write(move |w| {
            let authors = w.author_slugs()?;
            let slug = unique_slug(&base, |s| authors.iter().any(|a| a == s));
            w.insert_author(&NewAuthor {
                slug: slug.into_string(),
                name,
                bio,
                location: String::new(),
            })
        })
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
        return message(
            StatusCode::FORBIDDEN,
            "Not allowed",
            "Editors and above manage tags.",
            None,
        );
    }
    let name = f.name.trim().to_owned();
    let Some(slug) = slugify(&name).filter(|_| name.len() <= 120) else {
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
        .write(move |w| {
            w.insert_tag(&NewTag {
                slug: slug.into_string(),
                name,
                description,
                is_section,
                position: 100,
            })?;
            // Sections appear in every page's navigation.
            w.log_change(masthead_store::ChangeTopic::Site, None, None)
        })
        .await;
    match result {
        Ok(()) => {
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

crate::admin::has_csrf!(AuthorForm, TagForm);
