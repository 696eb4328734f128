//! Log pulls, screenshots and attachments through a real relay, with a test
//! double playing the agent: the splice, its refusals, the records it
//! leaves, and stopping a follow.

mod common;

use common::{next_command, read_all, TestRelay};
use std::time::Duration;
use triage_relay::MAX_TRANSFERS_PER_AGENT;
use triage_shared::client::{next_frame, Session};
use triage_shared::codec::{read_frame, write_frame};
use triage_shared::error::ErrorKind;
use triage_shared::protocol::{Request, Response};
use triage_shared::remote::{AgentCommand, AgentReply};
use triage_shared::roles::Role;
use triage_shared::ticket::{Category, NewTicket, Priority, Source};
use triage_shared::transfer::{
    ContentDigest, EndReason, LogQuery, TransferEnd, TransferFrame, TransferStart,
};
use triage_shared::{AgentId, TicketId};

fn pull(agent: AgentId, path: &str) -> Request {
    Request::PullLogs {
        agent,
        query: LogQuery::whole(path),
        attach: None,
    }
}

fn body(data: &[u8]) -> Vec<AgentReply> {
    let t = AgentReply::Transfer;
    vec![
        t(TransferFrame::Start(TransferStart {
            name: "/var/log/syslog".into(),
            upper_bound: Some(data.len() as u64),
            exact: true,
        })),
        t(TransferFrame::Chunk(data.to_vec())),
        t(TransferFrame::End(TransferEnd {
            bytes: data.len() as u64,
            sha256: ContentDigest::of(data),
            reason: EndReason::Complete,
        })),
    ]
}

/// The body bytes in `frames`, and the frame that ended them.
fn collected(frames: &[Response]) -> (Vec<u8>, Option<&Response>) {
    let mut data = Vec::new();
    for f in frames {
        if let Response::Transfer(TransferFrame::Chunk(c)) = f {
            data.extend_from_slice(c);
        }
    }
    (data, frames.last())
}

async fn ask(session: &Session, request: &Request) -> quinn::RecvStream {
    session.open_stream(request).await.unwrap()
}

async fn last_audit(t: &TestRelay) -> triage_shared::audit::AuditEntry {
    let mut all = t.relay.store().audit_entries(0, None, 1000).await.unwrap();
    all.pop().unwrap()
}

#[tokio::test]
async fn a_pull_is_spliced_through_and_recorded() {
    let t = TestRelay::start().await;
    let (_k, id, agent) = t.agent("pc-1").await;
    let lina = t.technician("lina", &[Role::L2]).await;
    let data: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
    let replies = body(&data);
    let fake = tokio::spawn(async move {
        let cmd = next_command(&agent).await;
        assert_eq!(
            cmd.command,
            AgentCommand::PullLogs(LogQuery::whole("/var/log/syslog"))
        );
        cmd.answer(&replies).await;
        agent
    });
    let frames = read_all(ask(&lina, &pull(id, "/var/log/syslog")).await).await;
    let (got, last) = collected(&frames);
    assert_eq!(got, data);
    assert!(matches!(
        last,
        Some(Response::Transfer(TransferFrame::End(_)))
    ));
    let _agent = fake.await.unwrap();

    let records = t.relay.store().transfers(10).await.unwrap();
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!((r.technician.as_str(), r.agent_id), ("lina", id));
    assert_eq!(
        (r.path.as_str(), r.bytes),
        ("/var/log/syslog", data.len() as u64)
    );
    assert_eq!(r.sha256, Some(ContentDigest::of(&data)));
    assert_eq!(r.result, "ok");
    let e = last_audit(&t).await;
    assert_eq!((e.action.as_str(), e.outcome.as_str()), ("log.pull", "ok"));
    assert_eq!(e.actor, "technician:lina");
    let details: serde_json::Value = serde_json::from_str(&e.details).unwrap();
    assert_eq!(details["bytes"], data.len() as u64);
    assert_eq!(details["path"], "/var/log/syslog");
    assert!(details["duration_ms"].is_u64());
}

