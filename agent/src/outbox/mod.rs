//! The offline outbox: every ticket and ticket update the agent makes is
//! first written here, then delivered, and deleted only once the relay has
//! acknowledged it (which it does after its store committed).
//!
//! ```text
//! <state dir>/outbox/
//!   00001718000000000000-employee-<ticket uuid>.msg   one message per file,
//!   00001718000000000123-update-<update uuid>.msg     in queue order by name
//!   corrupt/    files that could not be read (moved aside, logged loudly)
//!   refused/    messages the relay refused for good (logged)
//! ```
//!
//! A message is written to a temporary name, synced, renamed into place and
//! the directory synced, so a crash leaves either the whole message or none.
//! Every message carries the UUID made when it was queued (the ticket id, or
//! an update id), and the relay stores each id once: delivering a message
//! twice — after a lost acknowledgement, or by `help` and the daemon at the
//! same time — is harmless. Files that vanish mid-way are another process
//! having finished with them.
//!
//! The outbox holds at most `max` messages ([`MAX_OUTBOX_MESSAGES`] unless
//! `agent.toml` says otherwise); when full, the oldest health updates are
//! dropped first, then the oldest health-alert tickets, never an employee's
//! ticket (see [`policy::admit`]).

mod deliver;
mod message;
pub mod policy;
#[cfg(test)]
mod tests;

pub use deliver::{deliver_pending, is_permanent, Report};
pub use message::Message;
use message::{Envelope, FORMAT_VERSION};

use crate::error::AgentError;
use crate::state::{open_private, sync_dir};
use policy::{Admission, Kind, Name};
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use tracing::{error, warn};
use triage_shared::codec::{decode_frame, encode};
use triage_shared::limits::MAX_FRAME_LEN;

/// The outbox directory, inside the state directory.
pub const OUTBOX_DIR: &str = "outbox";
/// Where unreadable message files are moved.
pub const CORRUPT_DIR: &str = "corrupt";
/// Where messages the relay refused for good are moved.
pub const REFUSED_DIR: &str = "refused";
/// Messages the outbox holds unless `agent.toml` (`[outbox] max_messages`) says otherwise.
pub const MAX_OUTBOX_MESSAGES: usize = 1000;
/// The largest `max_messages` that may be configured.
pub const OUTBOX_MESSAGES_CEILING: usize = 100_000;
/// Temporary files (a message being written) start with this.
const TEMP_PREFIX: &str = ".tmp-";
/// Temporary files older than this are left over from a crash.
pub const STALE_TEMP_AGE: Duration = Duration::from_secs(3600);
/// Largest message file read: one frame and its length prefix.
pub const MAX_MESSAGE_FILE_LEN: u64 = MAX_FRAME_LEN as u64 + 4;

/// A message file waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub file_name: String,
    name: Name,
}

impl Pending {
    pub fn kind(&self) -> Kind {
        self.name.kind
    }
}

/// What reading a pending message found.
#[derive(Debug)]
pub enum Loaded {
    Message(Box<Message>),
    /// Another process delivered (or moved) it meanwhile.
    Vanished,
    Corrupt(String),
}

/// The result of queueing a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Queued {
    /// Queued under this file name, after dropping these older messages.
    Queued {
        file_name: String,
        dropped: Vec<String>,
    },
    /// The outbox is full and this health message was not kept.
    Dropped,
}

/// The outbox of one state directory.
#[derive(Debug, Clone)]
pub struct Outbox {
    dir: PathBuf,
    max: usize,
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> AgentError {
    let path = path.to_path_buf();
    move |error| AgentError::StateIo {
        action,
        path,
        error,
    }
}

/// How many messages wait in `state_dir`'s outbox (0 when it has none).
pub fn pending_count(state_dir: &Path) -> Result<usize, AgentError> {
    Outbox::at(state_dir, MAX_OUTBOX_MESSAGES)
        .pending()
        .map(|p| p.len())
}

impl Outbox {
    fn at(state_dir: &Path, max: usize) -> Outbox {
        Outbox {
            dir: state_dir.join(OUTBOX_DIR),
            max,
        }
    }

