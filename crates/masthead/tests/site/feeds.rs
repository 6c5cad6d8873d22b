//! Feeds, sitemaps and search-engine metadata, through the real server.

#[allow(unused_imports)]
use super::*;