#[tokio::test]
async fn l1_unknown_and_offline_agents_are_refused_at_once() {
    let t = TestRelay::start().await;
    let (_k, id, agent) = t.agent("pc-1").await;
    let lara = t.technician("lara", &[Role::L1]).await;
    let frames = read_all(ask(&lara, &pull(id, "/var/log/syslog")).await).await;
    let [Response::Error(e)] = frames.as_slice() else {
        panic!("{frames:?}")
    };
    assert_eq!(e.kind, ErrorKind::Forbidden);
    let entry = last_audit(&t).await;
    assert_eq!(entry.action, "log.pull");
    assert!(entry.outcome.starts_with("refused: "), "{}", entry.outcome);

    let lina = t.technician("lina", &[Role::L2]).await;
    let unknown = AgentId::new_random();
    let frames = read_all(ask(&lina, &pull(unknown, "/var/log/syslog")).await).await;
    assert!(matches!(&frames[..], [Response::Error(e)] if e.kind == ErrorKind::NotFound));

    t.disconnect_agent(id, agent).await;
    let frames = tokio::time::timeout(
        Duration::from_secs(5),
        read_all(ask(&lina, &pull(id, "/var/log/syslog")).await),
    )
    .await
    .expect("an offline agent is refused at once");
    let [Response::Error(e)] = frames.as_slice() else {
        panic!("{frames:?}")
    };
    assert_eq!(e.kind, ErrorKind::Unavailable);
    assert!(e.message.contains("offline"), "{}", e.message);
    let records = t.relay.store().transfers(10).await.unwrap();
    assert!(records.iter().all(|r| r.result.starts_with("refused: ")));
}

#[tokio::test]
async fn an_agent_that_disconnects_mid_transfer_is_reported() {
    let t = TestRelay::start().await;
    let (_k, id, agent) = t.agent("pc-1").await;
    let lina = t.technician("lina", &[Role::L2]).await;
    let fake = tokio::spawn(async move {
        let mut cmd = next_command(&agent).await;
        let replies = body(b"half of it");
        write_frame(&mut cmd.send, &replies[0]).await.unwrap();
        write_frame(&mut cmd.send, &replies[1]).await.unwrap();
        // Killed before the end.
        agent.connection().close(9u32.into(), b"killed");
    });
    let frames = read_all(ask(&lina, &pull(id, "/var/log/syslog")).await).await;
    fake.await.unwrap();
    let Some(Response::Error(e)) = frames.last() else {
        panic!("{frames:?}")
    };
    assert!(
        e.message.contains("disconnected") || e.message.contains("ended the stream"),
        "{}",
        e.message
    );
    let r = &t.relay.store().transfers(1).await.unwrap()[0];
    assert!(r.result.starts_with("failed: "), "{}", r.result);
    assert_eq!(r.sha256, None);
}

