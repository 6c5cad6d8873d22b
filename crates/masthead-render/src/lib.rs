//! Masthead's rendering: Markdown to sanitised HTML, provider embeds, the
//! theme (templates + hashed assets) and the view models templates receive.
//! Nothing here touches the database or the network.

pub mod body;
pub mod embed;
pub mod ghost_body;
pub mod markdown;
pub mod theme;
pub mod views;

pub use markdown::{RenderedBody, render_markdown, sanitize_html, teaser};
pub use theme::{Asset, Theme, ThemeError, plain_html_escaping};

/// Every template the site renders by name; all are checked at start-up.
pub const TEMPLATES: &[&str] = &[
    "home.html",
    "listing.html",
    "fragment.html",
    "post.html",
    "live.html",
    "live_entry.html",
    "page.html",
    "join.html",
    "error.html",
];
