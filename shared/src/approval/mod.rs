//! Signed remediation scripts and two-person approvals, checked by the
//! endpoint itself. The relay only carries these; it holds no key that can
//! make an agent run anything.
//!
//! Chain of trust on an agent:
//! 1. The organisation key is pinned at enrollment from the token the admin
//!    handed over (out of band from the relay).
//! 2. An [`OrgPolicy`] signed by that key lists the approver keys; a newer
//!    policy must be signed by the same key and carry a higher version.
//! 3. A script runs only if its author signed it, a trusted approver who is
//!    not the author signed an approval naming this agent, this ticket and
//!    the script's digest, the approval has not expired, and its nonce was
//!    never used on this agent.
//!
//! Everything here is a pure function; the agent supplies the clock and the
//! set of used nonces.

use crate::identity::{KeyPair, PublicKey, Signature};
use crate::ids::{AgentId, TicketId};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;
use uuid::Uuid;

/// Longest a script may be allowed to run.
pub const MAX_SCRIPT_TIMEOUT: Duration = Duration::from_secs(6 * 3600);
/// Longest an approval may stay valid.
pub const MAX_APPROVAL_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// Largest script body, in bytes (it travels in one frame).
pub const MAX_SCRIPT_LEN: usize = 256 * 1024;
/// Approvers one policy may name.
pub const MAX_APPROVERS: usize = 256;

const SCRIPT_DOMAIN: &[u8] = b"triage/script-manifest/v1\0";
const APPROVAL_DOMAIN: &[u8] = b"triage/script-approval/v1\0";
const POLICY_DOMAIN: &[u8] = b"triage/org-policy/v1\0";

/// SHA-256 of a script's exact bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct ScriptDigest(pub [u8; 32]);

impl ScriptDigest {
    pub fn of(content: &[u8]) -> Self {
        ScriptDigest(Sha256::digest(content).into())
    }
}

impl fmt::Display for ScriptDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", hex::encode(self.0))
    }
}

impl fmt::Debug for ScriptDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl From<ScriptDigest> for String {
    fn from(d: ScriptDigest) -> String {
        d.to_string()
    }
}

impl TryFrom<String> for ScriptDigest {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let mut d = [0u8; 32];
        hex::decode_to_slice(s.trim().trim_start_matches("sha256:"), &mut d)
            .map_err(|_| "script digest must be sha256: and 64 hex digits".to_string())?;
        Ok(ScriptDigest(d))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ScriptId(pub Uuid);

impl ScriptId {
    pub fn new_random() -> Self {
        ScriptId(Uuid::new_v4())
    }
}

impl fmt::Display for ScriptId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for ScriptId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Uuid::parse_str(s.trim())
            .map(ScriptId)
            .map_err(|_| format!("`{s}` is not a valid script id (expected a UUID)"))
    }
}

/// Interpreters an agent may start. Arguments are never interpolated into a
/// shell string: the script is written to a file and passed as one argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interpreter {
    Sh,
    Bash,
    Powershell,
    Python,
}

impl Interpreter {
    pub const ALL: [Interpreter; 4] = [
        Interpreter::Sh,
        Interpreter::Bash,
        Interpreter::Powershell,
        Interpreter::Python,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Interpreter::Sh => "sh",
            Interpreter::Bash => "bash",
            Interpreter::Powershell => "powershell",
            Interpreter::Python => "python",
        }
    }
}

impl fmt::Display for Interpreter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Interpreter {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim().to_ascii_lowercase();
        Interpreter::ALL
            .into_iter()
            .find(|i| i.as_str() == s)
            .ok_or_else(|| {
                format!("interpreter `{s}` is not allowed; use sh, bash, powershell or python")
            })
    }
}

/// What the author signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptManifest {
    pub script_id: ScriptId,
    pub ticket_id: TicketId,
    pub digest: ScriptDigest,
    pub interpreter: Interpreter,
    pub timeout_secs: u64,
    pub author: String,
    pub author_key: PublicKey,
    pub description: String,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedScript {
    pub manifest: ScriptManifest,
    pub signature: Signature,
}

/// A single-use random value in each approval, so it runs at most once per agent.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Nonce(pub [u8; 16]);

impl Nonce {
    pub fn generate() -> Self {
        use rand::RngCore;
        let mut n = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut n);
        Nonce(n)
    }
}

impl fmt::Display for Nonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Nonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Nonce({self})")
    }
}

impl From<Nonce> for String {
    fn from(n: Nonce) -> String {
        n.to_string()
    }
}

impl TryFrom<String> for Nonce {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let mut n = [0u8; 16];
        hex::decode_to_slice(s.trim(), &mut n)
            .map_err(|_| "nonce must be 32 hex digits".to_string())?;
        Ok(Nonce(n))
    }
}

