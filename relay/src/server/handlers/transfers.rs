//! Log pulls, screenshots and attachment downloads: the requests whose
//! answer is a streamed body.
//!
//! ```text
//! PullLogs / Screenshot ─► checks (query shape, --attach ticket) ─► agent online? command
//!     slot? transfer slot? (refused at once otherwise) ─► intent entry in the audit log
//!     (refused if it cannot be written) ─► command on a stream kept open
//!     ─► splice (transfer.rs) ─► [attachment stored] ─► transfers row + audit entry
//!     ─► last frame (End or Error) to the technician
//! ```
//!
//! Every pull that got past authorization leaves a `transfers` row (who,
//! agent, path, bytes, duration, result) and an audit entry (`log.pull` or
//! `screenshot`), refused or not, written before the technician hears how
//! it ended. The outcome entry names the intent's `seq` as `intent_seq`.
//!
//! A download of a stored attachment (`FetchAttachment`) is audited as
//! `attachment.fetch` (ticket, attachment id, bytes sent) once it ended.

use crate::audit;
use crate::metrics::{Live, TransferLabel};
use crate::server::agent_link::{self, AgentLink, Slot};
use crate::server::authz::authorize_fetch;
use crate::server::request::{record_ticket, to_remote, Peer, Responder};
use crate::server::transfer::{
    splice, technician_signal, Ending, Plan, Sink, Spliced, MAX_ATTACHMENT_LEN,
    MAX_TRANSFERS_PER_AGENT, SCREENSHOT_FIRST_FRAME_WAIT, TRANSFER_IDLE_TIMEOUT,
};
use crate::server::Shared;
use crate::store::{ticket_not_found, StoreError, TransferRecord};
use serde_json::{json, Value};
use tokio::time::Instant;
use triage_shared::protocol::{ErrorKind, RemoteError, Response};
use triage_shared::remote::AgentCommand;
use triage_shared::time::Timestamp;
use triage_shared::transfer::{
    AttachmentId, AttachmentKind, AttachmentSummary, EndReason, LogQuery, TransferEnd,
    TransferFrame, TransferStart, TRANSFER_CHUNK_LEN,
};
use triage_shared::{AgentId, TicketId};

/// The technician's end of a splice, counting the body bytes it took
/// (`triage_transfer_bytes_total`) as they go, not when the pull ends.
struct Counted<'a> {
    out: &'a mut Responder,
    live: &'a Live,
}

impl Sink for Counted<'_> {
    fn send(&mut self, response: &Response) -> impl std::future::Future<Output = bool> + Send {
        let bytes = match response {
            Response::Transfer(TransferFrame::Chunk(data)) => data.len() as u64,
            _ => 0,
        };
        async move {
            let sent = self.out.send(response).await;
            if sent {
                self.live.add_bytes(bytes);
            }
            sent
        }
    }
}

/// One streamed request, as the handlers below share it.
struct Pull {
    kind: AttachmentKind,
    agent: AgentId,
    /// The path asked for (`screenshot` for a screenshot).
    path: String,
    attach: Option<TicketId>,
    follow: bool,
    command: AgentCommand,
    details: Value,
}

/// A technician's log pull.
pub(in crate::server) async fn pull_logs(
    shared: &Shared,
    peer: &Peer,
    agent: AgentId,
    query: LogQuery,
    attach: Option<TicketId>,
    recv: quinn::RecvStream,
    out: &mut Responder,
) {
    let details = json!({
        "path": query.path,
        "tail": query.tail,
        "since_secs": query.since_secs,
        "grep": query.grep,
        "follow": query.follow,
        "attach": attach.map(|t| t.to_string()),
    });
    let pull = Pull {
        kind: AttachmentKind::Log,
        agent,
        path: query.path.clone(),
        attach,
        follow: query.follow,
        details,
        command: AgentCommand::PullLogs(query),
    };
    let shape = match &pull.command {
        AgentCommand::PullLogs(q) => q.validate().map_err(RemoteError::from),
        _ => Ok(()),
    };
    serve(shared, peer, pull, shape, recv, out).await;
}

