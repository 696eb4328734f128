//! The Triage relay: QUIC listener, authentication, ticket store and
//! enrollment tokens. See `ARCHITECTURE.md` in this crate for a map.
//!
//! ```no_run
//! # async fn demo() -> Result<(), triage_relay::RelayError> {
//! let relay = triage_relay::start(triage_relay::RelayConfig::new("/var/lib/triage", "0.0.0.0:4433".parse().unwrap())).await?;
//! println!("{}", relay.locator());
//! relay.shutdown().await;
//! # Ok(()) }
//! ```

pub mod admin;
pub mod config;
mod error;
pub mod quickstart;
mod server;
pub mod store;
pub mod workflow;

pub use config::RelayConfig;
pub use error::RelayError;
pub use server::registry;
pub use server::{
    shutdown_signal, start, RelayHandle, HELLO_TIMEOUT, MAX_CONNECTIONS, MAX_HELLO_LEN,
    REQUEST_READ_TIMEOUT,
};
