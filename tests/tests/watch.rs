//! `triage tickets watch`, the live queue: a real relay, a real agent
//! filing tickets, and the CLI's watch running in a task whose output the
//! test reads as it is printed.

use serde_json::Value;
use std::time::Duration;
use tokio::task::JoinHandle;
use triage_agent::HelpRequest;
use triage_e2e::logs::{parse_cli, SharedBuf};
use triage_e2e::{eventually, CliError, Deployment, Technician};
use triage_relay::store::Store;
use triage_shared::client::{next_frame, Session};
use triage_shared::codec::write_frame;
use triage_shared::protocol::{PeerKind, Request, Response};
use triage_shared::queue::{TicketFilter, WatchFrame};
use triage_shared::roles::Role;
use triage_shared::ticket::{Category, Priority, Status};
use triage_shared::time::Timestamp;

/// How long a test waits for a line it expects.
const EXPECT_WITHIN: Duration = Duration::from_secs(30);

fn help(title: &str) -> HelpRequest {
    HelpRequest {
        title: title.into(),
        description: "It stopped working this morning.".into(),
        category: Category::Hardware,
        priority: Priority::Normal,
        requester: "alice".into(),
        screenshot: None,
    }
}

/// A running `triage tickets watch ARGS`; aborted (as by Ctrl-C) when dropped.
struct Watch {
    printed: SharedBuf,
    task: JoinHandle<Result<(), CliError>>,
}

impl Watch {
    fn start(who: &Technician, args: &[&str]) -> Watch {
        let argv: Vec<&str> = ["tickets", "watch"].iter().chain(args).copied().collect();
        let cli = parse_cli(&who.home, &argv);
        let printed = SharedBuf::default();
        let mut out = printed.clone();
        let task = tokio::spawn(async move { triage_cli::run(cli, &mut out).await });
        Watch { printed, task }
    }

    fn lines(&self) -> Vec<String> {
        self.printed.text().lines().map(str::to_string).collect()
    }

    /// Every complete `--json` line printed so far.
    fn json(&self) -> Vec<Value> {
        let text = self.printed.text();
        let complete = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
        complete
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }

    /// The `{"event": …}` objects printed so far.
    fn events(&self) -> Vec<Value> {
        self.json()
            .into_iter()
            .filter_map(|mut v| v.get_mut("event").map(Value::take))
            .collect()
    }

