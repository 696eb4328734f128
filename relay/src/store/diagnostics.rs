//! Live diagnostics a technician attached to a ticket (`triage diag --attach`).

use super::rows::{json, text, timestamp, to_json};
use super::tickets::json_safe;
use super::{Store, StoreError};
use triage_shared::protocol::AttachedDiagnostics;
use triage_shared::remote::DiagnosticsReport;
use triage_shared::TicketId;

impl Store {
    pub async fn attach_diagnostics(
        &self,
        ticket: TicketId,
        attached: &AttachedDiagnostics,
    ) -> Result<(), StoreError> {
        let report = DiagnosticsReport {
            snapshot: json_safe(&attached.report.snapshot),
            ..attached.report.clone()
        };
        sqlx::query(
            "INSERT INTO ticket_diagnostics (id, ticket_id, taken_at, taken_by, report_json) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(ticket.to_string())
        .bind(attached.taken_at.millis())
        .bind(&attached.taken_by)
        .bind(to_json(&report)?)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The newest `limit` attachments of a ticket, oldest first.
    pub async fn attached_diagnostics(
        &self,
        ticket: TicketId,
        limit: usize,
    ) -> Result<Vec<AttachedDiagnostics>, StoreError> {
        let rows = sqlx::query(
            "SELECT taken_at, taken_by, report_json FROM ticket_diagnostics WHERE ticket_id = $1 \
             ORDER BY taken_at DESC, id DESC LIMIT $2",
        )
        .bind(ticket.to_string())
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        let mut out = rows
            .iter()
            .map(|r| {
                Ok(AttachedDiagnostics {
                    taken_at: timestamp(r, "taken_at")?,
                    taken_by: text(r, "taken_by")?,
                    report: json(r, "report_json")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        out.reverse();
        Ok(out)
    }
}
