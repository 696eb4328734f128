//! What the daemon runs next to its relay connection: the health monitor
//! (always, connected or not), the outbox courier (while connected), and
//! the Get help window's local socket (always; [`crate::desktop`]).

use crate::backoff::random_backoff;
use crate::config::AgentConfig;
use crate::desktop::connection::DesktopService;
use crate::desktop::consent::ConsentRegistry;
use crate::health::monitor::Monitor;
use crate::health::sample::{SampleSource, SysinfoSource};
use crate::outbox::{deliver_pending, Outbox};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{oneshot, watch, Notify};
use tokio::task::JoinHandle;
use tracing::{error, info, warn, Instrument};
use triage_shared::client::{ClientError, Session};

/// How often the daemon looks for messages another process (`help`) queued.
pub const OUTBOX_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// How long shutdown waits for the health monitor to finish what it is doing.
pub const MONITOR_STOP_GRACE: Duration = Duration::from_secs(10);
/// How long shutdown waits for the Get help socket to close its connections.
const DESKTOP_STOP_GRACE: Duration = Duration::from_secs(5);

/// How the daemon runs. The defaults are what `triage-agent run` does;
/// tests swap in a fake health feed and shorter intervals.
pub struct DaemonOptions {
    /// Where health samples come from; `None`: this machine, via sysinfo.
    pub health_source: Option<Box<dyn SampleSource>>,
    /// Overrides `[health] interval` (how often the machine is sampled).
    pub health_interval: Option<Duration>,
    /// Overrides `[health] update_interval`.
    pub update_interval: Option<Duration>,
    /// How often the outbox directory is checked for new messages.
    pub outbox_poll: Duration,
}

impl Default for DaemonOptions {
    fn default() -> Self {
        DaemonOptions {
            health_source: None,
            health_interval: None,
            update_interval: None,
            outbox_poll: OUTBOX_POLL_INTERVAL,
        }
    }
}

/// The outbox as the connected daemon serves it.
pub(crate) struct Courier {
    pub outbox: Outbox,
    /// Woken when this process queued something.
    pub queued: Arc<Notify>,
    pub poll: Duration,
}

impl Courier {
    /// Delivers what is waiting now, then whenever something is queued or
    /// every `poll`; after a failed round it waits with backoff. Returns
    /// only when the connection is gone, saying why.
    pub(crate) async fn run(&self, session: &Session) -> String {
        let mut failures: u32 = 0;
        loop {
            let (report, result) = deliver_pending(&self.outbox, session, None).await;
            if !report.delivered.is_empty() {
                info!(delivered = report.delivered.len(), "outbox delivered");
            }
            let wait = match result {
                Ok(()) => {
                    failures = 0;
                    self.poll
                }
                Err(ClientError::Connection(e)) => return format!("outbox delivery failed: {e}"),
                Err(e) => {
                    let wait = random_backoff(failures).max(self.poll);
                    failures = failures.saturating_add(1);
                    warn!(error = %e, retry_in = ?wait, "outbox delivery paused");
                    wait
                }
            };
            tokio::select! {
                _ = self.queued.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}

/// A running health monitor and how to stop it.
pub(crate) struct MonitorTask {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl MonitorTask {
    /// Starts the monitor, unless `[health] enabled = false`.
    pub(crate) fn start(
        state_dir: &Path,
        config: &AgentConfig,
        options: &mut DaemonOptions,
        outbox: Outbox,
        queued: Arc<Notify>,
    ) -> Option<MonitorTask> {
        let mut health = config.health.clone();
        if !health.enabled {
            info!("the health monitor is disabled in agent.toml");
            return None;
        }
        if let Some(interval) = options.health_interval {
            health.interval = interval;
        }
        if let Some(every) = options.update_interval {
            health.update_interval = every;
        }
        let source = options
            .health_source
            .take()
            .unwrap_or_else(|| Box::new(SysinfoSource::default()));
        let monitor = Monitor {
            state_dir: state_dir.to_path_buf(),
            config: health,
            source,
            outbox,
            queued,
            host: crate::host::hostname(),
        };
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(monitor.run(stopped).in_current_span());
        Some(MonitorTask { stop, task })
    }

    pub(crate) async fn stop(self) {
        let _ = self.stop.send(true);
        let mut task = self.task;
        if tokio::time::timeout(MONITOR_STOP_GRACE, &mut task)
            .await
            .is_err()
        {
            warn!("the health monitor did not stop in time; cutting it off");
            task.abort();
        }
    }
}

/// The Get help window's socket, served while the daemon runs.
pub(crate) struct DesktopTask {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl DesktopTask {
    /// Listens where agent.toml says (default `<state dir>/desktop.sock`).
    /// A socket that cannot be bound is logged, not fatal: the relay side
    /// of the daemon matters more than the window.
    pub(crate) fn start(
        state_dir: &Path,
        config: &AgentConfig,
        consent: Arc<ConsentRegistry>,
        inbox: Arc<crate::inbox::Inbox>,
    ) -> Option<DesktopTask> {
        let path = crate::desktop::socket_path(state_dir, config);
        let service = Arc::new(DesktopService::new(state_dir, config, consent).with_inbox(inbox));
        let (stop, stopped) = oneshot::channel::<()>();
        let stopped = async {
            let _ = stopped.await;
        };
        #[cfg(unix)]
        let task = match crate::desktop::server::DesktopListener::bind(&path) {
            Ok(listener) => tokio::spawn(listener.serve(service, stopped).in_current_span()),
            Err(e) => {
                error!(error = %e, "the Get help window cannot reach this agent");
                return None;
            }
        };
        #[cfg(windows)]
        let task = tokio::spawn(
            async move {
                if let Err(e) = crate::desktop::windows::serve(&path, service, stopped).await {
                    error!(error = %e, "the Get help window cannot reach this agent");
                }
            }
            .in_current_span(),
        );
        Some(DesktopTask { stop, task })
    }

    pub(crate) async fn stop(self) {
        let _ = self.stop.send(());
        let mut task = self.task;
        if tokio::time::timeout(DESKTOP_STOP_GRACE, &mut task)
            .await
            .is_err()
        {
            warn!("the Get help socket did not close in time; cutting it off");
            task.abort();
        }
    }
}
