//! Comments, public or internal (a technician's note the employee never
//! sees), and "My tickets": the employee's own view of the tickets their
//! agent filed, which shows public replies only.

use super::rows::{int, opt_text, parsed, text, timestamp};
use super::{Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};
use triage_shared::ticket::{Comment, EmployeeTicket};
use triage_shared::{AgentId, TicketId};

/// A comment read from columns named `{prefix}id`, `{prefix}author`, ...
fn comment(row: &AnyRow, prefix: &str) -> Result<Comment, StoreError> {
    Ok(Comment {
        id: parsed(row, &format!("{prefix}id"))?,
        author: text(row, &format!("{prefix}author"))?,
        text: text(row, &format!("{prefix}body"))?,
        created_at: timestamp(row, &format!("{prefix}created_at"))?,
        internal: int(row, &format!("{prefix}internal"))? != 0,
    })
}

/// A "My tickets" row: the ticket's columns, then its latest reply's
/// columns prefixed `reply_` (all NULL when there is none).
fn employee_ticket(row: &AnyRow) -> Result<EmployeeTicket, StoreError> {
    let latest_reply = match opt_text(row, "reply_id")? {
        Some(_) => Some(comment(row, "reply_")?),
        None => None,
    };
    Ok(EmployeeTicket {
        id: parsed(row, "id")?,
        title: text(row, "title")?,
        category: parsed(row, "category")?,
        priority: parsed(row, "priority")?,
        status: parsed(row, "status")?,
        created_at: timestamp(row, "created_at")?,
        updated_at: timestamp(row, "updated_at")?,
        latest_reply,
    })
}

impl Store {
    /// The newest `limit` comments of ticket `id`, oldest first.
    pub(super) async fn comments(
        &self,
        id: TicketId,
        limit: usize,
    ) -> Result<Vec<Comment>, StoreError> {
        let mut comments = sqlx::query(
            "SELECT id, author, body, created_at, internal FROM ticket_comments \
             WHERE ticket_id = $1 ORDER BY seq DESC LIMIT $2",
        )
        .bind(id.to_string())
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| comment(r, ""))
        .collect::<Result<Vec<_>, StoreError>>()?;
        comments.reverse();
        Ok(comments)
    }

    /// The newest `limit` tickets that `agent` filed for `requester`, newest
    /// first, each with its latest reply: the newest comment that is public
    /// and was not written by the agent itself (`agent_actor`, the author
    /// its own updates carry). One query: the reply is picked per ticket by
    /// a correlated subquery, which SQLite and PostgreSQL both run off the
    /// `(ticket_id, seq)` index.
    pub async fn my_tickets(
        &self,
        agent: AgentId,
        requester: &str,
        agent_actor: &str,
        limit: usize,
    ) -> Result<Vec<EmployeeTicket>, StoreError> {
        sqlx::query(
            "SELECT t.id, t.title, t.category, t.priority, t.status, t.created_at, t.updated_at, \
                    c.id AS reply_id, c.author AS reply_author, c.body AS reply_body, \
                    c.created_at AS reply_created_at, c.internal AS reply_internal \
             FROM (SELECT id, title, category, priority, status, created_at, updated_at \
                   FROM tickets WHERE agent_id = $1 AND requester = $2 \
                   ORDER BY created_at DESC, id DESC LIMIT $3) t \
             LEFT JOIN ticket_comments c ON c.id = ( \
                   SELECT r.id FROM ticket_comments r \
                   WHERE r.ticket_id = t.id AND r.internal = 0 AND r.author <> $4 \
                   ORDER BY r.seq DESC LIMIT 1) \
             ORDER BY t.created_at DESC, t.id DESC",
        )
        .bind(agent.to_string())
        .bind(requester)
        .bind(limit as i64)
        .bind(agent_actor)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(employee_ticket)
        .collect()
    }
}

/// Appends `comment` to ticket `id`, locked in `tx`.
pub(super) async fn insert_comment(
    tx: &mut Transaction<'static, Any>,
    id: TicketId,
    comment: &Comment,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO ticket_comments (id, ticket_id, seq, author, body, created_at, internal) \
         SELECT $1, $2, COALESCE(MAX(seq), 0) + 1, $3, $4, $5, $6 FROM ticket_comments WHERE ticket_id = $7",
    )
    .bind(comment.id.to_string())
    .bind(id.to_string())
    .bind(&comment.author)
    .bind(&comment.text)
    .bind(comment.created_at.millis())
    .bind(i64::from(comment.internal))
    .bind(id.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}
