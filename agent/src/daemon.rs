//! The daemon: stay connected to the relay, say we are alive, answer what the
//! relay routes to us, and stop cleanly when asked.
//!
//! ```text
//! loop:
//!   connect ──fail──► log, wait backoff(attempt++) ──► connect
//!      │ ok (attempt = 0)
//!      ▼
//!   drive: heartbeat every HEARTBEAT_INTERVAL
//!          accept relay-opened streams → serve::serve_stream (one task each,
//!          sharing one serve::Endpoint: trust, config, used nonces)
//!          until the connection drops (→ wait backoff, reconnect)
//!          or shutdown completes (→ close with a reason, return)
//! ```
//!
//! Next to the connection run the clock-floor keeper (the latest time
//! seen is saved every [`CLOCK_FLOOR_SAVE_INTERVAL`]), the health monitor
//! (connected or not), the Get help window's local socket
//! ([`crate::desktop`]: windows file tickets through it and answer
//! screenshot consent prompts, which reach [`serve`] through the shared
//! consent registry) and, while connected,
//! the catch-up on ticket news ([`crate::inbox`]: what changed on the
//! tickets this endpoint filed while it was away; the relay pushes what
//! changes after), and the outbox courier: everything queued is delivered on connect, then
//! whenever something new is queued (here, by the window, or by `help` in
//! another process: the directory is polled every
//! [`crate::background::OUTBOX_POLL_INTERVAL`]).
//!
//! A relay that refuses our key (the agent was removed) is *not* a reason to
//! exit: an administrator may restore it, and a daemon that quits would need
//! someone at the machine to start it again. It is logged as an error each
//! time, with what to do about it.

use crate::background::{Courier, DaemonOptions, DesktopTask, MonitorTask};
use crate::backoff::random_backoff;
use crate::config::AgentConfig;
use crate::desktop::consent::ConsentRegistry;
use crate::desktop::protocol::CONSENT_TIMEOUT;
use crate::enroll::close;
use crate::error::AgentError;
use crate::inbox::{catch_up, Inbox};
use crate::outbox::{Outbox, STALE_TEMP_AGE};
use crate::serve::{self, Endpoint};
use crate::state::clock::CLOCK_FLOOR_SAVE_INTERVAL;
use crate::state::{Enrollment, StateDir};
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tracing::{debug, error, info, warn, Instrument};
use triage_shared::client::{ClientError, Session};
use triage_shared::error::{ErrorKind, RemoteError};
use triage_shared::protocol::{PeerKind, Request, SessionIdentity};

/// How often the agent tells the relay it is still there.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(30);
/// QUIC application close code for an orderly shutdown.
pub const SHUTDOWN_CODE: u32 = 0;
/// The reason sent with it.
pub const SHUTDOWN_REASON: &[u8] = b"agent shutting down";

const REMOVED_HINT: &str =
    "the relay does not accept this agent's key; if the agent was removed, enroll it again with `triage-agent enroll TOKEN --force`";

/// Runs until `shutdown` completes. Fails only if the agent is not enrolled
/// or its state or `agent.toml` cannot be read; relay trouble is retried
/// forever.
pub async fn run_daemon(
    state_dir: &Path,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), AgentError> {
    run_daemon_with(state_dir, shutdown, DaemonOptions::default()).await
}

