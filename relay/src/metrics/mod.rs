//! What the relay counts, and how `/metrics` shows it.
//!
//! One [`Metrics`] per relay, in the server's shared state (and the
//! [`StoreMetrics`] part on its [`Store`](crate::store::Store) handle, so
//! that `audit::record` counts without being handed anything). Every
//! instrument is a fixed array of atomics, made when the relay starts and
//! indexed by closed sets of labels (`&'static str` names): recording is
//! a relaxed atomic add, with no lock, map lookup or allocation. The label
//! sets are small by construction: request kinds come from
//! [`RequestKind`], outcomes from [`ErrorKind`], peers, transfers, clocks
//! and channels from their enums.
//!
//! Reading is `prometheus-client`'s: [`Metrics`] is a
//! [`Collector`] that writes its arrays through the crate's encoders, and
//! [`Exporter::render`] encodes the registry in the Prometheus text
//! format (0.0.4). What only the store knows (agents enrolled, tickets
//! by status and tier) is refreshed by the scrape itself
//! (`server::metrics_http`), at most every [`COUNTS_MAX_AGE`] (by default).

mod histogram;

pub use histogram::{LatencyHistogram, Snapshot, BUCKETS};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use strum::IntoEnumIterator;
use triage_shared::error::ErrorKind;
use triage_shared::protocol::RequestKind;
use triage_shared::ticket::{SlaClock, Status, TicketEventKind, Tier};

/// Every metric name starts with this (`triage_requests_total`, …).
pub const PREFIX: &str = "triage";

/// How long the store's counts (agents enrolled, tickets) are reused by
/// default (`MetricsConfig::counts_max_age`): a scrape storm costs the
/// store one query per this, whatever its rate.
pub const COUNTS_MAX_AGE: Duration = Duration::from_secs(5);

/// How a request ended, as `triage_requests_total{outcome}` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Answered without an error.
    Ok,
    /// Turned away before its handler ran: the peer's access changed, its
    /// kind or role may not send it, or a technician is over their rate.
    Refused,
    /// The handler answered with an error of this kind.
    Error(ErrorKind),
}

/// Every outcome name, in index order.
pub const OUTCOMES: [&str; 14] = [
    "ok",
    "refused",
    "invalid_input",
    "not_found",
    "forbidden",
    "unauthenticated",
    "invalid_token",
    "invalid_transition",
    "version_mismatch",
    "conflict",
    "unavailable",
    "timeout",
    "internal",
    "revoked",
];

impl Outcome {
    fn index(self) -> usize {
        match self {
            Outcome::Ok => 0,
            Outcome::Refused => 1,
            // No `_` arm: a new error kind needs its name above.
            Outcome::Error(kind) => match kind {
                ErrorKind::InvalidInput => 2,
                ErrorKind::NotFound => 3,
                ErrorKind::Forbidden => 4,
                ErrorKind::Unauthenticated => 5,
                ErrorKind::InvalidToken => 6,
                ErrorKind::InvalidTransition => 7,
                ErrorKind::VersionMismatch => 8,
                ErrorKind::Conflict => 9,
                ErrorKind::Unavailable => 10,
                ErrorKind::Timeout => 11,
                ErrorKind::Internal => 12,
                ErrorKind::Revoked => 13,
            },
        }
    }

    pub fn name(self) -> &'static str {
        OUTCOMES[self.index()]
    }
}

/// Requests by kind and outcome, and their latency by kind.
#[derive(Debug)]
pub struct Requests {
    /// Kind names, indexed by `RequestKind as usize`.
    kinds: Box<[&'static str]>,
    /// `kinds.len() × OUTCOMES.len()`, row by kind.
    counts: Box<[AtomicU64]>,
    latency: Box<[LatencyHistogram]>,
}

impl Default for Requests {
    fn default() -> Self {
        let kinds: Box<[&'static str]> = RequestKind::iter().map(<&'static str>::from).collect();
        debug_assert!(RequestKind::iter()
            .enumerate()
            .all(|(i, k)| k as usize == i));
        Requests {
            counts: (0..kinds.len() * OUTCOMES.len())
                .map(|_| AtomicU64::new(0))
                .collect(),
            latency: (0..kinds.len())
                .map(|_| LatencyHistogram::default())
                .collect(),
            kinds,
        }
    }
}

impl Requests {
    /// One request done: two atomic adds and a third for its latency.
    pub fn record(&self, kind: RequestKind, outcome: Outcome, took: Duration) {
        let k = kind as usize;
        self.counts[k * OUTCOMES.len() + outcome.index()].fetch_add(1, Relaxed);
        self.latency[k].observe(took);
    }

