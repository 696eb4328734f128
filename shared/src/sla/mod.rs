//! Service levels: what a help desk promises about each ticket, and a pure
//! engine that says, from the ticket's history, the policy and a given
//! "now", where each promise stands.
//!
//! Two clocks run per ticket ([`SlaClock`]): first response, until the
//! first public technician comment or status change, and resolution, until
//! the ticket is resolved or closed. Both count business time on the
//! policy's [`Calendar`], pause while the ticket is `waiting`, and use the
//! target of the ticket's priority (and category) at each moment: a
//! priority change mid-flight keeps the time used and measures it against
//! the new target. A reopened ticket's resolution clock goes on from where
//! it stopped; the first response, once given, stays given.
//!
//! Nothing here reads a clock or a database: the relay hands in the facts
//! and `now`, and stores what comes out.

pub mod calendar;
pub mod policy;

pub use crate::ticket::SlaClock;
use crate::ticket::{Category, Priority, Status};
use crate::time::Timestamp;
pub use calendar::{BusinessHours, Calendar, OpenSpan};
pub use policy::{BreachAction, PolicyError, SlaPolicy, Targets};
use serde::{Deserialize, Serialize};

/// Where a clock stands.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::Display, strum::IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ClockState {
    /// Counting business time now.
    Running,
    /// Stopped while the ticket waits on the employee; goes on when it
    /// is worked again.
    Paused,
    /// The promise was kept or broken for good: responded, resolved or
    /// closed. `used_ms` is final (until a reopen, for resolution).
    Stopped,
}

/// One clock of one ticket, as the engine last computed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockStatus {
    /// Business time promised, in milliseconds.
    pub target_ms: u64,
    pub state: ClockState,
    /// Business time used up to `as_of`.
    pub used_ms: u64,
    pub as_of: Timestamp,
    /// While running: the instant the target is (or was) reached.
    pub due_at: Option<Timestamp>,
    /// While running: the instant the warning threshold is (or was) reached.
    pub warn_at: Option<Timestamp>,
    /// Business time at which the warning threshold lies.
    pub warn_ms: u64,
}

impl ClockStatus {
    /// Whether the target is passed at `now`.
    pub fn breached(&self, now: Timestamp) -> bool {
        match (self.state, self.due_at) {
            (ClockState::Running, Some(due)) => due <= now,
            _ => self.used_ms >= self.target_ms,
        }
    }

    /// Whether the warning threshold is passed at `now` (a breached clock
    /// is warned too).
    pub fn warned(&self, now: Timestamp) -> bool {
        match (self.state, self.warn_at) {
            (ClockState::Running, Some(warn)) => warn <= now,
            _ => self.used_ms >= self.warn_ms,
        }
    }

    /// Business time left as of `as_of` (negative when over). Final while
    /// paused or stopped; while running the due time says more.
    pub fn left_ms(&self) -> i64 {
        self.target_ms as i64 - self.used_ms as i64
    }
}

/// Where a clock stands at a given moment, for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockPhase {
    /// Running, due at this instant, still ahead.
    Due(Timestamp),
    /// Running past its due time.
    Late(Timestamp),
    /// Paused while the ticket waits.
    Paused,
    /// Stopped after its target.
    Missed,
    /// Stopped within its target.
    Met,
}

impl ClockStatus {
    pub fn phase(&self, now: Timestamp) -> ClockPhase {
        match (self.state, self.due_at) {
            (ClockState::Running, Some(due)) if due <= now => ClockPhase::Late(due),
            (ClockState::Running, Some(due)) => ClockPhase::Due(due),
            (ClockState::Paused, _) => ClockPhase::Paused,
            _ if self.breached(now) => ClockPhase::Missed,
            _ => ClockPhase::Met,
        }
    }
}

/// Both clocks of a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketSla {
    pub first_response: ClockStatus,
    pub resolution: ClockStatus,
}

impl TicketSla {
    pub fn clock(&self, clock: SlaClock) -> &ClockStatus {
        match clock {
            SlaClock::FirstResponse => &self.first_response,
            SlaClock::Resolution => &self.resolution,
        }
    }

    pub fn clocks(&self) -> [(SlaClock, &ClockStatus); 2] {
        [
            (SlaClock::FirstResponse, &self.first_response),
            (SlaClock::Resolution, &self.resolution),
        ]
    }

    /// The due time that matters next: the earliest of the running
    /// clocks'; `None` when neither runs.
    pub fn next_due(&self) -> Option<Timestamp> {
        self.clocks()
            .iter()
            .filter(|(_, c)| c.state == ClockState::Running)
            .filter_map(|(_, c)| c.due_at)
            .min()
    }

