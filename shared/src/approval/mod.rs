//! Signed remediation scripts and two-person approvals, checked by the
//! endpoint itself. The relay only carries these; it holds no key that can
//! make an agent run anything.
//!
//! Chain of trust on an agent:
//! 1. The organisation key is pinned at enrollment from the token the admin
//!    handed over (out of band from the relay); it changes only through a
//!    rotation statement it signed ([`roster::accept_rotation`]).
//! 2. A [`roster::Roster`] signed by that key names every author and every
//!    approver by name, role and key; a newer roster must be signed by the
//!    same key, carry a higher version than any seen, and be unexpired.
//! 3. A script runs only if an author on the roster signed its manifest
//!    (content digest, interpreter, timeout, description, ticket, target
//!    agents), a *different* approver on the roster signed an approval over
//!    the hash of that whole signed manifest, the approval has not expired
//!    and is not longer than [`MAX_APPROVAL_TTL`], and its nonce was never
//!    used on this agent ([`verify_run`]).
//!
//! Everything here is a pure function; the agent supplies the clock and the
//! set of used nonces.

pub mod roster;
mod verify;

use crate::identity::{KeyPair, PublicKey, Signature};
use crate::ids::{AgentId, TicketId};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;
use uuid::Uuid;

pub use roster::{Roster, RosterEntry, SignedRoster};
pub use verify::{verify_run, Refusal, RunContext};

/// Longest a script may be allowed to run.
pub const MAX_SCRIPT_TIMEOUT: Duration = Duration::from_secs(6 * 3600);
/// Longest an approval may stay valid.
pub const MAX_APPROVAL_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// How far the approver's clock may be ahead of the endpoint's.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);
/// Largest script body, in bytes (it travels in one frame).
pub const MAX_SCRIPT_LEN: usize = 256 * 1024;
/// Endpoints one script may target.
pub const MAX_SCRIPT_TARGETS: usize = 1000;

const SCRIPT_DOMAIN: &[u8] = b"triage/script-manifest/v2\0";
const MANIFEST_HASH_DOMAIN: &[u8] = b"triage/signed-manifest-hash/v2\0";
const APPROVAL_DOMAIN: &[u8] = b"triage/script-approval/v2\0";

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

/// What the author signs. Every field reaches the endpoint as signed.
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
    /// The endpoints it may run on (1 to [`MAX_SCRIPT_TARGETS`]).
    pub targets: Vec<AgentId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedScript {
    pub manifest: ScriptManifest,
    pub signature: Signature,
}

/// SHA-256 over a whole author-signed manifest, signature included: what an
/// approval covers. Any change to any field after approval changes it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct ManifestHash(pub [u8; 32]);

impl fmt::Display for ManifestHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", hex::encode(self.0))
    }
}

impl fmt::Debug for ManifestHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl From<ManifestHash> for String {
    fn from(d: ManifestHash) -> String {
        d.to_string()
    }
}

impl TryFrom<String> for ManifestHash {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        ScriptDigest::try_from(s)
            .map(|d| ManifestHash(d.0))
            .map_err(|_| "manifest hash must be sha256: and 64 hex digits".to_string())
    }
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

/// What an approver signs: one whole signed manifest, until `expires_at`, once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub manifest_hash: ManifestHash,
    /// Copies of manifest fields, so the relay can file the approval; the
    /// endpoint checks them against the manifest as well.
    pub script_id: ScriptId,
    pub ticket_id: TicketId,
    pub approved_at: Timestamp,
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

    /// What an approval of this exact signed manifest names.
    pub fn hash(&self) -> ManifestHash {
        ManifestHash(Sha256::digest(signed_bytes(MANIFEST_HASH_DOMAIN, self)).into())
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

    /// How long it was signed to last.
    pub fn lifetime(&self) -> Duration {
        self.expires_at.since(self.approved_at)
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

#[cfg(test)]
mod tests;
