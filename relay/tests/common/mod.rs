//! A small harness: a real relay on 127.0.0.1:0 in a temp dir, and clients
//! made with the shared `Session`.

#![allow(dead_code)] // each test binary uses a different part of the harness

pub mod script_world;

use std::time::Duration;
use tempfile::TempDir;
use triage_relay::{RelayConfig, RelayHandle};
use triage_shared::client::{next_frame, Session};
use triage_shared::codec::{read_frame, write_frame};
use triage_shared::identity::KeyPair;
use triage_shared::protocol::{PeerKind, Request, Response, SessionIdentity};
use triage_shared::remote::{AgentCommand, AgentReply};
use triage_shared::roles::Role;
use triage_shared::tls;
use triage_shared::token::RelayLocator;
use triage_shared::AgentId;

pub struct TestRelay {
    pub relay: RelayHandle,
    pub dir: TempDir,
}

impl TestRelay {
    pub async fn start() -> TestRelay {
        let dir = tempfile::tempdir().unwrap();
        let relay = start_in(&dir).await;
        TestRelay { relay, dir }
    }

    /// A relay whose configuration `tune` adjusted first.
    pub async fn start_with(tune: impl FnOnce(&mut RelayConfig)) -> TestRelay {
        let dir = tempfile::tempdir().unwrap();
        let mut config = RelayConfig::new(dir.path(), "127.0.0.1:0".parse().unwrap());
        tune(&mut config);
        let relay = triage_relay::start(config).await.unwrap();
        TestRelay { relay, dir }
    }

    pub fn locator(&self) -> RelayLocator {
        self.relay.locator()
    }

    /// Closes `agent`'s connection and waits until the relay has seen it end.
    pub async fn disconnect_agent(&self, id: AgentId, agent: Session) {
        agent.close().await;
        tokio::time::timeout(PROMPTLY, async {
            while self.relay.is_agent_online(id) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("the relay notices the agent went offline");
    }

    /// A technician registered with `roles`, connected.
    pub async fn technician(&self, name: &str, roles: &[Role]) -> Session {
        self.technician_with_key(name, roles).await.1
    }

    /// A technician registered with `roles`, connected, with their key for signing.
    pub async fn technician_with_key(&self, name: &str, roles: &[Role]) -> (KeyPair, Session) {
        let key = KeyPair::generate();
        self.relay
            .add_technician(name, roles, key.public_key())
            .await
            .unwrap();
        let session = Session::connect(&self.locator(), &key, PeerKind::Technician)
            .await
            .unwrap();
        assert!(matches!(
            session.identity(),
            SessionIdentity::Technician { .. }
        ));
        (key, session)
    }

    /// An agent enrolled with a fresh one-use token and reconnected as itself.
    pub async fn agent(&self, hostname: &str) -> (KeyPair, AgentId, Session) {
        let key = KeyPair::generate();
        let token = self
            .relay
            .create_token(1, Duration::from_secs(600))
            .await
            .unwrap();
        let newcomer = Session::connect(&self.locator(), &key, PeerKind::Agent)
            .await
            .unwrap();
        let response = newcomer
            .request(&Request::Enroll {
                token_secret: token.secret.to_hex(),
                hostname: hostname.into(),
                os: "Debian 12".into(),
            })
            .await
            .unwrap();
        let Response::Enrolled { agent_id } = response else {
            panic!("expected Enrolled, got {response:?}")
        };
        newcomer.close().await;
        let session = Session::connect(&self.locator(), &key, PeerKind::Agent)
            .await
            .unwrap();
        assert_eq!(
            session.identity(),
            &SessionIdentity::Agent {
                id: agent_id,
                hostname: hostname.into()
            }
        );
        (key, agent_id, session)
    }
}

pub async fn start_at(dir: &TempDir, listen: std::net::SocketAddr) -> RelayHandle {
    triage_relay::start(RelayConfig::new(dir.path(), listen))
        .await
        .unwrap()
}

pub async fn start_in(dir: &TempDir) -> RelayHandle {
    triage_relay::start(RelayConfig::new(dir.path(), "127.0.0.1:0".parse().unwrap()))
        .await
        .unwrap()
}

/// A bare QUIC connection that has said nothing yet.
pub async fn raw_connection(
    locator: &RelayLocator,
    key: &KeyPair,
) -> (quinn::Endpoint, quinn::Connection) {
    let mut endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    endpoint.set_default_client_config(tls::client_config(key, locator.fingerprint).unwrap());
    let addr = locator.addr.parse().unwrap();
    let connection = endpoint
        .connect(addr, tls::SERVER_NAME)
        .unwrap()
        .await
        .unwrap();
    (endpoint, connection)
}

/// How long a test waits for something the relay should do promptly.
pub const PROMPTLY: Duration = Duration::from_secs(10);

/// The agent's side of a relay command: what was asked, and where to answer.
pub struct Command {
    pub command: AgentCommand,
    pub send: quinn::SendStream,
}

impl Command {
    /// Sends `replies` and finishes the stream.
    pub async fn answer(mut self, replies: &[AgentReply]) {
        for r in replies {
            write_frame(&mut self.send, r).await.unwrap();
        }
        self.send.finish().unwrap();
        // Let the relay read to the end before the stream is dropped.
        let _ = tokio::time::timeout(PROMPTLY, self.send.stopped()).await;
    }
}

/// Waits for the relay to open a command stream on an agent session.
pub async fn next_command(agent: &Session) -> Command {
    let (send, mut recv) = tokio::time::timeout(PROMPTLY, agent.connection().accept_bi())
        .await
        .expect("the relay sends a command in time")
        .unwrap();
    let command: AgentCommand = read_frame(&mut recv).await.unwrap().unwrap();
    Command { command, send }
}

/// Reads every frame of a streamed response.
pub async fn read_all(mut recv: quinn::RecvStream) -> Vec<Response> {
    let mut out = Vec::new();
    while let Some(frame) = next_frame::<Response>(&mut recv).await.unwrap() {
        out.push(frame);
    }
    out
}

/// A small, valid diagnostics snapshot.
pub fn sample_snapshot() -> triage_shared::diagnostics::Snapshot {
    use triage_shared::diagnostics::*;
    Snapshot {
        taken_at: triage_shared::time::Timestamp(1_700_000_000_000),
        os: OsInfo {
            name: "Debian".into(),
            version: "12".into(),
            kernel: "6.1".into(),
            hostname: "pc-1".into(),
            uptime_secs: 3600,
        },
        cpu: CpuInfo {
            model: "Test CPU".into(),
            physical_cores: Some(2),
            logical_cores: 4,
            usage_percent: 12.5,
            load_average: [0.5, 0.25, 0.125],
        },
        memory: MemoryInfo {
            total_bytes: 8 << 30,
            used_bytes: 4 << 30,
            available_bytes: 4 << 30,
            swap_total_bytes: 0,
            swap_used_bytes: 0,
        },
        disks: vec![],
        networks: vec![],
        top_by_cpu: vec![],
        top_by_memory: vec![],
        components: vec![],
        users: vec!["erin".into()],
    }
}
