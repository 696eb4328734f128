//! What the relay writes to its audit log, and how the chain is checked.
//!
//! Acts on an endpoint (script runs, log pulls, screenshots, diagnostics)
//! first write an intent entry through [`record_intent`], which fails: an
//! act whose intent cannot be written is refused ([`audit_unavailable`])
//! before the agent is asked, so a relay killed mid-act still left its
//! trace. Outcomes (and everything else) are appended through [`record`],
//! which never fails the act it describes: a storage error is logged loudly
//! instead. Checking is [`verify`]: it walks the whole table in pages and
//! names the first entry that does not chain.

use crate::store::{Store, StoreError};
use serde_json::Value;
use triage_shared::audit::{AuditEntry, ChainBreak, ChainVerifier};
use triage_shared::error::RemoteError;
use triage_shared::identity::PublicKey;
use triage_shared::text::{clean, truncate_at_char_boundary};
use triage_shared::time::Timestamp;

/// Longest actor, target or outcome text kept in an entry, in bytes.
pub const MAX_AUDIT_TEXT: usize = 1024;
/// Entries read per page while verifying.
pub const VERIFY_PAGE: usize = 1000;

/// The actor for acts done on the relay host (offline commands, `RelayHandle`).
pub const LOCAL_ADMIN_ACTOR: &str = "relay-admin";

pub fn technician_actor(name: &str) -> String {
    format!("technician:{name}")
}

pub fn agent_actor(id: triage_shared::AgentId) -> String {
    format!("agent:{id}")
}

pub fn key_actor(key: &PublicKey) -> String {
    format!("key:{key}")
}

/// What an audited request is about, decided before it runs so that a
/// refusal is recorded just like a success (`server::route` gives each
/// request's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub action: &'static str,
    pub target: String,
}

/// The outcome text for a refusal.
pub fn refused(e: &RemoteError) -> String {
    format!("refused: {}", e.message)
}

/// Shortens and cleans text from elsewhere (a refusal from an agent, a
/// hostname) so that an entry stays small and prints safely.
pub fn bounded(text: &str) -> String {
    let mut s = clean(text);
    if truncate_at_char_boundary(&mut s, MAX_AUDIT_TEXT) {
        s.push('…');
    }
    s
}

/// The outcome of an intent entry, written before the act.
pub const INTENT: &str = "started";

fn new_entry(actor: &str, action: &str, target: &str, outcome: &str, details: Value) -> AuditEntry {
    AuditEntry {
        seq: 0,
        at: Timestamp::now(),
        actor: bounded(actor),
        action: action.to_string(),
        target: bounded(target),
        outcome: bounded(outcome),
        details: details.to_string(),
        prev_hash: String::new(),
        hash: String::new(),
    }
}

/// Appends the intent entry of an act (outcome [`INTENT`]) and returns its
/// `seq`, which the outcome entry names as `intent_seq`. The caller must
/// not go ahead when this fails.
pub async fn record_intent(
    store: &Store,
    actor: &str,
    action: &str,
    target: &str,
    details: Value,
) -> Result<u64, StoreError> {
    let entry = new_entry(actor, action, target, INTENT, details);
    let started = std::time::Instant::now();
    let appended = store.append_audit(entry).await;
    store
        .metrics()
        .audit_append(appended.is_ok(), started.elapsed());
    match appended {
        Ok(stored) => Ok(stored.seq),
        Err(e) => {
            tracing::error!(error = %e, action, target, "could not append the intent to the audit log; the act is refused");
            Err(e)
        }
    }
}

/// What the technician hears when the intent entry could not be written.
pub fn audit_unavailable(act: &str) -> RemoteError {
    RemoteError::new(
        triage_shared::error::ErrorKind::Unavailable,
        format!(
            "the relay's audit log is unavailable, so it refused to {act}; nothing was sent to the agent. \
             Tell the relay admin (check the relay's database and its disk), then try again"
        ),
    )
}

