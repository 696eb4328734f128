//! Commands the relay sends *to* the agent, each on a stream the relay opens:
//! one [`AgentCommand`] frame in, one or more [`AgentReply`] frames out, then
//! the stream ends.
//!
//! ```text
//! stream ──► permit? ──no──► Error(Unavailable: busy)
//!              │ yes
//!              ▼
//!         read command (within COMMAND_READ_TIMEOUT) ──garbled──► Error(InvalidInput)
//!              │
//!              ├─ Ping            ──► Pong
//!              ├─ InstallRoster   ──► RosterInstalled{version} | Error(Forbidden: why)
//!              ├─ RotateOrgKey    ──► OrgKeyRotated{key} | Error(Forbidden: why)
//!              ├─ Diagnose        ──► Diagnostics(report)
//!              ├─ RunScript       ──► Run(Refused(why))
//!              │                    | Run(Started), Run(Output)…, Run(Finished)   (see `run`)
//!              ├─ PullLogs        ──► Error(why) | Transfer(Start, Chunk…, End)    (see `crate::logs`)
//!              └─ Screenshot      ──► Error(policy / no consent / capture failed)
//!                                   | Transfer(Start, Chunk…, End)                (see `crate::screenshot`:
//!                                                                                  the user's Get help window asks)
//! ```
//!
//! Nothing the relay sends is trusted because the relay sent it: a roster is
//! installed only if the organisation key pinned at enrollment signed it, and
//! a script runs only if `verify_run` passes here. [`Endpoint`] holds what
//! those checks need; [`answer`] works over any byte stream, so all of it is
//! tested without QUIC.

mod run;
// The tests run real scripts through /bin/sh.
#[cfg(all(test, unix))]
mod tests;

use crate::config::AgentConfig;
use crate::desktop::consent::{ConsentRegistry, Whom};
use crate::desktop::protocol::CONSENT_TIMEOUT;
use crate::diagnostics::live;
use crate::diagnostics::warm::WarmCollector;
use crate::error::AgentError;
use crate::inbox::Inbox;
use crate::state::clock::ClockFloor;
use crate::state::nonces::NonceLog;
use crate::state::trust::{Offer, Trust};
use crate::state::StateDir;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::{debug, error, info, warn, Instrument};
use triage_shared::approval::roster::SignedRotation;
use triage_shared::approval::SignedRoster;
use triage_shared::codec::{read_frame, write_frame, CodecError};
use triage_shared::error::{ErrorKind, RemoteError};
use triage_shared::remote::{AgentCommand, AgentReply, Section};
use triage_shared::time::Timestamp;
use triage_shared::AgentId;

/// How long the relay may take to send the command once it opened a stream.
pub const COMMAND_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Commands served at once; more are answered "busy" at once.
pub const MAX_CONCURRENT_COMMANDS: usize = 8;

/// What the agent knows and keeps while it serves: who it is, whom it
/// trusts, what it allows, and which approvals it already used.
#[derive(Debug)]
pub struct Endpoint {
    agent_id: AgentId,
    config: AgentConfig,
    trust: Mutex<Trust>,
    nonces: Mutex<NonceLog>,
    /// The agent's clock: never behind the latest time it has seen.
    clock: Mutex<ClockFloor>,
    permits: Arc<Semaphore>,
    /// Kept warm between snapshots so diagnostics need no CPU-sampling sleep.
    diagnostics: Arc<WarmCollector>,
    /// The Get help windows that can be asked for screenshot consent.
    consent: Arc<ConsentRegistry>,
    /// Where ticket news from the relay is kept for the employee.
    inbox: Arc<Inbox>,
}

