//! One request in, its response out. Authorization comes first; then each
//! request does its work against the store, with the ticket rules taken from
//! `crate::workflow` and the script rules from `crate::scripts`. Audited
//! requests are recorded, refused or not, before the answer goes out.

use super::authz::authorize;
use super::connection::Responder;
use super::{
    diag, failpoint, handshake, logs, my_tickets, ping, revoke, scripts, updates, Peer, Shared,
};
use crate::audit::{self, Subject};
use crate::store::StoreError;
use crate::{admin, org, resolve, revocation, workflow};
use serde_json::{json, Value};
use std::time::Duration;
use tracing::{error, info};
use triage_shared::diagnostics::Snapshot;
use triage_shared::limits::{MAX_FRAME_LEN, MAX_LIST_ITEMS, MAX_NAME_LEN, MAX_SNAPSHOT_STRING_LEN};
use triage_shared::protocol::{
    AgentSummary, ErrorKind, RemoteError, Request, Response, SessionIdentity,
};
use triage_shared::ticket::{check_text, NewTicket, Status};
use triage_shared::time::Timestamp;
use triage_shared::token::{EnrollmentToken, TokenSecret};
use triage_shared::{AgentId, TicketId};

/// Room left in a frame for everything but the audit entries of a page.
const AUDIT_PAGE_BUDGET: usize = MAX_FRAME_LEN - 64 * 1024;

/// What a handler adds to its audit entry: facts, and an outcome other
/// than the plain "ok" / "refused: …".
#[derive(Debug, Default)]
pub(super) struct AuditNote {
    pub details: Value,
    pub outcome: Option<String>,
}

/// Requests that write their own audit entries once they get past
/// authorization: registration and tokens (in `crate::admin`, shared with
/// the offline commands), script runs, log pulls and screenshots (whose
/// entries must land before the last streamed frame).
fn records_itself(request: &Request) -> bool {
    matches!(
        request,
        Request::RegisterTechnician { .. }
            | Request::CreateEnrollmentToken { .. }
            | Request::RunScript { .. }
            | Request::PullLogs { .. }
            | Request::Screenshot { .. }
            | Request::PublishRoster { .. }
            | Request::PublishRotation { .. }
            | Request::FetchAttachment { .. }
            | Request::RemoveTechnician { .. }
            | Request::SetTechnicianRoles { .. }
            | Request::RemoveAgent { .. }
            | Request::RevokeToken { .. }
    )
}

/// Whether a refusal of an unenrolled peer gets its own audit entry: at
/// most `REFUSED_ENROLLMENTS_PER_WINDOW` a minute, the next one recorded
/// saying how many were skipped (anyone with a key can be refused, so
/// every refusal recorded would let a stranger grow the log without end).
fn within_refusal_budget(shared: &Shared, peer: &Peer, refused: bool, details: &mut Value) -> bool {
    if !refused || !matches!(peer.identity, SessionIdentity::Unenrolled) {
        return true;
    }
    match shared.refused_enrollments.admit(std::time::Instant::now()) {
        super::login_budget::Admission::Record { suppressed } => {
            if suppressed > 0 {
                details["refused_unenrolled_not_recorded_before_this"] = suppressed.into();
            }
            true
        }
        super::login_budget::Admission::Suppress => false,
    }
}

