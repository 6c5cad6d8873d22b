//! The News Feed and every other listing (tag, section, author, video), with
//! keyset "Show More": `?after=<cursor>` for the next page, `&fragment=1` for
//! just the cards, as the Show More script asks.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use masthead_domain::{FeedCursor, PostKind, Slug};
use masthead_render::views::{CampaignView, CardView, PageMeta, SiteView};
use masthead_store::{FeedPage, FeedScope};
use serde::{Deserialize, Serialize};

use super::html_page;
use crate::cache::CacheTags;
use crate::error::SiteError;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    after: Option<String>,
    fragment: Option<String>,
}

#[derive(Serialize)]
struct ListingHead {
    kind_label: &'static str,
    title: String,
    description: String,
    location: String,
    url: String,
    /// A portrait, on author pages.
    image: Option<String>,
}

#[derive(Serialize)]
struct ListingContext {
    site: SiteView,
    campaign: Option<CampaignView>,
    page: PageMeta,
    listing: Option<ListingHead>,
    cards: Vec<CardView>,
    next_url: Option<String>,
    paged: bool,
}

#[derive(Serialize)]
struct FragmentContext {
    cards: Vec<CardView>,
    next_url: Option<String>,
}

struct Listing {
    scope: FeedScope,
    key: String,
    url: String,
    head: Option<ListingHead>,
    meta: PageMeta,
}

fn parse_query(
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<(Option<FeedCursor>, bool), SiteError> {
    let Query(q) =
        q.map_err(|e| SiteError::BadRequest(format!("The address has a malformed query: {e}")))?;
    let after = match q.after.as_deref() {
        None => None,
        Some(text) => Some(FeedCursor::decode(text).map_err(|e| {
            SiteError::BadRequest(format!(
                "The \"after\" parameter is not a valid position in the feed ({e}). Start again from the first page."
            ))
        })?),
    };
    Ok((after, q.fragment.as_deref() == Some("1")))
}

async fn render(
    state: &AppState,
    listing: Listing,
    after: Option<FeedCursor>,
    fragment: bool,
) -> Result<Response, SiteError> {
    let FeedPage { cards, next } = state
        .store
        .feed(listing.scope, after, state.config.page_size)
        .await?;
    let clock = state.clock();
    let cards = CardView::list(&cards, &clock);
    let next_url = next.map(|c| format!("{}?after={}", listing.url, c.encode()));
    if fragment {
        let html = state
            .theme
            .render("fragment.html", &FragmentContext { cards, next_url })?;
        return Ok(html_page(html, CacheTags::new([listing.key])));
    }
    let template = if listing.head.is_some() {
        "listing.html"
    } else {
        "home.html"
    };
    let mut meta = listing.meta;
    // Deep pages are for people, not search engines (which get the sitemap).
    meta.noindex = after.is_some();
    let ctx = ListingContext {
        site: state.site_view(),
        campaign: state.campaign_view(&clock),
        page: meta,
        listing: listing.head,
        cards,
        next_url,
        paged: after.is_some(),
    };
    Ok(html_page(
        state.theme.render(template, &ctx)?,
        CacheTags::new([listing.key, "site".to_owned()]),
    ))
}

impl Listing {
    /// A listing with its own heading; its page title, description and path
    /// come from the heading. `in_nav` marks it current in the sections menu.
    fn headed(scope: FeedScope, key: String, head: ListingHead, in_nav: bool) -> Listing {
        Listing {
            scope,
            key,
            url: head.url.clone(),
            meta: PageMeta {
                title: head.title.clone(),
                description: head.description.clone(),
                path: head.url.clone(),
                section: in_nav.then(|| head.url.clone()),
                noindex: false,
            },
            head: Some(head),
        }
    }
}

fn slug_or_404(slug: &str) -> Result<String, SiteError> {
    Slug::parse(slug)
        .map(Slug::into_string)
        .map_err(|_| SiteError::NotFound)
}

pub async fn home(
    State(state): State<AppState>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, SiteError> {
    let (after, fragment) = parse_query(q)?;
    let site = state.site();
    let listing = Listing {
        scope: FeedScope::All,
        key: "feed".to_owned(),
        url: "/".to_owned(),
        head: None,
        meta: PageMeta {
            title: String::new(),
            description: site.settings.description.clone(),
            path: "/".to_owned(),
            section: Some("home".to_owned()),
            noindex: false,
        },
    };
    render(&state, listing, after, fragment).await
}

pub async fn tag(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, SiteError> {
    let (after, fragment) = parse_query(q)?;
    let tag = state
        .store
        .tag_by_slug(slug_or_404(&slug)?)
        .await?
        .ok_or(SiteError::NotFound)?;
    let head = ListingHead {
        image: None,
        kind_label: "Topic",
        url: format!("/tag/{}/", tag.slug),
        title: tag.name,
        description: tag.description,
        location: String::new(),
    };
    let listing = Listing::headed(
        FeedScope::Tag(tag.id),
        format!("tag-{}", tag.id),
        head,
        false,
    );
    render(&state, listing, after, fragment).await
}

pub async fn section(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, SiteError> {
    let (after, fragment) = parse_query(q)?;
    let tag = state
        .store
        .tag_by_slug(slug_or_404(&slug)?)
        .await?
        .ok_or(SiteError::NotFound)?;
    if !tag.is_section {
        return Err(SiteError::NotFound);
    }
    let head = ListingHead {
        image: None,
        kind_label: "Section",
        url: format!("/section/{}/", tag.slug),
        title: tag.name,
        description: tag.description,
        location: String::new(),
    };
    let listing = Listing::headed(
        FeedScope::Section(tag.id),
        format!("section-{}", tag.id),
        head,
        true,
    );
    render(&state, listing, after, fragment).await
}

pub async fn author(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, SiteError> {
    let (after, fragment) = parse_query(q)?;
    let author = state
        .store
        .author_by_slug(slug_or_404(&slug)?)
        .await?
        .ok_or(SiteError::NotFound)?;
    let head = ListingHead {
        image: author.avatar,
        kind_label: "Reporter",
        url: format!("/author/{}/", author.slug),
        title: author.name,
        description: author.bio,
        location: author.location,
    };
    let listing = Listing::headed(
        FeedScope::Author(author.id),
        format!("author-{}", author.id),
        head,
        false,
    );
    render(&state, listing, after, fragment).await
}

pub async fn video(
    State(state): State<AppState>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, SiteError> {
    let (after, fragment) = parse_query(q)?;
    let head = ListingHead {
        image: None,
        kind_label: "Section",
        url: "/video/".to_owned(),
        title: "Video".to_owned(),
        description: "Films and explainers from our reporters.".to_owned(),
        location: String::new(),
    };
    let listing = Listing::headed(
        FeedScope::Kind(PostKind::Video),
        "kind-video".to_owned(),
        head,
        true,
    );
    render(&state, listing, after, fragment).await
}
