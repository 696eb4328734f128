//! `triage`, the technician's command line for Triage.
//!
//! The crate is a library so end-to-end tests can drive exactly what the
//! binary runs: parse a [`Cli`] and call [`run`] with any writer. Normal
//! output goes to that writer; a failure is a [`CliError`] whose message says
//! what to do next (the binary prints it on stderr and exits 1).
//!
//! # Where things live
//! - [`args`]: the clap types; typed values (status, roles, durations) are
//!   parsed here, so a typo is a usage error.
//! - [`home`]: the home directory (`identity.key`, `identity.pub`, `relay`).
//! - [`ticket_ref`] and [`selector`]: naming tickets, scripts (full id or
//!   unique prefix) and agents (id, prefix or hostname), matched as pure
//!   functions.
//! - [`attach`] and [`approve`]: reading a script file and building the
//!   manifest its author signs (for the ticket's agent); the approver's own
//!   checks before signing (content matches its digest, author signature,
//!   author and approver on the roster, not their own script, one target)
//!   and the approval over the whole signed manifest.
//! - [`trust`]: the org key pinned at login, the highest roster version
//!   verified here, and checking a roster the relay sends against both;
//!   tokens made here carry the pinned key.
//! - [`run_view`]: a script run's frames (output, finish, refusal,
//!   disconnect) turned into what the technician sees and the exit status.
//! - [`audit_log`]: paging through the audit log, verifying its hash
//!   chain locally, and the head this CLI remembers (`audit-head` in the
//!   home) that every later read must still find unchanged.
//! - [`render`] and [`text`]: everything a human reads, pure and tested.
//!   Everything that came from the network is cleaned of control characters.
//! - [`commands`]: check input, connect with `triage_shared::client::Session`,
//!   ask, print, close.
//!
//! # Script runs
//! `triage script run` streams the script's output as it arrives. With
//! [`run`], its stderr goes to the same writer as stdout, in arrival order;
//! with [`run_with_stderr`] (what the binary uses) it goes to the second
//! writer. A summary line ends the run: `exit code N in X.Ys`, after
//! `output truncated after N bytes (M produced)` and `timed out after X.Ys`
//! when those apply. A refusal by the agent, a non-zero exit code, a
//! timeout, a relay error or a stream that ends early are all errors
//! (exit status 1), reported after whatever output arrived.
//!
//! # Logs, screenshots and attachments
//! `triage logs AGENT PATH [--tail N] [--since DURATION] [--grep REGEX]
//! [--follow] [-o FILE] [--attach TICKET]`, `triage screenshot AGENT [-o FILE]
//! [--attach TICKET]` and `triage tickets attachment TICKET ID [-o FILE]`
//! stream a body through the relay ([`receive`]). Without `-o` the body is
//! written to the output as it arrives and nothing else is; for `triage
//! logs` to a terminal (decided in `main` with `IsTerminal`, passed in as
//! `LogsArgs::stdout_is_terminal`) control characters other than `\n` and
//! `\t` are shown as escapes such as `\x1b` and invalid UTF-8 as U+FFFD
//! ([`terminal_text`]); to a pipe or a file the bytes stay raw. With `-o FILE`
//! it goes to `FILE.partial` (progress bar on stderr when it is a
//! terminal), is renamed to `FILE` once the agent's SHA-256 matches, and
//! one line is printed: `Saved N bytes to FILE (sha256:<hex>, verified).`
//! A body that fails its check, stops part way, or is cut at the endpoint's
//! `max_log_bytes` is an error (exit 1) and `FILE.partial` is removed.
//! `--follow` runs until Ctrl-C ([`commands::logs::logs_until`] takes any
//! future instead); the stopped follow is verified and saved like a whole
//! file.
//!
//! # Pinging an endpoint
//! `triage agents ping AGENT [--count N] [--interval-ms MS] [--json]`
//! ([`commands::ping`]) sends `PingAgent` N times (default 4, at most
//! 1000) on one session, an interval apart (default 1000 ms, at most one
//! minute), and prints one line per attempt — `reply from HOST (ID): X ms
//! (relay→agent Y ms)` or `no reply from HOST (ID): WHY` — then `N sent, M
//! answered, min/avg/max A/B/C ms`. An offline, busy or slow agent is
//! counted and pinged again; an unknown agent or a refusal ends at once.
//! None answered is an error (exit 1).
//!
//! # Home directory
//! `--home DIR`, else `$TRIAGE_HOME`, else `$HOME/.config/triage`. It holds
//! `identity.key` (mode 0600), `identity.pub` and `relay` (the relay locator
//! saved by `triage login`). Writes are atomic.
//!
//! # JSON shapes (`--json`)
//! Each is exactly the `serde_json` serialization of a `triage_shared` type,
//! pretty-printed, and nothing else is printed:
//! - `tickets list`: `Vec<Ticket>`: an array of objects with `id` (UUID
//!   string), `title`, `description`, `category`, `priority`, `status`,
//!   `tier`, `source` (snake_case strings such as `"in_progress"`, `"l2"`,
//!   `"health_alert"`), `agent_id` and `hostname` (string or null),
//!   `requester`, `assignee` (string or null), and `created_at`,
//!   `updated_at`, `sla_due_at` as Unix milliseconds.
//! - `tickets show`: `TicketDetail`: `{"ticket": Ticket, "comments": [{"id",
//!   "author", "text", "created_at", "internal" (true for a technicians'
//!   note)}], "events": [{"actor", "at", "event"}],
//!   "snapshot": Snapshot or null, "attached_diagnostics": [{"taken_at",
//!   "taken_by", "report": DiagnosticsReport}], "script_runs":
//!   [ScriptRunRecord], "attachments": [{"id", "ticket_id", "kind" ("log" or
//!   "screenshot"), "name", "agent_id", "taken_by", "taken_at", "bytes",
//!   "sha256" ("sha256:<hex>")}]}`, where `event` is externally tagged: `"created"`,
//!   `{"assigned": {"assignee"}}`, `{"escalated": {"from", "to"}}`,
//!   `{"status_changed": {"from", "to"}}` or `{"attached": {"kind", "name",
//!   "attachment"}}` (an employee's screenshot, by `employee:NAME`). A `ScriptRunRecord` is `{"run_id",
//!   "script_id", "requested_by", "started_at", "outcome": {"exit_code" (int
//!   or null), "timed_out", "duration_ms", "output_bytes", "truncated"} or
//!   null, "refusal": string or null, "output"}`.
//! - `script list`: `Vec<ScriptSummary>`: `script_id`, `ticket_id`, `author`,
//!   `interpreter` (`"sh"`, `"bash"`, `"powershell"`, `"python"`), `digest`
//!   (`"sha256:<hex>"`), `description`, `created_at`, `live_approvals`, `runs`.
//! - `script show`: [`render::ScriptShowJson`]: the fields of
//!   `ScriptDetail` — `script` (`{"manifest": {"script_id", "ticket_id",
//!   "digest", "interpreter", "timeout_secs", "author", "author_key",
//!   "description", "created_at", "targets" (agent ids)}, "signature"}`),
//!   `content` (the exact bytes, an array of numbers), `approvals`
//!   (`[{"approval": {"manifest_hash", "script_id", "ticket_id",
//!   "approved_at", "expires_at", "nonce", "approver", "approver_key"},
//!   "signature"}]`), `runs` (`[ScriptRunRecord]`) — plus
//!   `content_text` (the content as lossy UTF-8), `digest_ok` and
//!   `author_signature_ok` (booleans, checked here, not by the relay).
//! - `audit`: `Vec<AuditEntry>`, oldest first: `seq`, `at`, `actor`,
//!   `action`, `target`, `outcome`, `details` (JSON text), `prev_hash`, `hash`.
//!   `audit export` writes the same objects, one a line (JSON lines).
//! - `diag`: `DiagnosticsReport`: `{"snapshot": Snapshot, "software":
//!   [{"name", "version"}] or null, "services": [{"name", "state",
//!   "description"}] or null}`.
//! - `agents list`: `Vec<AgentSummary>`: `id`, `hostname`, `os`,
//!   `enrolled_at`, `last_seen` (millis or null), `online` (bool).
//! - `agents ping`: [`commands::ping::PingReport`]: `{"agent", "hostname",
//!   "samples": [{"seq", "rtt_micros", "agent_micros" (null when there was
//!   no reply), "error" (string or null)}], "summary": {"sent", "answered",
//!   "min_micros", "avg_micros", "max_micros" (null when none answered)}}`.
//! - `technicians list`: `Vec<TechnicianSummary>`: `name`, `roles` (e.g.
//!   `["l1", "admin"]`), `public_key` (`"ed25519:<hex>"`), `created_at`.
//! - `whoami`: `SessionIdentity`: `{"Technician": {"name": ..., "roles": [...]}}`.
//! - `roster show`: `Roster`: `{"version", "entries": [{"name", "roles",
//!   "key", "expires_at" (millis or null)}], "issued_at", "expires_at"}`,
//!   after it verified with the pinned org key.
//! - `tokens create`: [`commands::admin::IssuedToken`]: `{"id", "token", "expires_at", "uses"}`
//!   (`id`: the token's public id, 16 hex digits; the text form prints it on stderr).
//! - `tokens list`: `Vec<TokenSummary>`, newest first: `id`, `created_at`,
//!   `expires_at`, `uses_left`, `created_by`, `revoked_at` and `revoked_by`
//!   (null while the token may enroll).
//!
//! # Revocation (admin only)
//! `technicians remove NAME`, `technicians roles NAME --role R...` (replaces
//! the roles; refused when it would leave no admin), `agents remove AGENT`
//! (id, prefix or hostname; the agent leaves `agents list`, its tickets
//! stay) and `tokens revoke ID` (id or a unique 6+ digit prefix). A removed
//! technician's next command fails with the relay's words (`technician NAME
//! was removed …`).

