//! Masthead's row and value types: what the store reads and writes, and what
//! render and web show, with no database in sight. The store re-exports all
//! of it, so `masthead_store::Post` and `masthead_model::Post` are one type;
//! render depends on this crate alone.

pub mod api;
pub mod backup;
pub mod billing;
pub mod editing;
pub mod media;
pub mod members;
pub mod model;
pub mod revenue;
pub mod sends;
pub mod site_copy;
pub mod staff;
pub mod taxonomy;
pub mod tiers;
pub mod transfer;
pub mod units;
pub mod webhooks;

pub use api::*;
pub use backup::*;
pub use billing::*;
pub use editing::*;
pub use media::*;
pub use members::*;
pub use model::*;
pub use revenue::*;
pub use sends::*;
pub use site_copy::*;
pub use staff::*;
pub use taxonomy::*;
pub use tiers::*;
pub use transfer::*;
pub use units::*;
pub use webhooks::*;