    /// When the ticket needs attention: the earliest warning point of a
    /// clock still counting or paused; `None` when nothing is at stake.
    /// A paused clock already past its warning point needs it from then.
    pub fn attention_at(&self) -> Option<Timestamp> {
        self.clocks()
            .iter()
            .filter_map(|(_, c)| match c.state {
                ClockState::Running => c.warn_at,
                ClockState::Paused if c.used_ms >= c.warn_ms => Some(c.as_of),
                _ => None,
            })
            .min()
    }

    /// Past a warning point (or due time) of a clock still at stake.
    pub fn needs_attention(&self, now: Timestamp) -> bool {
        self.attention_at().is_some_and(|at| at <= now)
    }
}

/// What an SLA event says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Crossing {
    Warning,
    Breach,
}

/// One thing from a ticket's history that the clocks care about, in
/// history order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlaFact {
    /// The ticket was filed; must come first.
    Created {
        at: Timestamp,
        priority: Priority,
        category: Category,
    },
    StatusChanged {
        at: Timestamp,
        to: Status,
        /// Made by a technician (not the agent, the employee or the relay).
        by_technician: bool,
    },
    /// A public comment by a technician.
    TechnicianReplied {
        at: Timestamp,
    },
    PriorityChanged {
        at: Timestamp,
        to: Priority,
    },
    /// The relay already recorded this crossing as an event.
    Recorded {
        at: Timestamp,
        clock: SlaClock,
        crossing: Crossing,
    },
}

impl SlaFact {
    pub fn at(&self) -> Timestamp {
        match *self {
            SlaFact::Created { at, .. }
            | SlaFact::StatusChanged { at, .. }
            | SlaFact::TechnicianReplied { at }
            | SlaFact::PriorityChanged { at, .. }
            | SlaFact::Recorded { at, .. } => at,
        }
    }
}

/// A crossing that has happened and is not yet on record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueEvent {
    pub clock: SlaClock,
    pub crossing: Crossing,
    /// The clock's due time (for a warning too: the time it warns about).
    pub due_at: Timestamp,
}

/// What the engine says about a ticket at `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaEvaluation {
    pub sla: TicketSla,
    /// Crossings passed by `now` that no event records yet, warning first.
    pub due_events: Vec<DueEvent>,
    /// When the next unrecorded crossing happens (at or before `now` when
    /// `due_events` is not empty); `None` when no clock is heading for one.
    pub next_event_at: Option<Timestamp>,
}

/// One clock while the history is folded.
#[derive(Debug, Clone)]
struct ClockFold {
    clock: SlaClock,
    used: u64,
    /// Counting since this instant.
    running_since: Option<Timestamp>,
    stopped: bool,
    paused: bool,
    target: u64,
    warn: u64,
    /// When the current target's warning point and due time were passed.
    warned_at: Option<Timestamp>,
    breached_at: Option<Timestamp>,
    recorded_warning: bool,
    recorded_breach: bool,
    as_of: Timestamp,
}

impl ClockFold {
    fn new(clock: SlaClock, target: u64, percent: u8, at: Timestamp) -> Self {
        let mut fold = ClockFold {
            clock,
            used: 0,
            running_since: Some(at),
            stopped: false,
            paused: false,
            target: u64::MAX,
            warn: u64::MAX,
            warned_at: None,
            breached_at: None,
            recorded_warning: false,
            recorded_breach: false,
            as_of: at,
        };
        fold.set_target(target, percent, at);
        fold
    }

    /// Counts the running time up to `at`, noting the instants the
    /// warning point and the target are passed.
    fn advance(&mut self, calendar: &Calendar, at: Timestamp) {
        if let Some(since) = self.running_since {
            let before = self.used;
            self.used = before.saturating_add(calendar.open_millis_between(since, at));
            let crossed = |threshold: u64| {
                if before >= threshold {
                    since
                } else {
                    calendar.add_open_millis(since, threshold - before)
                }
            };
            if self.warned_at.is_none() && self.used >= self.warn {
                self.warned_at = Some(crossed(self.warn));
            }
            if self.breached_at.is_none() && self.used >= self.target {
                self.breached_at = Some(crossed(self.target));
            }
            self.running_since = Some(at.max(since));
        }
        self.as_of = at.max(self.as_of);
    }

    fn set_running(&mut self, running: bool, at: Timestamp) {
        self.running_since = (running && !self.stopped).then_some(at);
    }

    /// A new promise gets its own warning and breach; time already used
    /// past it counts as passed at the change.
    fn set_target(&mut self, target: u64, percent: u8, at: Timestamp) {
        if target == self.target {
            return;
        }
        self.recorded_warning = false;
        self.recorded_breach = false;
        self.target = target;
        self.warn = warn_ms(target, percent);
        self.warned_at = (self.used >= self.warn).then_some(at);
        self.breached_at = (self.used >= self.target).then_some(at);
    }

