//! `triage-agent status`: what the state directory says about this agent.

use crate::error::AgentError;
use crate::state::trust::StoredRoster;
use crate::state::StateDir;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use triage_shared::AgentId;

/// The stable `--json` shape of `triage-agent status`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentStatus {
    pub state_dir: PathBuf,
    pub enrolled: bool,
    pub agent_id: Option<AgentId>,
    /// The full relay locator (`triage://HOST:PORT?fp=...`).
    pub relay: Option<String>,
    pub relay_address: Option<String>,
    /// This agent's public key; present after (or during) enrollment.
    pub public_key: Option<String>,
    /// The organisation key pinned at enrollment; `None`: no script ever runs.
    pub org_key: Option<String>,
    /// The version of the installed, verified roster.
    pub roster_version: Option<u64>,
    /// When that roster expires (no script runs after it).
    pub roster_expires_at: Option<triage_shared::time::Timestamp>,
    /// The highest roster version ever seen here; older ones are refused.
    pub roster_floor: u64,
    /// Names of the authors and of the approvers that roster trusts.
    pub authors: Vec<String>,
    pub approvers: Vec<String>,
    /// Why an installed roster file is not trusted, if it is not.
    pub roster_problem: Option<String>,
}

/// Reads the state directory. Not being enrolled is a status, not an error;
/// a corrupt state file is an error.
pub fn status(state_dir: &Path) -> Result<AgentStatus, AgentError> {
    let dir = StateDir::new(state_dir);
    let mut status = AgentStatus {
        state_dir: state_dir.to_path_buf(),
        enrolled: false,
        agent_id: None,
        relay: None,
        relay_address: None,
        public_key: None,
        org_key: None,
        roster_version: None,
        roster_expires_at: None,
        roster_floor: 0,
        authors: Vec::new(),
        approvers: Vec::new(),
        roster_problem: None,
    };
    if dir.agent_id()?.is_none() {
        status.public_key = dir.key()?.map(|k| k.public_key().to_string());
        return Ok(status);
    }
    let e = dir.load()?;
    status.enrolled = true;
    status.agent_id = Some(e.agent_id);
    status.relay = Some(e.relay.to_string());
    status.relay_address = Some(e.relay.addr.clone());
    status.public_key = Some(e.key.public_key().to_string());
    let org_key = dir.org_key()?;
    status.org_key = org_key.map(|k| k.to_string());
    status.roster_floor = dir.roster_floor()?;
    match dir.stored_roster(org_key.as_ref())? {
        StoredRoster::Trusted(r) => {
            let entries = &r.roster.entries;
            status.roster_version = Some(r.roster.version);
            status.roster_expires_at = Some(r.roster.expires_at);
            status.authors = entries
                .iter()
                .filter(|e| e.may_author())
                .map(|e| e.name.clone())
                .collect();
            status.approvers = entries
                .iter()
                .filter(|e| e.may_approve())
                .map(|e| e.name.clone())
                .collect();
        }
        StoredRoster::Absent => {}
        StoredRoster::Rejected(reason) => status.roster_problem = Some(reason),
    }
    Ok(status)
}

