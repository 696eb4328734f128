//! `triage logs AGENT PATH`, `triage screenshot AGENT` and
//! `triage tickets attachment TICKET ID`: streamed bodies through the relay.
//!
//! Output: the body itself on stdout, nothing else (for `logs` to a
//! terminal, with control characters shown as escapes: see
//! [`crate::terminal_text`]); or with `-o FILE`, the
//! body in FILE (through `FILE.partial`, renamed once the SHA-256 the agent
//! sent matches) and one line on stdout:
//! `Saved N bytes to FILE (sha256:…, verified).` A failure part way, a
//! digest mismatch or the endpoint's byte limit is an error (exit 1), and
//! `FILE.partial` is removed: no file is left named as if complete.

use super::stream::{ctrl_c, receive};
use super::{connect, Connected, Out};
use crate::args::{LogsArgs, ScreenshotArgs};
use crate::error::CliError;
use crate::home::Home;
use crate::receive::{Output, PartialFile, Received, Receiver};
use crate::selector::AgentSelector;
use crate::ticket_ref::{hex_prefix, matching, short_id, shown, TicketRef};
use std::future::Future;
use std::io::IsTerminal;
use std::path::PathBuf;
use triage_shared::limits::SCREENSHOT_CONSENT_TIMEOUT;
use triage_shared::protocol::Request;
use triage_shared::text::clean;
use triage_shared::transfer::{AttachmentId, EndReason, LogQuery};
use triage_shared::TicketId;

/// A logs command with its input checked.
#[derive(Debug, Clone, PartialEq)]
pub struct LogsPlan {
    pub agent: AgentSelector,
    pub query: LogQuery,
    pub output: Option<PathBuf>,
    pub attach: Option<TicketRef>,
    /// Clean the body for a terminal: stdout is one and there is no `-o`.
    pub for_terminal: bool,
}

pub fn plan_logs(args: LogsArgs) -> Result<LogsPlan, CliError> {
    let query = LogQuery {
        path: args.path,
        tail: args.tail,
        since_secs: args.since.map(|d| d.as_secs()),
        grep: args.grep,
        follow: args.follow,
    };
    query.validate()?;
    if query.follow && args.attach.is_some() {
        return Err(CliError::InvalidInput(
            "--attach cannot be used with --follow: a followed log has no end to store".into(),
        ));
    }
    Ok(LogsPlan {
        agent: crate::selector::parse_agent(&args.agent)?,
        query,
        for_terminal: args.stdout_is_terminal && args.output.is_none(),
        output: args.output,
        attach: args.attach.as_deref().map(TicketRef::parse).transpose()?,
    })
}

pub async fn logs(home: &Home, args: LogsArgs, out: Out<'_>) -> Result<(), CliError> {
    logs_until(home, args, out, ctrl_c()).await
}

/// [`logs`], stopped when `stop` completes instead of on Ctrl-C: a
/// `--follow` then ends (verified, and saved with `-o`); a plain pull is
/// abandoned and nothing is saved.
pub async fn logs_until(
    home: &Home,
    args: LogsArgs,
    out: Out<'_>,
    stop: impl Future<Output = ()>,
) -> Result<(), CliError> {
    let plan = plan_logs(args)?;
    let conn = connect(home).await?;
    let result = pull(&conn, plan, out, stop).await;
    conn.close().await;
    result
}

async fn ticket_id(conn: &Connected, t: &Option<TicketRef>) -> Result<Option<TicketId>, CliError> {
    match t {
        Some(t) => Ok(Some(conn.resolve_ticket(t).await?)),
        None => Ok(None),
    }
}

/// A file for `-o`, else stdout (cleaned when `for_terminal`); a progress
/// bar only for a file.
fn receiver<'a>(
    file: &Option<PathBuf>,
    out: Out<'a>,
    for_terminal: bool,
) -> Result<Receiver<'a>, CliError> {
    Ok(match file {
        Some(path) => Receiver::new(Output::File(PartialFile::create(path)?), true),
        None => Receiver::new(Output::stdout(out, for_terminal), false),
    })
}

async fn pull(
    conn: &Connected,
    plan: LogsPlan,
    out: Out<'_>,
    stop: impl Future<Output = ()>,
) -> Result<(), CliError> {
    let agent = conn.resolve_agent(&plan.agent).await?.id;
    let attach = ticket_id(conn, &plan.attach).await?;
    let follow = plan.query.follow;
    let request = Request::PullLogs {
        agent,
        query: plan.query,
        attach,
    };
    let receiver = receiver(&plan.output, &mut *out, plan.for_terminal)?;
    let received = receive(conn, &request, receiver, follow, stop).await?;
    report(out, &received, attach)
}

/// The summary line for `-o`, and the attach note.
fn report(out: Out<'_>, r: &Received, attach: Option<TicketId>) -> Result<(), CliError> {
    if let Some(path) = &r.saved {
        let stopped = if r.reason == EndReason::Stopped {
            " when following was stopped"
        } else {
            ""
        };
        writeln!(
            out,
            "Saved {} bytes to {}{stopped} ({}, verified).",
            r.bytes,
            path.display(),
            r.sha256
        )?;
    }
    if let Some(ticket) = attach {
        if r.saved.is_some() {
            writeln!(out, "Attached to ticket {}.", short_id(&ticket))?;
        }
    }
    Ok(())
}

