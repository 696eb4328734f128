//! `triage script ...`: attach, list, show, approve and run remediation
//! scripts. The checks and the signing are pure functions in
//! [`crate::attach`], [`crate::approve`] and [`crate::run_view`]; this file
//! asks the relay and prints.

use super::{connect_to, print_json, terminal_width, unexpected, Connected, Out};
use crate::approve::{self, Approver};
use crate::args::ScriptCommand;
use crate::attach::{self, Authoring};
use crate::error::CliError;
use crate::home::Home;
use crate::render;
use crate::run_view::{RunView, RunWriters, Step};
use crate::selector::ScriptRef;
use crate::ticket_ref::{short_id, short_uuid, TicketRef};
use std::io::IsTerminal;
use std::time::Duration;
use triage_shared::approval::{Interpreter, ScriptDigest, ScriptId, SignedRoster};
use triage_shared::client::next_frame;
use triage_shared::identity::KeyPair;
use triage_shared::protocol::{Request, Response, ScriptDetail, ScriptSummary};
use triage_shared::text::clean;
use triage_shared::time::Timestamp;
use triage_shared::TicketId;

/// A script command with its input checked (and the script file read),
/// ready to send.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    Attach {
        ticket: TicketRef,
        content: Vec<u8>,
        interpreter: Interpreter,
        timeout: Duration,
        description: String,
    },
    List {
        ticket: TicketRef,
        json: bool,
    },
    Show {
        ticket: TicketRef,
        script: ScriptRef,
        json: bool,
    },
    Approve {
        ticket: TicketRef,
        script: ScriptRef,
        expires: Duration,
        reviewed: Option<ScriptDigest>,
        /// Signed without a prompt (`--yes`, only with `--digest`).
        confirmed: bool,
    },
    Run {
        ticket: TicketRef,
        script: ScriptRef,
    },
}

/// Checks everything that can be checked without the relay.
pub fn plan(command: ScriptCommand) -> Result<Plan, CliError> {
    use ScriptCommand as C;
    Ok(match command {
        C::Attach {
            ticket,
            file,
            interpreter,
            timeout,
            description,
        } => {
            let ticket = TicketRef::parse(&ticket)?;
            attach::check_description(&description)?;
            Plan::Attach {
                ticket,
                content: attach::read_script(&file)?,
                interpreter: interpreter.unwrap_or_else(|| attach::interpreter_for(&file)),
                timeout,
                description,
            }
        }
        C::List { ticket, json } => Plan::List {
            ticket: TicketRef::parse(&ticket)?,
            json,
        },
        C::Show {
            ticket,
            script,
            json,
        } => Plan::Show {
            ticket: TicketRef::parse(&ticket)?,
            script: ScriptRef::parse(&script)?,
            json,
        },
        C::Approve {
            ticket,
            script,
            expires,
            digest,
            yes,
        } => {
            if yes && digest.is_none() {
                return Err(CliError::InvalidInput(
                    "--yes needs --digest: name the digest you reviewed in `triage script show`"
                        .into(),
                ));
            }
            Plan::Approve {
                ticket: TicketRef::parse(&ticket)?,
                script: ScriptRef::parse(&script)?,
                expires,
                reviewed: digest,
                confirmed: yes,
            }
        }
        C::Run { ticket, script } => Plan::Run {
            ticket: TicketRef::parse(&ticket)?,
            script: ScriptRef::parse(&script)?,
        },
    })
}

/// `err` receives the script's stderr during `run`; without it, stderr goes
/// to `out` too.
pub async fn run(
    home: &Home,
    command: ScriptCommand,
    out: Out<'_>,
    err: Option<Out<'_>>,
) -> Result<(), CliError> {
    let plan = plan(command)?;
    if let Plan::Approve {
        confirmed: false, ..
    } = plan
    {
        if !std::io::stdin().is_terminal() {
            return Err(CliError::InvalidInput(
                "nobody is at a terminal to confirm the approval; after reading `triage script show`, pass both --digest sha256:… and --yes".into(),
            ));
        }
    }
    let key = home.load_key()?;
    let conn = connect_to(home.load_relay()?, &key).await?;
    let result = execute(home, &conn, &key, plan, out, err).await;
    conn.close().await;
    result
}

