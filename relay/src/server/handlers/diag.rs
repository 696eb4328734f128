//! Live diagnostics: forward `Diagnose` to an online agent, check what comes
//! back (the agent is not trusted to keep to the limits either), and
//! optionally attach it to a ticket.

use crate::server::agent_link;
use crate::server::request::{record_ticket, reply_kind, AuditNote, Peer};
use crate::server::Shared;
use crate::store::{ticket_not_found, StoreError};
use serde_json::json;
use std::time::Duration;
use triage_shared::limits::MAX_SNAPSHOT_STRING_LEN;
use triage_shared::protocol::{AttachedDiagnostics, ErrorKind, RemoteError, Response};
use triage_shared::remote::{AgentCommand, AgentReply, DiagnosticsReport, Section};
use triage_shared::ticket::InvalidInput;
use triage_shared::time::Timestamp;
use triage_shared::{AgentId, TicketId};

/// How long an agent has to answer a diagnostics request.
pub const DIAG_TIMEOUT: Duration = Duration::from_secs(60);
/// Packages or services one report may list.
pub const MAX_REPORT_ITEMS: usize = 20_000;

fn check_items(field: &'static str, count: usize) -> Result<(), InvalidInput> {
    if count > MAX_REPORT_ITEMS {
        return Err(InvalidInput::new(
            field,
            format!("{count} entries; the limit is {MAX_REPORT_ITEMS}"),
        ));
    }
    Ok(())
}

/// Bounds every list and string of a report from an agent, as
/// `Snapshot::validate` does for the snapshot (control characters are
/// cleaned where text is shown, not refused here).
pub fn validate_report(report: &DiagnosticsReport) -> Result<(), InvalidInput> {
    report.snapshot.validate()?;
    let text = |field, s: &str| {
        if s.len() > MAX_SNAPSHOT_STRING_LEN {
            return Err(InvalidInput::new(
                field,
                format!("string longer than {MAX_SNAPSHOT_STRING_LEN} bytes"),
            ));
        }
        Ok(())
    };
    if let Some(software) = &report.software {
        check_items("software", software.len())?;
        for p in software {
            text("software", &p.name)?;
            text("software", &p.version)?;
        }
    }
    if let Some(services) = &report.services {
        check_items("services", services.len())?;
        for s in services {
            text("services", &s.name)?;
            text("services", &s.state)?;
            text("services", &s.description)?;
        }
    }
    Ok(())
}

/// The sections asked for, each once, in the order given.
fn distinct(sections: Vec<Section>) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::with_capacity(Section::ALL.len());
    for s in sections {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

pub(in crate::server) async fn diagnose(
    shared: &Shared,
    peer: &Peer,
    agent: AgentId,
    sections: Vec<Section>,
    attach: Option<TicketId>,
    note: &mut AuditNote,
) -> Result<Response, StoreError> {
    if let Some(ticket) = attach {
        record_ticket(ticket);
        let t = shared
            .store
            .ticket(ticket)
            .await?
            .ok_or_else(|| ticket_not_found(ticket))?;
        if t.agent_id.is_some_and(|a| a != agent) {
            return Err(StoreError::refused(
                ErrorKind::InvalidInput,
                format!(
                    "ticket {ticket} was filed by another agent; attach diagnostics from that agent"
                ),
            ));
        }
    }
    let sections = distinct(sections);
    note.details = json!({
        "sections": sections.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "attach": attach.map(|t| t.to_string()),
    });
    // The intent is on record before the agent is asked; without it the
    // diagnostics are not run (the outcome entry follows in `dispatch`).
    let intent = crate::audit::record_intent(
        &shared.store,
        &peer.audit_actor(),
        "diag",
        &format!("agent:{agent}"),
        note.details.clone(),
    )
    .await
    .map_err(|_| crate::audit::audit_unavailable("run diagnostics"))?;
    note.details["intent_seq"] = intent.into();
    let command = AgentCommand::Diagnose { sections };
    let mut stream = agent_link::open(shared, agent, &command).await?;
    let report = match stream.next(DIAG_TIMEOUT).await.map_err(RemoteError::from)? {
        Some(AgentReply::Diagnostics(report)) => report,
        Some(AgentReply::Error(e)) => return Err(e.into()),
        Some(other) => {
            return Err(StoreError::refused(
                ErrorKind::Internal,
                format!(
                "agent {agent} answered a diagnostics request with {}; check the agent's version",
                reply_kind(&other)
            ),
            ))
        }
        None => {
            return Err(StoreError::refused(
                ErrorKind::Unavailable,
                format!("agent {agent} closed the request without answering; try again"),
            ))
        }
    };
    validate_report(&report).map_err(|e| {
        RemoteError::new(
            ErrorKind::Internal,
            format!(
                "agent {agent} sent diagnostics the relay refuses ({e}); check the agent's version"
            ),
        )
    })?;
    if let Some(ticket) = attach {
        let attached = AttachedDiagnostics {
            taken_at: Timestamp::now(),
            taken_by: peer.technician_name()?.to_string(),
            report: (*report).clone(),
        };
        shared.store.attach_diagnostics(ticket, &attached).await?;
        tracing::info!(%agent, "diagnostics attached to the ticket");
    }
    Ok(Response::Diagnostics(report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tickets_sample_snapshot;
    use triage_shared::remote::{Package, Service};

    fn report() -> DiagnosticsReport {
        DiagnosticsReport {
            snapshot: tickets_sample_snapshot(),
            software: Some(vec![Package {
                name: "openssl".into(),
                version: "3.0.11".into(),
            }]),
            services: Some(vec![Service {
                name: "cups.service".into(),
                state: "failed".into(),
                description: "CUPS Scheduler".into(),
            }]),
        }
    }

    #[test]
    fn a_plain_report_is_accepted() {
        assert_eq!(validate_report(&report()), Ok(()));
    }

    #[test]
    fn report_lists_are_bounded_at_the_limit() {
        let mut r = report();
        let pkg = Package {
            name: "p".into(),
            version: "1".into(),
        };
        r.software = Some(vec![pkg; MAX_REPORT_ITEMS]);
        assert_eq!(validate_report(&r), Ok(()));
        if let Some(s) = r.software.as_mut() {
            s.push(s[0].clone());
        }
        assert_eq!(validate_report(&r).unwrap_err().field, "software");
    }

    #[test]
    fn report_strings_are_bounded_at_the_limit() {
        let mut r = report();
        if let Some(s) = r.services.as_mut() {
            s[0].description = "x".repeat(MAX_SNAPSHOT_STRING_LEN);
        }
        assert_eq!(validate_report(&r), Ok(()));
        if let Some(s) = r.services.as_mut() {
            s[0].description.push('x');
        }
        assert_eq!(validate_report(&r).unwrap_err().field, "services");
        let mut r = report();
        if let Some(s) = r.software.as_mut() {
            s[0].version = "9".repeat(MAX_SNAPSHOT_STRING_LEN + 1);
        }
        assert_eq!(validate_report(&r).unwrap_err().field, "software");
        let mut r = report();
        r.snapshot.os.hostname = "h".repeat(MAX_SNAPSHOT_STRING_LEN + 1);
        assert!(validate_report(&r).is_err());
    }

    #[test]
    fn sections_are_asked_for_once_each() {
        assert_eq!(
            distinct(vec![Section::Cpu, Section::Disks, Section::Cpu]),
            [Section::Cpu, Section::Disks]
        );
    }
}
