//! The technician's home directory: the private key, its public half for
//! handing to an admin, the relay logged in to, and the newest audit entry
//! seen of that relay's log (`audit-head`, see `crate::audit_log`). Every write is atomic
//! (temporary file, then rename) so an interrupted command never leaves a
//! half-written key; the key is readable by its owner only.

use crate::audit_log::SeenHead;
use crate::error::CliError;
use std::io::Write;
use std::path::{Path, PathBuf};
use triage_shared::identity::KeyPair;
use triage_shared::token::RelayLocator;

pub const KEY_FILE: &str = "identity.key";
pub const PUBLIC_KEY_FILE: &str = "identity.pub";
pub const RELAY_FILE: &str = "relay";
pub const AUDIT_HEAD_FILE: &str = "audit-head";
/// Where the home lives under `$HOME` when neither `--home` nor `$TRIAGE_HOME` is set.
pub const DEFAULT_SUBDIR: &str = ".config/triage";
/// Largest key or relay file read; the real ones are well under 200 bytes.
pub const MAX_HOME_FILE_LEN: u64 = 4096;

const PRIVATE_FILE_MODE: u32 = 0o600;
const PUBLIC_FILE_MODE: u32 = 0o644;
const DIR_MODE: u32 = 0o700;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Home {
    dir: PathBuf,
}

impl Home {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Home { dir: dir.into() }
    }

    /// `--home`/`$TRIAGE_HOME` if given (clap folds the two together), else
    /// `$HOME/.config/triage`.
    pub fn locate(explicit: Option<PathBuf>, user_home: Option<PathBuf>) -> Result<Self, CliError> {
        match (explicit, user_home) {
            (Some(dir), _) => Ok(Home::new(dir)),
            (None, Some(home)) if !home.as_os_str().is_empty() => {
                Ok(Home::new(home.join(DEFAULT_SUBDIR)))
            }
            _ => Err(CliError::NoHomeDir),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn key_path(&self) -> PathBuf {
        self.dir.join(KEY_FILE)
    }

    pub fn public_key_path(&self) -> PathBuf {
        self.dir.join(PUBLIC_KEY_FILE)
    }

    pub fn relay_path(&self) -> PathBuf {
        self.dir.join(RELAY_FILE)
    }

    pub fn audit_head_path(&self) -> PathBuf {
        self.dir.join(AUDIT_HEAD_FILE)
    }

    /// The audit head remembered for the relay with this fingerprint; `None`
    /// when none was seen yet, or it was another relay's.
    pub fn load_audit_head(
        &self,
        relay: &triage_shared::identity::CertFingerprint,
    ) -> Result<Option<SeenHead>, CliError> {
        let path = self.audit_head_path();
        let Some(text) = read_small(&path)? else {
            return Ok(None);
        };
        let head: SeenHead = serde_json::from_str(&text).map_err(|e| CliError::BadAuditHead {
            path,
            detail: e.to_string(),
        })?;
        Ok((head.relay == relay.to_string()).then_some(head))
    }

    /// Remembers `head` (atomically, readable by the owner only).
    pub fn save_audit_head(&self, head: &SeenHead) -> Result<(), CliError> {
        self.ensure_dir()?;
        let mut text = serde_json::to_string(head)?;
        text.push('\n');
        write_atomic(&self.audit_head_path(), text.as_bytes(), PRIVATE_FILE_MODE)
    }

    pub fn load_key(&self) -> Result<KeyPair, CliError> {
        let path = self.key_path();
        let text = read_small(&path)?.ok_or_else(|| CliError::NoIdentity(path.clone()))?;
        KeyPair::from_file_text(&text).map_err(|e| CliError::BadKeyFile {
            path,
            detail: e.to_string(),
        })
    }

    /// Makes and stores a new key pair (and its public half), refusing to
    /// replace an existing key unless `force`.
    pub fn create_key(&self, force: bool) -> Result<KeyPair, CliError> {
        let path = self.key_path();
        if !force && path.exists() {
            return Err(CliError::IdentityExists(path));
        }
        self.ensure_dir()?;
        let key = KeyPair::generate();
        write_atomic(&path, key.to_file_text().as_bytes(), PRIVATE_FILE_MODE)?;
        write_atomic(
            &self.public_key_path(),
            format!("{}\n", key.public_key()).as_bytes(),
            PUBLIC_FILE_MODE,
        )?;
        Ok(key)
    }

    pub fn load_relay(&self) -> Result<RelayLocator, CliError> {
        let path = self.relay_path();
        let text = read_small(&path)?.ok_or_else(|| CliError::NotLoggedIn(path.clone()))?;
        text.parse().map_err(
            |e: triage_shared::token::TokenParseError| CliError::BadRelayFile {
                path,
                detail: e.to_string(),
            },
        )
    }

    pub fn save_relay(&self, relay: &RelayLocator) -> Result<(), CliError> {
        self.ensure_dir()?;
        write_atomic(
            &self.relay_path(),
            format!("{relay}\n").as_bytes(),
            PRIVATE_FILE_MODE,
        )
    }

    /// Creates the directory readable by its owner only. An existing
    /// directory is left as it is: it may be one the user chose on purpose.
    pub(crate) fn ensure_dir(&self) -> Result<(), CliError> {
        if self.dir.is_dir() {
            return Ok(());
        }
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(DIR_MODE);
        }
        let fail = |source| CliError::File {
            action: "create",
            path: self.dir.clone(),
            source,
        };
        builder.create(&self.dir).map_err(fail)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(DIR_MODE))
                .map_err(fail)?;
        }
        Ok(())
    }
}