    /// Requests of `kind` that ended with `outcome` so far.
    pub fn count(&self, kind: RequestKind, outcome: Outcome) -> u64 {
        self.counts[kind as usize * OUTCOMES.len() + outcome.index()].load(Relaxed)
    }
}

/// The kind of peer a connection was welcomed as (`triage_connections{peer}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerLabel {
    Agent,
    Technician,
    Unenrolled,
}

const PEERS: [&str; 3] = ["agent", "technician", "unenrolled"];

/// What a transfer carries (`triage_transfer_bytes_total{kind}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferLabel {
    /// A log pulled from an agent.
    Log,
    /// A screenshot taken on an agent.
    Screenshot,
    /// A stored attachment downloaded from a ticket.
    Attachment,
}

const TRANSFERS: [&str; 3] = ["log", "screenshot", "attachment"];

/// How a notification attempt ended (`triage_notify_deliveries_total{result}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryResult {
    Delivered,
    /// Failed; another attempt is scheduled.
    Failed,
    /// Failed for the last time (too many attempts, or a permanent refusal).
    Abandoned,
}

const DELIVERY_RESULTS: [&str; 3] = ["delivered", "failed", "abandoned"];
const CHANNELS: [&str; 2] = ["webhook", "email"];

fn channel_index(channel: crate::store::Channel) -> usize {
    match channel {
        crate::store::Channel::Webhook => 0,
        crate::store::Channel::Email => 1,
    }
}

fn clock_index(clock: SlaClock) -> usize {
    match clock {
        SlaClock::FirstResponse => 0,
        SlaClock::Resolution => 1,
    }
}

/// What the store counts on its own handle (`Store::metrics`).
///
/// Store query latency is timed at the store calls every request makes
/// rather than inside each `Store` method: the store has no single point
/// its queries pass through (each method runs its own statements on the
/// pool, in ticket, KB, queue and notification files alike), so timing
/// there would mean a line in every one of them. The calls timed are the
/// dispatcher's re-read of the peer's access (every request from an agent
/// or technician, one indexed lookup), audit appends (every audited
/// request; the hash chain makes them the slowest writes) and the scrape's
/// own counts: together they show what the database's latency costs a
/// request, which is what an alert wants.
#[derive(Debug, Default)]
pub struct StoreMetrics {
    /// `[ok, failed]`.
    audit_appends: [AtomicU64; 2],
    queries: [LatencyHistogram; 3],
}

/// A store call `triage_store_query_duration_seconds{query}` times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreQuery {
    /// The dispatcher's re-read of the peer's roles and removal.
    PeerAccess,
    /// One audit entry appended (`audit::record`, `audit::record_intent`).
    AuditAppend,
    /// The counts a scrape reads (agents enrolled, tickets).
    ScrapeCounts,
}

const STORE_QUERIES: [&str; 3] = ["peer_access", "audit_append", "scrape_counts"];

impl StoreMetrics {
    /// One audit append, whether it was stored, and how long it took.
    pub fn audit_append(&self, stored: bool, took: Duration) {
        self.audit_appends[usize::from(!stored)].fetch_add(1, Relaxed);
        self.query(StoreQuery::AuditAppend, took);
    }

    pub fn query(&self, query: StoreQuery, took: Duration) {
        self.queries[query as usize].observe(took);
    }

    /// Audit entries appended so far (`[ok, failed]`).
    pub fn audit_appends(&self) -> [u64; 2] {
        [
            self.audit_appends[0].load(Relaxed),
            self.audit_appends[1].load(Relaxed),
        ]
    }
}

