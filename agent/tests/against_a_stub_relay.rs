//! The agent's network paths against a minimal stand-in relay on loopback:
//! real QUIC, real pinned TLS, real frames. (The full relay is exercised by
//! the workspace's end-to-end tests; this keeps the agent honest on its own.)

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use triage_agent::{AgentError, HelpRequest};
use triage_shared::codec::{expect_frame, read_frame, write_frame};
use triage_shared::identity::{KeyPair, PublicKey};
use triage_shared::protocol::{
    ErrorKind, Hello, RemoteError, Request, Response, SessionIdentity, Welcome, PROTOCOL_VERSION,
};
use triage_shared::tls::{peer_public_key, server_config};
use triage_shared::token::{EnrollmentToken, RelayLocator, TokenSecret};
use triage_shared::AgentId;

/// A guard against hangs, far above anything these exchanges need.
const GUARD: Duration = Duration::from_secs(30);

/// What the stub relay saw.
#[derive(Debug)]
enum Seen {
    AgentConnected(quinn::Connection),
    Enrolled {
        hostname: String,
    },
    Heartbeat,
    Ticket {
        title: String,
        snapshot_valid: Option<bool>,
    },
}

struct StubRelay {
    locator: RelayLocator,
    /// Connections that got as far as the hello, known key or not.
    hellos: Arc<AtomicUsize>,
    token: TokenSecret,
    seen: mpsc::UnboundedReceiver<Seen>,
    _endpoint: quinn::Endpoint,
}

type Known = Arc<Mutex<HashMap<PublicKey, AgentId>>>;

impl StubRelay {
    fn start() -> StubRelay {
        let (config, fingerprint) = server_config(&KeyPair::generate()).unwrap();
        let endpoint =
            quinn::Endpoint::server(config, SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
        let locator = RelayLocator {
            addr: endpoint.local_addr().unwrap().to_string(),
            fingerprint,
        };
        let token = TokenSecret::generate();
        let (tx, seen) = mpsc::unbounded_channel();
        let known: Known = Arc::default();
        let hellos = Arc::new(AtomicUsize::new(0));
        let accepting = endpoint.clone();
        let secret = token.to_hex();
        let counter = hellos.clone();
        tokio::spawn(async move {
            while let Some(incoming) = accepting.accept().await {
                let (tx, known, secret, counter) =
                    (tx.clone(), known.clone(), secret.clone(), counter.clone());
                tokio::spawn(async move {
                    if let Ok(conn) = incoming.await {
                        let _ = serve(conn, tx, known, secret, counter).await;
                    }
                });
            }
        });
        StubRelay {
            locator,
            hellos,
            token,
            seen,
            _endpoint: endpoint,
        }
    }

    fn token(&self) -> EnrollmentToken {
        EnrollmentToken {
            relay: self.locator.clone(),
            secret: self.token.clone(),
        }
    }

    async fn next(&mut self) -> Seen {
        tokio::time::timeout(GUARD, self.seen.recv())
            .await
            .expect("the stub relay saw something")
            .expect("stub relay running")
    }
}

async fn serve(
    conn: quinn::Connection,
    tx: mpsc::UnboundedSender<Seen>,
    known: Known,
    secret: String,
    hellos: Arc<AtomicUsize>,
) -> anyhow::Result<()> {
    let key = peer_public_key(&conn).expect("client certificate");
    let (mut send, mut recv) = conn.accept_bi().await?;
    let _hello: Hello = expect_frame(&mut recv).await?;
    hellos.fetch_add(1, Ordering::SeqCst);
    let identity = match known.lock().unwrap().get(&key) {
        Some(id) => SessionIdentity::Agent {
            id: *id,
            hostname: "stub".into(),
        },
        None => SessionIdentity::Unenrolled,
    };
    if matches!(identity, SessionIdentity::Agent { .. }) {
        let _ = tx.send(Seen::AgentConnected(conn.clone()));
    }
    write_frame(
        &mut send,
        &Welcome::Accepted {
            version: PROTOCOL_VERSION,
            identity,
        },
    )
    .await?;
    send.finish()?;
    loop {
        let (mut send, mut recv) = conn.accept_bi().await?;
        let Some(request) = read_frame::<_, Request>(&mut recv).await? else {
            continue;
        };
        let response = match request {
            Request::Enroll {
                token_secret,
                hostname,
                ..
            } if token_secret == secret => {
                let id = AgentId::new_random();
                known.lock().unwrap().insert(key, id);
                let _ = tx.send(Seen::Enrolled { hostname });
                Response::Enrolled { agent_id: id }
            }
            Request::Enroll { .. } => {
                Response::Error(RemoteError::new(ErrorKind::InvalidToken, "unknown token"))
            }
            Request::Heartbeat => {
                let _ = tx.send(Seen::Heartbeat);
                Response::Ok
            }
            Request::SubmitTicket { ticket, snapshot } => {
                let _ = tx.send(Seen::Ticket {
                    title: ticket.title,
                    snapshot_valid: snapshot.map(|s| s.validate().is_ok()),
                });
                Response::TicketStored {
                    id: ticket.id,
                    created: true,
                }
            }
            other => Response::Error(RemoteError::new(ErrorKind::Forbidden, other.name())),
        };
        write_frame(&mut send, &response).await?;
        send.finish()?;
    }
}

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

    // A request routed to the agent is answered, as not served yet.
    let (mut send, mut recv) = conn.open_bi().await.unwrap();
    write_frame(&mut send, &Request::ListAgents).await.unwrap();
    send.finish().unwrap();
    let answer: Response = tokio::time::timeout(GUARD, expect_frame(&mut recv))
        .await
        .unwrap()
        .unwrap();
    match answer {
        Response::Error(e) => {
            assert_eq!(e.kind, ErrorKind::Unavailable);
            assert_eq!(e.message, "this agent does not serve list_agents yet");
        }
        other => panic!("agent answered {other:?}"),
    }

    // "Get help" files a ticket with a valid snapshot.
    let request = HelpRequest {
        title: "Laptop is slow".into(),
        description: "since this morning".into(),
        category: "hardware".parse().unwrap(),
        priority: "high".parse().unwrap(),
        requester: "alice".into(),
    };
    triage_agent::file_ticket(&state, request)
        .await
        .expect("ticket filed");
    // Filing uses a connection of its own, then submits.
    assert!(matches!(relay.next().await, Seen::AgentConnected(_)));
    match relay.next().await {
        Seen::Ticket {
            title,
            snapshot_valid,
        } => {
            assert_eq!(title, "Laptop is slow");
            assert_eq!(snapshot_valid, Some(true));
        }
        other => panic!("expected a ticket, saw {other:?}"),
    }

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