/// `recv` is the rest of the request stream: a followed log pull reads its
/// end as "stop"; other requests ignore it.
pub(super) async fn execute(
    shared: &Shared,
    peer: &Peer,
    request: Request,
    recv: quinn::RecvStream,
    out: &mut Responder,
) {
    // Roles and removal as the store holds them now, not as at the hello.
    let peer = match revoke::current_peer(shared, peer).await {
        Ok(current) => current,
        Err(refusal) => {
            info!(reason = %refusal, "request refused: the peer's access changed");
            out.send(&Response::Error(refusal)).await;
            return;
        }
    };
    let peer = &peer;
    let subject = audit::subject(&request);
    let actor = peer.audit_actor();
    if let Err(refusal) = authorize(&peer.identity, &request) {
        info!(reason = %refusal, "request refused");
        if let Some(Subject { action, target }) = &subject {
            let outcome = audit::refused(&refusal);
            let mut details = json!({});
            if within_refusal_budget(shared, peer, true, &mut details) {
                audit::record(&shared.store, &actor, action, target, &outcome, details).await;
            }
        }
        out.send(&Response::Error(refusal)).await;
        return;
    }
    let subject = subject.filter(|_| !records_itself(&request));
    let mut note = AuditNote::default();
    let result = match request {
        Request::RunScript { ticket, script } => {
            scripts::run(shared, peer, ticket, script, out).await;
            return;
        }
        Request::PullLogs {
            agent,
            query,
            attach,
        } => {
            logs::pull_logs(shared, peer, agent, query, attach, recv, out).await;
            return;
        }
        Request::Screenshot { agent, attach } => {
            logs::screenshot(shared, peer, agent, attach, recv, out).await;
            return;
        }
        Request::FetchAttachment { ticket, attachment } => {
            logs::fetch_attachment(shared, peer, ticket, attachment, out).await;
            return;
        }
        other => run(shared, peer, other, &mut note).await,
    };
    let response = result.map_err(to_remote);
    if let Some(Subject { action, target }) = &subject {
        let outcome = match (&response, note.outcome) {
            (Err(e), _) => audit::refused(e),
            (Ok(_), Some(outcome)) => outcome,
            (Ok(_), None) => "ok".into(),
        };
        let mut details = if note.details.is_null() {
            json!({})
        } else {
            note.details
        };
        if within_refusal_budget(shared, peer, response.is_err(), &mut details) {
            audit::record(&shared.store, &actor, action, target, &outcome, details).await;
        }
    }
    let response = match response {
        Ok(r) => r,
        Err(refusal) => {
            info!(reason = %refusal, "request refused");
            Response::Error(refusal)
        }
    };
    out.send(&response).await;
}

/// What the technician hears about a failure: a refusal as it is, an
/// internal error as a generic message (the details go to the log).
pub(super) fn to_remote(e: StoreError) -> RemoteError {
    match e {
        StoreError::Refused(refusal) => refusal,
        e => {
            error!(error = %e, "request failed");
            RemoteError::new(
                ErrorKind::Internal,
                "the relay could not complete this request (storage error); try again, and tell the relay admin if it persists",
            )
        }
    }
}

pub(super) fn record_ticket(id: TicketId) {
    tracing::Span::current().record("ticket_id", tracing::field::display(id));
}

/// The number of items to list: `0` means "as many as allowed".
pub(super) fn list_limit(asked: u32) -> usize {
    match asked as usize {
        0 => MAX_LIST_ITEMS,
        n => n.min(MAX_LIST_ITEMS),
    }
}

