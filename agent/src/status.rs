//! `triage-agent status`: what the state directory says about this agent.

use crate::error::AgentError;
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
    fn a_corrupt_directory_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join(crate::state::AGENT_ID_FILE), "garbage").unwrap();
        assert!(matches!(
            status(tmp.path()),
            Err(AgentError::CorruptState { .. })
        ));
    }
}
