//! The Triage endpoint agent.
//!
//! Where things live:
//! - [`diagnostics`]: the local snapshot (sysinfo probe + pure shaping).
//! - [`state`]: the state directory (key, relay locator, agent id).
//! - [`enroll()`]: token → agent id; [`run_daemon`]: the long-lived relay
//!   connection; [`file_ticket`]: "Get help".
//! - [`serve`]: requests the relay routes to the agent (a pure dispatcher).
//! - [`backoff`], [`host`]: small pure helpers (retry delays, names).
//!
//! Pure logic (backoff, ranking, clamping, parsing, dispatch) is kept apart
//! from I/O so it is tested without a relay; the async code is thin.

pub mod backoff;
mod daemon;
pub mod diagnostics;
mod enroll;
mod error;
mod help;
pub mod host;
pub mod serve;
pub mod state;
mod status;

pub use backoff::backoff_delay;
pub use daemon::{run_daemon, HEARTBEAT_INTERVAL};
pub use enroll::enroll;
pub use error::{is_transient, AgentError};
pub use help::{file_ticket, HelpRequest, SUBMIT_ATTEMPTS};
pub use status::{status, AgentStatus};

use std::path::Path;

/// Forgets this agent's enrollment and identity (`enroll --force`), so the
/// next [`enroll()`] starts with a new key.
pub fn forget_enrollment(state_dir: &Path) -> Result<(), AgentError> {
    state::StateDir::new(state_dir).forget()
}
