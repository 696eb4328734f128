//! Set-up for the benchmarks: the e2e harness (`triage_e2e`: an in-process
//! relay on loopback, technicians through the real CLI entry point, agents
//! enrolled with real tokens) with the load limits lifted, plus what only a
//! benchmark needs: keys enrolled over the wire by the thousand, and a raw
//! quinn endpoint pair with the same TLS configuration (no relay).

use anyhow::{anyhow, Context, Result};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use triage_e2e::loopback;
use triage_relay::RelayConfig;
use triage_shared::client::Session;
use triage_shared::identity::KeyPair;
use triage_shared::protocol::{PeerKind, Request, Response};
use triage_shared::roles::Role;
use triage_shared::tls;
use triage_shared::token::{EnrollmentToken, RelayLocator};
use triage_shared::AgentId;

/// The e2e harness's deployment, with the limits that would measure
/// themselves lifted, and errors as `anyhow` for the benchmark's report.
pub struct Deployment(triage_e2e::Deployment);

impl std::ops::Deref for Deployment {
    type Target = triage_e2e::Deployment;
    fn deref(&self) -> &triage_e2e::Deployment {
        &self.0
    }
}

impl Deployment {
    pub async fn start() -> Result<Deployment> {
        Deployment::start_with_metrics(false).await
    }

    /// As [`Deployment::start`], with `/metrics` served on a loopback
    /// port when `metrics` ([`RelayHandle::metrics_addr`](triage_relay::RelayHandle::metrics_addr)).
    pub async fn start_with_metrics(metrics: bool) -> Result<Deployment> {
        // Every simulated peer comes from 127.0.0.1 and one technician
        // drives the offered load: per-address and per-technician caps
        // would measure themselves, not the relay.
        let deployment = triage_e2e::Deployment::start_with(|config: &mut RelayConfig| {
            if metrics {
                config.metrics.listen = Some(loopback());
            }
            let limits = &mut config.limits;
            limits.max_handshaking_per_address = limits.max_handshaking;
            limits.max_unenrolled_per_address = limits.max_unenrolled;
            limits.technician_requests_per_second = u32::MAX;
            limits.technician_request_burst = u32::MAX;
        })
        .await;
        Ok(Deployment(deployment))
    }

    /// A technician home made with `triage keygen` and `triage login`.
    pub async fn technician(&self, name: &str) -> Result<PathBuf> {
        let roles = [Role::L1, Role::L2, Role::L3, Role::Admin];
        Ok(self.0.technician(name, &roles).await.home)
    }

    /// Enrolls an agent state directory and writes its `agent_toml`.
    pub async fn enroll_agent(&self, name: &str, agent_toml: &str) -> Result<(AgentId, PathBuf)> {
        let agent = self.0.enroll_agent(name).await;
        if !agent_toml.is_empty() {
            std::fs::write(agent.state_dir.join(triage_agent::CONFIG_FILE), agent_toml)?;
        }
        Ok((agent.id, agent.state_dir.clone()))
    }

    pub async fn wait_online(&self, agent: AgentId) -> Result<()> {
        let relay = self.0.relay();
        let online = triage_e2e::eventually(Duration::from_secs(15), || async {
            relay.is_agent_online(agent)
        })
        .await;
        online
            .then_some(())
            .ok_or_else(|| anyhow!("agent {agent} did not come online in 15 s"))
    }

    pub async fn shutdown(mut self) {
        self.0.stop_relay().await;
    }
}

/// Runs the technician CLI's library entry point with `--home home`.
pub async fn cli(home: &Path, args: &[&str]) -> Result<String> {
    triage_e2e::cli(home, args)
        .await
        .with_context(|| format!("triage {}", args.join(" ")))
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
