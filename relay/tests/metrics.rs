//! `GET /metrics` over real HTTP, parsed as a Prometheus scraper parses
//! it (`prometheus-parse`), around real requests over QUIC.

mod common;

use common::{next_command, read_all, TestRelay, PROMPTLY};
use prometheus_parse::{Scrape, Value};
use std::net::SocketAddr;
use std::time::Duration;
use triage_relay::{RelayConfig, RelayError};
use triage_shared::client::Session;
use triage_shared::protocol::{Request, Response};
use triage_shared::queue::{TicketFilter, TicketSort};
use triage_shared::remote::AgentReply;
use triage_shared::roles::Role;
use triage_shared::ticket::{Category, NewTicket, Priority, Source};
use triage_shared::transfer::{
    ContentDigest, EndReason, LogQuery, TransferEnd, TransferFrame, TransferStart,
};
use triage_shared::TicketId;

/// Short enough that a test sees the store's counts move without waiting long.
const COUNTS_MAX_AGE: Duration = Duration::from_millis(300);

async fn relay_with_metrics() -> TestRelay {
    TestRelay::start_with(|config: &mut RelayConfig| {
        config.metrics.listen = Some("127.0.0.1:0".parse().unwrap());
        config.metrics.counts_max_age = COUNTS_MAX_AGE;
    })
    .await
}

fn http() -> reqwest::Client {
    // The relay installed ring as the process's provider when it started.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(PROMPTLY)
        .build()
        .unwrap()
}

async fn scrape(addr: SocketAddr) -> Scrape {
    let response = http()
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = response.text().await.unwrap();
    Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap()
}

/// The value of the one sample named `name` whose labels include `labels`.
fn find(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut found = scrape
        .samples
        .iter()
        .filter(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)));
    let sample = found.next()?;
    assert!(found.next().is_none(), "more than one {name} {labels:?}");
    Some(match sample.value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
        ref other => panic!("{name} is a {other:?}"),
    })
}

/// As [`find`], with a series not there yet read as 0 (counters appear
/// once they moved).
fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    find(scrape, name, labels).unwrap_or(0.0)
}

fn requests(scrape: &Scrape, kind: &str, outcome: &str) -> f64 {
    value(
        scrape,
        "triage_requests_total",
        &[("kind", kind), ("outcome", outcome)],
    )
}

fn new_ticket() -> NewTicket {
    NewTicket {
        id: TicketId::new_random(),
        title: "Printer on floor 2 jams".into(),
        description: "every third page".into(),
        category: Category::Hardware,
        priority: Priority::Normal,
        source: Source::Employee,
        requester: "alice".into(),
    }
}

fn list_page() -> Request {
    Request::ListTicketsPage {
        filter: TicketFilter::default(),
        sort: TicketSort::Created,
        after: None,
        limit: 10,
    }
}

