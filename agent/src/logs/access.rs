//! Which files a technician may pull: only regular files under the
//! configured allow-list (`log_paths` in agent.toml), decided on the path
//! with every symlink and `..` resolved, and checked again on the file
//! actually opened.
//!
//! ```text
//! requested ─► absolute? ─► canonicalize ─► under an allowed root? ─► stat: regular file?
//!     ─► open(O_NOFOLLOW | O_NONBLOCK) ─► fstat: regular file? ─► (Linux) /proc/self/fd: still under a root?
//! ```
//!
//! `O_NONBLOCK` keeps a FIFO that slipped in between the checks from
//! blocking the agent on open; `O_NOFOLLOW` refuses a last component that
//! became a symlink after it was resolved. A path that does not resolve is
//! reported missing only when it would have been inside the allow-list,
//! so refusals say nothing about files elsewhere.

use std::fs::File;
use std::io;
use std::path::{Component, Path, PathBuf};
use triage_shared::error::{ErrorKind, RemoteError};

/// The allowed roots, resolved once per request.
#[derive(Debug, Clone)]
pub struct AllowList {
    /// Each configured root with its symlinks resolved; roots that do not
    /// exist are left out (nothing under them can be opened anyway).
    roots: Vec<PathBuf>,
    /// The roots as configured, for messages and for lexical checks.
    configured: Vec<PathBuf>,
}

/// A file that passed every check, open for reading.
#[derive(Debug)]
pub struct OpenedLog {
    pub file: File,
    /// The resolved path that was opened.
    pub path: PathBuf,
    /// Its length when it was opened.
    pub len: u64,
    pub identity: FileIdentity,
}

/// Device and inode: tells a rotated file from the one still open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileIdentity {
    dev: u64,
    ino: u64,
}

impl FileIdentity {
    pub fn of(meta: &std::fs::Metadata) -> Self {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            FileIdentity {
                dev: meta.dev(),
                ino: meta.ino(),
            }
        }
        #[cfg(not(unix))]
        {
            let _ = meta;
            FileIdentity { dev: 0, ino: 0 }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LogRefusal {
    #[error(
        "`{0}` is not an absolute path; give the full path of a log file, e.g. /var/log/syslog"
    )]
    NotAbsolute(String),
    #[error("journal pseudo-paths (`{0}`) are not served by this agent; pull a file under its log allow-list instead")]
    Journal(String),
    #[error("this endpoint allows no log files (its agent.toml sets `log_paths` to nothing that exists)")]
    NothingAllowed,
    #[error("{requested} does not exist on this endpoint")]
    Missing { requested: String },
    #[error("{requested} is outside this endpoint's log allow-list ({allowed}); ask for a file under it, or have the endpoint's admin add a directory to `log_paths` in agent.toml")]
    Outside { requested: String, allowed: String },
    #[error("{path} is a {kind}, not a regular file; only regular files can be pulled")]
    NotRegular { path: String, kind: &'static str },
    #[error("the agent cannot read {path}: {problem}")]
    Unreadable { path: String, problem: String },
}

impl LogRefusal {
    pub fn to_remote(&self) -> RemoteError {
        let kind = match self {
            LogRefusal::NotAbsolute(_) | LogRefusal::Journal(_) => ErrorKind::InvalidInput,
            LogRefusal::Missing { .. } => ErrorKind::NotFound,
            LogRefusal::NothingAllowed
            | LogRefusal::Outside { .. }
            | LogRefusal::NotRegular { .. } => ErrorKind::Forbidden,
            LogRefusal::Unreadable { .. } => ErrorKind::Unavailable,
        };
        RemoteError::new(kind, self.to_string())
    }
}

impl AllowList {
    pub fn new(configured: &[PathBuf]) -> AllowList {
        let roots = configured
            .iter()
            .filter_map(|root| match std::fs::canonicalize(root) {
                Ok(resolved) => Some(resolved),
                Err(e) => {
                    tracing::debug!(root = %root.display(), error = %e, "an allowed log root does not resolve; skipping it");
                    None
                }
            })
            .collect();
        AllowList {
            roots,
            configured: configured.to_vec(),
        }
    }

    fn describe(&self) -> String {
        let names: Vec<String> = self
            .configured
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        if names.is_empty() {
            "nothing".into()
        } else {
            names.join(", ")
        }
    }

