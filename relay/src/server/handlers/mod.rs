//! The handlers, by domain. Each does one request's work against the store
//! (and the agent, through `agent_link`); `dispatch` picks the handler,
//! `route` decided beforehand who may ask and what is audited.

pub(super) mod admin;
pub(super) mod agents;
pub(super) mod desk_report;
pub(super) mod diag;
pub(super) mod kb;
pub(super) mod my_tickets;
pub(super) mod notify;
pub(super) mod ping;
pub(super) mod presence;
pub(super) mod queue;
pub(super) mod scripts;
pub(super) mod sla;
pub(super) mod tickets;
pub(super) mod transfers;
pub(super) mod updates;
pub(super) mod watch;
