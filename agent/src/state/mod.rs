//! The agent's state directory:
//!
//! | file        | holds                                     | mode |
//! |-------------|-------------------------------------------|------|
//! | `agent.key` | the identity (`KeyPair::to_file_text`)    | 0600 |
//! | `relay`     | the relay locator (address + fingerprint) | 0600 |
//! | `agent-id`  | the id the relay gave at enrollment       | 0600 |
//! | `org.pub`   | the organisation key pinned at enrollment ([`trust`]) | 0600 |
//! | `roster.json` | the installed, org-signed roster of authors and approvers ([`trust`]) | 0600 |
//! | `roster-floor` | the highest roster version ever seen here ([`trust`]) | 0600 |
//! | `used-nonces` | approvals already used here ([`nonces`]) | 0600 |
//! | `clock-floor` | the latest time the agent has seen ([`clock`]) | 0600 |
//! | `agent.toml` | optional settings, written by an admin ([`crate::config`]) | — |
//!
//! The directory itself is created 0700; [`default_state_dir`] picks it when nobody says.
//!
//! `agent-id` is written last and removed first, so it is the marker of a
//! finished enrollment: a key without an id is an enrollment that has not
//! completed (and may be retried with the same key). Every write goes to a
//! temporary file in the same directory and is renamed into place, so a crash
//! never leaves half a file behind.

pub mod clock;
mod files;
mod location;
pub mod nonces;
pub mod trust;

pub(crate) use files::{open_private, read_capped, sync_dir, write_atomic};
pub use location::{choose_state_dir, default_state_dir, STATE_DIR_ENV, SYSTEM_STATE_DIR};

use crate::error::AgentError;
use std::fs;
use std::path::{Path, PathBuf};
use triage_shared::identity::KeyPair;
use triage_shared::token::RelayLocator;
use triage_shared::AgentId;

pub const KEY_FILE: &str = "agent.key";
pub const RELAY_FILE: &str = "relay";
pub const AGENT_ID_FILE: &str = "agent-id";
/// Largest state file the agent will read; real ones are under 200 bytes.
pub const MAX_STATE_FILE_LEN: u64 = 4096;

/// Everything a finished enrollment left behind.
#[derive(Debug)]
pub struct Enrollment {
    pub agent_id: AgentId,
    pub relay: RelayLocator,
    pub key: KeyPair,
}

/// A state directory on disk.
#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
}

pub fn parse_agent_id(text: &str) -> Result<AgentId, String> {
    text.trim().parse()
}

pub fn parse_relay(text: &str) -> Result<RelayLocator, String> {
    text.trim()
        .parse::<RelayLocator>()
        .map_err(|e| e.to_string())
}

pub fn parse_key(text: &str) -> Result<KeyPair, String> {
    KeyPair::from_file_text(text).map_err(|e| e.to_string())
}

