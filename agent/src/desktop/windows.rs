//! Windows: the same protocol over a named pipe ([`super::PIPE_NAME`]).
//!
//! Kept apart and small: it is compiled only on Windows and not tested
//! here. The pipe refuses remote clients and keeps the default security
//! descriptor, which lets only the daemon's own account (LocalSystem for
//! the service) and administrators open it for writing; Windows has no uid
//! to check, so connections are filed under the daemon's account. Letting
//! the signed-in user's window in needs a DACL naming that user: a
//! follow-up, tracked with the Windows service packaging.

use super::connection::{serve_connection, DesktopService};
use super::peer::Peer;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use tokio::net::windows::named_pipe::{ClientOptions, NamedPipeClient, ServerOptions};
use tokio::task::JoinSet;
use tracing::{info, warn};

/// Serves the pipe `name` until `shutdown` completes.
pub async fn serve(
    name: &Path,
    service: Arc<DesktopService>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut shutdown = std::pin::pin!(shutdown);
    let mut connections = JoinSet::new();
    let mut server = ServerOptions::new()
        .first_pipe_instance(true)
        .reject_remote_clients(true)
        .create(name)?;
    info!(pipe = %name.display(), "serving the Get help window");
    loop {
        tokio::select! {
            _ = shutdown.as_mut() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            connected = server.connect() => {
                if let Err(e) = connected {
                    warn!(error = %e, "a Get help window could not connect");
                    continue;
                }
                // The next client needs an instance waiting before this one is handed off.
                let next = ServerOptions::new().reject_remote_clients(true).create(name)?;
                let stream = std::mem::replace(&mut server, next);
                if connections.len() >= super::connection::MAX_DESKTOP_CONNECTIONS {
                    warn!("too many Get help window connections; refusing one");
                    continue;
                }
                let peer = Peer {
                    uid: None,
                    account: crate::host::current_requester(),
                };
                connections.spawn(serve_connection(stream, peer, service.clone()));
            }
        }
    }
    connections.shutdown().await;
    Ok(())
}

/// Opens the pipe `name` as a window.
pub async fn connect(name: &Path) -> Result<NamedPipeClient, super::client::DesktopError> {
    ClientOptions::new().open(name).map_err(|error| {
        if error.kind() == std::io::ErrorKind::NotFound {
            super::client::DesktopError::NotRunning {
                path: name.to_path_buf(),
            }
        } else {
            super::client::DesktopError::Io {
                path: name.to_path_buf(),
                error,
            }
        }
    })
}
