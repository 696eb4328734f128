//! Ticket requests: an agent files one; technicians list, show, comment,
//! note, assign, escalate and change status, each through the pure rules
//! in `crate::workflow` applied inside the store's transaction. An agent's
//! own tickets (`my_tickets`) and updates (`updates`) sit beside this.

use super::{my_tickets, updates};
use crate::server::failpoint;
use crate::server::request::{list_limit, record_ticket, AuditNote, Peer};
use crate::server::Shared;
use crate::store::StoreError;
use crate::workflow;
use tracing::info;
use triage_shared::agent_update::AgentUpdate;
use triage_shared::diagnostics::Snapshot;
use triage_shared::ids::UpdateId;
use triage_shared::limits::MAX_NAME_LEN;
use triage_shared::protocol::{ErrorKind, RemoteError, Response};
use triage_shared::selector::TicketRef;
use triage_shared::ticket::{NewTicket, Priority, Status, StatusAction};
use triage_shared::time::Timestamp;
use triage_shared::TicketId;

pub(in crate::server) async fn submit(
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

pub(in crate::server) async fn list(
    shared: &Shared,
    status: Option<Status>,
    limit: u32,
) -> Result<Response, StoreError> {
    Ok(Response::Tickets(
        shared.store.list_tickets(status, list_limit(limit)).await?,
    ))
}

/// The one ticket a full id or prefix names, among all of them.
pub(in crate::server) async fn resolve(
    shared: &Shared,
    reference: &TicketRef,
) -> Result<Response, StoreError> {
    let id = crate::resolve::ticket(&shared.store, reference).await?;
    Ok(Response::TicketMatch(id))
}

pub(in crate::server) async fn show(shared: &Shared, id: TicketId) -> Result<Response, StoreError> {
    record_ticket(id);
    match shared.store.ticket_detail(id).await? {
        Some(detail) => Ok(Response::Ticket(Box::new(detail))),
        None => Err(crate::store::ticket_not_found(id)),
    }
}

pub(in crate::server) async fn comment(
    shared: &Shared,
    peer: &Peer,
    id: TicketId,
    text: &str,
    now: Timestamp,
) -> Result<Response, StoreError> {
    record_ticket(id);
    let actor = peer.actor();
    shared
        .store
        .update_ticket(id, |t| workflow::comment(t, &actor, text, now))
        .await?;
    Ok(Response::Ok)
}

pub(in crate::server) async fn note(
    shared: &Shared,
    peer: &Peer,
    id: TicketId,
    text: &str,
    now: Timestamp,
) -> Result<Response, StoreError> {
    record_ticket(id);
    let actor = peer.actor();
    shared
        .store
        .update_ticket(id, |t| workflow::note(t, &actor, text, now))
        .await?;
    Ok(Response::Ok)
}

pub(in crate::server) async fn set_priority(
    shared: &Shared,
    peer: &Peer,
    id: TicketId,
    priority: Priority,
    note: Option<&str>,
    now: Timestamp,
) -> Result<Response, StoreError> {
    record_ticket(id);
    let actor = peer.actor();
    shared
        .store
        .update_ticket(id, |t| {
            workflow::set_priority(t, priority, &actor, note, now)
        })
        .await?;
    info!(%priority, "ticket priority changed");
    Ok(Response::Ok)
}

pub(in crate::server) async fn assign(
    shared: &Shared,
    peer: &Peer,
    id: TicketId,
    assignee: &str,
    now: Timestamp,
) -> Result<Response, StoreError> {
    record_ticket(id);
    let store = &shared.store;
    if store.technician(assignee).await?.is_none() {
        return Err(StoreError::refused(
            ErrorKind::NotFound,
            format!(
                "no technician named `{}`; registered technicians are listed by `triage-relay technician list`",
                assignee.chars().take(MAX_NAME_LEN).collect::<String>()
            ),
        ));
    }
    let actor = peer.actor();
    store
        .update_ticket(id, |t| workflow::assign(t, assignee, &actor, now))
        .await?;
    info!(%assignee, "ticket assigned");
    Ok(Response::Ok)
}

pub(in crate::server) async fn escalate(
    shared: &Shared,
    peer: &Peer,
    id: TicketId,
    note: Option<&str>,
    now: Timestamp,
) -> Result<Response, StoreError> {
    record_ticket(id);
    let actor = peer.actor();
    let t = shared
        .store
        .update_ticket(id, |t| workflow::escalate(t, &actor, note, now))
        .await?;
    info!(tier = %t.tier, "ticket escalated");
    Ok(Response::Ok)
}

pub(in crate::server) async fn change_status(
    shared: &Shared,
    peer: &Peer,
    id: TicketId,
    action: StatusAction,
    note: Option<&str>,
    now: Timestamp,
) -> Result<Response, StoreError> {
    record_ticket(id);
    let actor = peer.actor();
    let t = shared
        .store
        .update_ticket(id, |t| {
            workflow::change_status(t, action, &actor, note, now)
        })
        .await?;
    info!(status = %t.status, "ticket status changed");
    Ok(Response::Ok)
}

pub(in crate::server) async fn my_tickets(
    shared: &Shared,
    peer: &Peer,
    requester: &str,
    limit: u32,
) -> Result<Response, StoreError> {
    my_tickets::list(shared, peer.agent_id()?, &peer.actor(), requester, limit).await
}

pub(in crate::server) async fn ticket_news(
    shared: &Shared,
    peer: &Peer,
    since: Timestamp,
    now: Timestamp,
) -> Result<Response, StoreError> {
    my_tickets::news(shared, peer.agent_id()?, since, now).await
}

#[allow(clippy::too_many_arguments)] // the fields of the request, plus where it is recorded
pub(in crate::server) async fn submit_update(
    shared: &Shared,
    peer: &Peer,
    id: UpdateId,
    ticket: TicketId,
    update: AgentUpdate,
    now: Timestamp,
    note: &mut AuditNote,
) -> Result<Response, StoreError> {
    let agent = peer.agent_id()?;
    updates::submit(shared, agent, &peer.actor(), id, ticket, update, now, note).await
}
