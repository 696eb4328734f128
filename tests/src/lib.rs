//! A small harness for end-to-end tests: a real relay on `127.0.0.1:0` with
//! its embedded store in a temporary directory, agents enrolled with real
//! tokens, and technicians driving the real `triage` CLI entry point.

use clap::Parser;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use triage_relay::{RelayConfig, RelayHandle};
use triage_shared::identity::{KeyPair, PublicKey};
use triage_shared::roles::Role;
use triage_shared::AgentId;

pub use triage_cli::CliError;

pub mod logs;
pub mod scripts;

/// A relay with an admin technician ready.
pub struct Deployment {
    pub relay: Option<RelayHandle>,
    pub dir: TempDir,
    pub admin: Technician,
    /// The organisation key, once [`Deployment::init_org`] made it; held by
    /// the test as an admin would hold it, off the relay.
    org: std::sync::OnceLock<KeyPair>,
}

/// A technician's home directory, logged in to the deployment's relay.
#[derive(Clone)]
pub struct Technician {
    pub name: String,
    pub home: PathBuf,
}

/// An enrolled agent; its daemon runs while `daemon` is `Some`.
pub struct Agent {
    pub id: AgentId,
    pub state_dir: PathBuf,
    daemon: Option<(oneshot::Sender<()>, JoinHandle<()>)>,
}

pub fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

impl Deployment {
    pub async fn start() -> Deployment {
        Deployment::start_with(|_| {}).await
    }

    /// A deployment whose relay configuration `tune` adjusted first (the
    /// benchmarks lift the per-address and per-technician limits).
    pub async fn start_with(tune: impl FnOnce(&mut RelayConfig)) -> Deployment {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = RelayConfig::new(dir.path().join("relay"), loopback());
        tune(&mut config);
        let relay = triage_relay::start(config).await.expect("relay starts");
        let mut d = Deployment {
            relay: Some(relay),
            admin: Technician {
                name: String::new(),
                home: PathBuf::new(),
            },
            dir,
            org: std::sync::OnceLock::new(),
        };
        d.admin = d
            .technician("admin", &[Role::L1, Role::L2, Role::L3, Role::Admin])
            .await;
        d
    }

    /// The relay's data directory (`sla.toml` goes there).
    pub fn relay_data_dir(&self) -> PathBuf {
        self.dir.path().join("relay")
    }

    pub fn relay(&self) -> &RelayHandle {
        self.relay.as_ref().expect("relay is running")
    }

    /// Stops the relay; [`Deployment::restart_relay`] brings it back on the same port.
    pub async fn stop_relay(&mut self) -> SocketAddr {
        let relay = self.relay.take().expect("relay is running");
        let addr = relay.local_addr();
        relay.shutdown().await;
        addr
    }

    pub async fn restart_relay(&mut self, addr: SocketAddr) {
        let relay = triage_relay::start(RelayConfig::new(self.dir.path().join("relay"), addr))
            .await
            .expect("relay restarts");
        self.relay = Some(relay);
    }

    /// Makes the organisation key (the relay records its public half). From
    /// then on technicians log in with it pinned and agents enroll with
    /// tokens that carry it.
    pub async fn init_org(&self) -> &KeyPair {
        let org = self.relay().init_org().await.expect("org init");
        let key = org.public_key().to_string();
        self.org.set(org).expect("init_org is called once");
        cli(
            &self.admin.home,
            &[
                "login",
                &self.relay().locator().to_string(),
                "--org-key",
                &key,
            ],
        )
        .await
        .expect("admin pins the org key");
        self.org()
    }

    pub fn org(&self) -> &KeyPair {
        self.org.get().expect("init_org was called")
    }

    /// Exports the roster from the relay's technicians, signs it with the
    /// org key and publishes it; returns its version.
    pub async fn sign_roster(&self) -> u64 {
        self.relay()
            .sign_and_publish_roster(self.org())
            .await
            .expect("roster published")
    }

