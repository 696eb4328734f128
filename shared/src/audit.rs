//! The relay's audit log: an append-only list of security-relevant acts in
//! which each entry carries the hash of its predecessor, so editing,
//! removing or reordering any entry breaks the chain from there on.
//! Hashing and verification are pure functions shared by the relay and the
//! CLI (`triage audit verify` recomputes the chain itself).

use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// 1, 2, 3, … without gaps.
    pub seq: u64,
    pub at: Timestamp,
    /// Who acted: `technician:NAME`, `agent:ID`, `relay-admin`, …
    pub actor: String,
    /// What was done, e.g. `enroll`, `script.run`.
    pub action: String,
    /// What it was done to, e.g. a ticket or agent id.
    pub target: String,
    /// `ok`, or why it was refused or failed.
    pub outcome: String,
    /// Further facts as JSON text (kept as text so hashing is stable).
    pub details: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The hash an entry must carry, given its fields and its predecessor's hash.
pub fn entry_hash(entry: &AuditEntry) -> String {
    let mut h = Sha256::new();
    // Length-prefix every field so no two different entries hash the same text.
    for field in [
        entry.seq.to_string().as_str(),
        entry.at.millis().to_string().as_str(),
        &entry.actor,
        &entry.action,
        &entry.target,
        &entry.outcome,
        &entry.details,
        &entry.prev_hash,
    ] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Fills in `seq`, `prev_hash` and `hash` for a new entry after `last`.
pub fn chain_after(last: Option<&AuditEntry>, mut entry: AuditEntry) -> AuditEntry {
    entry.seq = last.map_or(1, |l| l.seq + 1);
    entry.prev_hash = last.map_or_else(|| GENESIS_HASH.to_string(), |l| l.hash.clone());
    entry.hash = entry_hash(&entry);
    entry
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("audit entry {seq} is not intact: {problem}")]
pub struct ChainBreak {
    pub seq: u64,
    pub problem: String,
}

/// Checks entries one at a time from the first, carrying the last good one,
/// so a long log can be verified page by page.
#[derive(Debug, Default)]
pub struct ChainVerifier {
    last: Option<AuditEntry>,
    count: u64,
}

impl ChainVerifier {
    pub fn push(&mut self, e: AuditEntry) -> Result<(), ChainBreak> {
        let expected_seq = self.last.as_ref().map_or(1, |p| p.seq + 1);
        let expected_prev = self.last.as_ref().map_or(GENESIS_HASH, |p| p.hash.as_str());
        let problem = if e.seq != expected_seq {
            Some(format!(
                "expected entry {expected_seq} here; entries are missing or reordered"
            ))
        } else if e.prev_hash != expected_prev {
            Some("its link to the previous entry does not match".to_string())
        } else if entry_hash(&e) != e.hash {
            Some("its contents were changed after it was written".to_string())
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(ChainBreak {
                seq: e.seq,
                problem,
            });
        }
        self.count += 1;
        self.last = Some(e);
        Ok(())
    }

    /// Entries verified so far.
    pub fn count(&self) -> u64 {
        self.count
    }
}

/// Checks a whole chain from its first entry; names the first bad entry.
pub fn verify_chain(entries: &[AuditEntry]) -> Result<(), ChainBreak> {
    let mut verifier = ChainVerifier::default();
    entries.iter().try_for_each(|e| verifier.push(e.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(action: &str) -> AuditEntry {
        AuditEntry {
            seq: 0,
            at: Timestamp(1),
            actor: "technician:alice".into(),
            action: action.into(),
            target: "ticket:1".into(),
            outcome: "ok".into(),
            details: "{}".into(),
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    fn chain(n: usize) -> Vec<AuditEntry> {
        let mut out: Vec<AuditEntry> = Vec::new();
        for i in 0..n {
            let next = chain_after(out.last(), entry(&format!("act{i}")));
            out.push(next);
        }
        out
    }

    #[test]
    fn an_intact_chain_verifies() {
        assert_eq!(verify_chain(&chain(5)), Ok(()));
        assert_eq!(verify_chain(&[]), Ok(()));
    }

    #[test]
    fn an_edited_entry_is_named() {
        let mut c = chain(5);
        c[2].outcome = "refused".into();
        assert_eq!(verify_chain(&c).unwrap_err().seq, 3);
    }

    #[test]
    fn an_edit_that_rehashes_the_entry_breaks_the_next_link() {
        let mut c = chain(5);
        c[2].details = "{\"forged\":true}".into();
        c[2].hash = entry_hash(&c[2]);
        assert_eq!(verify_chain(&c).unwrap_err().seq, 4);
    }

    #[test]
    fn a_removed_entry_is_detected() {
        let mut c = chain(5);
        c.remove(1);
        assert_eq!(verify_chain(&c).unwrap_err().seq, 3);
    }

    #[test]
    fn fields_cannot_be_shifted_between_each_other() {
        let mut a = entry("ab");
        a.target = "c".into();
        let mut b = entry("a");
        b.target = "bc".into();
        assert_ne!(entry_hash(&a), entry_hash(&b));
    }
}
