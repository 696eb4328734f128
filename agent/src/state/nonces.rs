//! `used-nonces`: every approval nonce this agent has acted on, so the same
//! approval never runs twice, not even after a restart.
//!
//! One line per nonce, `<32 hex digits> <expiry, ms since the epoch>`,
//! appended and synced to disk *before* the script starts. A crash in the
//! middle of an append can only leave a last line without its newline; that
//! nonce was never acted on (the run starts after the sync), so such a tail is
//! dropped. Any other line that does not parse means the file was damaged:
//! loading fails, and the agent refuses to start rather than forget what ran.
//!
//! An approval that expired long ago is refused as expired anyway, so its
//! line is pruned at load once [`NONCE_RETENTION`] has passed since its
//! expiry. "Now" here is the agent's time ([`super::clock`]: never behind
//! the latest time it has seen), so a clock set forward, a restart and the
//! clock set back cannot bring a pruned approval back to life.

use super::files::{open_private, read_capped, sync_dir, write_atomic};
use super::StateDir;
use crate::error::AgentError;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;
use triage_shared::approval::{Nonce, MAX_APPROVAL_TTL};
use triage_shared::time::Timestamp;

pub const NONCE_FILE: &str = "used-nonces";
/// How long after its approval expired a nonce is still remembered.
pub const NONCE_RETENTION: Duration = MAX_APPROVAL_TTL;
/// Largest `used-nonces` read (about 600 000 runs' worth).
pub const MAX_NONCE_FILE_LEN: u64 = 32 * 1024 * 1024;

/// The used nonces, in memory and on disk.
#[derive(Debug)]
pub struct NonceLog {
    dir: PathBuf,
    used: HashMap<Nonce, Timestamp>,
}

/// One line of the file, newline included.
pub fn format_entry(nonce: &Nonce, expires_at: Timestamp) -> String {
    format!("{nonce} {}\n", expires_at.millis())
}

/// What a `used-nonces` file says.
#[derive(Debug, PartialEq)]
pub struct Parsed {
    pub entries: Vec<(Nonce, Timestamp)>,
    /// A last line cut off by a crash, which was dropped.
    pub torn_tail: bool,
}

/// Parses the file's text; the error names the first damaged line.
pub fn parse_entries(text: &str) -> Result<Parsed, String> {
    let mut lines: Vec<&str> = text.split('\n').collect();
    // `split` leaves "" after a final newline; anything else there is a torn append.
    let tail = lines.pop().unwrap_or_default();
    let mut entries = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let entry = parse_line(line).ok_or_else(|| format!("line {} is damaged", i + 1))?;
        entries.push(entry);
    }
    Ok(Parsed {
        entries,
        torn_tail: !tail.is_empty(),
    })
}

fn parse_line(line: &str) -> Option<(Nonce, Timestamp)> {
    let (nonce, expiry) = line.trim().split_once(' ')?;
    let nonce = Nonce::try_from(nonce.to_string()).ok()?;
    let expiry = expiry.trim().parse::<i64>().ok()?;
    Some((nonce, Timestamp(expiry)))
}

/// Whether a nonce whose approval expired at `expires_at` may be forgotten at `now`.
pub fn prunable(expires_at: Timestamp, now: Timestamp) -> bool {
    expires_at.plus(NONCE_RETENTION) < now
}

impl NonceLog {
    /// Loads the log of `dir`, pruning what may be forgotten at `now`.
    pub fn load(dir: &StateDir, now: Timestamp) -> Result<NonceLog, AgentError> {
        let path = dir.file(NONCE_FILE);
        let text = read_capped(&path, MAX_NONCE_FILE_LEN)?.unwrap_or_default();
        let parsed = parse_entries(&text).map_err(|problem| AgentError::CorruptState {
            path: path.clone(),
            problem: format!(
                "{problem}; repair or remove that line (removing the file lets approvals that have not expired run again)"
            ),
        })?;
        let total = parsed.entries.len();
        let used: HashMap<Nonce, Timestamp> = parsed
            .entries
            .into_iter()
            .filter(|(_, expiry)| !prunable(*expiry, now))
            .collect();
        let log = NonceLog {
            dir: dir.path().to_path_buf(),
            used,
        };
        if parsed.torn_tail {
            tracing::warn!(path = %path.display(), "dropped an unfinished last line of the used-nonce log (a crash during an append)");
        }
        if parsed.torn_tail || log.used.len() < total {
            log.rewrite()?;
        }
        Ok(log)
    }

    pub fn is_used(&self, nonce: &Nonce) -> bool {
        self.used.contains_key(nonce)
    }

    pub fn len(&self) -> usize {
        self.used.len()
    }

    pub fn is_empty(&self) -> bool {
        self.used.is_empty()
    }

    fn path(&self) -> PathBuf {
        self.dir.join(NONCE_FILE)
    }