impl AgentStatus {
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "state dir   {}", self.state_dir.display());
        if !self.enrolled {
            let _ = writeln!(out, "enrolled    no (run `triage-agent enroll TOKEN`)");
            return out;
        }
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        let _ = writeln!(out, "enrolled    yes");
        let _ = writeln!(
            out,
            "agent id    {}",
            self.agent_id
                .map(|i| i.to_string())
                .unwrap_or_else(|| "-".into())
        );
        let _ = writeln!(out, "relay       {}", show(&self.relay_address));
        let _ = writeln!(out, "public key  {}", show(&self.public_key));
        match &self.org_key {
            Some(key) => {
                let _ = writeln!(out, "org key     {key}");
            }
            None => {
                let _ = writeln!(
                    out,
                    "org key     none (enrolled without one: no script will run here)"
                );
            }
        }
        let roster = match (&self.roster_version, &self.roster_problem) {
            (_, Some(problem)) => format!("NOT TRUSTED: {problem}"),
            (Some(v), None) => format!(
                "version {v}, expires {}, authors: {}; approvers: {}",
                self.roster_expires_at
                    .map(|t| t.to_string())
                    .unwrap_or_default(),
                self.authors.join(", "),
                self.approvers.join(", ")
            ),
            (None, None) => "none installed (script runs are refused)".to_string(),
        };
        let _ = writeln!(out, "roster      {roster}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_shared::identity::KeyPair;

    #[test]
    fn an_empty_directory_is_not_enrolled() {
        let tmp = tempfile::tempdir().unwrap();
        let s = status(&tmp.path().join("nothing")).unwrap();
        assert!(!s.enrolled && s.agent_id.is_none() && s.public_key.is_none());
        assert!(s.render_text().contains("enrolled    no"));
    }

    #[test]
    fn an_enrolled_directory_reports_id_and_relay() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = StateDir::new(tmp.path());
        let key = KeyPair::generate();
        let id = AgentId::new_random();
        let relay = "triage://relay.corp:4433?fp=0101010101010101010101010101010101010101010101010101010101010101".parse().unwrap();
        dir.write_key(&key).unwrap();
        dir.save_enrollment(&relay, id).unwrap();
        let s = status(tmp.path()).unwrap();
        assert!(s.enrolled);
        assert_eq!(s.agent_id, Some(id));
        assert_eq!(s.relay_address.as_deref(), Some("relay.corp:4433"));
        assert_eq!(s.public_key, Some(key.public_key().to_string()));
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["agent_id"], id.to_string());
        assert_eq!(json["enrolled"], true);
        assert!(s.render_text().contains(&id.to_string()));
    }

    #[test]
    fn status_shows_the_org_key_and_the_roster_in_force() {
        use triage_shared::approval::{Roster, RosterEntry};
        use triage_shared::roles::Role;
        use triage_shared::time::Timestamp;
        let tmp = tempfile::tempdir().unwrap();
        let dir = StateDir::new(tmp.path());
        let relay = "triage://relay.corp:4433?fp=0101010101010101010101010101010101010101010101010101010101010101".parse().unwrap();
        dir.write_key(&KeyPair::generate()).unwrap();
        dir.save_enrollment(&relay, AgentId::new_random()).unwrap();
        let s = status(tmp.path()).unwrap();
        assert_eq!((s.org_key.clone(), s.roster_version), (None, None));
        assert!(
            s.render_text().contains("no script will run here"),
            "{}",
            s.render_text()
        );

        let org = KeyPair::generate();
        dir.pin_org_key(Some(&org.public_key())).unwrap();
        let entry = |name: &str, role| RosterEntry {
            name: name.into(),
            roles: vec![role],
            key: KeyPair::generate().public_key(),
            expires_at: None,
        };
        let roster = Roster {
            version: 4,
            entries: vec![entry("alice", Role::L2), entry("carol", Role::Approver)],
            issued_at: Timestamp(0),
            expires_at: Timestamp(86_400_000),
        };
        dir.save_roster(&roster.clone().sign(&org)).unwrap();
        let s = status(tmp.path()).unwrap();
        assert_eq!(s.org_key, Some(org.public_key().to_string()));
        assert_eq!(s.roster_version, Some(4));
        assert_eq!(
            (s.authors.as_slice(), s.approvers.as_slice()),
            (&["alice".to_string()][..], &["carol".to_string()][..])
        );
        assert!(
            s.render_text().contains("authors: alice; approvers: carol"),
            "{}",
            s.render_text()
        );

        dir.save_roster(&roster.sign(&KeyPair::generate())).unwrap();
        let s = status(tmp.path()).unwrap();
        assert_eq!(s.roster_version, None);
        assert!(
            s.render_text().contains("NOT TRUSTED"),
            "{}",
            s.render_text()
        );
    }

    #[test]
    fn a_corrupt_directory_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join(crate::state::AGENT_ID_FILE), "garbage").unwrap();
        assert!(matches!(
            status(tmp.path()),
            Err(AgentError::CorruptState { .. })
        ));
    }
}
