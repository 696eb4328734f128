//! A minimal stand-in relay on loopback for the agent's integration tests:
//! real QUIC, real pinned TLS, real frames.

// Each test binary uses a different part of this harness.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use triage_shared::agent_update::AgentUpdate;
use triage_shared::codec::{expect_frame, read_frame, write_frame};
use triage_shared::error::{ErrorKind, RemoteError};
use triage_shared::identity::{KeyPair, PublicKey};
use triage_shared::protocol::{
    Hello, PeerKind, Request, Response, SessionIdentity, Welcome, PROTOCOL_VERSION,
};
use triage_shared::remote::{AgentCommand, AgentReply};
use triage_shared::tls::{peer_public_key, server_config};
use triage_shared::token::{EnrollmentToken, RelayLocator, TokenSecret};
use triage_shared::{AgentId, TicketId};

/// A guard against hangs, far above anything these exchanges need.
pub const GUARD: Duration = Duration::from_secs(30);

/// What the stub relay saw.
#[derive(Debug)]
pub enum Seen {
    AgentConnected(quinn::Connection),
    /// An agent process that said it serves no commands (`help`).
    OneShotConnected,
    Enrolled {
        hostname: String,
    },
    Heartbeat,
    Ticket {
        id: TicketId,
        title: String,
        snapshot_valid: Option<bool>,
    },
    Update {
        ticket: TicketId,
        update: AgentUpdate,
    },
}

pub struct StubRelay {
    pub locator: RelayLocator,
    /// Connections that got as far as the hello, known key or not.
    pub hellos: Arc<AtomicUsize>,
    token: TokenSecret,
    seen: mpsc::UnboundedReceiver<Seen>,
    _endpoint: quinn::Endpoint,
}

type Known = Arc<Mutex<HashMap<PublicKey, AgentId>>>;

impl StubRelay {
    pub fn start() -> StubRelay {
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

    pub fn token(&self) -> EnrollmentToken {
        EnrollmentToken {
            relay: self.locator.clone(),
            secret: self.token.clone(),
            org_key: None,
            min_roster: 0,
        }
    }

    pub async fn next(&mut self) -> Seen {
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
    let hello: Hello = expect_frame(&mut recv).await?;
    hellos.fetch_add(1, Ordering::SeqCst);
    let identity = match known.lock().unwrap().get(&key) {
        Some(id) => SessionIdentity::Agent {
            id: *id,
            hostname: "stub".into(),
        },
        None => SessionIdentity::Unenrolled,
    };
    if matches!(identity, SessionIdentity::Agent { .. }) {
        let seen = match hello.peer {
            PeerKind::AgentOneShot => Seen::OneShotConnected,
            _ => Seen::AgentConnected(conn.clone()),
        };
        let _ = tx.send(seen);
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
                    id: ticket.id,
                    title: ticket.title,
                    snapshot_valid: snapshot.map(|s| s.validate().is_ok()),
                });
                Response::TicketStored {
                    id: ticket.id,
                    created: true,
                }
            }
            Request::SubmitUpdate { ticket, update, .. } => {
                let _ = tx.send(Seen::Update { ticket, update });
                Response::Ok
            }
            other => Response::Error(RemoteError::new(ErrorKind::Forbidden, other.name())),
        };
        write_frame(&mut send, &response).await?;
        send.finish()?;
    }
}

/// Sends one command on a new stream and collects every reply.
pub async fn command(conn: &quinn::Connection, command: &AgentCommand) -> Vec<AgentReply> {
    let (mut send, mut recv) = conn.open_bi().await.unwrap();
    write_frame(&mut send, command).await.unwrap();
    send.finish().unwrap();
    let mut replies = Vec::new();
    loop {
        let next = tokio::time::timeout(GUARD, read_frame::<_, AgentReply>(&mut recv))
            .await
            .expect("the agent answers")
            .expect("a well-formed reply");
        match next {
            Some(reply) => replies.push(reply),
            None => return replies,
        }
    }
}
