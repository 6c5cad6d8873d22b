//! Background jobs. Scheduled publishing: every second (and at start-up, so a
//! post whose time passed while the server was down is published at once) the
//! store publishes what is due. The decision lives in one UPDATE, so several
//! instances running this at once publish each post exactly once.

use std::time::Duration;

use tokio::task::JoinHandle;

use crate::state::AppState;

const EVERY: Duration = Duration::from_secs(1);

pub fn spawn_scheduler(state: AppState) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut shutdown = state.shutdown_signal();
        loop {
            let now = masthead_store::now_ms();
            match state.store.publish_due(now).await {
                Ok(ids) if !ids.is_empty() => {
                    tracing::info!(count = ids.len(), "published scheduled posts");
                    state.wrote.notify_one();
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "scheduled publishing failed; retrying"),
            }
            tokio::select! {
                _ = tokio::time::sleep(EVERY) => {}
                _ = shutdown.changed() => return,
            }
        }
    })
}
