//! `triage script attach`: reading the script file and building the manifest
//! its author signs. Everything but [`read_script`] is a pure function.
//!
//! The manifest binds the exact bytes (their SHA-256), the interpreter, the
//! timeout, the ticket and the author's key; the agent refuses the script if
//! any of them changes after signing.

use crate::error::CliError;
use std::io::Read;
use std::path::Path;
use std::time::Duration;
use triage_shared::approval::{
    Interpreter, ScriptDigest, ScriptId, ScriptManifest, MAX_SCRIPT_LEN, MAX_SCRIPT_TIMEOUT,
};
use triage_shared::identity::PublicKey;
use triage_shared::limits::MAX_TEXT_LEN;
use triage_shared::text::check_text;
use triage_shared::time::{parse_duration, Timestamp};
use triage_shared::{AgentId, TicketId};

/// How long a script may run when `--timeout` is not given.
pub const DEFAULT_SCRIPT_TIMEOUT: &str = "5m";
/// The shortest timeout a script may have.
pub const MIN_SCRIPT_TIMEOUT: Duration = Duration::from_secs(1);

/// The interpreter a file's extension suggests: `.sh` → sh, `.bash` → bash,
/// `.py` → python, `.ps1` → powershell, anything else → sh.
pub fn interpreter_for(path: &Path) -> Interpreter {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("bash") => Interpreter::Bash,
        Some("py") => Interpreter::Python,
        Some("ps1") => Interpreter::Powershell,
        _ => Interpreter::Sh,
    }
}

/// A script timeout: a shared duration from [`MIN_SCRIPT_TIMEOUT`] to
/// [`MAX_SCRIPT_TIMEOUT`].
pub fn parse_script_timeout(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d < MIN_SCRIPT_TIMEOUT {
        return Err("a script needs a timeout of at least 1s".into());
    }
    if d > MAX_SCRIPT_TIMEOUT {
        return Err(format!(
            "a script may run at most {}h",
            MAX_SCRIPT_TIMEOUT.as_secs() / 3600
        ));
    }
    Ok(d)
}

/// A one-line description of at most [`MAX_TEXT_LEN`] bytes (may be empty).
pub fn check_description(text: &str) -> Result<(), CliError> {
    check_text("description", text, MAX_TEXT_LEN, true)?;
    if text.contains('\n') {
        return Err(CliError::InvalidInput(
            "description: must be one line".into(),
        ));
    }
    Ok(())
}

/// Reads a script: a regular file (symlinks followed) of 1 to
/// [`MAX_SCRIPT_LEN`] bytes. The type is checked before opening, so a FIFO
/// cannot block the command, and again on the opened file, so what is read
/// is what was checked; the read itself is bounded whatever the file does.
pub fn read_script(path: &Path) -> Result<Vec<u8>, CliError> {
    let fail = |problem: String| CliError::ScriptFile {
        path: path.into(),
        problem,
    };
    let io = |e: std::io::Error| fail(e.to_string());
    check_kind(&std::fs::metadata(path).map_err(io)?).map_err(fail)?;
    let file = std::fs::File::open(path).map_err(io)?;
    check_kind(&file.metadata().map_err(io)?).map_err(fail)?;
    let mut content = Vec::new();
    file.take(MAX_SCRIPT_LEN as u64 + 1)
        .read_to_end(&mut content)
        .map_err(io)?;
    if content.len() > MAX_SCRIPT_LEN {
        return Err(fail(too_large()));
    }
    if content.is_empty() {
        return Err(fail("it is empty".into()));
    }
    Ok(content)
}

fn check_kind(meta: &std::fs::Metadata) -> Result<(), String> {
    if !meta.is_file() {
        return Err(
            "it is not a regular file (directories, devices and pipes cannot be scripts)".into(),
        );
    }
    if meta.len() > MAX_SCRIPT_LEN as u64 {
        return Err(too_large());
    }
    Ok(())
}

fn too_large() -> String {
    format!("it is larger than {MAX_SCRIPT_LEN} bytes, the most a script may hold")
}

/// Everything the author's signature covers.
pub struct Authoring<'a> {
    pub ticket_id: TicketId,
    /// The endpoint it may run on: the ticket's agent.
    pub target: AgentId,
    pub interpreter: Interpreter,
    pub timeout: Duration,
    pub description: String,
    pub author: &'a str,
    pub author_key: PublicKey,
    pub now: Timestamp,
}

