//! **Pure**: what the relay checks before it stores a script or an
//! approval, and how a finished run is summarised on the ticket.
//!
//! The agent repeats every check that matters for safety
//! (`triage_shared::approval::verify_run`); the relay checks early so that
//! a technician hears about a mistake when they make it, not when the
//! script is refused on the endpoint. A relay check never replaces the
//! agent's.

use std::time::Duration;
use triage_shared::approval::{
    ScriptDigest, SignedApproval, SignedScript, MAX_APPROVAL_TTL, MAX_SCRIPT_LEN,
    MAX_SCRIPT_TARGETS, MAX_SCRIPT_TIMEOUT,
};
use triage_shared::error::{ErrorKind, RemoteError};
use triage_shared::identity::PublicKey;
use triage_shared::limits::MAX_TEXT_LEN;
use triage_shared::remote::{RunOutcome, MAX_SCRIPT_OUTPUT};
use triage_shared::text::{check_text, truncate_at_char_boundary};
use triage_shared::time::Timestamp;
use triage_shared::{AgentId, TicketId};

/// How far an approver's clock may run ahead of the relay's when they set
/// an expiry at the very limit.
pub const CLOCK_SKEW_ALLOWANCE: Duration = Duration::from_secs(5 * 60);

/// The technician on the other end of the session.
#[derive(Debug, Clone, Copy)]
pub struct Signer<'a> {
    pub name: &'a str,
    pub key: &'a PublicKey,
}

fn refuse(kind: ErrorKind, message: impl Into<String>) -> Result<(), RemoteError> {
    Err(RemoteError::new(kind, message))
}

/// Checks a script a technician wants to attach.
pub fn check_attach(
    script: &SignedScript,
    content: &[u8],
    ticket_agent: AgentId,
    session: Signer<'_>,
) -> Result<(), RemoteError> {
    let m = &script.manifest;
    if m.author != session.name || &m.author_key != session.key {
        return refuse(
            ErrorKind::Forbidden,
            format!(
                "the script is signed as `{}` with key {}, but you are `{}`; you can only attach scripts you signed yourself",
                m.author, m.author_key, session.name
            ),
        );
    }
    if content.len() > MAX_SCRIPT_LEN {
        return refuse(
            ErrorKind::InvalidInput,
            format!(
                "the script is {} bytes; the limit is {MAX_SCRIPT_LEN}",
                content.len()
            ),
        );
    }
    let actual = ScriptDigest::of(content);
    if actual != m.digest {
        return refuse(
            ErrorKind::InvalidInput,
            format!(
                "the script's content hashes to {actual}, but its manifest says {}; sign the file again",
                m.digest
            ),
        );
    }
    if !script.signature_valid() {
        return refuse(
            ErrorKind::InvalidInput,
            "the author's signature on the script does not verify; sign it again with your key",
        );
    }
    let max = MAX_SCRIPT_TIMEOUT.as_secs();
    if !(1..=max).contains(&m.timeout_secs) {
        return refuse(
            ErrorKind::InvalidInput,
            format!(
                "timeout: {} s is out of range; a script may run 1 s to {} h",
                m.timeout_secs,
                max / 3600
            ),
        );
    }
    check_text("description", &m.description, MAX_TEXT_LEN, true)?;
    if m.targets.is_empty() || m.targets.len() > MAX_SCRIPT_TARGETS {
        return refuse(
            ErrorKind::InvalidInput,
            format!(
                "the script names {} target agents; it must name 1 to {MAX_SCRIPT_TARGETS}",
                m.targets.len()
            ),
        );
    }
    if !m.targets.contains(&ticket_agent) {
        return refuse(
            ErrorKind::InvalidInput,
            format!(
                "the script is signed for other agents than {ticket_agent}, the agent of ticket {}; attach it again",
                m.ticket_id
            ),
        );
    }
    Ok(())
}

/// What the approval must match: the stored script and the ticket's agent.
#[derive(Debug, Clone, Copy)]
pub struct ApprovalTarget<'a> {
    pub ticket: TicketId,
    pub agent: AgentId,
    pub script: &'a SignedScript,
}

