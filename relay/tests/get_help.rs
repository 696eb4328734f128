//! The employee's "Get help" window, relay side, over real connections:
//! "My tickets" (agents only, this agent's tickets for one requester),
//! technicians' internal notes (never in "My tickets") and the employee's
//! screenshot sent as an agent update (an attachment, once per update id).

mod common;

use common::{read_all, TestRelay};
use triage_shared::agent_update::{AgentUpdate, PNG_SIGNATURE};
use triage_shared::audit::AuditEntry;
use triage_shared::client::{ClientError, Session};
use triage_shared::error::ErrorKind;
use triage_shared::ids::UpdateId;
use triage_shared::limits::{MAX_ATTACHED_SCREENSHOT_LEN, MAX_MY_TICKETS, MAX_NAME_LEN};
use triage_shared::protocol::{PeerKind, Request, Response, TicketDetail};
use triage_shared::roles::Role;
use triage_shared::ticket::{
    Category, EmployeeTicket, NewTicket, Priority, Source, TicketEventKind,
};
use triage_shared::transfer::{AttachmentKind, ContentDigest, TransferFrame};
use triage_shared::TicketId;

fn for_employee(requester: &str, title: &str) -> NewTicket {
    NewTicket {
        id: TicketId::new_random(),
        title: title.into(),
        description: "it does not work".into(),
        category: Category::Software,
        priority: Priority::Normal,
        source: Source::Employee,
        requester: requester.into(),
    }
}

async fn file(agent: &Session, ticket: &NewTicket) -> TicketId {
    let response = agent
        .request(&Request::SubmitTicket {
            ticket: ticket.clone(),
            snapshot: None,
        })
        .await
        .unwrap();
    assert!(matches!(response, Response::TicketStored { id, .. } if id == ticket.id));
    ticket.id
}

async fn my_tickets(agent: &Session, requester: &str, limit: u32) -> Vec<EmployeeTicket> {
    let request = Request::MyTickets {
        requester: requester.into(),
        limit,
    };
    match agent.request(&request).await.unwrap() {
        Response::MyTickets(tickets) => tickets,
        other => panic!("expected MyTickets, got {other:?}"),
    }
}

async fn show(tech: &Session, id: TicketId) -> TicketDetail {
    match tech.request(&Request::ShowTicket { id }).await.unwrap() {
        Response::Ticket(detail) => *detail,
        other => panic!("expected a ticket, got {other:?}"),
    }
}

