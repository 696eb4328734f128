//! `triage-relay`: run the relay, and administer it offline.

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use triage_relay::config::DataDir;
use triage_relay::quickstart::{self, Binaries};
use triage_relay::store::Store;
use triage_relay::{admin, audit, org, revocation, RelayConfig};
use triage_shared::identity::PublicKey;
use triage_shared::roles::Role;
use triage_shared::time::{parse_duration, Timestamp};
use triage_shared::token::RelayLocator;

#[derive(Parser)]
#[command(
    name = "triage-relay",
    version,
    about = "The Triage relay: tickets, enrollment and routing between technicians and agents"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct DataArgs {
    /// Data directory (relay.key, relay.db, public-addr)
    #[arg(
        long,
        value_name = "DIR",
        env = "TRIAGE_RELAY_DIR",
        default_value = "triage-relay-data"
    )]
    data_dir: PathBuf,
    /// Database URL [default: SQLite file relay.db in the data directory]; e.g. postgres://user@host/db
    #[arg(long, value_name = "URL", env = "TRIAGE_DATABASE_URL")]
    database_url: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the relay (stops cleanly on Ctrl-C or SIGTERM)
    Serve {
        #[command(flatten)]
        data: DataArgs,
        /// UDP address to listen on
        #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:4433")]
        listen: SocketAddr,
        /// HOST:PORT that agents and technicians use to reach this relay (written into tokens)
        #[arg(long, value_name = "HOST:PORT")]
        public_addr: Option<String>,
        /// How often to look for a changed sla.toml and record SLA warnings
        /// and breaches that came due
        #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
        sla_check_every: std::time::Duration,
        #[command(flatten)]
        smtp: triage_relay::notify::args::SmtpArgs,
        /// Close a resolved ticket the employee has not answered ("Did this
        /// fix it?") after it sat untouched this long: 7d, 36h, 30s
        #[arg(long, value_name = "DURATION", default_value = "7d", value_parser = parse_duration)]
        auto_close_after: Duration,
        /// Serve Prometheus metrics at http://ADDR/metrics (TCP; a loopback
        /// address such as 127.0.0.1:9464 unless --metrics-listen-public)
        #[arg(long, value_name = "ADDR")]
        metrics_listen: Option<SocketAddr>,
        /// Allow --metrics-listen on an address other hosts can reach
        #[arg(long, requires = "metrics_listen")]
        metrics_listen_public: bool,
    },
    /// Make an enrollment token and print it (works offline, on the store
    /// directly); `token list` and `token revoke ID` manage existing ones
    #[command(args_conflicts_with_subcommands = true)]
    Token {
        #[command(subcommand)]
        action: Option<TokenCommand>,
        #[command(flatten)]
        data: DataArgs,
        /// How many agents may enroll with it
        #[arg(long, value_name = "N", default_value_t = 1)]
        uses: u32,
        /// How long it stays valid: 90s, 15m, 1h, 7d
        #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration)]
        ttl: Duration,
        /// HOST:PORT to put in the token [default: the address the last `serve` recorded]
        #[arg(long, value_name = "HOST:PORT")]
        public_addr: Option<String>,
        /// The organisation's public key (`ed25519:…`, as `org init` printed
        /// it), from your own records, not from this host: agents enrolled
        /// with the token trust it. Refused if the store holds another key.
        /// Without it the agent runs no scripts.
        #[arg(long, value_name = "KEY")]
        org_key: Option<PublicKey>,
        /// Lowest roster version the agent may accept [default: the newest
        /// published roster, if the org key signed it]
        #[arg(long, value_name = "N")]
        min_roster: Option<u64>,
    },
    /// Register and list technicians
    #[command(subcommand)]
    Technician(TechnicianCommand),
    /// The organisation key that decides who may approve scripts
    #[command(subcommand)]
    Org(OrgCommand),
    /// The hash-chained audit log
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Start a relay, a technician identity and an enrolled agent for local development
    Quickstart {
        /// Where everything lives
        #[arg(long, value_name = "DIR", default_value = "triage-local")]
        data_dir: PathBuf,
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:4433")]
        listen: SocketAddr,
    },
}

