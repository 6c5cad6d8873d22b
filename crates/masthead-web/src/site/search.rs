//! Search: the results page at `/search/` (a plain GET form, so it works
//! without JavaScript) and the same results as JSON at `/search.json`.
//!
//! Both read the same parameters: `q` (the reader's query, see
//! `masthead_domain::search`), `kind`, `tag` (a tag's slug), `from` and `to`
//! (`YYYY-MM-DD`, days in the site's time zone, both inclusive) and `after`
//! (the opaque cursor of the next page). Results are ranked by relevance,
//! newest first among equals, and paged by keyset.
//!
//! Result pages are not kept in the page cache: they are one per query, and
//! the cache keys pages by path and paging parameters only. They are cheap
//! instead (an indexed search, FTS5 or a tsvector; snippets only for the page
//! shown) and a CDN may keep them briefly.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use masthead_domain::search::{
    MAX_QUERY_CHARS, QueryError, SearchCursor, SearchQuery, clean_text, parse as parse_query,
};
use masthead_domain::{PostKind, Slug};
use masthead_render::views::{CampaignView, CardView, Clock, PageMeta, SiteView};
use masthead_store::{SearchFilters, SearchHit, SearchPage};
use serde::{Deserialize, Serialize};

use crate::error::SiteError;
use crate::state::AppState;

/// Results per page.
const PAGE_SIZE: u32 = 20;
/// Browsers and CDNs may reuse a results page this long (no purge reaches them).
const SEARCH_CACHE_CONTROL: &str = "public, max-age=0, s-maxage=10";

/// The kinds a search can be narrowed to, as the form offers them.
const KINDS: [(PostKind, &str); 4] = [
    (PostKind::Article, "Articles"),
    (PostKind::Brief, "Briefs"),
    (PostKind::Video, "Videos"),
    (PostKind::Live, "Live coverage"),
];

/// The address's parameters, as sent. Empty values (the form's "any") mean absent.
#[derive(Debug, Default, Deserialize)]
pub struct SearchParams {
    q: Option<String>,
    kind: Option<String>,
    tag: Option<String>,
    from: Option<String>,
    to: Option<String>,
    after: Option<String>,
}

/// A search, checked: what to look for, where, and from which position.
struct SearchRequest {
    query: SearchQuery,
    /// What the reader typed, for the search box.
    text: String,
    kind: Option<PostKind>,
    tag: Option<Slug>,
    from: Option<String>,
    to: Option<String>,
    filters: SearchFilters,
    after: Option<SearchCursor>,
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

impl SearchRequest {
    fn parse(
        params: Result<Query<SearchParams>, QueryRejection>,
        clock: &Clock,
    ) -> Result<SearchRequest, String> {
        let Query(p) = params.map_err(|e| format!("The address has a malformed query: {e}"))?;
        // Control characters (NUL included) separate words and are never shown back.
        let text = clean_text(&p.q.unwrap_or_default());
        let query = parse_query(&text).map_err(|e| match e {
            QueryError::TooLong => {
                format!("That search is too long. Please use at most {MAX_QUERY_CHARS} characters.")
            }
            QueryError::TooManyTerms => e.to_string(),
        })?;
        let kind = match non_empty(p.kind) {
            None => None,
            Some(k) => Some(
                KINDS
                    .iter()
                    .map(|(kind, _)| *kind)
                    .find(|kind| kind.as_str() == k)
                    .ok_or_else(|| {
                        "The \"kind\" parameter must be article, brief, video or live.".to_owned()
                    })?,
            ),
        };
        let tag = match non_empty(p.tag) {
            None => None,
            Some(t) => Some(
                Slug::parse(&t)
                    .map_err(|_| "The \"tag\" parameter is not a tag's address name.".to_owned())?,
            ),
        };
        let day = |name: &str, v: &Option<String>| -> Result<Option<(i64, i64)>, String> {
            match v {
                None => Ok(None),
                Some(d) => clock.day_bounds_ms(d).map(Some).ok_or_else(|| {
                    format!("The \"{name}\" parameter must be a date written as YYYY-MM-DD.")
                }),
            }
        };
        let (from, to) = (non_empty(p.from), non_empty(p.to));
        let from_ms = day("from", &from)?.map(|(start, _)| start);
        let to_ms = day("to", &to)?.map(|(_, end)| end);
        let after = match p.after.as_deref() {
            None => None,
            Some(c) => Some(SearchCursor::decode(c).map_err(|e| {
                format!(
                    "The \"after\" parameter is not a valid position in these results ({e}). Start the search again."
                )
            })?),
        };
        Ok(SearchRequest {
            filters: SearchFilters {
                kind,
                tag: tag.as_ref().map(|t| t.as_str().to_owned()),
                from_ms,
                to_ms,
            },
            query,
            text,
            kind,
            tag,
            from,
            to,
            after,
        })
    }

