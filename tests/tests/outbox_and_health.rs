//! The offline outbox delivers every ticket exactly once — across a relay
//! outage, an agent restart and a relay that dies between committing a
//! ticket and acknowledging it — and the health monitor turns a full disk
//! into one ticket that is kept up to date and told when it clears.

use serde_json::Value;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use triage_agent::{
    pending_count, DaemonOptions, FakeSource, FileOptions, Filed, HealthSample, HelpRequest,
};
use triage_e2e::{eventually, Deployment, Technician};
use triage_shared::ticket::{Category, Priority};

const GIB: u64 = 1 << 30;
/// Tickets filed while the relay is down.
const OFFLINE_TICKETS: usize = 50;
/// Generous: a loaded 2-core machine delivers 50 tickets in a few seconds.
const DELIVERY_DEADLINE: Duration = Duration::from_secs(45);
const HEALTH_DEADLINE: Duration = Duration::from_secs(30);

fn help(title: &str) -> HelpRequest {
    HelpRequest {
        title: title.into(),
        description: "Filed by the end-to-end tests.".into(),
        category: Category::Hardware,
        priority: Priority::Normal,
        requester: "dana".into(),
        screenshot: None,
    }
}

/// Queue only: do not try the relay at once.
fn queue_only() -> FileOptions {
    FileOptions {
        deliver_within: Duration::ZERO,
    }
}

/// A daemon whose health monitor sees a healthy fake machine (so the real
/// one cannot add tickets) and that checks its outbox often.
fn quiet_daemon() -> DaemonOptions {
    monitored(FakeSource::new(HealthSample::healthy()))
}

/// A daemon whose health monitor reads `feed` five times a second and
/// comments on a raised alert at most once a second.
fn monitored(feed: FakeSource) -> DaemonOptions {
    DaemonOptions {
        health_source: Some(Box::new(feed)),
        health_interval: Some(Duration::from_millis(200)),
        update_interval: Some(Duration::from_secs(1)),
        outbox_poll: Duration::from_millis(200),
    }
}

/// Every ticket the relay has, as the admin lists them.
async fn all_tickets(admin: &Technician) -> Result<Vec<Value>, String> {
    let out = admin
        .run(&["tickets", "list", "--limit", "1000", "--json"])
        .await
        .map_err(|e| e.to_string())?;
    let list: Value = serde_json::from_str(&out).map_err(|e| format!("{e}: {out}"))?;
    list.as_array()
        .cloned()
        .ok_or_else(|| format!("not a JSON array: {out}"))
}

fn ids(tickets: &[Value]) -> Vec<String> {
    tickets
        .iter()
        .map(|t| t["id"].as_str().expect("ticket id").to_string())
        .collect()
}

