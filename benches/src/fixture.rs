//! Shared set-up: an in-process relay on loopback, technicians driven
//! through the real CLI entry point, agents enrolled with real tokens, and
//! a raw quinn endpoint pair with the same TLS configuration (no relay).

use anyhow::{anyhow, Context, Result};
use clap::Parser;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tempfile::TempDir;
use triage_relay::{RelayConfig, RelayHandle};
use triage_shared::client::Session;
use triage_shared::identity::{KeyPair, PublicKey};
use triage_shared::protocol::{PeerKind, Request, Response};
use triage_shared::roles::Role;
use triage_shared::tls;
use triage_shared::token::{EnrollmentToken, RelayLocator};
use triage_shared::AgentId;

pub fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// A relay in this process with its store in a temporary directory.
pub struct Deployment {
    pub relay: RelayHandle,
    pub dir: TempDir,
}

impl Deployment {
    pub async fn start() -> Result<Deployment> {
        let dir = tempfile::tempdir().context("temp dir")?;
        let mut config = RelayConfig::new(dir.path().join("relay"), loopback());
        // Every simulated peer comes from 127.0.0.1 and one technician
        // drives the offered load: per-address and per-technician caps
        // would measure themselves, not the relay.
        let limits = &mut config.limits;
        limits.max_handshaking_per_address = limits.max_handshaking;
        limits.max_unenrolled_per_address = limits.max_unenrolled;
        limits.technician_requests_per_second = u32::MAX;
        limits.technician_request_burst = u32::MAX;
        let relay = triage_relay::start(config)
            .await
            .context("starting the relay")?;
        Ok(Deployment { relay, dir })
    }

    /// A technician home made with `triage keygen` and `triage login`.
    pub async fn technician(&self, name: &str) -> Result<PathBuf> {
        let home = self.dir.path().join(format!("tech-{name}"));
        let keygen = cli(&home, &["keygen"]).await?;
        let key: PublicKey = keygen
            .lines()
            .last()
            .ok_or_else(|| anyhow!("keygen printed nothing"))?
            .parse()
            .map_err(|e| anyhow!("keygen's last line is not a key: {e}"))?;
        self.relay
            .add_technician(name, &[Role::L1, Role::L2, Role::L3, Role::Admin], key)
            .await?;
        cli(&home, &["login", &self.relay.locator().to_string()]).await?;
        Ok(home)
    }

    /// Enrolls an agent state directory (with `agent_toml` written first).
    pub async fn enroll_agent(&self, name: &str, agent_toml: &str) -> Result<(AgentId, PathBuf)> {
        let state = self.dir.path().join(format!("agent-{name}"));
        std::fs::create_dir_all(&state)?;
        if !agent_toml.is_empty() {
            std::fs::write(state.join(triage_agent::CONFIG_FILE), agent_toml)?;
        }
        let token = self.relay.create_token(1, Duration::from_secs(600)).await?;
        let id = triage_agent::enroll(&state, &token).await?;
        Ok((id, state))
    }

    pub async fn wait_online(&self, agent: AgentId) -> Result<()> {
        for _ in 0..300 {
            if self.relay.is_agent_online(agent) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(anyhow!("agent {agent} did not come online in 15 s"))
    }

    pub async fn shutdown(self) {
        self.relay.shutdown().await;
    }
}

/// Runs the technician CLI's library entry point with `--home home`.
pub async fn cli(home: &Path, args: &[&str]) -> Result<String> {
    let mut argv = vec![
        "triage".to_string(),
        "--home".into(),
        home.display().to_string(),
    ];
    argv.extend(args.iter().map(|a| a.to_string()));
    let parsed = triage_cli::Cli::try_parse_from(&argv)?;
    let mut out = Vec::new();
    triage_cli::run(parsed, &mut out)
        .await
        .with_context(|| format!("triage {}", args.join(" ")))?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Enrolls a fresh key with `token` over the wire, like an agent does, and
/// returns the key and its agent id.
pub async fn enroll_key(
    relay: &RelayLocator,
    token: &EnrollmentToken,
) -> Result<(KeyPair, AgentId)> {
    let key = KeyPair::generate();
    let session = Session::connect(relay, &key, PeerKind::AgentOneShot).await?;
    let request = Request::Enroll {
        token_secret: token.secret.to_hex(),
        hostname: "bench-sim".into(),
        os: "linux".into(),
    };
    let response = session.request(&request).await;
    session.close().await;
    match response? {
        Response::Enrolled { agent_id } => Ok((key, agent_id)),
        other => Err(anyhow!("enroll answered {}", other_name(&other))),
    }
}

fn other_name(r: &Response) -> String {
    format!("{r:?}").chars().take(60).collect()
}

/// A raw quinn server and client with Triage's TLS configuration (pinned
/// relay certificate, Ed25519 client certificate), no relay in between.
pub struct RawPair {
    pub server: quinn::Endpoint,
    pub client: quinn::Endpoint,
    pub addr: SocketAddr,
}

impl RawPair {
    pub fn new() -> Result<RawPair> {
        let server_key = KeyPair::generate();
        let (server_config, fp) = tls::server_config(&server_key)?;
        let server = quinn::Endpoint::server(server_config, loopback())?;
        let addr = server.local_addr()?;
        let mut client = quinn::Endpoint::client(loopback())?;
        client.set_default_client_config(tls::client_config(&KeyPair::generate(), fp)?);
        Ok(RawPair {
            server,
            client,
            addr,
        })
    }

    /// Connects the client and accepts on the server side.
    pub async fn connect(&self) -> Result<(quinn::Connection, quinn::Connection)> {
        let connecting = self.client.connect(self.addr, tls::SERVER_NAME)?;
        let incoming = self
            .server
            .accept()
            .await
            .ok_or_else(|| anyhow!("server endpoint closed"))?;
        let (client, server) =
            tokio::try_join!(async { Ok::<_, anyhow::Error>(connecting.await?) }, async {
                Ok::<_, anyhow::Error>(incoming.await?)
            })?;
        Ok((client, server))
    }
}
