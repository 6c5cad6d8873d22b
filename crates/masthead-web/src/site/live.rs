//! Server-sent events for live pages: each new, edited or removed entry is
//! pushed to open pages as it commits (see `changes.rs`). Only published live
//! posts have a stream (anything else is 404, like a guessed number); a
//! stream ends at the first update after its post stops being published
//! (checked at most once a second per post, shared by its streams); open
//! streams are capped per address and in all (see `throttle.rs`).

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream};
use serde::Serialize;
use tokio::sync::broadcast::error::RecvError;

use crate::error::SiteError;
use crate::state::{AppState, LiveEvent};

#[derive(Serialize)]
struct EntryData<'a> {
    id: i64,
    html: &'a str,
}

#[derive(Serialize)]
struct RemovedData {
    id: i64,
}

fn to_event(ev: &LiveEvent) -> Event {
    match ev {
        LiveEvent::Entry {
            change_id,
            entry_id,
            html,
            ..
        } => Event::default()
            .event("entry")
            .id(change_id.to_string())
            .json_data(EntryData {
                id: *entry_id,
                html,
            })
            .unwrap_or_else(|_| Event::default().comment("unserialisable entry")),
        LiveEvent::Removed {
            change_id,
            entry_id,
            ..
        } => Event::default()
            .event("remove")
            .id(change_id.to_string())
            .json_data(RemovedData { id: *entry_id })
            .unwrap_or_else(|_| Event::default().comment("unserialisable removal")),
    }
}

/// How long a post's "still published" answer serves its streams.
const VERDICT_TTL: Duration = Duration::from_secs(1);

/// Open streams, per address and in all, and whether each streamed post is
/// still published.
pub struct StreamCount {
    max_total: usize,
    max_per_address: u32,
    counts: Mutex<Counts>,
    /// Post id → when it was last checked, and whether it was published.
    verdicts: Mutex<HashMap<i64, (Instant, bool)>>,
}

#[derive(Default)]
struct Counts {
    total: usize,
    by_address: HashMap<String, u32>,
}

/// Why a stream was not opened.
#[derive(Debug, PartialEq, Eq)]
pub enum StreamRefused {
    /// This address holds its share already.
    Address,
    /// The server holds all it will.
    Full,
}

impl StreamCount {
    pub fn new(max_total: usize, max_per_address: u32) -> StreamCount {
        StreamCount {
            max_total,
            max_per_address,
            counts: Mutex::new(Counts::default()),
            verdicts: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `post_id` is still a published live post. One stream asks
    /// the database at most once a second per post; the others meanwhile
    /// take the last answer (streams open only on published posts, so that
    /// is the first answer too).
    async fn still_published(&self, store: &masthead_store::Store, post_id: i64) -> bool {
        {
            let mut v = self.verdicts.lock().unwrap_or_else(|p| p.into_inner());
            match v.get_mut(&post_id) {
                Some((at, ok)) if at.elapsed() < VERDICT_TTL => return *ok,
                Some((at, _)) => *at = Instant::now(),
                None => {
                    v.insert(post_id, (Instant::now(), true));
                }
            }
        }
        // A database hiccup does not end streams.
        let ok = store.is_published_live(post_id).await.unwrap_or(true);
        self.verdicts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(post_id, (Instant::now(), ok));
        ok
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts one more stream for `address`, if both limits allow it.
    fn open(&self, address: &str) -> Result<(), StreamRefused> {
        let mut c = self.lock();
        if c.by_address.get(address).copied().unwrap_or(0) >= self.max_per_address {
            return Err(StreamRefused::Address);
        }
        if c.total >= self.max_total {
            return Err(StreamRefused::Full);
        }
        c.total += 1;
        *c.by_address.entry(address.to_owned()).or_insert(0) += 1;
        Ok(())
    }

    fn close(&self, address: &str) {
        let mut c = self.lock();
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.by_address.get_mut(address) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                c.by_address.remove(address);
            }
        }
    }
}

/// One open stream: counted while it lives, uncounted when the reader goes.
struct Ticket {
    state: AppState,
    address: String,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.state.live_streams.close(&self.address);
    }
}

pub async fn events(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(post_id): Path<String>,
) -> Result<Response, SiteError> {
    let post_id: i64 = post_id.parse().map_err(|_| SiteError::NotFound)?;
    if !state.store.is_published_live(post_id).await? {
        return Err(SiteError::NotFound);
    }
    let ip = crate::security::client_ip(peer.ip(), &headers, &state.config.trusted_proxies);
    let address = crate::throttle::address_key(ip);
    if let Err(why) = state.live_streams.open(&address) {
        tracing::debug!(?why, "live stream refused");
        return Ok(match why {
            StreamRefused::Address => crate::throttle::refusal(
                StatusCode::TOO_MANY_REQUESTS,
                30,
                "Too many live pages are open from your address. Close some and reload.\n",
            ),
            StreamRefused::Full => crate::throttle::refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                30,
                "Live updates are full right now. Reload the page in a minute.\n",
            ),
        });
    }
    let ticket = Ticket {
        state: state.clone(),
        address,
    };
    let rx = state.live.subscribe();
    let shutdown = state.shutdown_signal();
    let stream: std::pin::Pin<Box<dyn Stream<Item = Result<Event, Infallible>> + Send>> = Box::pin(
        stream::unfold(
            (rx, shutdown, ticket),
            move |(mut rx, mut shutdown, ticket)| async move {
                loop {
                    if *shutdown.borrow() {
                        return None;
                    }
                    tokio::select! {
                        _ = shutdown.changed() => return None,
                        msg = rx.recv() => match msg {
                            Ok(ev) if ev.post_id() == post_id => {
                                let live = &ticket.state.live_streams;
                                if !live.still_published(&ticket.state.store, post_id).await {
                                    return None;
                                }
                                return Some((Ok(to_event(&ev)), (rx, shutdown, ticket)));
                            }
                            Ok(_) => continue,
                            // Fell behind: tell the page to reload rather than miss updates.
                            Err(RecvError::Lagged(_)) => {
                                return Some((Ok(Event::default().event("reload").data("lagged")), (rx, shutdown, ticket)));
                            }
                            Err(RecvError::Closed) => return None,
                        }
                    }
                }
            },
        ),
    );
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_capped_per_address_and_in_all() {
        let c = StreamCount::new(3, 2);
        assert_eq!(c.open("a"), Ok(()));
        assert_eq!(c.open("a"), Ok(()));
        assert_eq!(c.open("a"), Err(StreamRefused::Address));
        assert_eq!(c.open("b"), Ok(()));
        assert_eq!(c.open("c"), Err(StreamRefused::Full));
        c.close("a");
        assert_eq!(c.open("c"), Ok(()));
        c.close("a");
        c.close("b");
        c.close("c");
        let counts = c.lock();
        assert_eq!(counts.total, 0);
        assert!(
            counts.by_address.is_empty(),
            "no address kept after its last stream"
        );
    }
}