async fn run(
    shared: &Shared,
    peer: &Peer,
    request: Request,
    note: &mut AuditNote,
) -> Result<Response, StoreError> {
    let store = &shared.store;
    let now = Timestamp::now();
    let actor = peer.actor();
    match request {
        Request::MyTickets { requester, limit } => {
            my_tickets::list(shared, peer.agent_id()?, &actor, &requester, limit).await
        }
        Request::Note { id, text } => {
            record_ticket(id);
            store
                .update_ticket(id, |t| workflow::note(t, &actor, &text, now))
                .await?;
            Ok(Response::Ok)
        }
        Request::WhoAmI => Ok(Response::Identity(peer.identity.clone())),
        Request::Enroll {
            token_secret,
            hostname,
            os,
        } => {
            check_text("hostname", &hostname, MAX_NAME_LEN, false)?;
            check_text("os", &os, MAX_SNAPSHOT_STRING_LEN, true)?;
            let secret = parse_secret(&token_secret)?;
            let agent_id = store
                .enroll(&secret.hash_hex(), &peer.key, &hostname, &os, now)
                .await?;
            note.details = json!({ "agent_id": agent_id.to_string(), "os": os });
            info!(%agent_id, %hostname, "agent enrolled");
            Ok(Response::Enrolled { agent_id })
        }
        Request::Heartbeat => {
            store.touch_agent(peer.agent_id()?, now).await?;
            Ok(Response::Ok)
        }
        Request::SubmitTicket { ticket, snapshot } => {
            submit_ticket(shared, peer, ticket, snapshot, now).await
        }
        Request::ListTickets { status, limit } => list_tickets(shared, status, limit).await,
        Request::ShowTicket { id } => {
            record_ticket(id);
            match store.ticket_detail(id).await? {
                Some(detail) => Ok(Response::Ticket(Box::new(detail))),
                None => Err(crate::store::ticket_not_found(id)),
            }
        }
        Request::Comment { id, text } => {
            record_ticket(id);
            store
                .update_ticket(id, |t| workflow::comment(t, &actor, &text, now))
                .await?;
            Ok(Response::Ok)
        }
        Request::Assign { id, assignee } => {
            record_ticket(id);
            if store.technician(&assignee).await?.is_none() {
                return Err(StoreError::refused(
                    ErrorKind::NotFound,
                    format!(
                        "no technician named `{}`; registered technicians are listed by `triage-relay technician list`",
                        assignee.chars().take(MAX_NAME_LEN).collect::<String>()
                    ),
                ));
            }
            store
                .update_ticket(id, |t| workflow::assign(t, &assignee, &actor, now))
                .await?;
            info!(%assignee, "ticket assigned");
            Ok(Response::Ok)
        }
        Request::Escalate { id, note } => {
            record_ticket(id);
            let t = store
                .update_ticket(id, |t| workflow::escalate(t, &actor, note.as_deref(), now))
                .await?;
            info!(tier = %t.tier, "ticket escalated");
            Ok(Response::Ok)
        }
        Request::ChangeStatus { id, action, note } => {
            record_ticket(id);
            let t = store
                .update_ticket(id, |t| {
                    workflow::change_status(t, action, &actor, note.as_deref(), now)
                })
                .await?;
            info!(status = %t.status, "ticket status changed");
            Ok(Response::Ok)
        }
        Request::ListAgents => {
            let agents = store.list_agents(MAX_LIST_ITEMS).await?;
            let summaries = agents.into_iter().map(|a| agent_summary(shared, a)).collect();
            Ok(Response::Agents(summaries))
        }
        Request::ListAgentsPage { after, limit } => {
            let (agents, next) = resolve::agent_page(store, after.as_ref(), limit).await?;
            let agents = agents.into_iter().map(|a| agent_summary(shared, a)).collect();
            Ok(Response::AgentPage { agents, next })
        }
        Request::ResolveAgent { selector } => {
            let agent = resolve::agent(store, &selector).await?;
            Ok(Response::AgentMatch(agent_summary(shared, agent)))
        }
        Request::ResolveTicket { reference } => {
            Ok(Response::TicketMatch(resolve::ticket(store, &reference).await?))
        }
        Request::RegisterTechnician {
            name,
            roles,
            public_key,
        } => {
            let by = peer.audit_actor();
            admin::register_technician(store, &name, &roles, public_key, &by, now).await?;
            Ok(Response::Ok)
        }
        Request::CreateEnrollmentToken { uses, ttl_secs } => {
            let ttl = Duration::from_secs(ttl_secs);
            let by = peer.audit_actor();
            // No org key from here: the store may have been changed. The
            // technician's CLI adds the key it pinned itself.
            let request = admin::TokenRequest {
                uses,
                ttl,
                org: None,
            };
            let (token, expires_at) =
                admin::mint_token(store, &shared.locator, request, &by, now).await?;
            Ok(Response::Token {
                token: token.to_string(),
                expires_at,
                uses,
            })
        }
        Request::ListTechnicians => Ok(Response::Technicians(
            store.list_technicians(MAX_LIST_ITEMS).await?,
        )),
        Request::AttachScript { script, content } => {
            scripts::attach(shared, peer, script, content, now, note).await
        }
        Request::ListScripts { ticket } => scripts::list(shared, ticket, now).await,
        Request::ShowScript { ticket, script } => scripts::show(shared, ticket, script).await,
        Request::ApproveScript { ticket, approval } => {
            scripts::approve(shared, peer, ticket, approval, now, note).await
        }
        // Streamed; `execute` hands them to `scripts` and `logs` before this point.
        Request::RunScript { .. }
        | Request::PullLogs { .. }
        | Request::Screenshot { .. }
        | Request::FetchAttachment { .. } => Err(StoreError::refused(
            ErrorKind::Internal,
            "streamed requests (script runs, log pulls, screenshots, attachments) are not answered on this path",
        )),
        Request::ListAudit {
            after_seq,
            since,
            limit,
        } => {
            let entries = store
                .audit_entries(after_seq, since, list_limit(limit))
                .await?;
            Ok(Response::Audit(audit::fit_page(entries, AUDIT_PAGE_BUDGET)))
        }
        Request::Diagnose {
            agent,
            sections,
            attach,
        } => diag::diagnose(shared, peer, agent, sections, attach, note).await,
        Request::SubmitUpdate { id, ticket, update } => {
            let agent = peer.agent_id()?;
            updates::submit(shared, agent, &actor, id, ticket, update, now, note).await
        }
        Request::PingAgent { agent } => ping::ping(shared, agent).await,
        Request::ExportRoster { validity_secs } => {
            let validity = Duration::from_secs(validity_secs);
            let roster = org::export_roster(store, now, validity).await?;
            Ok(Response::RosterDraft(Box::new(roster)))
        }
        Request::PublishRoster { roster } => {
            org::publish_roster(store, &roster, &peer.audit_actor(), now).await?;
            shared.roster_published.notify_one();
            Ok(Response::Ok)
        }
        Request::CurrentRoster => Ok(Response::CurrentRoster(
            store.latest_roster().await?.map(Box::new),
        )),
        Request::PublishRotation { rotation } => {
            org::publish_rotation(store, &rotation, &peer.audit_actor(), now).await?;
            Ok(Response::Ok)
        }
        Request::RemoveTechnician { name } => {
            let removed = revocation::remove_technician(store, &name, &peer.audit_actor(), now).await?;
            let refusal = handshake::technician_removed(&removed.name, now);
            shared.revocations.announce(removed.public_key, &refusal);
            Ok(Response::Ok)
        }
        Request::SetTechnicianRoles { name, roles } => {
            revocation::set_technician_roles(store, &name, &roles, &peer.audit_actor()).await?;
            Ok(Response::Ok)
        }
        Request::RemoveAgent { agent } => {
            let removed = revocation::remove_agent(store, agent, &peer.audit_actor(), now).await?;
            let refusal = handshake::agent_removed(removed.id, &removed.hostname, now);
            shared.revocations.announce(removed.public_key, &refusal);
            Ok(Response::Ok)
        }
        Request::ListTokens => Ok(Response::Tokens(store.list_tokens(MAX_LIST_ITEMS).await?)),
        Request::RevokeToken { id } => {
            revocation::revoke_token(store, &id, &peer.audit_actor(), now).await?;
            Ok(Response::Ok)
        }
    }
}

