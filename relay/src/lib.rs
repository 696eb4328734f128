//! The Triage relay: QUIC listener, authentication, ticket store,
//! enrollment tokens, routing to agents, approved scripts and the audit log. See `ARCHITECTURE.md` in this crate for a map.
//!
//! ```no_run
//! # async fn demo() -> Result<(), triage_relay::RelayError> {
//! let relay = triage_relay::start(triage_relay::RelayConfig::new("/var/lib/triage", "0.0.0.0:4433".parse().unwrap())).await?;
//! println!("{}", relay.locator());
//! relay.shutdown().await;
//! # Ok(()) }
//! ```

pub mod admin;
pub mod agent_updates;
pub mod audit;
pub mod config;
pub mod employee_updates;
mod error;
pub mod metrics;
pub mod notify;
pub mod org;
pub mod quickstart;
pub mod resolve;
pub mod revocation;
pub mod scripts;
mod server;
pub mod sla_file;
pub mod store;
pub mod workflow;

pub use config::{MetricsConfig, RelayConfig};
pub use error::RelayError;
pub use server::failpoint;
pub use server::registry;
pub use server::{
    shutdown_signal, start, validate_report, RelayHandle, AGENT_REPLY_TIMEOUT, DIAG_TIMEOUT,
    HELLO_TIMEOUT, MAX_COLLECTED_REPLIES, MAX_COMMANDS_PER_AGENT, MAX_CONNECTIONS, MAX_HELLO_LEN,
    PING_TIMEOUT, REQUEST_READ_TIMEOUT, ROSTER_REFRESH, RUN_GRACE,
};
pub use server::{
    Limits, MAX_HANDSHAKING, MAX_HANDSHAKING_PER_ADDRESS, MAX_UNENROLLED_CONNECTIONS,
    MAX_UNENROLLED_PER_ADDRESS, REFUSED_ENROLLMENTS_PER_WINDOW, RETRY_THRESHOLD,
    TECHNICIAN_REQUESTS_PER_SECOND, TECHNICIAN_REQUEST_BURST, UNENROLLED_LIFETIME,
};
pub use server::{AUTO_CLOSE_ACTOR, DEFAULT_AUTO_CLOSE_AFTER, METRICS_PATH};
pub use server::{
    MAX_ATTACHMENT_LEN, MAX_TRANSFERS_PER_AGENT, SCREENSHOT_FIRST_FRAME_WAIT, STOP_GRACE,
    TRANSFER_IDLE_TIMEOUT,
};
