//! Scripts attached to tickets, the approvals recorded for them, and the
//! runs. The relay stores what technicians signed exactly as they signed it;
//! the agent verifies it all again before anything runs.

use super::rows::{int, json, opt_text, parsed, text, timestamp, to_json};
use super::{Store, StoreError};
use sqlx::any::AnyRow;
use triage_shared::approval::{ScriptId, SignedApproval, SignedScript};
use triage_shared::error::ErrorKind;
use triage_shared::identity::Signature;
use triage_shared::protocol::ScriptSummary;
use triage_shared::remote::{RunOutcome, ScriptRunRecord};
use triage_shared::time::Timestamp;
use triage_shared::TicketId;

/// A script as stored: what the author signed, and the exact bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredScript {
    pub script: SignedScript,
    pub content: Vec<u8>,
}

/// How many times taking an approval is retried when another run took the
/// same one first.
const TAKE_APPROVAL_ATTEMPTS: usize = 8;

const RUN_COLUMNS: &str =
    "run_id, script_id, requested_by, started_at, outcome_json, refusal, output";

fn stored_script(row: &AnyRow) -> Result<StoredScript, StoreError> {
    let signature = Signature::try_from(text(row, "signature")?)
        .map_err(|e| StoreError::Corrupt(format!("column signature: {e}")))?;
    let content = hex::decode(text(row, "content_hex")?)
        .map_err(|e| StoreError::Corrupt(format!("column content_hex: {e}")))?;
    Ok(StoredScript {
        script: SignedScript {
            manifest: json(row, "manifest_json")?,
            signature,
        },
        content,
    })
}

fn run_record(row: &AnyRow) -> Result<ScriptRunRecord, StoreError> {
    let outcome = opt_text(row, "outcome_json")?
        .map(|s| {
            serde_json::from_str::<RunOutcome>(&s)
                .map_err(|e| StoreError::Corrupt(format!("column outcome_json: {e}")))
        })
        .transpose()?;
    Ok(ScriptRunRecord {
        run_id: triage_shared::remote::RunId(parsed(row, "run_id")?),
        script_id: ScriptId(parsed(row, "script_id")?),
        requested_by: text(row, "requested_by")?,
        started_at: timestamp(row, "started_at")?,
        outcome,
        refusal: opt_text(row, "refusal")?,
        output: text(row, "output")?,
    })
}

fn script_not_found(ticket: TicketId, script: ScriptId) -> StoreError {
    StoreError::refused(
        ErrorKind::NotFound,
        format!("ticket {ticket} has no script {script}; see `triage script list {ticket}`"),
    )
}

