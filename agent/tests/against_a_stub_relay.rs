//! The agent's network paths against a minimal stand-in relay on loopback:
//! real QUIC, real pinned TLS, real frames. (The full relay is exercised by
//! the workspace's end-to-end tests; this keeps the agent honest on its own.)

mod common;

use common::{command, Seen, StubRelay, GUARD};
use std::sync::atomic::Ordering;
use std::time::Duration;
use triage_agent::{AgentError, HelpRequest};
use triage_shared::identity::KeyPair;
use triage_shared::remote::{AgentCommand, AgentReply};
use triage_shared::token::TokenSecret;
use triage_shared::AgentId;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enroll_run_serve_file_and_stop() {
    let mut relay = StubRelay::start();
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("agent");

    // A wrong token is refused and leaves no enrollment behind.
    let mut bad = relay.token();
    bad.secret = TokenSecret::generate();
    let err = triage_agent::enroll(&state, &bad).await.unwrap_err();
    assert!(matches!(err, AgentError::EnrollRefused(_)), "{err}");
    assert!(err.to_string().contains("unknown token"), "{err}");
    assert!(!state.join("agent-id").exists());

    let id = triage_agent::enroll(&state, &relay.token())
        .await
        .expect("enrolls");
    assert!(matches!(relay.next().await, Seen::Enrolled { hostname } if !hostname.is_empty()));
    let status = triage_agent::status(&state).unwrap();
    assert!(status.enrolled);
    assert_eq!(status.agent_id, Some(id));
    let err = triage_agent::enroll(&state, &relay.token())
        .await
        .unwrap_err();
    assert!(matches!(err, AgentError::AlreadyEnrolled { .. }), "{err}");

    // The daemon connects and sends a heartbeat at once.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let daemon = tokio::spawn({
        let state = state.clone();
        async move {
            triage_agent::run_daemon(&state, async {
                let _ = stopped.await;
            })
            .await
        }
    });
    let Seen::AgentConnected(conn) = relay.next().await else {
        panic!("expected the agent to connect")
    };
    assert!(matches!(relay.next().await, Seen::Heartbeat));

    // A command the relay sends on a stream of its own is answered there.
    assert_eq!(
        command(&conn, &AgentCommand::Ping).await,
        [AgentReply::Pong]
    );

    // "Get help" files a ticket with a valid snapshot.
    let request = HelpRequest {
        title: "Laptop is slow".into(),
        description: "since this morning".into(),
        category: "hardware".parse().unwrap(),
        priority: "high".parse().unwrap(),
        requester: "alice".into(),
        screenshot: None,
    };
    let filed = triage_agent::file_ticket(&state, request)
        .await
        .expect("ticket filed");
    assert!(filed.is_delivered(), "{filed:?}");
    // Filing uses a one-shot connection of its own, then submits (unless
    // the daemon, which watches the outbox, got there first: either is fine).
    loop {
        match relay.next().await {
            Seen::OneShotConnected | Seen::Heartbeat => continue,
            Seen::Ticket {
                title,
                snapshot_valid,
                ..
            } => {
                assert_eq!(title, "Laptop is slow");
                assert_eq!(snapshot_valid, Some(true));
                break;
            }
            other => panic!("expected a ticket, saw {other:?}"),
        }
    }
    assert_eq!(triage_agent::pending_count(&state).unwrap(), 0);

    // Shutdown closes the connection with a reason, and the daemon returns Ok.
    stop.send(()).unwrap();
    tokio::time::timeout(GUARD, daemon)
        .await
        .expect("daemon stops")
        .unwrap()
        .unwrap();
    match tokio::time::timeout(GUARD, conn.closed()).await.unwrap() {
        quinn::ConnectionError::ApplicationClosed(close) => {
            assert_eq!(&close.reason[..], b"agent shutting down")
        }
        other => panic!("connection ended with {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_reconnects_after_the_connection_drops() {
    let mut relay = StubRelay::start();
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("agent");
    triage_agent::enroll(&state, &relay.token()).await.unwrap();
    let _ = relay.next().await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let daemon = tokio::spawn({
        let state = state.clone();
        async move {
            triage_agent::run_daemon(&state, async {
                let _ = stopped.await;
            })
            .await
        }
    });
    let Seen::AgentConnected(first) = relay.next().await else {
        panic!("expected a connection")
    };
    first.close(1u32.into(), b"relay going away");
    loop {
        match relay.next().await {
            Seen::AgentConnected(_) => break,
            Seen::Heartbeat => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
    stop.send(()).unwrap();
    tokio::time::timeout(GUARD, daemon)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_enrollment_answer_is_recovered_without_another_token() {
    let mut relay = StubRelay::start();
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("agent");
    let id = triage_agent::enroll(&state, &relay.token()).await.unwrap();
    let _ = relay.next().await;
    // As if the agent crashed after the relay enrolled it but before the id was saved.
    std::fs::remove_file(state.join("agent-id")).unwrap();
    let mut spent = relay.token();
    spent.secret = TokenSecret::generate();
    let again = triage_agent::enroll(&state, &spent)
        .await
        .expect("recovered from the relay's welcome");
    assert_eq!(again, id);
    assert_eq!(triage_agent::status(&state).unwrap().agent_id, Some(id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_whose_key_the_relay_forgot_keeps_retrying_until_stopped() {
    let relay = StubRelay::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = triage_agent::state::StateDir::new(tmp.path());
    dir.write_key(&KeyPair::generate()).unwrap();
    dir.save_enrollment(&relay.locator, AgentId::new_random())
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let daemon = tokio::spawn({
        let state = tmp.path().to_path_buf();
        async move {
            triage_agent::run_daemon(&state, async {
                let _ = stopped.await;
            })
            .await
        }
    });
    let retried = tokio::time::timeout(GUARD, async {
        while relay.hellos.load(Ordering::SeqCst) < 2 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(
        retried.is_ok(),
        "the daemon gave up on a relay that does not know it"
    );
    assert!(!daemon.is_finished());
    stop.send(()).unwrap();
    tokio::time::timeout(GUARD, daemon)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