pub async fn screenshot(home: &Home, args: ScreenshotArgs, out: Out<'_>) -> Result<(), CliError> {
    let agent = crate::selector::parse_agent(&args.agent)?;
    let attach = args.attach.as_deref().map(TicketRef::parse).transpose()?;
    let conn = connect(home).await?;
    let result = async {
        let agent = conn.resolve_agent(&agent).await?.id;
        let attach = ticket_id(&conn, &attach).await?;
        let request = Request::Screenshot { agent, attach };
        let receiver = receiver(&args.output, &mut *out, false)?;
        if std::io::stderr().is_terminal() {
            eprintln!(
                "Asking the user at the endpoint to allow the screenshot; they have {} s to answer…",
                SCREENSHOT_CONSENT_TIMEOUT.as_secs()
            );
        }
        let received = receive(&conn, &request, receiver, false, ctrl_c()).await?;
        report(out, &received, attach)
    }
    .await;
    conn.close().await;
    result
}

/// `tickets attachment TICKET ID [-o FILE]`.
pub async fn fetch_attachment(
    conn: &Connected,
    ticket: &TicketRef,
    attachment: &str,
    file: Option<PathBuf>,
    out: Out<'_>,
) -> Result<(), CliError> {
    let ticket = conn.resolve_ticket(ticket).await?;
    let attachment = match attachment.parse::<AttachmentId>() {
        Ok(id) => id,
        Err(_) => {
            let prefix = hex_prefix(attachment).ok_or_else(|| {
                CliError::InvalidInput(format!(
                    "`{}` is not an attachment id; give the id or its first 8 hex digits, as `triage tickets show` lists them",
                    shown(attachment)
                ))
            })?;
            let detail = conn.ticket(ticket).await?;
            let ids = detail.attachments.iter().map(|a| a.id.0);
            match matching(&prefix, ids).as_slice() {
                [one] => AttachmentId(*one),
                [] => {
                    return Err(CliError::NotFound(format!(
                        "ticket {} has no attachment starting with `{prefix}`",
                        short_id(&ticket)
                    )))
                }
                _ => {
                    return Err(CliError::InvalidInput(format!(
                        "`{prefix}` matches several attachments; type more of the id"
                    )))
                }
            }
        }
    };
    let request = Request::FetchAttachment { ticket, attachment };
    let receiver = receiver(&file, &mut *out, false)?;
    let received = receive(conn, &request, receiver, false, ctrl_c()).await?;
    if let Some(name) = &received.name {
        tracing::debug!(name = %clean(name), "attachment fetched");
    }
    report(out, &received, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command};
    use clap::Parser;

    fn plan_of(args: &[&str]) -> Result<LogsPlan, CliError> {
        plan_on(args, false)
    }

    /// The plan when stdout is (`true`) or is not a terminal.
    fn plan_on(args: &[&str], terminal: bool) -> Result<LogsPlan, CliError> {
        let cli = Cli::try_parse_from(["triage", "logs"].iter().chain(args)).unwrap();
        match cli.command {
            Command::Logs(mut l) => {
                l.stdout_is_terminal = terminal;
                plan_logs(l)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn only_a_log_shown_on_a_terminal_is_cleaned() {
        let shown = plan_on(&["pc", "/var/log/syslog"], true).unwrap();
        assert!(shown.for_terminal);
        let piped = plan_on(&["pc", "/var/log/syslog"], false).unwrap();
        assert!(!piped.for_terminal);
        let saved = plan_on(&["pc", "/var/log/syslog", "-o", "x.log"], true).unwrap();
        assert!(!saved.for_terminal, "-o FILE keeps the raw bytes");
    }

    #[test]
    fn the_query_carries_every_option() {
        let p = plan_of(&[
            "laptop-7",
            "/var/log/syslog",
            "--tail",
            "10",
            "--since",
            "1h",
            "--grep",
            "err",
        ])
        .unwrap();
        assert_eq!(
            p.query,
            LogQuery {
                path: "/var/log/syslog".into(),
                tail: Some(10),
                since_secs: Some(3600),
                grep: Some("err".into()),
                follow: false,
            }
        );
        assert_eq!(p.agent, AgentSelector::Name("laptop-7".into()));
    }

    #[test]
    fn bad_input_is_refused_before_connecting() {
        let long = format!("/{}", "a".repeat(triage_shared::transfer::MAX_LOG_PATH_LEN));
        assert!(matches!(
            plan_of(&["laptop-7", &long]),
            Err(CliError::InvalidInput(_))
        ));
        assert!(matches!(
            plan_of(&["laptop-7", "/var/log/x", "--attach", "12"]),
            Err(CliError::BadTicketId(_))
        ));
    }

    #[test]
    fn the_summary_names_the_file_and_digest() {
        let r = Received {
            bytes: 3,
            sha256: triage_shared::transfer::ContentDigest::of(b"abc"),
            reason: EndReason::Complete,
            saved: Some(PathBuf::from("/tmp/x.log")),
            name: None,
        };
        let mut out = Vec::new();
        report(&mut out, &r, None).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("Saved 3 bytes to /tmp/x.log (sha256:ba7816bf"),
            "{text}"
        );
        assert!(text.ends_with(", verified).\n"), "{text}");
    }
}
