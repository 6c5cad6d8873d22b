//! Every route of the server, in one place.

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::services::ServeDir;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::admin;
use crate::error::themed_errors;
use crate::site::{assets, feed, join, live, media, members, post, search, unsubscribe};
use crate::state::AppState;

/// Largest request body the reader's site accepts (forms are tiny).
const BODY_LIMIT: usize = 16 * 1024;
/// Largest request body the editorial desk accepts (a long read in Markdown).
const DESK_BODY_LIMIT: usize = 2 * 1024 * 1024;
/// A Stripe webhook event (a subscription with its items, an invoice with
/// its lines) is a few kilobytes, rarely more than a hundred.
const STRIPE_BODY_LIMIT: usize = 512 * 1024;

/// The whole application: request logs, then the page cache, then the site.
pub fn router(state: AppState) -> Router {
    Router::new()
        .fallback_service(site(state.clone()))
        .layer(middleware::from_fn_with_state(
            state,
            crate::cache::page_cache,
        ))
        .layer(middleware::from_fn(record_logged_path))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    // The path is filled in once the route is known; the
                    // query is never logged (it may carry a token).
                    tracing::info_span!(
                        "request",
                        method = %req.method(),
                        path = tracing::field::Empty,
                    )
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
}

/// A route whose path carries a secret (a one-time link's token), marked on
/// its response so that the request log prints the route's template
/// (`/admin/reset/{token}`) instead of the path.
#[derive(Clone)]
struct SecretRoute(MatchedPath);

/// The convention that keeps secrets out of the logs: a route that carries a
/// secret in its path names that parameter `token` (set-up and reset links
/// today, members' sign-in links tomorrow). Only those routes are logged by
/// template; every other path is logged as requested, because a story's or a
/// missing page's address is what an operator reading the logs needs.
fn carries_secret(template: &str) -> bool {
    template.contains("{token}")
}

/// Runs after routing (inside the site router), where the matched route is known.
async fn mark_secret_route(req: Request, next: Next) -> Response {
    let secret = req
        .extensions()
        .get::<MatchedPath>()
        .filter(|m| carries_secret(m.as_str()))
        .cloned();
    let mut res = next.run(req).await;
    if let Some(route) = secret {
        res.extensions_mut().insert(SecretRoute(route));
    }
    res
}

/// Writes the request span's `path`: the template for secret-carrying
/// routes, the path (never the query) for the rest, page-cache hits included.
async fn record_logged_path(req: Request, next: Next) -> Response {
    let uri = req.uri().clone();
    let res = next.run(req).await;
    let path = res
        .extensions()
        .get::<SecretRoute>()
        .map_or(uri.path(), |r| r.0.as_str());
    tracing::Span::current().record("path", tracing::field::display(path));
    res
}

