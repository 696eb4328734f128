//! The relay server, top to bottom:
//!
//! - [`start`] loads the identity, opens the store, binds the QUIC endpoint
//!   and spawns the accept loop;
//! - the accept loop ([`accept_loop`]) asks for a Retry under load, takes
//!   a handshaking slot (`admission`) and gives each connection its own task;
//! - `connection` runs the hello exchange and one task per request stream;
//! - `dispatch` takes one request: its `route` (audience, audit rule,
//!   shape), `authz`, then its handler in `handlers` (by domain; the ones
//!   that reach an agent go through `agent_link`, and `transfer` splices a
//!   streamed body from an agent to a technician); `request` is what
//!   they all share;
//! - `roster` delivers the organisation's signed roster (and key rotations) to agents;
//! - `metrics_http` serves `GET /metrics` when `--metrics-listen` asks
//!   (what is counted, and how, is `crate::metrics`);
//! - [`RelayHandle::shutdown`] stops accepting, closes connections, waits
//!   for their tasks and closes the database pool.

pub mod admission;
pub mod agent_link;
mod authz;
pub mod auto_close;
mod connection;
mod dispatch;
pub mod failpoint;
mod handlers;
mod handshake;
mod login_budget;
mod metrics_http;
pub mod news_push;
pub mod rate_limit;
pub mod registry;
mod request;
mod revoke;
pub mod roster;
mod route;
mod sla_clock;
mod transfer;

pub use admission::{
    Limits, MAX_CONNECTIONS, MAX_HANDSHAKING, MAX_HANDSHAKING_PER_ADDRESS,
    MAX_UNENROLLED_CONNECTIONS, MAX_UNENROLLED_PER_ADDRESS, RETRY_THRESHOLD,
    TECHNICIAN_REQUESTS_PER_SECOND, TECHNICIAN_REQUEST_BURST, UNENROLLED_LIFETIME,
};
pub use agent_link::{AGENT_REPLY_TIMEOUT, MAX_COMMANDS_PER_AGENT};
pub use auto_close::{AUTO_CLOSE_ACTOR, DEFAULT_AUTO_CLOSE_AFTER};
pub use connection::{HELLO_TIMEOUT, MAX_HELLO_LEN, REQUEST_READ_TIMEOUT};
pub use handlers::diag::{validate_report, DIAG_TIMEOUT};
pub use handlers::ping::PING_TIMEOUT;
pub use handlers::scripts::RUN_GRACE;
pub use login_budget::REFUSED_ENROLLMENTS_PER_WINDOW;
pub use metrics_http::METRICS_PATH;
pub use roster::ROSTER_REFRESH;
pub use transfer::{
    MAX_ATTACHMENT_LEN, MAX_TRANSFERS_PER_AGENT, SCREENSHOT_FIRST_FRAME_WAIT, STOP_GRACE,
    TRANSFER_IDLE_TIMEOUT,
};

use crate::config::{reachable_addr, DataDir, RelayConfig};
use crate::error::RelayError;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::{admin, audit, notify, org};
use registry::Registry;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;
use tracing::{info, Instrument};
use triage_shared::approval::{Roster, SignedRoster};
use triage_shared::identity::{KeyPair, PublicKey};
use triage_shared::protocol::{ErrorKind, RemoteError, TechnicianSummary};
use triage_shared::remote::{AgentCommand, AgentReply};
use triage_shared::roles::Role;
use triage_shared::time::Timestamp;
use triage_shared::tls;
use triage_shared::token::{EnrollmentToken, RelayLocator};

/// How long shutdown waits for connections to wind down before cutting them.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Replies [`RelayHandle::send_agent_command`] collects at most.
pub const MAX_COLLECTED_REPLIES: usize = 10_000;

