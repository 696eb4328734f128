//! Requests over real QUIC: filing and working tickets.

mod common;

use common::TestRelay;
use triage_shared::client::Session;
use triage_shared::error::ErrorKind;
use triage_shared::protocol::{Request, Response};
use triage_shared::roles::Role;
use triage_shared::ticket::{
    Category, NewTicket, Priority, Source, Status, StatusAction, TicketEventKind, Tier,
};
use triage_shared::TicketId;

fn new_ticket() -> NewTicket {
    NewTicket {
        id: TicketId::new_random(),
        title: "VPN drops every ten minutes".into(),
        description: "since the update".into(),
        category: Category::Network,
        priority: Priority::High,
        source: Source::Employee,
        requester: "alice".into(),
    }
}

async fn kind_of(session: &Session, request: Request) -> Option<ErrorKind> {
    session
        .request(&request)
        .await
        .err()
        .and_then(|e| e.remote_kind())
}

#[tokio::test]
async fn ticket_submission_is_idempotent_and_checked() {
    let t = TestRelay::start().await;
    let (_key, agent_id, agent) = t.agent("pc-1").await;
    let ticket = new_ticket();
    let submit = Request::SubmitTicket {
        ticket: ticket.clone(),
        snapshot: None,
    };
    assert_eq!(
        agent.request(&submit).await.unwrap(),
        Response::TicketStored {
            id: ticket.id,
            created: true
        }
    );
    assert_eq!(
        agent.request(&submit).await.unwrap(),
        Response::TicketStored {
            id: ticket.id,
            created: false
        }
    );

    // The same id from another agent is a conflict.
    let (_k2, _id2, intruder) = t.agent("pc-2").await;
    assert_eq!(
        kind_of(&intruder, submit.clone()).await,
        Some(ErrorKind::Conflict)
    );

    // An agent cannot pose as a technician, nor send an invalid ticket.
    let mut posing = new_ticket();
    posing.source = Source::Technician;
    assert_eq!(
        kind_of(
            &agent,
            Request::SubmitTicket {
                ticket: posing,
                snapshot: None
            }
        )
        .await,
        Some(ErrorKind::InvalidInput)
    );
    let mut untitled = new_ticket();
    untitled.title.clear();
    assert_eq!(
        kind_of(
            &agent,
            Request::SubmitTicket {
                ticket: untitled,
                snapshot: None
            }
        )
        .await,
        Some(ErrorKind::InvalidInput)
    );

    // Agents may not read tickets; technicians may not file as agents.
    assert_eq!(
        kind_of(
            &agent,
            Request::ListTickets {
                status: None,
                limit: 10
            }
        )
        .await,
        Some(ErrorKind::Forbidden)
    );
    let tech = t.technician("carol", &[Role::Admin]).await;
    assert_eq!(kind_of(&tech, submit).await, Some(ErrorKind::Forbidden));

    let Response::Ticket(detail) = tech
        .request(&Request::ShowTicket { id: ticket.id })
        .await
        .unwrap()
    else {
        panic!("expected a ticket")
    };
    assert_eq!(detail.ticket.agent_id, Some(agent_id));
    assert_eq!(detail.ticket.hostname.as_deref(), Some("pc-1"));
    assert_eq!(
        (detail.ticket.status, detail.ticket.tier),
        (Status::Open, Tier::L1)
    );
    assert_eq!(detail.events.len(), 1);
    t.relay.shutdown().await;
}