    fn contains(&self, resolved: &Path) -> bool {
        self.roots.iter().any(|root| resolved.starts_with(root))
    }

    /// Whether `path`, with `..` and `.` taken away by spelling alone,
    /// lies under a root as configured or as resolved.
    fn lexically_inside(&self, path: &Path) -> bool {
        let normal = normalize(path);
        self.roots
            .iter()
            .chain(self.configured.iter())
            .any(|root| normal.starts_with(normalize(root)))
    }

    fn outside(&self, requested: &str) -> LogRefusal {
        LogRefusal::Outside {
            requested: requested.to_string(),
            allowed: self.describe(),
        }
    }

    /// Resolves and opens `requested`, or says why not.
    pub fn open(&self, requested: &str) -> Result<OpenedLog, LogRefusal> {
        if requested.starts_with("journal:") {
            return Err(LogRefusal::Journal(requested.to_string()));
        }
        let path = Path::new(requested);
        if !path.is_absolute() {
            return Err(LogRefusal::NotAbsolute(requested.to_string()));
        }
        if self.roots.is_empty() {
            return Err(LogRefusal::NothingAllowed);
        }
        let resolved = match std::fs::canonicalize(path) {
            Ok(resolved) => resolved,
            Err(_) if !self.lexically_inside(path) => return Err(self.outside(requested)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(LogRefusal::Missing {
                    requested: requested.to_string(),
                })
            }
            Err(e) => {
                return Err(LogRefusal::Unreadable {
                    path: requested.to_string(),
                    problem: e.to_string(),
                })
            }
        };
        if !self.contains(&resolved) {
            return Err(self.outside(requested));
        }
        let shown = resolved.display().to_string();
        let unreadable = |e: io::Error| LogRefusal::Unreadable {
            path: shown.clone(),
            problem: e.to_string(),
        };
        // Refuse sockets, devices and FIFOs before opening them at all.
        let meta = std::fs::symlink_metadata(&resolved).map_err(unreadable)?;
        regular(&meta, &shown)?;
        let file = open_no_follow(&resolved).map_err(|e| {
            if is_symlink_loop(&e) {
                // The last component became a symlink after it was resolved.
                self.outside(requested)
            } else {
                unreadable(e)
            }
        })?;
        let meta = file.metadata().map_err(unreadable)?;
        regular(&meta, &shown)?;
        if let Some(actual) = opened_path(&file) {
            if !self.contains(&actual) {
                return Err(self.outside(requested));
            }
        }
        Ok(OpenedLog {
            identity: FileIdentity::of(&meta),
            len: meta.len(),
            file,
            path: resolved,
        })
    }
}

fn regular(meta: &std::fs::Metadata, path: &str) -> Result<(), LogRefusal> {
    if meta.is_file() {
        return Ok(());
    }
    Err(LogRefusal::NotRegular {
        path: path.to_string(),
        kind: file_kind(meta),
    })
}

fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        return "directory";
    }
    if t.is_symlink() {
        return "symbolic link";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "FIFO";
        }
        if t.is_socket() {
            return "socket";
        }
        if t.is_char_device() || t.is_block_device() {
            return "device";
        }
    }
    "special file"
}

/// `..` and `.` removed by spelling alone (no file system access).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[cfg(unix)]
fn open_no_follow(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
}

#[cfg(not(unix))]
fn open_no_follow(path: &Path) -> io::Result<File> {
    File::open(path)
}

fn is_symlink_loop(e: &io::Error) -> bool {
    #[cfg(unix)]
    {
        e.raw_os_error() == Some(libc::ELOOP)
    }
    #[cfg(not(unix))]
    {
        let _ = e;
        false
    }
}

/// Where the open file really is, when the platform can say (Linux): a
/// directory swapped for a symlink between the checks shows up here.
#[cfg(target_os = "linux")]
fn opened_path(file: &File) -> Option<PathBuf> {
    use std::os::fd::AsRawFd;
    std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())).ok()
}

#[cfg(not(target_os = "linux"))]
fn opened_path(_file: &File) -> Option<PathBuf> {
    None
}

#[cfg(all(test, unix))]
#[path = "access_tests.rs"]
mod tests;