/// A technician's screenshot request.
pub(in crate::server) async fn screenshot(
    shared: &Shared,
    peer: &Peer,
    agent: AgentId,
    attach: Option<TicketId>,
    recv: quinn::RecvStream,
    out: &mut Responder,
) {
    let requested_by = peer.technician_name().unwrap_or("?").to_string();
    let pull = Pull {
        kind: AttachmentKind::Screenshot,
        agent,
        path: "screenshot".into(),
        attach,
        follow: false,
        details: json!({ "attach": attach.map(|t| t.to_string()) }),
        command: AgentCommand::Screenshot {
            requested_by,
            ticket: attach,
            // Filled from the ticket in `prepare`, once it is looked up.
            requester: None,
        },
    };
    serve(shared, peer, pull, Ok(()), recv, out).await;
}

/// Everything a pull needs before the agent is asked: the attach ticket
/// checked (a screenshot learns whose window to ask from its requester),
/// the agent online with a command slot and a transfer slot.
async fn prepare(
    shared: &Shared,
    pull: &mut Pull,
    shape: Result<(), RemoteError>,
) -> Result<(AgentLink, Slot), StoreError> {
    shape?;
    if let Some(ticket) = pull.attach {
        record_ticket(ticket);
        if pull.follow {
            return Err(StoreError::refused(
                ErrorKind::InvalidInput,
                "--attach cannot be used with --follow: a followed log has no end to store",
            ));
        }
        let t = shared
            .store
            .ticket(ticket)
            .await?
            .ok_or_else(|| ticket_not_found(ticket))?;
        if t.agent_id.is_some_and(|a| a != pull.agent) {
            return Err(StoreError::refused(
                ErrorKind::InvalidInput,
                format!("ticket {ticket} was filed by another agent; attach what that agent sends"),
            ));
        }
        if let AgentCommand::Screenshot { requester, .. } = &mut pull.command {
            *requester = Some(t.requester.clone());
        }
    }
    let link = agent_link::connect(shared, pull.agent).await?;
    let slot = shared.transfers.try_acquire(pull.agent).ok_or_else(|| {
        StoreError::refused(
            ErrorKind::Unavailable,
            format!(
                "agent {} ({}) is already sending {MAX_TRANSFERS_PER_AGENT} logs or screenshots; wait for one to finish",
                pull.agent, link.hostname
            ),
        )
    })?;
    Ok((link, slot))
}

async fn serve(
    shared: &Shared,
    peer: &Peer,
    mut pull: Pull,
    shape: Result<(), RemoteError>,
    recv: quinn::RecvStream,
    out: &mut Responder,
) {
    let name = peer.technician_name().unwrap_or("?").to_string();
    let started_at = Timestamp::now();
    let clock = Instant::now();
    let (link, _slot) = match prepare(shared, &mut pull, shape).await {
        Ok(ready) => ready,
        Err(e) => {
            let refusal = to_remote(e);
            let outcome = audit::refused(&refusal);
            finish(shared, &name, &pull, started_at, clock, None, &outcome).await;
            out.send(&Response::Error(refusal)).await;
            return;
        }
    };
    // The intent is on record before the agent hears anything; without it
    // the pull does not happen.
    let actor = audit::technician_actor(&name);
    let target = format!("agent:{}", pull.agent);
    let intent = audit::record_intent(
        &shared.store,
        &actor,
        action(pull.kind),
        &target,
        pull.details.clone(),
    )
    .await;
    match intent {
        Ok(seq) => {
            if let Value::Object(map) = &mut pull.details {
                map.insert("intent_seq".into(), json!(seq));
            }
        }
        Err(_) => {
            let refusal = audit::audit_unavailable(match pull.kind {
                AttachmentKind::Log => "pull this log",
                AttachmentKind::Screenshot => "take this screenshot",
            });
            let outcome = audit::refused(&refusal);
            finish(shared, &name, &pull, started_at, clock, None, &outcome).await;
            out.send(&Response::Error(refusal)).await;
            return;
        }
    }
    tracing::info!(agent = %pull.agent, path = %pull.path, "streaming from the agent");
    let mut spliced = match link.send_open(&pull.command).await {
        Err(e) => Spliced {
            ending: Ending::Failed(e),
            start: None,
            bytes: 0,
            kept: None,
        },
        Ok(mut stream) => {
            let live = shared.metrics.transfer(match pull.kind {
                AttachmentKind::Log => TransferLabel::Log,
                AttachmentKind::Screenshot => TransferLabel::Screenshot,
            });
            let mut out = Counted { out, live: &live };
            let plan = Plan {
                follow: pull.follow,
                keep: pull.attach.map(|_| MAX_ATTACHMENT_LEN),
                first_frame_within: match pull.kind {
                    AttachmentKind::Screenshot => SCREENSHOT_FIRST_FRAME_WAIT,
                    _ => TRANSFER_IDLE_TIMEOUT,
                },
            };
            splice(&mut stream, &mut out, technician_signal(recv), plan).await
        }
    };
    if let (
        Some(ticket),
        Ending::Ended {
            reason: EndReason::Complete,
            sha256,
            bytes,
        },
    ) = (pull.attach, &spliced.ending)
    {
        let summary = AttachmentSummary {
            id: AttachmentId::new_random(),
            ticket_id: ticket,
            kind: pull.kind,
            name: spliced
                .start
                .as_ref()
                .map_or_else(|| pull.path.clone(), |s| audit::bounded(&s.name)),
            agent_id: pull.agent,
            taken_by: name.clone(),
            taken_at: Timestamp::now(),
            bytes: *bytes,
            sha256: *sha256,
        };
        let content = spliced.kept.take().unwrap_or_default();
        if let Err(e) = shared.store.attach_file(&summary, &content).await {
            spliced.ending = Ending::Failed(to_remote(e));
        }
    }
    let outcome = outcome_text(&spliced.ending, pull.attach.is_some());
    let sha256 = match &spliced.ending {
        Ending::Ended { sha256, .. } => Some(*sha256),
        _ => None,
    };
    let mut record = pull;
    if let Value::Object(map) = &mut record.details {
        map.insert("bytes".into(), json!(spliced.bytes));
        map.insert(
            "resolved".into(),
            json!(spliced.start.as_ref().map(|s| audit::bounded(&s.name))),
        );
        map.insert("sha256".into(), json!(sha256.map(|d| d.to_string())));
    }
    finish(
        shared,
        &name,
        &record,
        started_at,
        clock,
        Some((&spliced, sha256)),
        &outcome,
    )
    .await;
    tracing::info!(bytes = spliced.bytes, outcome = %outcome, "stream ended");
    if let Some(last) = spliced.last_frame() {
        out.send(&last).await;
    }
}