    /// This search's address, at position `after`.
    fn url(&self, path: &str, after: Option<&SearchCursor>) -> String {
        let mut pairs: Vec<(&str, String)> = vec![("q", self.text.clone())];
        if let Some(k) = self.kind {
            pairs.push(("kind", k.as_str().to_owned()));
        }
        if let Some(t) = &self.tag {
            pairs.push(("tag", t.as_str().to_owned()));
        }
        if let Some(f) = &self.from {
            pairs.push(("from", f.clone()));
        }
        if let Some(t) = &self.to {
            pairs.push(("to", t.clone()));
        }
        if let Some(a) = after {
            pairs.push(("after", a.encode()));
        }
        let query: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", encode_component(v)))
            .collect();
        format!("{path}?{}", query.join("&"))
    }

    async fn run(&self, state: &AppState) -> Result<SearchPage, SiteError> {
        Ok(state
            .store
            .search(
                self.query.clone(),
                self.filters.clone(),
                self.after,
                PAGE_SIZE,
            )
            .await?)
    }
}

/// Percent-encodes a query value: everything but unreserved characters.
fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[derive(Serialize)]
struct ResultView {
    card: CardView,
    /// The headline with matches in `<mark>`, everything else escaped.
    title_html: String,
    /// A passage with matches in `<mark>`, everything else escaped.
    snippet_html: String,
}

#[derive(Serialize)]
struct OptionView {
    value: String,
    label: String,
    selected: bool,
}

#[derive(Serialize)]
struct SearchView {
    q: String,
    /// Whether there was anything to search for.
    searched: bool,
    results: Vec<ResultView>,
    next_url: Option<String>,
    /// On later pages: the way back to the first.
    first_url: Option<String>,
    kinds: Vec<OptionView>,
    tags: Vec<OptionView>,
    from: String,
    to: String,
    /// Whether any filter is set (the filters start open then).
    filtered: bool,
}

#[derive(Serialize)]
struct SearchContext {
    site: SiteView,
    campaign: Option<CampaignView>,
    page: PageMeta,
    search: SearchView,
}

fn with_cache_control(mut res: Response) -> Response {
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(SEARCH_CACHE_CONTROL),
    );
    res
}