/// An agent as technicians see it listed: with whether it is connected now.
fn agent_summary(shared: &Shared, agent: crate::store::AgentRecord) -> AgentSummary {
    AgentSummary {
        online: shared.registry.is_online(agent.id),
        id: agent.id,
        hostname: agent.hostname,
        os: agent.os,
        enrolled_at: agent.enrolled_at,
        last_seen: agent.last_seen,
    }
}

/// Accepts the bare 64-hex secret, or a whole token pasted as it was handed out.
fn parse_secret(text: &str) -> Result<TokenSecret, RemoteError> {
    let text = text.trim();
    let parsed = match text.parse::<EnrollmentToken>() {
        Ok(token) => Ok(token.secret),
        Err(_) => TokenSecret::from_hex(text),
    };
    parsed.map_err(|_| {
        RemoteError::new(
            ErrorKind::InvalidToken,
            "this is not an enrollment token; copy the whole token printed by `triage-relay token`",
        )
    })
}

async fn submit_ticket(
    shared: &Shared,
    peer: &Peer,
    new: NewTicket,
    snapshot: Option<Snapshot>,
    now: Timestamp,
) -> Result<Response, StoreError> {
    record_ticket(new.id);
    if let Some(s) = &snapshot {
        s.validate()?;
    }
    let agent_id = peer.agent_id()?;
    let agent = shared.store.agent(agent_id).await?.ok_or_else(|| {
        RemoteError::new(
            ErrorKind::Unauthenticated,
            "this agent is no longer enrolled; enroll it again",
        )
    })?;
    let (ticket, created) = workflow::new_ticket_from_agent(&new, &agent, now)?;
    let stored = shared
        .store
        .create_ticket(&ticket, &created, snapshot.as_ref())
        .await?;
    if stored {
        info!(priority = %ticket.priority, source = %ticket.source, "ticket filed");
        failpoint::after_ticket_commit();
    }
    Ok(Response::TicketStored {
        id: ticket.id,
        created: stored,
    })
}