/// Locks a mutex even if a panic poisoned it: the data is still consistent,
/// as nothing here panics half-way through an update.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Endpoint {
    /// Loads an enrolled agent's state directory. A roster file that does
    /// not verify is ignored (every run is then refused) and logged loudly;
    /// a bad `agent.toml` or a damaged nonce log is an error.
    pub fn load(state_dir: &Path) -> Result<Endpoint, AgentError> {
        let dir = StateDir::new(state_dir);
        let agent_id = dir.agent_id()?.ok_or_else(|| AgentError::NotEnrolled {
            dir: state_dir.to_path_buf(),
        })?;
        let config = AgentConfig::load(&dir)?;
        let (trust, problem) = Trust::load(&dir)?;
        if let Some(reason) = problem {
            error!(%reason, "IGNORING the installed roster: every script run is refused until the organisation sends a valid one");
        }
        if trust.org_key().is_none() {
            warn!("no organisation key was pinned at enrollment: this agent trusts no author or approver and runs no scripts");
        }
        // Pruned by the agent's time, not the wall clock's: a clock set
        // forward, then back, must not forget a nonce that can run again.
        let mut clock = dir.clock_floor()?;
        let now = clock.advance(Timestamp::now())?;
        let nonces = NonceLog::load(&dir, now)?;
        Ok(Endpoint {
            agent_id,
            config,
            trust: Mutex::new(trust),
            nonces: Mutex::new(nonces),
            clock: Mutex::new(clock),
            permits: Arc::new(Semaphore::new(MAX_CONCURRENT_COMMANDS)),
            diagnostics: WarmCollector::new(),
            consent: ConsentRegistry::new(CONSENT_TIMEOUT),
            inbox: Inbox::in_memory(),
        })
    }

    /// Keeps ticket news in `inbox` (the daemon's, shared with the
    /// desktop socket); a loaded endpoint keeps it in memory only.
    pub fn with_inbox(mut self, inbox: Arc<Inbox>) -> Endpoint {
        self.inbox = inbox;
        self
    }

    pub fn inbox(&self) -> &Arc<Inbox> {
        &self.inbox
    }

    /// Asks screenshot consent through `consent` (the daemon's desktop
    /// socket registers windows there); a loaded endpoint has nobody to ask.
    pub fn with_consent(mut self, consent: Arc<ConsentRegistry>) -> Endpoint {
        self.consent = consent;
        self
    }

    pub fn agent_id(&self) -> AgentId {
        self.agent_id
    }

    /// The agent's "now": the wall clock, but never earlier than the
    /// latest time seen (`state::clock`), which this raises and saves. A
    /// floor that cannot be saved is logged; the raised one still holds
    /// in memory.
    pub fn now(&self) -> Timestamp {
        let mut clock = lock(&self.clock);
        let now = clock.now(Timestamp::now());
        if let Err(e) = clock.save() {
            error!(error = %e, "could not save the clock floor");
        }
        now
    }

    /// The daemon's warm diagnostics collector, for snapshots taken in this process.
    pub fn diagnostics(&self) -> &Arc<WarmCollector> {
        &self.diagnostics
    }

    /// The version of the roster in force, if any.
    pub fn roster_version(&self) -> Option<u64> {
        lock(&self.trust).roster().map(|r| r.version)
    }

    /// A slot to serve one command, or `None` when [`MAX_CONCURRENT_COMMANDS`] are running.
    pub fn try_permit(&self) -> Option<OwnedSemaphorePermit> {
        self.permits.clone().try_acquire_owned().ok()
    }

    /// Installs `offered` if the pinned org key signed it, it is unexpired
    /// and it is newer than any roster seen here.
    pub fn install_roster(&self, offered: &SignedRoster, now: Timestamp) -> AgentReply {
        let version = offered.roster.version;
        match lock(&self.trust).offer_roster(offered, now) {
            Ok(Offer::Unchanged) => {
                debug!(version, "the offered roster is already installed");
                AgentReply::RosterInstalled { version }
            }
            Ok(Offer::Install) => {
                info!(
                    version,
                    entries = offered.roster.entries.len(),
                    expires_at = %offered.roster.expires_at,
                    "installed a new organisation roster"
                );
                AgentReply::RosterInstalled { version }
            }
            Err(reason) => {
                warn!(version, %reason, "refused a roster update");
                AgentReply::Error(RemoteError::new(ErrorKind::Forbidden, reason))
            }
        }
    }

    /// Follows an org key rotation the pinned key signed.
    pub fn rotate_org_key(&self, offered: &SignedRotation) -> AgentReply {
        match lock(&self.trust).offer_rotation(offered) {
            Ok(key) => {
                info!(org_key = %key, "now trusting a rotated organisation key; scripts wait for a roster it signed");
                AgentReply::OrgKeyRotated { key }
            }
            Err(reason) => {
                warn!(%reason, "refused an organisation key rotation");
                AgentReply::Error(RemoteError::new(ErrorKind::Forbidden, reason))
            }
        }
    }
}

/// Live diagnostics for `sections` (empty: the snapshot alone).
async fn diagnose(warm: &Arc<WarmCollector>, sections: &[Section]) -> AgentReply {
    match live::report_warm(sections, warm).await {
        Ok(report) => AgentReply::Diagnostics(Box::new(report)),
        Err(e) => {
            error!(error = %e, "live diagnostics failed");
            AgentReply::Error(RemoteError::new(ErrorKind::Internal, e))
        }
    }
}