/// State every connection task shares.
pub(crate) struct Shared {
    pub store: Store,
    pub registry: Arc<Registry>,
    pub locator: RelayLocator,
    /// Commands in flight per agent.
    pub inflight: Arc<agent_link::InFlight>,
    /// Logs and screenshots being sent per agent (`MAX_TRANSFERS_PER_AGENT`).
    pub transfers: Arc<agent_link::InFlight>,
    /// Woken when this process publishes a roster.
    pub roster_published: Notify,
    /// The newest roster version pushed to every connected agent.
    pub roster_pushed: AtomicU64,
    /// Bounds audit entries for refused technician logins.
    pub refused_logins: login_budget::RefusalBudget,
    /// Bounds audit entries for refused requests from unenrolled connections.
    pub refused_enrollments: login_budget::RefusalBudget,
    /// Connection slots per stage (`admission`).
    pub admission: Arc<admission::Admission>,
    /// Requests per technician.
    pub rate: rate_limit::RateLimiter,
    /// Removals announced to the connections they close.
    pub revocations: revoke::Revocations,
    /// The data directory (`sla.toml` lives there).
    pub data_dir: std::path::PathBuf,
    /// Wakes the SLA loop: `triage sla set` wrote a new policy.
    pub sla_changed: Arc<Notify>,
    /// The webhook client and SMTP transport (`webhooks test` sends at once).
    pub senders: Arc<notify::Senders>,
    /// What `/metrics` shows (`crate::metrics`); counted whether or not
    /// the endpoint is on.
    pub metrics: Arc<Metrics>,
}

/// A running relay. Dropping it stops the accept loop too; call
/// [`RelayHandle::shutdown`] to also wait for connections and close the store.
pub struct RelayHandle {
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    endpoint: quinn::Endpoint,
    shutdown: watch::Sender<bool>,
    accept_task: tokio::task::JoinHandle<()>,
    roster_task: tokio::task::JoinHandle<()>,
    sla_task: tokio::task::JoinHandle<()>,
    notify_task: tokio::task::JoinHandle<()>,
    /// How long shutdown waits for a send in flight.
    notify_grace: Duration,
    /// The ticket-news follower and the auto-close sweeper.
    background: Vec<tokio::task::JoinHandle<()>>,
    /// Where `/metrics` is served, when it is.
    metrics_addr: Option<SocketAddr>,
    metrics_task: Option<tokio::task::JoinHandle<()>>,
}

