//! What the log pull and screenshot tests share: agents with an
//! allow-listed log directory, big pseudo-random files and their digests,
//! a writer to watch while a command runs, and child processes that die
//! with the test.

use crate::{Agent, Deployment};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use triage_shared::transfer::{ContentDigest, ContentHasher};

pub const MIB: u64 = 1024 * 1024;

/// Writes `<state>/agent.toml`; the daemon reads it when it starts.
pub fn write_agent_toml(agent: &Agent, text: &str) {
    std::fs::write(agent.state_dir.join("agent.toml"), text).expect("agent.toml written");
}

/// An agent whose only allow-listed log directory is a fresh temp dir.
pub async fn agent_with_log_dir(d: &Deployment, name: &str, extra: &str) -> (Agent, PathBuf) {
    let agent = d.enroll_agent(name).await;
    let logs = d.dir.path().join(format!("logs-{name}"));
    std::fs::create_dir_all(&logs).expect("log dir");
    // Canonical, so messages and the agent's resolved names match what we expect.
    let logs = std::fs::canonicalize(&logs).expect("log dir resolves");
    write_agent_toml(
        &agent,
        &format!("log_paths = [\"{}\"]\n{extra}", logs.display()),
    );
    (agent, logs)
}

pub fn partial_of(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(".partial");
    PathBuf::from(name)
}

/// SHA-256 of a file, read in pieces.
pub fn digest_of_file(path: &Path) -> (u64, ContentDigest) {
    use std::io::Read;
    let mut file = std::fs::File::open(path).expect("file to hash");
    let mut hasher = ContentHasher::default();
    let mut buf = vec![0u8; MIB as usize];
    loop {
        let n = file.read(&mut buf).expect("read file to hash");
        if n == 0 {
            return hasher.finish();
        }
        hasher.update(&buf[..n]);
    }
}

/// Writes `mib` MiB of pseudo-random bytes (one random MiB, each copy
/// stamped with its index so no two MiB are alike) and returns its digest.
pub fn write_pseudo_random(path: &Path, mib: u64) -> ContentDigest {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut block = vec![0u8; MIB as usize];
    for word in block.chunks_exact_mut(8) {
        // xorshift64*
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        word.copy_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).expect("create big log"));
    let mut hasher = ContentHasher::default();
    for i in 0..mib {
        block[..8].copy_from_slice(&i.to_le_bytes());
        block[MIB as usize - 8..].copy_from_slice(&(!i).to_le_bytes());
        file.write_all(&block).expect("write big log");
        hasher.update(&block);
    }
    file.flush().expect("flush big log");
    hasher.finish().1
}

/// A field of /proc/self/status, in bytes.
pub fn proc_status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"));
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("unreadable {line}"));
    kib * 1024
}

/// A local syslog stamp (`Mar  5 09:04:01`) `ago` before now.
pub fn syslog_stamp(ago: chrono::Duration) -> String {
    (chrono::Local::now() - ago)
        .format("%b %e %H:%M:%S")
        .to_string()
}

/// An ISO-8601 UTC stamp `ago` before now.
pub fn iso_stamp(ago: chrono::Duration) -> String {
    (chrono::Utc::now() - ago)
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// A writer whose bytes a test can watch while a command is still running.
#[derive(Clone, Default)]
pub struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl SharedBuf {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for SharedBuf {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub fn parse_cli(home: &Path, args: &[&str]) -> triage_cli::Cli {
    use clap::Parser;
    let mut argv = vec![
        "triage".to_string(),
        "--home".into(),
        home.display().to_string(),
    ];
    argv.extend(args.iter().map(|a| a.to_string()));
    triage_cli::Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("bad arguments {argv:?}: {e}"))
}

pub fn mkfifo(path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path that outlives the call.
    let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o644) };
    assert_eq!(rc, 0, "mkfifo {}", path.display());
}

/// A child process killed when the test ends, however it ends.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
