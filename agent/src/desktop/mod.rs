//! The local socket between the agent daemon and the "Get help" window.
//!
//! ```text
//!  user's desktop session                       agent daemon (maybe root, no display)
//!  ┌──────────────────────┐  Unix socket        ┌───────────────────────────────────────┐
//!  │ triage-agent gui     │  (named pipe on     │ server: accept ─► peer uid allowed?    │
//!  │  (client.rs)         │   Windows)          │   (peer.rs: SO_PEERCRED, own uid,      │
//!  │  Hello ─────────────────────────────────► │    root, agent.toml desktop_users)     │
//!  │  FileTicket ────────────────────────────► │ connection: title, requester = the     │
//!  │                      │                     │   peer's account → help::file_ticket   │
//!  │                      │                     │   (snapshot, outbox: ticket, screenshot)│
//!  │  MyTickets ─────────────────────────────► │   one-shot relay session: MyTickets    │
//!  │  ServeConsent ──────────────────────────► │ consent.rs registry ◄── screenshot.rs  │
//!  │  ◄── ConsentRequest / ConsentAnswer ──►   │   (a technician's `triage screenshot`) │
//!  └──────────────────────┘                     └───────────────────────────────────────┘
//! ```
//!
//! - [`protocol`]: the messages; [`frame`]: length-prefixed bincode frames
//!   of at most [`protocol::MAX_DESKTOP_FRAME_LEN`].
//! - [`peer`]: who is connecting and whether they may (a pure check, plus
//!   the uid and account lookups).
//! - [`server`]: the listener and its limits; [`connection`]: one
//!   connection, generic over the byte stream (tested over in-memory pipes
//!   too); [`form`]: a form becomes a help request; `requests`: filing
//!   and "My tickets".
//! - [`consent`]: the windows that can be asked for screenshot consent;
//!   [`seat`]: whose window that is (the ticket's requester, or the
//!   console user).
//! - [`client`]: the window's side; [`render`]: "My tickets" as text.
//!
//! The window never talks to the relay: the daemon adds the diagnostics
//! snapshot, files through the outbox, and names the requester from the
//! peer's uid, so what a window claims about its user is never used.
//!
//! Where the socket is: agent.toml `desktop_socket`, else
//! `<state dir>/desktop.sock` ([`default_socket_path`]). A window that is
//! not told looks at its own default state directory, then
//! [`SYSTEM_SOCKET`], then the system state directory ([`locate_socket`]).

pub mod client;
pub mod connection;
pub mod consent;
mod employee;
pub mod form;
pub mod frame;
pub mod peer;
pub mod protocol;
pub mod render;
mod requests;
pub mod seat;
mod self_service;
pub use requests::{MY_TICKETS_TIMEOUT, RELAY_UNREACHABLE};
#[cfg(unix)]
pub mod server;
#[cfg(all(test, unix))]
mod tests;
#[cfg(windows)]
pub mod windows;

use crate::config::AgentConfig;
use crate::state::{default_state_dir, StateDir, SYSTEM_STATE_DIR};
use std::path::{Path, PathBuf};

/// The socket's file name in the state directory.
pub const SOCKET_FILE: &str = "desktop.sock";
/// Where a system-wide daemon should put its socket (agent.toml
/// `desktop_socket`), since its state directory is closed to other users.
pub const SYSTEM_SOCKET: &str = "/run/triage-agent/desktop.sock";
/// Longest socket path: `sun_path` holds 104 bytes on macOS (108 on
/// Linux), one of them the terminating NUL.
pub const MAX_SOCKET_PATH_LEN: usize = 103;
/// The named pipe on Windows (a pipe name, not a file).
pub const PIPE_NAME: &str = r"\\.\pipe\triage-agent-desktop";

/// The socket of the daemon that keeps its state in `state_dir`, when
/// agent.toml does not say otherwise. On Windows: the pipe name.
pub fn default_socket_path(state_dir: &Path) -> PathBuf {
    if cfg!(windows) {
        PathBuf::from(PIPE_NAME)
    } else {
        state_dir.join(SOCKET_FILE)
    }
}

/// The socket the daemon with `config` listens on.
pub fn socket_path(state_dir: &Path, config: &AgentConfig) -> PathBuf {
    config
        .desktop_socket
        .clone()
        .unwrap_or_else(|| default_socket_path(state_dir))
}

/// The socket for `state_dir`, reading its agent.toml when this user can
/// (a window often cannot read a root daemon's settings; then the default).
pub fn resolve_socket_path(state_dir: &Path) -> PathBuf {
    match AgentConfig::load(&StateDir::new(state_dir)) {
        Ok(config) => socket_path(state_dir, &config),
        Err(_) => default_socket_path(state_dir),
    }
}

/// Where a window finds the daemon: under `state_dir` when given; else the
/// first socket that exists of this user's default state directory,
/// [`SYSTEM_SOCKET`] and the system state directory (the first of them
/// when none does, so the "not running" message names the likely place).
pub fn locate_socket(state_dir: Option<&Path>) -> PathBuf {
    if let Some(dir) = state_dir {
        return resolve_socket_path(dir);
    }
    if cfg!(windows) {
        return PathBuf::from(PIPE_NAME);
    }
    let candidates = [
        resolve_socket_path(&default_state_dir()),
        PathBuf::from(SYSTEM_SOCKET),
        resolve_socket_path(Path::new(SYSTEM_STATE_DIR)),
    ];
    candidates
        .iter()
        .find(|p| p.exists())
        .unwrap_or(&candidates[0])
        .clone()
}

/// Checks agent.toml `desktop_socket`.
pub fn check_socket_path(text: &str) -> Result<PathBuf, String> {
    if cfg!(windows) {
        if !text.starts_with(r"\\.\pipe\") || text.len() > 256 {
            return Err(format!(
                "`{text}` is not a pipe name; use one like {PIPE_NAME}"
            ));
        }
        return Ok(PathBuf::from(text));
    }
    let path = PathBuf::from(text);
    if !path.is_absolute() {
        return Err(format!(
            "`{text}` is not an absolute path; use one like {SYSTEM_SOCKET}"
        ));
    }
    if text.len() > MAX_SOCKET_PATH_LEN {
        return Err(format!(
            "is {} bytes; a socket path may be at most {MAX_SOCKET_PATH_LEN}",
            text.len()
        ));
    }
    Ok(path)
}
