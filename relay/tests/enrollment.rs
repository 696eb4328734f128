//! Requests over real QUIC: enrollment, agents, technicians and tokens.

mod common;

use common::TestRelay;
use std::time::Duration;
use triage_shared::client::Session;
use triage_shared::error::ErrorKind;
use triage_shared::identity::KeyPair;
use triage_shared::limits::MAX_TOKEN_USES;
use triage_shared::protocol::{PeerKind, Request, Response, SessionIdentity};
use triage_shared::roles::Role;
use triage_shared::token::EnrollmentToken;

async fn kind_of(session: &Session, request: Request) -> Option<ErrorKind> {
    session
        .request(&request)
        .await
        .err()
        .and_then(|e| e.remote_kind())
}

#[tokio::test]
async fn unenrolled_agent_enrolls_with_a_token_and_reconnects_as_agent() {
    let t = TestRelay::start().await;
    let key = KeyPair::generate();
    let token = t
        .relay
        .create_token(1, Duration::from_secs(600))
        .await
        .unwrap();
    let newcomer = Session::connect(&t.locator(), &key, PeerKind::Agent)
        .await
        .unwrap();
    assert_eq!(newcomer.identity(), &SessionIdentity::Unenrolled);
    let err = newcomer.request(&Request::Heartbeat).await.unwrap_err();
    assert_eq!(err.remote_kind(), Some(ErrorKind::Unauthenticated));
    assert!(err.to_string().contains("enroll"), "{err}");
    // The whole token text is accepted as the secret too.
    let enroll = Request::Enroll {
        token_secret: token.to_string(),
        hostname: "pc-1".into(),
        os: "Debian".into(),
    };
    let Response::Enrolled { agent_id } = newcomer.request(&enroll).await.unwrap() else {
        panic!("not enrolled")
    };
    newcomer.close().await;

    let agent = Session::connect(&t.locator(), &key, PeerKind::Agent)
        .await
        .unwrap();
    assert_eq!(
        agent.identity(),
        &SessionIdentity::Agent {
            id: agent_id,
            hostname: "pc-1".into()
        }
    );
    assert_eq!(
        agent.request(&Request::Heartbeat).await.unwrap(),
        Response::Ok
    );

    // The one use is spent: another newcomer is refused and nothing is added.
    let other = Session::connect(&t.locator(), &KeyPair::generate(), PeerKind::Agent)
        .await
        .unwrap();
    let err = other.request(&enroll).await.unwrap_err();
    assert_eq!(err.remote_kind(), Some(ErrorKind::InvalidToken));
    assert!(err.to_string().contains("used up"), "{err}");
    assert_eq!(t.relay.store().count_agents().await.unwrap(), 1);

    let bad = Request::Enroll {
        token_secret: "not-a-token".into(),
        hostname: "pc-2".into(),
        os: "x".into(),
    };
    assert_eq!(kind_of(&other, bad).await, Some(ErrorKind::InvalidToken));
    t.relay.shutdown().await;
}

#[tokio::test]
async fn agents_are_listed_with_their_online_state() {
    let t = TestRelay::start().await;
    let tech = t.technician("carol", &[Role::L1]).await;
    let (_key, agent_id, agent) = t.agent("pc-1").await;
    let listed = |response: Response| match response {
        Response::Agents(agents) => agents,
        other => panic!("expected agents, got {other:?}"),
    };
    let agents = listed(tech.request(&Request::ListAgents).await.unwrap());
    assert_eq!(agents.len(), 1);
    assert_eq!((agents[0].id, agents[0].online), (agent_id, true));
    assert!(agents[0].last_seen.is_some());
    agent.close().await;
    // The relay learns of the close asynchronously; wait for it, bounded.
    for _ in 0..200 {
        if !t.relay.is_agent_online(agent_id) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let agents = listed(tech.request(&Request::ListAgents).await.unwrap());
    assert!(!agents[0].online);
    t.relay.shutdown().await;
}

#[tokio::test]
async fn l1_cannot_register_technicians_or_create_tokens() {
    let t = TestRelay::start().await;
    let l1 = t.technician("carol", &[Role::L1]).await;
    let register = Request::RegisterTechnician {
        name: "mallory".into(),
        roles: vec![Role::Admin],
        public_key: KeyPair::generate().public_key(),
    };
    let err = l1.request(&register).await.unwrap_err();
    assert_eq!(err.remote_kind(), Some(ErrorKind::Forbidden));
    assert!(err.to_string().contains("admin"), "{err}");
    let token = Request::CreateEnrollmentToken {
        uses: 1,
        ttl_secs: 3600,
    };
    assert_eq!(
        kind_of(&l1, token.clone()).await,
        Some(ErrorKind::Forbidden)
    );
    assert!(t.relay.technician("mallory").await.unwrap().is_none());

    let admin = t.technician("root", &[Role::Admin]).await;
    assert_eq!(admin.request(&register).await.unwrap(), Response::Ok);
    assert_eq!(kind_of(&admin, register).await, Some(ErrorKind::Conflict));
    let Response::Token { token, uses, .. } = admin.request(&token).await.unwrap() else {
        panic!("expected a token")
    };
    assert_eq!(uses, 1);
    let parsed: EnrollmentToken = token.parse().unwrap();
    assert_eq!(parsed.relay, t.locator());
    let too_many = Request::CreateEnrollmentToken {
        uses: MAX_TOKEN_USES + 1,
        ttl_secs: 3600,
    };
    assert_eq!(
        kind_of(&admin, too_many).await,
        Some(ErrorKind::InvalidInput)
    );
    let forever = Request::CreateEnrollmentToken {
        uses: 1,
        ttl_secs: 0,
    };
    assert_eq!(
        kind_of(&admin, forever).await,
        Some(ErrorKind::InvalidInput)
    );

    let Response::Technicians(list) = l1.request(&Request::ListTechnicians).await.unwrap() else {
        panic!("expected technicians")
    };
    let names: Vec<_> = list.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["carol", "mallory", "root"]);
    t.relay.shutdown().await;
}

#[tokio::test]
async fn a_minted_token_enrolls_an_agent_over_the_network() {
    let t = TestRelay::start().await;
    let admin = t.technician("root", &[Role::Admin]).await;
    let Response::Token { token, .. } = admin
        .request(&Request::CreateEnrollmentToken {
            uses: 2,
            ttl_secs: 60,
        })
        .await
        .unwrap()
    else {
        panic!("expected a token")
    };
    let token: EnrollmentToken = token.parse().unwrap();
    for host in ["pc-1", "pc-2"] {
        let s = Session::connect(&token.relay, &KeyPair::generate(), PeerKind::Agent)
            .await
            .unwrap();
        let enroll = Request::Enroll {
            token_secret: token.secret.to_hex(),
            hostname: host.into(),
            os: "x".into(),
        };
        assert!(matches!(
            s.request(&enroll).await.unwrap(),
            Response::Enrolled { .. }
        ));
    }
    assert_eq!(t.relay.store().count_agents().await.unwrap(), 2);
    t.relay.shutdown().await;
}