#[tokio::test]
async fn technicians_work_a_ticket_through_its_life() {
    let t = TestRelay::start().await;
    let (_key, _agent_id, agent) = t.agent("pc-1").await;
    let tech = t.technician("carol", &[Role::L1]).await;
    let _bob = t.technician("bob", &[Role::L2]).await;
    let ticket = new_ticket();
    let id = ticket.id;
    agent
        .request(&Request::SubmitTicket {
            ticket,
            snapshot: None,
        })
        .await
        .unwrap();

    let missing = TicketId::new_random();
    let err = tech
        .request(&Request::ShowTicket { id: missing })
        .await
        .unwrap_err();
    assert_eq!(err.remote_kind(), Some(ErrorKind::NotFound));
    assert!(err.to_string().contains(&missing.to_string()), "{err}");

    let err = tech
        .request(&Request::Assign {
            id,
            assignee: "nobody".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.remote_kind(), Some(ErrorKind::NotFound));
    assert!(err.to_string().contains("nobody"), "{err}");

    assert_eq!(
        tech.request(&Request::Assign {
            id,
            assignee: "bob".into()
        })
        .await
        .unwrap(),
        Response::Ok
    );
    assert_eq!(
        tech.request(&Request::Comment {
            id,
            text: "looking".into()
        })
        .await
        .unwrap(),
        Response::Ok
    );
    tech.request(&Request::Escalate {
        id,
        note: Some("needs network".into()),
    })
    .await
    .unwrap();
    tech.request(&Request::Escalate { id, note: None })
        .await
        .unwrap();
    let err = tech
        .request(&Request::Escalate { id, note: None })
        .await
        .unwrap_err();
    assert_eq!(err.remote_kind(), Some(ErrorKind::InvalidTransition));
    assert!(err.to_string().contains("already at L3"), "{err}");

    let close = Request::ChangeStatus {
        id,
        action: StatusAction::Close,
        note: Some("done".into()),
    };
    tech.request(&close).await.unwrap();
    let start = Request::ChangeStatus {
        id,
        action: StatusAction::Start,
        note: Some("ignored".into()),
    };
    assert_eq!(
        kind_of(&tech, start).await,
        Some(ErrorKind::InvalidTransition)
    );

    let Response::Ticket(detail) = tech.request(&Request::ShowTicket { id }).await.unwrap() else {
        panic!("expected a ticket")
    };
    assert_eq!(detail.ticket.status, Status::Closed);
    assert_eq!(detail.ticket.tier, Tier::L3);
    assert_eq!(detail.ticket.assignee.as_deref(), Some("bob"));
    let kinds: Vec<_> = detail.events.iter().map(|e| e.event.clone()).collect();
    assert_eq!(
        kinds,
        vec![
            TicketEventKind::Created,
            TicketEventKind::Assigned {
                assignee: "bob".into()
            },
            TicketEventKind::StatusChanged {
                from: Status::Open,
                to: Status::InProgress
            },
            TicketEventKind::Escalated {
                from: Tier::L1,
                to: Tier::L2
            },
            TicketEventKind::Escalated {
                from: Tier::L2,
                to: Tier::L3
            },
            TicketEventKind::StatusChanged {
                from: Status::InProgress,
                to: Status::Closed
            },
        ]
    );
    assert!(detail.events[1..].iter().all(|e| e.actor == "carol"));
    let comments: Vec<_> = detail.comments.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(comments, ["looking", "needs network", "done"]);

    let open = Request::ListTickets {
        status: Some(Status::Open),
        limit: 0,
    };
    let Response::Tickets(open) = tech.request(&open).await.unwrap() else {
        panic!("expected tickets")
    };
    assert!(open.is_empty());
    let all = Request::ListTickets {
        status: None,
        limit: 0,
    };
    let Response::Tickets(all) = tech.request(&all).await.unwrap() else {
        panic!("expected tickets")
    };
    assert_eq!(all.len(), 1);
    t.relay.shutdown().await;
}

/// The same relay on PostgreSQL, when `TRIAGE_TEST_POSTGRES_URL` names a
/// server: a fresh database is made for the test and dropped after it.
#[tokio::test]
async fn relay_runs_on_postgres_when_a_server_is_given() {
    use sqlx::migrate::MigrateDatabase;
    let Ok(server) = std::env::var("TRIAGE_TEST_POSTGRES_URL") else {
        eprintln!("note: TRIAGE_TEST_POSTGRES_URL is not set; skipping the PostgreSQL relay test");
        return;
    };
    let name = format!("triage_test_{}", uuid::Uuid::new_v4().simple());
    let base = server.split('?').next().unwrap_or(&server);
    let url = format!("{}/{name}", &base[..base.rfind('/').unwrap_or(base.len())]);
    sqlx::any::install_default_drivers();
    sqlx::Any::create_database(&url).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let mut config = triage_relay::RelayConfig::new(dir.path(), "127.0.0.1:0".parse().unwrap());
    config.database_url = Some(url.clone());
    let relay = triage_relay::start(config).await.unwrap();
    assert_eq!(
        relay.store().backend(),
        triage_relay::store::Backend::Postgres
    );
    let t = TestRelay { relay, dir };
    let (_key, _id, agent) = t.agent("pc-1").await;
    let ticket = new_ticket();
    let submit = Request::SubmitTicket {
        ticket: ticket.clone(),
        snapshot: None,
    };
    assert_eq!(
        agent.request(&submit).await.unwrap(),
        Response::TicketStored {
            id: ticket.id,
            created: true
        }
    );
    assert!(
        !t.dir.path().join("relay.db").exists(),
        "no SQLite file when PostgreSQL is used"
    );
    agent.close().await;
    t.relay.shutdown().await;
    sqlx::Any::force_drop_database(&url).await.unwrap();
}