/// Starts a relay: identity from `config.data_dir` (made on first start),
/// the store, and a QUIC listener on `config.listen`.
pub async fn start(config: RelayConfig) -> Result<RelayHandle, RelayError> {
    failpoint::arm_from_env();
    // Before anything else is opened: a refused or taken metrics address
    // stops the start with nothing to undo.
    let (metrics_listener, metrics_addr) = match config.metrics.listen {
        Some(addr) => {
            let listener = metrics_http::bind(addr, config.metrics.public).await?;
            let bound = listener
                .local_addr()
                .map_err(|source| RelayError::Bind { addr, source })?;
            (Some(listener), Some(bound))
        }
        None => (None, None),
    };
    let data = DataDir::create(&config.data_dir)?;
    let key = data.load_or_create_key()?;
    let (server_config, fingerprint) = tls::server_config(&key)?;
    let store = data.open_store(config.database_url.as_deref()).await?;
    // A bad policy file stops the start here, with the file and the reason.
    let sla_source = crate::sla_file::read(data.path())?;
    store.set_sla_policy(crate::sla_file::parse(&sla_source, data.path())?);
    let senders = Arc::new(notify::Senders::new(&config.notify).map_err(RelayError::Config)?);
    let endpoint = quinn::Endpoint::server(server_config, config.listen).map_err(|source| {
        RelayError::Bind {
            addr: config.listen,
            source,
        }
    })?;
    let local_addr = endpoint.local_addr().map_err(|source| RelayError::Bind {
        addr: config.listen,
        source,
    })?;
    let public_addr = match config.public_addr {
        Some(addr) => addr,
        None => reachable_addr(local_addr).to_string(),
    };
    data.write_public_addr(&public_addr)?;
    let locator = RelayLocator {
        addr: public_addr,
        fingerprint,
    };
    info!(listen = %local_addr, public = %locator.addr, %fingerprint, backend = ?store.backend(), "relay started");

    // Agents get the current roster when they connect; the refresh loop
    // only needs to push versions newer than this.
    let roster_pushed = AtomicU64::new(store.latest_roster_version().await?);
    let metrics = Arc::new(Metrics::new(
        Arc::clone(store.metrics()),
        config.metrics.counts_max_age,
    ));
    let shared = Arc::new(Shared {
        store,
        registry: Arc::new(Registry::default()),
        locator,
        inflight: Arc::new(agent_link::InFlight::default()),
        transfers: Arc::new(agent_link::InFlight::with_limit(MAX_TRANSFERS_PER_AGENT)),
        roster_published: Notify::new(),
        roster_pushed,
        refused_logins: login_budget::RefusalBudget::logins(),
        refused_enrollments: login_budget::RefusalBudget::enrollments(),
        rate: rate_limit::RateLimiter::new(
            config.limits.technician_requests_per_second,
            config.limits.technician_request_burst,
        ),
        admission: admission::Admission::new(config.limits.clone()),
        revocations: revoke::Revocations::default(),
        data_dir: data.path().to_path_buf(),
        sla_changed: Arc::new(Notify::new()),
        senders: Arc::clone(&senders),
        metrics: Arc::clone(&metrics),
    });
    let (shutdown, stop) = watch::channel(false);
    let roster_task = tokio::spawn(roster::refresh_loop(Arc::clone(&shared), stop.clone()));
    let sla_loop = sla_clock::SlaLoop::new(
        data.path().to_path_buf(),
        config.sla_check_every,
        sla_source.digest,
    );
    let sla_task = tokio::spawn(sla_loop.run(
        Arc::clone(&shared),
        Arc::clone(&shared.sla_changed),
        stop.clone(),
    ));
    let notify_grace = config.notify.request_timeout + Duration::from_secs(1);
    let notify_task = tokio::spawn(notify::worker::run(
        shared.store.clone(),
        senders,
        config.notify.clone(),
        metrics,
        stop.clone(),
    ));
    let background = vec![
        tokio::spawn(news_push::follow(Arc::clone(&shared), stop.clone())),
        tokio::spawn(auto_close::sweep_loop(
            Arc::clone(&shared),
            config.auto_close_after,
            stop.clone(),
        )),
    ];
    let metrics_task = metrics_listener.map(|listener| {
        tokio::spawn(metrics_http::serve(
            listener,
            Arc::clone(&shared),
            stop.clone(),
        ))
    });
    let accept_task = tokio::spawn(accept_loop(endpoint.clone(), Arc::clone(&shared), stop));
    Ok(RelayHandle {
        local_addr,
        shared,
        endpoint,
        shutdown,
        accept_task,
        roster_task,
        sla_task,
        notify_task,
        notify_grace,
        background,
        metrics_addr,
        metrics_task,
    })
}

/// Accepts connections until told to stop, then closes the endpoint and
/// waits (for a bounded time) for the connection tasks to finish.
async fn accept_loop(
    endpoint: quinn::Endpoint,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            // A value change or a dropped handle both mean: stop.
            _ = stop.changed() => break,
            incoming = endpoint.accept() => {
                let Some(incoming) = incoming else { break };
                let peer = incoming.remote_address();
                // Under load, a client must first show it receives at its
                // source address (one round trip, no state kept here).
                if shared.admission.wants_retry(incoming.remote_address_validated()) {
                    if let Err(e) = incoming.retry() {
                        tracing::debug!(%peer, error = %e, "cannot ask for a retry; refusing");
                        e.into_incoming().refuse();
                    }
                    continue;
                }
                let slot = match shared.admission.enter(peer.ip()) {
                    Ok(slot) => slot,
                    Err(full) => {
                        // Routine under a flood; logging each would flood the log.
                        tracing::debug!(%peer, refusal = ?full, "handshake limit reached; refusing");
                        incoming.refuse();
                        continue;
                    }
                };
                connections.spawn(connection::handle(incoming, slot, Arc::clone(&shared)).in_current_span());
            }
            Some(done) = connections.join_next(), if !connections.is_empty() => {
                if let Err(e) = done {
                    if e.is_panic() {
                        tracing::error!("a connection task panicked; other connections are unaffected");
                    }
                }
            }
        }
    }
    endpoint.close(0u32.into(), b"relay shutting down");
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        connections.shutdown().await;
    }
}