/// What the store counts for a scrape ([`Store::metric_counts`](crate::store::Store::metric_counts)).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreCounts {
    /// Agents enrolled and not removed.
    pub agents_enrolled: i64,
    /// Tickets by status and tier; pairs without tickets are absent.
    pub tickets: Vec<(Status, Tier, i64)>,
}

/// Everything the relay counts; see the module docs.
#[derive(Debug)]
pub struct Metrics {
    pub requests: Requests,
    connections: [AtomicI64; 3],
    transfer_bytes: [AtomicU64; 3],
    transfers_active: [AtomicI64; 3],
    /// By clock.
    sla_warnings: [AtomicU64; 2],
    sla_breaches: [AtomicU64; 2],
    /// By channel, then result.
    deliveries: [[AtomicU64; 3]; 2],
    store: Arc<StoreMetrics>,
    agents_connected: AtomicI64,
    agents_enrolled: AtomicI64,
    /// `Status::ALL × Tier::ALL`, row by status.
    tickets: Box<[AtomicI64]>,
    /// When the store's counts were last read; held while reading them,
    /// so concurrent scrapes share one query.
    counted_at: tokio::sync::Mutex<Option<Instant>>,
    counts_max_age: Duration,
}

impl Metrics {
    pub fn new(store: Arc<StoreMetrics>, counts_max_age: Duration) -> Metrics {
        Metrics {
            requests: Requests::default(),
            connections: Default::default(),
            transfer_bytes: Default::default(),
            transfers_active: Default::default(),
            sla_warnings: Default::default(),
            sla_breaches: Default::default(),
            deliveries: Default::default(),
            store,
            agents_connected: AtomicI64::new(0),
            agents_enrolled: AtomicI64::new(0),
            tickets: (0..Status::ALL.len() * Tier::ALL.len())
                .map(|_| AtomicI64::new(0))
                .collect(),
            counted_at: tokio::sync::Mutex::new(None),
            counts_max_age,
        }
    }

    /// Counts a connection of `peer` until the guard is dropped.
    pub fn connection(self: &Arc<Self>, peer: PeerLabel) -> Live {
        Live::new(Arc::clone(self), Gauge::Connection(peer as usize))
    }

    /// Counts a transfer as active until the returned guard is dropped;
    /// [`Live::add_bytes`] counts what it forwarded.
    pub fn transfer(self: &Arc<Self>, kind: TransferLabel) -> Live {
        Live::new(Arc::clone(self), Gauge::Transfer(kind as usize))
    }

    /// An SLA warning or breach the relay recorded; other events are not counted.
    pub fn sla_event(&self, event: &TicketEventKind) {
        match event {
            TicketEventKind::SlaWarning { clock, .. } => {
                self.sla_warnings[clock_index(*clock)].fetch_add(1, Relaxed);
            }
            TicketEventKind::SlaBreached { clock, .. } => {
                self.sla_breaches[clock_index(*clock)].fetch_add(1, Relaxed);
            }
            _ => {}
        }
    }

    /// One notification attempt on `channel`, ended as `result`.
    pub fn delivery(&self, channel: crate::store::Channel, result: DeliveryResult) {
        self.deliveries[channel_index(channel)][result as usize].fetch_add(1, Relaxed);
    }

    /// SLA `(warnings, breaches)` of `clock` this relay recorded so far.
    pub fn sla(&self, clock: SlaClock) -> (u64, u64) {
        let c = clock_index(clock);
        (
            self.sla_warnings[c].load(Relaxed),
            self.sla_breaches[c].load(Relaxed),
        )
    }

    /// Attempts on `channel` that ended as `result` so far.
    pub fn deliveries(&self, channel: crate::store::Channel, result: DeliveryResult) -> u64 {
        self.deliveries[channel_index(channel)][result as usize].load(Relaxed)
    }

