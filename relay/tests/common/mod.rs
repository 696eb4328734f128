//! A small harness: a real relay on 127.0.0.1:0 in a temp dir, and clients
//! made with the shared `Session`.

#![allow(dead_code)] // each test binary uses a different part of the harness

use std::time::Duration;
use tempfile::TempDir;
use triage_relay::{RelayConfig, RelayHandle};
use triage_shared::client::Session;
use triage_shared::identity::KeyPair;
use triage_shared::protocol::{PeerKind, Request, Response, SessionIdentity};
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

    pub fn locator(&self) -> RelayLocator {
        self.relay.locator()
    }

    /// A technician registered with `roles`, connected.
    pub async fn technician(&self, name: &str, roles: &[Role]) -> Session {
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
        session
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
