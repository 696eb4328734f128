//! The one error type of the agent library. Every message names the thing that
//! went wrong and the next step for the person at the keyboard.
//!
//! Messages carry their cause inline (so `to_string()` is the whole story)
//! rather than as a `source()`, which would print it twice in `main`.

use std::path::PathBuf;
use triage_shared::client::ClientError;
use triage_shared::error::{ErrorKind, RemoteError};
use triage_shared::text::InvalidInput;
use triage_shared::AgentId;

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("this agent is not enrolled; run `triage-agent enroll TOKEN --state-dir {}`", dir.display())]
    NotEnrolled { dir: PathBuf },

    #[error(
        "this agent is already enrolled as {agent_id} (state in {}); to start over with a new identity run `triage-agent enroll TOKEN --force --state-dir {}`",
        dir.display(),
        dir.display()
    )]
    AlreadyEnrolled { dir: PathBuf, agent_id: AgentId },

    #[error(
        "state file {} is corrupt: {problem}; enroll again with `triage-agent enroll TOKEN --force`",
        path.display()
    )]
    CorruptState { path: PathBuf, problem: String },

    /// The clock floor cannot be read; guessing it could revive an expired approval.
    #[error(
        "the clock floor {} is damaged: {problem}; with the agent stopped, write the current time into it (`date +%s000 > {}`), or remove it to trust the wall clock alone again",
        path.display(),
        path.display()
    )]
    ClockFloorDamaged { path: PathBuf, problem: String },

    #[error(
        "cannot {action} {}: {error}; check that this user may use that directory, or choose another with --state-dir or TRIAGE_AGENT_DIR",
        path.display()
    )]
    StateIo {
        action: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },

    #[error(
        "the relay refused to enroll this agent: {0}{hint}",
        hint = enroll_hint(.0)
    )]
    EnrollRefused(RemoteError),

    #[error(
        "the relay does not recognise this agent ({0}); it may have been removed, so enroll it again with `triage-agent enroll TOKEN --force`"
    )]
    NotRecognised(String),

    #[error("the relay refused the ticket: {0}")]
    TicketRefused(RemoteError),

    #[error("the help request is not valid: {0}")]
    InvalidRequest(#[from] InvalidInput),

    #[error(
        "cannot reach the relay at {addr}: {error}; check the network connection and that the relay is running, then try again"
    )]
    Unreachable { addr: String, error: ClientError },

    /// Errors whose own text already says what to do (wrong relay fingerprint,
    /// local TLS setup, a relay speaking something else).
    #[error("{0}")]
    Relay(ClientError),

    #[error(
        "the relay answered `{got}` to `{request}`; it may run an incompatible version of Triage"
    )]
    UnexpectedResponse {
        request: &'static str,
        got: &'static str,
    },

    #[error("could not collect diagnostics: {0}")]
    Diagnostics(String),

    #[error(
        "agent settings file {} is not valid: {problem}; fix it, or remove it to use the defaults",
        path.display()
    )]
    Config { path: PathBuf, problem: String },

    #[error(
        "the outbox in {} already holds {max} tickets waiting for the relay, all asked for by people, so this one was not queued (none are ever dropped); check the network connection to the relay, or raise `max_messages` under [outbox] in agent.toml",
        dir.display()
    )]
    OutboxFull { dir: PathBuf, max: usize },

    #[error(
        "the health monitor's state file {} is damaged: {problem}; the daemon moves it aside and starts afresh when it next starts",
        path.display()
    )]
    HealthState { path: PathBuf, problem: String },
}

/// The next step after an enrollment refusal, by what the relay objected to.
fn enroll_hint(refusal: &RemoteError) -> &'static str {
    match refusal.kind {
        ErrorKind::InvalidToken => "; ask your IT team for a new enrollment token",
        ErrorKind::VersionMismatch => "; install the triage-agent version that matches the relay",
        _ => "",
    }
}

