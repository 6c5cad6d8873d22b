//! Feeds and search-engine files: RSS, Atom, JSON Feed, sitemaps, robots.txt.

use axum::Router;

use crate::state::AppState;

/// The routes of this module, merged into the public site by `router.rs`.
pub fn routes() -> Router<AppState> {
    Router::new()
}
