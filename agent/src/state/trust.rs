//! Whose script approvals this agent trusts: the organisation key pinned at
//! enrollment (`org.pub`) and the policy it signed (`policy.json`).
//!
//! The org key comes from the admin with the enrollment token, never from the
//! relay; only a policy that key signed, with a higher version than the one
//! installed, replaces the installed one. `policy.json` is re-verified every
//! time it is loaded: a file edited on disk is treated as no policy (every run
//! refused) and reported loudly, never trusted.

use super::{read_capped, write_atomic, StateDir};
use crate::error::AgentError;
use triage_shared::approval::{accept_policy, SignedPolicy};
use triage_shared::identity::PublicKey;

pub const ORG_KEY_FILE: &str = "org.pub";
pub const POLICY_FILE: &str = "policy.json";
/// Largest `policy.json` read; [`MAX_APPROVERS`](triage_shared::approval::MAX_APPROVERS)
/// approvers take well under half of it.
pub const MAX_POLICY_FILE_LEN: u64 = 256 * 1024;

/// What `policy.json` holds, after checking it against the pinned org key.
#[derive(Debug, Clone, PartialEq)]
pub enum StoredPolicy {
    Absent,
    Trusted(Box<SignedPolicy>),
    /// Present but not acceptable; the reason names the file and the problem.
    Rejected(String),
}

impl StoredPolicy {
    pub fn trusted(&self) -> Option<&SignedPolicy> {
        match self {
            StoredPolicy::Trusted(p) => Some(p),
            _ => None,
        }
    }
}

/// The answer to an offered policy.
#[derive(Debug, Clone, PartialEq)]
pub enum Offer {
    /// The same policy is already installed; nothing to do.
    Unchanged,
    /// Signed by the org key and newer: install it.
    Install,
}

const NO_ORG_KEY: &str = "this agent was enrolled without an organisation key, so it accepts no approver policy; enroll it again with a token that carries `&org=`";

/// Decides on an offered policy. The error text goes back to the relay verbatim.
pub fn judge_offer(
    org_key: Option<&PublicKey>,
    installed: Option<&SignedPolicy>,
    offered: &SignedPolicy,
) -> Result<Offer, String> {
    let org_key = org_key.ok_or_else(|| NO_ORG_KEY.to_string())?;
    if installed == Some(offered) {
        return Ok(Offer::Unchanged);
    }
    accept_policy(org_key, installed.map(|p| &p.policy), offered)
        .map(|_| Offer::Install)
        .map_err(|e| e.to_string())
}

/// Checks the text of `policy.json` against the pinned org key.
pub fn check_stored(org_key: Option<&PublicKey>, text: &str) -> Result<SignedPolicy, String> {
    let policy: SignedPolicy =
        serde_json::from_str(text).map_err(|e| format!("it is not a signed policy: {e}"))?;
    let org_key = org_key.ok_or_else(|| {
        format!("there is no pinned organisation key ({ORG_KEY_FILE}) to check it against")
    })?;
    accept_policy(org_key, None, &policy).map_err(|e| e.to_string())?;
    Ok(policy)
}

impl StateDir {
    /// The pinned organisation key; `None` for an agent enrolled without one.
    pub fn org_key(&self) -> Result<Option<PublicKey>, AgentError> {
        match self.read(ORG_KEY_FILE)? {
            None => Ok(None),
            Some(text) => {
                text.parse::<PublicKey>()
                    .map(Some)
                    .map_err(|e| AgentError::CorruptState {
                        path: self.file(ORG_KEY_FILE),
                        problem: e.to_string(),
                    })
            }
        }
    }

    /// Pins `key` (or records that there is none) at enrollment.
    pub fn pin_org_key(&self, key: Option<&PublicKey>) -> Result<(), AgentError> {
        match key {
            Some(key) => self.write_atomic(ORG_KEY_FILE, &format!("{key}\n")),
            None => super::files::remove_if_present(self.file(ORG_KEY_FILE)),
        }
    }

    /// Loads `policy.json` and verifies it against `org_key`.
    pub fn stored_policy(&self, org_key: Option<&PublicKey>) -> Result<StoredPolicy, AgentError> {
        let path = self.file(POLICY_FILE);
        let text = match read_capped(&path, MAX_POLICY_FILE_LEN) {
            Ok(None) => return Ok(StoredPolicy::Absent),
            Ok(Some(text)) => text,
            Err(AgentError::CorruptState { problem, .. }) => {
                return Ok(StoredPolicy::Rejected(format!(
                    "{} is {problem}",
                    path.display()
                )))
            }
            Err(e) => return Err(e),
        };
        Ok(match check_stored(org_key, &text) {
            Ok(policy) => StoredPolicy::Trusted(Box::new(policy)),
            Err(problem) => {
                StoredPolicy::Rejected(format!("{} is not trusted: {problem}", path.display()))
            }
        })
    }

