//! Revocation through a real relay: removed technicians and agents lose
//! their live connections and are refused when they come back, a role
//! change applies to a connection that is already open, a revoked token
//! no longer enrolls, the last admin stays, and downloading an attachment
//! needs the role that made it.

mod common;

use common::{TestRelay, PROMPTLY};
use std::time::Duration;
use triage_shared::client::{ClientError, Session};
use triage_shared::error::ErrorKind;
use triage_shared::identity::KeyPair;
use triage_shared::protocol::{PeerKind, Request, Response};
use triage_shared::roles::Role;
use triage_shared::ticket::{Category, NewTicket, Priority, Source};
use triage_shared::time::Timestamp;
use triage_shared::token_id::TokenId;
use triage_shared::transfer::{
    AttachmentId, AttachmentKind, AttachmentSummary, ContentDigest, LogQuery, TransferFrame,
};
use triage_shared::TicketId;

/// Waits until the relay closes `session`'s connection; returns its reason.
async fn closed_by_relay(session: &Session) -> String {
    let error = tokio::time::timeout(PROMPTLY, session.connection().closed())
        .await
        .expect("the relay closes the connection promptly");
    match error {
        quinn::ConnectionError::ApplicationClosed(close) => {
            String::from_utf8_lossy(&close.reason).into_owned()
        }
        other => panic!("closed otherwise: {other:?}"),
    }
}