/// The result recorded for a pull.
fn outcome_text(ending: &Ending, attached: bool) -> String {
    match ending {
        Ending::Ended {
            reason: EndReason::Complete,
            ..
        } if attached => "ok (attached)".into(),
        Ending::Ended {
            reason: EndReason::Complete,
            ..
        } => "ok".into(),
        Ending::Ended {
            reason: EndReason::Stopped,
            ..
        } => "stopped by the technician".into(),
        Ending::Ended {
            reason: EndReason::LimitReached { limit },
            ..
        } => {
            format!("limit reached ({limit} bytes)")
        }
        Ending::Refused(e) => format!("refused by agent: {}", audit::bounded(&e.message)),
        Ending::Declined(e) => audit::refused(e),
        Ending::Failed(e) => format!("failed: {}", audit::bounded(&e.message)),
        Ending::TechnicianGone => "failed: the technician went away".into(),
    }
}

/// The audit action of a pull.
fn action(kind: AttachmentKind) -> &'static str {
    match kind {
        AttachmentKind::Log => "log.pull",
        AttachmentKind::Screenshot => "screenshot",
    }
}

/// Writes the `transfers` row and the audit entry.
async fn finish(
    shared: &Shared,
    technician: &str,
    pull: &Pull,
    started_at: Timestamp,
    clock: Instant,
    spliced: Option<(&Spliced, Option<triage_shared::transfer::ContentDigest>)>,
    outcome: &str,
) {
    let duration_ms = clock.elapsed().as_millis() as u64;
    let action = action(pull.kind);
    let mut details = pull.details.clone();
    if let Value::Object(map) = &mut details {
        map.insert("duration_ms".into(), json!(duration_ms));
    }
    let record = TransferRecord {
        id: uuid::Uuid::new_v4(),
        kind: pull.kind.as_str().into(),
        technician: technician.into(),
        agent_id: pull.agent,
        path: audit::bounded(&pull.path),
        started_at,
        duration_ms,
        bytes: spliced.map_or(0, |(s, _)| s.bytes),
        sha256: spliced.and_then(|(_, d)| d),
        result: outcome.into(),
        ticket_id: pull.attach,
    };
    if let Err(e) = shared.store.record_transfer(&record).await {
        tracing::error!(error = %e, "could not record the transfer");
    }
    audit::record(
        &shared.store,
        &audit::technician_actor(technician),
        action,
        &format!("agent:{}", pull.agent),
        outcome,
        details,
    )
    .await;
}