    fn state(&self) -> ClockState {
        if self.running_since.is_some() {
            ClockState::Running
        } else if self.paused && !self.stopped {
            ClockState::Paused
        } else {
            ClockState::Stopped
        }
    }
}

/// `percent` % of `target`, without overflow.
fn warn_ms(target: u64, percent: u8) -> u64 {
    target / 100 * percent as u64 + target % 100 * percent as u64 / 100
}

/// The statuses in which the clocks count.
fn counts_in(status: Status) -> bool {
    matches!(status, Status::Open | Status::InProgress)
}

/// Folds a ticket's history into both clocks at `now`. Facts must start
/// with [`SlaFact::Created`] and be in history order; a fact dated before
/// the one ahead of it is taken as happening with it, and one dated after
/// `now` as happening at `now`.
pub fn evaluate(facts: &[SlaFact], policy: &SlaPolicy, now: Timestamp) -> SlaEvaluation {
    let (created_at, category, priority) = match facts.first() {
        Some(&SlaFact::Created {
            at,
            priority,
            category,
        }) => (at.min(now), category, priority),
        // Without a start there is nothing to count from: the clocks start now.
        _ => (now, Category::Other, Priority::Normal),
    };
    let percent = policy.warning_percent;
    let targets = |p: Priority| policy.targets(p, category);
    let mut clocks = [
        ClockFold::new(
            SlaClock::FirstResponse,
            targets(priority).first_response_ms(),
            percent,
            created_at,
        ),
        ClockFold::new(
            SlaClock::Resolution,
            targets(priority).resolution_ms(),
            percent,
            created_at,
        ),
    ];
    let mut last = created_at;
    for fact in facts.iter().skip(1) {
        let at = fact.at().clamp(last, now.max(last));
        last = at;
        for c in &mut clocks {
            c.advance(&policy.calendar, at);
        }
        match *fact {
            SlaFact::Created { .. } => {}
            SlaFact::StatusChanged {
                to, by_technician, ..
            } => {
                let done = matches!(to, Status::Resolved | Status::Closed);
                let [first, resolution] = &mut clocks;
                first.stopped |= by_technician || done;
                resolution.stopped = done;
                for c in &mut clocks {
                    c.paused = to == Status::Waiting;
                    c.set_running(counts_in(to), at);
                }
            }
            SlaFact::TechnicianReplied { .. } => {
                clocks[0].stopped = true;
                clocks[0].running_since = None;
            }
            SlaFact::PriorityChanged { to, .. } => {
                clocks[0].set_target(targets(to).first_response_ms(), percent, at);
                clocks[1].set_target(targets(to).resolution_ms(), percent, at);
            }
            SlaFact::Recorded {
                clock, crossing, ..
            } => {
                let c = &mut clocks[clock as usize];
                c.recorded_warning = true;
                c.recorded_breach |= crossing == Crossing::Breach;
            }
        }
    }
    let mut due_events = Vec::new();
    let mut next_event_at: Option<Timestamp> = None;
    let [first_response, resolution] =
        clocks.map(|mut c| {
            c.advance(&policy.calendar, now.max(c.as_of));
            let state = c.state();
            let left = |threshold: u64| threshold.saturating_sub(c.used);
            let (due_at, warn_at) =
                match state {
                    ClockState::Running => (
                        Some(c.breached_at.unwrap_or_else(|| {
                            policy.calendar.add_open_millis(c.as_of, left(c.target))
                        })),
                        Some(c.warned_at.unwrap_or_else(|| {
                            policy.calendar.add_open_millis(c.as_of, left(c.warn))
                        })),
                    ),
                    _ => (None, None),
                };
            if state != ClockState::Stopped {
                let pending = [
                    (Crossing::Warning, c.recorded_warning, c.warned_at, warn_at),
                    (Crossing::Breach, c.recorded_breach, c.breached_at, due_at),
                ];
                for (crossing, recorded, passed, ahead) in pending {
                    if recorded {
                        continue;
                    }
                    if let Some(when) = passed.or(ahead) {
                        next_event_at = Some(next_event_at.map_or(when, |n| n.min(when)));
                    }
                    if passed.is_some() {
                        due_events.push(DueEvent {
                            clock: c.clock,
                            crossing,
                            due_at: c.breached_at.or(due_at).unwrap_or(c.as_of),
                        });
                    }
                }
            }
            ClockStatus {
                target_ms: c.target,
                state,
                used_ms: c.used,
                as_of: c.as_of,
                due_at,
                warn_at,
                warn_ms: c.warn,
            }
        });
    due_events.sort_by_key(|e| (e.crossing, e.clock as u8));
    SlaEvaluation {
        sla: TicketSla {
            first_response,
            resolution,
        },
        due_events,
        next_event_at,
    }
}

#[cfg(test)]
mod tests;
