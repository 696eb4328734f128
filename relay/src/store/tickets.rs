//! Tickets with their comments, history and diagnostics snapshot.
//!
//! Changes to an existing ticket go through [`Store::update_ticket`], which
//! locks the row, hands the current ticket to a pure function (see
//! `crate::workflow`) and writes whatever that function decided, all in one
//! transaction.

use super::comments::insert_comment;
use super::rows::{self, json, opt_parsed, text, timestamp, to_json, TICKET_COLUMNS};
use super::scripts::RunsOf;
use super::transfers::{insert_attachment, NewAttachment};
use super::{desk_report, feed, fit, settle, sla, Store, StoreError};
use sqlx::{Any, Transaction};
use triage_shared::diagnostics::Snapshot;
use triage_shared::error::{ErrorKind, RemoteError};
use triage_shared::limits::MAX_TICKET_HISTORY;
use triage_shared::protocol::TicketDetail;
use triage_shared::selector::IdPrefix;
use triage_shared::sla::SlaPolicy;
use triage_shared::ticket::{Comment, Status, Ticket, TicketEvent};
use triage_shared::{AgentId, TicketId};

/// What a workflow step decided: the ticket's new state and what to add to
/// its history.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketUpdate {
    pub ticket: Ticket,
    pub events: Vec<TicketEvent>,
    pub comments: Vec<Comment>,
    /// Files to store on the ticket with the rest (an employee's screenshot).
    pub attachments: Vec<NewAttachment>,
    /// The note the ticket was resolved with, when this step resolved it
    /// with one; `None` keeps the one stored.
    pub resolution: Option<String>,
}

pub(crate) fn not_found(id: TicketId) -> StoreError {
    StoreError::refused(
        ErrorKind::NotFound,
        format!("no ticket with id {id}; check the id with `triage tickets list`"),
    )
}

impl Store {
    /// Stores a new ticket with its `Created` event and optional snapshot.
    /// Returns `false` when the same creator already stored this id (a
    /// retry); the same id from anyone else is a conflict.
    pub async fn create_ticket(
        &self,
        ticket: &Ticket,
        created: &TicketEvent,
        snapshot: Option<&Snapshot>,
    ) -> Result<bool, StoreError> {
        // A new ticket's history is its `Created` event alone, so its clocks
        // need no read: they go into the row with it.
        let clocks = sla::on_filing(ticket, created, &self.sla_policy());
        let mut tx = self.begin().await?;
        let result = async {
            let inserted = sqlx::query(&format!(
                "INSERT INTO tickets ({TICKET_COLUMNS}, priority_rank, sla_attention_at, sla_next_event_at, alert_rule) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20) \
                 ON CONFLICT (id) DO NOTHING"
            ))
            .bind(ticket.id.to_string())
            .bind(&ticket.title)
            .bind(&ticket.description)
            .bind(ticket.category.as_str())
            .bind(ticket.priority.as_str())
            .bind(ticket.status.as_str())
            .bind(ticket.tier.as_str())
            .bind(ticket.source.as_str())
            .bind(ticket.agent_id.map(|a| a.to_string()))
            .bind(ticket.hostname.clone())
            .bind(&ticket.requester)
            .bind(ticket.assignee.clone())
            .bind(ticket.created_at.millis())
            .bind(ticket.updated_at.millis())
            .bind(sla::due_sort_key(&clocks.sla).millis())
            .bind(to_json(&clocks.sla)?)
            .bind(triage_shared::queue::priority_rank(ticket.priority))
            .bind(clocks.sla.attention_at().map(|t| t.millis()))
            .bind(clocks.next_event_at.map(|t| t.millis()))
            .bind(desk_report::alert_rule(ticket))
            .execute(&mut *tx)
            .await?;
            if inserted.rows_affected() == 0 {
                let row = sqlx::query("SELECT agent_id FROM tickets WHERE id = $1")
                    .bind(ticket.id.to_string())
                    .fetch_one(&mut *tx)
                    .await?;
                let owner: Option<AgentId> = opt_parsed(&row, "agent_id")?;
                if owner == ticket.agent_id {
                    return Ok(false);
                }
                return Err(StoreError::refused(
                    ErrorKind::Conflict,
                    format!("ticket {} already exists and was filed by someone else; submit it with a new id", ticket.id),
                ));
            }
            insert_event(&mut tx, ticket.id, created).await?;
            feed::append_created(&mut tx, ticket.id, created).await?;
            if let Some(snapshot) = snapshot {
                sqlx::query("INSERT INTO ticket_snapshots (ticket_id, taken_at, snapshot_json) VALUES ($1, $2, $3)")
                    .bind(ticket.id.to_string())
                    .bind(snapshot.taken_at.millis())
                    .bind(to_json(&json_safe(snapshot))?)
                    .execute(&mut *tx)
                    .await?;
            }
            Ok(true)
        }
        .await;
        self.announced(settle(tx, result).await).await
    }

