//! The relay's SLA loop, every `sla_check_every`:
//! - reload `sla.toml` when its content changed (or `triage sla set` wrote
//!   it), and then recompute the clocks of every ticket still at stake,
//!   a batch per turn so a large queue never stalls the loop;
//! - record the warnings and breaches that came due, with the policy's
//!   breach action (`Store::record_sla_crossings`, once across relays).

use super::Shared;
use crate::sla_file;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tracing::{error, info, warn};
use triage_shared::time::Timestamp;
use triage_shared::TicketId;

/// Recompute batches (`SLA_BATCH` tickets each) per turn: enough to
/// catch up on a large queue in minutes, few enough that crossings due
/// meanwhile are still recorded every turn.
const RECOMPUTE_BATCHES_PER_TURN: usize = 25;

/// What the loop tracks between turns.
pub(super) struct SlaLoop {
    data_dir: PathBuf,
    every: Duration,
    /// The file's content as last read, good or bad.
    loaded: [u8; 32],
    /// The content of the policy in force.
    in_force: [u8; 32],
    /// Where the recompute after a policy change has got to; `None` when
    /// there is none under way.
    recompute: Option<Option<TicketId>>,
    /// Whether the recompute under way is only for never-computed tickets.
    only_uncomputed: bool,
}

impl SlaLoop {
    pub(super) fn new(data_dir: PathBuf, every: Duration, loaded: [u8; 32]) -> Self {
        SlaLoop {
            data_dir,
            every,
            loaded,
            in_force: loaded,
            // Tickets from before SLA clocks get theirs at the first
            // turn; all open ones too if the policy changed meanwhile.
            recompute: Some(None),
            only_uncomputed: true,
        }
    }

    /// At start: recompute every open ticket if the stored clocks were
    /// computed with another policy (edited while no relay ran).
    async fn check_applied(&mut self, shared: &Shared) {
        match shared.store.sla_policy_applied().await {
            Ok(Some(digest)) if digest == hex::encode(self.in_force) => {}
            Ok(_) => self.only_uncomputed = false,
            Err(e) => warn!(error = %e, "cannot read which SLA policy the clocks follow"),
        }
    }

    pub(super) async fn run(
        mut self,
        shared: Arc<Shared>,
        changed: Arc<Notify>,
        mut stop: watch::Receiver<bool>,
    ) {
        self.check_applied(&shared).await;
        loop {
            self.turn(&shared).await;
            tokio::select! {
                _ = stop.changed() => return,
                _ = changed.notified() => {}
                _ = tokio::time::sleep(self.every) => {}
            }
            if *stop.borrow() {
                return;
            }
        }
    }

    async fn turn(&mut self, shared: &Shared) {
        self.reload(shared);
        let now = Timestamp::now();
        for _ in 0..RECOMPUTE_BATCHES_PER_TURN {
            let Some(after) = self.recompute else { break };
            match shared
                .store
                .recompute_sla(after, self.only_uncomputed, now)
                .await
            {
                Ok(Some(last)) => self.recompute = Some(Some(last)),
                Ok(None) => {
                    self.recompute = None;
                    let digest = hex::encode(self.in_force);
                    if let Err(e) = shared.store.set_sla_policy_applied(&digest).await {
                        warn!(error = %e, "cannot record which SLA policy the clocks follow");
                    }
                }
                Err(e) => {
                    warn!(error = %e, "cannot recompute SLA clocks; retrying next turn");
                    break;
                }
            }
        }
        let due = match shared
            .store
            .sla_due(now, crate::store::sla::SLA_BATCH)
            .await
        {
            Ok(due) => due,
            Err(e) => {
                warn!(error = %e, "cannot read tickets with SLA crossings due");
                return;
            }
        };
        for id in due {
            match shared.store.record_sla_crossings(id, now).await {
                Ok(recorded) if !recorded.events.is_empty() => {
                    recorded
                        .events
                        .iter()
                        .for_each(|e| shared.metrics.sla_event(e));
                    info!(ticket = %id, events = ?recorded.events, "SLA events recorded");
                }
                Ok(_) => {}
                Err(e) => warn!(ticket = %id, error = %e, "cannot record SLA events"),
            }
        }
    }

    /// Puts a changed policy file in force. A file that does not read or
    /// check is logged and the policy in force stays.
    fn reload(&mut self, shared: &Shared) {
        let source = match sla_file::read(&self.data_dir) {
            Ok(s) => s,
            Err(e) => {
                error!(error = %e, "cannot read the SLA policy; the one in force stays");
                return;
            }
        };
        if source.digest == self.loaded {
            return;
        }
        self.loaded = source.digest;
        match sla_file::parse(&source, &self.data_dir) {
            Ok(policy) => {
                shared.store.set_sla_policy(policy);
                self.in_force = source.digest;
                self.recompute = Some(None);
                self.only_uncomputed = false;
                info!("SLA policy changed; recomputing the clocks of open tickets");
            }
            Err(e) => {
                error!(error = %e, "SLA policy not changed: fix the file and save it again");
            }
        }
    }
}
