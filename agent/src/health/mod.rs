//! The hardware health monitor: rules from `agent.toml` ([`config`]) over
//! samples of the machine ([`sample`]), evaluated by a pure state machine
//! ([`machine::step`], per-device observations from [`rules`]) with
//! hysteresis and minimum durations. A raised alert files a ticket through
//! the outbox; while it stays raised the same ticket gets a comment at most
//! every `update_interval`; when it clears a comment says so (and the
//! ticket is resolved if `auto_resolve`). Alerts and their tickets are
//! saved in the state directory ([`store`]), so a restart neither files an
//! alert again nor forgets it.
//!
//! The async part ([`monitor::Monitor`]) only samples on a timer, queues
//! and saves. `triage-agent health` reads what it saved ([`view`]).
//!
//! Not monitored (yet): crash-looping processes and clock skew against the
//! relay.

pub mod config;
pub mod machine;
pub mod messages;
pub mod monitor;
pub(crate) mod raw;
pub mod rules;
pub mod sample;
pub mod store;
pub mod view;

#[cfg(test)]
mod config_tests;
#[cfg(test)]
mod tests;

pub use config::HealthConfig;
pub use machine::{step, HealthEvent, MonitorState};
pub use sample::{FakeSource, HealthSample, SampleSource, SysinfoSource};
pub use view::{health_report, HealthReport};