    pub async fn ticket(&self, id: TicketId) -> Result<Option<Ticket>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {TICKET_COLUMNS} FROM tickets WHERE id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(rows::ticket).transpose()
    }

    /// A ticket with its newest [`MAX_TICKET_HISTORY`] comments and events
    /// (oldest first), its snapshot, attached diagnostics and script runs
    /// (within the budgets in `fit`).
    pub async fn ticket_detail(&self, id: TicketId) -> Result<Option<TicketDetail>, StoreError> {
        let Some(ticket) = self.ticket(id).await? else {
            return Ok(None);
        };
        let limit = MAX_TICKET_HISTORY as i64;
        let comments = self.comments(id, MAX_TICKET_HISTORY).await?;
        let mut events = sqlx::query(
            "SELECT actor, occurred_at, event_json FROM ticket_events WHERE ticket_id = $1 ORDER BY seq DESC LIMIT $2",
        )
        .bind(id.to_string())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(TicketEvent { actor: text(r, "actor")?, at: timestamp(r, "occurred_at")?, event: json(r, "event_json")? })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
        events.reverse();
        let snapshot =
            sqlx::query("SELECT snapshot_json FROM ticket_snapshots WHERE ticket_id = $1")
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?
                .map(|r| json::<Snapshot>(&r, "snapshot_json"))
                .transpose()?;
        let mut script_runs = self.runs(RunsOf::Ticket(id), fit::MAX_VIEW_RUNS).await?;
        fit::trim_outputs(&mut script_runs, fit::VIEW_OUTPUT_BUDGET);
        let attached = self
            .attached_diagnostics(id, fit::MAX_VIEW_DIAGNOSTICS)
            .await?;
        let attached_diagnostics =
            fit::newest_within(attached, fit::VIEW_DIAGNOSTICS_BUDGET, |a| {
                triage_shared::codec::encode(a).map_or(usize::MAX, |f| f.len())
            });
        let attachments = self.attachments(id, fit::MAX_VIEW_ATTACHMENTS).await?;
        Ok(Some(TicketDetail {
            ticket,
            comments,
            events,
            snapshot,
            attached_diagnostics,
            script_runs,
            attachments,
        }))
    }

    /// Tickets newest first, optionally only those in `status`.
    pub async fn list_tickets(
        &self,
        status: Option<Status>,
        limit: usize,
    ) -> Result<Vec<Ticket>, StoreError> {
        let order = "ORDER BY created_at DESC, id DESC";
        let rows = match status {
            Some(status) => {
                sqlx::query(&format!(
                    "SELECT {TICKET_COLUMNS} FROM tickets WHERE status = $1 {order} LIMIT $2"
                ))
                .bind(status.as_str())
                .bind(limit as i64)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(&format!(
                    "SELECT {TICKET_COLUMNS} FROM tickets {order} LIMIT $1"
                ))
                .bind(limit as i64)
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter().map(rows::ticket).collect()
    }

    /// Ids of tickets whose id starts with `prefix`, at most `limit`.
    pub async fn tickets_with_prefix(
        &self,
        prefix: &IdPrefix,
        limit: usize,
    ) -> Result<Vec<TicketId>, StoreError> {
        // Hex digits and hyphens only (checked), so no LIKE wildcard.
        sqlx::query("SELECT id FROM tickets WHERE id LIKE $1 ORDER BY id LIMIT $2")
            .bind(format!("{}%", prefix.as_uuid_text()))
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| rows::parsed(r, "id"))
            .collect()
    }

    /// Applies `decide` to the current state of ticket `id` and stores the
    /// outcome atomically. If `decide` refuses, nothing changes.
    pub async fn update_ticket<F>(&self, id: TicketId, decide: F) -> Result<Ticket, StoreError>
    where
        F: FnOnce(&Ticket) -> Result<TicketUpdate, RemoteError>,
    {
        let policy = self.sla_policy();
        let mut tx = self.begin().await?;
        let result = async {
            let current = lock_ticket(&mut tx, id).await?;
            let mut update = decide(&current)?;
            update.ticket.sla = write_update(&mut tx, id, &update, &policy).await?;
            Ok(update.ticket)
        }
        .await;
        self.announced(settle(tx, result).await).await
    }
}

/// Locks ticket `id` inside `tx` and reads it. The row is touched first:
/// that takes the lock (row lock on PostgreSQL, write lock on SQLite)
/// before the ticket is read.
pub(super) async fn lock_ticket(
    tx: &mut Transaction<'static, Any>,
    id: TicketId,
) -> Result<Ticket, StoreError> {
    let locked = sqlx::query("UPDATE tickets SET updated_at = updated_at WHERE id = $1")
        .bind(id.to_string())
        .execute(&mut **tx)
        .await?;
    if locked.rows_affected() == 0 {
        return Err(not_found(id));
    }
    let row = sqlx::query(&format!(
        "SELECT {TICKET_COLUMNS} FROM tickets WHERE id = $1"
    ))
    .bind(id.to_string())
    .fetch_one(&mut **tx)
    .await?;
    rows::ticket(&row)
}