/// Checks an approval an approver wants to record.
pub fn check_approval(
    approval: &SignedApproval,
    target: ApprovalTarget<'_>,
    session: Signer<'_>,
    now: Timestamp,
) -> Result<(), RemoteError> {
    let a = &approval.approval;
    let m = &target.script.manifest;
    if a.approver != session.name || &a.approver_key != session.key {
        return refuse(
            ErrorKind::Forbidden,
            format!(
                "the approval is signed as `{}` with key {}, but you are `{}`; you can only record your own approvals",
                a.approver, a.approver_key, session.name
            ),
        );
    }
    if a.approver == m.author || a.approver_key == m.author_key {
        return refuse(
            ErrorKind::Forbidden,
            format!(
                "`{}` wrote this script and may not approve it; another approver must review it",
                m.author
            ),
        );
    }
    if a.ticket_id != target.ticket || m.ticket_id != target.ticket {
        return refuse(
            ErrorKind::InvalidInput,
            format!(
                "the approval is for ticket {}, but the script belongs to ticket {}",
                a.ticket_id, m.ticket_id
            ),
        );
    }
    let stored = target.script.hash();
    if a.script_id != m.script_id || a.manifest_hash != stored {
        return refuse(
            ErrorKind::InvalidInput,
            format!(
                "the approval is for script {} with manifest {}, but the stored script is {} with manifest {}; review `triage script show` and approve again",
                a.script_id, a.manifest_hash, m.script_id, stored
            ),
        );
    }
    if !m.targets.contains(&target.agent) {
        return refuse(
            ErrorKind::InvalidInput,
            format!(
                "the script is not signed to run on agent {}, the agent of ticket {}",
                target.agent, target.ticket
            ),
        );
    }
    if a.lifetime() > MAX_APPROVAL_TTL {
        return refuse(
            ErrorKind::InvalidInput,
            format!(
                "the approval is signed to last longer than {} days",
                MAX_APPROVAL_TTL.as_secs() / 86_400
            ),
        );
    }
    if a.expires_at <= now {
        return refuse(
            ErrorKind::InvalidInput,
            format!("the approval expired at {}; approve again", a.expires_at),
        );
    }
    let latest = now.plus(MAX_APPROVAL_TTL + CLOCK_SKEW_ALLOWANCE);
    if a.expires_at > latest {
        return refuse(
            ErrorKind::InvalidInput,
            format!(
                "the approval expires at {}; an approval may last at most {} days",
                a.expires_at,
                MAX_APPROVAL_TTL.as_secs() / 86_400
            ),
        );
    }
    if !approval.signature_valid() {
        return refuse(
            ErrorKind::InvalidInput,
            "the approver's signature does not verify; approve again with your key",
        );
    }
    Ok(())
}

/// Keeps the first [`MAX_SCRIPT_OUTPUT`] bytes of a run's output and counts
/// the rest.
#[derive(Debug, Default)]
pub struct OutputKeeper {
    kept: Vec<u8>,
    dropped: u64,
}

impl OutputKeeper {
    /// Keeps what fits of `data`; returns the part kept (to forward).
    pub fn keep<'d>(&mut self, data: &'d [u8]) -> &'d [u8] {
        let room = MAX_SCRIPT_OUTPUT - self.kept.len();
        let take = data.len().min(room);
        self.kept.extend_from_slice(&data[..take]);
        self.dropped += (data.len() - take) as u64;
        &data[..take]
    }

    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The kept output as text a database TEXT column takes: lossy UTF-8,
    /// NUL replaced (PostgreSQL refuses it), at most [`MAX_SCRIPT_OUTPUT`] bytes.
    pub fn into_text(self) -> String {
        let mut text = String::from_utf8_lossy(&self.kept).replace('\0', "\u{FFFD}");
        truncate_at_char_boundary(&mut text, MAX_SCRIPT_OUTPUT);
        text
    }
}

/// The comment a finished run leaves on its ticket.
pub fn outcome_comment(script: &str, outcome: &RunOutcome) -> String {
    let secs = outcome.duration_ms as f64 / 1000.0;
    let mut text = match (outcome.timed_out, outcome.exit_code) {
        (true, _) => format!("Script {script} timed out after {secs:.1} s and was killed"),
        (false, Some(code)) => format!("Script {script} exited {code} in {secs:.1} s"),
        (false, None) => format!("Script {script} was killed by a signal after {secs:.1} s"),
    };
    if outcome.truncated {
        text.push_str(&format!(
            "; output was {} bytes, only the first {MAX_SCRIPT_OUTPUT} were kept",
            outcome.output_bytes
        ));
    }
    text
}

/// The audit outcome of a finished run.
pub fn outcome_audit(outcome: &RunOutcome) -> String {
    match (outcome.timed_out, outcome.exit_code) {
        (true, _) => "timed out (killed)".into(),
        (false, Some(code)) => format!("exit {code}"),
        (false, None) => "killed by a signal".into(),
    }
}

#[cfg(test)]
#[path = "scripts_tests.rs"]
mod tests;