pub mod approve;
pub mod args;
pub mod attach;
pub mod audit_log;
pub mod commands;
pub mod error;
pub mod home;
pub mod pager;
pub mod receive;
pub mod render;
pub mod run_view;
pub mod selector;
pub mod terminal_text;
pub mod text;
pub mod ticket_ref;
pub mod trust;

pub use args::{
    AgentsCommand, AuditArgs, AuditCommand, Cli, Command, DiagArgs, LogsArgs, PingArgs,
    ScreenshotArgs, ScriptCommand, TechniciansCommand, TicketsCommand, TokensCommand,
};
pub use error::CliError;
pub use home::Home;

use std::io::Write;
use std::path::PathBuf;

/// Runs one parsed command line, writing normal output to `out`. The
/// stderr of a script run with `triage script run` goes to `out` as well,
/// in the order it arrived.
pub async fn run(cli: Cli, out: &mut (dyn Write + Send)) -> Result<(), CliError> {
    dispatch(cli, out, None).await
}

/// Like [`run`], but `triage logs` stops when `stop` completes instead of
/// on Ctrl-C: a `--follow` then ends verified (and is saved with `-o`), a
/// plain pull is abandoned with nothing saved. Other commands ignore `stop`.
pub async fn run_until(
    cli: Cli,
    out: &mut (dyn Write + Send),
    stop: impl std::future::Future<Output = ()> + Send,
) -> Result<(), CliError> {
    match cli.command {
        Command::Logs(args) => {
            let home = Home::locate(cli.home, std::env::var_os("HOME").map(PathBuf::from))?;
            commands::logs::logs_until(&home, args, out, stop).await?;
            out.flush()?;
            Ok(())
        }
        command => run(Cli { command, ..cli }, out).await,
    }
}