#[tokio::test]
async fn finishing_the_technician_half_stops_a_follow() {
    let t = TestRelay::start().await;
    let (_k, id, agent) = t.agent("pc-1").await;
    let lina = t.technician("lina", &[Role::L2]).await;
    let fake = tokio::spawn(async move {
        let (mut send, mut recv) = agent.connection().accept_bi().await.unwrap();
        let cmd: AgentCommand = read_frame(&mut recv).await.unwrap().unwrap();
        let AgentCommand::PullLogs(q) = cmd else {
            panic!("{cmd:?}")
        };
        assert!(q.follow);
        let start = TransferFrame::Start(TransferStart {
            name: q.path,
            upper_bound: None,
            exact: false,
        });
        write_frame(&mut send, &AgentReply::Transfer(start))
            .await
            .unwrap();
        write_frame(
            &mut send,
            &AgentReply::Transfer(TransferFrame::Chunk(b"new line\n".to_vec())),
        )
        .await
        .unwrap();
        // The relay ends its half when the technician stops.
        let stopped: Option<AgentCommand> = read_frame(&mut recv).await.unwrap();
        assert!(stopped.is_none());
        let end = TransferEnd {
            bytes: 9,
            sha256: ContentDigest::of(b"new line\n"),
            reason: EndReason::Stopped,
        };
        write_frame(&mut send, &AgentReply::Transfer(TransferFrame::End(end)))
            .await
            .unwrap();
        send.finish().unwrap();
        let _ = send.stopped().await;
        agent
    });
    let request = Request::PullLogs {
        agent: id,
        query: LogQuery {
            follow: true,
            ..LogQuery::whole("/var/log/syslog")
        },
        attach: None,
    };
    let (mut send, mut recv) = lina.connection().open_bi().await.unwrap();
    write_frame(&mut send, &request).await.unwrap();
    let mut frames = Vec::new();
    for _ in 0..2 {
        frames.push(next_frame::<Response>(&mut recv).await.unwrap().unwrap());
    }
    send.finish().unwrap();
    frames.extend(read_all(recv).await);
    let (got, last) = collected(&frames);
    assert_eq!(got, b"new line\n");
    assert!(matches!(
        last,
        Some(Response::Transfer(TransferFrame::End(TransferEnd {
            reason: EndReason::Stopped,
            ..
        })))
    ));
    let _agent = fake.await.unwrap();
    let r = &t.relay.store().transfers(1).await.unwrap()[0];
    assert_eq!(r.result, "stopped by the technician");
}

