//! Masthead's HTTP surfaces. `router.rs` lists every route; `site/` holds the
//! reader's site handlers; `changes.rs` tails the store's change log to keep
//! live pages and the membership counter current.

pub mod admin;
pub mod api;
pub mod auth;
mod billing;
mod cache;
pub(crate) mod changes;
mod error;
mod jobs;
pub mod mail;
pub mod media_store;
pub mod newsletters;
mod router;
mod security;
mod site;
mod state;
pub mod throttle;
mod webhooks;

pub use billing::{DEFAULT_API_BASE as STRIPE_API_BASE, Secret, StripeEnv};
pub use cache::CacheTags;
pub use router::router;
pub use state::{AppState, PublicUrl, WebConfig};

use std::net::SocketAddr;

use tokio::net::TcpListener;

/// Serves until `shutdown` resolves, then stops accepting, ends live streams
/// and lets in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // One TLS provider for the process (webhook deliveries over https).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let poller = changes::spawn_poller(state.clone());
    let scheduler = jobs::spawn_scheduler(state.clone());
    let deliverer = webhooks::spawn_deliverer(state.clone());
    let sender = newsletters::spawn_sender(state.clone());
    let app = router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let stopping = state.clone();
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            stopping.begin_shutdown();
        })
        .await;
    let stopping = state;
    poller.abort();
    scheduler.abort();
    // (Again, in case the server stopped on an error.) The deliverer cancels
    // its sends and hands their deliveries back to the queue (see
    // `webhooks.rs`): a moment, which the process waits for.
    stopping.begin_shutdown();
    // The newsletter lanes finish the message in hand and hand the rest of
    // their batches back (see `newsletters/mod.rs`).
    let sender_stop = sender.abort_handle();
    if tokio::time::timeout(std::time::Duration::from_secs(10), sender)
        .await
        .is_err()
    {
        sender_stop.abort();
    }
    let handing_back = deliverer.abort_handle();
    if tokio::time::timeout(std::time::Duration::from_secs(5), deliverer)
        .await
        .is_err()
    {
        handing_back.abort();
    }
    result
}
