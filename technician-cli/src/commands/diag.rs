//! `triage diag AGENT`: live diagnostics from an online endpoint, through
//! the relay, optionally stored on a ticket.

use super::{connect, print_json, unexpected, Connected, Out};
use crate::args::DiagArgs;
use crate::error::CliError;
use crate::home::Home;
use crate::selector::AgentSelector;
use crate::ticket_ref::{short_id, TicketRef};
use std::time::Duration;
use triage_shared::protocol::{Request, Response};
use triage_shared::remote::Section;
use triage_shared::report::render_sections;

/// How long the CLI waits for a report. Longer than the relay's own wait on
/// the agent, so a slow endpoint is reported by the relay, which knows why.
pub const DIAG_TIMEOUT: Duration = Duration::from_secs(120);

/// A diag command with its input checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub agent: AgentSelector,
    /// Each section once, in the order asked; empty means all.
    pub sections: Vec<Section>,
    pub attach: Option<TicketRef>,
    pub json: bool,
}

pub fn plan(args: DiagArgs) -> Result<Plan, CliError> {
    let mut sections: Vec<Section> = Vec::new();
    for s in args.sections {
        if !sections.contains(&s) {
            sections.push(s);
        }
    }
    Ok(Plan {
        agent: crate::selector::parse_agent(&args.agent)?,
        sections,
        attach: args.attach.as_deref().map(TicketRef::parse).transpose()?,
        json: args.json,
    })
}

pub async fn run(home: &Home, args: DiagArgs, out: Out<'_>) -> Result<(), CliError> {
    let plan = plan(args)?;
    let conn = connect(home).await?;
    let result = execute(&conn, plan, out).await;
    conn.close().await;
    result
}

async fn execute(conn: &Connected, plan: Plan, out: Out<'_>) -> Result<(), CliError> {
    let agent = conn.resolve_agent(&plan.agent).await?.id;
    let attach = match &plan.attach {
        Some(t) => Some(conn.resolve_ticket(t).await?),
        None => None,
    };
    let request = Request::Diagnose {
        agent,
        sections: plan.sections.clone(),
        attach,
    };
    let report = match conn
        .ask_within(&request, DIAG_TIMEOUT, "the diagnostics request")
        .await?
    {
        Response::Diagnostics(report) => report,
        _ => return Err(unexpected(&request)),
    };
    if plan.json {
        return print_json(out, &report);
    }
    out.write_all(render_sections(&report, &plan.sections).as_bytes())?;
    if let Some(ticket) = attach {
        writeln!(out, "\nAttached to ticket {}.", short_id(&ticket))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command};
    use clap::Parser;

    fn plan_of(args: &[&str]) -> Result<Plan, CliError> {
        let cli = Cli::try_parse_from(["triage", "diag"].iter().chain(args)).unwrap();
        match cli.command {
            Command::Diag(d) => plan(d),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn sections_are_kept_once_in_the_order_asked() {
        let p = plan_of(&[
            "laptop-7",
            "--section",
            "memory,os,memory",
            "--section",
            "os",
        ])
        .unwrap();
        assert_eq!(p.sections, vec![Section::Memory, Section::Os]);
        assert_eq!(p.agent, AgentSelector::Name("laptop-7".into()));
        assert!(plan_of(&["laptop-7"]).unwrap().sections.is_empty());
    }

    #[test]
    fn the_attach_ticket_is_checked_before_connecting() {
        assert!(matches!(
            plan_of(&["laptop-7", "--attach", "12"]),
            Err(CliError::BadTicketId(_))
        ));
        let p = plan_of(&["laptop-7", "--attach", "1234abcd", "--json"]).unwrap();
        assert_eq!(p.attach, Some(TicketRef::Prefix("1234abcd".into())));
        assert!(p.json);
    }
}