/// Whether a failed exchange with the relay is worth repeating: the network
/// or the relay was briefly away, as opposed to the relay saying no.
pub fn is_transient(error: &ClientError) -> bool {
    matches!(
        error,
        ClientError::Resolve(..)
            | ClientError::Connect { .. }
            | ClientError::Timeout(_)
            | ClientError::Connection(_)
            | ClientError::Codec(_)
            | ClientError::Socket(_)
    )
}

/// Turns a client error into the agent error that tells the user what to do.
/// Used for everything except enrollment, whose refusals read differently.
pub(crate) fn from_client(addr: &str, error: ClientError) -> AgentError {
    match error {
        ClientError::Refused(e)
            if matches!(
                e.kind,
                ErrorKind::Unauthenticated | ErrorKind::Forbidden | ErrorKind::Revoked
            ) =>
        {
            AgentError::NotRecognised(e.message)
        }
        e if is_transient(&e) => AgentError::Unreachable {
            addr: addr.to_string(),
            error: e,
        },
        e => AgentError::Relay(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_shared::codec::CodecError;

    #[test]
    fn network_trouble_is_transient_and_refusals_are_not() {
        assert!(is_transient(&ClientError::Timeout("relay:1".into())));
        assert!(is_transient(&ClientError::Connect {
            addr: "a".into(),
            detail: "refused".into()
        }));
        assert!(is_transient(&ClientError::Codec(CodecError::Truncated)));
        let refusal = RemoteError::new(ErrorKind::InvalidInput, "bad title");
        assert!(!is_transient(&ClientError::Remote(refusal.clone())));
        assert!(!is_transient(&ClientError::Refused(refusal)));
        assert!(!is_transient(&ClientError::WrongRelay {
            addr: "a".into(),
            detail: "fp".into()
        }));
    }

    #[test]
    fn a_removed_agent_is_told_to_enroll_again() {
        let removed = ClientError::Refused(RemoteError::new(
            ErrorKind::Revoked,
            "agent 1 (pc) was removed from this relay",
        ));
        let err = from_client("relay:4433", removed);
        assert!(matches!(err, AgentError::NotRecognised(_)));
        assert!(err.to_string().contains("was removed"), "{err}");
    }

    #[test]
    fn refused_key_tells_the_user_to_enroll_again() {
        let refused =
            ClientError::Refused(RemoteError::new(ErrorKind::Unauthenticated, "unknown key"));
        let err = from_client("relay:4433", refused);
        assert!(matches!(err, AgentError::NotRecognised(_)));
        assert!(
            err.to_string()
                .contains("triage-agent enroll TOKEN --force"),
            "{err}"
        );
    }

    #[test]
    fn unreachable_relay_names_the_address_and_the_next_step() {
        let err = from_client("relay:4433", ClientError::Timeout("relay:4433".into()));
        let text = err.to_string();
        assert!(
            text.contains("relay:4433") && text.contains("try again"),
            "{text}"
        );
    }

    #[test]
    fn enrollment_refusals_suggest_the_step_that_fits() {
        let token =
            AgentError::EnrollRefused(RemoteError::new(ErrorKind::InvalidToken, "token expired"));
        assert_eq!(
            token.to_string(),
            "the relay refused to enroll this agent: token expired; ask your IT team for a new enrollment token"
        );
        let other = AgentError::EnrollRefused(RemoteError::new(
            ErrorKind::InvalidInput,
            "hostname too long",
        ));
        assert_eq!(
            other.to_string(),
            "the relay refused to enroll this agent: hostname too long"
        );
    }

    #[test]
    fn not_enrolled_message_names_the_command_and_directory() {
        let err = AgentError::NotEnrolled {
            dir: PathBuf::from("/tmp/agent-x"),
        };
        assert_eq!(
            err.to_string(),
            "this agent is not enrolled; run `triage-agent enroll TOKEN --state-dir /tmp/agent-x`"
        );
    }
}