/// The manifest for `content`, with a fresh script id.
pub fn build_manifest(content: &[u8], a: Authoring<'_>) -> ScriptManifest {
    ScriptManifest {
        script_id: ScriptId::new_random(),
        ticket_id: a.ticket_id,
        digest: ScriptDigest::of(content),
        interpreter: a.interpreter,
        timeout_secs: a.timeout.as_secs(),
        author: a.author.to_string(),
        author_key: a.author_key,
        description: a.description,
        created_at: a.now,
        targets: vec![a.target],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_shared::identity::KeyPair;

    #[test]
    fn the_extension_picks_the_interpreter() {
        for (file, want) in [
            ("fix.sh", Interpreter::Sh),
            ("fix.bash", Interpreter::Bash),
            ("fix.py", Interpreter::Python),
            ("Fix.PS1", Interpreter::Powershell),
            ("fix.txt", Interpreter::Sh),
            ("fix", Interpreter::Sh),
            ("dir.py/fix", Interpreter::Sh),
        ] {
            assert_eq!(interpreter_for(Path::new(file)), want, "{file}");
        }
    }

    #[test]
    fn timeouts_are_bounded_at_both_ends() {
        assert_eq!(parse_script_timeout("1s").unwrap(), MIN_SCRIPT_TIMEOUT);
        assert!(parse_script_timeout("0s").is_err());
        assert_eq!(parse_script_timeout("6h").unwrap(), MAX_SCRIPT_TIMEOUT);
        let over = format!("{}s", MAX_SCRIPT_TIMEOUT.as_secs() + 1);
        let err = parse_script_timeout(&over).unwrap_err();
        assert!(err.contains("at most 6h"), "{err}");
        assert!(parse_script_timeout("5").is_err(), "a unit is needed");
    }

    #[test]
    fn a_script_at_the_size_limit_is_read_and_one_byte_more_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let at_limit = dir.path().join("ok.sh");
        std::fs::write(&at_limit, vec![b'#'; MAX_SCRIPT_LEN]).unwrap();
        assert_eq!(read_script(&at_limit).unwrap().len(), MAX_SCRIPT_LEN);
        let over = dir.path().join("big.sh");
        std::fs::write(&over, vec![b'#'; MAX_SCRIPT_LEN + 1]).unwrap();
        let err = read_script(&over).unwrap_err();
        assert!(matches!(err, CliError::ScriptFile { .. }), "{err}");
        assert!(
            err.to_string().contains("big.sh") && err.to_string().contains("larger"),
            "{err}"
        );
    }

    #[test]
    fn directories_missing_and_empty_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_script(dir.path()).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        let err = read_script(&dir.path().join("missing.sh")).unwrap_err();
        assert!(err.to_string().contains("missing.sh"), "{err}");
        let empty = dir.path().join("empty.sh");
        std::fs::write(&empty, b"").unwrap();
        assert!(read_script(&empty)
            .unwrap_err()
            .to_string()
            .contains("empty"));
    }

    #[cfg(unix)]
    #[test]
    fn device_files_are_refused_without_reading_them() {
        // /dev/zero would never end; the type check stops it first.
        let err = read_script(Path::new("/dev/zero")).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_to_a_regular_file_is_followed() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.sh");
        std::fs::write(&real, b"echo hi\n").unwrap();
        let link = dir.path().join("link.sh");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert_eq!(read_script(&link).unwrap(), b"echo hi\n");
    }

    #[test]
    fn descriptions_are_one_clean_line() {
        assert!(check_description("").is_ok());
        assert!(check_description("restart the spooler").is_ok());
        assert!(check_description("two\nlines").is_err());
        assert!(check_description("bell\u{7}").is_err());
        assert!(check_description(&"x".repeat(MAX_TEXT_LEN + 1)).is_err());
    }

    #[test]
    fn the_manifest_binds_content_ticket_author_and_limits() {
        let key = KeyPair::generate();
        let ticket_id = TicketId::new_random();
        let target = AgentId::new_random();
        let content = b"#!/bin/sh\necho fixed\n";
        let m = build_manifest(
            content,
            Authoring {
                ticket_id,
                target,
                interpreter: Interpreter::Bash,
                timeout: Duration::from_secs(300),
                description: "fix it".into(),
                author: "alice",
                author_key: key.public_key(),
                now: Timestamp(42),
            },
        );
        assert_eq!(m.digest, ScriptDigest::of(content));
        assert_eq!(m.targets, [target]);
        assert_eq!(
            (
                m.ticket_id,
                m.interpreter,
                m.timeout_secs,
                m.author.as_str()
            ),
            (ticket_id, Interpreter::Bash, 300, "alice")
        );
        assert_eq!(
            (m.author_key, m.created_at),
            (key.public_key(), Timestamp(42))
        );
        let signed = m.sign(&key);
        assert!(signed.signature_valid());
    }
}
