//! A stand-in relay over real QUIC (the shared TLS and framing) with canned
//! answers, and helpers to run the CLI against it. Each test file that
//! uses it includes this module.

#![allow(dead_code)] // Each test file uses a different part.

use clap::Parser;
use std::path::Path;
use std::sync::{Arc, Mutex};
use triage_cli::{Cli, CliError};
use triage_shared::codec::{expect_frame, write_frame};
use triage_shared::error::{ErrorKind, RemoteError};
use triage_shared::identity::{KeyPair, PublicKey};
use triage_shared::protocol::{
    Hello, Request, Response, SessionIdentity, Welcome, PROTOCOL_VERSION,
};
use triage_shared::roles::Role;
use triage_shared::tls::{peer_public_key, server_config};
use triage_shared::token::RelayLocator;

/// Answers one request with any number of response frames.
pub type Handler = Arc<dyn Fn(&Request) -> Vec<Response> + Send + Sync>;

/// A technician the stand-in relay knows.
#[derive(Clone)]
pub struct Known {
    pub key: PublicKey,
    pub name: String,
    pub roles: Vec<Role>,
}

pub struct FakeRelay {
    pub locator: RelayLocator,
    seen: Arc<Mutex<Vec<Request>>>,
    _endpoint: quinn::Endpoint,
}

impl FakeRelay {
    /// A relay that knows `technicians` and answers with `handler`.
    pub fn start(technicians: Vec<Known>, handler: Handler) -> FakeRelay {
        let (config, fingerprint) = server_config(&KeyPair::generate()).unwrap();
        let endpoint = quinn::Endpoint::server(config, "127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = endpoint.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (accepting, log) = (endpoint.clone(), seen.clone());
        tokio::spawn(async move {
            while let Some(incoming) = accepting.accept().await {
                let (technicians, handler, log) =
                    (technicians.clone(), handler.clone(), log.clone());
                tokio::spawn(async move {
                    if let Ok(conn) = incoming.await {
                        serve(conn, technicians, handler, log).await;
                    }
                });
            }
        });
        FakeRelay {
            locator: RelayLocator {
                addr: addr.to_string(),
                fingerprint,
            },
            seen,
            _endpoint: endpoint,
        }
    }

    pub fn requests(&self) -> Vec<Request> {
        self.seen.lock().unwrap().clone()
    }
}

async fn serve(
    conn: quinn::Connection,
    technicians: Vec<Known>,
    handler: Handler,
    log: Arc<Mutex<Vec<Request>>>,
) {
    let Ok((mut send, mut recv)) = conn.accept_bi().await else {
        return;
    };
    let Ok(_hello) = expect_frame::<_, Hello>(&mut recv).await else {
        return;
    };
    let key = peer_public_key(&conn);
    let known = technicians.into_iter().find(|t| Some(t.key) == key);
    let welcome = match &known {
        Some(t) => Welcome::Accepted {
            version: PROTOCOL_VERSION,
            identity: SessionIdentity::Technician {
                name: t.name.clone(),
                roles: t.roles.clone(),
            },
        },
        None => Welcome::Refused(RemoteError::new(
            ErrorKind::Unauthenticated,
            "this key is not registered",
        )),
    };
    if write_frame(&mut send, &welcome).await.is_err() {
        return;
    }
    let _ = send.finish();
    if known.is_none() {
        // Let the client read the refusal and hang up first.
        conn.closed().await;
        return;
    }
    while let Ok((mut send, mut recv)) = conn.accept_bi().await {
        let Ok(request) = expect_frame::<_, Request>(&mut recv).await else {
            return;
        };
        log.lock().unwrap().push(request.clone());
        for response in handler(&request) {
            if write_frame(&mut send, &response).await.is_err() {
                break;
            }
        }
        let _ = send.finish();
    }
}

/// A handler that answers every request with one frame.
pub fn single(f: impl Fn(&Request) -> Response + Send + Sync + 'static) -> Handler {
    Arc::new(move |r: &Request| vec![f(r)])
}

pub async fn triage(home: &Path, args: &[&str]) -> Result<String, CliError> {
    let mut argv = vec!["triage", "--home", home.to_str().unwrap()];
    argv.extend_from_slice(args);
    let mut out = Vec::new();
    triage_cli::run(Cli::try_parse_from(argv).unwrap(), &mut out).await?;
    Ok(String::from_utf8(out).unwrap())
}

/// A home with a fresh key, and that key's public half.
pub async fn keyed_home() -> (tempfile::TempDir, PublicKey) {
    let dir = tempfile::tempdir().unwrap();
    let out = triage(dir.path(), &["keygen"]).await.unwrap();
    let key = out.lines().last().unwrap().parse().unwrap();
    (dir, key)
}

/// A technician `alice` (l1, admin) logged in to a relay answering with `handler`.
pub async fn logged_in(
    handler: impl Fn(&Request) -> Response + Send + Sync + 'static,
) -> (tempfile::TempDir, FakeRelay) {
    let (dir, key) = keyed_home().await;
    let relay = FakeRelay::start(
        vec![Known {
            key,
            name: "alice".into(),
            roles: vec![Role::L1, Role::Admin],
        }],
        single(handler),
    );
    triage(dir.path(), &["login", &relay.locator.to_string()])
        .await
        .unwrap();
    (dir, relay)
}

/// What a relay answers `ResolveAgent` with, among `agents`: a fake's
/// stand-in for the relay's own lookup (tested in the relay's store tests).
pub fn resolve_agent_among(
    agents: &[triage_shared::protocol::AgentSummary],
    selector: &triage_shared::selector::AgentSelector,
) -> Response {
    use triage_shared::selector::AgentSelector;
    let found: Vec<_> = agents
        .iter()
        .filter(|a| match selector {
            AgentSelector::Id(id) => a.id == *id,
            AgentSelector::Name(name) => {
                a.hostname.eq_ignore_ascii_case(name)
                    || selector.id_prefix().is_some_and(|p| p.matches(&a.id.0))
            }
        })
        .collect();
    match found.as_slice() {
        [one] => Response::AgentMatch((*one).clone()),
        [] => Response::Error(RemoteError::new(
            ErrorKind::NotFound,
            format!("no agent has the id or hostname `{selector}`; run `triage agents list` to see them"),
        )),
        _ => Response::Error(RemoteError::new(
            ErrorKind::InvalidInput,
            format!("`{selector}` matches several agents; give more of the id"),
        )),
    }
}

/// What a relay answers `ResolveTicket` with, among `ids`.
pub fn resolve_ticket_among(
    ids: &[triage_shared::TicketId],
    reference: &triage_shared::selector::TicketRef,
) -> Response {
    use triage_shared::selector::TicketRef;
    let found: Vec<_> = ids
        .iter()
        .filter(|id| match reference {
            TicketRef::Full(full) => *id == full,
            TicketRef::Prefix(p) => p.matches(&id.0),
        })
        .collect();
    match found.as_slice() {
        [one] => Response::TicketMatch(**one),
        [] => Response::Error(RemoteError::new(
            ErrorKind::NotFound,
            format!("no ticket id starts with `{reference}`; run `triage tickets list` to see ids"),
        )),
        _ => Response::Error(RemoteError::new(
            ErrorKind::InvalidInput,
            format!("`{reference}` matches several tickets; type more of the id"),
        )),
    }
}
