//! A test hook, and nothing else: a fault the end-to-end tests inject to
//! prove that a ticket is stored exactly once when the relay dies between
//! committing it and acknowledging it.
//!
//! The relay reads [`FAILPOINT_ENV`] once, when it starts. With the value
//! [`EXIT_AFTER_TICKET_COMMIT`] the process aborts (`std::process::abort`)
//! right after it has committed the first newly filed ticket and before it
//! answers the agent. Any other value is ignored with a warning. Nothing
//! else in the relay reads this variable.

use std::sync::OnceLock;

/// The environment variable the relay reads at start.
pub const FAILPOINT_ENV: &str = "TRIAGE_RELAY_FAILPOINT";
/// Abort after the first committed `SubmitTicket`, before the answer.
pub const EXIT_AFTER_TICKET_COMMIT: &str = "exit-after-ticket-commit";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failpoint {
    ExitAfterTicketCommit,
}

static ARMED: OnceLock<Option<Failpoint>> = OnceLock::new();

/// What a value of [`FAILPOINT_ENV`] asks for.
pub fn parse(value: Option<&str>) -> Option<Failpoint> {
    match value.map(str::trim) {
        None | Some("") => None,
        Some(EXIT_AFTER_TICKET_COMMIT) => Some(Failpoint::ExitAfterTicketCommit),
        Some(other) => {
            tracing::warn!(
                value = other,
                "ignoring unknown {FAILPOINT_ENV}; the only test hook is `{EXIT_AFTER_TICKET_COMMIT}`"
            );
            None
        }
    }
}

/// Reads the environment once per process (at the first relay start).
pub fn arm_from_env() {
    let armed = ARMED.get_or_init(|| parse(std::env::var(FAILPOINT_ENV).ok().as_deref()));
    if let Some(point) = armed {
        tracing::warn!(?point, "TEST HOOK ARMED: this relay will abort on purpose");
    }
}

/// Called right after a new ticket was committed, before the answer.
pub fn after_ticket_commit() {
    if ARMED.get().copied().flatten() == Some(Failpoint::ExitAfterTicketCommit) {
        tracing::error!("{FAILPOINT_ENV}={EXIT_AFTER_TICKET_COMMIT}: aborting after the commit, before the acknowledgement");
        std::process::abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_named_failpoint_is_recognised() {
        assert_eq!(
            parse(Some("exit-after-ticket-commit")),
            Some(Failpoint::ExitAfterTicketCommit)
        );
        assert_eq!(parse(None), None);
        assert_eq!(parse(Some("")), None);
        assert_eq!(parse(Some("exit-after-ticket")), None);
        assert_eq!(parse(Some("EXIT-AFTER-TICKET-COMMIT")), None);
    }
}