/// Sends a stored attachment as a transfer, chunk by chunk, and records
/// the download (`attachment.fetch`) before the last frame.
pub(in crate::server) async fn fetch_attachment(
    shared: &Shared,
    peer: &Peer,
    ticket: TicketId,
    attachment: AttachmentId,
    out: &mut Responder,
) {
    record_ticket(ticket);
    let audit_fetch = |outcome: String, bytes: u64| {
        let details = json!({ "attachment": attachment.to_string(), "bytes": bytes });
        let actor = peer.audit_actor();
        async move {
            let target = format!("ticket:{ticket}");
            audit::record(
                &shared.store,
                &actor,
                "attachment.fetch",
                &target,
                &outcome,
                details,
            )
            .await;
        }
    };
    let found = match shared.store.attachment(ticket, attachment).await {
        Ok(Some(found)) => found,
        Ok(None) => {
            let e = RemoteError::new(
                ErrorKind::NotFound,
                format!("ticket {ticket} has no attachment {attachment}; `triage tickets show {ticket}` lists them"),
            );
            audit_fetch(audit::refused(&e), 0).await;
            out.send(&Response::Error(e)).await;
            return;
        }
        Err(e) => {
            let e = to_remote(e);
            audit_fetch(audit::refused(&e), 0).await;
            out.send(&Response::Error(e)).await;
            return;
        }
    };
    let (summary, content) = found;
    // Downloading a log or a screenshot needs the role that may take one.
    if let Err(refusal) = authorize_fetch(&peer.identity, summary.kind) {
        tracing::info!(reason = %refusal, "attachment download refused");
        audit_fetch(audit::refused(&refusal), 0).await;
        out.send(&Response::Error(refusal)).await;
        return;
    }
    let start = TransferStart {
        name: summary.name.clone(),
        upper_bound: Some(content.len() as u64),
        exact: true,
    };
    let end = TransferEnd {
        bytes: content.len() as u64,
        sha256: triage_shared::transfer::ContentDigest::of(&content),
        reason: EndReason::Complete,
    };
    let chunks = content.chunks(TRANSFER_CHUNK_LEN);
    let frames = std::iter::once(TransferFrame::Start(start))
        .chain(chunks.map(|piece| TransferFrame::Chunk(piece.to_vec())));
    let mut sent = 0u64;
    let live = shared.metrics.transfer(TransferLabel::Attachment);
    for frame in frames {
        let len = match &frame {
            TransferFrame::Chunk(piece) => piece.len() as u64,
            _ => 0,
        };
        if !out.send(&Response::Transfer(frame)).await {
            let outcome = "failed: the technician went away".to_string();
            audit_fetch(outcome, sent).await;
            return;
        }
        live.add_bytes(len);
        sent += len;
    }
    drop(live);
    audit_fetch("ok".into(), sent).await;
    out.send(&Response::Transfer(TransferFrame::End(end))).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_shared::transfer::ContentDigest;

    #[test]
    fn outcomes_name_how_a_pull_ended() {
        let ended = |reason| Ending::Ended {
            reason,
            bytes: 3,
            sha256: ContentDigest::of(b"abc"),
        };
        assert_eq!(outcome_text(&ended(EndReason::Complete), false), "ok");
        assert_eq!(
            outcome_text(&ended(EndReason::Complete), true),
            "ok (attached)"
        );
        assert_eq!(
            outcome_text(&ended(EndReason::LimitReached { limit: 3 }), false),
            "limit reached (3 bytes)"
        );
        assert_eq!(
            outcome_text(&ended(EndReason::Stopped), false),
            "stopped by the technician"
        );
        let refused = Ending::Refused(RemoteError::new(
            ErrorKind::Forbidden,
            "the user did not consent to a screenshot: no desktop session to ask for consent",
        ));
        assert_eq!(
            outcome_text(&refused, false),
            "refused by agent: the user did not consent to a screenshot: no desktop session to ask for consent"
        );
        let failed = Ending::Failed(RemoteError::new(ErrorKind::Unavailable, "agent went away"));
        assert_eq!(outcome_text(&failed, false), "failed: agent went away");
        let declined = Ending::Declined(RemoteError::new(ErrorKind::InvalidInput, "too big"));
        assert_eq!(outcome_text(&declined, false), "refused: too big");
    }
}