    /// Opens (creating, owner-only) the outbox of `state_dir`, holding at most `max` messages.
    pub fn open(state_dir: &Path, max: usize) -> Result<Outbox, AgentError> {
        let outbox = Outbox::at(state_dir, max);
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(&outbox.dir)
            .map_err(io("create the outbox", &outbox.dir))?;
        Ok(outbox)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Messages waiting, oldest first. A missing directory holds none.
    pub fn pending(&self) -> Result<Vec<Pending>, AgentError> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io("list", &self.dir)(e)),
        };
        let mut pending: Vec<Pending> = entries
            .filter_map(|entry| entry.ok())
            .filter_map(|entry| {
                let file_name = entry.file_name().into_string().ok()?;
                let name = Name::parse(&file_name)?;
                Some(Pending { file_name, name })
            })
            .collect();
        pending.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(pending)
    }

    /// Writes `message` durably, making room by the drop policy first.
    /// An employee ticket that finds the outbox full of employee tickets is
    /// refused ([`AgentError::OutboxFull`]); nothing is dropped for it.
    pub fn push(&self, message: &Message) -> Result<Queued, AgentError> {
        let pending = self.pending()?;
        let kinds: Vec<Kind> = pending.iter().map(Pending::kind).collect();
        let kind = message.kind();
        let mut dropped = Vec::new();
        match policy::admit(&kinds, kind, self.max) {
            Admission::Refuse => {
                return Err(AgentError::OutboxFull {
                    dir: self.dir.clone(),
                    max: self.max,
                })
            }
            Admission::DropNew => {
                warn!(
                    max = self.max,
                    "the outbox is full; a new health message was dropped"
                );
                return Ok(Queued::Dropped);
            }
            Admission::Accept { drop } => {
                for i in drop {
                    let victim = &pending[i];
                    warn!(file = %victim.file_name, max = self.max, "the outbox is full; dropped an older health message to make room");
                    self.remove(victim)?;
                    dropped.push(victim.file_name.clone());
                }
            }
        }
        let seq = policy::next_seq(now_micros(), pending.last().map(|p| p.name.seq));
        let name = Name {
            seq,
            kind,
            id: message.id(),
        };
        let file_name = name.file_name();
        let frame = encode(&Envelope::new(message.clone())).map_err(|e| {
            io("write", &self.dir.join(&file_name))(std::io::Error::other(e.to_string()))
        })?;
        self.write_durably(&file_name, &frame)?;
        Ok(Queued::Queued { file_name, dropped })
    }

    fn write_durably(&self, file_name: &str, bytes: &[u8]) -> Result<(), AgentError> {
        let target = self.dir.join(file_name);
        let tmp = self
            .dir
            .join(format!(".tmp-{}", uuid::Uuid::new_v4().simple()));
        let write = || -> std::io::Result<()> {
            let mut file = open_private(&tmp, fs::OpenOptions::new().write(true).create_new(true))?;
            file.write_all(bytes)?;
            file.sync_all()?;
            fs::rename(&tmp, &target)
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            io("write", &target)(e)
        })?;
        sync_dir(&self.dir);
        Ok(())
    }

    /// Reads a pending message; never fails for a file that went away or is damaged.
    pub fn read(&self, pending: &Pending) -> Loaded {
        let path = self.dir.join(&pending.file_name);
        let file = match fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Loaded::Vanished,
            Err(e) => return Loaded::Corrupt(format!("cannot open: {e}")),
        };
        let mut bytes = Vec::new();
        if let Err(e) = file.take(MAX_MESSAGE_FILE_LEN + 1).read_to_end(&mut bytes) {
            return Loaded::Corrupt(format!("cannot read: {e}"));
        }
        if bytes.len() as u64 > MAX_MESSAGE_FILE_LEN {
            return Loaded::Corrupt(format!("larger than {MAX_MESSAGE_FILE_LEN} bytes"));
        }
        let envelope: Envelope = match decode_frame(&bytes) {
            Ok(envelope) => envelope,
            Err(e) => return Loaded::Corrupt(e.to_string()),
        };
        if envelope.version != FORMAT_VERSION {
            return Loaded::Corrupt(format!("unknown format version {}", envelope.version));
        }
        if envelope.message.id() != pending.name.id || envelope.message.kind() != pending.name.kind
        {
            return Loaded::Corrupt("the file's name does not match its message".into());
        }
        match envelope.message.validate() {
            Ok(()) => Loaded::Message(Box::new(envelope.message)),
            Err(problem) => Loaded::Corrupt(format!("invalid message: {problem}")),
        }
    }

    /// Deletes a delivered message; one already gone is fine.
    pub fn remove(&self, pending: &Pending) -> Result<(), AgentError> {
        let path = self.dir.join(&pending.file_name);
        match fs::remove_file(&path) {
            Ok(()) => {
                sync_dir(&self.dir);
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io("remove", &path)(e)),
        }
    }

    /// Moves a message into `corrupt/` or `refused/`, logging why, loudly.
    /// Never fails: a message that cannot be moved is logged and left.
    pub fn set_aside(&self, pending: &Pending, into: &'static str, why: &str) {
        let aside = self.dir.join(into);
        let from = self.dir.join(&pending.file_name);
        let moved = fs::create_dir_all(&aside)
            .and_then(|()| fs::rename(&from, aside.join(&pending.file_name)));
        match moved {
            Ok(()) => {
                sync_dir(&self.dir);
                error!(file = %pending.file_name, moved_to = %aside.display(), reason = why, "OUTBOX MESSAGE SET ASIDE: it will not be sent");
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                error!(file = %from.display(), reason = why, error = %e, "an outbox message could not be set aside");
            }
        }
    }

    /// Whether a message that is no longer pending was set aside.
    pub fn was_set_aside(&self, file_name: &str) -> bool {
        [CORRUPT_DIR, REFUSED_DIR]
            .iter()
            .any(|d| self.dir.join(d).join(file_name).exists())
    }

    /// Removes temporary files a crash left behind (older than `older_than`,
    /// so a write in progress in another process is never touched).
    /// Returns how many went.
    pub fn sweep_stale_temps(&self, older_than: Duration) -> usize {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return 0;
        };
        let now = SystemTime::now();
        let mut removed = 0;
        for entry in entries.filter_map(|e| e.ok()) {
            let stale = entry
                .file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(TEMP_PREFIX))
                && entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .is_ok_and(|at| now.duration_since(at).unwrap_or_default() >= older_than);
            if stale && fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
        if removed > 0 {
            warn!(removed, "removed unfinished outbox writes left by a crash");
        }
        removed
    }
}

fn now_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}
