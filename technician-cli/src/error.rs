//! Everything that can go wrong, worded for the technician: each message
//! names the problem and the next step. `main` prints `error: {e}`.

use std::path::PathBuf;
use triage_shared::client::ClientError;
use triage_shared::error::{ErrorKind, RemoteError};
use triage_shared::text::clean;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("no technician identity; run `triage keygen` (looked for {})", .0.display())]
    NoIdentity(PathBuf),
    #[error("not logged in; run `triage login RELAY_TOKEN` (looked for {})", .0.display())]
    NotLoggedIn(PathBuf),
    #[error("a technician identity already exists at {}; run `triage keygen --force` to replace it (an admin will then have to register the new key)", .0.display())]
    IdentityExists(PathBuf),
    #[error("cannot find your home directory; pass --home DIR or set TRIAGE_HOME")]
    NoHomeDir,
    #[error("{} is damaged: {detail}; run `triage keygen --force` for a new key, or restore the file", .path.display())]
    BadKeyFile { path: PathBuf, detail: String },
    #[error("{} is damaged: {detail}; run `triage login RELAY_TOKEN` again", .path.display())]
    BadRelayFile { path: PathBuf, detail: String },
    #[error("cannot {action} {}: {source}", .path.display())]
    File {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0}")]
    BadRelayToken(#[from] triage_shared::token::TokenParseError),
    #[error("your key is not registered with this relay; send your public key ({public_key}, also printed by `triage pubkey`) to an admin, who registers it with `triage technicians add NAME --role ROLE --pubkey FILE`; then log in again")]
    KeyNotRegistered { public_key: String },
    #[error("the relay at {addr} is not the relay you logged in to (its certificate fingerprint differs); ask an admin for a fresh relay token and run `triage login RELAY_TOKEN` again")]
    WrongRelay { addr: String },
    #[error("cannot reach the relay at {addr}: {detail}; check that it is running and that you can reach it")]
    Unreachable { addr: String, detail: String },
    /// The relay refused for lack of a role; its message names the roles that may.
    #[error("not allowed: {0}")]
    Forbidden(String),
    #[error("not found: {0}")]
    NotFound(String),
    /// A ticket transition the state machine does not allow, worded by the relay.
    #[error("{0}")]
    InvalidTransition(String),
    #[error("the relay refused: {0}")]
    Relay(String),
    #[error("`{0}` is not a ticket id; give the full id or at least its first 8 hex digits")]
    BadTicketId(String),
    #[error("`{0}` is not a script id; give the full id or at least its first 8 hex digits (`triage script list TICKET` shows them)")]
    BadScriptId(String),
    #[error("no script on ticket {ticket} has an id starting with `{prefix}`; run `triage script list {ticket}` to see them")]
    NoSuchScript { prefix: String, ticket: String },
    #[error("`{prefix}` matches several scripts ({}); type more of the id", .matches.join(", "))]
    AmbiguousScript {
        prefix: String,
        matches: Vec<String>,
    },
    #[error("cannot attach {}: {problem}", .path.display())]
    ScriptFile { path: PathBuf, problem: String },
    #[error("{0}")]
    WontApprove(#[from] crate::approve::ApproveRefusal),
    /// Something the relay sent does not verify against what this CLI pinned.
    #[error("{0}")]
    Untrusted(String),
    #[error("the agent refused to run the script: {0}")]
    ScriptRefused(String),
    #[error("script exited with code {0}")]
    ScriptFailed(i32),
    #[error("the script timed out after {0} and was stopped with its child processes; raise --timeout when attaching if it needs longer")]
    ScriptTimedOut(String),
    #[error("the script was killed by a signal before it exited")]
    ScriptKilled,
    #[error("the agent disconnected before the script finished; `triage tickets show TICKET` shows what was recorded")]
    AgentDisconnected,
    #[error("lost the connection to the relay while the script ran ({0}); it may still be running, so check `triage tickets show TICKET` later")]
    RunInterrupted(String),
    #[error(
        "{0}; the audit log fails verification: keep a copy (`triage audit --json`) and report it"
    )]
    AuditBroken(triage_shared::audit::ChainBreak),
    #[error("the relay's audit log pages are inconsistent ({0}); the log cannot be verified")]
    AuditPaging(String),
    /// The relay's chain no longer extends the head this CLI remembered.
    #[error("the relay's audit log no longer extends the one you saw: entry {seq} had hash {hash} when this CLI last read the log, but {relay_has}; entries were cut off its end or rewritten. Treat the relay as compromised: keep a copy (`triage audit export -o FILE`), compare with other technicians and report it")]
    AuditRewound {
        seq: u64,
        hash: String,
        relay_has: String,
    },
    #[error("{} is damaged: {detail}; restore it, or delete it to trust the relay's audit log as it is now", .path.display())]
    BadAuditHead { path: PathBuf, detail: String },
    #[error(
        "the relay did not answer {what} within {secs} s; the endpoint may be busy, try again"
    )]
    NoAnswer { what: &'static str, secs: u64 },
    /// A log, screenshot or attachment that did not arrive whole; `aftermath`
    /// says what became of the output (no file is left named as complete).
    #[error("{reason}; {aftermath}")]
    TransferFailed { reason: String, aftermath: String },
    #[error("the endpoint stopped at its limit of {limit} bytes per pull (`max_log_bytes` in its agent.toml); {aftermath}. Narrow the pull with --tail, --since or --grep")]
    LimitReached { limit: u64, aftermath: String },
    #[error("{agent} answered none of {sent} pings; `triage agents list` shows whether it is online, and `triage diag` whether it is overloaded")]
    NoPingReply { agent: String, sent: u32 },
    #[error("the relay answered `{request}` with something unexpected; is it running a matching version of Triage?")]
    UnexpectedResponse { request: &'static str },
    #[error(transparent)]
    Client(ClientError),
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
    #[error("cannot encode JSON: {0}")]
    Json(#[from] serde_json::Error),
}

impl From<triage_shared::text::InvalidInput> for CliError {
    fn from(e: triage_shared::text::InvalidInput) -> Self {
        CliError::InvalidInput(e.to_string())
    }
}

impl From<RemoteError> for CliError {
    /// The relay's message is shown as it is (it says what to do), but with
    /// control characters neutralised since it came from the network.
    fn from(e: RemoteError) -> Self {
        let message = clean(&e.message);
        match e.kind {
            ErrorKind::Forbidden => CliError::Forbidden(message),
            ErrorKind::NotFound => CliError::NotFound(message),
            ErrorKind::InvalidTransition => CliError::InvalidTransition(message),
            _ => CliError::Relay(message),
        }
    }
}

impl From<ClientError> for CliError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::WrongRelay { addr, .. } => CliError::WrongRelay { addr },
            ClientError::Connect { addr, detail } => CliError::Unreachable { addr, detail },
            ClientError::Timeout(addr) => CliError::Unreachable {
                addr,
                detail: "it did not answer in time".into(),
            },
            ClientError::Remote(remote) | ClientError::Refused(remote) => remote.into(),
            other => CliError::Client(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote(kind: ErrorKind, message: &str) -> CliError {
        ClientError::Remote(RemoteError::new(kind, message)).into()
    }

    #[test]
    fn forbidden_shows_the_relays_message_naming_the_role() {
        let e = remote(
            ErrorKind::Forbidden,
            "register_technician needs one of: admin",
        );
        assert!(matches!(e, CliError::Forbidden(_)));
        assert_eq!(
            e.to_string(),
            "not allowed: register_technician needs one of: admin"
        );
    }

    #[test]
    fn invalid_transition_is_the_relays_words() {
        let e = remote(
            ErrorKind::InvalidTransition,
            "cannot start a ticket that is closed; reopen it first",
        );
        assert_eq!(
            e.to_string(),
            "cannot start a ticket that is closed; reopen it first"
        );
    }

    #[test]
    fn not_found_and_other_kinds_keep_the_message() {
        assert_eq!(
            remote(ErrorKind::NotFound, "no ticket 1234").to_string(),
            "not found: no ticket 1234"
        );
        assert_eq!(
            remote(ErrorKind::InvalidInput, "title too long").to_string(),
            "the relay refused: title too long"
        );
    }

    #[test]
    fn remote_messages_cannot_drive_the_terminal() {
        let e = remote(ErrorKind::Internal, "oops\u{1b}[2J");
        assert!(!e.to_string().contains('\u{1b}'));
    }

    #[test]
    fn wrong_relay_says_to_log_in_again_with_a_fresh_token() {
        let e: CliError = ClientError::WrongRelay {
            addr: "r:1".into(),
            detail: "mismatch".into(),
        }
        .into();
        let text = e.to_string();
        assert!(
            text.contains("fresh relay token") && text.contains("triage login"),
            "{text}"
        );
    }

    #[test]
    fn unregistered_key_error_gives_the_key_and_the_admin_command() {
        let text = CliError::KeyNotRegistered {
            public_key: "ed25519:00ff".into(),
        }
        .to_string();
        assert!(
            text.contains("not registered") && text.contains("ed25519:00ff"),
            "{text}"
        );
        assert!(text.contains("triage technicians add"), "{text}");
    }

    #[test]
    fn a_silent_relay_is_reported_as_unreachable_with_what_to_check() {
        let e: CliError = ClientError::Timeout("r:1".into()).into();
        assert_eq!(e.to_string(), "cannot reach the relay at r:1: it did not answer in time; check that it is running and that you can reach it");
    }

    #[test]
    fn home_errors_name_the_command_to_run() {
        assert!(CliError::NoIdentity("/h/identity.key".into())
            .to_string()
            .starts_with("no technician identity; run `triage keygen`"));
        assert!(CliError::NotLoggedIn("/h/relay".into())
            .to_string()
            .starts_with("not logged in; run `triage login RELAY_TOKEN`"));
    }
}
