//! The Unix listener: one task per connection, at most
//! [`MAX_DESKTOP_CONNECTIONS`] at once, each let in only after the peer
//! check.
//!
//! ```text
//! bind: a live daemon on the path ──► InUse (refuse to steal it)
//!       a stale socket file       ──► removed, bound anew
//!       any other file            ──► NotASocket (never deleted)
//!       then chmod 0666: any local user may connect; the uid check decides
//! accept ─► peer uid (kernel) ─► check_peer ──no──► Error(refusal), close
//!              │ yes
//!              ├─ MAX_DESKTOP_CONNECTIONS open ──► Error(busy), close
//!              └─ task: account name (getpwuid_r) ─► connection::serve_connection
//! shutdown ─► stop accepting, end every connection, remove the socket file
//! ```
//!
//! The socket file is world-writable on purpose: windows of every allowed
//! user must reach it, and file modes cannot express "these uids". The
//! kernel-reported peer uid is the gate ([`super::peer`]).

pub use super::connection::MAX_DESKTOP_CONNECTIONS;
use super::connection::{serve_connection, DesktopService};
use super::frame::write_frame;
use super::peer::{account_name, check_peer, peer_uid, Peer};
use super::protocol::DesktopReply;
use std::future::Future;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{UnixListener, UnixStream};
use tokio::task::JoinSet;
use tracing::{debug, info, warn, Instrument};

/// How long a refused peer gets to read why.
const REFUSAL_WRITE_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum DesktopServerError {
    #[error("another Triage agent is already serving the Get help window at {}; stop it first, or set `desktop_socket` in agent.toml", path.display())]
    InUse { path: PathBuf },
    #[error("{} exists and is not a socket; it was left alone: move it away, or set `desktop_socket` in agent.toml", path.display())]
    NotASocket { path: PathBuf },
    #[error("cannot {action} {}: {error}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> DesktopServerError {
    let path = path.to_path_buf();
    move |error| DesktopServerError::Io {
        action,
        path,
        error,
    }
}

/// A bound socket, ready to serve.
#[derive(Debug)]
pub struct DesktopListener {
    listener: UnixListener,
    path: PathBuf,
}

impl DesktopListener {
    /// Binds `path`, replacing a stale socket left by a daemon that died,
    /// and makes it reachable by every local user (see the module docs).
    /// A missing parent directory is created, readable by everyone.
    pub fn bind(path: &Path) -> Result<DesktopListener, DesktopServerError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            if !parent.exists() {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o755)
                    .create(parent)
                    .map_err(io("create the directory", parent))?;
            }
        }
        match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_socket() => {
                if std::os::unix::net::UnixStream::connect(path).is_ok() {
                    return Err(DesktopServerError::InUse {
                        path: path.to_path_buf(),
                    });
                }
                info!(path = %path.display(), "removing the stale socket of an earlier daemon");
                std::fs::remove_file(path).map_err(io("remove the stale socket", path))?;
            }
            Ok(_) => {
                return Err(DesktopServerError::NotASocket {
                    path: path.to_path_buf(),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io("inspect", path)(e)),
        }
        let listener = UnixListener::bind(path).map_err(io("listen on", path))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))
            .map_err(io("open up", path))?;
        Ok(DesktopListener {
            listener,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Serves until `shutdown` completes, then ends every connection and
    /// removes the socket file.
    pub async fn serve(self, service: Arc<DesktopService>, shutdown: impl Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut connections = JoinSet::new();
        info!(path = %self.path.display(), "serving the Get help window");
        loop {
            tokio::select! {
                _ = shutdown.as_mut() => break,
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _)) => admit(stream, &service, &mut connections),
                    Err(e) => {
                        // Out of file descriptors, most likely: wait a little.
                        warn!(error = %e, "cannot accept a Get help window connection");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
            }
        }
        connections.shutdown().await;
        remove_socket(&self.path);
    }
}

/// Lets `stream` in, or tells it why not.
fn admit(stream: UnixStream, service: &Arc<DesktopService>, connections: &mut JoinSet<()>) {
    let uid = match peer_uid(&stream) {
        Ok(uid) => uid,
        Err(e) => {
            warn!(error = %e, "cannot tell who connected to the Get help socket; refusing");
            return;
        }
    };
    if let Err(refusal) = check_peer(uid, service.allowed()) {
        warn!(
            uid,
            "refused a Get help window of a user this agent does not serve"
        );
        refuse(stream, refusal.to_string());
        return;
    }
    if connections.len() >= MAX_DESKTOP_CONNECTIONS {
        warn!(uid, "too many Get help window connections; refusing one");
        refuse(
            stream,
            format!("the Triage agent is already serving {MAX_DESKTOP_CONNECTIONS} windows; try again shortly"),
        );
        return;
    }
    let service = service.clone();
    let span = tracing::info_span!("desktop", uid);
    connections.spawn(
        async move {
            // Name lookups may go to a directory service: off the runtime.
            let account = tokio::task::spawn_blocking(move || account_name(uid))
                .await
                .unwrap_or_else(|_| super::peer::uid_fallback(uid));
            debug!(%account, "a Get help window connected");
            let peer = Peer {
                uid: Some(uid),
                account,
            };
            serve_connection(stream, peer, service).await;
        }
        .instrument(span),
    );
}

/// Sends `why` and closes, on a short-lived task of its own, so that a
/// refused peer can never hold up the accept loop.
fn refuse(mut stream: UnixStream, why: String) {
    tokio::spawn(async move {
        let reply = DesktopReply::Error(why);
        let _ = tokio::time::timeout(REFUSAL_WRITE_TIMEOUT, write_frame(&mut stream, &reply)).await;
    });
}

/// Removes the socket file, if it still is one.
fn remove_socket(path: &Path) {
    let is_socket = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket());
    if is_socket {
        if let Err(e) = std::fs::remove_file(path) {
            warn!(path = %path.display(), error = %e, "cannot remove the Get help socket");
        }
    }
}