/// Resolves on Ctrl-C, or on SIGTERM where there is one.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    if tokio::signal::ctrl_c().await.is_err() {
        // No way to wait for a signal: never resolve rather than stop at once.
        std::future::pending::<()>().await;
    }
}

impl RelayHandle {
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The TCP address `GET /metrics` is served on; `None` when
    /// `RelayConfig::metrics_listen` was not given.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The counters behind `/metrics` (they count with the endpoint off too).
    pub fn metrics(&self) -> &Metrics {
        &self.shared.metrics
    }

    /// The public address and certificate fingerprint peers pin.
    pub fn locator(&self) -> RelayLocator {
        self.shared.locator.clone()
    }

    pub fn store(&self) -> &Store {
        &self.shared.store
    }

    /// Connections per stage right now: (handshaking, unenrolled, authenticated).
    pub fn connection_counts(&self) -> (usize, usize, usize) {
        use admission::Stage;
        let c = self.shared.admission.snapshot();
        (
            c.total(Stage::Handshaking),
            c.total(Stage::Unenrolled),
            c.total(Stage::Authenticated),
        )
    }

    /// QUIC Retry packets sent since start (address validation under load).
    pub fn retries_sent(&self) -> u64 {
        self.shared.admission.retries()
    }

    /// Whether the agent currently holds a connection.
    pub fn is_agent_online(&self, agent: triage_shared::AgentId) -> bool {
        self.shared.registry.is_online(agent)
    }

    /// A token without an organisation key: agents enrolled with it run no
    /// scripts (see [`RelayHandle::create_token_for_org`]).
    pub async fn create_token(
        &self,
        uses: u32,
        ttl: Duration,
    ) -> Result<EnrollmentToken, RelayError> {
        self.mint(uses, ttl, None).await
    }

    /// A token carrying `org`, which the caller pinned themselves; refused
    /// when the store holds another org key.
    pub async fn create_token_for_org(
        &self,
        uses: u32,
        ttl: Duration,
        org: admin::PinnedOrg,
    ) -> Result<EnrollmentToken, RelayError> {
        self.mint(uses, ttl, Some(org)).await
    }

    async fn mint(
        &self,
        uses: u32,
        ttl: Duration,
        org: Option<admin::PinnedOrg>,
    ) -> Result<EnrollmentToken, RelayError> {
        let (token, _) = admin::mint_token(
            &self.shared.store,
            &self.shared.locator,
            admin::TokenRequest { uses, ttl, org },
            admin::LOCAL_ADMIN,
            Timestamp::now(),
        )
        .await?;
        Ok(token)
    }

    pub async fn add_technician(
        &self,
        name: &str,
        roles: &[Role],
        key: PublicKey,
    ) -> Result<(), RelayError> {
        admin::register_technician(
            &self.shared.store,
            name,
            roles,
            key,
            admin::LOCAL_ADMIN,
            Timestamp::now(),
        )
        .await?;
        Ok(())
    }

    /// Removes a technician as `triage-relay technician remove` does, and
    /// closes their connections to this relay at once.
    pub async fn remove_technician(&self, name: &str) -> Result<(), RelayError> {
        let now = Timestamp::now();
        let removed =
            crate::revocation::remove_technician(&self.shared.store, name, admin::LOCAL_ADMIN, now)
                .await?;
        let refusal = handshake::technician_removed(&removed.name, now);
        self.shared
            .revocations
            .announce(removed.public_key, &refusal);
        Ok(())
    }