    /// Writes an accepted policy (atomically; see [`write_atomic`]).
    pub fn save_policy(&self, policy: &SignedPolicy) -> Result<(), AgentError> {
        let text = serde_json::to_string_pretty(policy).map_err(|e| AgentError::CorruptState {
            path: self.file(POLICY_FILE),
            problem: format!("cannot encode the policy: {e}"),
        })?;
        write_atomic(self.path(), POLICY_FILE, &format!("{text}\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_shared::approval::{OrgPolicy, PolicyError, TrustedApprover};
    use triage_shared::identity::KeyPair;
    use triage_shared::time::Timestamp;

    fn policy(version: u64, org: &KeyPair) -> SignedPolicy {
        OrgPolicy {
            version,
            approvers: vec![TrustedApprover {
                name: "carol".into(),
                key: KeyPair::generate().public_key(),
            }],
            issued_at: Timestamp(0),
        }
        .sign(org)
    }

    #[test]
    fn a_first_policy_signed_by_the_org_key_is_installed() {
        let org = KeyPair::generate();
        let offer = judge_offer(Some(&org.public_key()), None, &policy(1, &org));
        assert_eq!(offer, Ok(Offer::Install));
    }

    #[test]
    fn the_installed_policy_offered_again_is_a_no_op() {
        let org = KeyPair::generate();
        let v1 = policy(1, &org);
        assert_eq!(
            judge_offer(Some(&org.public_key()), Some(&v1), &v1),
            Ok(Offer::Unchanged)
        );
    }

    #[test]
    fn a_lower_or_equal_version_is_refused() {
        let org = KeyPair::generate();
        let v2 = policy(2, &org);
        let err = judge_offer(Some(&org.public_key()), Some(&v2), &policy(1, &org)).unwrap_err();
        assert_eq!(
            err,
            PolicyError::NotNewer {
                offered: 1,
                installed: 2
            }
            .to_string()
        );
        let other_v2 = policy(2, &org);
        assert!(judge_offer(Some(&org.public_key()), Some(&v2), &other_v2).is_err());
    }

    #[test]
    fn a_policy_signed_by_another_key_is_refused() {
        let org = KeyPair::generate();
        let err = judge_offer(
            Some(&org.public_key()),
            None,
            &policy(1, &KeyPair::generate()),
        )
        .unwrap_err();
        assert_eq!(err, PolicyError::BadSignature.to_string());
    }

    #[test]
    fn without_an_org_key_no_policy_is_accepted() {
        let org = KeyPair::generate();
        let err = judge_offer(None, None, &policy(1, &org)).unwrap_err();
        assert!(err.contains("enroll it again"), "{err}");
    }

    #[test]
    fn stored_policies_are_checked_against_the_pinned_key() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = StateDir::new(tmp.path());
        let org = KeyPair::generate();
        let key = org.public_key();
        assert_eq!(dir.stored_policy(Some(&key)).unwrap(), StoredPolicy::Absent);

        let v3 = policy(3, &org);
        dir.save_policy(&v3).unwrap();
        assert_eq!(dir.stored_policy(Some(&key)).unwrap().trusted(), Some(&v3));
        // Checked against another key (or none), the same file is not trusted.
        let other = KeyPair::generate().public_key();
        assert!(matches!(
            dir.stored_policy(Some(&other)).unwrap(),
            StoredPolicy::Rejected(_)
        ));
        assert!(matches!(
            dir.stored_policy(None).unwrap(),
            StoredPolicy::Rejected(_)
        ));
    }

    #[test]
    fn a_policy_file_edited_on_disk_is_rejected_with_its_path() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = StateDir::new(tmp.path());
        let org = KeyPair::generate();
        dir.save_policy(&policy(1, &org)).unwrap();
        let path = tmp.path().join(POLICY_FILE);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("\"version\": 1", "\"version\": 9")).unwrap();
        match dir.stored_policy(Some(&org.public_key())).unwrap() {
            StoredPolicy::Rejected(reason) => {
                assert!(reason.contains("policy.json is not trusted"), "{reason}");
                assert!(
                    reason.contains("not signed by the organisation key"),
                    "{reason}"
                );
            }
            other => panic!("{other:?}"),
        }
        std::fs::write(&path, "{ not json").unwrap();
        assert!(matches!(
            dir.stored_policy(Some(&org.public_key())).unwrap(),
            StoredPolicy::Rejected(_)
        ));
    }

    #[test]
    fn the_org_key_round_trips_and_can_be_unpinned() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = StateDir::new(tmp.path());
        let key = KeyPair::generate().public_key();
        assert_eq!(dir.org_key().unwrap(), None);
        dir.pin_org_key(Some(&key)).unwrap();
        assert_eq!(dir.org_key().unwrap(), Some(key));
        dir.pin_org_key(None).unwrap();
        assert_eq!(dir.org_key().unwrap(), None);
        std::fs::write(tmp.path().join(ORG_KEY_FILE), "ed25519:zz").unwrap();
        assert!(matches!(
            dir.org_key(),
            Err(AgentError::CorruptState { .. })
        ));
    }
}
