//! `triage-agent`: the endpoint agent's command line.

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use std::path::{Path, PathBuf};
use triage_agent::{diagnostics, host, state, Filed, HelpRequest};
use triage_shared::remote::Section;
use triage_shared::report::render_sections;
use triage_shared::ticket::{Category, Priority};
use triage_shared::token::EnrollmentToken;

#[derive(Parser)]
#[command(
    name = "triage-agent",
    version,
    about = "Triage endpoint agent: enrollment, relay connection and \"Get help\""
)]
// `help` is one of our commands; `--help` still prints usage.
#[command(disable_help_subcommand = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct StateDirArg {
    /// State directory [default: $TRIAGE_AGENT_DIR, else /var/lib/triage-agent as root,
    /// else ~/.local/state/triage-agent]
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
}

impl StateDirArg {
    fn resolve(self) -> PathBuf {
        self.state_dir.unwrap_or_else(state::default_state_dir)
    }
}

#[derive(Subcommand)]
enum Command {
    /// Enroll this machine with a relay, using a token from `triage-relay token`
    Enroll {
        /// The enrollment token (triage://HOST:PORT?fp=...&token=...)
        token: EnrollmentToken,
        #[command(flatten)]
        state: StateDirArg,
        /// Forget any existing enrollment and identity and enroll afresh
        #[arg(long)]
        force: bool,
    },
    /// Run the agent daemon (stops cleanly on Ctrl-C or SIGTERM)
    Run {
        #[command(flatten)]
        state: StateDirArg,
    },
    /// Ask IT for help: files a ticket with a diagnostics snapshot and prints its id
    /// (queued on disk and sent later if the relay cannot be reached now)
    Help {
        /// What is wrong, in one line
        title: String,
        /// More detail
        #[arg(long, default_value = "")]
        description: String,
        /// hardware, software, network, account or other
        #[arg(long, default_value = "other")]
        category: Category,
        /// low, normal, high or urgent
        #[arg(long, default_value = "normal")]
        priority: Priority,
        /// Do not attach a screenshot (by default one is attached when this runs in a
        /// desktop session, scaled down to fit a ticket)
        #[arg(long)]
        no_screenshot: bool,
        #[command(flatten)]
        state: StateDirArg,
    },
    /// Open the "Get help" window (run it as the logged-in user, in the desktop session)
    Gui {
        #[command(flatten)]
        state: StateDirArg,
        /// The agent daemon's local socket [default: the one for --state-dir when
        /// given, else the first found of this user's, /run/triage-agent/desktop.sock
        /// and the system daemon's]
        #[arg(long, value_name = "PATH")]
        socket: Option<PathBuf>,
    },
    /// Print a diagnostics snapshot of this machine (no relay needed)
    Diagnose {
        /// Print JSON instead of text: the snapshot, or with --section the
        /// live report (snapshot, software, services) that `triage diag` gets
        #[arg(long)]
        json: bool,
        /// Only these sections, comma-separated: os, cpu, memory, disks, network,
        /// processes, components, users, software, services
        #[arg(long = "section", value_name = "SECTION,...", value_delimiter = ',')]
        sections: Vec<Section>,
    },
    /// Show whether this agent is enrolled, its id and relay
    Status {
        #[command(flatten)]
        state: StateDirArg,
        /// Print JSON instead of text
        #[arg(long)]
        json: bool,
    },
    /// Show the health monitor's rules and where each stands (as the daemon last saw it)
    Health {
        #[command(flatten)]
        state: StateDirArg,
        /// Print JSON instead of text
        #[arg(long)]
        json: bool,
    },
    /// Your tickets from this computer: status, the help desk's latest replies and
    /// whether "Did this fix it?" waits for your answer (as the running agent keeps
    /// them, for the user running this); `reply` and `fixed` answer
    Tickets {
        #[command(subcommand)]
        action: Option<TicketsAction>,
        #[command(flatten)]
        target: TicketsTarget,
    },
}