/// Like [`run`], but a script's stderr goes to `err` (the binary passes the
/// real stderr, so `triage script run ... > out.txt` keeps only stdout).
pub async fn run_with_stderr(
    cli: Cli,
    out: &mut (dyn Write + Send),
    err: &mut (dyn Write + Send),
) -> Result<(), CliError> {
    dispatch(cli, out, Some(err)).await
}

async fn dispatch(
    cli: Cli,
    out: &mut (dyn Write + Send),
    err: Option<&mut (dyn Write + Send)>,
) -> Result<(), CliError> {
    let home = Home::locate(cli.home, std::env::var_os("HOME").map(PathBuf::from))?;
    tracing::debug!(home = %home.dir().display(), "using home directory");
    match cli.command {
        Command::Keygen { force } => commands::account::keygen(&home, force, out)?,
        Command::Pubkey => commands::account::pubkey(&home, out)?,
        Command::Login {
            relay_token,
            org_key,
        } => commands::account::login(&home, &relay_token, org_key, out).await?,
        Command::Roster(c) => commands::roster::run(&home, c, out).await?,
        Command::Whoami { json } => commands::account::whoami(&home, json, out).await?,
        Command::Tickets(c) => commands::tickets::run(&home, c, out).await?,
        Command::Agents(c) => commands::admin::agents(&home, c, out).await?,
        Command::Technicians(c) => commands::admin::technicians(&home, c, out).await?,
        Command::Tokens(c) => commands::admin::tokens(&home, c, out).await?,
        Command::Kb(c) => commands::kb::run(&home, c, out).await?,
        Command::Sla(c) => commands::sla::run(&home, c, out).await?,
        Command::Webhooks(c) => commands::notify::webhooks(&home, c, out).await?,
        Command::Tiers(c) => commands::notify::tiers(&home, c, out).await?,
        Command::Script(c) => commands::script::run(&home, c, out, err).await?,
        Command::Audit(a) => commands::audit::run(&home, a, out).await?,
        Command::Diag(a) => commands::diag::run(&home, a, out).await?,
        Command::Logs(a) => commands::logs::logs(&home, a, out).await?,
        Command::Screenshot(a) => commands::logs::screenshot(&home, a, out).await?,
        Command::Report(a) => commands::report::run(&home, a, out).await?,
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[tokio::test]
    async fn commands_needing_the_relay_say_to_log_in_first() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().to_str().unwrap();
        let keygen = Cli::try_parse_from(["triage", "--home", home, "keygen"]).unwrap();
        run(keygen, &mut Vec::new()).await.unwrap();
        for args in [
            &["tickets", "list", "--json"][..],
            &["agents", "list"][..],
            &["whoami"][..],
        ] {
            let cli = Cli::try_parse_from(["triage", "--home", home].iter().chain(args)).unwrap();
            let err = run(cli, &mut Vec::new()).await.unwrap_err();
            assert!(matches!(err, CliError::NotLoggedIn(_)), "{args:?}: {err}");
        }
    }

    #[test]
    fn run_can_be_spawned_on_a_multi_threaded_runtime() {
        fn spawnable<F: std::future::Future + Send>(_: &F) {}
        let cli = Cli::try_parse_from(["triage", "pubkey"]).unwrap();
        let mut out: Vec<u8> = Vec::new();
        let fut = run(cli, &mut out);
        spawnable(&fut);
        drop(fut);
        let cli = Cli::try_parse_from(["triage", "logs", "pc", "/var/log/x", "--follow"]).unwrap();
        let fut = run_until(cli, &mut out, async {});
        spawnable(&fut);
        drop(fut);
        assert!(out.is_empty(), "an unpolled command prints nothing");
    }

    #[tokio::test]
    async fn bad_input_is_refused_before_looking_at_the_home() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().to_str().unwrap();
        let cli = Cli::try_parse_from([
            "triage", "--home", home, "tickets", "comment", "1234abcd", " ",
        ])
        .unwrap();
        let err = run(cli, &mut Vec::new()).await.unwrap_err();
        assert!(matches!(err, CliError::InvalidInput(_)), "{err}");
    }

    #[test]
    fn ticket_json_has_the_field_names_scripts_rely_on() {
        let t = render_fixture();
        let v = serde_json::to_value(&t).unwrap();
        for field in [
            "id",
            "title",
            "description",
            "category",
            "priority",
            "status",
            "tier",
            "source",
            "agent_id",
            "hostname",
            "requester",
            "assignee",
            "created_at",
            "updated_at",
            "sla_due_at",
        ] {
            assert!(v.get(field).is_some(), "missing {field} in {v}");
        }
        assert_eq!(v["id"], "1234abcd-0000-4000-8000-000000000001");
        assert_eq!(v["status"], "in_progress");
        assert_eq!(v["tier"], "l2");
        assert_eq!(v["source"], "health_alert");
        assert_eq!(v["assignee"], serde_json::Value::Null);
        assert_eq!(v["created_at"], 1000);
    }

    #[test]
    fn detail_and_identity_json_shapes_are_stable() {
        use triage_shared::ids::CommentId;
        use triage_shared::protocol::{SessionIdentity, TicketDetail};
        use triage_shared::roles::Role;
        use triage_shared::ticket::{Comment, TicketEvent, TicketEventKind, Tier};
        use triage_shared::time::Timestamp;
        let comment = |text: &str, internal| Comment {
            id: CommentId("c0ffee00-0000-4000-8000-000000000001".parse().unwrap()),
            author: "bob".into(),
            text: text.into(),
            created_at: Timestamp(7),
            internal,
        };
        let detail = TicketDetail {
            ticket: render_fixture(),
            comments: vec![comment("On it", false), comment("Old printer", true)],
            events: vec![TicketEvent {
                actor: "bob".into(),
                at: Timestamp(1),
                event: TicketEventKind::Escalated {
                    from: Tier::L2,
                    to: Tier::L3,
                },
            }],
            snapshot: None,
            attached_diagnostics: vec![],
            script_runs: vec![],
            attachments: vec![],
        };
        let v = serde_json::to_value(&detail).unwrap();
        assert_eq!(v["ticket"]["tier"], "l2");
        assert_eq!(
            v["events"][0]["event"],
            serde_json::json!({"escalated": {"from": "l2", "to": "l3"}})
        );
        assert_eq!(v["snapshot"], serde_json::Value::Null);
        let shape = |text: &str, internal: bool| {
            serde_json::json!({
                "id": "c0ffee00-0000-4000-8000-000000000001",
                "author": "bob",
                "text": text,
                "created_at": 7,
                "internal": internal,
            })
        };
        assert_eq!(
            v["comments"],
            serde_json::json!([shape("On it", false), shape("Old printer", true)])
        );
        let who = SessionIdentity::Technician {
            name: "alice".into(),
            roles: vec![Role::Admin],
        };
        assert_eq!(
            serde_json::to_value(&who).unwrap(),
            serde_json::json!({"Technician": {"name": "alice", "roles": ["admin"]}})
        );
    }

    fn render_fixture() -> triage_shared::ticket::Ticket {
        use triage_shared::ticket::*;
        use triage_shared::time::Timestamp;
        Ticket {
            id: "1234abcd-0000-4000-8000-000000000001".parse().unwrap(),
            title: "Disk almost full".into(),
            description: String::new(),
            category: Category::Hardware,
            priority: Priority::Urgent,
            status: Status::InProgress,
            tier: Tier::L2,
            source: Source::HealthAlert,
            agent_id: None,
            hostname: Some("srv-1".into()),
            requester: "monitor".into(),
            assignee: None,
            created_at: Timestamp(1000),
            updated_at: Timestamp(2000),
            sla_due_at: Timestamp(3000),
            sla: None,
        }
    }
}
