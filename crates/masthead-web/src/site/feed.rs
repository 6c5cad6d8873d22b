//! The News Feed and every other listing (tag, section, author, video), with
//! keyset "Show More": `?after=<cursor>` for the next page, `&fragment=1` for
//! just the cards, as the Show More script asks.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use masthead_domain::{FeedCursor, PostKind, Slug};
use masthead_render::views::{CampaignView, CardView, FeedLink, PageMeta, SeoView, SiteView};
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
    /// Canonical address (without `?after=`), link-preview tags, feed links.
    seo: SeoView,
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
    /// This listing's own feeds (the whole site's are on every page).
    feeds: Vec<FeedLink>,
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
    let site = state.site_view();
    let seo = super::seo::for_listing(
        &site,
        &listing.url,
        &meta.title,
        &meta.description,
        listing.head.as_ref().and_then(|h| h.image.as_deref()),
        listing.feeds,
    );
    let ctx = ListingContext {
        site,
        campaign: state.campaign_view(&clock),
        page: meta,
        seo,
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
    fn headed(
        scope: FeedScope,
        key: String,
        head: ListingHead,
        in_nav: bool,
        feeds: Vec<FeedLink>,
    ) -> Listing {
        Listing {
            scope,
            key,
            feeds,
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

/// "Harbour | The Aldren Courier", as the feed itself is titled.
fn feed_title(state: &AppState, name: &str) -> String {
    format!("{name} | {}", state.site().settings.title)
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
        feeds: Vec::new(),
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
    let feeds = FeedLink::all_for(&head.url, &feed_title(&state, &head.title));
    let listing = Listing::headed(
        FeedScope::Tag(tag.id),
        format!("tag-{}", tag.id),
        head,
        false,
        feeds,
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
    // A section's readers may follow its tag's feed.
    let feeds = FeedLink::all_for(
        &format!("/tag/{}/", tag.slug),
        &feed_title(&state, &head.title),
    );
    let listing = Listing::headed(
        FeedScope::Section(tag.id),
        format!("section-{}", tag.id),
        head,
        true,
        feeds,
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
    let feeds = FeedLink::all_for(&head.url, &feed_title(&state, &head.title));
    let listing = Listing::headed(
        FeedScope::Author(author.id),
        format!("author-{}", author.id),
        head,
        false,
        feeds,
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
        Vec::new(),
    );
    render(&state, listing, after, fragment).await
}