/// What happened on one stream, for the log.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Answered(&'static str),
    /// The frame could not be decoded; an `InvalidInput` error was sent back.
    Garbled,
    /// The stream ended before any command arrived.
    Empty,
    /// No command arrived within [`COMMAND_READ_TIMEOUT`].
    Silent,
    /// [`MAX_CONCURRENT_COMMANDS`] were running; an `Unavailable` error was sent back.
    Busy,
}

/// Reads one command from `recv` and writes its replies to `send`. A
/// command that does not decode is answered with `InvalidInput`; a broken
/// stream is an error (nothing can be answered on it).
pub async fn answer<R, W>(
    endpoint: &Endpoint,
    recv: &mut R,
    send: &mut W,
) -> Result<Outcome, CodecError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let read = tokio::time::timeout(COMMAND_READ_TIMEOUT, read_frame::<_, AgentCommand>(recv));
    let command = match read.await {
        Err(_) => return Ok(Outcome::Silent),
        Ok(Ok(Some(command))) => command,
        Ok(Ok(None)) => return Ok(Outcome::Empty),
        Ok(Err(e @ (CodecError::Garbled(_) | CodecError::FrameTooLarge { .. }))) => {
            let refusal = RemoteError::new(
                ErrorKind::InvalidInput,
                format!("the agent could not read the command: {e}"),
            );
            write_frame(send, &AgentReply::Error(refusal)).await?;
            return Ok(Outcome::Garbled);
        }
        Ok(Err(e)) => return Err(e),
    };
    let name = command.name();
    match command {
        AgentCommand::Ping => write_frame(send, &AgentReply::Pong).await?,
        AgentCommand::InstallRoster(offered) => {
            let reply = endpoint.install_roster(&offered, Timestamp::now());
            write_frame(send, &reply).await?
        }
        AgentCommand::RotateOrgKey(offered) => {
            write_frame(send, &endpoint.rotate_org_key(&offered)).await?
        }
        AgentCommand::Diagnose { sections } => {
            write_frame(send, &diagnose(&endpoint.diagnostics, &sections).await).await?
        }
        AgentCommand::RunScript(order) => run::run(endpoint, *order, send).await?,
        AgentCommand::PullLogs(query) => {
            crate::logs::serve(&endpoint.config.logs, query, recv, send).await?
        }
        AgentCommand::Screenshot {
            requested_by,
            ticket,
            requester,
        } => {
            let policy = endpoint.config.screenshots;
            let whom = Whom::of(requester);
            let consent = &endpoint.consent;
            crate::screenshot::answer(policy, consent, &requested_by, ticket, whom, send).await?
        }
        // Shown to the employee, never acted on; a bad batch is refused whole.
        AgentCommand::TicketNews(news) => {
            let reply = match endpoint.inbox.take(news) {
                Ok(count) => AgentReply::NewsTaken {
                    count: u32::try_from(count).unwrap_or(u32::MAX),
                },
                Err(e) => {
                    AgentReply::Error(RemoteError::new(ErrorKind::InvalidInput, e.to_string()))
                }
            };
            write_frame(send, &reply).await?
        }
    }
    Ok(Outcome::Answered(name))
}

/// [`answer`], if a permit is free; otherwise a "busy" refusal without
/// reading the command.
pub async fn answer_if_free<R, W>(
    endpoint: &Endpoint,
    recv: &mut R,
    send: &mut W,
) -> Result<Outcome, CodecError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let Some(_permit) = endpoint.try_permit() else {
        let busy = RemoteError::new(
            ErrorKind::Unavailable,
            format!("the agent is busy with {MAX_CONCURRENT_COMMANDS} commands; try again shortly"),
        );
        write_frame(send, &AgentReply::Error(busy)).await?;
        return Ok(Outcome::Busy);
    };
    answer(endpoint, recv, send).await
}

/// Serves one QUIC stream the relay opened.
pub(crate) async fn serve_stream(
    endpoint: Arc<Endpoint>,
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
) {
    let span = tracing::debug_span!("relay_command", stream = %send.id());
    async move {
        match answer_if_free(&endpoint, &mut recv, &mut send).await {
            Ok(outcome) => debug!(?outcome, "relay command handled"),
            Err(e) => warn!(error = %e, "relay command stream failed"),
        }
        let _ = send.finish();
    }
    .instrument(span)
    .await
}