/// [`run_daemon`] with its health feed and timing chosen by the caller
/// (tests inject a [`crate::health::FakeSource`] and short intervals).
pub async fn run_daemon_with(
    state_dir: &Path,
    shutdown: impl Future<Output = ()> + Send,
    mut options: DaemonOptions,
) -> Result<(), AgentError> {
    let enrollment = StateDir::new(state_dir).load()?;
    let consent = ConsentRegistry::new(CONSENT_TIMEOUT);
    let inbox = Inbox::open(state_dir);
    let endpoint = Arc::new(
        Endpoint::load(state_dir)?
            .with_consent(consent.clone())
            .with_inbox(inbox.clone()),
    );
    let config = AgentConfig::load(&StateDir::new(state_dir))?;
    let outbox = Outbox::open(state_dir, config.max_outbox_messages)?;
    outbox.sweep_stale_temps(STALE_TEMP_AGE);
    let span = tracing::info_span!("agent", agent_id = %enrollment.agent_id);
    span.in_scope(|| match endpoint.roster_version() {
        Some(version) => info!(roster_version = version, "starting"),
        None => warn!("starting without an organisation roster: script runs will be refused"),
    });
    let queued = Arc::new(Notify::new());
    let monitor = span.in_scope(|| {
        MonitorTask::start(
            state_dir,
            &config,
            &mut options,
            outbox.clone(),
            queued.clone(),
        )
    });
    let desktop = span.in_scope(|| DesktopTask::start(state_dir, &config, consent, inbox));
    let courier = Courier {
        outbox,
        queued,
        poll: options.outbox_poll,
    };
    let shutdown = std::pin::pin!(shutdown);
    let clock = keep_clock_floor(endpoint.clone());
    tokio::select! {
        () = supervise(enrollment, endpoint, &courier, shutdown).instrument(span.clone()) => {}
        never = clock => match never {},
    }
    if let Some(desktop) = desktop {
        desktop.stop().instrument(span.clone()).await;
    }
    if let Some(monitor) = monitor {
        monitor.stop().instrument(span).await;
    }
    Ok(())
}

/// Raises and saves the clock floor every [`CLOCK_FLOOR_SAVE_INTERVAL`],
/// so the latest time seen is kept even when no script runs.
async fn keep_clock_floor(endpoint: Arc<Endpoint>) -> std::convert::Infallible {
    let mut ticker = tokio::time::interval(CLOCK_FLOOR_SAVE_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        endpoint.now();
    }
}

/// Whether a refusal at hello is about who we are (as opposed to, say, our version).
fn key_refused(refusal: &RemoteError) -> bool {
    matches!(
        refusal.kind,
        ErrorKind::Unauthenticated | ErrorKind::Forbidden | ErrorKind::Revoked
    )
}

/// How one connection ended.
enum End {
    Shutdown,
    Lost(String),
}

async fn supervise<F: Future<Output = ()> + Send>(
    enrollment: Enrollment,
    endpoint: Arc<Endpoint>,
    courier: &Courier,
    mut shutdown: Pin<&mut F>,
) {
    let relay = &enrollment.relay;
    let mut attempt: u32 = 0;
    loop {
        let connected = tokio::select! {
            _ = shutdown.as_mut() => break,
            c = Session::connect(relay, &enrollment.key, PeerKind::Agent) => c,
        };
        match connected {
            Ok(session) => match session.identity().clone() {
                SessionIdentity::Agent { id, .. } => {
                    if id != enrollment.agent_id {
                        warn!(relay_says = %id, "the relay knows this key under another agent id");
                    }
                    info!(relay = %relay.addr, "connected to the relay");
                    attempt = 0;
                    match drive(&session, &endpoint, courier, shutdown.as_mut()).await {
                        End::Shutdown => {
                            session
                                .connection()
                                .close(SHUTDOWN_CODE.into(), SHUTDOWN_REASON);
                            close(session).await;
                            info!("disconnected from the relay; shutting down");
                            return;
                        }
                        End::Lost(reason) => warn!(%reason, "lost the connection to the relay"),
                    }
                }
                SessionIdentity::Unenrolled => {
                    error!("{REMOVED_HINT}");
                    close(session).await;
                }
                SessionIdentity::Technician { .. } => {
                    error!("the relay took this agent's key for a technician; check the relay's configuration");
                    close(session).await;
                }
            },
            Err(ClientError::Refused(refusal)) if key_refused(&refusal) => {
                error!(reason = %refusal, "{REMOVED_HINT}")
            }
            Err(ClientError::Refused(refusal)) => {
                error!(reason = %refusal, "the relay refused the connection")
            }
            Err(e) => warn!(error = %e, "cannot reach the relay"),
        }
        let wait = random_backoff(attempt);
        attempt = attempt.saturating_add(1);
        debug!(?wait, attempt, "reconnecting after a pause");
        tokio::select! {
            _ = shutdown.as_mut() => break,
            _ = tokio::time::sleep(wait) => {}
        }
    }
    info!("shutting down");
}

