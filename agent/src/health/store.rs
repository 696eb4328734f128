//! `health-state.json` in the state directory: the monitor's alerts (with
//! the ticket each raised one filed) and its last readings, so a daemon
//! restart neither files an alert again nor forgets it, and
//! `triage-agent health` can show where things stand.

use super::machine::MonitorState;
use crate::error::AgentError;
use crate::state::{read_capped, write_atomic};
use serde::{Deserialize, Serialize};
use std::path::Path;
use tracing::error;

pub const HEALTH_STATE_FILE: &str = "health-state.json";
/// Largest state file read.
pub const MAX_HEALTH_STATE_LEN: u64 = 1024 * 1024;
const FORMAT_VERSION: u16 = 1;

#[derive(Serialize, Deserialize)]
struct Persisted {
    version: u16,
    state: MonitorState,
}

/// The saved state, `None` when the monitor has not run here yet.
pub fn load(state_dir: &Path) -> Result<Option<MonitorState>, AgentError> {
    let path = state_dir.join(HEALTH_STATE_FILE);
    let text = read_capped(&path, MAX_HEALTH_STATE_LEN).map_err(|e| match e {
        AgentError::CorruptState { path, problem } => AgentError::HealthState { path, problem },
        other => other,
    })?;
    let Some(text) = text else {
        return Ok(None);
    };
    let corrupt = |problem: String| AgentError::HealthState {
        path: path.clone(),
        problem,
    };
    let saved: Persisted = serde_json::from_str(&text).map_err(|e| corrupt(e.to_string()))?;
    if saved.version != FORMAT_VERSION {
        return Err(corrupt(format!("unknown format version {}", saved.version)));
    }
    Ok(Some(saved.state))
}

/// The saved state for the daemon: a damaged file is moved aside (loudly)
/// and the monitor starts afresh rather than not at all.
pub fn load_or_fresh(state_dir: &Path) -> MonitorState {
    match load(state_dir) {
        Ok(state) => state.unwrap_or_default(),
        Err(e) => {
            let path = state_dir.join(HEALTH_STATE_FILE);
            let aside = state_dir.join(format!("{HEALTH_STATE_FILE}.corrupt"));
            let moved = std::fs::rename(&path, &aside);
            error!(error = %e, moved_to = %aside.display(), moved = moved.is_ok(), "HEALTH STATE UNREADABLE: starting afresh; alerts raised before may be filed again");
            MonitorState::default()
        }
    }
}

pub fn save(state_dir: &Path, state: &MonitorState) -> Result<(), AgentError> {
    let text = serde_json::to_string_pretty(&Persisted {
        version: FORMAT_VERSION,
        state: state.clone(),
    })
    .map_err(|e| AgentError::HealthState {
        path: state_dir.join(HEALTH_STATE_FILE),
        problem: format!("cannot encode: {e}"),
    })?;
    write_atomic(state_dir, HEALTH_STATE_FILE, &text)
}