    /// Sends `command` to the agent exactly as given and collects its
    /// replies until the agent finishes the stream. An agent that is not
    /// connected is refused at once (`Unavailable`, "… is offline; last
    /// seen …"). Each reply may take [`AGENT_REPLY_TIMEOUT`], or for a
    /// script run its timeout plus [`RUN_GRACE`].
    pub async fn send_agent_command(
        &self,
        agent: triage_shared::AgentId,
        command: AgentCommand,
    ) -> Result<Vec<AgentReply>, RelayError> {
        let wait = match &command {
            AgentCommand::RunScript(order) => {
                let secs = order
                    .script
                    .manifest
                    .timeout_secs
                    .min(triage_shared::approval::MAX_SCRIPT_TIMEOUT.as_secs());
                Duration::from_secs(secs) + RUN_GRACE
            }
            _ => AGENT_REPLY_TIMEOUT,
        };
        let mut stream = agent_link::open(&self.shared, agent, &command).await?;
        let mut replies = Vec::new();
        while let Some(reply) = stream.next(wait).await.map_err(RemoteError::from)? {
            if replies.len() == MAX_COLLECTED_REPLIES {
                return Err(RemoteError::new(
                    ErrorKind::Internal,
                    format!("agent {agent} sent more than {MAX_COLLECTED_REPLIES} replies"),
                )
                .into());
            }
            replies.push(reply);
        }
        Ok(replies)
    }

    /// Makes the organisation key pair and records its public half (once per
    /// relay; the same path as `triage-relay org init`). The private key is
    /// returned to the caller and not kept.
    pub async fn init_org(&self) -> Result<KeyPair, RelayError> {
        let org = KeyPair::generate();
        org::record_org_key(&self.shared.store, &org.public_key(), Timestamp::now()).await?;
        Ok(org)
    }

    /// The next roster to sign, from this relay's technicians.
    pub async fn export_roster(&self, validity: Duration) -> Result<Roster, RelayError> {
        Ok(org::export_roster(&self.shared.store, Timestamp::now(), validity).await?)
    }

    /// Stores a roster signed with the org key and pushes it to connected
    /// agents right away.
    pub async fn publish_roster(&self, roster: &SignedRoster) -> Result<u64, RelayError> {
        org::publish_roster(
            &self.shared.store,
            roster,
            audit::LOCAL_ADMIN_ACTOR,
            Timestamp::now(),
        )
        .await?;
        self.shared.roster_published.notify_one();
        Ok(roster.roster.version)
    }

    /// Exports, signs with `org` and publishes the next roster (valid for
    /// [`DEFAULT_ROSTER_VALIDITY`](triage_shared::approval::roster::DEFAULT_ROSTER_VALIDITY)).
    /// Returns its version.
    pub async fn sign_and_publish_roster(&self, org: &KeyPair) -> Result<u64, RelayError> {
        let validity = triage_shared::approval::roster::DEFAULT_ROSTER_VALIDITY;
        let signed =
            org::sign_and_publish_roster(&self.shared.store, org, validity, Timestamp::now())
                .await?;
        self.shared.roster_published.notify_one();
        Ok(signed.roster.version)
    }

    /// Recomputes the whole audit chain; returns how many entries it holds,
    /// or [`RelayError::AuditBroken`] naming the first bad entry.
    pub async fn verify_audit(&self) -> Result<u64, RelayError> {
        Ok(audit::verify(&self.shared.store).await?)
    }

    pub async fn technician(&self, name: &str) -> Result<Option<TechnicianSummary>, RelayError> {
        Ok(self.shared.store.technician(name).await?)
    }

    /// Stops accepting, closes every connection, waits for their tasks and
    /// closes the database pool.
    pub async fn shutdown(self) {
        info!("relay shutting down");
        let _ = self.shutdown.send(true);
        let _ = self.accept_task.await;
        let _ = self.roster_task.await;
        let _ = self.sla_task.await;
        // A send in flight finishes within its timeout; past that its claim
        // simply expires and the next relay tries it again.
        let notify_abort = self.notify_task.abort_handle();
        if tokio::time::timeout(self.notify_grace, self.notify_task)
            .await
            .is_err()
        {
            notify_abort.abort();
        }
        for task in self.background {
            let _ = task.await;
        }
        if let Some(task) = self.metrics_task {
            let _ = task.await;
        }
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, self.endpoint.wait_idle()).await;
        self.shared.store.close().await;
        info!("relay stopped");
    }
}