    /// Records `nonce` as used, durably: when this returns `Ok` the line is
    /// on disk. Only then may the script start.
    pub fn record(&mut self, nonce: Nonce, expires_at: Timestamp) -> Result<(), AgentError> {
        let path = self.path();
        let existed = path.exists();
        append_synced(&path, &format_entry(&nonce, expires_at)).map_err(|error| {
            AgentError::StateIo {
                action: "record a used approval in",
                path: path.clone(),
                error,
            }
        })?;
        if !existed {
            sync_dir(&self.dir);
        }
        self.used.insert(nonce, expires_at);
        Ok(())
    }

    /// Replaces the file with what is kept in memory.
    fn rewrite(&self) -> Result<(), AgentError> {
        let mut entries: Vec<(&Nonce, &Timestamp)> = self.used.iter().collect();
        entries.sort_by_key(|(_, expiry)| **expiry);
        let text: String = entries
            .into_iter()
            .map(|(n, e)| format_entry(n, *e))
            .collect();
        write_atomic(&self.dir, NONCE_FILE, &text)
    }
}

fn append_synced(path: &Path, line: &str) -> std::io::Result<()> {
    let mut file = open_private(path, std::fs::OpenOptions::new().append(true).create(true))?;
    file.write_all(line.as_bytes())?;
    file.sync_data()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY_MS: i64 = 24 * 3600 * 1000;

    fn dir() -> (tempfile::TempDir, StateDir) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = StateDir::new(tmp.path());
        (tmp, dir)
    }

    #[test]
    fn a_recorded_nonce_is_used_after_reloading() {
        let (_tmp, dir) = dir();
        let now = Timestamp(100 * DAY_MS);
        let mut log = NonceLog::load(&dir, now).unwrap();
        assert!(log.is_empty());
        log.record(Nonce([1; 16]), now.plus(Duration::from_secs(60)))
            .unwrap();
        assert!(log.is_used(&Nonce([1; 16])));
        let reloaded = NonceLog::load(&dir, now).unwrap();
        assert!(reloaded.is_used(&Nonce([1; 16])));
        assert!(!reloaded.is_used(&Nonce([2; 16])));
    }

    #[test]
    fn long_expired_nonces_are_pruned_at_the_retention_boundary() {
        let (tmp, dir) = dir();
        let now = Timestamp(100 * DAY_MS);
        let retention = NONCE_RETENTION.as_millis() as i64;
        let kept_at_boundary = Timestamp(now.millis() - retention);
        let gone = Timestamp(now.millis() - retention - 1);
        let text =
            format_entry(&Nonce([1; 16]), kept_at_boundary) + &format_entry(&Nonce([2; 16]), gone);
        std::fs::write(tmp.path().join(NONCE_FILE), text).unwrap();
        let log = NonceLog::load(&dir, now).unwrap();
        assert!(log.is_used(&Nonce([1; 16])));
        assert!(!log.is_used(&Nonce([2; 16])));
        let on_disk = std::fs::read_to_string(tmp.path().join(NONCE_FILE)).unwrap();
        assert_eq!(on_disk, format_entry(&Nonce([1; 16]), kept_at_boundary));
    }

    #[test]
    fn a_torn_last_line_is_dropped_and_the_file_repaired() {
        let (tmp, dir) = dir();
        let now = Timestamp(DAY_MS);
        let good = format_entry(&Nonce([3; 16]), now);
        std::fs::write(tmp.path().join(NONCE_FILE), format!("{good}0a0b0c")).unwrap();
        let log = NonceLog::load(&dir, now).unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!(
            std::fs::read_to_string(tmp.path().join(NONCE_FILE)).unwrap(),
            good
        );
    }

    #[test]
    fn a_damaged_line_refuses_to_load_and_names_it() {
        let (tmp, dir) = dir();
        let now = Timestamp(DAY_MS);
        let good = format_entry(&Nonce([3; 16]), now);
        std::fs::write(
            tmp.path().join(NONCE_FILE),
            format!("{good}not a nonce\n{good}"),
        )
        .unwrap();
        let err = NonceLog::load(&dir, now).unwrap_err();
        assert!(matches!(err, AgentError::CorruptState { .. }), "{err}");
        assert!(err.to_string().contains("line 2 is damaged"), "{err}");
    }

    #[test]
    fn entries_parse_and_format_symmetrically() {
        let text = format_entry(&Nonce([0xab; 16]), Timestamp(42));
        assert_eq!(text, format!("{} 42\n", "ab".repeat(16)));
        assert_eq!(
            parse_entries(&text).unwrap(),
            Parsed {
                entries: vec![(Nonce([0xab; 16]), Timestamp(42))],
                torn_tail: false
            }
        );
        assert!(parse_entries("abab 42\n").is_err());
        assert!(parse_entries(&format!("{} soon\n", "ab".repeat(16))).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn the_log_is_private_to_the_owner() {
        use std::os::unix::fs::PermissionsExt;
        let (tmp, dir) = dir();
        let mut log = NonceLog::load(&dir, Timestamp(0)).unwrap();
        log.record(Nonce([5; 16]), Timestamp(1)).unwrap();
        let mode = std::fs::metadata(tmp.path().join(NONCE_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
