//! The health monitor's state machine: samples in, alert events out.
//! Pure — no clock, no disk, no network — so every rule about time is
//! tested with made-up timestamps.
//!
//! Per (rule, device):
//!
//! ```text
//!            Raise                 Raise, lasted raise_after
//!   (idle) ─────────► Pending ──────────────────────────────► Raised ──► event Raised (a new ticket)
//!     ▲                  │ Clear        Hold: keeps waiting     │ ▲   Raise/Hold, update_interval since
//!     │                  ▼                                      │ │   the last one ─► event StillRaised
//!     └──────────── (idle)                              Clear   ▼ │ Raise/Hold
//!     ▲                                                     Clearing
//!     └──── event Cleared (comment, or resolve) ◄── Clear, lasted clear_after
//! ```
//!
//! Hysteresis: a value between the thresholds (`Hold`) neither raises nor
//! clears, and neither starts nor stops a wait. A device that stops being
//! reported (unmounted, rule disabled) counts as `Clear`. So a value
//! flapping around either threshold files one ticket, not twenty.

use super::config::HealthConfig;
use super::rules::{facts, observe, timing, Level, Observation, RuleId};
use super::sample::HealthSample;
use serde::{Deserialize, Serialize};
use triage_shared::time::Timestamp;
use triage_shared::TicketId;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertKey {
    pub rule: RuleId,
    pub device: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Past the raise threshold since `since`, not yet for long enough.
    Pending { since: Timestamp },
    /// A ticket was filed for it.
    Raised {
        ticket: TicketId,
        raised_at: Timestamp,
        last_update: Timestamp,
    },
    /// Raised, and back past the clear threshold since `since`.
    Clearing {
        ticket: TicketId,
        raised_at: Timestamp,
        last_update: Timestamp,
        since: Timestamp,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub key: AlertKey,
    pub phase: Phase,
    /// The latest reading.
    pub reading: String,
}

/// Everything the machine remembers; persisted between daemon runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MonitorState {
    pub alerts: Vec<Alert>,
    /// The last sample's observations, for `triage-agent health`.
    pub readings: Vec<Observation>,
    pub evaluated_at: Option<Timestamp>,
}