fn refusal(result: Result<Response, ClientError>) -> (ErrorKind, String) {
    match result {
        Err(ClientError::Remote(e)) | Err(ClientError::Refused(e)) => (e.kind, e.message),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn connect(t: &TestRelay, key: &KeyPair, peer: PeerKind) -> Result<Session, ClientError> {
    Session::connect(&t.locator(), key, peer).await
}

#[tokio::test]
async fn a_removed_technicians_open_connection_is_closed_and_a_reconnect_refused() {
    let t = TestRelay::start().await;
    let admin = t.technician("alice", &[Role::Admin]).await;
    let (bob_key, bob) = t.technician_with_key("bob", &[Role::L2]).await;
    bob.request(&Request::ListAgents).await.unwrap();
    admin
        .request(&Request::RemoveTechnician { name: "bob".into() })
        .await
        .unwrap();
    let reason = closed_by_relay(&bob).await;
    assert!(reason.contains("technician bob was removed"), "{reason}");
    let err = connect(&t, &bob_key, PeerKind::Technician)
        .await
        .err()
        .unwrap();
    let (kind, message) = refusal(Err(err));
    assert_eq!(kind, ErrorKind::Revoked);
    assert!(message.contains("technician bob was removed"), "{message}");
    // The act is in the audit log with its outcome.
    let entries = t.relay.store().audit_entries(0, None, 100).await.unwrap();
    let removal = entries
        .iter()
        .find(|e| e.action == "technician.remove")
        .expect("removal audited");
    assert_eq!(
        (
            removal.actor.as_str(),
            removal.target.as_str(),
            removal.outcome.as_str()
        ),
        ("technician:alice", "technician:bob", "ok")
    );
}

#[tokio::test]
async fn a_demoted_technician_is_refused_on_the_connection_already_open() {
    let t = TestRelay::start().await;
    let admin = t.technician("alice", &[Role::Admin]).await;
    let bob = t.technician("bob", &[Role::L2]).await;
    let (_k, agent, _agent_session) = t.agent("pc-1").await;
    admin
        .request(&Request::SetTechnicianRoles {
            name: "bob".into(),
            roles: vec![Role::L1],
        })
        .await
        .unwrap();
    let pull = Request::PullLogs {
        agent,
        query: LogQuery::whole("/var/log/syslog"),
        attach: None,
    };
    let (kind, message) = refusal(bob.request(&pull).await);
    assert_eq!(kind, ErrorKind::Forbidden);
    assert!(message.contains("you have l1"), "{message}");
    // Promoted again, the same connection is the new roles at once.
    admin
        .request(&Request::SetTechnicianRoles {
            name: "bob".into(),
            roles: vec![Role::L3],
        })
        .await
        .unwrap();
    let Response::Identity(who) = bob.request(&Request::WhoAmI).await.unwrap() else {
        panic!("who_am_i answers an identity")
    };
    assert_eq!(
        who,
        triage_shared::protocol::SessionIdentity::Technician {
            name: "bob".into(),
            roles: vec![Role::L3]
        }
    );
}

#[tokio::test]
async fn a_removed_agent_loses_its_connection_and_is_refused_at_the_handshake() {
    let t = TestRelay::start().await;
    let admin = t.technician("alice", &[Role::Admin]).await;
    let (key, id, agent) = t.agent("pc-1").await;
    assert!(t.relay.is_agent_online(id));
    admin
        .request(&Request::RemoveAgent { agent: id })
        .await
        .unwrap();
    let reason = closed_by_relay(&agent).await;
    assert!(reason.contains("was removed"), "{reason}");
    tokio::time::timeout(PROMPTLY, async {
        while t.relay.is_agent_online(id) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the agent is offline once its connection is closed");
    for peer in [PeerKind::Agent, PeerKind::AgentOneShot] {
        let err = connect(&t, &key, peer).await.err().unwrap();
        let (kind, message) = refusal(Err(err));
        assert_eq!(kind, ErrorKind::Revoked);
        assert!(
            message.contains("triage-agent enroll TOKEN --force"),
            "{message}"
        );
    }
    let Response::Agents(listed) = admin.request(&Request::ListAgents).await.unwrap() else {
        panic!("agents")
    };
    assert!(listed.is_empty(), "{listed:?}");
}

#[tokio::test]
async fn a_revoked_token_is_refused_at_enrollment() {
    let t = TestRelay::start().await;
    let admin = t.technician("alice", &[Role::Admin]).await;
    let token = t
        .relay
        .create_token(3, Duration::from_secs(600))
        .await
        .unwrap();
    let id = TokenId::of(&token.secret);
    let Response::Tokens(listed) = admin.request(&Request::ListTokens).await.unwrap() else {
        panic!("tokens")
    };
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].id.clone(), listed[0].uses_left), (id.clone(), 3));
    admin
        .request(&Request::RevokeToken {
            id: id.as_str()[..8].into(),
        })
        .await
        .unwrap();
    let newcomer = connect(&t, &KeyPair::generate(), PeerKind::Agent)
        .await
        .unwrap();
    let (kind, message) = refusal(
        newcomer
            .request(&Request::Enroll {
                token_secret: token.secret.to_hex(),
                hostname: "pc-9".into(),
                os: "Debian".into(),
            })
            .await,
    );
    assert_eq!(kind, ErrorKind::InvalidToken);
    assert!(message.contains("revoked"), "{message}");
    let Response::Tokens(listed) = admin.request(&Request::ListTokens).await.unwrap() else {
        panic!("tokens")
    };
    assert_eq!(listed[0].revoked_by.as_deref(), Some("technician:alice"));
}

#[tokio::test]
async fn the_last_admin_can_be_neither_removed_nor_demoted() {
    let t = TestRelay::start().await;
    let alice = t.technician("alice", &[Role::Admin]).await;
    for request in [
        Request::RemoveTechnician {
            name: "alice".into(),
        },
        Request::SetTechnicianRoles {
            name: "alice".into(),
            roles: vec![Role::L1],
        },
    ] {
        let (kind, message) = refusal(alice.request(&request).await);
        assert_eq!(kind, ErrorKind::Conflict);
        assert!(message.contains("would leave no admin"), "{message}");
    }
    alice
        .request(&Request::WhoAmI)
        .await
        .expect("still connected");
    let entries = t.relay.store().audit_entries(0, None, 100).await.unwrap();
    assert!(entries
        .iter()
        .any(|e| e.action == "technician.remove" && e.outcome.contains("would leave no admin")));
    // An l2 may not even try.
    let bob = t.technician("bob", &[Role::L2]).await;
    let (kind, _) = refusal(
        bob.request(&Request::RemoveTechnician {
            name: "alice".into(),
        })
        .await,
    );
    assert_eq!(kind, ErrorKind::Forbidden);
}

#[tokio::test]
async fn downloading_a_pulled_log_needs_the_role_that_may_pull_it() {
    let t = TestRelay::start().await;
    let (_k, agent_id, agent) = t.agent("pc-1").await;
    let ticket = TicketId::new_random();
    agent
        .request(&Request::SubmitTicket {
            ticket: NewTicket {
                id: ticket,
                title: "Slow".into(),
                description: String::new(),
                category: Category::Software,
                priority: Priority::Normal,
                source: Source::Employee,
                requester: "erin".into(),
            },
            snapshot: None,
        })
        .await
        .unwrap();
    let content = b"Dec  2 kernel: oops\n".to_vec();
    let summary = AttachmentSummary {
        id: AttachmentId::new_random(),
        ticket_id: ticket,
        kind: AttachmentKind::Log,
        name: "/var/log/syslog".into(),
        agent_id,
        taken_by: "lina".into(),
        taken_at: Timestamp::now(),
        bytes: content.len() as u64,
        sha256: ContentDigest::of(&content),
    };
    t.relay
        .store()
        .attach_file(&summary, &content)
        .await
        .unwrap();
    let fetch = Request::FetchAttachment {
        ticket,
        attachment: summary.id,
    };
    for (name, role) in [("lea", Role::L1), ("abe", Role::Approver)] {
        let session = t.technician(name, &[role]).await;
        let frames = common::read_all(session.open_stream(&fetch).await.unwrap()).await;
        let [Response::Error(e)] = frames.as_slice() else {
            panic!("{role} got {frames:?}")
        };
        assert_eq!(e.kind, ErrorKind::Forbidden);
        assert!(
            e.message.contains("log attachment") && e.message.contains("l2, l3, admin"),
            "{}",
            e.message
        );
    }
    // Each refused download is on record.
    let entries = t.relay.store().audit_entries(0, None, 1000).await.unwrap();
    let refused = entries
        .iter()
        .filter(|e| e.action == "attachment.fetch" && e.outcome.starts_with("refused"))
        .count();
    assert_eq!(refused, 2, "{entries:?}");
    let lina = t.technician("lina", &[Role::L2]).await;
    let frames = common::read_all(lina.open_stream(&fetch).await.unwrap()).await;
    let body: Vec<u8> = frames
        .iter()
        .filter_map(|f| match f {
            Response::Transfer(TransferFrame::Chunk(c)) => Some(c.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(body, content);
}
