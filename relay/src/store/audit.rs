//! The audit log table. Appending computes the hash chain inside a
//! transaction; the `seq` primary key turns a race between two appends into
//! a failed insert, which is retried after the winner, so the chain never
//! forks. There is deliberately no update or delete here.

use super::rows::{int, text, timestamp};
use super::{settle, Store, StoreError};
use sqlx::any::AnyRow;
use std::time::Duration;
use triage_shared::audit::{chain_after, AuditEntry};
use triage_shared::time::Timestamp;

/// How often an append that lost a race is tried again.
pub const AUDIT_APPEND_ATTEMPTS: usize = 50;

const AUDIT_COLUMNS: &str =
    "seq, occurred_at, actor, action, target, outcome, details, prev_hash, hash";

fn entry(row: &AnyRow) -> Result<AuditEntry, StoreError> {
    let seq = int(row, "seq")?;
    Ok(AuditEntry {
        seq: u64::try_from(seq)
            .map_err(|_| StoreError::Corrupt(format!("audit entry with seq {seq}")))?,
        at: timestamp(row, "occurred_at")?,
        actor: text(row, "actor")?,
        action: text(row, "action")?,
        target: text(row, "target")?,
        outcome: text(row, "outcome")?,
        details: text(row, "details")?,
        prev_hash: text(row, "prev_hash")?,
        hash: text(row, "hash")?,
    })
}

/// Whether a database error means "someone else wrote first; try again":
/// a unique violation on `seq`, SQLite's busy/locked family, or a
/// PostgreSQL serialization failure or deadlock.
fn is_contention(e: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = e else {
        return false;
    };
    if db.is_unique_violation() {
        return true;
    }
    match db.code().as_deref() {
        Some("40001" | "40P01") => true,
        Some(code) => code.parse::<i32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6)),
        None => false,
    }
}

impl Store {
    /// Appends `entry` after the current last entry (its `seq`, `prev_hash`
    /// and `hash` are filled in) and returns it as stored.
    pub async fn append_audit(&self, entry: AuditEntry) -> Result<AuditEntry, StoreError> {
        let mut attempt = 0;
        loop {
            match self.try_append_audit(entry.clone()).await {
                Err(StoreError::Database(e))
                    if is_contention(&e) && attempt + 1 < AUDIT_APPEND_ATTEMPTS =>
                {
                    attempt += 1;
                    // A short, growing, jittered pause lets the winner commit.
                    let jitter = rand::random::<u64>() % 5;
                    tokio::time::sleep(Duration::from_millis(attempt as u64 + jitter)).await;
                }
                other => return other,
            }
        }
    }

    async fn try_append_audit(&self, entry: AuditEntry) -> Result<AuditEntry, StoreError> {
        let mut tx = self.begin().await?;
        let result = async {
            let last = sqlx::query(&format!(
                "SELECT {AUDIT_COLUMNS} FROM audit_log ORDER BY seq DESC LIMIT 1"
            ))
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| self::entry(&r))
            .transpose()?;
            let e = chain_after(last.as_ref(), entry);
            let seq = i64::try_from(e.seq)
                .map_err(|_| StoreError::Corrupt("the audit log is full".into()))?;
            sqlx::query(&format!(
                "INSERT INTO audit_log ({AUDIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            ))
            .bind(seq)
            .bind(e.at.millis())
            .bind(&e.actor)
            .bind(&e.action)
            .bind(&e.target)
            .bind(&e.outcome)
            .bind(&e.details)
            .bind(&e.prev_hash)
            .bind(&e.hash)
            .execute(&mut *tx)
            .await?;
            Ok(e)
        }
        .await;
        settle(tx, result).await
    }

    /// Entries with `seq > after_seq` and (if given) at or after `since`,
    /// oldest first, at most `limit`.
    pub async fn audit_entries(
        &self,
        after_seq: u64,
        since: Option<Timestamp>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE seq > $1 AND occurred_at >= $2 \
             ORDER BY seq LIMIT $3"
        ))
        .bind(i64::try_from(after_seq).unwrap_or(i64::MAX))
        .bind(since.map_or(i64::MIN, |t| t.millis()))
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(entry).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_errors_are_not_retried() {
        assert!(!is_contention(&sqlx::Error::RowNotFound));
        assert!(!is_contention(&sqlx::Error::PoolTimedOut));
    }
}
