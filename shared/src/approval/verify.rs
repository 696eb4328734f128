//! The endpoint's decision on a script run: every rule, in one pure function.

use super::roster::Roster;
use super::{
    Interpreter, ManifestHash, Nonce, ScriptDigest, SignedApproval, SignedScript, MAX_APPROVAL_TTL,
    MAX_CLOCK_SKEW, MAX_SCRIPT_LEN, MAX_SCRIPT_TARGETS, MAX_SCRIPT_TIMEOUT,
};
use crate::ids::{AgentId, TicketId};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// Why an agent refused to run a script. Each reason is reported verbatim to
/// the technician and the audit log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    #[error("script content does not match its signed digest (expected {expected}, got {actual}); it was changed after signing")]
    DigestMismatch {
        expected: ScriptDigest,
        actual: ScriptDigest,
    },
    #[error("the author's signature on the script does not verify")]
    BadAuthorSignature,
    #[error("the approval's signature does not verify")]
    BadApprovalSignature,
    #[error("author `{name}` (key {key}) is not an author on this agent's organisation roster")]
    UnknownAuthor { name: String, key: String },
    #[error(
        "approver `{name}` (key {key}) is not an approver on this agent's organisation roster"
    )]
    UntrustedApprover { name: String, key: String },
    #[error("the script's author may not approve their own script")]
    SelfApproval,
    #[error("the approval is for another script or another version of it (approved {approved}, this is {actual}); it was changed after approval")]
    WrongScript {
        approved: ManifestHash,
        actual: ManifestHash,
    },
    #[error("the script is not signed to run on this agent ({0})")]
    WrongAgent(AgentId),
    #[error("the approval is for ticket {approved}, but the script belongs to ticket {script}")]
    WrongTicket {
        approved: TicketId,
        script: TicketId,
    },
    #[error("the approval expired at {0}")]
    Expired(Timestamp),
    #[error("the approval is valid for longer than the {} days allowed", MAX_APPROVAL_TTL.as_secs() / 86_400)]
    TooLong,
    #[error("this approval (nonce {0}) was already used on this agent")]
    Replayed(Nonce),
    #[error("interpreter {0} is not allowed on this agent")]
    InterpreterNotAllowed(Interpreter),
    #[error("script timeout of {0} s is outside the allowed range")]
    BadTimeout(u64),
    #[error("script is {0} bytes; the limit is {MAX_SCRIPT_LEN}")]
    TooLarge(usize),
    #[error("this agent has no organisation roster yet, so it trusts no author or approver")]
    NoRoster,
    #[error("this agent's organisation roster (version {version}) expired at {expires_at}; no script runs until a newer signed roster arrives")]
    RosterExpired { version: u64, expires_at: Timestamp },
    #[error("the script names {0} target agents; the limit is {MAX_SCRIPT_TARGETS}")]
    TooManyTargets(usize),
}

/// What the agent knows when it decides.
pub struct RunContext<'a> {
    pub agent_id: AgentId,
    /// The agent's clock, never below the highest time it has seen.
    pub now: Timestamp,
    pub roster: Option<&'a Roster>,
    pub allowed_interpreters: &'a [Interpreter],
    pub nonce_used: &'a dyn Fn(&Nonce) -> bool,
}

/// The endpoint's decision. `Ok` means every check passed; the caller must
/// then record the nonce as used *before* starting the script.
pub fn verify_run(
    content: &[u8],
    script: &SignedScript,
    approval: &SignedApproval,
    ctx: &RunContext<'_>,
) -> Result<(), Refusal> {
    let m = &script.manifest;
    let a = &approval.approval;
    if content.len() > MAX_SCRIPT_LEN {
        return Err(Refusal::TooLarge(content.len()));
    }
    let actual = ScriptDigest::of(content);
    if actual != m.digest {
        return Err(Refusal::DigestMismatch {
            expected: m.digest,
            actual,
        });
    }
    let roster = ctx.roster.ok_or(Refusal::NoRoster)?;
    if roster.expired(ctx.now) {
        return Err(Refusal::RosterExpired {
            version: roster.version,
            expires_at: roster.expires_at,
        });
    }
    if !script.signature_valid() {
        return Err(Refusal::BadAuthorSignature);
    }
    let author = roster
        .entry_by_key(&m.author_key)
        .filter(|e| e.name == m.author && e.may_author() && !e.expired(ctx.now))
        .ok_or_else(|| Refusal::UnknownAuthor {
            name: m.author.clone(),
            key: m.author_key.to_string(),
        })?;
    if !approval.signature_valid() {
        return Err(Refusal::BadApprovalSignature);
    }
    if a.approver_key == m.author_key || a.approver == m.author {
        return Err(Refusal::SelfApproval);
    }
    let approver = roster
        .entry_by_key(&a.approver_key)
        .filter(|e| e.name == a.approver && e.may_approve() && !e.expired(ctx.now))
        .ok_or_else(|| Refusal::UntrustedApprover {
            name: a.approver.clone(),
            key: a.approver_key.to_string(),
        })?;
    // Keys are unique in a valid roster; two entries also need two names.
    if approver.name == author.name {
        return Err(Refusal::SelfApproval);
    }
    let hash = script.hash();
    if a.manifest_hash != hash || a.script_id != m.script_id {
        return Err(Refusal::WrongScript {
            approved: a.manifest_hash,
            actual: hash,
        });
    }
    if a.ticket_id != m.ticket_id {
        return Err(Refusal::WrongTicket {
            approved: a.ticket_id,
            script: m.ticket_id,
        });
    }
    if m.targets.len() > MAX_SCRIPT_TARGETS {
        return Err(Refusal::TooManyTargets(m.targets.len()));
    }
    if !m.targets.contains(&ctx.agent_id) {
        return Err(Refusal::WrongAgent(ctx.agent_id));
    }
    if ctx.now >= a.expires_at {
        return Err(Refusal::Expired(a.expires_at));
    }
    // Bounded both as signed and from here, so a future `approved_at` buys nothing.
    if a.lifetime() > MAX_APPROVAL_TTL
        || a.expires_at > ctx.now.plus(MAX_APPROVAL_TTL + MAX_CLOCK_SKEW)
    {
        return Err(Refusal::TooLong);
    }
    if (ctx.nonce_used)(&a.nonce) {
        return Err(Refusal::Replayed(a.nonce));
    }
    if !ctx.allowed_interpreters.contains(&m.interpreter) {
        return Err(Refusal::InterpreterNotAllowed(m.interpreter));
    }
    if m.timeout_secs == 0 || m.timeout_secs > MAX_SCRIPT_TIMEOUT.as_secs() {
        return Err(Refusal::BadTimeout(m.timeout_secs));
    }
    Ok(())
}