    /// Waits until `check` holds for what was printed; panics naming
    /// `what` and showing the output otherwise.
    async fn until(&self, what: &str, check: impl Fn(&Watch) -> bool) {
        let seen = eventually(EXPECT_WITHIN, || async {
            assert!(
                !self.task.is_finished(),
                "the watch ended early:\n{}",
                self.printed.text()
            );
            check(self)
        })
        .await;
        assert!(
            seen,
            "never saw {what}; the watch printed:\n{}",
            self.printed.text()
        );
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn excerpt(event: &Value) -> Option<&str> {
    event["kind"]["commented"]["excerpt"].as_str()
}

fn kind_name(event: &Value) -> String {
    match &event["kind"] {
        Value::String(unit) => unit.clone(),
        Value::Object(map) => map.keys().next().cloned().unwrap_or_default(),
        other => other.to_string(),
    }
}

fn seqs(events: &[Value]) -> Vec<u64> {
    events
        .iter()
        .map(|e| e["seq"].as_u64().expect("seq"))
        .collect()
}

fn strictly_increasing(seqs: &[u64]) -> bool {
    seqs.windows(2).all(|w| w[0] < w[1])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_sees_every_kind_of_event_in_order() {
    let d = Deployment::start().await;
    let admin = d.admin.clone();
    d.technician("bob", &[Role::L1, Role::L2]).await;
    let agent = d.enroll_agent("laptop").await;
    let earlier = triage_agent::file_ticket(&agent.state_dir, help("Old ticket"))
        .await
        .expect("ticket filed")
        .to_string();

    let watch = Watch::start(&admin, &["--json"]);
    // The opening list is printed once the relay has placed the watch.
    watch
        .until("the opening list", |w| {
            w.json()
                .iter()
                .any(|l| l["ticket"]["id"] == earlier.as_str())
        })
        .await;
    assert!(watch.events().is_empty(), "nothing happened yet");

    let id = triage_agent::file_ticket(&agent.state_dir, help("Screen flickers"))
        .await
        .expect("ticket filed")
        .to_string();
    for args in [
        vec!["tickets", "assign", &id, "bob"],
        vec!["tickets", "escalate", &id],
        vec!["tickets", "comment", &id, "Looking at it now"],
        vec![
            "tickets",
            "comment",
            &id,
            "Same model as last week",
            "--internal",
        ],
        vec!["tickets", "wait", &id],
    ] {
        admin
            .run(&args)
            .await
            .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    }
    watch
        .until("the status change to waiting", |w| {
            w.events()
                .iter()
                .any(|e| e["kind"]["status_changed"]["to"] == "waiting")
        })
        .await;

    let events = watch.events();
    assert!(
        events.iter().all(|e| e["ticket"]["id"] == id.as_str()),
        "{events:#?}"
    );
    let told: Vec<(String, Value)> = events
        .iter()
        .map(|e| (kind_name(e), e["actor"].clone()))
        .collect();
    assert_eq!(
        told,
        [
            // A ticket is created by the employee who asked for help.
            ("created".to_string(), "alice".into()),
            ("assigned".into(), "admin".into()),
            ("status_changed".into(), "admin".into()),
            ("escalated".into(), "admin".into()),
            ("commented".into(), "admin".into()),
            ("commented".into(), "admin".into()),
            ("status_changed".into(), "admin".into()),
        ]
    );
    assert_eq!(events[1]["kind"]["assigned"]["assignee"], "bob");
    assert_eq!(events[2]["kind"]["status_changed"]["from"], "open");
    assert_eq!(events[3]["kind"]["escalated"]["to"], "l2");
    assert_eq!(events[4]["kind"]["commented"]["internal"], false);
    assert_eq!(excerpt(&events[4]), Some("Looking at it now"));
    assert_eq!(events[5]["kind"]["commented"]["internal"], true);
    assert!(strictly_increasing(&seqs(&events)), "{:?}", seqs(&events));
    // Each event carries the ticket as it was when the relay sent it.
    assert_eq!(events[6]["ticket"]["status"], "waiting");
    assert_eq!(events[6]["ticket"]["tier"], "l2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filtered_watch_prints_only_the_tickets_it_selects() {
    let d = Deployment::start().await;
    let admin = d.admin.clone();
    let agent = d.enroll_agent("laptop").await;
    let file = |title: &'static str| {
        let dir = agent.state_dir.clone();
        async move {
            triage_agent::file_ticket(&dir, help(title))
                .await
                .expect("ticket filed")
                .to_string()
        }
    };
    let stays = file("Printer jams").await;
    let moves = file("VPN drops").await;

    let watch = Watch::start(&admin, &["--tier", "l2"]);
    watch
        .until("the opening table", |w| {
            w.lines().iter().any(|l| l == "No tickets.")
        })
        .await;
    admin
        .run(&["tickets", "comment", &stays, "about the printer"])
        .await
        .unwrap();
    admin.run(&["tickets", "escalate", &moves]).await.unwrap();
    admin
        .run(&["tickets", "comment", &moves, "about the vpn\nsecond line"])
        .await
        .unwrap();
    watch
        .until("the comment on the l2 ticket", |w| {
            w.lines()
                .iter()
                .any(|l| l.contains("comment by admin: about the vpn second line"))
        })
        .await;

    let lines = watch.lines();
    let short = &moves[..8];
    let escalated = lines
        .iter()
        .find(|l| l.contains("l1 → l2"))
        .unwrap_or_else(|| panic!("no escalation line in {lines:#?}"));
    assert!(
        escalated.contains(short) && escalated.ends_with("VPN drops"),
        "{escalated}"
    );
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("printer") || l.contains(&stays[..8])),
        "an l1 ticket's event was printed: {lines:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_restart_mid_watch_loses_and_repeats_nothing() {
    let mut d = Deployment::start().await;
    let admin = d.admin.clone();
    let agent = d.enroll_agent("laptop").await;
    let id = triage_agent::file_ticket(&agent.state_dir, help("Laptop will not boot"))
        .await
        .expect("ticket filed")
        .id();
    let watch = Watch::start(&admin, &["--json"]);
    watch
        .until("the opening list", |w| !w.json().is_empty())
        .await;
    let comment = |text: &'static str| {
        let admin = admin.clone();
        let id = id.to_string();
        async move {
            admin.run(&["tickets", "comment", &id, text]).await.unwrap();
        }
    };
    comment("before the restart").await;
    watch
        .until("the first comment", |w| {
            w.events()
                .iter()
                .any(|e| excerpt(e) == Some("before the restart"))
        })
        .await;

    // Changes made while the relay is down (here straight into its
    // database, as an offline `triage-relay` command would) must arrive too.
    let addr = d.stop_relay().await;
    let db = d.dir.path().join("relay").join("relay.db");
    let store = Store::open(&format!("sqlite://{}?mode=rwc", db.display()))
        .await
        .expect("the relay's database opens");
    for text in ["while it was down", "still down"] {
        store
            .update_ticket(id, |t| {
                triage_relay::workflow::comment(t, "admin", text, Timestamp::now())
            })
            .await
            .expect("comment stored");
    }
    store
        .update_ticket(id, |t| {
            triage_relay::workflow::change_status(
                t,
                triage_shared::ticket::StatusAction::Start,
                "admin",
                None,
                Timestamp::now(),
            )
        })
        .await
        .expect("status stored");
    store.close().await;
    d.restart_relay(addr).await;

    watch
        .until("the reconnection", |w| {
            w.json().iter().any(|l| l.get("reconnected").is_some())
        })
        .await;
    comment("after the restart").await;
    watch
        .until("the comment after the restart", |w| {
            w.events()
                .iter()
                .any(|e| excerpt(e) == Some("after the restart"))
        })
        .await;

    let events = watch.events();
    let comments: Vec<&str> = events.iter().filter_map(excerpt).collect();
    assert_eq!(
        comments,
        [
            "before the restart",
            "while it was down",
            "still down",
            "after the restart"
        ],
        "each exactly once, in order"
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| e["kind"]["status_changed"]["to"] == "in_progress")
            .count(),
        1
    );
    let seqs = seqs(&events);
    assert!(strictly_increasing(&seqs), "{seqs:?}");
    let reconnected = watch
        .json()
        .into_iter()
        .find_map(|l| l.get("reconnected").cloned())
        .unwrap();
    assert_eq!(
        reconnected["after"].as_u64(),
        Some(seqs[0]),
        "resumed after the last event seen"
    );
    assert_eq!(Status::InProgress.as_str(), events[3]["ticket"]["status"]);
}