/// Writes what a workflow step decided about ticket `id`, locked in `tx`,
/// and folds the history into its SLA clocks under `policy`; returns them.
pub(super) async fn write_update(
    tx: &mut Transaction<'static, Any>,
    id: TicketId,
    update: &TicketUpdate,
    policy: &SlaPolicy,
) -> Result<Option<triage_shared::sla::TicketSla>, StoreError> {
    let t = &update.ticket;
    sqlx::query(
        "UPDATE tickets SET status = $1, tier = $2, assignee = $3, updated_at = $4, \
         resolution = COALESCE($6, resolution), priority = $7, priority_rank = $8 WHERE id = $5",
    )
    .bind(t.status.as_str())
    .bind(t.tier.as_str())
    .bind(t.assignee.clone())
    .bind(t.updated_at.millis())
    .bind(id.to_string())
    .bind(update.resolution.clone())
    .bind(t.priority.as_str())
    .bind(triage_shared::queue::priority_rank(t.priority))
    .execute(&mut **tx)
    .await?;
    for event in &update.events {
        insert_event(tx, id, event).await?;
    }
    for comment in &update.comments {
        insert_comment(tx, id, comment).await?;
    }
    for a in &update.attachments {
        insert_attachment(tx, &a.summary, &a.content).await?;
    }
    let clocks = sla::refresh(tx, &update.ticket, policy, t.updated_at).await?;
    // Last: the feed counter is the lock every ticket write shares.
    feed::append_update(tx, id, update).await?;
    Ok(Some(clocks.sla))
}

async fn insert_event(
    tx: &mut Transaction<'static, Any>,
    id: TicketId,
    event: &TicketEvent,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO ticket_events (id, ticket_id, seq, actor, occurred_at, event_json) \
         SELECT $1, $2, COALESCE(MAX(seq), 0) + 1, $3, $4, $5 FROM ticket_events WHERE ticket_id = $6",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(id.to_string())
    .bind(&event.actor)
    .bind(event.at.millis())
    .bind(to_json(&event.event)?)
    .bind(id.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// JSON has no NaN or infinity (serde_json writes them as `null`, which then
/// will not read back as a number), so such readings are stored as zero.
pub(super) fn json_safe(snapshot: &Snapshot) -> Snapshot {
    let finite32 = |x: f32| if x.is_finite() { x } else { 0.0 };
    let mut s = snapshot.clone();
    s.cpu.usage_percent = finite32(s.cpu.usage_percent);
    for load in &mut s.cpu.load_average {
        if !load.is_finite() {
            *load = 0.0;
        }
    }
    for p in s.top_by_cpu.iter_mut().chain(s.top_by_memory.iter_mut()) {
        p.cpu_percent = finite32(p.cpu_percent);
    }
    for c in &mut s.components {
        for reading in [&mut c.temperature_c, &mut c.max_c, &mut c.critical_c] {
            *reading = reading.filter(|x| x.is_finite());
        }
    }
    s
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use triage_shared::diagnostics::*;
    use triage_shared::time::Timestamp;

    pub(crate) fn sample_snapshot() -> Snapshot {
        Snapshot {
            taken_at: Timestamp(1_700_000_000_000),
            os: OsInfo {
                name: "Debian".into(),
                version: "12".into(),
                kernel: "6.1".into(),
                hostname: "pc-42".into(),
                uptime_secs: 3600,
            },
            cpu: CpuInfo {
                model: "Test CPU".into(),
                physical_cores: Some(2),
                logical_cores: 4,
                usage_percent: 12.5,
                load_average: [0.5, 0.25, 0.125],
            },
            memory: MemoryInfo {
                total_bytes: 8 << 30,
                used_bytes: 4 << 30,
                available_bytes: 4 << 30,
                swap_total_bytes: 0,
                swap_used_bytes: 0,
            },
            disks: vec![],
            networks: vec![],
            top_by_cpu: vec![ProcessInfo {
                pid: 1,
                name: "init".into(),
                cpu_percent: 1.0,
                memory_bytes: 1024,
                user: Some("root".into()),
            }],
            top_by_memory: vec![],
            components: vec![ComponentInfo {
                label: "cpu".into(),
                temperature_c: Some(50.0),
                max_c: None,
                critical_c: Some(90.0),
            }],
            users: vec!["alice".into()],
        }
    }

    #[test]
    fn snapshots_with_nan_readings_survive_json() {
        let mut s = sample_snapshot();
        s.cpu.usage_percent = f32::NAN;
        s.cpu.load_average[1] = f64::INFINITY;
        s.top_by_cpu[0].cpu_percent = f32::NAN;
        s.components[0].temperature_c = Some(f32::NAN);
        let text = serde_json::to_string(&json_safe(&s)).unwrap();
        let back: Snapshot = serde_json::from_str(&text).unwrap();
        assert_eq!(back.cpu.usage_percent, 0.0);
        assert_eq!(back.cpu.load_average, [0.5, 0.0, 0.125]);
        assert_eq!(back.top_by_cpu[0].cpu_percent, 0.0);
        assert_eq!(back.components[0].temperature_c, None);
        assert_eq!(back.components[0].critical_c, Some(90.0));
        // A clean snapshot is stored unchanged.
        assert_eq!(json_safe(&sample_snapshot()), sample_snapshot());
    }
}