    /// The store's counts are older than the max age (or were never read):
    /// `read` reads them, once however many scrapes wait here.
    pub async fn refresh_counts<F, E>(&self, read: F) -> Result<(), E>
    where
        F: std::future::Future<Output = Result<StoreCounts, E>>,
    {
        let mut counted_at = self.counted_at.lock().await;
        if counted_at.is_some_and(|at| at.elapsed() < self.counts_max_age) {
            return Ok(());
        }
        let started = Instant::now();
        let counts = read.await;
        self.store
            .query(StoreQuery::ScrapeCounts, started.elapsed());
        let counts = counts?;
        self.agents_enrolled.store(counts.agents_enrolled, Relaxed);
        // Every pair is written, so a status that emptied reads 0.
        let mut fresh = vec![0i64; self.tickets.len()];
        for (status, tier, n) in counts.tickets {
            fresh[ticket_index(status, tier)] += n;
        }
        for (slot, n) in self.tickets.iter().zip(fresh) {
            slot.store(n, Relaxed);
        }
        *counted_at = Some(Instant::now());
        Ok(())
    }

    /// Agents holding a connection now (read from the registry at scrape time).
    pub fn set_agents_connected(&self, n: usize) {
        self.agents_connected
            .store(i64::try_from(n).unwrap_or(i64::MAX), Relaxed);
    }
}

fn ticket_index(status: Status, tier: Tier) -> usize {
    let s = Status::ALL.iter().position(|&x| x == status).unwrap_or(0);
    let t = Tier::ALL.iter().position(|&x| x == tier).unwrap_or(0);
    s * Tier::ALL.len() + t
}

#[derive(Debug, Clone, Copy)]
enum Gauge {
    Connection(usize),
    Transfer(usize),
}

/// Something counted while it lasts: a connection, a transfer.
#[derive(Debug)]
pub struct Live {
    metrics: Arc<Metrics>,
    gauge: Gauge,
}

impl Live {
    fn new(metrics: Arc<Metrics>, gauge: Gauge) -> Live {
        metrics.gauge(gauge).fetch_add(1, Relaxed);
        Live { metrics, gauge }
    }

    /// Bytes a transfer forwarded (`triage_transfer_bytes_total`).
    pub fn add_bytes(&self, n: u64) {
        if let Gauge::Transfer(kind) = self.gauge {
            self.metrics.transfer_bytes[kind].fetch_add(n, Relaxed);
        }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.metrics.gauge(self.gauge).fetch_sub(1, Relaxed);
    }
}

impl Metrics {
    fn gauge(&self, gauge: Gauge) -> &AtomicI64 {
        match gauge {
            Gauge::Connection(i) => &self.connections[i],
            Gauge::Transfer(i) => &self.transfers_active[i],
        }
    }
}

/// The relay's registry, ready to encode.
#[derive(Debug)]
pub struct Exporter {
    registry: Registry,
}

impl Exporter {
    pub fn new(metrics: Arc<Metrics>) -> Exporter {
        let mut registry = Registry::with_prefix(PREFIX);
        registry.register_collector(Box::new(metrics));
        Exporter { registry }
    }

    /// The whole registry in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        // Writing to a `String` does not fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry);
        out
    }
}

/// The `Content-Type` of [`Exporter::render`]'s text.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

type Labels<const N: usize> = [(&'static str, &'static str); N];

fn gauge(enc: &mut DescriptorEncoder, name: &str, help: &str, value: i64) -> std::fmt::Result {
    enc.encode_descriptor(name, help, None, MetricType::Gauge)?
        .encode_gauge(&value)
}

fn gauges<const N: usize>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: impl IntoIterator<Item = (Labels<N>, i64)>,
) -> std::fmt::Result {
    let mut metric = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, value) in series {
        metric.encode_family(&labels)?.encode_gauge(&value)?;
    }
    Ok(())
}

/// `name` without `_total`: the encoder adds it to counters.
fn counters<const N: usize>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: impl IntoIterator<Item = (Labels<N>, u64)>,
) -> std::fmt::Result {
    let mut metric = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, value) in series {
        metric
            .encode_family(&labels)?
            .encode_counter::<NoLabelSet, _, u64>(&value, None)?;
    }
    Ok(())
}

fn histograms<'h, L: EncodeLabelSet>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: impl IntoIterator<Item = (L, &'h LatencyHistogram)>,
) -> std::fmt::Result {
    let mut metric = enc.encode_descriptor(name, help, None, MetricType::Histogram)?;
    for (labels, histogram) in series {
        let s = histogram.snapshot();
        metric
            .encode_family(&labels)?
            .encode_histogram::<NoLabelSet>(s.sum_secs, s.count, &s.buckets, None)?;
    }
    Ok(())
}

