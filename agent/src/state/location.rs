//! Where the state directory is when nobody says.

use std::ffi::OsString;
use std::path::PathBuf;

/// Environment variable that overrides the default state directory.
pub const STATE_DIR_ENV: &str = "TRIAGE_AGENT_DIR";
/// Where a system-wide (root) agent keeps its state.
pub const SYSTEM_STATE_DIR: &str = "/var/lib/triage-agent";

/// The default state directory: `$TRIAGE_AGENT_DIR`, else the system
/// directory for root, else `$HOME/.local/state/triage-agent`.
pub fn choose_state_dir(
    env_dir: Option<OsString>,
    running_as_root: bool,
    home: Option<OsString>,
) -> PathBuf {
    match (
        env_dir.filter(|d| !d.is_empty()),
        home.filter(|h| !h.is_empty()),
    ) {
        (Some(dir), _) => PathBuf::from(dir),
        (None, _) if running_as_root => PathBuf::from(SYSTEM_STATE_DIR),
        (None, Some(home)) => PathBuf::from(home).join(".local/state/triage-agent"),
        // No home to speak of: the system directory, whose permission error
        // (if any) tells the user to pick one.
        (None, None) => PathBuf::from(SYSTEM_STATE_DIR),
    }
}

/// [`choose_state_dir`] for this process.
pub fn default_state_dir() -> PathBuf {
    choose_state_dir(
        std::env::var_os(STATE_DIR_ENV),
        crate::host::running_as_root(),
        std::env::var_os("HOME"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_dir_prefers_env_then_root_then_home() {
        let some = |s: &str| Some(OsString::from(s));
        assert_eq!(
            choose_state_dir(some("/srv/agent"), true, some("/root")),
            PathBuf::from("/srv/agent")
        );
        assert_eq!(
            choose_state_dir(None, true, some("/root")),
            PathBuf::from(SYSTEM_STATE_DIR)
        );
        assert_eq!(
            choose_state_dir(None, false, some("/home/alice")),
            PathBuf::from("/home/alice/.local/state/triage-agent")
        );
        assert_eq!(
            choose_state_dir(some(""), false, some("/home/bob")),
            PathBuf::from("/home/bob/.local/state/triage-agent")
        );
        assert_eq!(
            choose_state_dir(None, false, None),
            PathBuf::from(SYSTEM_STATE_DIR)
        );
    }
}
