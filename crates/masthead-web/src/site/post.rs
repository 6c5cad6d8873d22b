//! Article, brief, video, live and standalone pages, all at `/{slug}/`.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use masthead_domain::{FeedCursor, PostKind, Slug, Visibility};
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
/// Live entries per page (pinned ones come on top of the first page): a
/// roundup with hundreds of entries stays a light page.
pub const LIVE_PAGE: u32 = 50;

#[derive(serde::Deserialize)]
pub struct StoryQuery {
    /// On live pages: show entries older than this (`{ms}.{id}`).
    before: Option<String>,
}

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
    /// How many entries the roundup has in all.
    entry_total: u64,
    /// The next page of older entries, if there is one.
    older_url: Option<String>,
    /// On pages of older entries: the way back to the newest.
    newest_url: Option<String>,
    /// Only the newest page follows new entries as they come.
    events_url: Option<String>,
    /// On the teaser of a metered story: the free stories this reader has
    /// used up.
    meter_spent: Option<u32>,
}

pub async fn show(
    State(state): State<AppState>,
    viewer: Option<axum::Extension<super::members::Viewer>>,
    meter_cookie: Option<axum::Extension<super::meter::MeterCookie>>,
    Path(slug): Path<String>,
    query: Result<Query<StoryQuery>, QueryRejection>,
) -> Result<Response, SiteError> {
    let slug = Slug::parse(&slug).map_err(|_| SiteError::NotFound)?;
    let Query(query) = query
        .map_err(|e| SiteError::BadRequest(format!("The address has a malformed query: {e}")))?;
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
    let before = match (post.kind, query.before.as_deref()) {
        (PostKind::Live, Some(text)) => Some(FeedCursor::decode(text).map_err(|e| {
            SiteError::BadRequest(format!(
                "The \"before\" parameter is not a valid position in this roundup ({e}). Start again from its newest updates."
            ))
        })?),
        _ => None,
    };
    let live = if post.kind == PostKind::Live {
        state.store.live_page(post.id, before, LIVE_PAGE).await?
    } else {
        masthead_store::LivePage::default()
    };
    let page_url = format!("/{}/", post.slug);
    let older_url = live
        .older
        .map(|c| format!("{page_url}?before={}", c.encode()));
    let newest_url = before.is_some().then(|| page_url.clone());
    // The newest entries first, pinned or not, for the JSON-LD.
    let mut all: Vec<masthead_store::LiveEntry> = live
        .pinned
        .iter()
        .chain(live.entries.iter())
        .cloned()
        .collect();
    all.sort_by_key(|e| std::cmp::Reverse((e.created_ms, e.id)));
    let pinned: Vec<EntryView> = live
        .pinned
        .iter()
        .map(|e| EntryView::new(e, &clock))
        .collect();
    let entries: Vec<EntryView> = live
        .entries
        .iter()
        .map(|e| EntryView::new(e, &clock))
        .collect();
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
    let mut view = PostView::new(&post, &clock);
    // A member with access reads a gated story in full (the page cache
    // keeps this copy for their audience only, tier included; see cache.rs).
    let reader = viewer.and_then(|v| v.0.reader());
    // An anonymous reader of a members-only story may open it through the
    // metered paywall (never a paid or tiers story).
    let limit = state.site().settings.meter_free_stories;
    let metered = match (&meter_cookie, view.gate) {
        (Some(axum::Extension(cookie)), Some(_))
            if reader.is_none() && limit > 0 && post.visibility == Visibility::Members =>
        {
            Some(super::meter::decide(&state, cookie.0.as_deref(), post.id, limit).await)
        }
        _ => None,
    };
    let full = metered.as_ref().is_some_and(|m| m.full);
    if view.gate.is_some() && (full || post.readable_by(reader)) {
        // The part the others do not get, marked for search engines.
        view.body_html = masthead_domain::html::mark_paywalled(&post.body_html);
        view.gate = None;
    }
    // An editor's support box, with the amounts offered now.
    if view
        .body_html
        .contains(masthead_domain::html::SUPPORT_MARKER)
    {
        let amounts = crate::billing::donations::suggested(&state).await?;
        let site = state.site();
        let support =
            crate::billing::donations::support_box(&site.settings.title, &site.currency, &amounts);
        // Only a marker standing between blocks: the same text inside an
        // attribute or a paragraph stays text.
        view.body_html = masthead_domain::html::replace_top_level(
            &view.body_html,
            masthead_domain::html::SUPPORT_MARKER,
            &support,
        );
    }
    let site = state.site_view();
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
            // Pages of older live entries are for people, not search engines.
            noindex: before.is_some(),
        },
        seo,
        events_url: newest_url
            .is_none()
            .then(|| format!("/_live/{}/events", post.id)),
        entry_total: live.total,
        older_url,
        newest_url,
        post: view,
        read_next,
        pinned,
        entries,
        meter_spent: metered.as_ref().filter(|m| !m.full).map(|m| m.limit),
    };
    // A story also shows "Read next" (other posts) and the site's furniture.
    let tags = CacheTags::new([
        format!("post-{}", ctx.post.id),
        "readnext".to_owned(),
        "site".to_owned(),
    ]);
    let mut res = html_page(state.theme.render(template, &ctx)?, tags);
    if let Some(m) = metered {
        res.extensions_mut().insert(m);
    }
    Ok(res)
}