impl StateDir {
    pub fn new(root: &Path) -> Self {
        StateDir {
            root: root.to_path_buf(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.root
    }

    pub(crate) fn file(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Creates the directory (and missing parents) readable by its owner only.
    /// An existing directory is left as it is: it may be one the user chose.
    pub fn ensure(&self) -> Result<(), AgentError> {
        if self.root.is_dir() {
            return Ok(());
        }
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(&self.root)
            .map_err(|error| AgentError::StateIo {
                action: "create the state directory",
                path: self.root.clone(),
                error,
            })
    }

    /// Reads a state file; a missing file (or directory) is `None`.
    fn read(&self, name: &str) -> Result<Option<String>, AgentError> {
        read_capped(&self.file(name), MAX_STATE_FILE_LEN)
    }

    fn read_parsed<T>(
        &self,
        name: &str,
        parse: fn(&str) -> Result<T, String>,
    ) -> Result<Option<T>, AgentError> {
        match self.read(name)? {
            None => Ok(None),
            Some(text) => parse(&text)
                .map(Some)
                .map_err(|problem| AgentError::CorruptState {
                    path: self.file(name),
                    problem,
                }),
        }
    }

    pub fn agent_id(&self) -> Result<Option<AgentId>, AgentError> {
        self.read_parsed(AGENT_ID_FILE, parse_agent_id)
    }

    pub fn relay(&self) -> Result<Option<RelayLocator>, AgentError> {
        self.read_parsed(RELAY_FILE, parse_relay)
    }

    pub fn key(&self) -> Result<Option<KeyPair>, AgentError> {
        self.read_parsed(KEY_FILE, parse_key)
    }

    /// Loads a finished enrollment, or says why there is none.
    pub fn load(&self) -> Result<Enrollment, AgentError> {
        let agent_id = self.agent_id()?.ok_or_else(|| AgentError::NotEnrolled {
            dir: self.root.clone(),
        })?;
        let missing = |name: &str| AgentError::CorruptState {
            path: self.file(name),
            problem: "the file is missing".into(),
        };
        let relay = self.relay()?.ok_or_else(|| missing(RELAY_FILE))?;
        let key = self.key()?.ok_or_else(|| missing(KEY_FILE))?;
        warn_if_key_is_exposed(&self.file(KEY_FILE));
        Ok(Enrollment {
            agent_id,
            relay,
            key,
        })
    }

    pub fn write_key(&self, key: &KeyPair) -> Result<(), AgentError> {
        self.write_atomic(KEY_FILE, &key.to_file_text())
    }

    /// Records a finished enrollment; the id goes last (see the module docs).
    pub fn save_enrollment(
        &self,
        relay: &RelayLocator,
        agent_id: AgentId,
    ) -> Result<(), AgentError> {
        self.write_atomic(RELAY_FILE, &format!("{relay}\n"))?;
        self.write_atomic(AGENT_ID_FILE, &format!("{agent_id}\n"))
    }

    /// Forgets the enrollment and the identity, so the next enrollment starts
    /// fresh. Files that are already gone are fine.
    pub fn forget(&self) -> Result<(), AgentError> {
        // The trust files go with the enrollment: the next token may carry
        // another organisation key. Used nonces stay; they never hurt.
        for name in [
            AGENT_ID_FILE,
            RELAY_FILE,
            KEY_FILE,
            trust::ORG_KEY_FILE,
            trust::ROSTER_FILE,
            trust::ROSTER_FLOOR_FILE,
            trust::LEGACY_POLICY_FILE,
        ] {
            files::remove_if_present(self.file(name))?;
        }
        Ok(())
    }

    fn write_atomic(&self, name: &str, contents: &str) -> Result<(), AgentError> {
        write_atomic(&self.root, name, contents)
    }
}

#[cfg(unix)]
fn warn_if_key_is_exposed(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = fs::metadata(path) {
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(path = %path.display(), "the agent key is readable by other users; run `chmod 600` on it");
        }
    }
}

#[cfg(not(unix))]
fn warn_if_key_is_exposed(_path: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_shared::identity::CertFingerprint;

    fn locator() -> RelayLocator {
        RelayLocator {
            addr: "127.0.0.1:4433".into(),
            fingerprint: CertFingerprint([9; 32]),
        }
    }

    fn enrolled_dir() -> (tempfile::TempDir, StateDir, AgentId, KeyPair) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = StateDir::new(&tmp.path().join("state"));
        dir.ensure().unwrap();
        let key = KeyPair::generate();
        let id = AgentId::new_random();
        dir.write_key(&key).unwrap();
        dir.save_enrollment(&locator(), id).unwrap();
        (tmp, dir, id, key)
    }

    #[test]
    fn saved_enrollment_loads_back() {
        let (_tmp, dir, id, key) = enrolled_dir();
        let loaded = dir.load().unwrap();
        assert_eq!(loaded.agent_id, id);
        assert_eq!(loaded.relay, locator());
        assert_eq!(loaded.key.public_key(), key.public_key());
    }

    #[test]
    fn missing_directory_means_not_enrolled() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = StateDir::new(&tmp.path().join("never-made"));
        let err = dir.load().unwrap_err();
        assert!(matches!(err, AgentError::NotEnrolled { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("triage-agent enroll TOKEN --state-dir"),
            "{err}"
        );
    }

    #[test]
    fn key_without_id_is_an_unfinished_enrollment() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = StateDir::new(tmp.path());
        dir.write_key(&KeyPair::generate()).unwrap();
        assert!(matches!(dir.load(), Err(AgentError::NotEnrolled { .. })));
        assert!(dir.key().unwrap().is_some());
    }

    #[test]
    fn garbled_files_are_reported_as_corrupt_with_their_path() {
        let (_tmp, dir, ..) = enrolled_dir();
        fs::write(dir.path().join(AGENT_ID_FILE), "not-a-uuid\n").unwrap();
        let err = dir.load().unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("state file ") && text.contains("agent-id is corrupt"),
            "{text}"
        );

        let (_tmp, dir, ..) = enrolled_dir();
        fs::write(dir.path().join(KEY_FILE), "hello").unwrap();
        assert!(matches!(dir.load(), Err(AgentError::CorruptState { .. })));

        let (_tmp, dir, ..) = enrolled_dir();
        fs::write(dir.path().join(RELAY_FILE), "http://elsewhere").unwrap();
        assert!(matches!(dir.load(), Err(AgentError::CorruptState { .. })));

        let (_tmp, dir, ..) = enrolled_dir();
        fs::write(dir.path().join(RELAY_FILE), [0xff, 0xfe, 0x00]).unwrap();
        assert!(matches!(dir.load(), Err(AgentError::CorruptState { .. })));
    }