/// Serves one live connection until it drops or `shutdown` completes:
/// heartbeats, the relay's commands, and the outbox.
async fn drive<F: Future<Output = ()>>(
    session: &Session,
    endpoint: &Arc<Endpoint>,
    courier: &Courier,
    shutdown: Pin<&mut F>,
) -> End {
    tokio::select! {
        _ = shutdown => End::Shutdown,
        reason = heartbeats(session) => End::Lost(reason),
        reason = accept_streams(session.connection().clone(), endpoint) => End::Lost(reason),
        reason = courier.run(session) => End::Lost(reason),
        reason = news(session, endpoint.inbox()) => End::Lost(reason),
    }
}

/// Catches up on ticket news once per connection (the relay pushes what
/// happens after); then waits for the connection to end.
async fn news(session: &Session, inbox: &Inbox) -> String {
    if let Err(e) = catch_up(session, inbox).await {
        return format!("ticket news failed: {e}");
    }
    std::future::pending().await
}

/// Sends a heartbeat now and every [`HEARTBEAT_INTERVAL`]; returns why it
/// had to stop. A relay that answers a heartbeat with an error is still
/// there, so that is only logged.
async fn heartbeats(session: &Session) -> String {
    let mut ticker = tokio::time::interval(HEARTBEAT_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match session.request(&Request::Heartbeat).await {
            Ok(_) => debug!("heartbeat acknowledged"),
            Err(ClientError::Remote(e)) => warn!(error = %e, "the relay refused a heartbeat"),
            Err(e) => return format!("heartbeat failed: {e}"),
        }
    }
}

/// Accepts the streams the relay opens toward us, each served on its own
/// task; [`serve::MAX_CONCURRENT_COMMANDS`] of them do work at once, the
/// rest are told the agent is busy.
async fn accept_streams(connection: quinn::Connection, endpoint: &Arc<Endpoint>) -> String {
    loop {
        match connection.accept_bi().await {
            Ok((send, recv)) => {
                tokio::spawn(serve::serve_stream(endpoint.clone(), send, recv).in_current_span());
            }
            Err(e) => return format!("connection closed: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}

    #[test]
    fn the_daemon_future_can_run_on_a_spawned_task() {
        let fut = run_daemon(Path::new("/nonexistent"), async {});
        assert_send(&fut);
    }

    #[test]
    fn only_identity_refusals_are_read_as_a_removed_agent() {
        assert!(key_refused(&RemoteError::new(
            ErrorKind::Unauthenticated,
            "unknown key"
        )));
        assert!(key_refused(&RemoteError::new(
            ErrorKind::Forbidden,
            "agent removed"
        )));
        assert!(!key_refused(&RemoteError::new(
            ErrorKind::VersionMismatch,
            "version 2"
        )));
    }

    #[tokio::test]
    async fn an_unenrolled_state_dir_fails_at_once_with_the_enroll_hint() {
        let tmp = tempfile::tempdir().unwrap();
        let err = run_daemon(tmp.path(), std::future::pending())
            .await
            .unwrap_err();
        assert!(matches!(err, AgentError::NotEnrolled { .. }), "{err}");
    }

    #[tokio::test]
    async fn shutdown_stops_a_daemon_whose_relay_is_unreachable() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = StateDir::new(tmp.path());
        dir.write_key(&triage_shared::identity::KeyPair::generate())
            .unwrap();
        // Port 0 fails every connection attempt at once, so the daemon is in
        // its backoff loop when shutdown arrives.
        let relay = "triage://127.0.0.1:0?fp=0000000000000000000000000000000000000000000000000000000000000000".parse().unwrap();
        dir.save_enrollment(&relay, triage_shared::AgentId::new_random())
            .unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let daemon = tokio::spawn({
            let path = tmp.path().to_path_buf();
            async move {
                run_daemon(&path, async {
                    let _ = rx.await;
                })
                .await
            }
        });
        tokio::task::yield_now().await;
        tx.send(()).unwrap();
        // A generous guard so a regression fails instead of hanging the suite.
        let stopped = tokio::time::timeout(Duration::from_secs(60), daemon).await;
        stopped.expect("daemon stops").unwrap().unwrap();
    }
}