    /// Makes a key with `triage keygen`, registers it with `roles`, and logs in.
    pub async fn technician(&self, name: &str, roles: &[Role]) -> Technician {
        let home = self.dir.path().join(format!("tech-{name}"));
        let keygen = cli(&home, &["keygen"]).await.expect("keygen");
        let key: PublicKey = keygen
            .lines()
            .last()
            .expect("keygen prints the public key")
            .parse()
            .expect("keygen's last line is the public key");
        self.relay()
            .add_technician(name, roles, key)
            .await
            .expect("technician registered");
        let locator = self.relay().locator().to_string();
        let mut login = vec!["login".to_string(), locator];
        if let Some(org) = self.org.get() {
            login.extend(["--org-key".to_string(), org.public_key().to_string()]);
        }
        let login: Vec<&str> = login.iter().map(String::as_str).collect();
        cli(&home, &login).await.expect("login");
        Technician {
            name: name.to_string(),
            home,
        }
    }

    /// Enrolls a new agent with a fresh single-use token.
    pub async fn enroll_agent(&self, name: &str) -> Agent {
        let state_dir = self.dir.path().join(format!("agent-{name}"));
        let ttl = Duration::from_secs(600);
        let token = match self.org.get() {
            Some(org) => {
                let pinned = triage_relay::admin::PinnedOrg {
                    key: org.public_key(),
                    min_roster: 0,
                };
                self.relay().create_token_for_org(1, ttl, pinned).await
            }
            None => self.relay().create_token(1, ttl).await,
        }
        .expect("token");
        let id = triage_agent::enroll(&state_dir, &token)
            .await
            .expect("enroll");
        Agent {
            id,
            state_dir,
            daemon: None,
        }
    }
}

impl Technician {
    /// The technician's private key, as `triage keygen` stored it.
    pub fn key(&self) -> KeyPair {
        let text = std::fs::read_to_string(self.home.join("identity.key")).expect("identity.key");
        KeyPair::from_file_text(&text).expect("identity.key parses")
    }

    pub async fn run(&self, args: &[&str]) -> Result<String, CliError> {
        cli(&self.home, args).await
    }

    /// What a command printed, and how it ended.
    pub async fn printed(&self, args: &[&str]) -> (String, Result<(), CliError>) {
        cli_printed(&self.home, args).await
    }

    /// Runs a command that must succeed and prints JSON.
    pub async fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self
            .run(args)
            .await
            .unwrap_or_else(|e| panic!("triage {args:?} failed: {e}"));
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("triage {args:?} printed no JSON ({e}): {out}"))
    }

    /// Runs a command that must fail and returns its message.
    pub async fn refused(&self, args: &[&str]) -> String {
        match self.run(args).await {
            Ok(out) => panic!("triage {args:?} succeeded but should not have: {out}"),
            Err(e) => e.to_string(),
        }
    }
}

impl Agent {
    /// Waits until the agent has installed an organisation roster of at least `version`.
    pub async fn wait_for_roster(&self, version: u64) -> bool {
        let dir = self.state_dir.clone();
        eventually(Duration::from_secs(30), || {
            let dir = dir.clone();
            async move {
                triage_agent::status(&dir)
                    .ok()
                    .and_then(|s| serde_json::to_value(s).ok())
                    .and_then(|v| v["roster_version"].as_u64())
                    .is_some_and(|v| v >= version)
            }
        })
        .await
    }

    pub fn start_daemon(&mut self) {
        let (tx, rx) = oneshot::channel::<()>();
        let dir = self.state_dir.clone();
        let task = tokio::spawn(async move {
            let shutdown = async {
                let _ = rx.await;
            };
            if let Err(e) = triage_agent::run_daemon(&dir, shutdown).await {
                panic!("agent daemon failed: {e}");
            }
        });
        self.daemon = Some((tx, task));
    }

    pub async fn stop_daemon(&mut self) {
        if let Some((tx, task)) = self.daemon.take() {
            let _ = tx.send(());
            tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("daemon stops promptly")
                .expect("daemon task ends cleanly");
        }
    }
}

