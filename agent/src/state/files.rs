//! File primitives for the state directory: bounded reads and atomic,
//! durable writes. Every state file goes through these two functions.

use crate::error::AgentError;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Reads a whole text file of at most `max` bytes; a missing file (or
/// directory) is `None`. A larger file or one that is not UTF-8 is corrupt.
pub(crate) fn read_capped(path: &Path, max: u64) -> Result<Option<String>, AgentError> {
    let io = |error| AgentError::StateIo {
        action: "read",
        path: path.to_path_buf(),
        error,
    };
    let file = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(io(error)),
    };
    let mut bytes = Vec::new();
    file.take(max + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > max {
        return Err(AgentError::CorruptState {
            path: path.to_path_buf(),
            problem: format!("larger than {max} bytes"),
        });
    }
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| AgentError::CorruptState {
            path: path.to_path_buf(),
            problem: "not text".into(),
        })
}

/// Replaces `dir/name` with `contents`: written to a private temporary file
/// in the same directory, synced, then renamed into place, so a crash never
/// leaves half a file behind.
pub(crate) fn write_atomic(dir: &Path, name: &str, contents: &str) -> Result<(), AgentError> {
    let target = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    // A leftover from a crash would keep its old mode if reopened; start clean.
    let _ = fs::remove_file(&tmp);
    let write = || -> std::io::Result<()> {
        let mut file = open_private(&tmp, fs::OpenOptions::new().write(true).create_new(true))?;
        file.write_all(contents.as_bytes())?;
        file.sync_all()?;
        fs::rename(&tmp, &target)
    };
    write().map_err(|error| {
        let _ = fs::remove_file(&tmp);
        AgentError::StateIo {
            action: "write",
            path: target.clone(),
            error,
        }
    })?;
    sync_dir(dir);
    Ok(())
}

/// Opens with `options`, creating the file readable by its owner only.
pub(crate) fn open_private(
    path: &Path,
    options: &mut fs::OpenOptions,
) -> std::io::Result<fs::File> {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(options, 0o600);
    options.open(path)
}

/// Makes a rename or a new file in `dir` durable where the platform allows it.
pub(crate) fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Removes `path`; a file that is already gone is fine.
pub(crate) fn remove_if_present(path: PathBuf) -> Result<(), AgentError> {
    match fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(AgentError::StateIo {
            action: "remove",
            path,
            error,
        }),
    }
}