/// `GET /search/`: the form, and the results when there is a query.
pub async fn page(
    State(state): State<AppState>,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> Result<Response, SiteError> {
    let clock = state.clock();
    let req = SearchRequest::parse(params, &clock).map_err(SiteError::BadRequest)?;
    let searched = req.query.is_searchable();
    let found = if searched {
        req.run(&state).await?
    } else {
        SearchPage::default()
    };
    let results = found
        .hits
        .iter()
        .map(|h: &SearchHit| ResultView {
            card: CardView::new(&h.card, &clock),
            title_html: h.title.to_html(),
            snippet_html: h.snippet.to_html(),
        })
        .collect();
    let site = state.site();
    let current_tag = req.tag.as_ref().map(|t| t.as_str().to_owned());
    let mut tags: Vec<OptionView> = site
        .sections
        .iter()
        .map(|t| OptionView {
            selected: current_tag.as_deref() == Some(t.slug.as_str()),
            value: t.slug.clone(),
            label: t.name.clone(),
        })
        .collect();
    if let Some(t) = &current_tag
        && !tags.iter().any(|o| o.selected)
    {
        tags.push(OptionView {
            value: t.clone(),
            label: t.clone(),
            selected: true,
        });
    }
    let kinds = KINDS
        .iter()
        .map(|(k, label)| OptionView {
            value: k.as_str().to_owned(),
            label: (*label).to_owned(),
            selected: req.kind == Some(*k),
        })
        .collect();
    let title = if searched {
        format!("Search: {}", req.text.trim())
    } else {
        "Search".to_owned()
    };
    let ctx = SearchContext {
        site: state.site_view(),
        campaign: state.campaign_view(&clock),
        page: PageMeta {
            title,
            description: String::new(),
            path: "/search/".to_owned(),
            section: None,
            // Result pages are for readers, not for search engines.
            noindex: true,
        },
        search: SearchView {
            q: req.text.clone(),
            searched,
            results,
            next_url: found.next.as_ref().map(|c| req.url("/search/", Some(c))),
            first_url: req.after.is_some().then(|| req.url("/search/", None)),
            kinds,
            tags,
            from: req.from.clone().unwrap_or_default(),
            to: req.to.clone().unwrap_or_default(),
            filtered: req.kind.is_some()
                || req.tag.is_some()
                || req.from.is_some()
                || req.to.is_some(),
        },
    };
    let html = state.theme.render("search.html", &ctx)?;
    Ok(with_cache_control(Html(html).into_response()))
}

#[derive(Serialize)]
struct JsonResult {
    id: i64,
    url: String,
    kind: PostKind,
    title: String,
    title_html: String,
    dek: String,
    snippet_html: String,
    published_at: String,
    members_only: bool,
}

#[derive(Serialize)]
struct JsonResults {
    query: String,
    results: Vec<JsonResult>,
    /// Pass as `after` for the next page; `null` on the last.
    next: Option<String>,
    next_url: Option<String>,
}

#[derive(Serialize)]
struct JsonError {
    error: JsonErrorBody,
}

#[derive(Serialize)]
struct JsonErrorBody {
    status: u16,
    message: String,
}

fn json_error(status: StatusCode, message: String) -> Response {
    let mut res = (
        status,
        axum::Json(JsonError {
            error: JsonErrorBody {
                status: status.as_u16(),
                message,
            },
        }),
    )
        .into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// `GET /search.json`: the same search, as JSON; errors as JSON too.
pub async fn json(
    State(state): State<AppState>,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> Response {
    let clock = state.clock();
    let req = match SearchRequest::parse(params, &clock) {
        Ok(r) => r,
        Err(m) => return json_error(StatusCode::BAD_REQUEST, m),
    };
    let found = if req.query.is_searchable() {
        match req.run(&state).await {
            Ok(f) => f,
            Err(e) => {
                let (status, message) = match e {
                    SiteError::Unavailable => (
                        StatusCode::SERVICE_UNAVAILABLE,
                        "Search is briefly unavailable; please try again.",
                    ),
                    other => {
                        tracing::error!(error = ?other, "search failed");
                        (
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "Something went wrong on our side; it has been logged.",
                        )
                    }
                };
                return json_error(status, message.to_owned());
            }
        }
    } else {
        SearchPage::default()
    };
    let site = state.site_view();
    let results = found
        .hits
        .iter()
        .map(|h| JsonResult {
            id: h.card.id,
            url: site.absolute(&format!("/{}/", h.card.slug)),
            kind: h.card.kind,
            title: h.card.title.clone(),
            title_html: h.title.to_html(),
            dek: h.card.dek.clone(),
            snippet_html: h.snippet.to_html(),
            published_at: clock.time(h.card.published_ms).iso,
            members_only: h.card.visibility != masthead_domain::Visibility::Public,
        })
        .collect();
    with_cache_control(
        axum::Json(JsonResults {
            query: req.query.to_text(),
            results,
            next: found.next.as_ref().map(SearchCursor::encode),
            next_url: found
                .next
                .as_ref()
                .map(|c| req.url("/search.json", Some(c))),
        })
        .into_response(),
    )
}