    #[test]
    fn id_without_key_is_corrupt_not_unenrolled() {
        let (_tmp, dir, ..) = enrolled_dir();
        fs::remove_file(dir.path().join(KEY_FILE)).unwrap();
        let err = dir.load().unwrap_err();
        assert!(
            err.to_string()
                .contains("agent.key is corrupt: the file is missing"),
            "{err}"
        );
    }

    #[test]
    fn state_file_at_the_size_limit_is_read_and_one_byte_more_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = StateDir::new(tmp.path());
        let id = AgentId::new_random().to_string();
        let padded = format!("{id}{}", " ".repeat(MAX_STATE_FILE_LEN as usize - id.len()));
        fs::write(tmp.path().join(AGENT_ID_FILE), &padded).unwrap();
        assert!(dir.agent_id().unwrap().is_some());
        fs::write(tmp.path().join(AGENT_ID_FILE), format!("{padded} ")).unwrap();
        assert!(matches!(
            dir.agent_id(),
            Err(AgentError::CorruptState { .. })
        ));
    }

    #[test]
    fn forget_removes_everything_and_tolerates_missing_files() {
        let (_tmp, dir, ..) = enrolled_dir();
        dir.forget().unwrap();
        assert!(dir.key().unwrap().is_none());
        assert!(dir.relay().unwrap().is_none());
        assert!(matches!(dir.load(), Err(AgentError::NotEnrolled { .. })));
        dir.forget().unwrap();
    }

    #[test]
    fn writes_leave_no_temporary_files() {
        let (_tmp, dir, ..) = enrolled_dir();
        dir.write_key(&KeyPair::generate()).unwrap();
        let mut names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, [AGENT_ID_FILE, KEY_FILE, RELAY_FILE]);
    }

    #[cfg(unix)]
    #[test]
    fn directory_and_key_are_private_to_the_owner() {
        use std::os::unix::fs::PermissionsExt;
        let (_tmp, dir, ..) = enrolled_dir();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(dir.path()), 0o700);
        assert_eq!(mode(&dir.path().join(KEY_FILE)), 0o600);
        // A key rewritten over a world-readable one becomes private again.
        fs::set_permissions(dir.path().join(KEY_FILE), fs::Permissions::from_mode(0o644)).unwrap();
        dir.write_key(&KeyPair::generate()).unwrap();
        assert_eq!(mode(&dir.path().join(KEY_FILE)), 0o600);
    }
}