fn site(state: AppState) -> Router {
    let content = ServeDir::new(&state.config.content_dir)
        .append_index_html_on_directories(false)
        .precompressed_gzip();
    // The desk takes long articles; the reader's site only small forms.
    let desk = Router::new()
        .route("/admin/", get(admin::front::dashboard))
        .route("/admin/signin", get(admin::signin_form).post(admin::signin))
        .route("/admin/signout", post(admin::signout))
        .route(
            "/admin/reset",
            get(admin::reset::request_form).post(admin::reset::request),
        )
        .route(
            "/admin/reset/{token}",
            get(admin::reset::new_password_form).post(admin::reset::set_password),
        )
        .route(
            "/admin/posts",
            get(admin::desk::posts).post(admin::editor::create),
        )
        .route("/admin/posts/new", get(admin::editor::new_form))
        .route(
            "/admin/settings",
            get(admin::settings::form).post(admin::settings::save),
        )
        .route("/admin/settings/stripe", post(admin::settings::save_stripe))
        .route("/admin/settings/meter", post(admin::settings::save_meter))
        .route(
            "/admin/settings/donations",
            post(admin::settings::save_donations),
        )
        .route("/admin/posts/{id}", post(admin::editor::save))
        .route("/admin/posts/{id}/edit", get(admin::editor::edit))
        .route("/admin/posts/{id}/revisions", get(admin::editor::revisions))
        .route("/admin/posts/{id}/review", post(admin::editor::review))
        .route("/admin/posts/{id}/notes", post(admin::editor::add_note))
        .route("/admin/preview", post(admin::editor::preview))
        .route("/admin/desk.js", get(admin::editor::script))
        .route("/admin/pickers.js", get(admin::pickers::script))
        .route(
            "/admin/pickers/{kind}",
            get(admin::pickers::search).post(admin::pickers::create),
        )
        .route("/admin/editor.js", get(admin::bundle::script))
        .route("/admin/review", get(admin::editor::review_queue))
        .route(
            "/admin/posts/{id}/send",
            get(admin::sends::compose).post(admin::sends::act),
        )
        .route("/admin/posts/{id}/email", get(admin::sends::preview))
        .route("/admin/sends", get(admin::sends::list))
        .route("/admin/sends/{id}", get(admin::sends::show))
        .route("/admin/bylines-and-tags", get(admin::taxonomy::list))
        .route("/admin/authors", post(admin::taxonomy::add_author))
        .route(
            "/admin/authors/{id}",
            get(admin::taxonomy::edit_author).post(admin::taxonomy::save_author),
        )
        .route("/admin/tags", post(admin::taxonomy::add_tag))
        .route(
            "/admin/staff",
            get(admin::staff::list).post(admin::staff::invite),
        )
        .route("/admin/staff/{id}", post(admin::staff::change))
        .route(
            "/admin/members",
            get(admin::members::list).post(admin::members::add),
        )
        .route("/admin/members/export.csv", get(admin::members::export))
        .route(
            "/admin/members/{id}",
            get(admin::members::show).post(admin::members::save),
        )
        .route("/admin/members/{id}/comp", post(admin::tiers::give_comp))
        .route("/admin/members/{id}/comp/end", post(admin::tiers::end_comp))
        .route(
            "/admin/tiers",
            get(admin::tiers::list).post(admin::tiers::add),
        )
        .route("/admin/tiers/currency", post(admin::tiers::set_currency))
        .route("/admin/revenue", get(admin::revenue::show))
        .route(
            "/admin/tiers/{id}",
            get(admin::tiers::show).post(admin::tiers::save),
        )
        .route(
            "/admin/newsletters",
            get(admin::members::newsletters).post(admin::members::add_newsletter),
        )
        .route(
            "/admin/newsletters/{id}",
            get(admin::members::newsletter).post(admin::members::save_newsletter),
        )
        .route(
            "/admin/integrations",
            get(admin::integrations::list).post(admin::integrations::create),
        )
        .route(
            "/admin/integrations/{id}/revoke",
            post(admin::integrations::revoke),
        )
        .route(
            "/admin/integrations/webhooks",
            post(admin::integrations::add_webhook),
        )
        .route(
            "/admin/integrations/webhooks/{id}/remove",
            post(admin::integrations::remove_webhook),
        )
        .route(
            "/admin/tags/{id}",
            get(admin::taxonomy::edit_tag).post(admin::taxonomy::save_tag),
        )
        .route(
            "/admin/posts/{id}/revisions/{rev}/restore",
            post(admin::editor::restore),
        )
        .route("/admin/live/{post_id}", get(admin::desk::console))
        .route(
            "/admin/live/{post_id}/entries",
            post(admin::desk::add_entry),
        )
        .route(
            "/admin/live/{post_id}/entries/{entry_id}",
            post(admin::desk::change_entry),
        )
        .route(
            "/admin/media/{id}",
            get(admin::media::item).post(admin::media::save_details),
        )
        .route("/admin/media/{id}/original", get(admin::media::original))
        .route(
            "/admin/setup/{token}",
            get(admin::setup_form).post(admin::setup),
        )
        .layer(DefaultBodyLimit::max(DESK_BODY_LIMIT))
        .layer(RequestBodyLimitLayer::new(DESK_BODY_LIMIT));
    // Image uploads: the one route that takes megabytes.
    let uploads = Router::new()
        .route(
            "/admin/media",
            get(admin::media::library).post(admin::media::upload),
        )
        .layer(DefaultBodyLimit::max(admin::media::UPLOAD_BODY_LIMIT))
        .layer(RequestBodyLimitLayer::new(admin::media::UPLOAD_BODY_LIMIT));
    // Member imports: CSV files of up to a few megabytes.
    let imports = Router::new()
        .route("/admin/members/import", post(admin::members::import))
        .layer(DefaultBodyLimit::max(admin::members::IMPORT_BODY_LIMIT))
        .layer(RequestBodyLimitLayer::new(
            admin::members::IMPORT_BODY_LIMIT,
        ));
    let public = Router::new()
        .route("/", get(feed::home))
        .route("/tag/{slug}/", get(feed::tag))
        .route("/section/{slug}/", get(feed::section))
        .route("/author/{slug}/", get(feed::author))
        .route("/video/", get(feed::video))
        .route("/search/", get(search::page))
        .route("/search.json", get(search::json))
        .route("/join/", get(join::form).post(join::submit))
        .route("/api/campaign", get(join::campaign_json))
        .route("/signin/", get(members::signin_form).post(members::signin))
        .route("/members/", get(members::follow_link))
        .route(
            "/members/check/",
            get(members::check_form).post(members::check_code),
        )
        .route(
            "/members/api/send-magic-link/",
            post(members::send_magic_link),
        )
        .route(
            "/members/api/send-magic-link",
            post(members::send_magic_link),
        )
        .route("/account/", get(members::account))
        .route("/account/billing", post(crate::billing::checkout::portal))
        .route(
            "/subscribe/",
            get(crate::billing::checkout::page).post(crate::billing::checkout::subscribe),
        )
        .route(
            "/support/",
            get(crate::billing::donations::page).post(crate::billing::donations::give),
        )
        .route("/support/thanks/", get(crate::billing::donations::thanks))
        .route("/account/name", post(members::set_name))
        .route("/account/email", post(members::change_email))
        .route("/account/newsletters", post(members::set_newsletters))
        .route("/account/signout", post(members::signout))
        .route(
            "/account/signout-everywhere",
            post(members::signout_everywhere),
        )
        .route("/account/data.json", get(members::export))
        .route(
            "/unsubscribe/",
            get(unsubscribe::ask).post(unsubscribe::one_click),
        )
        .route("/account/delete", post(members::delete))
        .route("/_live/{post_id}/events", get(live::events))
        .route("/assets/{name}", get(assets::asset))
        .route("/media/{key}/{name}", get(media::file))
        .route("/healthz", get(assets::healthz))
        .route("/favicon.ico", get(assets::favicon))
        .merge(crate::site::feeds::routes())
        .route("/{slug}/", get(post::show))
        .nest_service("/content", content)
        .fallback(assets::fallback)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT));
    // Stripe's signed events: larger than a form, far smaller than a file.
    let stripe = Router::new()
        .route(
            "/members/webhooks/stripe/",
            post(crate::billing::webhook::receive),
        )
        .route(
            "/members/webhooks/stripe",
            post(crate::billing::webhook::receive),
        )
        .layer(DefaultBodyLimit::max(STRIPE_BODY_LIMIT))
        .layer(RequestBodyLimitLayer::new(STRIPE_BODY_LIMIT));
    public
        .merge(stripe)
        .merge(desk)
        .merge(uploads)
        .merge(imports)
        .merge(crate::api::routes())
        .layer(middleware::from_fn_with_state(state.clone(), themed_errors))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::security::guard,
        ))
        // Outermost of the per-route layers, so it marks the final response.
        .layer(middleware::from_fn(mark_secret_route))
        .with_state(state)
}
