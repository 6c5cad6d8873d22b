//! Tails the store's change log. Every write — from this server, the CLI or
//! another instance — appends a row in its own transaction; the poller turns
//! rows into page-cache invalidations, live-page pushes, counter refreshes
//! and settings reloads.
//!
//! The store's cursor makes the reading complete and in commit order on
//! both backends (`Store::changes_after`), so the poller only decides when
//! to read: at once after this process writes, at once when another
//! process's commit is announced (PostgreSQL's `NOTIFY`, see
//! `Store::change_notices`), and every 200 ms whatever happens, so a lost
//! notice or listening session costs at most that delay, never a change.

use std::sync::Arc;
use std::time::Duration;

use masthead_render::views::EntryView;
use masthead_store::{Change, ChangeTopic};
use serde::Serialize;
use tokio::task::JoinHandle;

use crate::state::{AppState, LiveEvent};

/// How often the log is read when nothing announced a change.
const POLL_EVERY: Duration = Duration::from_millis(200);
/// Joins can arrive by the thousand per second; the count is recounted at most this often.
const RECOUNT_EVERY: Duration = Duration::from_secs(1);
/// Changes read at a time.
const BATCH: u32 = 500;

#[derive(Serialize)]
struct EntryContext {
    entry: EntryView,
}

pub fn spawn_poller(state: AppState) -> JoinHandle<()> {
    tokio::spawn(async move {
        let notices = state.store.change_notices();
        let mut recount_due: Option<tokio::time::Instant> = None;
        let mut last_recount = tokio::time::Instant::now();
        // From where the site snapshot was loaded (so no change between the
        // two is missed), or from now.
        let start = state.take_change_start();
        let mut cursor = match start {
            Some(c) => c,
            None => loop {
                match state.store.change_cursor().await {
                    Ok(c) => break c,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot read the change log yet; retrying");
                        tokio::time::sleep(POLL_EVERY * 5).await;
                    }
                }
            },
        };
        let mut more = false;
        loop {
            if !more {
                tokio::select! {
                    _ = tokio::time::sleep(POLL_EVERY) => {}
                    _ = state.wrote.notified() => {}
                    _ = notices.notified() => {}
                }
            }
            if recount_due.is_some_and(|t| t <= tokio::time::Instant::now()) {
                recount_due = None;
                last_recount = tokio::time::Instant::now();
                if let Err(e) = state.refresh_member_count().await {
                    tracing::warn!(error = %e, "refreshing the member count failed");
                }
            }
            let (changes, next) = match state.store.changes_after(cursor.clone(), BATCH).await {
                Ok(read) => read,
                Err(e) => {
                    tracing::warn!(error = %e, "reading the change log failed; retrying");
                    more = false;
                    continue;
                }
            };
            cursor = next;
            // A full batch: read on at once rather than a tick later.
            more = changes.len() >= BATCH as usize;
            if changes.is_empty() {
                continue;
            }
            if apply(&state, &changes).await && recount_due.is_none() {
                recount_due = Some((last_recount + RECOUNT_EVERY).max(tokio::time::Instant::now()));
            }
        }
    })
}

/// Applies a batch; returns whether members changed (the caller recounts, debounced).
async fn apply(state: &AppState, changes: &[Change]) -> bool {
    let mut members = false;
    let mut site = false;
    let mut keys: Vec<String> = Vec::new();
    for change in changes {
        match change.topic {
            ChangeTopic::LiveEntry => {
                if let Some(post_id) = change.post_id {
                    keys.push(format!("post-{post_id}"));
                }
            }
            ChangeTopic::Post => match change.post_id {
                Some(post_id) => post_keys(state, post_id, &mut keys).await,
                None => site = true,
            },
            ChangeTopic::Member => members = true,
            ChangeTopic::Site | ChangeTopic::Other => site = true,
        }
    }
    if site {
        state.cache.clear();
    } else if !keys.is_empty() {
        keys.sort_unstable();
        keys.dedup();
        state.cache.invalidate(&keys);
    }
    // Pages first, pushes second: a reader who reloads on seeing a push
    // must get the new page.
    for change in changes.iter().filter(|c| c.topic == ChangeTopic::LiveEntry) {
        push_entry(state, change).await;
    }
    if site && let Err(e) = state.reload_site().await {
        tracing::warn!(error = %e, "reloading site settings failed");
    }
    members && !site
}

/// Drops the pages showing a post right away, for writes made by this
/// process: the editor's response must not race the poller. (The poller will
/// see the same change later; dropping twice is harmless.)
pub async fn invalidate_post_now(state: &AppState, post_id: i64) {
    let mut keys = Vec::new();
    post_keys(state, post_id, &mut keys).await;
    state.cache.invalidate(&keys);
}

/// Every page that shows a post: its own, the listings it is in, and the
/// "Read next" boxes of other stories.
async fn post_keys(state: &AppState, post_id: i64, keys: &mut Vec<String>) {
    keys.extend([
        format!("post-{post_id}"),
        "feed".to_owned(),
        "readnext".to_owned(),
    ]);
    match state.store.post_refs(post_id).await {
        Ok(Some(refs)) => {
            keys.extend(refs.tag_ids.iter().map(|t| format!("tag-{t}")));
            keys.extend(refs.author_ids.iter().map(|a| format!("author-{a}")));
            keys.extend(refs.primary_tag_id.map(|t| format!("section-{t}")));
            keys.push(format!("kind-{}", refs.kind));
        }
        // Deleted, or unreadable: drop everything rather than serve it stale.
        Ok(None) | Err(_) => state.cache.clear(),
    }
}

async fn push_entry(state: &AppState, change: &Change) {
    let (Some(post_id), Some(entry_id)) = (change.post_id, change.ref_id) else {
        return;
    };
    let event = match state.store.live_entry(entry_id).await {
        Ok(Some(entry)) => {
            let ctx = EntryContext {
                entry: EntryView::new(&entry, &state.clock()),
            };
            match state.theme.render("live_entry.html", &ctx) {
                Ok(html) => LiveEvent::Entry {
                    change_id: change.id,
                    post_id,
                    entry_id,
                    html: Arc::from(html),
                },
                Err(e) => {
                    tracing::error!(error = %e, "rendering a live entry failed");
                    return;
                }
            }
        }
        Ok(None) => LiveEvent::Removed {
            change_id: change.id,
            post_id,
            entry_id,
        },
        Err(e) => {
            tracing::warn!(error = %e, entry_id, "loading a live entry failed");
            return;
        }
    };
    // No receivers is fine: nobody has the page open.
    let _ = state.live.send(event);
}
