//! What an endpoint's employees may see of the tickets it filed
//! ([`TicketNews`]), and the resolved tickets the auto-close sweeper closes.

use super::rows::{parsed, text, timestamp, TICKET_COLUMNS};
use super::{Store, StoreError};
use triage_shared::news::{TicketNews, MAX_NEWS_REPLIES, MAX_NEWS_REPLY_LEN, MAX_NEWS_TICKETS};
use triage_shared::text::shortened;
use triage_shared::ticket::{Comment, Ticket};
use triage_shared::time::Timestamp;
use triage_shared::{AgentId, TicketId};

/// Most resolved tickets one sweep closes; the next sweep takes the rest.
pub const MAX_AUTO_CLOSE_BATCH: usize = 100;

impl Store {
    /// The tickets `agent` filed that changed at or after `since`, oldest
    /// change first, at most [`MAX_NEWS_TICKETS`]; `true` when there are more.
    pub async fn ticket_news_since(
        &self,
        agent: AgentId,
        since: Timestamp,
    ) -> Result<(Vec<TicketNews>, bool), StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {TICKET_COLUMNS} FROM tickets WHERE agent_id = $1 AND updated_at >= $2 \
             ORDER BY updated_at, id LIMIT $3"
        ))
        .bind(agent.to_string())
        .bind(since.millis())
        .bind(MAX_NEWS_TICKETS as i64 + 1)
        .fetch_all(&self.pool)
        .await?;
        let more = rows.len() > MAX_NEWS_TICKETS;
        let mut news = Vec::new();
        for row in rows.iter().take(MAX_NEWS_TICKETS) {
            let ticket = super::rows::ticket(row)?;
            news.push(self.news_of(&ticket).await?);
        }
        Ok((news, more))
    }

    /// Ticket `id` as its requester may see it, with the agent that filed
    /// it; `None` when it does not exist or no agent filed it.
    pub async fn ticket_news(
        &self,
        id: TicketId,
    ) -> Result<Option<(AgentId, TicketNews)>, StoreError> {
        let Some(ticket) = self.ticket(id).await? else {
            return Ok(None);
        };
        let Some(agent) = ticket.agent_id else {
            return Ok(None);
        };
        Ok(Some((agent, self.news_of(&ticket).await?)))
    }

    async fn news_of(&self, ticket: &Ticket) -> Result<TicketNews, StoreError> {
        // Public comments only, and not the agent's own readings: an
        // internal note never leaves the relay toward an endpoint.
        let mut replies = sqlx::query(
            "SELECT id, author, body, created_at FROM ticket_comments \
             WHERE ticket_id = $1 AND internal = 0 AND author NOT LIKE 'agent:%' \
             ORDER BY seq DESC LIMIT $2",
        )
        .bind(ticket.id.to_string())
        .bind(MAX_NEWS_REPLIES as i64)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(Comment {
                id: parsed(r, "id")?,
                author: text(r, "author")?,
                text: shortened(&text(r, "body")?, MAX_NEWS_REPLY_LEN).to_string(),
                created_at: timestamp(r, "created_at")?,
                internal: false,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
        replies.reverse();
        Ok(TicketNews {
            id: ticket.id,
            title: ticket.title.clone(),
            requester: ticket.requester.clone(),
            status: ticket.status,
            updated_at: ticket.updated_at,
            replies,
        })
    }

    /// Up to [`MAX_AUTO_CLOSE_BATCH`] resolved tickets last changed before
    /// `cutoff`, oldest first.
    pub async fn resolved_before(&self, cutoff: Timestamp) -> Result<Vec<TicketId>, StoreError> {
        sqlx::query(
            "SELECT id FROM tickets WHERE status = 'resolved' AND updated_at < $1 \
             ORDER BY updated_at, id LIMIT $2",
        )
        .bind(cutoff.millis())
        .bind(MAX_AUTO_CLOSE_BATCH as i64)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| parsed(r, "id"))
        .collect()
    }
}