fn refusal(result: Result<Response, ClientError>) -> (ErrorKind, String) {
    match result {
        Err(ClientError::Remote(e)) => (e.kind, e.message),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn audit_of(t: &TestRelay, action: &str) -> Vec<AuditEntry> {
    let all = t.relay.store().audit_entries(0, None, 1000).await.unwrap();
    all.into_iter().filter(|e| e.action == action).collect()
}

fn png(len: usize) -> Vec<u8> {
    let mut png = PNG_SIGNATURE.to_vec();
    png.extend((0..len - PNG_SIGNATURE.len()).map(|i| (i % 251) as u8));
    png
}

fn screenshot(ticket: TicketId, id: UpdateId, png: Vec<u8>) -> Request {
    Request::SubmitUpdate {
        id,
        ticket,
        update: AgentUpdate::Screenshot(png),
    }
}

#[tokio::test]
async fn an_agent_lists_its_own_tickets_for_one_employee_with_the_latest_reply() {
    let t = TestRelay::start().await;
    let (key, _, agent) = t.agent("pc-1").await;
    let (_, _, other) = t.agent("pc-2").await;
    let bob = t.technician("bob", &[Role::L1]).await;
    let first = file(&agent, &for_employee("alice", "VPN drops")).await;
    let second = file(&agent, &for_employee("alice", "Printer jams")).await;
    file(&agent, &for_employee("erin", "Mail is slow")).await;
    let elsewhere = file(&other, &for_employee("alice", "On another PC")).await;
    let reply = Request::Comment {
        id: first,
        text: "Please restart the VPN client".into(),
    };
    assert_eq!(bob.request(&reply).await.unwrap(), Response::Ok);

    let mine = my_tickets(&agent, "alice", 0).await;
    let ids: Vec<TicketId> = mine.iter().map(|t| t.id).collect();
    assert_eq!(ids, [second, first], "newest first, this agent's only");
    assert_eq!(mine[0].title, "Printer jams");
    assert_eq!(mine[0].latest_reply, None);
    let answer = mine[1].latest_reply.as_ref().unwrap();
    assert_eq!(
        (
            answer.author.as_str(),
            answer.text.as_str(),
            answer.internal
        ),
        ("bob", "Please restart the VPN client", false)
    );
    assert_eq!(my_tickets(&agent, "alice", 1).await.len(), 1);
    assert_eq!(my_tickets(&agent, "alice", u32::MAX).await.len(), 2);
    let theirs = my_tickets(&other, "alice", 0).await;
    assert_eq!(theirs.iter().map(|t| t.id).collect::<Vec<_>>(), [elsewhere]);

    // The "Get help" window asks over a one-shot connection.
    let one_shot = Session::connect(&t.locator(), &key, PeerKind::AgentOneShot)
        .await
        .unwrap();
    assert_eq!(my_tickets(&one_shot, "alice", 0).await, mine);
}

#[tokio::test]
async fn my_tickets_is_for_agents_only_and_checks_the_requester() {
    let t = TestRelay::start().await;
    let (_, _, agent) = t.agent("pc-1").await;
    let admin = t.technician("root", &Role::ALL).await;
    file(&agent, &for_employee("alice", "VPN drops")).await;
    let ask = |requester: String| Request::MyTickets {
        requester,
        limit: MAX_MY_TICKETS,
    };
    let (kind, message) = refusal(admin.request(&ask("alice".into())).await);
    assert_eq!(kind, ErrorKind::Forbidden);
    assert!(message.contains("agent request"), "{message}");
    for bad in [
        String::new(),
        "  ".into(),
        "alice\u{1b}[2J".into(),
        "a".repeat(MAX_NAME_LEN + 1),
    ] {
        let (kind, message) = refusal(agent.request(&ask(bad.clone())).await);
        assert_eq!(kind, ErrorKind::InvalidInput, "{bad:?}");
        assert!(message.contains("requester"), "{message}");
    }
    // The longest allowed name is fine, and finds nothing.
    assert!(my_tickets(&agent, &"a".repeat(MAX_NAME_LEN), 0)
        .await
        .is_empty());
}

#[tokio::test]
async fn an_internal_note_shows_to_technicians_but_never_in_my_tickets() {
    let t = TestRelay::start().await;
    let (_, _, agent) = t.agent("pc-1").await;
    let bob = t.technician("bob", &[Role::L1]).await;
    let id = file(&agent, &for_employee("alice", "VPN drops")).await;
    let public = Request::Comment {
        id,
        text: "We are on it".into(),
    };
    assert_eq!(bob.request(&public).await.unwrap(), Response::Ok);
    let note = Request::Note {
        id,
        text: "Her laptop is due for replacement anyway".into(),
    };
    assert_eq!(bob.request(&note).await.unwrap(), Response::Ok);

    let detail = show(&bob, id).await;
    let seen: Vec<(&str, bool)> = detail
        .comments
        .iter()
        .map(|c| (c.text.as_str(), c.internal))
        .collect();
    assert_eq!(
        seen,
        [
            ("We are on it", false),
            ("Her laptop is due for replacement anyway", true)
        ]
    );
    let mine = my_tickets(&agent, "alice", 0).await;
    let reply = mine[0].latest_reply.as_ref().unwrap();
    assert_eq!(reply.text, "We are on it");
    assert!(!reply.internal);

    // The audit log tells a note from a comment.
    let notes = audit_of(&t, "ticket.note").await;
    assert_eq!(notes.len(), 1);
    assert_eq!(
        (
            notes[0].actor.as_str(),
            notes[0].target.clone(),
            notes[0].outcome.as_str()
        ),
        ("technician:bob", format!("ticket:{id}"), "ok")
    );
    assert_eq!(audit_of(&t, "ticket.comment").await.len(), 1);
    // A bad note is refused, audited as refused, and stores nothing.
    let empty = Request::Note {
        id,
        text: " ".into(),
    };
    assert_eq!(
        refusal(bob.request(&empty).await).0,
        ErrorKind::InvalidInput
    );
    let notes = audit_of(&t, "ticket.note").await;
    assert!(
        notes[1].outcome.starts_with("refused: "),
        "{}",
        notes[1].outcome
    );
    assert_eq!(show(&bob, id).await.comments.len(), 2);
    // Agents cannot write notes.
    assert_eq!(refusal(agent.request(&note).await).0, ErrorKind::Forbidden);
}

#[tokio::test]
async fn an_employee_screenshot_becomes_a_fetchable_attachment_once() {
    let t = TestRelay::start().await;
    let (_, agent_id, agent) = t.agent("pc-1").await;
    // Downloading a screenshot needs the role that may take one (l2+).
    let bob = t.technician("bob", &[Role::L2]).await;
    let id = file(&agent, &for_employee("alice", "Error dialog on start")).await;
    // The largest screenshot allowed still travels in one frame.
    let data = png(MAX_ATTACHED_SCREENSHOT_LEN);
    let uid = UpdateId::new_random();
    let request = screenshot(id, uid, data.clone());
    for _ in 0..3 {
        assert_eq!(agent.request(&request).await.unwrap(), Response::Ok);
    }

    let detail = show(&bob, id).await;
    assert!(detail.comments.is_empty(), "{:?}", detail.comments);
    let [a] = detail.attachments.as_slice() else {
        panic!("one attachment for one update id: {:?}", detail.attachments)
    };
    assert_eq!(a.kind, AttachmentKind::Screenshot);
    assert_eq!(a.name, "screenshot.png");
    assert_eq!(a.taken_by, "employee:alice");
    assert_eq!(a.agent_id, agent_id);
    assert_eq!(a.bytes, data.len() as u64);
    assert_eq!(a.sha256, ContentDigest::of(&data));
    assert!(detail.events.iter().any(|e| e.event
        == TicketEventKind::Attached {
            kind: AttachmentKind::Screenshot,
            name: "screenshot.png".into(),
            attachment: a.id,
        }));

    let fetch = Request::FetchAttachment {
        ticket: id,
        attachment: a.id,
    };
    let lea = t.technician("lea", &[Role::L1]).await;
    let refused = read_all(lea.open_stream(&fetch).await.unwrap()).await;
    assert!(
        matches!(refused.as_slice(), [Response::Error(e)] if e.kind == ErrorKind::Forbidden),
        "an l1 may see the ticket but not download its screenshot"
    );
    let frames = read_all(bob.open_stream(&fetch).await.unwrap()).await;
    let mut got = Vec::new();
    for f in &frames {
        if let Response::Transfer(TransferFrame::Chunk(c)) = f {
            got.extend_from_slice(c);
        }
    }
    assert_eq!(got, data);
    assert!(matches!(
        frames.last(),
        Some(Response::Transfer(TransferFrame::End(end))) if end.sha256 == ContentDigest::of(&data)
    ));

    let entries = audit_of(&t, "ticket.screenshot").await;
    let outcomes: Vec<&str> = entries.iter().map(|e| e.outcome.as_str()).collect();
    assert_eq!(
        outcomes,
        ["ok", "ok (already stored)", "ok (already stored)"]
    );
    assert_eq!(entries[0].actor, format!("agent:{agent_id}"));
    let details: serde_json::Value = serde_json::from_str(&entries[0].details).unwrap();
    assert_eq!(details["attachment"], a.id.to_string());
    assert_eq!(details["sha256"], ContentDigest::of(&data).to_string());
}

#[tokio::test]
async fn a_screenshot_that_is_not_a_png_too_big_or_not_ours_is_refused() {
    let t = TestRelay::start().await;
    let (_, _, agent) = t.agent("pc-1").await;
    let (_, _, other) = t.agent("pc-2").await;
    let bob = t.technician("bob", &[Role::L1]).await;
    let id = file(&agent, &for_employee("alice", "Error dialog on start")).await;
    let uid = UpdateId::new_random();

    let gif = screenshot(id, uid, b"GIF89a\x01\x00\x01\x00".to_vec());
    let (kind, message) = refusal(agent.request(&gif).await);
    assert_eq!(kind, ErrorKind::InvalidInput);
    assert!(message.contains("not a PNG"), "{message}");
    // One byte over the limit still fits in a frame, so the relay must say no.
    let big = screenshot(id, uid, png(MAX_ATTACHED_SCREENSHOT_LEN + 1));
    let (kind, message) = refusal(agent.request(&big).await);
    assert_eq!(kind, ErrorKind::InvalidInput);
    assert!(message.contains("the limit is"), "{message}");
    let theirs = screenshot(id, uid, png(100));
    let (kind, _) = refusal(other.request(&theirs).await);
    assert_eq!(kind, ErrorKind::Forbidden);
    assert_eq!(refusal(bob.request(&theirs).await).0, ErrorKind::Forbidden);

    assert!(show(&bob, id).await.attachments.is_empty());
    let entries = audit_of(&t, "ticket.screenshot").await;
    assert_eq!(entries.len(), 4);
    assert!(entries.iter().all(|e| e.outcome.starts_with("refused: ")));
    // The refusals used nothing up: the owner's update goes through.
    assert_eq!(agent.request(&theirs).await.unwrap(), Response::Ok);
    assert_eq!(show(&bob, id).await.attachments.len(), 1);
}