fn load(a: &AtomicU64) -> u64 {
    a.load(Relaxed)
}

fn load_i(a: &AtomicI64) -> i64 {
    a.load(Relaxed)
}

impl Collector for Metrics {
    fn encode(&self, mut enc: DescriptorEncoder) -> std::fmt::Result {
        let enc = &mut enc;
        gauge(
            enc,
            "agents_connected",
            "Agent daemons holding a connection to this relay",
            load_i(&self.agents_connected),
        )?;
        gauge(
            enc,
            "agents_enrolled",
            "Agents enrolled and not removed (read from the store, cached a few seconds)",
            load_i(&self.agents_enrolled),
        )?;
        gauges(
            enc,
            "connections",
            "Connections open now, by the kind of peer they were welcomed as",
            PEERS
                .iter()
                .zip(&self.connections)
                .map(|(&peer, n)| ([("peer", peer)], load_i(n))),
        )?;
        let r = &self.requests;
        // Every kind's `ok` series is always there (rates start at zero);
        // other outcomes appear once they happened.
        counters(
            enc,
            "requests",
            "Requests handled, by kind and outcome (ok, refused before the handler, or the error kind answered)",
            r.kinds.iter().enumerate().flat_map(|(k, &kind)| {
                OUTCOMES.iter().enumerate().filter_map(move |(o, &outcome)| {
                    let n = load(&r.counts[k * OUTCOMES.len() + o]);
                    (o == 0 || n > 0).then_some(([("kind", kind), ("outcome", outcome)], n))
                })
            }),
        )?;
        histograms(
            enc,
            "request_duration_seconds",
            "Time from a request read to its answer sent, by kind (kinds seen so far)",
            r.kinds
                .iter()
                .zip(r.latency.iter())
                .filter(|(_, h)| h.count() > 0)
                .map(|(&kind, h)| ([("kind", kind)], h)),
        )?;
        counters(
            enc,
            "transfer_bytes",
            "Body bytes forwarded to technicians by log pulls, screenshots and attachment downloads",
            TRANSFERS
                .iter()
                .zip(&self.transfer_bytes)
                .map(|(&kind, n)| ([("kind", kind)], load(n))),
        )?;
        gauges(
            enc,
            "transfers_active",
            "Transfers streaming now",
            TRANSFERS
                .iter()
                .zip(&self.transfers_active)
                .map(|(&kind, n)| ([("kind", kind)], load_i(n))),
        )?;
        histograms(
            enc,
            "store_query_duration_seconds",
            "Latency of the store calls on every request's path: peer access re-read, audit append, and the scrape's counts",
            STORE_QUERIES
                .iter()
                .zip(self.store.queries.iter())
                .map(|(&query, h)| ([("query", query)], h)),
        )?;
        let [stored, failed] = self.store.audit_appends();
        counters(
            enc,
            "audit_appends",
            "Entries appended to the audit log (failed: the store refused the append)",
            [
                ([("result", "ok")], stored),
                ([("result", "failed")], failed),
            ],
        )?;
        gauges(
            enc,
            "tickets",
            "Tickets by status and tier (read from the store, cached a few seconds)",
            Status::ALL.iter().flat_map(|&status| {
                Tier::ALL.iter().map(move |&tier| {
                    (
                        [("status", status.as_str()), ("tier", tier.as_str())],
                        load_i(&self.tickets[ticket_index(status, tier)]),
                    )
                })
            }),
        )?;
        let clocks = [SlaClock::FirstResponse, SlaClock::Resolution];
        counters(
            enc,
            "sla_warnings",
            "SLA warning points this relay recorded, by clock",
            clocks.iter().map(|&clock| {
                (
                    [("clock", <&'static str>::from(clock))],
                    load(&self.sla_warnings[clock_index(clock)]),
                )
            }),
        )?;
        counters(
            enc,
            "sla_breaches",
            "SLA due times passed that this relay recorded, by clock",
            clocks.iter().map(|&clock| {
                (
                    [("clock", <&'static str>::from(clock))],
                    load(&self.sla_breaches[clock_index(clock)]),
                )
            }),
        )?;
        counters(
            enc,
            "notify_deliveries",
            "Webhook and mail delivery attempts by channel and result (failed: retried later; abandoned: given up)",
            CHANNELS.iter().enumerate().flat_map(|(c, &channel)| {
                DELIVERY_RESULTS.iter().enumerate().map(move |(r, &result)| {
                    (
                        [("channel", channel), ("result", result)],
                        load(&self.deliveries[c][r]),
                    )
                })
            }),
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics() -> Arc<Metrics> {
        Arc::new(Metrics::new(Arc::default(), COUNTS_MAX_AGE))
    }

    #[test]
    fn every_kind_has_its_name_and_a_row() {
        let m = metrics();
        assert_eq!(m.requests.kinds.len(), RequestKind::iter().count());
        for kind in RequestKind::iter() {
            assert_eq!(m.requests.kinds[kind as usize], <&'static str>::from(kind));
        }
        assert_eq!(
            m.requests.kinds[RequestKind::ListTicketsPage as usize],
            "list_tickets_page"
        );
    }

    #[test]
    fn outcome_names_are_the_error_kinds_wire_names() {
        use ErrorKind::*;
        for kind in [
            InvalidInput,
            NotFound,
            Forbidden,
            Unauthenticated,
            InvalidToken,
            InvalidTransition,
            VersionMismatch,
            Conflict,
            Unavailable,
            Timeout,
            Internal,
            Revoked,
        ] {
            let wire = serde_json::to_value(kind).unwrap();
            assert_eq!(Outcome::Error(kind).name(), wire.as_str().unwrap());
        }
        assert_eq!(Outcome::Ok.name(), "ok");
        assert_eq!(Outcome::Refused.name(), "refused");
    }

    #[test]
    fn the_text_names_every_metric_with_the_prefix() {
        let m = metrics();
        m.requests.record(
            RequestKind::WhoAmI,
            Outcome::Error(ErrorKind::NotFound),
            Duration::from_millis(3),
        );
        let live = m.connection(PeerLabel::Technician);
        let text = Exporter::new(Arc::clone(&m)).render();
        for line in [
            "# TYPE triage_requests_total counter",
            "triage_requests_total{kind=\"who_am_i\",outcome=\"ok\"} 0",
            "triage_requests_total{kind=\"who_am_i\",outcome=\"not_found\"} 1",
            "triage_request_duration_seconds_bucket{kind=\"who_am_i\",le=\"0.005\"} 1",
            "triage_request_duration_seconds_count{kind=\"who_am_i\"} 1",
            "triage_connections{peer=\"technician\"} 1",
            "triage_tickets{status=\"open\",tier=\"l1\"} 0",
            "triage_sla_breaches_total{clock=\"first_response\"} 0",
            "triage_notify_deliveries_total{channel=\"webhook\",result=\"abandoned\"} 0",
            "triage_audit_appends_total{result=\"ok\"} 0",
            "triage_agents_enrolled 0",
        ] {
            assert!(text.lines().any(|l| l == line), "no `{line}` in\n{text}");
        }
        assert!(!text.contains("kind=\"ping_agent\",outcome=\"not_found\""));
        drop(live);
        let text = Exporter::new(m).render();
        assert!(text.contains("triage_connections{peer=\"technician\"} 0\n"));
    }

    #[tokio::test]
    async fn counts_are_read_once_per_max_age() {
        let m = metrics();
        let reads = AtomicU64::new(0);
        let read = || async {
            reads.fetch_add(1, Relaxed);
            Ok::<_, ()>(StoreCounts {
                agents_enrolled: 3,
                tickets: vec![(Status::Open, Tier::L2, 2)],
            })
        };
        m.refresh_counts(read()).await.unwrap();
        m.refresh_counts(read()).await.unwrap();
        assert_eq!(
            reads.load(Relaxed),
            1,
            "the second scrape reuses the counts"
        );
        assert_eq!(load_i(&m.tickets[ticket_index(Status::Open, Tier::L2)]), 2);
        assert_eq!(load_i(&m.agents_enrolled), 3);
    }
}
