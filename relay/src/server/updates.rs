//! `SubmitUpdate`: an agent comments on or resolves a ticket it filed
//! (health-alert readings, "cleared", auto-resolve). Idempotent on the
//! update id, which the agent made when it queued the update.

use super::commands::record_ticket;
use super::Shared;
use crate::store::StoreError;
use tracing::info;
use triage_shared::agent_update::AgentUpdate;
use triage_shared::ids::UpdateId;
use triage_shared::protocol::Response;
use triage_shared::time::Timestamp;
use triage_shared::{AgentId, TicketId};

pub(super) async fn submit(
    shared: &Shared,
    agent: AgentId,
    actor: &str,
    id: UpdateId,
    ticket: TicketId,
    update: AgentUpdate,
    now: Timestamp,
) -> Result<Response, StoreError> {
    record_ticket(ticket);
    let applied = shared
        .store
        .apply_agent_update(agent, actor, id, ticket, &update, now)
        .await?;
    if applied {
        info!(update_id = %id, kind = update.name(), "agent update applied");
    } else {
        info!(update_id = %id, "agent update was already applied; nothing to do");
    }
    Ok(Response::Ok)
}