async fn execute(
    home: &Home,
    conn: &Connected,
    key: &KeyPair,
    plan: Plan,
    out: Out<'_>,
    err: Option<Out<'_>>,
) -> Result<(), CliError> {
    match plan {
        Plan::Attach {
            ticket,
            content,
            interpreter,
            timeout,
            description,
        } => {
            let ticket_id = conn.resolve_ticket(&ticket).await?;
            let target = conn
                .ticket(ticket_id)
                .await?
                .ticket
                .agent_id
                .ok_or_else(|| {
                    CliError::InvalidInput(format!(
                        "ticket {} has no endpoint, so there is nothing to run a script on",
                        short_id(&ticket_id)
                    ))
                })?;
            let manifest = attach::build_manifest(
                &content,
                Authoring {
                    ticket_id,
                    target,
                    interpreter,
                    timeout,
                    description,
                    author: &conn.name,
                    author_key: key.public_key(),
                    now: Timestamp::now(),
                },
            );
            let (id, digest) = (manifest.script_id, manifest.digest);
            let request = Request::AttachScript {
                script: manifest.sign(key),
                content,
            };
            match conn.ask(&request).await? {
                Response::ScriptAttached { script, digest: d } if script == id && d == digest => {
                    writeln!(
                        out,
                        "Script {id} attached to ticket {}: {digest}",
                        short_id(&ticket_id)
                    )?;
                    Ok(())
                }
                _ => Err(unexpected(&request)),
            }
        }
        Plan::List { ticket, json } => {
            let ticket_id = conn.resolve_ticket(&ticket).await?;
            let scripts = list(conn, ticket_id).await?;
            if json {
                return print_json(out, &scripts);
            }
            let table = render::script_table(&scripts, Timestamp::now(), terminal_width());
            out.write_all(table.as_bytes())?;
            Ok(())
        }
        Plan::Show {
            ticket,
            script,
            json,
        } => {
            let (_, detail) = fetch(conn, &ticket, &script).await?;
            if json {
                return print_json(out, &render::ScriptShowJson::new(&detail));
            }
            out.write_all(render::script_detail(&detail, Timestamp::now()).as_bytes())?;
            Ok(())
        }
        Plan::Approve {
            ticket,
            script,
            expires,
            reviewed,
            confirmed,
        } => {
            // The roster first: nothing the relay says about who may author
            // counts until the org key this CLI pinned has verified it.
            let now = Timestamp::now();
            let roster = current_roster(conn).await?;
            let roster = home.trust_roster(roster.as_ref(), now)?;
            let (ticket_id, detail) = fetch(conn, &ticket, &script).await?;
            let ticket = conn.ticket(ticket_id).await?.ticket;
            let public = key.public_key();
            let me = Approver {
                name: &conn.name,
                key: &public,
            };
            let review = approve::check(&ticket, &detail, roster, &me, reviewed, now)?;
            let expires_at = now.plus(expires);
            out.write_all(
                render::approval_review(&detail, &ticket, &review, expires_at).as_bytes(),
            )?;
            if !confirmed && !ask_yes("Approve this script? Type yes to sign: ")? {
                return Err(CliError::InvalidInput(
                    "not approved; nothing was signed".into(),
                ));
            }
            let approval = approve::sign(&detail, now, expires_at, &conn.name, key);
            let request = Request::ApproveScript {
                ticket: ticket_id,
                approval,
            };
            match conn.ask(&request).await? {
                Response::Ok => {
                    writeln!(
                        out,
                        "Script {} approved by {} to run once on agent {} until {expires_at}.",
                        short_uuid(&detail.script.manifest.script_id.0),
                        clean(&conn.name),
                        review.target,
                    )?;
                    Ok(())
                }
                _ => Err(unexpected(&request)),
            }
        }
        Plan::Run { ticket, script } => {
            let ticket_id = conn.resolve_ticket(&ticket).await?;
            let script = resolve_script(conn, ticket_id, &script).await?;
            let request = Request::RunScript {
                ticket: ticket_id,
                script,
            };
            // Shorten the two writers' lifetimes to a common one.
            let err = err.map(|e| -> Out<'_> { e });
            stream_run(conn, &request, &mut RunWriters { out, err }).await
        }
    }
}

/// The relay's newest signed roster, not yet verified.
pub(crate) async fn current_roster(conn: &Connected) -> Result<Option<SignedRoster>, CliError> {
    let request = Request::CurrentRoster;
    match conn.ask(&request).await? {
        Response::CurrentRoster(roster) => Ok(roster.map(|r| *r)),
        _ => Err(unexpected(&request)),
    }
}

/// Reads a yes from the terminal.
fn ask_yes(prompt: &str) -> Result<bool, CliError> {
    eprint!("{prompt}");
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|source| CliError::File {
            action: "read an answer from",
            path: "standard input".into(),
            source,
        })?;
    Ok(is_yes(&answer))
}

/// Only a typed "yes" signs; "y", enter or anything else does not.
pub fn is_yes(answer: &str) -> bool {
    answer.trim().eq_ignore_ascii_case("yes")
}

async fn list(conn: &Connected, ticket: TicketId) -> Result<Vec<ScriptSummary>, CliError> {
    let request = Request::ListScripts { ticket };
    match conn.ask(&request).await? {
        Response::Scripts(scripts) => Ok(scripts),
        _ => Err(unexpected(&request)),
    }
}

/// A full id needs no lookup; a prefix is matched against the ticket's scripts.
async fn resolve_script(
    conn: &Connected,
    ticket: TicketId,
    script: &ScriptRef,
) -> Result<ScriptId, CliError> {
    if let ScriptRef::Full(id) = script {
        return Ok(*id);
    }
    let known = list(conn, ticket).await?;
    script.resolve(known.iter().map(|s| s.script_id), &short_id(&ticket))
}