/// A technician's own session, to send `WatchQueue` as a CLI would.
async fn session(d: &Deployment, who: &Technician) -> Session {
    Session::connect(&d.relay().locator(), &who.key(), PeerKind::Technician)
        .await
        .expect("technician connects")
}

/// Opens a watch and returns its first `n` frames; the stream's sending
/// half stays open (as the CLI keeps it) until the frames are read.
async fn frames(
    session: &Session,
    filter: TicketFilter,
    after: Option<u64>,
    n: usize,
) -> Vec<Response> {
    let (mut send, mut recv) = session.connection().open_bi().await.unwrap();
    write_frame(&mut send, &Request::WatchQueue { filter, after })
        .await
        .unwrap();
    let mut got = Vec::new();
    while got.len() < n {
        let frame = tokio::time::timeout(EXPECT_WITHIN, next_frame::<Response>(&mut recv))
            .await
            .expect("a frame in time")
            .expect("a frame");
        match frame {
            Some(frame) => got.push(frame),
            None => break,
        }
    }
    let _ = send.finish();
    got
}

fn watch_frame(response: &Response) -> &WatchFrame {
    match response {
        Response::Watch(frame) => frame,
        other => panic!("expected a watch frame, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_too_far_behind_is_moved_up_and_told_how_many_it_missed() {
    let d = Deployment::start_with(|c| c.limits.watch_backlog = 2).await;
    let admin = d.admin.clone();
    let agent = d.enroll_agent("laptop").await;
    let id = triage_agent::file_ticket(&agent.state_dir, help("Slow disk"))
        .await
        .expect("ticket filed")
        .to_string();
    for n in 0..5 {
        admin
            .run(&["tickets", "comment", &id, &format!("comment {n}")])
            .await
            .unwrap();
    }
    let s = session(&d, &admin).await;
    // Six events so far: resuming after the first is five behind.
    let got = frames(&s, TicketFilter::default(), Some(1), 2).await;
    assert_eq!(watch_frame(&got[0]), &WatchFrame::Head { seq: 6 });
    assert_eq!(
        watch_frame(&got[1]),
        &WatchFrame::Lagged {
            skipped: 5,
            resume_after: 6
        }
    );
    // Within the backlog, the events missed are sent.
    let got = frames(&s, TicketFilter::default(), Some(4), 3).await;
    let sent: Vec<u64> = got[1..]
        .iter()
        .map(|f| match watch_frame(f) {
            WatchFrame::Event(e) => e.seq,
            other => panic!("expected an event, got {other:?}"),
        })
        .collect();
    assert_eq!(sent, [5, 6]);
    s.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_that_falls_behind_while_watching_gets_a_lagged_marker() {
    // With no backlog allowed, any event not yet sent when the relay next
    // looks counts as falling behind: the lag decision inside the loop,
    // made deterministic.
    let d = Deployment::start_with(|c| c.limits.watch_backlog = 0).await;
    let admin = d.admin.clone();
    let agent = d.enroll_agent("laptop").await;
    let id = triage_agent::file_ticket(&agent.state_dir, help("Fan noise"))
        .await
        .expect("ticket filed")
        .to_string();
    let s = session(&d, &admin).await;
    let (mut send, mut recv) = s.connection().open_bi().await.unwrap();
    let request = Request::WatchQueue {
        filter: TicketFilter::default(),
        after: None,
    };
    write_frame(&mut send, &request).await.unwrap();
    let head = next_frame::<Response>(&mut recv).await.unwrap().unwrap();
    assert_eq!(watch_frame(&head), &WatchFrame::Head { seq: 1 });
    admin
        .run(&["tickets", "comment", &id, "hello"])
        .await
        .unwrap();
    let next = tokio::time::timeout(EXPECT_WITHIN, next_frame::<Response>(&mut recv))
        .await
        .expect("a frame in time")
        .unwrap()
        .unwrap();
    assert_eq!(
        watch_frame(&next),
        &WatchFrame::Lagged {
            skipped: 1,
            resume_after: 2
        }
    );
    // Finishing the sending half ends the watch: the relay finishes its half.
    send.finish().unwrap();
    let end = tokio::time::timeout(EXPECT_WITHIN, next_frame::<Response>(&mut recv))
        .await
        .expect("the relay ends the stream in time")
        .unwrap();
    assert!(end.is_none(), "{end:?}");
    s.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_watch_requests_are_refused_naming_the_value() {
    let d = Deployment::start().await;
    let admin = d.admin.clone();
    // Through the CLI: an endpoint nobody enrolled.
    let refused = admin
        .refused(&["tickets", "watch", "--agent", "no-such-pc"])
        .await;
    assert!(
        refused.contains("no agent has the id or hostname `no-such-pc`"),
        "{refused}"
    );

    // A filter no CLI would send, and a resume past the newest event.
    let s = session(&d, &admin).await;
    let too_many = TicketFilter {
        statuses: vec![Status::Open; 9],
        ..TicketFilter::default()
    };
    let got = frames(&s, too_many, None, 1).await;
    match &got[..] {
        [Response::Error(e)] => {
            assert!(
                e.message
                    .contains("--status is given 9 times; give it at most 8"),
                "{e}"
            )
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let got = frames(&s, TicketFilter::default(), Some(99), 1).await;
    match &got[..] {
        [Response::Error(e)] => assert!(
            e.message.contains("cannot resume the watch after event 99"),
            "{e}"
        ),
        other => panic!("expected a refusal, got {other:?}"),
    }
    s.close().await;
}
