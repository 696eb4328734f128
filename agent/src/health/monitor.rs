//! The health monitor as the daemon runs it: every `interval`, take a
//! sample, run the state machine, queue what it decided in the outbox, and
//! save the state. Thin: the decisions are all in `machine`.

use super::config::HealthConfig;
use super::machine::{step, HealthEvent, MonitorState};
use super::messages::message;
use super::sample::SampleSource;
use super::store;
use crate::outbox::{Outbox, Queued};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::{watch, Notify};
use tracing::{error, info, warn};
use triage_shared::time::Timestamp;

/// What the monitor needs.
pub struct Monitor {
    pub state_dir: PathBuf,
    pub config: HealthConfig,
    pub source: Box<dyn SampleSource>,
    pub outbox: Outbox,
    /// Woken whenever something was queued, so it is delivered at once.
    pub queued: Arc<Notify>,
    /// The host name used in ticket titles.
    pub host: String,
}

impl Monitor {
    /// Runs until `stop` turns true (or its sender goes away).
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let Monitor {
            state_dir,
            config,
            mut source,
            outbox,
            queued,
            host,
        } = self;
        let mut state = store::load_or_fresh(&state_dir);
        info!(
            interval = ?config.interval,
            alerts = state.alerts.len(),
            "health monitor started"
        );
        let mut ticker = tokio::time::interval(config.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.changed() => break,
                _ = ticker.tick() => {}
            }
            let taken = tokio::task::spawn_blocking(move || {
                let sample = source.sample();
                (source, sample)
            })
            .await;
            let sample = match taken {
                Ok((back, sample)) => {
                    source = back;
                    sample
                }
                Err(e) => {
                    error!(error = %e, "the health sample source failed; the health monitor stops");
                    return;
                }
            };
            let (next, events) = step(&config, state, &sample, Timestamp::now());
            for event in &events {
                queue(&config, &host, &outbox, event).await;
            }
            if !events.is_empty() {
                queued.notify_one();
            }
            state = next;
            save(&state_dir, &state);
        }
        info!("health monitor stopped");
    }
}

async fn queue(config: &HealthConfig, host: &str, outbox: &Outbox, event: &HealthEvent) {
    let snapshot = match event {
        HealthEvent::Raised { .. } => tokio::task::spawn_blocking(crate::diagnostics::collect)
            .await
            .ok(),
        _ => None,
    };
    match event {
        HealthEvent::Raised {
            key,
            ticket,
            reading,
            ..
        } => {
            warn!(rule = key.rule.as_str(), device = %key.device, %ticket, %reading, "health alert raised")
        }
        HealthEvent::StillRaised {
            key,
            ticket,
            reading,
        } => {
            info!(rule = key.rule.as_str(), device = %key.device, %ticket, %reading, "health alert still raised")
        }
        HealthEvent::Cleared {
            key,
            ticket,
            reading,
            ..
        } => {
            info!(rule = key.rule.as_str(), device = %key.device, %ticket, %reading, "health alert cleared")
        }
    }
    match outbox.push(&message(config, host, event, snapshot)) {
        Ok(Queued::Queued { .. }) => {}
        Ok(Queued::Dropped) => warn!("the outbox is full; this health message was not kept"),
        Err(e) => error!(error = %e, "could not queue a health message"),
    }
}

fn save(state_dir: &std::path::Path, state: &MonitorState) {
    if let Err(e) = store::save(state_dir, state) {
        error!(error = %e, "could not save the health monitor's state; a restart may file an alert again");
    }
}
