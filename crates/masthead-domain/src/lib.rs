//! Masthead's domain: the types a newsroom works with and the pure rules over
//! them (reading time, slugs, feed cursors, e-mail addresses, campaign
//! progress, who may read a story, the metered paywall's cookie, relative times, Admin API tokens, editorial rules, which
//! addresses are public). Nothing here does I/O or knows about HTTP/SQL.

pub mod access;
pub mod billing;
pub mod campaign;
pub mod cursor;
pub mod diff;
pub mod digest;
pub mod donation;
pub mod editorial;
pub mod email;
pub mod error;
pub mod html;
pub mod jwt;
pub mod member_csv;
pub mod meter;
pub mod money;
pub mod network;
pub mod permission;
pub mod post;
pub mod reading_time;
pub mod relative_time;
pub mod search;
pub mod slug;

pub use campaign::CampaignProgress;
pub use cursor::FeedCursor;
pub use email::Email;
pub use error::DomainError;
pub use permission::{Action, Role, Whose, permits};
pub use post::{PostKind, PostStatus, Visibility};
pub use reading_time::ReadingTime;
pub use slug::Slug;