async fn agent_ticket(agent: &Session) -> TicketId {
    let id = TicketId::new_random();
    let ticket = NewTicket {
        id,
        title: "Slow".into(),
        description: String::new(),
        category: Category::Software,
        priority: Priority::Normal,
        source: Source::Employee,
        requester: "erin".into(),
    };
    agent
        .request(&Request::SubmitTicket {
            ticket,
            snapshot: None,
        })
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn attach_stores_a_fitting_log_on_the_ticket_and_refuses_a_big_one_first() {
    let t = TestRelay::start().await;
    let (_k, id, agent) = t.agent("pc-1").await;
    let ticket = agent_ticket(&agent).await;
    let lina = t.technician("lina", &[Role::L2]).await;
    let with_attach = Request::PullLogs {
        agent: id,
        query: LogQuery::whole("/var/log/syslog"),
        attach: Some(ticket),
    };
    let big = triage_relay::MAX_ATTACHMENT_LEN + 1;
    let fake = tokio::spawn(async move {
        let cmd = next_command(&agent).await;
        let start = TransferFrame::Start(TransferStart {
            name: "/var/log/syslog".into(),
            upper_bound: Some(big),
            exact: true,
        });
        // The relay refuses on the start frame and drops the stream.
        let mut send = cmd.send;
        let _ = write_frame(&mut send, &AgentReply::Transfer(start)).await;
        let _ = send.stopped().await;
        let cmd = next_command(&agent).await;
        cmd.answer(&body(b"small log\n")).await;
        agent
    });
    let frames = read_all(ask(&lina, &with_attach).await).await;
    let [Response::Error(e)] = frames.as_slice() else {
        panic!("nothing is forwarded before the refusal: {frames:?}")
    };
    assert!(
        e.message.contains("--attach stores at most"),
        "{}",
        e.message
    );

    let frames = read_all(ask(&lina, &with_attach).await).await;
    assert_eq!(collected(&frames).0, b"small log\n");
    let _agent = fake.await.unwrap();
    let Response::Ticket(detail) = lina
        .request(&Request::ShowTicket { id: ticket })
        .await
        .unwrap()
    else {
        panic!()
    };
    let [a] = detail.attachments.as_slice() else {
        panic!("{:?}", detail.attachments)
    };
    assert_eq!((a.bytes, a.taken_by.as_str()), (10, "lina"));
    assert_eq!(a.sha256, ContentDigest::of(b"small log\n"));
    let fetch = Request::FetchAttachment {
        ticket,
        attachment: a.id,
    };
    let frames = read_all(ask(&lina, &fetch).await).await;
    assert_eq!(collected(&frames).0, b"small log\n");
    assert_eq!(
        t.relay.store().transfers(1).await.unwrap()[0].result,
        "ok (attached)"
    );
}

#[tokio::test]
async fn a_screenshot_refusal_reaches_the_technician_and_the_audit_log() {
    let t = TestRelay::start().await;
    let (_k, id, agent) = t.agent("pc-1").await;
    let lina = t.technician("lina", &[Role::L2]).await;
    let why = "the user did not consent to a screenshot: no desktop session to ask for consent";
    let fake = tokio::spawn(async move {
        let cmd = next_command(&agent).await;
        assert_eq!(
            cmd.command,
            AgentCommand::Screenshot {
                requested_by: "lina".into(),
                ticket: None,
                requester: None,
            }
        );
        let refusal = triage_shared::error::RemoteError::new(ErrorKind::Forbidden, why);
        cmd.answer(&[AgentReply::Error(refusal)]).await;
        agent
    });
    let request = Request::Screenshot {
        agent: id,
        attach: None,
    };
    let frames = read_all(ask(&lina, &request).await).await;
    let _agent = fake.await.unwrap();
    let [Response::Error(e)] = frames.as_slice() else {
        panic!("{frames:?}")
    };
    assert_eq!((e.kind, e.message.as_str()), (ErrorKind::Forbidden, why));
    let entry = last_audit(&t).await;
    assert_eq!(entry.action, "screenshot");
    assert_eq!(entry.outcome, format!("refused by agent: {why}"));
}

#[tokio::test]
async fn a_screenshot_for_a_ticket_names_its_requester_to_the_agent() {
    let t = TestRelay::start().await;
    let (_k, id, agent) = t.agent("pc-1").await;
    let ticket = agent_ticket(&agent).await;
    let lina = t.technician("lina", &[Role::L2]).await;
    let fake = tokio::spawn(async move {
        let cmd = next_command(&agent).await;
        let command = cmd.command.clone();
        let refusal = triage_shared::error::RemoteError::new(ErrorKind::Forbidden, "no");
        cmd.answer(&[AgentReply::Error(refusal)]).await;
        command
    });
    let request = Request::Screenshot {
        agent: id,
        attach: Some(ticket),
    };
    let _ = read_all(ask(&lina, &request).await).await;
    assert_eq!(
        fake.await.unwrap(),
        AgentCommand::Screenshot {
            requested_by: "lina".into(),
            ticket: Some(ticket),
            requester: Some("erin".into()),
        }
    );
}

#[tokio::test]
async fn transfers_beyond_the_per_agent_limit_are_refused_as_busy() {
    let t = TestRelay::start().await;
    let (_k, id, agent) = t.agent("pc-1").await;
    let lina = t.technician("lina", &[Role::L2]).await;
    // The agent takes every command and answers none of them yet.
    let mut pending = Vec::new();
    let mut held = Vec::new();
    for _ in 0..MAX_TRANSFERS_PER_AGENT {
        pending.push(ask(&lina, &pull(id, "/var/log/syslog")).await);
        held.push(next_command(&agent).await);
    }
    let frames = read_all(ask(&lina, &pull(id, "/var/log/syslog")).await).await;
    let [Response::Error(e)] = frames.as_slice() else {
        panic!("{frames:?}")
    };
    assert_eq!(e.kind, ErrorKind::Unavailable);
    assert!(e.message.contains("already sending"), "{}", e.message);
    // Finishing one frees its slot.
    let first = held.remove(0);
    first.answer(&body(b"x")).await;
    read_all(pending.remove(0)).await;
    let again = ask(&lina, &pull(id, "/var/log/syslog")).await;
    next_command(&agent).await.answer(&body(b"y")).await;
    assert_eq!(collected(&read_all(again).await).0, b"y");
}
