//! Agents' own traffic beyond filing: updates to their tickets (once per id,
//! owner only), and one-shot agent connections that never take routing
//! from the daemon.

mod common;

use common::{next_command, TestRelay};
use triage_shared::agent_update::AgentUpdate;
use triage_shared::client::{ClientError, Session};
use triage_shared::error::ErrorKind;
use triage_shared::identity::KeyPair;
use triage_shared::ids::UpdateId;
use triage_shared::protocol::{PeerKind, Request, Response, SessionIdentity};
use triage_shared::remote::{AgentCommand, AgentReply};
use triage_shared::roles::Role;
use triage_shared::ticket::{Category, NewTicket, Priority, Source, Status};
use triage_shared::TicketId;

fn health_ticket() -> NewTicket {
    NewTicket {
        id: TicketId::new_random(),
        title: "Disk /var 96% full on pc-1".into(),
        description: "measured 96%".into(),
        category: Category::Hardware,
        priority: Priority::High,
        source: Source::HealthAlert,
        requester: "health-monitor".into(),
    }
}

async fn file(agent: &Session, ticket: &NewTicket) {
    let response = agent
        .request(&Request::SubmitTicket {
            ticket: ticket.clone(),
            snapshot: None,
        })
        .await
        .unwrap();
    assert!(matches!(response, Response::TicketStored { id, .. } if id == ticket.id));
}

fn update(ticket: TicketId, id: UpdateId, update: AgentUpdate) -> Request {
    Request::SubmitUpdate { id, ticket, update }
}

fn refusal(result: Result<Response, ClientError>) -> ErrorKind {
    match result {
        Err(e) => e
            .remote_kind()
            .unwrap_or_else(|| panic!("not a refusal: {e}")),
        Ok(r) => panic!("expected a refusal, got {r:?}"),
    }
}

#[tokio::test]
async fn an_agent_updates_its_own_ticket_once_per_update_id() {
    let t = TestRelay::start().await;
    let tech = t.technician("carol", &[Role::L1]).await;
    let (_, _, agent) = t.agent("pc-1").await;
    let ticket = health_ticket();
    file(&agent, &ticket).await;
    let id = UpdateId::new_random();
    let comment = update(
        ticket.id,
        id,
        AgentUpdate::Comment("Still raised: 97%".into()),
    );
    for _ in 0..3 {
        assert_eq!(agent.request(&comment).await.unwrap(), Response::Ok);
    }
    let resolve = update(
        ticket.id,
        UpdateId::new_random(),
        AgentUpdate::Resolve("Cleared: back to 70%".into()),
    );
    assert_eq!(agent.request(&resolve).await.unwrap(), Response::Ok);
    assert_eq!(agent.request(&resolve).await.unwrap(), Response::Ok);
    let Response::Ticket(detail) = tech
        .request(&Request::ShowTicket { id: ticket.id })
        .await
        .unwrap()
    else {
        panic!("expected the ticket")
    };
    let texts: Vec<_> = detail.comments.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(texts, ["Still raised: 97%", "Cleared: back to 70%"]);
    assert!(detail.comments.iter().all(|c| c.author == "agent:pc-1"));
    assert_eq!(detail.ticket.status, Status::Resolved);
}

#[tokio::test]
async fn only_the_filing_agent_may_update_a_ticket() {
    let t = TestRelay::start().await;
    let (_, _, owner) = t.agent("pc-1").await;
    let (_, _, other) = t.agent("pc-2").await;
    let tech = t.technician("carol", &[Role::Admin, Role::L3]).await;
    let ticket = health_ticket();
    file(&owner, &ticket).await;
    let id = UpdateId::new_random();
    let intrusion = update(ticket.id, id, AgentUpdate::Resolve("not yours".into()));
    assert_eq!(
        refusal(other.request(&intrusion).await),
        ErrorKind::Forbidden
    );
    assert_eq!(
        refusal(tech.request(&intrusion).await),
        ErrorKind::Forbidden
    );
    let missing = update(
        TicketId::new_random(),
        UpdateId::new_random(),
        AgentUpdate::Comment("x".into()),
    );
    assert_eq!(refusal(owner.request(&missing).await), ErrorKind::NotFound);
    // Refusals left nothing behind: the owner may still use that id.
    assert_eq!(owner.request(&intrusion).await.unwrap(), Response::Ok);
}

#[tokio::test]
async fn a_one_shot_connection_never_takes_routing_from_the_daemon() {
    let t = TestRelay::start().await;
    let (key, id, daemon) = t.agent("pc-1").await;
    assert!(t.relay.is_agent_online(id));
    // `help` connects after the daemon, with the same key.
    let one_shot = Session::connect(&t.locator(), &key, PeerKind::AgentOneShot)
        .await
        .unwrap();
    assert!(matches!(one_shot.identity(), SessionIdentity::Agent { id: seen, .. } if *seen == id));
    // It may do what an agent may do...
    let ticket = health_ticket();
    file(&one_shot, &ticket).await;
    let comment = update(
        ticket.id,
        UpdateId::new_random(),
        AgentUpdate::Comment("c".into()),
    );
    assert_eq!(one_shot.request(&comment).await.unwrap(), Response::Ok);
    // ...but a command for the agent still goes to the daemon, although the
    // one-shot connection is the newer one.
    let relay = &t.relay;
    let (replies, ()) = tokio::join!(relay.send_agent_command(id, AgentCommand::Ping), async {
        let ping = next_command(&daemon).await;
        assert_eq!(ping.command, AgentCommand::Ping);
        ping.answer(&[AgentReply::Pong]).await;
    });
    assert_eq!(replies.unwrap(), [AgentReply::Pong]);
    // With the daemon gone, the agent is offline even while `help` is connected.
    daemon.close().await;
    let mut waited = 0;
    while t.relay.is_agent_online(id) {
        assert!(waited < 200, "the daemon's connection was never dropped");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        waited += 1;
    }
    let err = t
        .relay
        .send_agent_command(id, AgentCommand::Ping)
        .await
        .unwrap_err();
    assert_eq!(err.remote_kind(), Some(ErrorKind::Unavailable));
    assert_eq!(
        one_shot.request(&Request::Heartbeat).await.unwrap(),
        Response::Ok
    );
}

#[tokio::test]
async fn an_unknown_key_connecting_one_shot_may_only_enroll() {
    let t = TestRelay::start().await;
    let stranger = Session::connect(&t.locator(), &KeyPair::generate(), PeerKind::AgentOneShot)
        .await
        .unwrap();
    assert_eq!(stranger.identity(), &SessionIdentity::Unenrolled);
    let ticket = health_ticket();
    let submit = Request::SubmitTicket {
        ticket,
        snapshot: None,
    };
    assert_eq!(
        refusal(stranger.request(&submit).await),
        ErrorKind::Unauthenticated
    );
}