/// Where `tickets` finds the daemon, and how it prints.
#[derive(Args, Debug)]
struct TicketsTarget {
    /// Print JSON instead of text
    #[arg(long, global = true)]
    json: bool,
    /// State directory of the agent daemon (to find its socket)
    #[arg(long, value_name = "DIR", global = true)]
    state_dir: Option<PathBuf>,
    /// The agent daemon's local socket [default: the one the daemon makes for
    /// its state directory]
    #[arg(long, value_name = "PATH", global = true)]
    socket: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum TicketsAction {
    /// Reply to the help desk on one of your tickets
    Reply {
        /// The ticket id, or the first characters of it shown by `triage-agent tickets`
        ticket: String,
        /// What to tell the help desk
        text: String,
    },
    /// Answer "Did this fix it?" on a resolved ticket: --yes closes it, --no "words"
    /// reopens it with your words
    Fixed {
        /// The ticket id, or the first characters of it
        ticket: String,
        /// It is fixed: close the ticket
        #[arg(long, conflicts_with = "no", required_unless_present = "no")]
        yes: bool,
        /// It is not fixed: what is still wrong (reopens the ticket)
        #[arg(long, value_name = "WORDS")]
        no: Option<String>,
        /// How satisfied you are with the help, 1 (not at all) to 5 (very)
        #[arg(long, value_name = "1-5", value_parser = clap::value_parser!(u8).range(1..=5))]
        score: Option<u8>,
    },
}

fn init_logging(default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let chatty = matches!(cli.command, Command::Run { .. } | Command::Enroll { .. });
    init_logging(if chatty { "info" } else { "warn" });
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
        Command::Enroll {
            token,
            state,
            force,
        } => {
            let dir = state.resolve();
            if force {
                triage_agent::forget_enrollment(&dir).context("cannot start a fresh enrollment")?;
            }
            let id = triage_agent::enroll(&dir, &token).await?;
            println!("Enrolled as agent {id}.");
            println!(
                "Start the daemon with: triage-agent run --state-dir {}",
                dir.display()
            );
        }
        Command::Run { state } => {
            triage_agent::run_daemon(&state.resolve(), shutdown_signal()).await?;
        }
        Command::Help {
            title,
            description,
            category,
            priority,
            no_screenshot,
            state,
        } => {
            let screenshot = if no_screenshot {
                None
            } else {
                tokio::task::spawn_blocking(help_screenshot)
                    .await
                    .context("screen capture failed")?
            };
            let request = HelpRequest {
                title,
                description,
                category,
                priority,
                requester: host::current_requester(),
                screenshot,
            };
            match triage_agent::file_ticket(&state.resolve(), request).await? {
                Filed::Delivered(id) => println!("Ticket {id} filed."),
                Filed::Queued(id) => {
                    println!("Ticket {id} queued; it will be sent when the relay is reachable.")
                }
            }
        }
        Command::Gui { state, socket } => gui(state, socket)?,
        Command::Diagnose { json, sections } if sections.is_empty() => {
            let snapshot = tokio::task::spawn_blocking(diagnostics::collect)
                .await
                .context("diagnostics failed")?;
            if json {
                println!("{}", serde_json::to_string_pretty(&snapshot)?);
            } else {
                print!("{}", snapshot.render_text());
            }
        }
        Command::Diagnose { json, sections } => {
            let report = diagnostics::live::report(&sections)
                .await
                .map_err(anyhow::Error::msg)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", render_sections(&report, &sections));
            }
        }
        Command::Status { state, json } => print_status(&state.resolve(), json)?,
        Command::Health { state, json } => {
            let report = triage_agent::health_report(&state.resolve())?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", report.render_text());
            }
        }
        Command::Tickets { action, target } => tickets(action, target).await?,
    }
    Ok(())
}