/// The ticket's id and the script in full, as the relay holds it.
async fn fetch(
    conn: &Connected,
    ticket: &TicketRef,
    script: &ScriptRef,
) -> Result<(TicketId, ScriptDetail), CliError> {
    let ticket = conn.resolve_ticket(ticket).await?;
    let script = resolve_script(conn, ticket, script).await?;
    let request = Request::ShowScript { ticket, script };
    match conn.ask(&request).await? {
        Response::Script(detail) if detail.script.manifest.script_id == script => {
            Ok((ticket, *detail))
        }
        _ => Err(unexpected(&request)),
    }
}

/// Sends `RunScript` and shows its frames until the run ends. There is no
/// overall timeout (a script may run for hours, bounded by its own
/// timeout on the agent); a dead connection ends the read through QUIC's
/// idle timeout.
async fn stream_run(
    conn: &Connected,
    request: &Request,
    w: &mut RunWriters<'_>,
) -> Result<(), CliError> {
    tracing::debug!(request = request.name(), "asking the relay");
    let mut recv = conn.session.open_stream(request).await?;
    let mut view = RunView::default();
    loop {
        match next_frame::<Response>(&mut recv).await {
            Ok(Some(frame)) => {
                if view.frame(frame, w)? == Step::Done {
                    return Ok(());
                }
            }
            Ok(None) => return Err(view.ended(w)),
            Err(e) => {
                let broken = view.ended(w);
                // A closed connection is ours to report; a broken stream on
                // a live connection means the far end went away.
                return Err(match conn.session.connection().close_reason() {
                    Some(reason) => CliError::RunInterrupted(format!("{reason}; {e}")),
                    None => broken,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command};
    use clap::Parser;

    const FULL: &str = "1234abcd-0000-4000-8000-000000000001";

    fn plan_of(args: &[&str]) -> Result<Plan, CliError> {
        let cli = Cli::try_parse_from(["triage", "script"].iter().chain(args)).unwrap();
        match cli.command {
            Command::Script(c) => plan(c),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn attach_reads_the_file_and_picks_the_interpreter_before_connecting() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("fix.py");
        std::fs::write(&file, b"print('fixed')\n").unwrap();
        let path = file.to_str().unwrap();
        match plan_of(&["attach", FULL, path]).unwrap() {
            Plan::Attach {
                content,
                interpreter,
                ..
            } => {
                assert_eq!(content, b"print('fixed')\n");
                assert_eq!(interpreter, Interpreter::Python);
            }
            other => panic!("{other:?}"),
        }
        match plan_of(&["attach", FULL, path, "--interpreter", "sh"]).unwrap() {
            Plan::Attach { interpreter, .. } => assert_eq!(interpreter, Interpreter::Sh),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn attach_refuses_bad_tickets_files_and_descriptions() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("fix.sh");
        std::fs::write(&file, b"true\n").unwrap();
        let path = file.to_str().unwrap();
        assert!(matches!(
            plan_of(&["attach", "12", path]),
            Err(CliError::BadTicketId(_))
        ));
        let dir_path = dir.path().to_str().unwrap();
        assert!(matches!(
            plan_of(&["attach", FULL, dir_path]),
            Err(CliError::ScriptFile { .. })
        ));
        assert!(matches!(
            plan_of(&["attach", FULL, path, "--description", "a\nb"]),
            Err(CliError::InvalidInput(_))
        ));
    }

    #[test]
    fn script_references_are_parsed_before_connecting() {
        assert!(matches!(
            plan_of(&["show", FULL, "abcd1234", "--json"]).unwrap(),
            Plan::Show {
                script: ScriptRef::Prefix(_),
                json: true,
                ..
            }
        ));
        assert!(matches!(
            plan_of(&["run", FULL, "fix.sh"]),
            Err(CliError::BadScriptId(_))
        ));
        assert!(matches!(
            plan_of(&["approve", FULL, FULL, "--expires", "2h"]).unwrap(),
            Plan::Approve {
                script: ScriptRef::Full(_),
                reviewed: None,
                confirmed: false,
                ..
            }
        ));
    }

    #[test]
    fn approving_without_a_prompt_needs_the_reviewed_digest() {
        let digest = format!("sha256:{}", "ab".repeat(32));
        assert!(matches!(
            plan_of(&["approve", FULL, FULL, "--digest", &digest, "--yes"]).unwrap(),
            Plan::Approve {
                confirmed: true,
                reviewed: Some(_),
                ..
            }
        ));
        let cli = Cli::try_parse_from(["triage", "script", "approve", FULL, FULL, "--yes"]);
        assert!(cli.is_err(), "--yes without --digest parsed");
    }

    #[test]
    fn only_a_typed_yes_signs() {
        assert!(is_yes("yes\n") && is_yes(" YES "));
        for no in ["", "\n", "y", "no", "yes please"] {
            assert!(!is_yes(no), "{no:?}");
        }
    }
}
