//! The local socket between the agent daemon and the "Get help" window.

pub mod protocol;
