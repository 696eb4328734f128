//! The command line, as clap types. Values that have a shared parser
//! (statuses, roles, durations) are parsed here, at the edge, so the
//! commands receive typed values and a typo is a usage error (exit 2).
//! Script, audit and diagnostics commands are in the submodules.

mod kb;
mod logs;
mod notify;
mod ops;
mod queue;
mod roster;
mod script;

pub use kb::{KbCommand, OrNone, TagList};
pub use logs::{LogsArgs, ScreenshotArgs};
pub use notify::{
    EventList, TiersCommand, WebhooksCommand, TECHNICIAN_DEFAULT_EVENTS, TIER_DEFAULT_EVENTS,
};
pub use ops::AuditExportArgs;
pub use ops::{
    AuditArgs, AuditCommand, DiagArgs, PingArgs, DEFAULT_AUDIT_LIMIT, DEFAULT_PING_COUNT,
    DEFAULT_PING_INTERVAL_MS, MAX_AUDIT_SHOWN, MAX_PING_COUNT, MAX_PING_INTERVAL_MS,
};
pub use queue::{AgentFilterArgs, ListArgs, SearchArgs, TicketFilterArgs, WatchArgs};
pub use roster::RosterCommand;
pub use script::ScriptCommand;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;
use triage_shared::limits::{MAX_TOKEN_TTL_SECS, MAX_TOKEN_USES};
use triage_shared::roles::Role;
use triage_shared::time::parse_duration;
use triage_shared::token_id::parse_token_prefix;

/// The technician's command line for Triage.
#[derive(Debug, Parser)]
#[command(
    name = "triage",
    version,
    about = "Work Triage support tickets and endpoints from the command line"
)]
pub struct Cli {
    /// Directory holding identity.key and the relay you are logged in to
    /// (default: $HOME/.config/triage).
    #[arg(long, global = true, env = "TRIAGE_HOME")]
    pub home: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Make this technician's key pair and print the public key for an admin.
    Keygen {
        /// Replace an existing key (the relay will no longer know you).
        #[arg(long)]
        force: bool,
    },
    /// Print this technician's public key (`ed25519:<hex>`).
    Pubkey,
    /// Check that the relay knows your key, then remember it.
    Login {
        /// A relay locator or enrollment token (`triage://HOST:PORT?fp=...`).
        #[arg(value_name = "RELAY_TOKEN")]
        relay_token: String,
        /// The organisation's public key (`ed25519:…`), as your organisation
        /// gave it to you, never as read from the relay. Pinned here: it
        /// checks rosters before you approve and goes into tokens you make.
        #[arg(long, value_name = "KEY")]
        org_key: Option<triage_shared::identity::PublicKey>,
    },
    /// The organisation's roster of script authors and approvers: export
    /// it from the relay, sign it where the org key lives, publish it.
    #[command(subcommand)]
    Roster(RosterCommand),
    /// Show who the relay says you are.
    Whoami {
        #[arg(long)]
        json: bool,
    },
    /// List, show and work tickets.
    #[command(subcommand)]
    Tickets(TicketsCommand),
    /// Endpoints enrolled with the relay.
    #[command(subcommand)]
    Agents(AgentsCommand),
    /// Technicians known to the relay.
    #[command(subcommand)]
    Technicians(TechniciansCommand),
    /// Enrollment tokens for new endpoints.
    #[command(subcommand)]
    Tokens(TokensCommand),
    /// The knowledge base: articles from solved problems, offered to
    /// employees in the Get help window before they file a ticket.
    #[command(subcommand)]
    Kb(KbCommand),
    /// The SLA policy: response and resolution targets, business hours.
    #[command(subcommand)]
    Sla(SlaCommand),
    /// Webhooks: signed JSON POSTs about ticket events (admin only).
    #[command(subcommand)]
    Webhooks(WebhooksCommand),
    /// Support tiers' queue addresses for notification mail (admin only).
    #[command(subcommand)]
    Tiers(TiersCommand),
    /// Remediation scripts: attach, review, approve (two people), run.
    #[command(subcommand)]
    Script(ScriptCommand),
    /// The relay's hash-chained audit log (admin only): list or verify.
    Audit(AuditArgs),
    /// Live diagnostics from an online endpoint.
    Diag(DiagArgs),
    /// Pull a log file from an online endpoint (l2+), streamed through the relay.
    Logs(LogsArgs),
    /// A screenshot from an online endpoint, if its policy and its user allow (l2+).
    Screenshot(ScreenshotArgs),
    /// Help desk metrics over a window: volume, response and resolution
    /// times, SLA compliance, first-contact resolution, backlog, health
    /// alerts, satisfaction, deflection; `--html FILE` writes charts.
    Report(ReportArgs),
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// How far back the report looks, from 1d to 730d: e.g. 7d, 30d, 90d.
    #[arg(long, default_value = "30d", value_parser = parse_duration)]
    pub since: Duration,
    /// Group the headline figures by one field.
    #[arg(long, value_parser = |s: &str| s.parse::<triage_shared::desk_report::ReportBy>())]
    pub by: Option<triage_shared::desk_report::ReportBy>,
    /// The report as one JSON object.
    #[arg(long, conflicts_with = "html")]
    pub json: bool,
    /// Write one self-contained HTML file with charts (no scripts, nothing
    /// fetched when it is opened) instead of printing the tables.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Replace FILE if it exists.
    #[arg(long, requires = "html")]
    pub force: bool,
}

