//! The Triage protocol, shared by the relay, the agent and the technician CLI.
//!
//! Everything here is plain data and pure functions: messages and their framing,
//! typed identifiers, the ticket state machine, diagnostics types, identities
//! and TLS configuration, enrollment tokens, roles and limits. The only I/O is
//! reading and writing frames on a stream someone else opened.

pub mod agent_update;
pub mod approval;
pub mod audit;
pub mod client;
pub mod codec;
pub mod diagnostics;
pub mod identity;
pub mod ids;
pub mod limits;
pub mod protocol;
pub mod remote;
pub mod report;
pub mod roles;
pub mod selector;
pub mod stream_timer;
pub mod ticket;
pub mod time;
pub mod tls;
pub mod token;
pub mod token_id;
pub mod transfer;

pub use ids::{AgentId, TicketId};
