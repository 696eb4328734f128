//! Agents' updates to their own tickets, applied once per update id.

use super::tickets::{lock_ticket, write_update};
use super::{settle, Store, StoreError};
use crate::agent_updates;
use triage_shared::agent_update::AgentUpdate;
use triage_shared::error::ErrorKind;
use triage_shared::ids::UpdateId;
use triage_shared::time::Timestamp;
use triage_shared::{AgentId, TicketId};

impl Store {
    /// Applies `update` from `agent` to `ticket`, recording `id` in the same
    /// transaction. Returns `false` when this agent already delivered `id`
    /// (a redelivery: nothing changes). A ticket the agent did not file is
    /// refused (`Forbidden`), and so is an id another agent or ticket used
    /// (`Conflict`); refusals leave no trace.
    pub async fn apply_agent_update(
        &self,
        agent: AgentId,
        actor: &str,
        id: UpdateId,
        ticket: TicketId,
        update: &AgentUpdate,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let policy = self.sla_policy();
        let mut tx = self.begin().await?;
        let result = async {
            let current = lock_ticket(&mut tx, ticket).await?;
            if current.agent_id != Some(agent) {
                return Err(agent_updates::not_yours(&current).into());
            }
            let recorded = sqlx::query(
                "INSERT INTO agent_updates (id, ticket_id, agent_id, kind, received_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
            )
            .bind(id.to_string())
            .bind(ticket.to_string())
            .bind(agent.to_string())
            .bind(update.name())
            .bind(now.millis())
            .execute(&mut *tx)
            .await?;
            if recorded.rows_affected() == 0 {
                let row = sqlx::query("SELECT ticket_id FROM agent_updates WHERE id = $1")
                    .bind(id.to_string())
                    .fetch_one(&mut *tx)
                    .await?;
                let earlier: TicketId = super::rows::parsed(&row, "ticket_id")?;
                if earlier == ticket {
                    return Ok(false);
                }
                return Err(StoreError::refused(
                    ErrorKind::Conflict,
                    format!(
                        "update {id} was already used for another ticket; send it with a new id"
                    ),
                ));
            }
            let decided = agent_updates::apply(&current, agent, actor, id, update, now)?;
            match update {
                AgentUpdate::ArticlesViewed { articles, .. } => {
                    super::kb::record_views(&mut tx, ticket, articles).await?;
                }
                _ => {
                    write_update(&mut tx, ticket, &decided, &policy).await?;
                }
            }
            Ok(true)
        }
        .await;
        self.announced(settle(tx, result).await).await
    }
}
