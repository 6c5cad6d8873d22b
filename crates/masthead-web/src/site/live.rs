//! Server-sent events for live pages: each new, edited or removed entry is
//! pushed to open pages as it commits (see `changes.rs`).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
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

pub async fn events(
    State(state): State<AppState>,
    Path(post_id): Path<String>,
) -> Result<impl IntoResponse, SiteError> {
    let post_id: i64 = post_id.parse().map_err(|_| SiteError::NotFound)?;
    let rx = state.live.subscribe();
    let shutdown = state.shutdown_signal();
    let stream: std::pin::Pin<Box<dyn Stream<Item = Result<Event, Infallible>> + Send>> = Box::pin(
        stream::unfold((rx, shutdown), move |(mut rx, mut shutdown)| async move {
            loop {
                if *shutdown.borrow() {
                    return None;
                }
                tokio::select! {
                    _ = shutdown.changed() => return None,
                    msg = rx.recv() => match msg {
                        Ok(ev) if ev.post_id() == post_id => {
                            return Some((Ok(to_event(&ev)), (rx, shutdown)));
                        }
                        Ok(_) => continue,
                        // Fell behind: tell the page to reload rather than miss updates.
                        Err(RecvError::Lagged(_)) => {
                            return Some((Ok(Event::default().event("reload").data("lagged")), (rx, shutdown)));
                        }
                        Err(RecvError::Closed) => return None,
                    }
                }
            }
        }),
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
