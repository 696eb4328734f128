//! Connection limits over real QUIC: unenrolled peers are capped in number,
//! per address and in lifetime without crowding out agents and technicians;
//! Retry under load; a technician's request rate.

mod common;

use common::{TestRelay, PROMPTLY};
use std::time::Duration;
use tempfile::TempDir;
use triage_relay::{Limits, RelayConfig};
use triage_shared::client::{ClientError, Session};
use triage_shared::error::ErrorKind;
use triage_shared::identity::KeyPair;
use triage_shared::protocol::{PeerKind, Request, Response, SessionIdentity};
use triage_shared::roles::Role;

async fn relay_with(limits: Limits) -> TestRelay {
    let dir = TempDir::new().unwrap();
    let mut config = RelayConfig::new(dir.path(), "127.0.0.1:0".parse().unwrap());
    config.limits = limits;
    let relay = triage_relay::start(config).await.unwrap();
    TestRelay { relay, dir }
}

async fn stranger(t: &TestRelay) -> Result<Session, ClientError> {
    Session::connect(&t.locator(), &KeyPair::generate(), PeerKind::Agent).await
}

/// Waits until the relay counts `unenrolled` unenrolled connections.
async fn wait_unenrolled(t: &TestRelay, unenrolled: usize) {
    tokio::time::timeout(PROMPTLY, async {
        while t.relay.connection_counts().1 != unenrolled {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| {
        panic!(
            "expected {unenrolled} unenrolled connections, the relay counts {:?}",
            t.relay.connection_counts()
        )
    });
}

fn refused(result: Result<Session, ClientError>) -> triage_shared::error::RemoteError {
    match result {
        Err(ClientError::Refused(e)) => e,
        Err(other) => panic!("expected a refusal, got {other}"),
        Ok(_) => panic!("expected a refusal, got a session"),
    }
}

#[tokio::test]
async fn strangers_past_the_unenrolled_cap_are_refused_and_nobody_else_is() {
    let t = relay_with(Limits {
        max_unenrolled: 3,
        ..Limits::default()
    })
    .await;
    // An agent enrolled and a technician connected before the flood.
    let (agent_key, agent_id, agent) = t.agent("pc-1").await;
    let tech = t.technician("carol", &[Role::L1]).await;
    // The agent's enrollment connection has given its place back.
    wait_unenrolled(&t, 0).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let s = stranger(&t).await.unwrap();
        assert_eq!(s.identity(), &SessionIdentity::Unenrolled);
        held.push(s);
    }
    for _ in 0..5 {
        let err = refused(stranger(&t).await);
        assert_eq!(err.kind, ErrorKind::Unavailable);
        assert!(
            err.message
                .contains("limit of 3 connections from agents that are not enrolled"),
            "{}",
            err.message
        );
    }
    // Those connected carry on; a technician and a reconnecting agent get in.
    assert!(tech.request(&Request::WhoAmI).await.is_ok());
    assert!(agent.request(&Request::Heartbeat).await.is_ok());
    let again = Session::connect(&t.locator(), &agent_key, PeerKind::Agent)
        .await
        .unwrap();
    assert!(matches!(again.identity(), SessionIdentity::Agent { id, .. } if *id == agent_id));
    assert!(t
        .technician("dave", &[Role::L1])
        .await
        .request(&Request::WhoAmI)
        .await
        .is_ok());
    // A closed stranger's place is given back.
    held.pop().unwrap().close().await;
    wait_unenrolled(&t, 2).await;
    assert!(stranger(&t).await.is_ok());
    t.relay.shutdown().await;
}

#[tokio::test]
async fn one_address_may_hold_only_a_few_unenrolled_connections() {
    let t = relay_with(Limits {
        max_unenrolled_per_address: 2,
        ..Limits::default()
    })
    .await;
    let _a = stranger(&t).await.unwrap();
    let _b = stranger(&t).await.unwrap();
    let err = refused(stranger(&t).await);
    assert_eq!(err.kind, ErrorKind::Unavailable);
    assert!(
        err.message
            .contains("2 connections from 127.0.0.1 are already open without being enrolled"),
        "{}",
        err.message
    );
    // Authenticated peers from the same address are not counted against it.
    let tech = t.technician("carol", &[Role::L1]).await;
    assert!(tech.request(&Request::WhoAmI).await.is_ok());
    t.relay.shutdown().await;
}

#[tokio::test]
async fn an_unenrolled_connection_is_closed_at_the_end_of_its_lifetime() {
    let t = relay_with(Limits {
        unenrolled_lifetime: Duration::from_millis(500),
        ..Limits::default()
    })
    .await;
    let s = stranger(&t).await.unwrap();
    assert!(s.request(&Request::WhoAmI).await.is_ok());
    let reason = tokio::time::timeout(PROMPTLY, s.connection().closed())
        .await
        .expect("the relay closes the unenrolled connection");
    match reason {
        quinn::ConnectionError::ApplicationClosed(close) => {
            let text = String::from_utf8_lossy(&close.reason).to_string();
            assert!(text.contains("enroll, then reconnect"), "{text}");
        }
        other => panic!("expected an application close, got {other}"),
    }
    wait_unenrolled(&t, 0).await;
    t.relay.shutdown().await;
}

#[tokio::test]
async fn an_unenrolled_peer_may_only_ask_who_it_is_or_enroll() {
    let t = TestRelay::start().await;
    let s = stranger(&t).await.unwrap();
    assert!(matches!(
        s.request(&Request::WhoAmI).await.unwrap(),
        Response::Identity(SessionIdentity::Unenrolled)
    ));
    for request in [
        Request::Heartbeat,
        Request::ListAgents,
        Request::ListTickets {
            status: None,
            limit: 1,
        },
    ] {
        let err = s.request(&request).await.unwrap_err();
        assert_eq!(
            err.remote_kind(),
            Some(ErrorKind::Unauthenticated),
            "{request:?}"
        );
    }
    t.relay.shutdown().await;
}

#[tokio::test]
async fn with_retry_forced_a_real_client_still_connects() {
    let t = relay_with(Limits {
        retry_threshold: 0,
        ..Limits::default()
    })
    .await;
    let tech = t.technician("carol", &[Role::L1]).await;
    assert!(tech.request(&Request::WhoAmI).await.is_ok());
    let (_, _, agent) = t.agent("pc-1").await;
    assert!(agent.request(&Request::Heartbeat).await.is_ok());
    // Each of the three connections (technician, enrollment, agent) was
    // first sent a Retry, and came back validated.
    assert!(t.relay.retries_sent() >= 3, "{}", t.relay.retries_sent());
    t.relay.shutdown().await;
}

#[tokio::test]
async fn without_load_no_retry_is_sent() {
    let t = TestRelay::start().await;
    let tech = t.technician("carol", &[Role::L1]).await;
    assert!(tech.request(&Request::WhoAmI).await.is_ok());
    assert_eq!(t.relay.retries_sent(), 0);
    t.relay.shutdown().await;
}

#[tokio::test]
async fn a_technician_flood_is_rate_limited_and_the_connection_keeps_working() {
    let t = relay_with(Limits {
        technician_requests_per_second: 5,
        technician_request_burst: 10,
        ..Limits::default()
    })
    .await;
    let tech = t.technician("carol", &[Role::L1]).await;
    let other = t.technician("dave", &[Role::L1]).await;
    let mut refusals = Vec::new();
    for _ in 0..30 {
        if let Err(e) = tech.request(&Request::WhoAmI).await {
            refusals.push(e);
        }
    }
    assert!(refusals.len() >= 15, "{} refused", refusals.len());
    let first = match &refusals[0] {
        ClientError::Remote(e) => e.clone(),
        other => panic!("expected a refusal, got {other}"),
    };
    assert_eq!(first.kind, ErrorKind::Unavailable);
    assert!(
        first.message.starts_with("rate limited"),
        "{}",
        first.message
    );
    assert!(first.message.contains("retry in"), "{}", first.message);
    // Another technician has a bucket of their own.
    assert!(other.request(&Request::WhoAmI).await.is_ok());
    // After the wait the same connection is served again.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(tech.request(&Request::WhoAmI).await.is_ok());
    t.relay.shutdown().await;
}

#[tokio::test]
async fn a_flood_of_unenrolled_hellos_from_one_box_leaves_room_for_known_peers() {
    // The finding: one box opened thousands of connections with throwaway
    // keys, each sending one unenrolled hello, and locked everyone out.
    let t = TestRelay::start().await;
    let (agent_key, agent_id, agent) = t.agent("pc-1").await;
    agent.close().await;
    wait_unenrolled(&t, 0).await;
    let mut held = Vec::new();
    let mut refusals = 0;
    for _ in 0..triage_relay::MAX_UNENROLLED_PER_ADDRESS * 4 {
        match stranger(&t).await {
            Ok(s) => held.push(s),
            Err(ClientError::Refused(e)) => {
                assert_eq!(e.kind, ErrorKind::Unavailable);
                refusals += 1;
            }
            Err(other) => panic!("expected a session or a refusal, got {other}"),
        }
    }
    assert_eq!(held.len(), triage_relay::MAX_UNENROLLED_PER_ADDRESS);
    assert_eq!(refusals, triage_relay::MAX_UNENROLLED_PER_ADDRESS * 3);
    // The refused ones hold nothing.
    assert_eq!(t.relay.connection_counts().1, held.len());
    let tech = t.technician("carol", &[Role::L1]).await;
    assert!(tech.request(&Request::WhoAmI).await.is_ok());
    let back = Session::connect(&t.locator(), &agent_key, PeerKind::Agent)
        .await
        .unwrap();
    assert!(matches!(back.identity(), SessionIdentity::Agent { id, .. } if *id == agent_id));
    t.relay.shutdown().await;
}

/// A bare QUIC connection from another loopback address (127.0.0.2), that
/// finishes TLS and then says nothing.
async fn silent_from_elsewhere(t: &TestRelay) -> Result<Silent, quinn::ConnectionError> {
    let mut endpoint = quinn::Endpoint::client("127.0.0.2:0".parse().unwrap()).unwrap();
    let config =
        triage_shared::tls::client_config(&KeyPair::generate(), t.locator().fingerprint).unwrap();
    endpoint.set_default_client_config(config);
    let addr = t.locator().addr.parse().unwrap();
    let connection = endpoint
        .connect(addr, triage_shared::tls::SERVER_NAME)
        .unwrap()
        .await?;
    // Over the address's cap the relay refuses the attempt, and connecting
    // fails above; otherwise one byte starts a hello that never completes.
    let (mut send, recv) = connection.open_bi().await?;
    send.write_all(&[0])
        .await
        .map_err(|_| quinn::ConnectionError::LocallyClosed)?;
    // Kept open: a dropped stream would end the hello early.
    Ok((endpoint, connection, send, recv))
}

type Silent = (
    quinn::Endpoint,
    quinn::Connection,
    quinn::SendStream,
    quinn::RecvStream,
);

#[tokio::test]
async fn handshakes_from_one_address_are_capped_and_other_addresses_still_connect() {
    let t = relay_with(Limits {
        max_handshaking_per_address: 2,
        ..Limits::default()
    })
    .await;
    let _a = silent_from_elsewhere(&t).await.unwrap();
    let _b = silent_from_elsewhere(&t).await.unwrap();
    let counts = t.relay.connection_counts();
    assert_eq!(counts.0, 2, "{counts:?}");
    assert!(
        silent_from_elsewhere(&t).await.is_err(),
        "a third silent connection from 127.0.0.2 is refused"
    );
    // 127.0.0.1 is another address: a technician and an enrolling agent get in.
    let tech = t.technician("carol", &[Role::L1]).await;
    assert!(tech.request(&Request::WhoAmI).await.is_ok());
    let (_, _, agent) = t.agent("pc-1").await;
    assert!(agent.request(&Request::Heartbeat).await.is_ok());
    t.relay.shutdown().await;
}
