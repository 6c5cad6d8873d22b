//! Background jobs. Scheduled publishing: every second (and at start-up, so a
//! post whose time passed while the server was down is published at once) the
//! store publishes what is due. The decision lives in one UPDATE, so several
//! instances running this at once publish each post exactly once.
//!
//! Every [`COMPS_EVERY`] ticks, complimentary memberships whose end has
//! passed are written down as ended (members become `free`, with a line in
//! their history). Access never waits for this: a comp counts as ended the
//! moment its end passes, wherever a member is read.
//!
//! Lapsed payments: every minute, paying members whose `past_due`
//! subscription is past its grace (see `masthead_domain::billing`) are
//! settled again, so they see the teaser once the grace ends even if Stripe
//! says nothing more.

use std::time::Duration;

use tokio::task::JoinHandle;

use crate::state::AppState;

const EVERY: Duration = Duration::from_secs(1);
/// Ticks between two sweeps of ended comps.
const COMPS_EVERY: u32 = 30;
/// Ticks between two sweeps for lapsed payments.
const LAPSE_EVERY_TICKS: u32 = 60;

pub fn spawn_scheduler(state: AppState) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut shutdown = state.shutdown_signal();
        let mut tick: u32 = 0;
        loop {
            let now = masthead_store::now_ms();
            if tick.is_multiple_of(COMPS_EVERY) {
                match state.store.end_expired_comps(now).await {
                    Ok(n) if n > 0 => {
                        tracing::info!(count = n, "complimentary memberships ended");
                        state.wrote.notify_one();
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "ending complimentary memberships failed; retrying")
                    }
                }
            }
            if tick.is_multiple_of(LAPSE_EVERY_TICKS) {
                match state.store.lapse_overdue_members(now).await {
                    Ok(ids) if !ids.is_empty() => {
                        tracing::info!(
                            count = ids.len(),
                            "members whose payment lapsed are free again"
                        );
                        state.wrote.notify_one();
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "the sweep for lapsed payments failed"),
                }
            }
            tick = tick.wrapping_add(1);
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
