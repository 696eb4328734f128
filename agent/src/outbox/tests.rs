use super::deliver::Transport;
use super::policy::Kind;
use super::*;
use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use triage_shared::agent_update::AgentUpdate;
use triage_shared::client::ClientError;
use triage_shared::error::{ErrorKind, RemoteError};
use triage_shared::protocol::Request;
use triage_shared::protocol::Response;
use triage_shared::ticket::{Category, NewTicket, Priority, Source};
use triage_shared::TicketId;
use uuid::Uuid;

fn ticket(source: Source, title: &str) -> Message {
    Message::ticket(
        NewTicket {
            id: TicketId::new_random(),
            title: title.into(),
            description: String::new(),
            category: Category::Hardware,
            priority: Priority::Normal,
            source,
            requester: "alice".into(),
        },
        None,
    )
}

fn employee(title: &str) -> Message {
    ticket(Source::Employee, title)
}

fn update(text: &str) -> Message {
    Message::update(TicketId::new_random(), AgentUpdate::Comment(text.into()))
}

fn queued(outbox: &Outbox, message: &Message) -> String {
    match outbox.push(message).unwrap() {
        Queued::Queued { file_name, .. } => file_name,
        Queued::Dropped => panic!("message was dropped"),
    }
}

fn titles(outbox: &Outbox) -> Vec<String> {
    outbox
        .pending()
        .unwrap()
        .iter()
        .map(|p| match outbox.read(p) {
            Loaded::Message(m) => match *m {
                Message::Ticket { ticket, .. } => ticket.title,
                Message::Update { update, .. } => update.text().unwrap_or_default().to_string(),
                Message::Deflection(d) => d.query,
            },
            other => panic!("{other:?}"),
        })
        .collect()
}

/// A stand-in relay that stores each id once, like the real one.
#[derive(Default)]
struct FakeRelay {
    stored: Mutex<Vec<Uuid>>,
    sent: AtomicUsize,
    /// Requests beyond this many fail as if the network went away.
    reachable_for: Option<usize>,
    refuse: Mutex<HashSet<Uuid>>,
}

impl Transport for FakeRelay {
    fn send(
        &self,
        request: &Request,
    ) -> impl Future<Output = Result<Response, ClientError>> + Send {
        let n = self.sent.fetch_add(1, Ordering::SeqCst);
        let (id, answer) = match request {
            Request::SubmitTicket { ticket, .. } => (
                ticket.id.0,
                Response::TicketStored {
                    id: ticket.id,
                    created: true,
                },
            ),
            Request::SubmitUpdate { id, .. } => (id.0, Response::Ok),
            other => panic!("unexpected {other:?}"),
        };
        let result = if self.reachable_for.is_some_and(|limit| n >= limit) {
            Err(ClientError::Timeout("relay:1".into()))
        } else if self.refuse.lock().unwrap().contains(&id) {
            Err(ClientError::Remote(RemoteError::new(
                ErrorKind::NotFound,
                "no such ticket",
            )))
        } else {
            let mut stored = self.stored.lock().unwrap();
            if !stored.contains(&id) {
                stored.push(id);
            }
            Ok(answer)
        };
        async move {
            tokio::task::yield_now().await;
            result
        }
    }
}

#[test]
fn messages_survive_reopening_in_queue_order() {
    let tmp = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(tmp.path(), MAX_OUTBOX_MESSAGES).unwrap();
    for i in 0..20 {
        queued(&outbox, &employee(&format!("ticket {i}")));
    }
    queued(&outbox, &update("then an update"));
    drop(outbox);
    let reopened = Outbox::open(tmp.path(), MAX_OUTBOX_MESSAGES).unwrap();
    let mut expected: Vec<String> = (0..20).map(|i| format!("ticket {i}")).collect();
    expected.push("then an update".into());
    assert_eq!(titles(&reopened), expected);
    assert_eq!(pending_count(tmp.path()).unwrap(), 21);
    // Nothing but messages is left in the directory (no temporary files).
    let stray = fs::read_dir(reopened.dir())
        .unwrap()
        .filter(|e| {
            !e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".msg")
        })
        .count();
    assert_eq!(stray, 0);
}

#[test]
fn an_empty_state_dir_has_nothing_pending() {
    let tmp = tempfile::tempdir().unwrap();
    assert_eq!(pending_count(tmp.path()).unwrap(), 0);
}

