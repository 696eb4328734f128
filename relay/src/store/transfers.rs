//! Log pulls and screenshots: what the relay keeps of each (metadata), and
//! the files technicians attached to tickets.

use super::rows::{int, opt_parsed, opt_text, parsed, text, timestamp};
use super::{Store, StoreError};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::AnyConnection;
use triage_shared::time::Timestamp;
use triage_shared::transfer::{AttachmentId, AttachmentSummary, ContentDigest};
use triage_shared::{AgentId, TicketId};
use uuid::Uuid;

/// One log pull or screenshot as the relay saw it pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TransferRecord {
    pub id: Uuid,
    /// `log` or `screenshot`.
    pub kind: String,
    pub technician: String,
    pub agent_id: AgentId,
    /// The path asked for (a screenshot's is `screenshot`).
    pub path: String,
    pub started_at: Timestamp,
    pub duration_ms: u64,
    /// Body bytes that passed through the relay.
    pub bytes: u64,
    /// The relay's own SHA-256 of those bytes, when the body ended properly.
    pub sha256: Option<ContentDigest>,
    /// `ok`, `limit reached`, `stopped`, `refused: …` or `failed: …`.
    pub result: String,
    pub ticket_id: Option<TicketId>,
}

fn record(row: &AnyRow) -> Result<TransferRecord, StoreError> {
    Ok(TransferRecord {
        id: parsed(row, "id")?,
        kind: text(row, "kind")?,
        technician: text(row, "technician")?,
        agent_id: parsed(row, "agent_id")?,
        path: text(row, "path")?,
        started_at: timestamp(row, "started_at")?,
        duration_ms: int(row, "duration_ms")?.max(0) as u64,
        bytes: int(row, "bytes")?.max(0) as u64,
        sha256: opt_text(row, "sha256")?
            .map(|s| s.parse())
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("column sha256: {e}")))?,
        result: text(row, "result")?,
        ticket_id: opt_parsed(row, "ticket_id")?,
    })
}

fn summary(row: &AnyRow) -> Result<AttachmentSummary, StoreError> {
    Ok(AttachmentSummary {
        id: parsed(row, "id")?,
        ticket_id: parsed(row, "ticket_id")?,
        kind: parsed(row, "kind")?,
        name: text(row, "name")?,
        agent_id: parsed(row, "agent_id")?,
        taken_by: text(row, "taken_by")?,
        taken_at: timestamp(row, "taken_at")?,
        bytes: int(row, "bytes")?.max(0) as u64,
        sha256: text(row, "sha256")?
            .parse()
            .map_err(|e| StoreError::Corrupt(format!("column sha256: {e}")))?,
    })
}

const SUMMARY_COLUMNS: &str =
    "id, ticket_id, kind, name, agent_id, taken_by, taken_at, bytes, sha256";

/// A file to store on a ticket in the same transaction as the rest of a
/// ticket update (an employee's screenshot, applied once per update id).
#[derive(Debug, Clone, PartialEq)]
pub struct NewAttachment {
    pub summary: AttachmentSummary,
    pub content: Vec<u8>,
}

/// Inserts one attachment on `conn` (a pooled connection or an open
/// transaction).
pub(super) async fn insert_attachment(
    conn: &mut AnyConnection,
    a: &AttachmentSummary,
    content: &[u8],
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO ticket_attachments (id, ticket_id, kind, name, agent_id, taken_by, taken_at, bytes, sha256, content_hex) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(a.id.to_string())
    .bind(a.ticket_id.to_string())
    .bind(a.kind.as_str())
    .bind(&a.name)
    .bind(a.agent_id.to_string())
    .bind(&a.taken_by)
    .bind(a.taken_at.millis())
    .bind(big(a.bytes))
    .bind(a.sha256.to_string())
    .bind(hex::encode(content))
    .execute(conn)
    .await?;
    Ok(())
}

/// Saturates rather than wraps for the BIGINT columns.
fn big(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Store {
    pub async fn record_transfer(&self, r: &TransferRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO transfers (id, kind, technician, agent_id, path, started_at, duration_ms, bytes, sha256, result, ticket_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(r.id.to_string())
        .bind(&r.kind)
        .bind(&r.technician)
        .bind(r.agent_id.to_string())
        .bind(&r.path)
        .bind(r.started_at.millis())
        .bind(big(r.duration_ms))
        .bind(big(r.bytes))
        .bind(r.sha256.map(|d| d.to_string()))
        .bind(&r.result)
        .bind(r.ticket_id.map(|t| t.to_string()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The newest `limit` transfers, newest first.
    pub async fn transfers(&self, limit: usize) -> Result<Vec<TransferRecord>, StoreError> {
        sqlx::query(
            "SELECT id, kind, technician, agent_id, path, started_at, duration_ms, bytes, sha256, result, ticket_id \
             FROM transfers ORDER BY started_at DESC, id DESC LIMIT $1",
        )
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(record)
        .collect()
    }

    /// Stores `content` on the ticket named in `a`.
    pub async fn attach_file(
        &self,
        a: &AttachmentSummary,
        content: &[u8],
    ) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        insert_attachment(&mut conn, a, content).await
    }

    /// The newest `limit` attachments of a ticket, oldest first.
    pub async fn attachments(
        &self,
        ticket: TicketId,
        limit: usize,
    ) -> Result<Vec<AttachmentSummary>, StoreError> {
        let mut out = sqlx::query(&format!(
            "SELECT {SUMMARY_COLUMNS} FROM ticket_attachments WHERE ticket_id = $1 \
             ORDER BY taken_at DESC, id DESC LIMIT $2"
        ))
        .bind(ticket.to_string())
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(summary)
        .collect::<Result<Vec<_>, _>>()?;
        out.reverse();
        Ok(out)
    }

    /// One attachment with its content.
    pub async fn attachment(
        &self,
        ticket: TicketId,
        id: AttachmentId,
    ) -> Result<Option<(AttachmentSummary, Vec<u8>)>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {SUMMARY_COLUMNS}, content_hex FROM ticket_attachments WHERE ticket_id = $1 AND id = $2"
        ))
        .bind(ticket.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let content = hex::decode(text(&row, "content_hex")?)
            .map_err(|e| StoreError::Corrupt(format!("column content_hex: {e}")))?;
        Ok(Some((summary(&row)?, content)))
    }
}