/// Reads a home file; `None` if it does not exist. Refuses files larger than
/// [`MAX_HOME_FILE_LEN`] rather than reading whatever sits there.
pub(crate) fn read_small(path: &Path) -> Result<Option<String>, CliError> {
    use std::io::Read;
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(CliError::File {
                action: "read",
                path: path.into(),
                source,
            })
        }
    };
    let mut text = String::new();
    file.take(MAX_HOME_FILE_LEN + 1)
        .read_to_string(&mut text)
        .map_err(|source| CliError::File {
            action: "read",
            path: path.into(),
            source,
        })?;
    if text.len() as u64 > MAX_HOME_FILE_LEN {
        let source = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {MAX_HOME_FILE_LEN} bytes"),
        );
        return Err(CliError::File {
            action: "read",
            path: path.into(),
            source,
        });
    }
    Ok(Some(text))
}

/// Writes `bytes` to a temporary file beside `path` with `mode` from the
/// start (so a key is never briefly world-readable), syncs it, and renames it
/// over `path`.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), CliError> {
    let fail = |action: &'static str, source: std::io::Error| CliError::File {
        action,
        path: path.into(),
        source,
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp.{}", std::process::id()));
    // A leftover from an interrupted run would make `create_new` fail.
    let _ = std::fs::remove_file(&tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let result = (|| {
        let mut file = options.open(&tmp)?;
        // The open mode is filtered by the umask; say exactly what we mean.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        }
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail("write", e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_shared::identity::CertFingerprint;

    fn locator() -> RelayLocator {
        RelayLocator {
            addr: "relay.example.com:4433".into(),
            fingerprint: CertFingerprint([9; 32]),
        }
    }

    #[test]
    fn explicit_home_wins_over_the_default() {
        let h = Home::locate(Some("/x".into()), Some("/home/u".into())).unwrap();
        assert_eq!(h.dir(), Path::new("/x"));
        let h = Home::locate(None, Some("/home/u".into())).unwrap();
        assert_eq!(h.dir(), Path::new("/home/u/.config/triage"));
        assert!(matches!(Home::locate(None, None), Err(CliError::NoHomeDir)));
        assert!(matches!(
            Home::locate(None, Some("".into())),
            Err(CliError::NoHomeDir)
        ));
    }

    #[test]
    fn missing_key_says_to_run_keygen() {
        let dir = tempfile::tempdir().unwrap();
        let err = Home::new(dir.path()).load_key().unwrap_err();
        assert!(matches!(err, CliError::NoIdentity(_)));
        assert!(err.to_string().contains("run `triage keygen`"), "{err}");
    }

    #[test]
    fn missing_relay_says_to_log_in() {
        let dir = tempfile::tempdir().unwrap();
        let err = Home::new(dir.path()).load_relay().unwrap_err();
        assert!(
            err.to_string()
                .starts_with("not logged in; run `triage login RELAY_TOKEN`"),
            "{err}"
        );
    }

    #[test]
    fn created_key_loads_back_with_its_public_half_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path().join("new"));
        let key = home.create_key(false).unwrap();
        assert_eq!(home.load_key().unwrap().public_key(), key.public_key());
        let public = std::fs::read_to_string(home.public_key_path()).unwrap();
        assert_eq!(public.trim(), key.public_key().to_string());
    }

    #[test]
    fn existing_key_is_not_overwritten_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path());
        let first = home.create_key(false).unwrap();
        let err = home.create_key(false).unwrap_err();
        assert!(matches!(err, CliError::IdentityExists(_)));
        assert!(err.to_string().contains("--force"), "{err}");
        assert_eq!(home.load_key().unwrap().public_key(), first.public_key());
        let second = home.create_key(true).unwrap();
        assert_ne!(second.public_key(), first.public_key());
        assert_eq!(home.load_key().unwrap().public_key(), second.public_key());
    }

    #[cfg(unix)]
    #[test]
    fn key_is_owner_only_and_new_dir_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path().join("a/b"));
        home.create_key(false).unwrap();
        home.save_relay(&locator()).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&home.key_path()), 0o600);
        assert_eq!(mode(&home.relay_path()), 0o600);
        assert_eq!(mode(&home.public_key_path()), 0o644);
        assert_eq!(mode(home.dir()), 0o700);
    }

    #[test]
    fn relay_round_trips_and_leaves_no_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path());
        home.save_relay(&locator()).unwrap();
        home.save_relay(&locator()).unwrap();
        assert_eq!(home.load_relay().unwrap(), locator());
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(RELAY_FILE)]);
    }

    #[test]
    fn damaged_files_are_reported_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path());
        std::fs::write(home.key_path(), "not a key").unwrap();
        std::fs::write(home.relay_path(), "http://nope").unwrap();
        assert!(home
            .load_key()
            .unwrap_err()
            .to_string()
            .contains("triage keygen --force"));
        assert!(home
            .load_relay()
            .unwrap_err()
            .to_string()
            .contains("triage login"));
    }

    #[cfg(unix)]
    #[test]
    fn the_audit_head_is_kept_per_relay_and_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path().join("h"));
        let relay = CertFingerprint([9; 32]);
        assert_eq!(home.load_audit_head(&relay).unwrap(), None);
        let head = SeenHead {
            relay: relay.to_string(),
            seq: 7,
            hash: "ab".repeat(32),
        };
        home.save_audit_head(&head).unwrap();
        assert_eq!(home.load_audit_head(&relay).unwrap(), Some(head));
        // Another relay's head says nothing about this one.
        assert_eq!(
            home.load_audit_head(&CertFingerprint([1; 32])).unwrap(),
            None
        );
        let mode = std::fs::metadata(home.audit_head_path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::write(home.audit_head_path(), "{").unwrap();
        let err = home.load_audit_head(&relay).unwrap_err();
        assert!(matches!(err, CliError::BadAuditHead { .. }), "{err}");
    }

    #[test]
    fn oversized_home_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path());
        std::fs::write(home.key_path(), vec![b'a'; MAX_HOME_FILE_LEN as usize + 1]).unwrap();
        assert!(matches!(home.load_key(), Err(CliError::File { .. })));
        std::fs::write(home.key_path(), KeyPair::generate().to_file_text()).unwrap();
        assert!(home.load_key().is_ok());
    }
}
