//! The Triage endpoint agent.
//!
//! Where things live:
//! - [`diagnostics`]: the local snapshot (sysinfo probe + pure shaping), and
//!   the live report with installed software and services.
//! - [`state`]: the state directory (key, relay locator, agent id, pinned
//!   org key and policy, used approval nonces); [`config`]: `agent.toml`.
//! - [`enroll()`]: token → agent id; [`run_daemon`]: the long-lived relay
//!   connection; [`file_ticket`]: "Get help".
//! - [`outbox`]: every ticket and update goes to disk first and is deleted
//!   once the relay acknowledged it; [`health`]: the hardware health
//!   monitor (rules, pure state machine, sample sources, `health` view).
//! - [`serve`]: commands the relay sends to the agent; the endpoint decides
//!   whether a script may run ([`serve::Endpoint`]).
//! - [`runner`]: running an approved script (temp dir, process group,
//!   timeout, capped streamed output).
//! - [`logs`]: log pulls (allow-list, tail/since/grep, follow, chunked
//!   and hashed); [`screenshot`]: policy, then consent in the user's window,
//!   which takes the picture.
//! - `capture` (feature `screenshot`): the screen as PNG, fitted to a byte
//!   budget; `gui` (feature `gui`): the "Get help" window.
//! - [`desktop`]: the "Get help" window's local socket: server with the
//!   peer-uid check, ticket filing and My tickets for the window, the
//!   consent channels screenshots are asked on, and the window's client.
//! - [`inbox`]: the employee's tickets as the relay reported them (pushed
//!   news and the catch-up on connect), kept in `inbox.json`, with the
//!   notices the window has not shown yet.
//! - [`backoff`], [`host`]: small pure helpers (retry delays, names).
//!
//! Pure logic (backoff, ranking, clamping, parsing, verification, output
//! accounting) is kept apart from I/O so it is tested without a relay; the
//! async code is thin.

mod background;
pub mod backoff;
#[cfg(feature = "screenshot")]
pub mod capture;
pub mod config;
mod daemon;
pub mod desktop;
pub mod diagnostics;
mod enroll;
mod error;
#[cfg(feature = "gui")]
pub mod gui;
pub mod health;
mod help;
pub mod host;
pub mod inbox;
pub mod logs;
pub mod outbox;
pub mod runner;
pub mod screenshot;
pub mod serve;
pub mod state;
mod status;
#[cfg(all(test, unix))]
mod test_support;

pub use background::{DaemonOptions, OUTBOX_POLL_INTERVAL};
pub use backoff::backoff_delay;
pub use config::{AgentConfig, CONFIG_FILE};
pub use daemon::{run_daemon, run_daemon_with, HEARTBEAT_INTERVAL};
pub use enroll::enroll;
pub use error::{is_transient, AgentError};
pub use health::{health_report, FakeSource, HealthReport, HealthSample};
pub use help::{
    file_ticket, file_ticket_with, FileOptions, Filed, HelpRequest, DELIVER_NOW_TIMEOUT,
};
pub use outbox::pending_count;
pub use state::nonces::NONCE_FILE;
pub use state::trust::{ORG_KEY_FILE, ROSTER_FILE, ROSTER_FLOOR_FILE};
pub use status::{status, AgentStatus};

use std::path::Path;

/// Forgets this agent's enrollment and identity (`enroll --force`), so the
/// next [`enroll()`] starts with a new key.
pub fn forget_enrollment(state_dir: &Path) -> Result<(), AgentError> {
    state::StateDir::new(state_dir).forget()
}