/// What an approver signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub script_id: ScriptId,
    pub digest: ScriptDigest,
    pub ticket_id: TicketId,
    pub agent_id: AgentId,
    pub expires_at: Timestamp,
    pub nonce: Nonce,
    pub approver: String,
    pub approver_key: PublicKey,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedApproval {
    pub approval: Approval,
    pub signature: Signature,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustedApprover {
    pub name: String,
    pub key: PublicKey,
}

/// The organisation's word on who may approve scripts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgPolicy {
    pub version: u64,
    pub approvers: Vec<TrustedApprover>,
    pub issued_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedPolicy {
    pub policy: OrgPolicy,
    pub signature: Signature,
}

fn signed_bytes<T: Serialize>(domain: &[u8], value: &T) -> Vec<u8> {
    let mut bytes = domain.to_vec();
    // Encoding plain structs into a Vec cannot fail; an empty body would only
    // make every signature check fail, never pass.
    let _ = bincode::serde::encode_into_std_write(value, &mut bytes, bincode::config::standard());
    bytes
}

impl ScriptManifest {
    pub fn sign(self, author: &KeyPair) -> SignedScript {
        let signature = author.sign(&signed_bytes(SCRIPT_DOMAIN, &self));
        SignedScript {
            manifest: self,
            signature,
        }
    }
}

impl SignedScript {
    pub fn signature_valid(&self) -> bool {
        self.manifest.author_key.verify(
            &signed_bytes(SCRIPT_DOMAIN, &self.manifest),
            &self.signature,
        )
    }
}

impl Approval {
    pub fn sign(self, approver: &KeyPair) -> SignedApproval {
        let signature = approver.sign(&signed_bytes(APPROVAL_DOMAIN, &self));
        SignedApproval {
            approval: self,
            signature,
        }
    }
}

impl SignedApproval {
    pub fn signature_valid(&self) -> bool {
        self.approval.approver_key.verify(
            &signed_bytes(APPROVAL_DOMAIN, &self.approval),
            &self.signature,
        )
    }
}

impl OrgPolicy {
    pub fn sign(self, org: &KeyPair) -> SignedPolicy {
        let signature = org.sign(&signed_bytes(POLICY_DOMAIN, &self));
        SignedPolicy {
            policy: self,
            signature,
        }
    }

    pub fn trusts(&self, key: &PublicKey) -> bool {
        self.approvers.iter().any(|a| &a.key == key)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("policy is not signed by the organisation key this agent trusts")]
    BadSignature,
    #[error("policy version {offered} is not newer than the installed version {installed}")]
    NotNewer { offered: u64, installed: u64 },
    #[error("policy names {0} approvers; the limit is {MAX_APPROVERS}")]
    TooManyApprovers(usize),
}

/// Accepts `offered` only if the organisation key signed it and it is newer
/// than what is installed.
pub fn accept_policy(
    org_key: &PublicKey,
    installed: Option<&OrgPolicy>,
    offered: &SignedPolicy,
) -> Result<OrgPolicy, PolicyError> {
    if !org_key.verify(
        &signed_bytes(POLICY_DOMAIN, &offered.policy),
        &offered.signature,
    ) {
        return Err(PolicyError::BadSignature);
    }
    if offered.policy.approvers.len() > MAX_APPROVERS {
        return Err(PolicyError::TooManyApprovers(
            offered.policy.approvers.len(),
        ));
    }
    if let Some(current) = installed {
        if offered.policy.version <= current.version {
            return Err(PolicyError::NotNewer {
                offered: offered.policy.version,
                installed: current.version,
            });
        }
    }
    Ok(offered.policy.clone())
}

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
    #[error("approver {0} is not a trusted approver in this agent's organisation policy")]
    UntrustedApprover(String),
    #[error("the script's author may not approve their own script")]
    SelfApproval,
    #[error("the approval is for another script")]
    WrongScript,
    #[error("the approval is for agent {0}, not this agent")]
    WrongAgent(AgentId),
    #[error("the approval is for ticket {approved}, but the script belongs to ticket {script}")]
    WrongTicket {
        approved: TicketId,
        script: TicketId,
    },
    #[error("the approval expired at {0}")]
    Expired(Timestamp),
    #[error("this approval (nonce {0}) was already used on this agent")]
    Replayed(Nonce),
    #[error("interpreter {0} is not allowed on this agent")]
    InterpreterNotAllowed(Interpreter),
    #[error("script timeout of {0} s is outside the allowed range")]
    BadTimeout(u64),
    #[error("script is {0} bytes; the limit is {MAX_SCRIPT_LEN}")]
    TooLarge(usize),
    #[error("this agent has no organisation policy yet, so it trusts no approver")]
    NoPolicy,
}

/// What the agent knows when it decides.
pub struct RunContext<'a> {
    pub agent_id: AgentId,
    pub now: Timestamp,
    pub policy: Option<&'a OrgPolicy>,
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
    if !script.signature_valid() {
        return Err(Refusal::BadAuthorSignature);
    }
    let policy = ctx.policy.ok_or(Refusal::NoPolicy)?;
    if !approval.signature_valid() {
        return Err(Refusal::BadApprovalSignature);
    }
    if !policy.trusts(&a.approver_key) {
        return Err(Refusal::UntrustedApprover(a.approver_key.to_string()));
    }
    if a.approver_key == m.author_key || a.approver == m.author {
        return Err(Refusal::SelfApproval);
    }
    if a.script_id != m.script_id || a.digest != m.digest {
        return Err(Refusal::WrongScript);
    }
    if a.agent_id != ctx.agent_id {
        return Err(Refusal::WrongAgent(a.agent_id));
    }
    if a.ticket_id != m.ticket_id {
        return Err(Refusal::WrongTicket {
            approved: a.ticket_id,
            script: m.ticket_id,
        });
    }
    if ctx.now >= a.expires_at {
        return Err(Refusal::Expired(a.expires_at));
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

#[cfg(test)]
mod tests;
