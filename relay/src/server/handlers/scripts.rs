//! Script requests: attach, list, show, approve, and run.
//!
//! The checks are the pure ones in `crate::scripts`; this module looks
//! things up, stores them, and drives a run: it picks an approval, sends the
//! order to the ticket's agent and forwards the agent's events to the
//! technician as they arrive, keeping a capped copy of the output for the
//! record.

use crate::audit;
use crate::scripts::{
    check_approval, check_attach, outcome_audit, outcome_comment, ApprovalTarget, OutputKeeper,
    Signer,
};
use crate::server::agent_link::{self, ReplyError};
use crate::server::request::{record_ticket, reply_kind, to_remote, AuditNote, Peer, Responder};
use crate::server::transfer::{Sink, Source};
use crate::server::Shared;
use crate::store::{fit, ticket_not_found, RunsOf, StoreError, StoredScript};
use crate::workflow;
use serde_json::json;
use std::time::Duration;
use tokio::time::Instant;
use triage_shared::approval::{ScriptId, SignedApproval, SignedScript};
use triage_shared::limits::MAX_LIST_ITEMS;
use triage_shared::protocol::{ErrorKind, RemoteError, Response, ScriptDetail};
use triage_shared::remote::{
    AgentCommand, AgentReply, RunEvent, RunId, RunOrder, RunOutcome, ScriptRunRecord,
};
use triage_shared::time::Timestamp;
use triage_shared::{AgentId, TicketId};

/// How long past a script's own timeout the relay waits for its result
/// (the agent needs a moment to kill it and report).
pub const RUN_GRACE: Duration = Duration::from_secs(30);

/// The ticket's agent, or why scripts cannot run for this ticket.
async fn ticket_agent(shared: &Shared, ticket: TicketId) -> Result<AgentId, StoreError> {
    let t = shared
        .store
        .ticket(ticket)
        .await?
        .ok_or_else(|| ticket_not_found(ticket))?;
    t.agent_id.ok_or_else(|| {
        StoreError::refused(
            ErrorKind::InvalidInput,
            format!(
                "ticket {ticket} has no agent; scripts run on the endpoint that filed the ticket"
            ),
        )
    })
}

pub(in crate::server) async fn attach(
    shared: &Shared,
    peer: &Peer,
    script: SignedScript,
    content: Vec<u8>,
    now: Timestamp,
    note: &mut AuditNote,
) -> Result<Response, StoreError> {
    let m = &script.manifest;
    record_ticket(m.ticket_id);
    let name = peer.technician_name()?;
    let agent = ticket_agent(shared, m.ticket_id).await?;
    check_attach(
        &script,
        &content,
        agent,
        Signer {
            name,
            key: &peer.key,
        },
    )?;
    let (id, digest) = (m.script_id, m.digest);
    note.details = json!({
        "ticket": m.ticket_id.to_string(),
        "digest": digest.to_string(),
        "interpreter": m.interpreter.as_str(),
        "timeout_secs": m.timeout_secs,
    });
    shared
        .store
        .insert_script(&StoredScript { script, content }, now)
        .await?;
    tracing::info!(script = %id, %digest, "script attached");
    Ok(Response::ScriptAttached { script: id, digest })
}

pub(in crate::server) async fn list(
    shared: &Shared,
    ticket: TicketId,
    now: Timestamp,
) -> Result<Response, StoreError> {
    record_ticket(ticket);
    if shared.store.ticket(ticket).await?.is_none() {
        return Err(ticket_not_found(ticket));
    }
    Ok(Response::Scripts(
        shared
            .store
            .list_scripts(ticket, now, MAX_LIST_ITEMS)
            .await?,
    ))
}

pub(in crate::server) async fn show(
    shared: &Shared,
    ticket: TicketId,
    script: ScriptId,
) -> Result<Response, StoreError> {
    record_ticket(ticket);
    let stored = shared.store.script(ticket, script).await?;
    let mut approvals = shared.store.approvals(script).await?;
    let skip = approvals.len().saturating_sub(fit::MAX_VIEW_APPROVALS);
    approvals.drain(..skip);
    let mut runs = shared
        .store
        .runs(RunsOf::Script(script), fit::MAX_VIEW_RUNS)
        .await?;
    fit::trim_outputs(&mut runs, fit::VIEW_OUTPUT_BUDGET);
    Ok(Response::Script(Box::new(ScriptDetail {
        script: stored.script,
        content: stored.content,
        approvals,
        runs,
    })))
}