async fn wait_until_delivered(state_dir: &Path) -> bool {
    eventually(DELIVERY_DEADLINE, || async {
        pending_count(state_dir).is_ok_and(|n| n == 0)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tickets_filed_while_the_relay_is_down_arrive_exactly_once_after_an_agent_restart() {
    let mut d = Deployment::start().await;
    let mut agent = d.enroll_agent("kiosk").await;
    let addr = d.stop_relay().await;

    let mut filed = BTreeSet::new();
    for n in 0..OFFLINE_TICKETS {
        let title = format!("Offline request {n}");
        let outcome = triage_agent::file_ticket_with(&agent.state_dir, help(&title), queue_only())
            .await
            .expect("filing succeeds with the relay down");
        assert_eq!(outcome, Filed::Queued(outcome.id()), "{title}");
        filed.insert(outcome.id().to_string());
    }
    assert_eq!(filed.len(), OFFLINE_TICKETS, "ticket ids are not unique");
    assert_eq!(pending_count(&agent.state_dir).unwrap(), OFFLINE_TICKETS);

    // A daemon that runs and stops while the relay is still down (the agent
    // "restarts") keeps every queued ticket. There is nothing to observe
    // while it retries, so it simply gets a few outbox polls' worth of time.
    agent.start_daemon_with(quiet_daemon());
    tokio::time::sleep(Duration::from_secs(2)).await;
    agent.stop_daemon().await;
    assert_eq!(
        pending_count(&agent.state_dir).unwrap(),
        OFFLINE_TICKETS,
        "a daemon without a relay lost or dropped queued tickets"
    );

    d.restart_relay(addr).await;
    agent.start_daemon_with(quiet_daemon());
    assert!(
        wait_until_delivered(&agent.state_dir).await,
        "{} tickets still queued after the relay came back",
        pending_count(&agent.state_dir).unwrap()
    );

    let listed = ids(&all_tickets(&d.admin).await.expect("tickets list"));
    assert_eq!(
        listed.len(),
        OFFLINE_TICKETS,
        "expected each queued ticket exactly once: {listed:?}"
    );
    let listed: BTreeSet<String> = listed.into_iter().collect();
    assert_eq!(listed, filed, "the relay's tickets are not the ones filed");
    agent.stop_daemon().await;
}

/// The relay binary serving `data_dir` on `addr`, armed to abort after it
/// commits the first new ticket and before it acknowledges it. Returns
/// once it is listening (it has rewritten `public-addr`).
#[cfg(unix)]
async fn serve_armed_to_abort(data_dir: &Path, addr: SocketAddr) -> tokio::process::Child {
    use triage_relay::failpoint::{EXIT_AFTER_TICKET_COMMIT, FAILPOINT_ENV};
    let public_addr = data_dir.join(triage_relay::config::PUBLIC_ADDR_FILE);
    std::fs::remove_file(&public_addr).expect("the in-process relay wrote public-addr");
    let log = std::fs::File::create(data_dir.join("serve-stderr.log")).expect("log file");
    let mut child = tokio::process::Command::new(triage_e2e::relay_binary())
        .args(["serve", "--listen", &addr.to_string(), "--data-dir"])
        .arg(data_dir)
        .env_remove("TRIAGE_DATABASE_URL")
        .env_remove("TRIAGE_RELAY_DIR")
        .env(FAILPOINT_ENV, EXIT_AFTER_TICKET_COMMIT)
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("triage-relay serve starts");
    let listening = eventually(Duration::from_secs(30), || {
        let public_addr = public_addr.clone();
        async move { std::fs::read_to_string(public_addr).is_ok_and(|a| !a.trim().is_empty()) }
    })
    .await;
    if !listening {
        let exited = child.try_wait().ok().flatten();
        let log = std::fs::read_to_string(data_dir.join("serve-stderr.log")).unwrap_or_default();
        panic!("triage-relay serve did not start on {addr} (exit: {exited:?}): {log}");
    }
    child
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_killed_between_commit_and_ack_still_stores_the_ticket_once() {
    use std::os::unix::process::ExitStatusExt;
    /// `std::process::abort` ends the process with SIGABRT.
    const SIGABRT: i32 = 6;

    // The in-process relay makes the data directory, the admin and the
    // agent's enrollment; then the real binary takes over the same data
    // directory and address (the agent pinned both when it enrolled).
    let mut d = Deployment::start().await;
    let mut agent = d.enroll_agent("till").await;
    let addr = d.stop_relay().await;
    let data_dir = d.dir.path().join("relay");
    let mut relay = serve_armed_to_abort(&data_dir, addr).await;

    let filed = triage_agent::file_ticket(&agent.state_dir, help("Till drawer stuck"))
        .await
        .expect("filing succeeds although the relay dies");
    assert_eq!(
        filed,
        Filed::Queued(filed.id()),
        "the relay cannot have acknowledged the ticket"
    );
    let status = tokio::time::timeout(Duration::from_secs(30), relay.wait())
        .await
        .expect("the armed relay exits after the commit")
        .expect("wait for the relay process");
    let log = std::fs::read_to_string(data_dir.join("serve-stderr.log")).unwrap_or_default();
    assert_eq!(
        status.signal(),
        Some(SIGABRT),
        "relay exited with {status}: {log}"
    );
    assert_eq!(pending_count(&agent.state_dir).unwrap(), 1);

    // Back without the failpoint (it is armed only through the child's
    // environment): the ticket committed before the crash is already there.
    d.restart_relay(addr).await;
    let before = ids(&all_tickets(&d.admin).await.expect("tickets list"));
    assert_eq!(
        before,
        vec![filed.id().to_string()],
        "committed before the crash"
    );

    // The agent resends it; the relay recognises the id and stores nothing new.
    agent.start_daemon_with(quiet_daemon());
    assert!(
        wait_until_delivered(&agent.state_dir).await,
        "the ticket was never acknowledged after the restart"
    );
    let after = ids(&all_tickets(&d.admin).await.expect("tickets list"));
    assert_eq!(after, vec![filed.id().to_string()], "stored exactly once");
    agent.stop_daemon().await;
}

/// Raise and clear disk alerts on the first sample that crosses a threshold.
const INSTANT_DISK_RULE: &str = "[health.disk]\nraise_after = \"0s\"\nclear_after = \"0s\"\n";

/// 38 of 40 GiB used at /var: 95 % used and 2 GiB free, past both thresholds.
fn var_full() -> HealthSample {
    HealthSample::healthy().with_disk("/var", 40 * GIB, 2 * GIB)
}

/// Between the raise and clear thresholds (86 % used, 5.5 GiB free):
/// neither raises nor clears.
fn var_between() -> HealthSample {
    HealthSample::healthy().with_disk("/var", 40 * GIB, 11 * GIB / 2)
}

/// Plenty of room at /var.
fn var_fine() -> HealthSample {
    HealthSample::healthy().with_disk("/var", 40 * GIB, 30 * GIB)
}

async fn health_tickets(admin: &Technician) -> Vec<Value> {
    all_tickets(admin)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|t| t["source"] == "health_alert")
        .collect()
}

/// The comments on `id` that start with `prefix`.
async fn comments_starting(admin: &Technician, id: &str, prefix: &str) -> Vec<String> {
    let Ok(out) = admin.run(&["tickets", "show", id, "--json"]).await else {
        return Vec::new();
    };
    let detail: Value = serde_json::from_str(&out).unwrap_or_default();
    detail["comments"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["text"].as_str())
        .filter(|t| t.starts_with(prefix))
        .map(String::from)
        .collect()
}

async fn status_of(admin: &Technician, id: &str) -> String {
    let detail = admin.json(&["tickets", "show", id, "--json"]).await;
    detail["ticket"]["status"]
        .as_str()
        .expect("ticket status")
        .to_string()
}

/// Starts a daemon on a fresh agent whose `/var` fills up, and waits for
/// the one ticket it files; returns the agent, the feed and the ticket id.
async fn a_full_var_ticket(
    d: &Deployment,
    name: &str,
    extra_config: &str,
) -> (triage_e2e::Agent, FakeSource, String) {
    let mut agent = d.enroll_agent(name).await;
    std::fs::write(
        agent.state_dir.join(triage_agent::CONFIG_FILE),
        format!("{extra_config}{INSTANT_DISK_RULE}"),
    )
    .expect("write agent.toml");
    let feed = FakeSource::new(HealthSample::healthy());
    agent.start_daemon_with(monitored(feed.clone()));
    feed.set(var_full());

    let admin = &d.admin;
    let filed = eventually(HEALTH_DEADLINE, || async {
        !health_tickets(admin).await.is_empty()
    })
    .await;
    assert!(filed, "a full /var filed no ticket");
    let tickets = health_tickets(admin).await;
    assert_eq!(tickets.len(), 1, "{tickets:#?}");
    let ticket = &tickets[0];
    let host = triage_agent::host::hostname();
    assert_eq!(ticket["title"], format!("Disk /var 95% full on {host}"));
    assert_eq!(ticket["agent_id"], agent.id.to_string());
    assert_eq!(ticket["status"], "open");
    let id = ticket["id"].as_str().expect("ticket id").to_string();
    (agent, feed, id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_files_one_ticket_updates_it_and_comments_when_it_clears() {
    let d = Deployment::start().await;
    let (mut agent, feed, id) = a_full_var_ticket(&d, "fileserver", "").await;

    // Flapping between full and the hysteresis band for a few seconds
    // (many evaluations at 200 ms) keeps the alert raised: no new ticket,
    // and "Still raised" comments on this one.
    for round in 0..15 {
        feed.set(if round % 2 == 0 {
            var_between()
        } else {
            var_full()
        });
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    feed.set(var_full());
    let admin = &d.admin;
    let updated = eventually(HEALTH_DEADLINE, || async {
        !comments_starting(admin, &id, "Still raised")
            .await
            .is_empty()
    })
    .await;
    assert!(updated, "the raised alert never updated its ticket");
    let tickets = health_tickets(admin).await;
    assert_eq!(
        tickets.len(),
        1,
        "flapping filed more tickets: {tickets:#?}"
    );

    feed.set(var_fine());
    let cleared = eventually(HEALTH_DEADLINE, || async {
        !comments_starting(admin, &id, "Cleared").await.is_empty()
    })
    .await;
    assert!(cleared, "no comment said the alert cleared");
    let cleared = comments_starting(admin, &id, "Cleared").await;
    assert_eq!(cleared.len(), 1, "{cleared:?}");
    assert!(cleared[0].contains("/var"), "{cleared:?}");
    assert_eq!(
        status_of(admin, &id).await,
        "open",
        "auto_resolve is off by default"
    );
    assert!(
        wait_until_delivered(&agent.state_dir).await,
        "health messages left in the outbox"
    );
    assert_eq!(health_tickets(admin).await.len(), 1);
    agent.stop_daemon().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_auto_resolve_a_cleared_disk_alert_resolves_its_ticket() {
    let d = Deployment::start().await;
    let (mut agent, feed, id) =
        a_full_var_ticket(&d, "printserver", "[health]\nauto_resolve = true\n").await;

    feed.set(var_fine());
    let admin = &d.admin;
    let resolved = eventually(HEALTH_DEADLINE, || async {
        admin
            .run(&["tickets", "show", &id, "--json"])
            .await
            .ok()
            .and_then(|out| serde_json::from_str::<Value>(&out).ok())
            .is_some_and(|detail| detail["ticket"]["status"] == "resolved")
    })
    .await;
    assert!(resolved, "the cleared alert did not resolve its ticket");
    assert_eq!(health_tickets(admin).await.len(), 1);
    agent.stop_daemon().await;
}
