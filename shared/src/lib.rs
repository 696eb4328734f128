//! The Triage protocol, shared by the relay, the agent and the technician CLI.
//!
//! Almost everything here is plain data and pure functions: messages and
//! their framing, typed identifiers, the ticket state machine, diagnostics
//! types, identities and TLS configuration, enrollment tokens, roles and
//! limits. The I/O is in two places: [`codec`] reads and writes frames on a
//! stream someone else opened, and [`client`] is the connection client
//! that dials a relay over QUIC, checks its certificate and says hello.

pub mod agent_update;
pub mod approval;
pub mod audit;
pub mod client;
pub mod codec;
pub mod desk_report;
pub mod diagnostics;
pub mod error;
pub mod identity;
pub mod ids;
pub mod kb;
pub mod limits;
pub mod news;
pub mod notify;
pub mod protocol;
pub mod queue;
pub mod remote;
pub mod report;
pub mod roles;
pub mod selector;
pub mod size;
pub mod sla;
pub mod stream_timer;
pub mod text;
pub mod ticket;
pub mod time;
pub mod tls;
pub mod token;
pub mod token_id;
pub mod transfer;

pub use ids::{AgentId, TicketId};