/// Scrapes until `done` holds (gauges that follow a connection's end).
async fn scrape_until(addr: SocketAddr, done: impl Fn(&Scrape) -> bool) -> Scrape {
    let deadline = tokio::time::Instant::now() + PROMPTLY;
    loop {
        let s = scrape(addr).await;
        if done(&s) || tokio::time::Instant::now() > deadline {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn counters_move_with_the_requests_made() {
    let t = relay_with_metrics().await;
    let addr = t.relay.metrics_addr().expect("metrics are served");
    assert!(addr.ip().is_loopback());
    let (_key, _agent_id, agent) = t.agent("pc-1").await;
    let tech = t.technician("tess", &[Role::L1]).await;

    // Every session is connected; the enrolling one has gone.
    let before = scrape_until(addr, |s| {
        value(s, "triage_connections", &[("peer", "unenrolled")]) == 0.0
            && value(s, "triage_agents_enrolled", &[]) == 1.0
    })
    .await;
    assert_eq!(
        value(&before, "triage_connections", &[("peer", "agent")]),
        1.0
    );
    assert_eq!(
        value(&before, "triage_connections", &[("peer", "technician")]),
        1.0
    );
    assert_eq!(
        value(&before, "triage_connections", &[("peer", "unenrolled")]),
        0.0
    );
    assert_eq!(value(&before, "triage_agents_connected", &[]), 1.0);
    assert_eq!(value(&before, "triage_agents_enrolled", &[]), 1.0);
    let open_l1 = [("status", "open"), ("tier", "l1")];
    assert_eq!(find(&before, "triage_tickets", &open_l1), Some(0.0));
    // Every kind's `ok` series is there before the first request of it.
    assert_eq!(
        find(
            &before,
            "triage_requests_total",
            &[("kind", "search_tickets"), ("outcome", "ok")]
        ),
        Some(0.0)
    );

    // An agent files a ticket; a technician lists three pages, reads a
    // ticket that is not there and comments (audited); the agent asks
    // for a technician's list and is refused before any handler.
    let ticket = new_ticket();
    let stored = agent
        .request(&Request::SubmitTicket {
            ticket: ticket.clone(),
            snapshot: None,
        })
        .await
        .unwrap();
    assert!(matches!(
        stored,
        Response::TicketStored { created: true, .. }
    ));
    for _ in 0..3 {
        let page = tech.request(&list_page()).await.unwrap();
        assert!(matches!(page, Response::TicketPage { .. }), "{page:?}");
    }
    let missing = tech
        .request(&Request::ShowTicket {
            id: TicketId::new_random(),
        })
        .await;
    assert!(missing.is_err());
    tech.request(&Request::Comment {
        id: ticket.id,
        text: "Looking at it now".into(),
    })
    .await
    .unwrap();
    let refused = agent
        .request(&Request::ListTickets {
            status: None,
            limit: 10,
        })
        .await;
    assert!(refused.is_err());

    let after = scrape(addr).await;
    let moved = |name: &str, labels: &[(&str, &str)]| {
        value(&after, name, labels) - value(&before, name, labels)
    };
    let moved_requests = |kind: &str, outcome: &str| {
        requests(&after, kind, outcome) - requests(&before, kind, outcome)
    };
    assert_eq!(moved_requests("list_tickets_page", "ok"), 3.0);
    assert_eq!(moved_requests("submit_ticket", "ok"), 1.0);
    assert_eq!(moved_requests("show_ticket", "not_found"), 1.0);
    assert_eq!(moved_requests("show_ticket", "ok"), 0.0);
    assert_eq!(moved_requests("comment", "ok"), 1.0);
    assert_eq!(moved_requests("list_tickets", "refused"), 1.0);
    assert_eq!(moved_requests("list_tickets", "ok"), 0.0);
    let latency = [("kind", "list_tickets_page")];
    assert_eq!(
        moved("triage_request_duration_seconds_count", &latency),
        3.0
    );
    assert!(value(&after, "triage_request_duration_seconds_sum", &latency) > 0.0);
    // The buckets add up to the count (`+Inf` holds them all).
    let buckets = after
        .samples
        .iter()
        .find(|s| {
            s.metric == "triage_request_duration_seconds"
                && s.labels.get("kind") == Some("list_tickets_page")
        })
        .expect("the histogram's buckets");
    let Value::Histogram(buckets) = &buckets.value else {
        panic!("{:?} is not a histogram", buckets.value)
    };
    let inf = buckets.iter().find(|b| b.less_than.is_infinite()).unwrap();
    assert_eq!(
        inf.count,
        value(&after, "triage_request_duration_seconds_count", &latency)
    );
    // Only the comment is audited among these.
    assert_eq!(
        moved("triage_audit_appends_total", &[("result", "ok")]),
        1.0
    );
    assert_eq!(
        moved("triage_audit_appends_total", &[("result", "failed")]),
        0.0
    );
    // The store calls every request makes: the peer's access, re-read
    // once per request (7), and the audit append (1).
    let query = |q| [("query", q)];
    assert_eq!(
        moved(
            "triage_store_query_duration_seconds_count",
            &query("peer_access")
        ),
        7.0
    );
    assert_eq!(
        moved(
            "triage_store_query_duration_seconds_count",
            &query("audit_append")
        ),
        1.0
    );

    // The ticket counts are the store's, reused for their max age.
    tokio::time::sleep(COUNTS_MAX_AGE + Duration::from_millis(50)).await;
    let later = scrape(addr).await;
    assert_eq!(find(&later, "triage_tickets", &open_l1), Some(1.0));
    assert_eq!(
        find(
            &later,
            "triage_tickets",
            &[("status", "closed"), ("tier", "l3")]
        ),
        Some(0.0)
    );
    assert!(
        value(
            &later,
            "triage_store_query_duration_seconds_count",
            &query("scrape_counts")
        ) >= 2.0
    );

    // A session that ends leaves the gauge.
    tech.close().await;
    let gone = scrape_until(addr, |s| {
        value(s, "triage_connections", &[("peer", "technician")]) == 0.0
    })
    .await;
    assert_eq!(
        value(&gone, "triage_connections", &[("peer", "technician")]),
        0.0
    );
    assert_eq!(
        value(&gone, "triage_connections", &[("peer", "agent")]),
        1.0
    );
    drop(agent);
}

#[tokio::test]
async fn only_get_metrics_is_served() {
    let t = relay_with_metrics().await;
    let addr = t.relay.metrics_addr().unwrap();
    let client = http();
    for path in ["/", "/metric", "/metrics/", "/debug"] {
        let r = client
            .get(format!("http://{addr}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
    let r = client
        .post(format!("http://{addr}/metrics"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "GET");
    // A head larger than the bound is refused, not buffered.
    let r = client
        .get(format!("http://{addr}/metrics"))
        .header("x-padding", "a".repeat(16 * 1024))
        .send()
        .await;
    assert!(
        r.as_ref().map_or(true, |r| r.status() == 431),
        "an oversized head is answered 431 or cut: {r:?}"
    );
}

#[tokio::test]
async fn the_endpoint_is_off_unless_asked_and_stops_with_the_relay() {
    let off = TestRelay::start().await;
    assert_eq!(off.relay.metrics_addr(), None);

    let t = relay_with_metrics().await;
    let addr = t.relay.metrics_addr().unwrap();
    scrape(addr).await;
    t.relay.shutdown().await;
    let after = http().get(format!("http://{addr}/metrics")).send().await;
    assert!(after.is_err(), "still served after shutdown: {after:?}");
}

#[tokio::test]
async fn a_non_loopback_address_needs_the_public_flag() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = RelayConfig::new(dir.path(), "127.0.0.1:0".parse().unwrap());
    config.metrics.listen = Some("0.0.0.0:0".parse().unwrap());
    let refused = triage_relay::start(config.clone()).await;
    let Err(RelayError::Config(message)) = refused else {
        panic!("a non-loopback metrics address was accepted");
    };
    assert!(message.contains("--metrics-listen-public"), "{message}");
    assert!(message.contains("0.0.0.0:0"), "{message}");

    config.metrics.public = true;
    let relay = triage_relay::start(config).await.unwrap();
    let addr = relay.metrics_addr().unwrap();
    assert!(addr.ip().is_unspecified());
    // Reached here over loopback only.
    let local: SocketAddr = ([127, 0, 0, 1], addr.port()).into();
    scrape(local).await;
    relay.shutdown().await;
}

#[tokio::test]
async fn a_session_over_the_rate_is_counted_as_refused() {
    let t = TestRelay::start_with(|config: &mut RelayConfig| {
        config.metrics.listen = Some("127.0.0.1:0".parse().unwrap());
        config.limits.technician_requests_per_second = 1;
        config.limits.technician_request_burst = 1;
    })
    .await;
    let addr = t.relay.metrics_addr().unwrap();
    let tech: Session = t.technician("rita", &[Role::L1]).await;
    let mut refused = 0;
    for _ in 0..3 {
        if tech.request(&list_page()).await.is_err() {
            refused += 1;
        }
    }
    assert!(refused >= 1, "the rate limit refused nothing");
    let s = scrape(addr).await;
    assert_eq!(
        requests(&s, "list_tickets_page", "refused"),
        f64::from(refused)
    );
    assert_eq!(
        requests(&s, "list_tickets_page", "ok"),
        f64::from(3 - refused)
    );
}

#[tokio::test]
async fn a_log_pull_counts_its_bytes_and_is_active_while_it_streams() {
    let t = relay_with_metrics().await;
    let addr = t.relay.metrics_addr().unwrap();
    let (_k, id, agent) = t.agent("pc-1").await;
    let lina = t.technician("lina", &[Role::L2]).await;
    let data: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
    let request = Request::PullLogs {
        agent: id,
        query: LogQuery::whole("/var/log/syslog"),
        attach: None,
    };
    let recv = lina.open_stream(&request).await.unwrap();
    let command = next_command(&agent).await;
    let active = [("kind", "log")];
    let streaming = scrape_until(addr, |s| {
        value(s, "triage_transfers_active", &active) == 1.0
    })
    .await;
    assert_eq!(value(&streaming, "triage_transfers_active", &active), 1.0);
    assert_eq!(
        value(&streaming, "triage_transfer_bytes_total", &active),
        0.0
    );

    let t_ = AgentReply::Transfer;
    command
        .answer(&[
            t_(TransferFrame::Start(TransferStart {
                name: "/var/log/syslog".into(),
                upper_bound: Some(data.len() as u64),
                exact: true,
            })),
            t_(TransferFrame::Chunk(data[..60_000].to_vec())),
            t_(TransferFrame::Chunk(data[60_000..].to_vec())),
            t_(TransferFrame::End(TransferEnd {
                bytes: data.len() as u64,
                sha256: ContentDigest::of(&data),
                reason: EndReason::Complete,
            })),
        ])
        .await;
    let frames = read_all(recv).await;
    assert!(matches!(
        frames.last(),
        Some(Response::Transfer(TransferFrame::End(_)))
    ));

    let done = scrape_until(addr, |s| {
        requests(s, "pull_logs", "ok") == 1.0 && value(s, "triage_transfers_active", &active) == 0.0
    })
    .await;
    assert_eq!(
        value(&done, "triage_transfer_bytes_total", &active),
        data.len() as f64
    );
    assert_eq!(value(&done, "triage_transfers_active", &active), 0.0);
    assert_eq!(requests(&done, "pull_logs", "ok"), 1.0);
    assert_eq!(
        value(
            &done,
            "triage_request_duration_seconds_count",
            &[("kind", "pull_logs")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &done,
            "triage_transfer_bytes_total",
            &[("kind", "screenshot")]
        ),
        0.0
    );
}
