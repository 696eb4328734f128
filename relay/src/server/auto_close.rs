//! Closing resolved tickets nobody answered: a resolved ticket untouched
//! for `RelayConfig::auto_close_after` (`--auto-close-after`, default
//! [`DEFAULT_AUTO_CLOSE_AFTER`]) is closed by the relay, as if the
//! employee had said "Yes, this fixed it" without a score. Any change to
//! the ticket (a comment, say) starts the wait again. The close runs
//! through the ticket state machine in the store's transaction, so with
//! several relays on one database a ticket is closed once: the second
//! relay finds it closed and leaves it.

use super::Shared;
use crate::workflow;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tracing::{info, warn};
use triage_shared::ticket::{Status, StatusAction};
use triage_shared::time::Timestamp;

/// How long a resolved ticket waits for the employee's answer.
pub const DEFAULT_AUTO_CLOSE_AFTER: Duration = Duration::from_secs(7 * 24 * 3600);
/// Who the history says closed it.
pub const AUTO_CLOSE_ACTOR: &str = "relay:auto-close";
/// The longest pause between sweeps.
const MAX_SWEEP_EVERY: Duration = Duration::from_secs(60);
/// The shortest (only reached with a very short wait, as in tests).
const MIN_SWEEP_EVERY: Duration = Duration::from_millis(100);

/// **Pure**: how often to look, so that a ticket is closed at most about a
/// quarter of the wait late, and never more than a minute late.
pub fn sweep_every(after: Duration) -> Duration {
    (after / 4).clamp(MIN_SWEEP_EVERY, MAX_SWEEP_EVERY)
}

/// **Pure**: the last change a ticket may have had to be closed at `now`.
pub fn cutoff(now: Timestamp, after: Duration) -> Timestamp {
    let after = i64::try_from(after.as_millis()).unwrap_or(i64::MAX);
    Timestamp(now.millis().saturating_sub(after))
}

/// Sweeps until `stop` changes.
pub(super) async fn sweep_loop(
    shared: Arc<Shared>,
    after: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let every = sweep_every(after);
    loop {
        sweep(&shared, after).await;
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

async fn sweep(shared: &Shared, after: Duration) {
    let now = Timestamp::now();
    let due = match shared.store.resolved_before(cutoff(now, after)).await {
        Ok(due) => due,
        Err(e) => {
            warn!(error = %e, "cannot look for resolved tickets to close");
            return;
        }
    };
    for id in due {
        let closed = shared
            .store
            .update_ticket(id, |t| {
                if t.status != Status::Resolved {
                    // Reopened or closed since it was picked: nothing to do.
                    return Err(not_resolved());
                }
                let note = format!(
                    "closed automatically: resolved and without an answer for {}",
                    triage_shared::time::human_duration(after)
                );
                workflow::change_status(t, StatusAction::Close, AUTO_CLOSE_ACTOR, Some(&note), now)
            })
            .await;
        match closed {
            Ok(_) => info!(ticket_id = %id, "closed a resolved ticket nobody answered"),
            Err(crate::store::StoreError::Refused(e)) if e.message == NOT_RESOLVED => {}
            Err(e) => warn!(ticket_id = %id, error = %e, "cannot close a resolved ticket"),
        }
    }
}

const NOT_RESOLVED: &str = "no longer resolved";

fn not_resolved() -> triage_shared::error::RemoteError {
    triage_shared::error::RemoteError::new(triage_shared::error::ErrorKind::Conflict, NOT_RESOLVED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweeps_are_a_quarter_of_the_wait_within_bounds() {
        assert_eq!(sweep_every(DEFAULT_AUTO_CLOSE_AFTER), MAX_SWEEP_EVERY);
        assert_eq!(sweep_every(Duration::from_secs(8)), Duration::from_secs(2));
        assert_eq!(sweep_every(Duration::from_millis(10)), MIN_SWEEP_EVERY);
    }

    #[test]
    fn the_cutoff_is_the_wait_before_now() {
        let now = Timestamp(10_000);
        assert_eq!(cutoff(now, Duration::from_secs(3)), Timestamp(7_000));
        assert_eq!(cutoff(now, Duration::MAX).millis(), 10_000 - i64::MAX);
    }
}