/// `tickets`: the user's tickets through the daemon's socket, which knows
/// this user by the socket's peer uid (never by what is typed here).
async fn tickets(action: Option<TicketsAction>, target: TicketsTarget) -> anyhow::Result<()> {
    use triage_agent::desktop::{client::DesktopClient, locate_socket, render::render_inbox};
    let socket = target
        .socket
        .unwrap_or_else(|| locate_socket(target.state_dir.as_deref()));
    let (mut client, _) = DesktopClient::connect(&socket).await?;
    let view = client.inbox().await?;
    let Some(action) = action else {
        if target.json {
            println!("{}", serde_json::to_string_pretty(&view)?);
        } else {
            print!("{}", render_inbox(&view));
        }
        return Ok(());
    };
    let pick = |given: &str| -> anyhow::Result<triage_shared::TicketId> {
        let given = given.trim().to_ascii_lowercase();
        let matches: Vec<_> = view
            .tickets
            .iter()
            .filter(|t| t.id.to_string().starts_with(&given))
            .collect();
        match matches.as_slice() {
            [one] if !given.is_empty() => Ok(one.id),
            [] | [_] => anyhow::bail!(
                "no ticket of yours starts with `{given}`; `triage-agent tickets` lists them"
            ),
            many => anyhow::bail!(
                "`{given}` matches {} of your tickets; give more of the id",
                many.len()
            ),
        }
    };
    match action {
        TicketsAction::Reply { ticket, text } => {
            let id = pick(&ticket)?;
            client.reply_to(id, text).await?;
            println!(
                "Your reply on ticket {} is on its way to the help desk.",
                id.short()
            );
        }
        TicketsAction::Fixed {
            ticket,
            yes,
            no,
            score,
        } => {
            let id = pick(&ticket)?;
            client.answer_fixed(id, yes, no, score).await?;
            if yes {
                println!("Thank you. Ticket {} will be closed.", id.short());
            } else {
                println!(
                    "Ticket {} will be reopened with your words; the help desk will look again.",
                    id.short()
                );
            }
        }
    }
    Ok(())
}

/// A screenshot for `help`, when there is a screen to take; otherwise a
/// one-line note, and the ticket goes without.
#[cfg(feature = "screenshot")]
fn help_screenshot() -> Option<Vec<u8>> {
    use triage_agent::capture;
    use triage_shared::limits::MAX_ATTACHED_SCREENSHOT_LEN;
    let png = capture::capture_image()
        .and_then(|image| capture::fit_png(&image, MAX_ATTACHED_SCREENSHOT_LEN));
    match png {
        Ok(png) => Some(png),
        Err(e) => {
            eprintln!("note: filing without a screenshot: {e}");
            None
        }
    }
}

#[cfg(not(feature = "screenshot"))]
fn help_screenshot() -> Option<Vec<u8>> {
    eprintln!("note: filing without a screenshot: this agent was built without screen capture");
    None
}

/// The "Get help" window; it blocks this (the main) thread until closed,
/// which is what the windowing system wants.
#[cfg(feature = "gui")]
fn gui(state: StateDirArg, socket: Option<PathBuf>) -> anyhow::Result<()> {
    let socket =
        socket.unwrap_or_else(|| triage_agent::desktop::locate_socket(state.state_dir.as_deref()));
    triage_agent::gui::run_window(socket)?;
    Ok(())
}

#[cfg(not(feature = "gui"))]
fn gui(_state: StateDirArg, _socket: Option<PathBuf>) -> anyhow::Result<()> {
    anyhow::bail!(
        "this triage-agent was built without the window (the `gui` feature); \
         use `triage-agent help \"what is wrong\"` instead, or ask IT for a build with the window"
    )
}

fn print_status(dir: &Path, json: bool) -> anyhow::Result<()> {
    let status = triage_agent::status(dir)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print!("{}", status.render_text());
    }
    Ok(())
}