#[derive(Debug, Subcommand)]
pub enum TicketsCommand {
    /// List tickets, newest first (see --sort), every match unless --limit
    /// is given: e.g. `tickets list --tier l2 --assignee none`.
    List(ListArgs),
    /// Full-text search over titles, descriptions, comments, internal
    /// notes and resolutions, best matches first: e.g.
    /// `tickets search "wifi drops" -printer --created-since monday`.
    Search(SearchArgs),
    /// The live queue: the matching tickets now, then a line per event as
    /// it happens, until Ctrl-C. Reconnects by itself and catches up.
    Watch(WatchArgs),
    /// Show one ticket with its snapshot, comments and history.
    Show {
        /// Ticket id, or a unique prefix of at least 8 hex digits.
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Add a comment. With --internal, add a note only technicians see.
    Comment {
        id: String,
        text: String,
        /// An internal note between technicians: shown in `tickets show`
        /// marked (internal), never to the employee in "My tickets".
        #[arg(long)]
        internal: bool,
    },
    /// Assign a ticket to a technician.
    Assign {
        id: String,
        #[arg(value_name = "WHO")]
        who: String,
    },
    /// Move a ticket up one tier (l1 → l2 → l3).
    Escalate {
        id: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// Start working on a ticket (in_progress).
    Start {
        id: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// Park a ticket while waiting on someone (waiting).
    Wait {
        id: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// Resolve a ticket, saying what fixed it; --kb names the knowledge
    /// base article that solved it (counted on the article).
    Resolve {
        id: String,
        note: String,
        #[arg(long, value_name = "ARTICLE")]
        kb: Option<triage_shared::kb::ArticleId>,
    },
    /// Close a ticket.
    Close {
        id: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// Reopen a resolved or closed ticket.
    Reopen {
        id: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// Change a ticket's priority; its SLA clocks keep the time used and
    /// measure it against the new priority's targets.
    Priority {
        id: String,
        /// low, normal, high or urgent.
        priority: triage_shared::ticket::Priority,
        #[arg(long)]
        note: Option<String>,
    },
    /// Follow a ticket: mail about it for the events of your address
    /// (`technicians email`), whoever holds it.
    Follow { id: String },
    /// Stop following a ticket.
    Unfollow { id: String },
    /// Fetch a file attached to a ticket (a pulled log, a screenshot).
    Attachment {
        id: String,
        /// The attachment's id or a unique prefix (8+ hex digits), as `tickets show` lists it.
        attachment: String,
        /// Write to FILE (through FILE.partial) instead of to stdout.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AgentsCommand {
    /// List enrolled endpoints and whether they are online: all of them,
    /// fetched from the relay a page at a time, unless `--limit` is given.
    List {
        #[arg(long)]
        json: bool,
        /// Show at most this many (by hostname).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        limit: Option<u32>,
        #[command(flatten)]
        filter: AgentFilterArgs,
    },
    /// Check that an endpoint answers through the relay, like ping(8): one
    /// line per reply, then a summary. Fails if none answered.
    Ping(PingArgs),
    /// Unenroll an endpoint (admin only): the relay refuses its key from now
    /// on and drops its connection; it leaves `agents list`; its tickets stay.
    Remove {
        /// Agent id, a unique id prefix (8+ hex digits), or its hostname.
        agent: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TechniciansCommand {
    /// List technicians and their roles.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Register a technician's public key (admin only).
    Add {
        name: String,
        /// Roles: l1, l2, l3, approver, admin. Repeat the flag or separate with commas.
        #[arg(long = "role", required = true, num_args = 1.., value_delimiter = ',', value_parser = parse_role)]
        roles: Vec<Role>,
        /// File holding the technician's `ed25519:<hex>` public key (the output of `triage keygen`).
        #[arg(long)]
        pubkey: PathBuf,
    },
    /// Remove a technician (admin only): their connections close and their
    /// key is refused from now on. Refused for the last admin.
    Remove { name: String },
    /// Replace a technician's roles (admin only), effective on their next request.
    Roles {
        name: String,
        /// Roles: l1, l2, l3, approver, admin. Repeat the flag or separate with commas.
        #[arg(long = "role", required = true, num_args = 1.., value_delimiter = ',', value_parser = parse_role)]
        roles: Vec<Role>,
    },
    /// Set where a technician's notification mail goes (admin only): the
    /// tickets they are assigned or follow; `none` stops it.
    Email {
        name: String,
        /// An address, or `none`.
        address: String,
        /// Events to mail about (default: assigned,commented,sla_warning,sla_breach,resolved).
        #[arg(long, value_parser = notify::parse_event_list)]
        events: Option<EventList>,
    },
}

#[derive(Debug, Subcommand)]
pub enum SlaCommand {
    /// Print the policy in force as sla.toml text, every setting spelled
    /// out (edit it and `sla set` it back).
    Show {
        #[arg(long)]
        json: bool,
    },
    /// Check FILE as an SLA policy and put it in force (admin only); the
    /// relay keeps it as sla.toml in its data directory.
    Set {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Make an enrollment token for endpoints (admin only).
    Create {
        /// How many endpoints may enroll with it.
        #[arg(long, default_value_t = 1,
              value_parser = clap::value_parser!(u32).range(1..=MAX_TOKEN_USES as i64))]
        uses: u32,
        /// How long it stays valid: e.g. 30m, 1h, 7d.
        #[arg(long, default_value = "1h", value_parser = parse_ttl)]
        ttl: Duration,
        #[arg(long)]
        json: bool,
    },
    /// List enrollment tokens, newest first (admin only; never their secrets).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke an enrollment token so it can no longer enroll (admin only).
    Revoke {
        /// The token's id or a unique prefix (6+ hex digits), as `tokens list` shows it.
        #[arg(value_parser = parse_token_prefix)]
        id: String,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
}

/// A token lifetime: a shared duration, more than zero and at most
/// [`MAX_TOKEN_TTL_SECS`].
pub fn parse_ttl(s: &str) -> Result<Duration, String> {
    let ttl = parse_duration(s)?;
    if ttl.is_zero() {
        return Err("a token must live longer than 0s".into());
    }
    if ttl.as_secs() > MAX_TOKEN_TTL_SECS {
        return Err(format!(
            "a token may live at most {}d",
            MAX_TOKEN_TTL_SECS / 86_400
        ));
    }
    Ok(ttl)
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_shared::ticket::Status;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("triage").chain(args.iter().copied()))
    }

    fn tickets(args: &[&str]) -> TicketsCommand {
        let mut all = vec!["tickets"];
        all.extend_from_slice(args);
        match parse(&all).unwrap().command {
            Command::Tickets(t) => t,
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn home_is_global_and_optional() {
        let cli = parse(&["tickets", "list", "--home", "/tmp/h"]).unwrap();
        assert_eq!(cli.home, Some(PathBuf::from("/tmp/h")));
        let cli = parse(&["--home", "/tmp/x", "pubkey"]).unwrap();
        assert_eq!(cli.home, Some(PathBuf::from("/tmp/x")));
        assert!(matches!(cli.command, Command::Pubkey));
    }

    #[test]
    fn keygen_login_and_whoami_parse() {
        assert!(matches!(
            parse(&["keygen"]).unwrap().command,
            Command::Keygen { force: false }
        ));
        assert!(matches!(
            parse(&["keygen", "--force"]).unwrap().command,
            Command::Keygen { force: true }
        ));
        match parse(&["login", "triage://h:1?fp=00"]).unwrap().command {
            Command::Login {
                relay_token,
                org_key,
            } => {
                assert_eq!(relay_token, "triage://h:1?fp=00");
                assert_eq!(org_key, None);
            }
            other => panic!("{other:?}"),
        }
        assert!(parse(&["login"]).is_err());
        assert!(matches!(
            parse(&["whoami", "--json"]).unwrap().command,
            Command::Whoami { json: true }
        ));
    }

    #[test]
    fn tickets_list_search_and_watch_take_the_queue_filters() {
        match tickets(&["list"]) {
            TicketsCommand::List(l) => {
                assert_eq!((l.limit, l.json), (None, false));
                assert_eq!(l.filter, TicketFilterArgs::default());
            }
            other => panic!("{other:?}"),
        }
        match tickets(&["list", "--status", "in-progress", "--limit", "5", "--json"]) {
            TicketsCommand::List(l) => {
                assert_eq!(l.filter.status, [Status::InProgress]);
                assert_eq!((l.limit, l.json), (Some(5), true));
            }
            other => panic!("{other:?}"),
        }
        match tickets(&["search", "wifi drops", "--tier", "l2", "--limit", "3"]) {
            TicketsCommand::Search(s) => {
                assert_eq!(s.query, "wifi drops");
                assert_eq!(s.limit, 3);
                assert_eq!(s.filter.tier, [triage_shared::ticket::Tier::L2]);
            }
            other => panic!("{other:?}"),
        }
        match tickets(&["watch", "--assignee", "me", "--json"]) {
            TicketsCommand::Watch(w) => {
                assert!(w.json);
                assert_eq!(
                    w.filter.assignee,
                    Some(triage_shared::queue::AssigneeFilter::Me)
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_status_and_limits_are_usage_errors() {
        let err = parse(&["tickets", "list", "--status", "done"]).unwrap_err();
        assert!(err.to_string().contains("open, in_progress"), "{err}");
        assert!(parse(&["tickets", "list", "--limit", "0"]).is_err());
        assert!(parse(&["tickets", "search"]).is_err());
        let over = (triage_shared::queue::MAX_SEARCH_RESULTS + 1).to_string();
        assert!(parse(&["tickets", "search", "vpn", "--limit", &over]).is_err());
    }

    #[test]
    fn every_ticket_subcommand_parses() {
        assert!(matches!(
            tickets(&["show", "abc", "--json"]),
            TicketsCommand::Show { json: true, .. }
        ));
        match tickets(&["comment", "1234abcd", "Looking into it"]) {
            TicketsCommand::Comment { id, text, internal } => assert_eq!(
                (id.as_str(), text.as_str(), internal),
                ("1234abcd", "Looking into it", false)
            ),
            other => panic!("{other:?}"),
        }
        for args in [
            ["comment", "1234abcd", "Old printer", "--internal"],
            ["comment", "--internal", "1234abcd", "Old printer"],
        ] {
            match tickets(&args) {
                TicketsCommand::Comment { text, internal, .. } => {
                    assert_eq!((text.as_str(), internal), ("Old printer", true))
                }
                other => panic!("{other:?}"),
            }
        }
        match tickets(&["assign", "1234abcd", "bob"]) {
            TicketsCommand::Assign { who, .. } => assert_eq!(who, "bob"),
            other => panic!("{other:?}"),
        }
        match tickets(&["escalate", "1234abcd", "--note", "needs L3"]) {
            TicketsCommand::Escalate { note, .. } => assert_eq!(note.as_deref(), Some("needs L3")),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            tickets(&["escalate", "x"]),
            TicketsCommand::Escalate { note: None, .. }
        ));
        assert!(matches!(
            tickets(&["start", "x"]),
            TicketsCommand::Start { .. }
        ));
        assert!(matches!(
            tickets(&["wait", "x"]),
            TicketsCommand::Wait { .. }
        ));
        match tickets(&["resolve", "x", "Reinstalled"]) {
            TicketsCommand::Resolve { note, .. } => assert_eq!(note, "Reinstalled"),
            other => panic!("{other:?}"),
        }
        assert!(
            parse(&["tickets", "resolve", "x"]).is_err(),
            "resolve needs a note"
        );
        assert!(matches!(
            tickets(&["close", "x"]),
            TicketsCommand::Close { note: None, .. }
        ));
        match tickets(&["reopen", "x", "--note", "again"]) {
            TicketsCommand::Reopen { note, .. } => assert_eq!(note.as_deref(), Some("again")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn agents_and_technicians_list_parse() {
        assert!(matches!(
            parse(&["agents", "list", "--json"]).unwrap().command,
            Command::Agents(AgentsCommand::List {
                json: true,
                limit: None,
                ..
            })
        ));
        assert!(matches!(
            parse(&["technicians", "list"]).unwrap().command,
            Command::Technicians(TechniciansCommand::List { json: false })
        ));
    }

    #[test]
    fn technicians_add_takes_repeated_or_comma_separated_roles() {
        for args in [
            &[
                "technicians",
                "add",
                "bob",
                "--role",
                "l1",
                "--role",
                "admin",
                "--pubkey",
                "k.pub",
            ][..],
            &[
                "technicians",
                "add",
                "bob",
                "--role",
                "l1,admin",
                "--pubkey",
                "k.pub",
            ][..],
            &[
                "technicians",
                "add",
                "bob",
                "--role",
                "l1",
                "admin",
                "--pubkey",
                "k.pub",
            ][..],
        ] {
            match parse(args).unwrap().command {
                Command::Technicians(TechniciansCommand::Add {
                    name,
                    roles,
                    pubkey,
                }) => {
                    assert_eq!(name, "bob");
                    assert_eq!(roles, vec![Role::L1, Role::Admin], "{args:?}");
                    assert_eq!(pubkey, PathBuf::from("k.pub"));
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn technicians_add_refuses_unknown_or_missing_roles() {
        let err = parse(&[
            "technicians",
            "add",
            "bob",
            "--role",
            "root",
            "--pubkey",
            "k",
        ])
        .unwrap_err();
        assert!(err.to_string().contains("unknown role"), "{err}");
        assert!(parse(&["technicians", "add", "bob", "--pubkey", "k"]).is_err());
        assert!(parse(&["technicians", "add", "bob", "--role", "l1"]).is_err());
    }

    #[test]
    fn tokens_create_defaults_to_one_use_for_an_hour() {
        match parse(&["tokens", "create"]).unwrap().command {
            Command::Tokens(TokensCommand::Create { uses, ttl, json }) => {
                assert_eq!((uses, ttl, json), (1, Duration::from_secs(3600), false));
            }
            other => panic!("{other:?}"),
        }
        match parse(&["tokens", "create", "--uses", "5", "--ttl", "30m", "--json"])
            .unwrap()
            .command
        {
            Command::Tokens(TokensCommand::Create { uses, ttl, json }) => {
                assert_eq!((uses, ttl, json), (5, Duration::from_secs(1800), true));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn token_bounds_are_checked_before_sending() {
        assert!(parse(&["tokens", "create", "--uses", "0"]).is_err());
        let max = MAX_TOKEN_USES.to_string();
        assert!(parse(&["tokens", "create", "--uses", &max]).is_ok());
        let over = (MAX_TOKEN_USES + 1).to_string();
        assert!(parse(&["tokens", "create", "--uses", &over]).is_err());
        assert!(
            parse(&["tokens", "create", "--ttl", "10"]).is_err(),
            "no unit"
        );
        assert!(parse_ttl("0s").is_err());
        assert_eq!(parse_ttl("30d").unwrap().as_secs(), MAX_TOKEN_TTL_SECS);
        assert!(parse_ttl("31d").is_err());
    }

    #[test]
    fn revocation_commands_parse_with_comma_separated_roles() {
        match parse(&["technicians", "remove", "bob"]).unwrap().command {
            Command::Technicians(TechniciansCommand::Remove { name }) => assert_eq!(name, "bob"),
            other => panic!("{other:?}"),
        }
        for args in [
            &["technicians", "roles", "bob", "--role", "l1,l2"][..],
            &[
                "technicians",
                "roles",
                "bob",
                "--role",
                "l1",
                "--role",
                "l2",
            ][..],
        ] {
            match parse(args).unwrap().command {
                Command::Technicians(TechniciansCommand::Roles { name, roles }) => {
                    assert_eq!((name.as_str(), roles), ("bob", vec![Role::L1, Role::L2]))
                }
                other => panic!("{other:?}"),
            }
        }
        match parse(&["agents", "remove", "pc-7"]).unwrap().command {
            Command::Agents(AgentsCommand::Remove { agent }) => assert_eq!(agent, "pc-7"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse(&["tokens", "list", "--json"]).unwrap().command,
            Command::Tokens(TokensCommand::List { json: true })
        ));
        match parse(&["tokens", "revoke", "ABCDEF12"]).unwrap().command {
            Command::Tokens(TokensCommand::Revoke { id }) => assert_eq!(id, "abcdef12"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_revocation_input_is_a_usage_error() {
        assert!(
            parse(&["technicians", "roles", "bob"]).is_err(),
            "roles needed"
        );
        let err = parse(&["technicians", "roles", "bob", "--role", "root"]).unwrap_err();
        assert!(err.to_string().contains("unknown role"), "{err}");
        assert!(parse(&["technicians", "remove"]).is_err());
        assert!(parse(&["agents", "remove"]).is_err());
        assert!(parse(&["tokens", "revoke"]).is_err());
        let err = parse(&["tokens", "revoke", "abc"]).unwrap_err();
        assert!(err.to_string().contains("tokens list"), "{err}");
        assert!(parse(&["tokens", "revoke", "not-hex!"]).is_err());
    }

    #[test]
    fn unknown_commands_are_usage_errors() {
        assert!(parse(&[]).is_err());
        assert!(parse(&["tickets", "explode", "x"]).is_err());
        assert!(parse(&["tickets", "list", "--bogus"]).is_err());
    }
}