async fn list_tickets(
    shared: &Shared,
    status: Option<Status>,
    limit: u32,
) -> Result<Response, StoreError> {
    Ok(Response::Tickets(
        shared.store.list_tickets(status, list_limit(limit)).await?,
    ))
}

impl Peer {
    /// The name recorded as the author of comments and events.
    fn actor(&self) -> String {
        match &self.identity {
            SessionIdentity::Technician { name, .. } => name.clone(),
            SessionIdentity::Agent { hostname, .. } => format!("agent:{hostname}"),
            SessionIdentity::Unenrolled => "unenrolled".into(),
        }
    }

    /// Who this peer is in the audit log.
    pub(super) fn audit_actor(&self) -> String {
        match &self.identity {
            SessionIdentity::Technician { name, .. } => audit::technician_actor(name),
            SessionIdentity::Agent { id, .. } => audit::agent_actor(*id),
            SessionIdentity::Unenrolled => audit::key_actor(&self.key),
        }
    }

    /// The technician's name; authorization has already made sure there is one.
    pub(super) fn technician_name(&self) -> Result<&str, RemoteError> {
        match &self.identity {
            SessionIdentity::Technician { name, .. } => Ok(name),
            _ => Err(RemoteError::new(
                ErrorKind::Unauthenticated,
                "only a registered technician may send this",
            )),
        }
    }

    pub(super) fn agent_id(&self) -> Result<AgentId, RemoteError> {
        match &self.identity {
            SessionIdentity::Agent { id, .. } => Ok(*id),
            _ => Err(RemoteError::new(
                ErrorKind::Unauthenticated,
                "only an enrolled agent may send this",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_limit_is_clamped() {
        assert_eq!(list_limit(0), MAX_LIST_ITEMS);
        assert_eq!(list_limit(5), 5);
        assert_eq!(list_limit(MAX_LIST_ITEMS as u32), MAX_LIST_ITEMS);
        assert_eq!(list_limit(u32::MAX), MAX_LIST_ITEMS);
    }

    #[test]
    fn token_secret_is_read_bare_or_from_a_whole_token() {
        let secret = TokenSecret::generate();
        assert_eq!(parse_secret(&secret.to_hex()).unwrap(), secret);
        let whole = format!(
            "triage://relay:4433?fp={}&token={}",
            "ab".repeat(32),
            secret.to_hex()
        );
        assert_eq!(parse_secret(&whole).unwrap(), secret);
        assert_eq!(
            parse_secret("nonsense").unwrap_err().kind,
            ErrorKind::InvalidToken
        );
    }
}
