//! Article, brief, video, live and standalone pages, all at `/{slug}/`.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use masthead_domain::{PostKind, Slug};
use masthead_render::views::{
    CampaignView, CardView, EntryView, PageMeta, PostView, SeoView, SiteView,
};
use serde::Serialize;

use super::html_page;
use crate::cache::CacheTags;
use crate::error::SiteError;
use crate::state::AppState;

/// How many "Read next" cards follow a story.
const READ_NEXT: u32 = 4;

#[derive(Serialize)]
struct PostContext {
    site: SiteView,
    campaign: Option<CampaignView>,
    page: PageMeta,
    /// Canonical address, link-preview tags and JSON-LD.
    seo: SeoView,
    post: PostView,
    read_next: Vec<CardView>,
    pinned: Vec<EntryView>,
    entries: Vec<EntryView>,
    events_url: String,
}

pub async fn show(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> Result<Response, SiteError> {
    let slug = Slug::parse(&slug).map_err(|_| SiteError::NotFound)?;
    let Some(post) = state
        .store
        .published_post_by_slug(slug.as_str().to_owned())
        .await?
    else {
        // A renamed story keeps its old address.
        return match state.store.redirect_for(slug.into_string()).await? {
            Some(new) => Ok((
                axum::http::StatusCode::MOVED_PERMANENTLY,
                [(axum::http::header::LOCATION, format!("/{new}/"))],
            )
                .into_response()),
            None => Err(SiteError::NotFound),
        };
    };
    let clock = state.clock();
    let all = if post.kind == PostKind::Live {
        state.store.live_entries(post.id).await?
    } else {
        Vec::new()
    };
    let (pinned, entries) = if post.kind == PostKind::Live {
        let (pinned, rest): (Vec<_>, Vec<_>) = all.iter().partition(|e| e.pinned);
        (
            pinned
                .into_iter()
                .map(|e| EntryView::new(e, &clock))
                .collect(),
            rest.into_iter()
                .map(|e| EntryView::new(e, &clock))
                .collect(),
        )
    } else {
        (Vec::new(), Vec::new())
    };
    let read_next = if post.kind == PostKind::Page {
        Vec::new()
    } else {
        let cards = state
            .store
            .read_next(post.id, post.primary_tag().map(|t| t.id), READ_NEXT)
            .await?;
        CardView::list(&cards, &clock)
    };
    let template = match post.kind {
        PostKind::Live => "live.html",
        PostKind::Page => "page.html",
        _ => "post.html",
    };
    let view = PostView::new(&post, &clock);
    let site = state.site_view_at(state.base_url(&headers));
    let title = post
        .meta_title
        .clone()
        .unwrap_or_else(|| post.title.clone());
    // Live entries arrive newest first, as the JSON-LD lists them.
    let seo = super::seo::for_post(&state, &site, &post, &view, &title, &all);
    let ctx = PostContext {
        site,
        campaign: state.campaign_view(&clock),
        page: PageMeta {
            title,
            description: view.meta_description.clone(),
            path: view.url.clone(),
            section: None,
            noindex: false,
        },
        seo,
        events_url: format!("/_live/{}/events", post.id),
        post: view,
        read_next,
        pinned,
        entries,
    };
    // A story also shows "Read next" (other posts) and the site's furniture.
    let tags = CacheTags::new([
        format!("post-{}", ctx.post.id),
        "readnext".to_owned(),
        "site".to_owned(),
    ]);
    Ok(html_page(state.theme.render(template, &ctx)?, tags))
}
