//! `SubmitUpdate`: an agent comments on or resolves a ticket it filed
//! (health-alert readings, "cleared", auto-resolve), or attaches the
//! employee's screenshot from the "Get help" window. Idempotent on the
//! update id, which the agent made when it queued the update.

use crate::server::request::{record_ticket, AuditNote};
use crate::server::Shared;
use crate::store::StoreError;
use serde_json::json;
use tracing::info;
use triage_shared::agent_update::AgentUpdate;
use triage_shared::ids::UpdateId;
use triage_shared::protocol::Response;
use triage_shared::time::Timestamp;
use triage_shared::transfer::{AttachmentId, ContentDigest};
use triage_shared::{AgentId, TicketId};

#[allow(clippy::too_many_arguments)] // the fields of the request, plus where it is recorded
pub(super) async fn submit(
    shared: &Shared,
    agent: AgentId,
    actor: &str,
    id: UpdateId,
    ticket: TicketId,
    update: AgentUpdate,
    now: Timestamp,
    note: &mut AuditNote,
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
    // Only screenshots are audited (see `route`): what was stored,
    // and whether this delivery stored it or an earlier one did.
    if let AgentUpdate::Screenshot(png) = &update {
        note.details = json!({
            "update_id": id.to_string(),
            // The attachment takes the update's id (`agent_updates::apply`).
            "attachment": AttachmentId(id.0).to_string(),
            "bytes": png.len(),
            "sha256": ContentDigest::of(png).to_string(),
        });
        if !applied {
            note.outcome = Some("ok (already stored)".into());
        }
    }
    Ok(Response::Ok)
}