/// Appends one entry. A failure to append is logged, not returned.
pub async fn record(
    store: &Store,
    actor: &str,
    action: &str,
    target: &str,
    outcome: &str,
    details: Value,
) {
    let entry = new_entry(actor, action, target, outcome, details);
    let started = std::time::Instant::now();
    let appended = store.append_audit(entry).await;
    store
        .metrics()
        .audit_append(appended.is_ok(), started.elapsed());
    if let Err(e) = appended {
        tracing::error!(error = %e, action, target, outcome, "could not append to the audit log");
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Broken(#[from] ChainBreak),
    #[error("cannot read the audit log: {0}")]
    Store(#[from] StoreError),
}

/// Verifies the whole stored chain; returns how many entries it holds.
pub async fn verify(store: &Store) -> Result<u64, VerifyError> {
    let mut verifier = ChainVerifier::default();
    let mut after = 0u64;
    loop {
        let page = store.audit_entries(after, None, VERIFY_PAGE).await?;
        let Some(last) = page.last() else {
            return Ok(verifier.count());
        };
        after = last.seq;
        for e in page {
            verifier.push(e)?;
        }
    }
}

/// The longest prefix of `entries` whose encoded size fits in `budget`
/// (but at least one entry, so paging always moves on), so a page always
/// fits in one frame; the caller asks again from the last `seq` it got.
pub fn fit_page(entries: Vec<AuditEntry>, budget: usize) -> Vec<AuditEntry> {
    let mut used = 0usize;
    let mut keep = 0usize;
    for e in &entries {
        let size = triage_shared::codec::encode(e).map_or(usize::MAX, |f| f.len());
        if keep > 0 && used.saturating_add(size) > budget {
            break;
        }
        used += size;
        keep += 1;
    }
    entries.into_iter().take(keep).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_shared::audit::{chain_after, entry_hash};

    fn entry(action: &str) -> AuditEntry {
        AuditEntry {
            seq: 0,
            at: Timestamp(7),
            actor: "technician:bob".into(),
            action: action.into(),
            target: "script:1".into(),
            outcome: "ok".into(),
            details: "{}".into(),
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    fn chain(n: usize) -> Vec<AuditEntry> {
        let mut out: Vec<AuditEntry> = Vec::new();
        for i in 0..n {
            let next = chain_after(out.last(), entry(&format!("a{i}")));
            out.push(next);
        }
        out
    }

    fn verify_all(entries: Vec<AuditEntry>) -> Result<u64, ChainBreak> {
        let mut v = ChainVerifier::default();
        for e in entries {
            v.push(e)?;
        }
        Ok(v.count())
    }

    #[test]
    fn an_intact_chain_verifies_entry_by_entry() {
        assert_eq!(verify_all(chain(4)), Ok(4));
        assert_eq!(verify_all(Vec::new()), Ok(0));
    }

    #[test]
    fn a_tampered_entry_is_named() {
        let mut c = chain(4);
        c[1].outcome = "refused: nothing to see".into();
        let err = verify_all(c).unwrap_err();
        assert_eq!(err.seq, 2);
        assert!(err.problem.contains("changed"), "{}", err.problem);
    }

    #[test]
    fn a_rehashed_forgery_breaks_the_next_link_and_a_gap_is_named() {
        let mut c = chain(4);
        c[1].details = "{\"forged\":1}".into();
        c[1].hash = entry_hash(&c[1]);
        assert_eq!(verify_all(c.clone()).unwrap_err().seq, 3);
        let mut gap = chain(4);
        gap.remove(2);
        let err = verify_all(gap).unwrap_err();
        assert_eq!(err.seq, 4);
        assert!(err.problem.contains("missing"), "{}", err.problem);
    }

    #[test]
    fn outside_text_is_cleaned_and_bounded() {
        assert_eq!(bounded("a\u{1b}[2Jb"), "a?[2Jb");
        let long = bounded(&"é".repeat(MAX_AUDIT_TEXT));
        assert!(long.len() <= MAX_AUDIT_TEXT + '…'.len_utf8());
        assert!(long.ends_with('…'));
    }

    #[test]
    fn a_page_is_cut_to_fit_the_budget() {
        let c = chain(5);
        let one = triage_shared::codec::encode(&c[0]).unwrap().len();
        assert_eq!(fit_page(c.clone(), one * 2 + one / 2).len(), 2);
        assert_eq!(fit_page(c.clone(), usize::MAX).len(), 5);
        assert_eq!(fit_page(c, 1).len(), 1);
    }
}