/// Completes on Ctrl-C, or on SIGTERM where there is one.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops the daemon");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn help_takes_a_title_and_defaults_to_other_and_normal() {
        let cli =
            Cli::try_parse_from(["triage-agent", "help", "printer broken", "--no-screenshot"])
                .unwrap();
        match cli.command {
            Command::Help {
                title,
                category,
                priority,
                no_screenshot,
                description,
                ..
            } => {
                assert_eq!(title, "printer broken");
                assert_eq!(category, Category::Other);
                assert_eq!(priority, Priority::Normal);
                assert!(no_screenshot);
                assert!(description.is_empty());
            }
            _ => panic!("parsed as another command"),
        }
    }

    #[test]
    fn bad_category_and_token_are_refused_with_the_choices() {
        let err = Cli::try_parse_from(["triage-agent", "help", "x", "--category", "plumbing"])
            .err()
            .unwrap();
        assert!(
            err.to_string()
                .contains("hardware, software, network, account, other"),
            "{err}"
        );
        let err = Cli::try_parse_from(["triage-agent", "enroll", "not-a-token"])
            .err()
            .unwrap();
        assert!(err.to_string().contains("triage://"), "{err}");
    }

    #[test]
    fn diagnose_takes_comma_separated_sections_and_refuses_unknown_ones() {
        let cli = Cli::try_parse_from([
            "triage-agent",
            "diagnose",
            "--section",
            "cpu,software",
            "--section",
            "services",
        ])
        .unwrap();
        match cli.command {
            Command::Diagnose { sections, json } => {
                assert!(!json);
                assert_eq!(
                    sections,
                    [Section::Cpu, Section::Software, Section::Services]
                );
            }
            _ => panic!("parsed as another command"),
        }
        let err = Cli::try_parse_from(["triage-agent", "diagnose", "--section", "gpu"])
            .err()
            .unwrap();
        assert!(err.to_string().contains("unknown section `gpu`"), "{err}");
    }

    #[test]
    fn gui_takes_a_socket_and_a_state_dir() {
        let cli = Cli::try_parse_from([
            "triage-agent",
            "gui",
            "--socket",
            "/tmp/s.sock",
            "--state-dir",
            "/tmp/a",
        ])
        .unwrap();
        match cli.command {
            Command::Gui { socket, state } => {
                assert_eq!(socket, Some(PathBuf::from("/tmp/s.sock")));
                assert_eq!(state.state_dir, Some(PathBuf::from("/tmp/a")));
            }
            _ => panic!("parsed as another command"),
        }
    }

    #[cfg(not(feature = "gui"))]
    #[test]
    fn without_the_window_gui_says_so() {
        let err = gui(StateDirArg { state_dir: None }, None).unwrap_err();
        assert!(
            err.to_string().contains("built without the window"),
            "{err}"
        );
    }

    #[test]
    fn tickets_takes_json_and_a_socket() {
        let cli =
            Cli::try_parse_from(["triage-agent", "tickets", "--json", "--socket", "/s"]).unwrap();
        match cli.command {
            Command::Tickets { action, target } => {
                assert!(action.is_none());
                assert!(target.json);
                assert_eq!(target.socket, Some(PathBuf::from("/s")));
                assert_eq!(target.state_dir, None);
            }
            _ => panic!("parsed as another command"),
        }
    }

    #[test]
    fn tickets_fixed_takes_yes_or_no_words_and_a_score_of_one_to_five() {
        let parse = |args: &[&str]| {
            let mut all = vec!["triage-agent", "tickets", "fixed", "ab12"];
            all.extend_from_slice(args);
            Cli::try_parse_from(all)
        };
        match parse(&["--yes", "--score", "4", "--socket", "/s"])
            .unwrap()
            .command
        {
            Command::Tickets {
                action: Some(TicketsAction::Fixed { yes, no, score, .. }),
                target,
            } => {
                assert!(yes);
                assert_eq!(no, None);
                assert_eq!(score, Some(4));
                assert_eq!(target.socket, Some(PathBuf::from("/s")));
            }
            _ => panic!("parsed as another command"),
        }
        assert!(parse(&["--no", "still slow"]).is_ok());
        assert!(parse(&[]).is_err(), "yes or no is required");
        assert!(parse(&["--yes", "--no", "x"]).is_err());
        assert!(parse(&["--yes", "--score", "6"]).is_err());
        assert!(parse(&["--yes", "--score", "0"]).is_err());
        let reply = Cli::try_parse_from(["triage-agent", "tickets", "reply", "ab12", "thanks"]);
        assert!(matches!(
            reply.unwrap().command,
            Command::Tickets {
                action: Some(TicketsAction::Reply { .. }),
                ..
            }
        ));
    }

    #[test]
    fn health_takes_json_and_a_state_dir() {
        let cli =
            Cli::try_parse_from(["triage-agent", "health", "--json", "--state-dir", "/tmp/a"])
                .unwrap();
        match cli.command {
            Command::Health { json, state } => {
                assert!(json);
                assert_eq!(state.state_dir, Some(PathBuf::from("/tmp/a")));
            }
            _ => panic!("parsed as another command"),
        }
    }

    #[test]
    fn enroll_accepts_force_and_a_state_dir() {
        let token = "triage://127.0.0.1:4433?fp=0101010101010101010101010101010101010101010101010101010101010101&token=0202020202020202020202020202020202020202020202020202020202020202";
        let cli = Cli::try_parse_from([
            "triage-agent",
            "enroll",
            token,
            "--force",
            "--state-dir",
            "/tmp/a",
        ])
        .unwrap();
        match cli.command {
            Command::Enroll { force, state, .. } => {
                assert!(force);
                assert_eq!(state.state_dir, Some(PathBuf::from("/tmp/a")));
            }
            _ => panic!("parsed as another command"),
        }
    }
}