#[cfg(unix)]
#[test]
fn the_outbox_is_private_to_the_owner() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(tmp.path(), 10).unwrap();
    let name = queued(&outbox, &employee("x"));
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(outbox.dir()), 0o700);
    assert_eq!(mode(&outbox.dir().join(name)), 0o600);
}

#[test]
fn a_full_outbox_drops_the_oldest_health_update_first() {
    let tmp = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(tmp.path(), 3).unwrap();
    queued(&outbox, &employee("e1"));
    let oldest_update = queued(&outbox, &update("u1"));
    queued(&outbox, &update("u2"));
    match outbox.push(&employee("e2")).unwrap() {
        Queued::Queued { dropped, .. } => assert_eq!(dropped, [oldest_update]),
        Queued::Dropped => panic!("an employee ticket was dropped"),
    }
    assert_eq!(titles(&outbox), ["e1", "u2", "e2"]);
}

#[test]
fn a_full_outbox_never_drops_an_employee_ticket() {
    let tmp = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(tmp.path(), 2).unwrap();
    queued(&outbox, &employee("e1"));
    queued(&outbox, &employee("e2"));
    let err = outbox.push(&employee("e3")).unwrap_err();
    assert!(
        matches!(err, AgentError::OutboxFull { max: 2, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("max_messages"), "{err}");
    assert_eq!(outbox.push(&update("u")).unwrap(), Queued::Dropped);
    let alert = ticket(Source::HealthAlert, "a");
    assert_eq!(outbox.push(&alert).unwrap(), Queued::Dropped);
    assert_eq!(titles(&outbox), ["e1", "e2"]);
}

#[test]
fn the_bound_is_exact() {
    let tmp = tempfile::tempdir().unwrap();
    let max = 5;
    let outbox = Outbox::open(tmp.path(), max).unwrap();
    for i in 0..max {
        queued(&outbox, &update(&format!("u{i}")));
    }
    assert_eq!(outbox.pending().unwrap().len(), max);
    queued(&outbox, &update("one more"));
    assert_eq!(outbox.pending().unwrap().len(), max);
    assert_eq!(titles(&outbox)[0], "u1");
    assert!(outbox
        .pending()
        .unwrap()
        .iter()
        .all(|p| p.kind() == Kind::Update));
}

#[test]
fn corrupt_files_are_set_aside_and_delivery_carries_on() {
    let tmp = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(tmp.path(), 10).unwrap();
    let bad = queued(&outbox, &employee("will be damaged"));
    let good = queued(&outbox, &employee("fine"));
    fs::write(outbox.dir().join(&bad), b"\x00\x00\x00\x05garbage").unwrap();
    // A file whose name lies about its content is not trusted either.
    let liar = policy::Name {
        seq: u64::MAX,
        kind: Kind::Update,
        id: Uuid::new_v4(),
    }
    .file_name();
    fs::copy(outbox.dir().join(&good), outbox.dir().join(&liar)).unwrap();
    let relay = FakeRelay::default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (report, result) = rt.block_on(deliver_pending(&outbox, &relay, None));
    result.unwrap();
    assert_eq!(report.delivered, [good]);
    assert_eq!(report.corrupt, 2);
    assert!(outbox.pending().unwrap().is_empty());
    assert!(outbox.dir().join(CORRUPT_DIR).join(&bad).exists());
    assert!(outbox.was_set_aside(&liar));
}

#[tokio::test]
async fn a_lost_relay_stops_delivery_and_keeps_the_rest_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(tmp.path(), 10).unwrap();
    for i in 0..5 {
        queued(&outbox, &employee(&format!("t{i}")));
    }
    let relay = FakeRelay {
        reachable_for: Some(2),
        ..FakeRelay::default()
    };
    let (report, result) = deliver_pending(&outbox, &relay, None).await;
    assert!(matches!(result, Err(ClientError::Timeout(_))));
    assert_eq!(report.delivered.len(), 2);
    assert_eq!(titles(&outbox), ["t2", "t3", "t4"]);
    // Next time round the rest goes, in order.
    let back = FakeRelay::default();
    let (report, result) = deliver_pending(&outbox, &back, None).await;
    result.unwrap();
    assert_eq!(report.delivered.len(), 3);
    assert!(outbox.pending().unwrap().is_empty());
}

#[tokio::test]
async fn a_refused_message_is_set_aside_without_blocking_the_queue() {
    let tmp = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(tmp.path(), 10).unwrap();
    let doomed = update("to a ticket the relay does not have");
    let doomed_name = queued(&outbox, &doomed);
    let after = queued(&outbox, &employee("after"));
    let relay = FakeRelay::default();
    relay.refuse.lock().unwrap().insert(doomed.id());
    let (report, result) = deliver_pending(&outbox, &relay, None).await;
    result.unwrap();
    assert_eq!(report.delivered, [after]);
    assert_eq!(report.refused.len(), 1);
    assert_eq!(report.refused[0].0, doomed_name);
    assert!(outbox.dir().join(REFUSED_DIR).join(&doomed_name).exists());
}

#[tokio::test]
async fn delivery_can_stop_after_a_given_message() {
    let tmp = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(tmp.path(), 10).unwrap();
    queued(&outbox, &employee("older"));
    let mine = queued(&outbox, &employee("mine"));
    queued(&outbox, &employee("newer"));
    let relay = FakeRelay::default();
    let (report, result) = deliver_pending(&outbox, &relay, Some(&mine)).await;
    result.unwrap();
    assert_eq!(report.delivered.len(), 2);
    assert_eq!(report.delivered[1], mine);
    assert_eq!(titles(&outbox), ["newer"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_delivering_at_once_store_each_message_once() {
    let tmp = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(tmp.path(), 100).unwrap();
    let mut ids = Vec::new();
    for i in 0..30 {
        let m = if i % 3 == 0 {
            update(&format!("u{i}"))
        } else {
            employee(&format!("t{i}"))
        };
        ids.push(m.id());
        queued(&outbox, &m);
    }
    let relay = Arc::new(FakeRelay::default());
    let rounds: Vec<_> = (0..2)
        .map(|_| {
            let (outbox, relay) = (outbox.clone(), relay.clone());
            tokio::spawn(async move { deliver_pending(&outbox, relay.as_ref(), None).await })
        })
        .collect();
    let mut delivered = 0;
    for round in rounds {
        let (report, result) = round.await.unwrap();
        result.unwrap();
        assert_eq!(report.corrupt, 0);
        assert!(report.refused.is_empty());
        delivered += report.delivered.len();
    }
    assert!(
        delivered >= 30,
        "every message was acknowledged at least once"
    );
    assert!(outbox.pending().unwrap().is_empty());
    assert_eq!(
        *relay.stored.lock().unwrap(),
        ids,
        "each stored once, in queue order"
    );
}

#[test]
fn a_snapshot_too_large_for_a_frame_is_left_out_but_the_ticket_is_kept() {
    use triage_shared::diagnostics::DiskInfo;
    use triage_shared::limits::{MAX_SNAPSHOT_ITEMS, MAX_SNAPSHOT_STRING_LEN};
    let mut big = crate::diagnostics::shape::assemble(crate::diagnostics::shape::tests::raw());
    let long = "d".repeat(MAX_SNAPSHOT_STRING_LEN);
    big.disks = vec![
        DiskInfo {
            name: long.clone(),
            mount_point: long.clone(),
            file_system: long,
            total_bytes: 0,
            available_bytes: 0,
            removable: false
        };
        MAX_SNAPSHOT_ITEMS
    ];
    let small = crate::diagnostics::shape::assemble(crate::diagnostics::shape::tests::raw());
    let Message::Ticket { ticket, .. } = employee("t") else {
        unreachable!()
    };
    let kept = Message::ticket(ticket.clone(), Some(small));
    assert!(matches!(
        kept,
        Message::Ticket {
            snapshot: Some(_),
            ..
        }
    ));
    let trimmed = Message::ticket(ticket.clone(), Some(big));
    assert!(matches!(&trimmed, Message::Ticket { snapshot: None, ticket: t } if *t == ticket));
}

#[test]
fn only_stale_temporary_files_are_swept() {
    let tmp = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(tmp.path(), 10).unwrap();
    let kept = queued(&outbox, &employee("kept"));
    let old = outbox.dir().join(".tmp-old");
    let fresh = outbox.dir().join(".tmp-fresh");
    fs::write(&old, b"half a message").unwrap();
    fs::write(&fresh, b"being written").unwrap();
    let long_ago =
        std::time::SystemTime::now() - STALE_TEMP_AGE - std::time::Duration::from_secs(1);
    fs::File::options()
        .write(true)
        .open(&old)
        .unwrap()
        .set_modified(long_ago)
        .unwrap();
    assert_eq!(outbox.sweep_stale_temps(STALE_TEMP_AGE), 1);
    assert!(!old.exists());
    assert!(fresh.exists());
    assert!(outbox.dir().join(kept).exists());
}