#[derive(Subcommand)]
enum TechnicianCommand {
    /// Register a technician's public key with roles
    Add {
        /// The technician's name (letters, digits and . _ - @)
        name: String,
        /// l1, l2, l3, approver or admin; repeat or separate with commas
        #[arg(long = "role", value_name = "ROLE", required = true, num_args = 1.., value_delimiter = ',')]
        roles: Vec<Role>,
        /// File holding the `ed25519:<hex>` key printed by `triage keygen` (or the key itself)
        #[arg(long, value_name = "FILE")]
        pubkey: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Remove a technician: their key is refused from their next request
    /// (a running relay's network path also closes their connections).
    /// Refused for the last admin
    Remove {
        name: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Replace a technician's roles (effective on their next request)
    Roles {
        name: String,
        /// l1, l2, l3, approver or admin; repeat or separate with commas
        #[arg(long = "role", value_name = "ROLE", required = true, num_args = 1.., value_delimiter = ',')]
        roles: Vec<Role>,
        #[command(flatten)]
        data: DataArgs,
    },
    /// List registered technicians
    List {
        #[command(flatten)]
        data: DataArgs,
        /// Print JSON: [{name, roles, public_key, created_at}] with created_at in Unix milliseconds
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// List enrollment tokens, newest first (never their secrets)
    List {
        #[command(flatten)]
        data: DataArgs,
        /// Print JSON: [{id, created_at, expires_at, uses_left, created_by, revoked_at, revoked_by}]
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token so that it can no longer enroll
    Revoke {
        /// The token's id, or a unique prefix of it (6+ hex digits), as `token list` shows
        id: String,
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Subcommand)]
enum OrgCommand {
    /// Make the organisation key: the private key goes to --out (keep it off
    /// the relay host), the public key is recorded here and goes into tokens
    Init {
        /// Where to write the private key (must not exist yet)
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Export, sign and publish the next roster in one step, here on the
    /// relay host (for a first setup; otherwise sign off this host with
    /// `triage roster export | sign | publish`); a running relay pushes it
    /// to its agents within seconds
    SignRoster {
        /// The private key file `org init` wrote
        #[arg(long, value_name = "FILE")]
        org_key: PathBuf,
        /// How long the roster stays valid
        #[arg(long, value_name = "DURATION", default_value = "90d", value_parser = parse_duration)]
        valid_for: Duration,
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute the whole chain; names the first bad entry and exits non-zero
    Verify {
        #[command(flatten)]
        data: DataArgs,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let chatty = matches!(
        cli.command,
        Command::Serve { .. } | Command::Quickstart { .. }
    );
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(if chatty { "info" } else { "warn" })
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match run(cli.command).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve {
            data,
            listen,
            public_addr,
            sla_check_every,
            smtp,
            auto_close_after,
            metrics_listen,
            metrics_listen_public,
        } => {
            let metrics = Metrics {
                listen: metrics_listen,
                public: metrics_listen_public,
            };
            serve(
                data,
                listen,
                public_addr,
                sla_check_every,
                smtp,
                auto_close_after,
                metrics,
            )
            .await
        }
        Command::Token {
            action: Some(action),
            ..
        } => token_admin(action).await,
        Command::Token {
            action: None,
            data,
            uses,
            ttl,
            public_addr,
            org_key,
            min_roster,
        } => token(data, uses, ttl, public_addr, org_key, min_roster).await,
        Command::Technician(TechnicianCommand::Remove { name, data }) => {
            let (_, store) = open_offline(&data).await?;
            let result =
                revocation::remove_technician(&store, &name, admin::LOCAL_ADMIN, Timestamp::now())
                    .await;
            store.close().await;
            let removed = result?;
            println!(
                "Removed technician `{}`; their key is refused from now on.",
                removed.name
            );
            Ok(())
        }
        Command::Technician(TechnicianCommand::Roles { name, roles, data }) => {
            let (_, store) = open_offline(&data).await?;
            let result =
                revocation::set_technician_roles(&store, &name, &roles, admin::LOCAL_ADMIN).await;
            store.close().await;
            let changed = result?;
            let names = |roles: &[Role]| {
                roles
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            };
            println!(
                "Technician `{name}` now has roles {} (was {}).",
                names(&changed.technician.roles),
                names(&changed.previous)
            );
            Ok(())
        }
        Command::Technician(TechnicianCommand::Add {
            name,
            roles,
            pubkey,
            data,
        }) => {
            let key = read_public_key(&pubkey)?;
            let (_, store) = open_offline(&data).await?;
            let result = admin::register_technician(
                &store,
                &name,
                &roles,
                key,
                admin::LOCAL_ADMIN,
                Timestamp::now(),
            )
            .await;
            store.close().await;
            let tech = result?;
            let roles: Vec<_> = tech.roles.iter().map(|r| r.as_str()).collect();
            println!(
                "Registered technician `{}` with roles {}.",
                tech.name,
                roles.join(",")
            );
            Ok(())
        }
        Command::Technician(TechnicianCommand::List { data, json }) => {
            let (_, store) = open_offline(&data).await?;
            let result = store
                .list_technicians(triage_shared::limits::MAX_LIST_ITEMS)
                .await;
            store.close().await;
            let technicians = result?;
            if json {
                println!("{}", serde_json::to_string_pretty(&technicians)?);
            } else {
                print!("{}", admin::technicians_table(&technicians));
            }
            Ok(())
        }
        Command::Org(OrgCommand::Init { out, data }) => org_init(&out, &data).await,
        Command::Org(OrgCommand::SignRoster {
            org_key,
            valid_for,
            data,
        }) => {
            let org = org::read_key_file(&org_key)?;
            let (_, store) = open_offline(&data).await?;
            let result =
                org::sign_and_publish_roster(&store, &org, valid_for, Timestamp::now()).await;
            store.close().await;
            let signed = result?;
            let r = &signed.roster;
            let names = |pick: fn(&triage_shared::approval::RosterEntry) -> bool| {
                let names: Vec<_> = r
                    .entries
                    .iter()
                    .filter(|e| pick(e))
                    .map(|e| e.name.as_str())
                    .collect();
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            };
            println!(
                "Published roster version {} valid until {}; authors: {}; approvers: {}.",
                r.version,
                r.expires_at,
                names(|e| e.may_author()),
                names(|e| e.may_approve()),
            );
            eprintln!(
                "A running relay pushes it to connected agents within {} s.",
                triage_relay::ROSTER_REFRESH.as_secs()
            );
            Ok(())
        }
        Command::Audit(AuditCommand::Verify { data }) => {
            let (_, store) = open_offline(&data).await?;
            let result = audit::verify(&store).await;
            store.close().await;
            let count = result?;
            println!("The audit log is intact: {count} entries chain correctly.");
            Ok(())
        }
        Command::Quickstart { data_dir, listen } => quickstart(data_dir, listen).await,
    }
}

async fn org_init(out: &Path, data: &DataArgs) -> anyhow::Result<()> {
    let (_, store) = open_offline(data).await?;
    let result = org::init_to_file(&store, out, Timestamp::now()).await;
    store.close().await;
    let public = result?;
    println!("{public}");
    eprintln!(
        "Organisation key made. The private key is in {} (mode 0600): move it off the relay host \
         and keep it safe; anyone holding it decides who may approve scripts.",
        out.display()
    );
    eprintln!(
        "Write the public key above down where this host cannot change it: tokens carry it only when \
         you pass it (`triage-relay token --org-key {public}`, or `triage login … --org-key {public}` \
         then `triage tokens create`). Agents enrolled before now need a new token to trust it."
    );
    eprintln!("Next: register authors and approvers, then sign a roster: `triage roster export | sign | publish` (or `triage-relay org sign-roster --org-key FILE` here).");
    Ok(())
}

/// `--metrics-listen` and `--metrics-listen-public`.
struct Metrics {
    listen: Option<SocketAddr>,
    public: bool,
}

async fn serve(
    data: DataArgs,
    listen: SocketAddr,
    public_addr: Option<String>,
    sla_check_every: std::time::Duration,
    smtp: triage_relay::notify::args::SmtpArgs,
    auto_close_after: Duration,
    metrics: Metrics,
) -> anyhow::Result<()> {
    if sla_check_every.is_zero() {
        anyhow::bail!("--sla-check-every must be at least 1s");
    }
    let notify = triage_relay::notify::NotifyConfig {
        smtp: smtp.to_config().map_err(anyhow::Error::msg)?,
        ..Default::default()
    };
    if public_addr.is_none() && listen.ip().is_unspecified() {
        tracing::warn!("no --public-addr given: tokens will name a loopback address, usable from this machine only");
    }
    let config = RelayConfig {
        data_dir: data.data_dir,
        listen,
        database_url: data.database_url,
        public_addr,
        limits: triage_relay::Limits::default(),
        sla_check_every,
        notify,
        auto_close_after,
        metrics: triage_relay::MetricsConfig {
            listen: metrics.listen,
            public: metrics.public,
            ..Default::default()
        },
    };
    let relay = triage_relay::start(config)
        .await
        .context("cannot start the relay")?;
    tracing::info!(locator = %relay.locator(), "technicians log in with: triage login <locator>");
    triage_relay::shutdown_signal().await;
    relay.shutdown().await;
    Ok(())
}

async fn token(
    data: DataArgs,
    uses: u32,
    ttl: Duration,
    public_addr: Option<String>,
    org_key: Option<PublicKey>,
    min_roster: Option<u64>,
) -> anyhow::Result<()> {
    let (dir, store) = open_offline(&data).await?;
    let result = async {
        let key = dir.load_or_create_key()?;
        let (_, fingerprint) = triage_shared::tls::server_config(&key)?;
        let addr = match public_addr {
            Some(addr) => addr,
            None => dir.read_public_addr()?.with_context(|| {
                format!(
                    "no public address is recorded in {}; start `triage-relay serve` there once, or pass --public-addr HOST:PORT",
                    dir.path().display()
                )
            })?,
        };
        let relay = RelayLocator { addr, fingerprint };
        let org = match org_key {
            None => None,
            Some(key) => Some(admin::PinnedOrg {
                key,
                min_roster: match min_roster {
                    Some(n) => n,
                    None => published_roster_version(&store, &key).await?,
                },
            }),
        };
        let request = admin::TokenRequest { uses, ttl, org };
        let made =
            admin::mint_token(&store, &relay, request, admin::LOCAL_ADMIN, Timestamp::now())
                .await?;
        anyhow::Ok((made, fingerprint))
    }
    .await;
    store.close().await;
    let ((token, expires_at), fingerprint) = result?;
    println!("{token}");
    eprintln!(
        "token id {}; relay fingerprint sha256:{fingerprint}; valid for {uses} enrollment(s) until {expires_at}",
        triage_shared::token_id::TokenId::of(&token.secret)
    );
    if token.org_key.is_none() {
        eprintln!("warning: the token carries no organisation key (--org-key), so the agent will run no scripts");
    }
    eprintln!("on the endpoint: triage-agent enroll '{token}'");
    Ok(())
}

/// The newest published roster's version if `org` signed it, else 0: a
/// store that lies can only make the floor lower, never trusted higher.
async fn published_roster_version(store: &Store, org: &PublicKey) -> anyhow::Result<u64> {
    Ok(store
        .latest_roster()
        .await?
        .filter(|r| r.signed_by(org))
        .map_or(0, |r| r.roster.version))
}

async fn token_admin(action: TokenCommand) -> anyhow::Result<()> {
    match action {
        TokenCommand::List { data, json } => {
            let (_, store) = open_offline(&data).await?;
            let result = store
                .list_tokens(triage_shared::limits::MAX_LIST_ITEMS)
                .await;
            store.close().await;
            let tokens = result?;
            if json {
                println!("{}", serde_json::to_string_pretty(&tokens)?);
            } else {
                print!("{}", revocation::tokens_table(&tokens, Timestamp::now()));
            }
        }
        TokenCommand::Revoke { id, data } => {
            let (_, store) = open_offline(&data).await?;
            let result =
                revocation::revoke_token(&store, &id, admin::LOCAL_ADMIN, Timestamp::now()).await;
            store.close().await;
            let token = result?;
            println!(
                "Revoked enrollment token {}; it can no longer enroll.",
                token.id
            );
        }
    }
    Ok(())
}

async fn open_offline(data: &DataArgs) -> anyhow::Result<(DataDir, Store)> {
    let dir = DataDir::create(&data.data_dir)?;
    let store = dir
        .open_store(data.database_url.as_deref())
        .await
        .context("cannot open the relay database")?;
    Ok((dir, store))
}

/// Reads `ed25519:<hex>` from a file (the last line holding one), or takes
/// the argument itself when it already is a key.
fn read_public_key(arg: &str) -> anyhow::Result<PublicKey> {
    if let Ok(key) = arg.parse() {
        return Ok(key);
    }
    let text = std::fs::read_to_string(arg)
        .with_context(|| format!("cannot read public key file {arg}"))?;
    quickstart::parse_keygen_output(&text).with_context(|| {
        format!(
            "{arg} holds no `ed25519:<64 hex>` public key; use the line printed by `triage keygen`"
        )
    })
}

async fn quickstart(data_dir: PathBuf, listen: SocketAddr) -> anyhow::Result<()> {
    let bins = Binaries::next_to_current_exe()?;
    let dir = DataDir::create(&data_dir)?;
    let relay = triage_relay::start(RelayConfig::new(dir.path(), listen))
        .await
        .context("cannot start the relay")?;
    let mut deployment = match quickstart::set_up(&relay, dir.path(), &bins).await {
        Ok(deployment) => deployment,
        Err(e) => {
            relay.shutdown().await;
            return Err(e).context("quickstart did not finish; fix the problem and run it again (finished steps are kept)");
        }
    };
    println!("{}", deployment.instructions);
    let stop = triage_relay::shutdown_signal();
    tokio::pin!(stop);
    tokio::select! {
        _ = &mut stop => {}
        status = deployment.agent.wait() => {
            match status {
                Ok(s) => eprintln!("the agent stopped ({s}); see {}. The relay keeps running; Ctrl-C stops it.", log_path(dir.path()).display()),
                Err(e) => eprintln!("lost track of the agent: {e}"),
            }
            stop.await;
        }
    }
    // Ctrl-C in a terminal reaches the agent too; give it a moment to stop on its own.
    if tokio::time::timeout(Duration::from_secs(3), deployment.agent.wait())
        .await
        .is_err()
    {
        let _ = deployment.agent.kill().await;
    }
    relay.shutdown().await;
    Ok(())
}

fn log_path(dir: &Path) -> PathBuf {
    dir.join(quickstart::AGENT_LOG_FILE)
}

#[cfg(test)]
#[path = "main_tests.rs"]
mod tests;