impl MonitorState {
    /// The ticket filed for an alert, if it is raised (or clearing).
    pub fn ticket_of(&self, rule: RuleId, device: &str) -> Option<TicketId> {
        self.alerts
            .iter()
            .find(|a| a.key.rule == rule && a.key.device == device)
            .and_then(|a| match a.phase {
                Phase::Raised { ticket, .. } | Phase::Clearing { ticket, .. } => Some(ticket),
                Phase::Pending { .. } => None,
            })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum HealthEvent {
    /// File a new ticket with this id.
    Raised {
        key: AlertKey,
        ticket: TicketId,
        headline: String,
        reading: String,
    },
    /// Comment on the alert's ticket with the current reading.
    StillRaised {
        key: AlertKey,
        ticket: TicketId,
        reading: String,
    },
    /// Say so on the ticket, and resolve it if `auto_resolve`.
    Cleared {
        key: AlertKey,
        ticket: TicketId,
        reading: String,
        auto_resolve: bool,
    },
}

/// One evaluation: the state after `sample` was seen at `now`, and what happened.
pub fn step(
    config: &HealthConfig,
    state: MonitorState,
    sample: &HealthSample,
    now: Timestamp,
) -> (MonitorState, Vec<HealthEvent>) {
    let observations = observe(config, sample);
    let mut events = Vec::new();
    let mut alerts: Vec<Alert> = Vec::new();
    let mut old = state.alerts;
    for o in &observations {
        let key = AlertKey {
            rule: o.rule,
            device: o.device.clone(),
        };
        let existing = old
            .iter()
            .position(|a| a.key == key)
            .map(|i| old.swap_remove(i).phase);
        if let Some(phase) = advance(config, &key, existing, o.level, o, now, &mut events) {
            alerts.push(Alert {
                key,
                phase,
                reading: o.reading.clone(),
            });
        }
    }
    // Alerts whose device was not reported this time count as clear.
    for gone in old {
        let o = Observation {
            rule: gone.key.rule,
            device: gone.key.device.clone(),
            level: Level::Clear,
            headline: String::new(),
            reading: format!("{} is no longer reported", gone.key.device),
        };
        if let Some(phase) = advance(
            config,
            &gone.key,
            Some(gone.phase),
            Level::Clear,
            &o,
            now,
            &mut events,
        ) {
            alerts.push(Alert {
                key: gone.key,
                phase,
                reading: gone.reading,
            });
        }
    }
    let state = MonitorState {
        alerts,
        readings: observations,
        evaluated_at: Some(now),
    };
    (state, events)
}

/// The next phase of one alert (`None`: idle), pushing any event.
fn advance(
    config: &HealthConfig,
    key: &AlertKey,
    phase: Option<Phase>,
    level: Level,
    o: &Observation,
    now: Timestamp,
    events: &mut Vec<HealthEvent>,
) -> Option<Phase> {
    let common = timing(config, key.rule);
    let raise = |events: &mut Vec<HealthEvent>| {
        let ticket = TicketId::new_random();
        events.push(HealthEvent::Raised {
            key: key.clone(),
            ticket,
            headline: o.headline.clone(),
            reading: o.reading.clone(),
        });
        Some(Phase::Raised {
            ticket,
            raised_at: now,
            last_update: now,
        })
    };
    let cleared = |events: &mut Vec<HealthEvent>, ticket| {
        events.push(HealthEvent::Cleared {
            key: key.clone(),
            ticket,
            reading: o.reading.clone(),
            auto_resolve: config.auto_resolve,
        });
        None
    };
    match (phase, level) {
        (None, Level::Raise) if common.raise_after.is_zero() => raise(events),
        (None, Level::Raise) => Some(Phase::Pending { since: now }),
        (None, _) => None,
        (Some(Phase::Pending { .. }), Level::Clear) => None,
        (Some(Phase::Pending { since }), Level::Raise)
            if now.since(since) >= common.raise_after =>
        {
            raise(events)
        }
        (Some(pending @ Phase::Pending { .. }), _) => Some(pending),
        (
            Some(Phase::Raised {
                ticket,
                raised_at,
                last_update,
            }),
            Level::Clear,
        ) => {
            if common.clear_after.is_zero() {
                cleared(events, ticket)
            } else {
                Some(Phase::Clearing {
                    ticket,
                    raised_at,
                    last_update,
                    since: now,
                })
            }
        }
        (
            Some(Phase::Raised {
                ticket,
                raised_at,
                last_update,
            }),
            _,
        ) => {
            let mut last_update = last_update;
            if now.since(last_update) >= config.update_interval {
                events.push(HealthEvent::StillRaised {
                    key: key.clone(),
                    ticket,
                    reading: o.reading.clone(),
                });
                last_update = now;
            }
            Some(Phase::Raised {
                ticket,
                raised_at,
                last_update,
            })
        }
        (Some(Phase::Clearing { ticket, since, .. }), Level::Clear)
            if now.since(since) >= common.clear_after =>
        {
            cleared(events, ticket)
        }
        (Some(clearing @ Phase::Clearing { .. }), Level::Clear) => Some(clearing),
        (
            Some(Phase::Clearing {
                ticket,
                raised_at,
                last_update,
                ..
            }),
            _,
        ) => Some(Phase::Raised {
            ticket,
            raised_at,
            last_update,
        }),
    }
}

/// The severity and thresholds of the rule behind `key`, for ticket text.
pub fn rule_facts(config: &HealthConfig, key: &AlertKey) -> super::rules::RuleFacts {
    facts(config, key.rule)
}
