//! The outbox and the health monitor against a stand-in relay: queued
//! tickets go out in order when the daemon connects, "help" uses a one-shot
//! connection, and a fake disk feed files one ticket, updates it and says
//! when it clears.

mod common;

use common::{Seen, StubRelay, GUARD};
use std::path::Path;
use std::time::Duration;
use triage_agent::{DaemonOptions, FakeSource, FileOptions, Filed, HealthSample, HelpRequest};
use triage_shared::agent_update::AgentUpdate;
use triage_shared::ticket::{Category, Priority};
use triage_shared::TicketId;

const GIB: u64 = 1 << 30;

fn help(title: &str) -> HelpRequest {
    HelpRequest {
        title: title.into(),
        description: String::new(),
        category: Category::Other,
        priority: Priority::Normal,
        requester: "alice".into(),
        screenshot: None,
    }
}

async fn enrolled(relay: &mut StubRelay, dir: &Path) {
    triage_agent::enroll(dir, &relay.token()).await.unwrap();
    assert!(matches!(relay.next().await, Seen::Enrolled { .. }));
}

/// Starts the daemon; the returned sender stops it.
fn daemon(
    dir: &Path,
    options: DaemonOptions,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), triage_agent::AgentError>>,
) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let dir = dir.to_path_buf();
    let task = tokio::spawn(async move {
        triage_agent::run_daemon_with(
            &dir,
            async {
                let _ = stopped.await;
            },
            options,
        )
        .await
    });
    (stop, task)
}

/// The next event that is not a heartbeat or a connection.
async fn next_message(relay: &mut StubRelay) -> Seen {
    loop {
        match relay.next().await {
            Seen::Heartbeat | Seen::AgentConnected(_) | Seen::OneShotConnected => continue,
            other => return other,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_delivers_over_a_one_shot_connection() {
    let mut relay = StubRelay::start();
    let tmp = tempfile::tempdir().unwrap();
    enrolled(&mut relay, tmp.path()).await;
    let filed = triage_agent::file_ticket(tmp.path(), help("VPN drops"))
        .await
        .unwrap();
    assert!(matches!(filed, Filed::Delivered(_)), "{filed:?}");
    assert!(matches!(relay.next().await, Seen::OneShotConnected));
    assert!(
        matches!(relay.next().await, Seen::Ticket { id, title, .. } if id == filed.id() && title == "VPN drops")
    );
    assert_eq!(triage_agent::pending_count(tmp.path()).unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_tickets_go_out_in_order_when_the_daemon_connects() {
    let mut relay = StubRelay::start();
    let tmp = tempfile::tempdir().unwrap();
    enrolled(&mut relay, tmp.path()).await;
    std::fs::write(tmp.path().join("agent.toml"), "[health]\nenabled = false\n").unwrap();
    let only_queue = FileOptions {
        deliver_within: Duration::ZERO,
    };
    let mut ids = Vec::new();
    for i in 0..5 {
        let filed =
            triage_agent::file_ticket_with(tmp.path(), help(&format!("t{i}")), only_queue.clone())
                .await
                .unwrap();
        assert!(matches!(filed, Filed::Queued(_)));
        ids.push(filed.id());
    }
    assert_eq!(triage_agent::pending_count(tmp.path()).unwrap(), 5);
    let (stop, task) = daemon(tmp.path(), DaemonOptions::default());
    for (i, expected) in ids.iter().enumerate() {
        match next_message(&mut relay).await {
            Seen::Ticket { id, title, .. } => {
                assert_eq!(id, *expected);
                assert_eq!(title, format!("t{i}"));
            }
            other => panic!("expected ticket t{i}, saw {other:?}"),
        }
    }
    // Something queued while the daemon runs goes out too, by the poll.
    let late = triage_agent::file_ticket_with(tmp.path(), help("late"), only_queue)
        .await
        .unwrap();
    assert!(matches!(next_message(&mut relay).await, Seen::Ticket { id, .. } if id == late.id()));
    // Each file goes once its acknowledgement is in (shutdown may come
    // before that: the file would stay and be sent again, harmlessly).
    tokio::time::timeout(GUARD, async {
        while triage_agent::pending_count(tmp.path()).unwrap() > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the outbox empties");
    stop.send(()).unwrap();
    tokio::time::timeout(GUARD, task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

async fn next_update(relay: &mut StubRelay, ticket: TicketId) -> AgentUpdate {
    match next_message(relay).await {
        Seen::Update { ticket: t, update } => {
            assert_eq!(t, ticket);
            update
        }
        other => panic!("expected an update, saw {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fake_disk_feed_files_one_ticket_updates_it_and_says_when_it_clears() {
    let mut relay = StubRelay::start();
    let tmp = tempfile::tempdir().unwrap();
    enrolled(&mut relay, tmp.path()).await;
    std::fs::write(
        tmp.path().join("agent.toml"),
        "[health.disk]\nraise_after = \"0s\"\nclear_after = \"0s\"\n",
    )
    .unwrap();
    let feed = FakeSource::new(HealthSample::healthy().with_disk("/var", 40 * GIB, 20 * GIB));
    let options = DaemonOptions {
        health_source: Some(Box::new(feed.clone())),
        health_interval: Some(Duration::from_millis(50)),
        update_interval: Some(Duration::from_millis(300)),
        ..DaemonOptions::default()
    };
    let (stop, task) = daemon(tmp.path(), options);
    assert!(matches!(relay.next().await, Seen::AgentConnected(_)));
    feed.update(|s| *s = s.clone().with_disk("/var", 40 * GIB, 2 * GIB));
    let (ticket, title) = match next_message(&mut relay).await {
        Seen::Ticket {
            id,
            title,
            snapshot_valid,
        } => {
            assert_eq!(snapshot_valid, Some(true));
            (id, title)
        }
        other => panic!("expected the alert's ticket, saw {other:?}"),
    };
    assert!(title.starts_with("Disk /var 95% full on "), "{title}");
    for _ in 0..2 {
        match next_update(&mut relay, ticket).await {
            AgentUpdate::Comment(text) => {
                assert!(text.starts_with("Still raised: 95.0% used"), "{text}")
            }
            other => panic!("{other:?}"),
        }
    }
    let raised = triage_agent::health_report(tmp.path()).unwrap();
    assert_eq!(raised.alerts.len(), 1);
    assert_eq!(raised.alerts[0].ticket, Some(ticket));
    feed.update(|s| *s = s.clone().with_disk("/var", 40 * GIB, 30 * GIB));
    loop {
        match next_update(&mut relay, ticket).await {
            AgentUpdate::Comment(text) if text.starts_with("Still raised") => continue,
            AgentUpdate::Comment(text) => {
                assert!(
                    text.starts_with("Cleared: the `disk` alert for /var"),
                    "{text}"
                );
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    stop.send(()).unwrap();
    tokio::time::timeout(GUARD, task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let report = triage_agent::health_report(tmp.path()).unwrap();
    assert!(report.alerts.is_empty(), "{report:?}");
    assert!(report.evaluated_at.is_some());
}