pub(in crate::server) async fn approve(
    shared: &Shared,
    peer: &Peer,
    ticket: TicketId,
    approval: SignedApproval,
    now: Timestamp,
    note: &mut AuditNote,
) -> Result<Response, StoreError> {
    record_ticket(ticket);
    let name = peer.technician_name()?;
    let agent = ticket_agent(shared, ticket).await?;
    let a = &approval.approval;
    let stored = shared.store.script(ticket, a.script_id).await?;
    check_approval(
        &approval,
        ApprovalTarget {
            ticket,
            agent,
            script: &stored.script,
        },
        Signer {
            name,
            key: &peer.key,
        },
        now,
    )?;
    note.details = json!({
        "ticket": ticket.to_string(),
        "agent": agent.to_string(),
        "nonce": a.nonce.to_string(),
        "expires_at": a.expires_at.millis(),
    });
    shared.store.insert_approval(&approval, now).await?;
    tracing::info!(script = %a.script_id, expires_at = %a.expires_at, "script approved");
    Ok(Response::Ok)
}

/// How a run ended, as far as the relay could tell.
#[derive(Debug)]
enum RunEnd {
    Finished(RunOutcome),
    Refused(triage_shared::approval::Refusal),
    Failed(RemoteError),
}

/// Runs a script on the ticket's agent, streaming its events to `out`.
/// Records the run, comments on the ticket and appends the audit entry
/// before the last frame goes out, so whoever reads the result can already
/// find it on the ticket and in the log.
pub(in crate::server) async fn run(
    shared: &Shared,
    peer: &Peer,
    ticket: TicketId,
    script: ScriptId,
    out: &mut Responder,
) {
    record_ticket(ticket);
    let actor = audit::technician_actor(peer.technician_name().unwrap_or("?"));
    let target = format!("script:{script}");
    // The intent goes on record before anything is spent or sent: a relay
    // killed mid-run has still logged it, and without it nothing runs.
    let intent = audit::record_intent(
        &shared.store,
        &actor,
        "script.run",
        &target,
        json!({ "ticket": ticket.to_string() }),
    )
    .await;
    let Ok(intent_seq) = intent else {
        let refusal = audit::audit_unavailable("run this script");
        out.send(&Response::Error(refusal)).await;
        return;
    };
    let prepared = prepare(shared, ticket, script).await;
    let (link, stored, approval) = match prepared {
        Ok(p) => p,
        Err(e) => {
            let refusal = to_remote(e);
            audit::record(
                &shared.store,
                &actor,
                "script.run",
                &target,
                &audit::refused(&refusal),
                json!({ "ticket": ticket.to_string(), "intent_seq": intent_seq }),
            )
            .await;
            out.send(&Response::Error(refusal)).await;
            return;
        }
    };
    let run_id = RunId::new_random();
    let started_at = Timestamp::now();
    let agent = link.agent;
    let timeout_secs = stored.script.manifest.timeout_secs;
    let nonce = approval.approval.nonce;
    let order = AgentCommand::RunScript(Box::new(RunOrder {
        run_id,
        script: stored.script,
        content: stored.content,
        approval,
    }));
    tracing::info!(%run_id, %agent, "running script");
    let mut keeper = OutputKeeper::default();
    let end = match link.send(&order).await {
        Err(e) => RunEnd::Failed(e),
        Ok(mut stream) => {
            let deadline = Instant::now() + Duration::from_secs(timeout_secs) + RUN_GRACE;
            forward(&mut stream, deadline, timeout_secs, &mut keeper, out).await
        }
    };
    let requested_by = peer.technician_name().unwrap_or("?").to_string();
    let (outcome, refusal, comment, audit_outcome, last) = match end {
        RunEnd::Finished(o) => (
            Some(o.clone()),
            None,
            outcome_comment(&script.to_string(), &o),
            outcome_audit(&o),
            Response::Run(RunEvent::Finished(o)),
        ),
        RunEnd::Refused(r) => {
            let reason = audit::bounded(&r.to_string());
            (
                None,
                Some(reason.clone()),
                format!("Agent refused script {script}: {reason}"),
                format!("refused by agent: {reason}"),
                Response::Run(RunEvent::Refused(r)),
            )
        }
        RunEnd::Failed(e) => {
            let reason = audit::bounded(&e.message);
            (
                None,
                Some(format!("no result: {reason}")),
                format!("Script {script} did not report a result: {reason}"),
                format!("failed: {reason}"),
                Response::Error(e),
            )
        }
    };
    let truncated_note = keeper.dropped();
    let record = ScriptRunRecord {
        run_id,
        script_id: script,
        requested_by: requested_by.clone(),
        started_at,
        outcome: outcome.clone(),
        refusal,
        output: keeper.into_text(),
    };
    if let Err(e) = shared.store.insert_run(ticket, &record).await {
        tracing::error!(error = %e, %run_id, "could not record the script run");
    }
    let now = Timestamp::now();
    if let Err(e) = shared
        .store
        .update_ticket(ticket, |t| {
            workflow::comment(t, &requested_by, &comment, now)
        })
        .await
    {
        tracing::error!(error = %e, %run_id, "could not comment on the ticket");
    }
    audit::record(
        &shared.store,
        &actor,
        "script.run",
        &target,
        &audit_outcome,
        json!({
            "ticket": ticket.to_string(),
            "agent": agent.to_string(),
            "run_id": run_id.to_string(),
            "nonce": nonce.to_string(),
            "exit_code": outcome.as_ref().and_then(|o| o.exit_code),
            "timed_out": outcome.as_ref().map(|o| o.timed_out),
            "duration_ms": outcome.as_ref().map(|o| o.duration_ms),
            "output_bytes": outcome.as_ref().map(|o| o.output_bytes),
            "relay_dropped_bytes": truncated_note,
            "intent_seq": intent_seq,
        }),
    )
    .await;
    tracing::info!(%run_id, outcome = %audit_outcome, "script run ended");
    out.send(&last).await;
}

