//! `sla.toml` in the data directory: the SLA policy in force. Missing
//! means the defaults. The relay reads it at start (a bad file stops the
//! start with the reason), again whenever its content changes (a bad edit
//! is logged and the policy in force stays), and writes it for
//! `triage sla set` — aside, then renamed, so no reader sees half a file.

use crate::error::RelayError;
use sha2::{Digest, Sha256};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use triage_shared::sla::policy::MAX_POLICY_LEN;
use triage_shared::sla::SlaPolicy;

pub const SLA_FILE: &str = "sla.toml";

/// The policy file's content as last read: its hash tells a change apart
/// from a touch, whatever the file system's timestamps do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySource {
    /// `None`: no file, the defaults.
    pub text: Option<String>,
    pub digest: [u8; 32],
}

pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(SLA_FILE)
}

/// Reads the file as it is now, bounded.
pub fn read(data_dir: &Path) -> Result<PolicySource, RelayError> {
    let path = path(data_dir);
    let file = match fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(PolicySource {
                text: None,
                digest: Sha256::digest(b"").into(),
            })
        }
        Err(e) => return Err(RelayError::io("read SLA policy", &path)(e)),
    };
    let mut bytes = Vec::new();
    file.take(MAX_POLICY_LEN as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(RelayError::io("read SLA policy", &path))?;
    if bytes.len() > MAX_POLICY_LEN {
        return Err(RelayError::Config(format!(
            "{} is over {MAX_POLICY_LEN} bytes; an SLA policy is a few settings",
            path.display()
        )));
    }
    let digest = Sha256::digest(&bytes).into();
    let text = String::from_utf8(bytes)
        .map_err(|_| RelayError::Config(format!("{} is not UTF-8 text", path.display())))?;
    Ok(PolicySource {
        text: Some(text),
        digest,
    })
}

/// The policy a source says, or why it cannot be used.
pub fn parse(source: &PolicySource, data_dir: &Path) -> Result<SlaPolicy, RelayError> {
    match &source.text {
        None => Ok(SlaPolicy::default()),
        Some(text) => SlaPolicy::parse(text)
            .map_err(|e| RelayError::Config(format!("{}: {e}", path(data_dir).display()))),
    }
}

/// Checks `text` and makes it the file's content.
pub fn write(data_dir: &Path, text: &str) -> Result<SlaPolicy, triage_shared::sla::PolicyError> {
    let policy = SlaPolicy::parse(text)?;
    let path = path(data_dir);
    let tmp = data_dir.join(format!(".{SLA_FILE}.{}", uuid::Uuid::new_v4().simple()));
    let written = fs::write(&tmp, text).and_then(|()| fs::rename(&tmp, &path));
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(triage_shared::sla::PolicyError(format!(
            "cannot write {}: {e}",
            path.display()
        )));
    }
    Ok(policy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_is_the_defaults_and_a_written_one_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let none = read(dir.path()).unwrap();
        assert_eq!(none.text, None);
        assert_eq!(parse(&none, dir.path()).unwrap(), SlaPolicy::default());
        let text = "[targets.urgent]\nfirst_response = \"1m\"\nresolution = \"2m\"\n";
        let written = write(dir.path(), text).unwrap();
        let back = read(dir.path()).unwrap();
        assert_eq!(back.text.as_deref(), Some(text));
        assert_ne!(back.digest, none.digest);
        assert_eq!(parse(&back, dir.path()).unwrap(), written);
    }

    #[test]
    fn a_bad_policy_is_never_written_and_a_bad_file_names_itself() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "warning_percent = 50").unwrap();
        let err = write(dir.path(), "warning_percent = 500").unwrap_err();
        assert!(err.to_string().contains("from 1 to 99"), "{err}");
        let kept = read(dir.path()).unwrap();
        assert_eq!(kept.text.as_deref(), Some("warning_percent = 50"));
        fs::write(path(dir.path()), "[calendar]\ntime_zone = \"Nowhere\"").unwrap();
        let err = parse(&read(dir.path()).unwrap(), dir.path()).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("sla.toml") && text.contains("Nowhere"),
            "{text}"
        );
        fs::write(path(dir.path()), vec![b'#'; MAX_POLICY_LEN + 1]).unwrap();
        assert!(read(dir.path()).is_err());
    }
}