impl Store {
    /// Stores a script. Sending the very same script again is a harmless
    /// retry (`Ok(false)`); a different script under the same id conflicts.
    pub async fn insert_script(
        &self,
        stored: &StoredScript,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let m = &stored.script.manifest;
        let inserted = sqlx::query(
            "INSERT INTO scripts (script_id, ticket_id, manifest_json, signature, content_hex, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (script_id) DO NOTHING",
        )
        .bind(m.script_id.to_string())
        .bind(m.ticket_id.to_string())
        .bind(to_json(m)?)
        .bind(String::from(stored.script.signature))
        .bind(hex::encode(&stored.content))
        .bind(now.millis())
        .execute(&self.pool)
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(true);
        }
        match self.script(m.ticket_id, m.script_id).await {
            Ok(existing) if &existing == stored => Ok(false),
            _ => Err(StoreError::refused(
                ErrorKind::Conflict,
                format!(
                    "a different script with id {} is already stored; attach yours under a new id",
                    m.script_id
                ),
            )),
        }
    }

    /// The script `id` of `ticket`; NotFound when it is not on that ticket.
    pub async fn script(&self, ticket: TicketId, id: ScriptId) -> Result<StoredScript, StoreError> {
        let row = sqlx::query(
            "SELECT manifest_json, signature, content_hex FROM scripts \
             WHERE script_id = $1 AND ticket_id = $2",
        )
        .bind(id.to_string())
        .bind(ticket.to_string())
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => stored_script(&row),
            None => Err(script_not_found(ticket, id)),
        }
    }

    /// The ticket's scripts, oldest first, with approval and run counts.
    pub async fn list_scripts(
        &self,
        ticket: TicketId,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<ScriptSummary>, StoreError> {
        let rows = sqlx::query(
            "SELECT s.manifest_json, s.created_at, \
               (SELECT COUNT(*) FROM script_approvals a \
                 WHERE a.script_id = s.script_id AND a.consumed = 0 AND a.expires_at > $1) AS live, \
               (SELECT COUNT(*) FROM script_runs r WHERE r.script_id = s.script_id) AS runs \
             FROM scripts s WHERE s.ticket_id = $2 ORDER BY s.created_at, s.script_id LIMIT $3",
        )
        .bind(now.millis())
        .bind(ticket.to_string())
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let m: triage_shared::approval::ScriptManifest = json(row, "manifest_json")?;
                Ok(ScriptSummary {
                    script_id: m.script_id,
                    ticket_id: m.ticket_id,
                    author: m.author,
                    interpreter: m.interpreter,
                    digest: m.digest,
                    description: m.description,
                    created_at: timestamp(row, "created_at")?,
                    live_approvals: u32::try_from(int(row, "live")?).unwrap_or(u32::MAX),
                    runs: u32::try_from(int(row, "runs")?).unwrap_or(u32::MAX),
                })
            })
            .collect()
    }

    /// Records an approval. Its nonce must be new.
    pub async fn insert_approval(
        &self,
        approval: &SignedApproval,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let a = &approval.approval;
        let inserted = sqlx::query(
            "INSERT INTO script_approvals (nonce, script_id, approval_json, expires_at, created_at, consumed) \
             VALUES ($1, $2, $3, $4, $5, 0) ON CONFLICT (nonce) DO NOTHING",
        )
        .bind(a.nonce.to_string())
        .bind(a.script_id.to_string())
        .bind(to_json(approval)?)
        .bind(a.expires_at.millis())
        .bind(now.millis())
        .execute(&self.pool)
        .await?;
        if inserted.rows_affected() == 1 {
            Ok(())
        } else {
            Err(StoreError::refused(
                ErrorKind::Conflict,
                format!(
                    "an approval with nonce {} is already recorded; each approval needs a fresh nonce, so approve again",
                    a.nonce
                ),
            ))
        }
    }

    /// Every approval recorded for a script, oldest first.
    pub async fn approvals(&self, script: ScriptId) -> Result<Vec<SignedApproval>, StoreError> {
        let rows = sqlx::query(
            "SELECT approval_json FROM script_approvals WHERE script_id = $1 ORDER BY created_at, nonce",
        )
        .bind(script.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| json(r, "approval_json")).collect()
    }

    /// Takes the newest unexpired, unspent approval for `script` and marks it
    /// spent, so one approval is sent to an agent at most once. The
    /// conditional update decides between concurrent runs.
    pub async fn take_approval(
        &self,
        script: ScriptId,
        now: Timestamp,
    ) -> Result<Option<SignedApproval>, StoreError> {
        for _ in 0..TAKE_APPROVAL_ATTEMPTS {
            let Some(row) = sqlx::query(
                "SELECT nonce, approval_json FROM script_approvals \
                 WHERE script_id = $1 AND consumed = 0 AND expires_at > $2 \
                 ORDER BY created_at DESC, nonce DESC LIMIT 1",
            )
            .bind(script.to_string())
            .bind(now.millis())
            .fetch_optional(&self.pool)
            .await?
            else {
                return Ok(None);
            };
            let nonce = text(&row, "nonce")?;
            let taken = sqlx::query(
                "UPDATE script_approvals SET consumed = 1 WHERE nonce = $1 AND consumed = 0",
            )
            .bind(&nonce)
            .execute(&self.pool)
            .await?;
            if taken.rows_affected() == 1 {
                return json(&row, "approval_json").map(Some);
            }
        }
        Ok(None)
    }

    pub async fn insert_run(
        &self,
        ticket: TicketId,
        run: &ScriptRunRecord,
    ) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO script_runs ({RUN_COLUMNS}, ticket_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(run.run_id.to_string())
        .bind(run.script_id.to_string())
        .bind(&run.requested_by)
        .bind(run.started_at.millis())
        .bind(run.outcome.as_ref().map(to_json).transpose()?)
        .bind(run.refusal.clone())
        .bind(&run.output)
        .bind(ticket.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Runs of one script, or of every script on a ticket; oldest first,
    /// the newest `limit` of them.
    pub async fn runs(&self, of: RunsOf, limit: usize) -> Result<Vec<ScriptRunRecord>, StoreError> {
        let (column, id) = match of {
            RunsOf::Ticket(t) => ("ticket_id", t.to_string()),
            RunsOf::Script(s) => ("script_id", s.to_string()),
        };
        let rows = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM script_runs WHERE {column} = $1 \
             ORDER BY started_at DESC, run_id DESC LIMIT $2"
        ))
        .bind(id)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        let mut runs = rows.iter().map(run_record).collect::<Result<Vec<_>, _>>()?;
        runs.reverse();
        Ok(runs)
    }
}

/// Whose runs to list.
#[derive(Debug, Clone, Copy)]
pub enum RunsOf {
    Ticket(TicketId),
    Script(ScriptId),
}