/// Everything a run needs before anything is spent: the ticket's agent
/// online with a free slot, the script, and then one approval taken.
async fn prepare(
    shared: &Shared,
    ticket: TicketId,
    script: ScriptId,
) -> Result<(agent_link::AgentLink, StoredScript, SignedApproval), StoreError> {
    let agent = ticket_agent(shared, ticket).await?;
    let stored = shared.store.script(ticket, script).await?;
    // Offline or busy is refused here, before the approval is spent.
    let link = agent_link::connect(shared, agent).await?;
    let approval = shared
        .store
        .take_approval(script, Timestamp::now())
        .await?
        .ok_or_else(|| {
            StoreError::refused(
                ErrorKind::Forbidden,
                format!(
                    "script {script} has no valid approval; an approver must run `triage script approve {ticket} {script}`"
                ),
            )
        })?;
    Ok((link, stored, approval))
}

/// Forwards run events until the run ends, the agent goes away or the
/// deadline passes. The result is handed back unsent, so the run can be
/// recorded before the technician hears it. A technician who stops
/// reading does not stop the run: its output is still kept for the record.
async fn forward<S: Source, K: Sink>(
    stream: &mut S,
    deadline: Instant,
    timeout_secs: u64,
    keeper: &mut OutputKeeper,
    out: &mut K,
) -> RunEnd {
    let label = stream.label();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let reply = match stream.next(left).await {
            Ok(reply) => reply,
            Err(ReplyError::Timeout(..)) => {
                return RunEnd::Failed(RemoteError::new(
                    ErrorKind::Timeout,
                    format!(
                        "agent {label} gave no result within the script's timeout of {timeout_secs} s plus {} s; the relay stopped waiting",
                        RUN_GRACE.as_secs()
                    ),
                ))
            }
            Err(ReplyError::Disconnected(who)) => {
                return RunEnd::Failed(RemoteError::new(
                    ErrorKind::Unavailable,
                    format!("agent {who} disconnected during the run; its result is unknown"),
                ))
            }
            Err(e) => return RunEnd::Failed(e.into()),
        };
        match reply {
            Some(AgentReply::Run(RunEvent::Finished(o))) => return RunEnd::Finished(o),
            Some(AgentReply::Run(RunEvent::Refused(r))) => return RunEnd::Refused(r),
            Some(AgentReply::Run(RunEvent::Started)) => {
                out.send(&Response::Run(RunEvent::Started)).await;
            }
            Some(AgentReply::Run(RunEvent::Output { stream: s, data })) => {
                let kept = keeper.keep(&data);
                if !kept.is_empty() {
                    let event = RunEvent::Output {
                        stream: s,
                        data: kept.to_vec(),
                    };
                    out.send(&Response::Run(event)).await;
                }
            }
            Some(AgentReply::Error(e)) => return RunEnd::Failed(e),
            Some(other) => {
                return RunEnd::Failed(RemoteError::new(
                    ErrorKind::Internal,
                    format!(
                        "agent {label} answered a script run with {}; check the agent's version",
                        reply_kind(&other)
                    ),
                ))
            }
            None => {
                return RunEnd::Failed(RemoteError::new(
                    ErrorKind::Unavailable,
                    format!("agent {label} ended the run without a result"),
                ))
            }
        }
    }
}

#[cfg(test)]
#[path = "scripts_tests.rs"]
mod tests;