/// Runs the technician CLI's library entry point with `--home home`.
pub async fn cli(home: &Path, args: &[&str]) -> Result<String, CliError> {
    let (printed, outcome) = cli_printed(home, args).await;
    outcome.map(|()| printed)
}

/// Runs the CLI and returns what it printed, whether or not it then failed
/// (a ping that went unanswered still prints its report).
pub async fn cli_printed(home: &Path, args: &[&str]) -> (String, Result<(), CliError>) {
    let mut argv = vec![
        "triage".to_string(),
        "--home".into(),
        home.display().to_string(),
    ];
    argv.extend(args.iter().map(|a| a.to_string()));
    let parsed = triage_cli::Cli::try_parse_from(&argv)
        .unwrap_or_else(|e| panic!("bad test arguments {argv:?}: {e}"));
    let mut out = Vec::new();
    let outcome = triage_cli::run(parsed, &mut out).await;
    (String::from_utf8(out).expect("CLI prints UTF-8"), outcome)
}

/// Polls `check` until it holds or `timeout` passes.
pub async fn eventually<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A fresh identity that nobody has registered or enrolled.
pub fn stranger() -> KeyPair {
    KeyPair::generate()
}

impl Agent {
    /// Like [`Agent::start_daemon`], with the health feed and timing chosen
    /// by the test (a [`triage_agent::FakeSource`], short intervals).
    pub fn start_daemon_with(&mut self, options: triage_agent::DaemonOptions) {
        let (tx, rx) = oneshot::channel::<()>();
        let dir = self.state_dir.clone();
        let task = tokio::spawn(async move {
            let shutdown = async {
                let _ = rx.await;
            };
            if let Err(e) = triage_agent::run_daemon_with(&dir, shutdown, options).await {
                panic!("agent daemon failed: {e}");
            }
        });
        self.daemon = Some((tx, task));
    }
}

/// The real `triage-relay` binary, which `cargo test --workspace
/// --all-targets` builds into the target directory next to the test
/// executables (`target/debug/deps/<test>` → `target/debug/triage-relay`).
/// Panics with what to do when it is missing: a test that needs the binary
/// must not pass without it.
pub fn relay_binary() -> PathBuf {
    workspace_binary("triage-relay")
}

/// The real `triage-agent` binary, found as [`relay_binary`] is.
pub fn agent_binary() -> PathBuf {
    workspace_binary("triage-agent")
}

/// The real technician CLI, `triage`, found as [`relay_binary`] is.
pub fn cli_binary() -> PathBuf {
    workspace_binary("triage")
}

fn workspace_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let debug = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable lives in <target>/<profile>/deps");
    let binary = debug.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.is_file(),
        "{} is missing; build it with `cargo build -p {}` (CI builds it with `cargo test --workspace --all-targets`)",
        binary.display(),
        match name {
            "triage" => "triage-cli",
            other => other,
        }
    );
    binary
}

impl Agent {
    /// Waits (bounded) until the relay no longer lists this agent as connected.
    pub async fn wait_offline(&self, relay: &RelayHandle) {
        let id = self.id;
        assert!(
            eventually(Duration::from_secs(40), || async {
                !relay.is_agent_online(id)
            })
            .await,
            "agent {id} never went offline"
        );
    }

    /// Waits (bounded) until the relay lists this agent as connected.
    pub async fn wait_online(&self, relay: &RelayHandle) {
        let id = self.id;
        assert!(
            eventually(Duration::from_secs(20), || async {
                relay.is_agent_online(id)
            })
            .await,
            "agent {id} never came online"
        );
    }

    /// The running daemon's "Get help" socket (its default place in the
    /// state directory), once the daemon has made it.
    pub async fn desktop_socket(&self) -> PathBuf {
        let path = triage_agent::desktop::default_socket_path(&self.state_dir);
        let made = eventually(Duration::from_secs(20), || {
            let path = path.clone();
            async move { path.exists() }
        })
        .await;
        assert!(
            made,
            "the daemon never made its socket at {}",
            path.display()
        );
        path
    }
}
