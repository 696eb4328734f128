//! Enrolled agents: created by spending a token, looked up by TLS key.

use super::rows::{opt_timestamp, parsed, text, timestamp};
use super::{settle, Store, StoreError};
use sqlx::any::AnyRow;
use triage_shared::error::ErrorKind;
use triage_shared::identity::PublicKey;
use triage_shared::selector::{AgentCursor, IdPrefix};
use triage_shared::time::Timestamp;
use triage_shared::AgentId;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRecord {
    pub id: AgentId,
    pub public_key: PublicKey,
    pub hostname: String,
    pub os: String,
    pub enrolled_at: Timestamp,
    pub last_seen: Option<Timestamp>,
    /// When an admin removed (unenrolled) it; its key is refused from then on.
    pub removed_at: Option<Timestamp>,
}

pub(super) const AGENT_COLUMNS: &str =
    "id, public_key, hostname, os, enrolled_at, last_seen, removed_at";

pub(super) fn agent(row: &AnyRow) -> Result<AgentRecord, StoreError> {
    Ok(AgentRecord {
        id: parsed(row, "id")?,
        public_key: parsed(row, "public_key")?,
        hostname: text(row, "hostname")?,
        os: text(row, "os")?,
        enrolled_at: timestamp(row, "enrolled_at")?,
        last_seen: opt_timestamp(row, "last_seen")?,
        removed_at: opt_timestamp(row, "removed_at")?,
    })
}

impl Store {
    /// Spends one use of the token whose secret hashes to `token_hash` and
    /// binds `key` to a new agent id, in one transaction: a refused token or
    /// an already enrolled key leaves both tables as they were.
    pub async fn enroll(
        &self,
        token_hash: &str,
        key: &PublicKey,
        hostname: &str,
        os: &str,
        now: Timestamp,
    ) -> Result<AgentId, StoreError> {
        let mut tx = self.begin().await?;
        let result = async {
            Store::spend_token(&mut tx, token_hash, now).await?;
            let id = AgentId::new_random();
            let inserted = sqlx::query(
                "INSERT INTO agents (id, public_key, hostname, os, enrolled_at, last_seen) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (public_key) DO NOTHING",
            )
            .bind(id.to_string())
            .bind(key.to_string())
            .bind(hostname)
            .bind(os)
            .bind(now.millis())
            .bind(now.millis())
            .execute(&mut *tx)
            .await?;
            if inserted.rows_affected() == 0 {
                return Err(StoreError::refused(
                    ErrorKind::Conflict,
                    "this key is already enrolled as an agent; connect with it instead of enrolling again",
                ));
            }
            Ok(id)
        }
        .await;
        settle(tx, result).await
    }

    pub async fn agent_by_key(&self, key: &PublicKey) -> Result<Option<AgentRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {AGENT_COLUMNS} FROM agents WHERE public_key = $1"
        ))
        .bind(key.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(agent).transpose()
    }

    pub async fn agent(&self, id: AgentId) -> Result<Option<AgentRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {AGENT_COLUMNS} FROM agents WHERE id = $1"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(agent).transpose()
    }

    /// Records that the agent was heard from at `now`.
    pub async fn touch_agent(&self, id: AgentId, now: Timestamp) -> Result<(), StoreError> {
        sqlx::query("UPDATE agents SET last_seen = $1 WHERE id = $2")
            .bind(now.millis())
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Marks an agent removed at `now` and returns it. Its row stays, so
    /// its tickets keep their agent; its key is refused from then on.
    pub async fn remove_agent(
        &self,
        id: AgentId,
        now: Timestamp,
    ) -> Result<AgentRecord, StoreError> {
        let updated =
            sqlx::query("UPDATE agents SET removed_at = $2 WHERE id = $1 AND removed_at IS NULL")
                .bind(id.to_string())
                .bind(now.millis())
                .execute(&self.pool)
                .await?;
        match self.agent(id).await? {
            Some(agent) if updated.rows_affected() == 1 => Ok(agent),
            Some(agent) => Err(StoreError::refused(
                ErrorKind::NotFound,
                format!(
                    "agent {id} ({}) was already removed; `triage agents list` shows the enrolled ones",
                    agent.hostname
                ),
            )),
            None => Err(StoreError::refused(
                ErrorKind::NotFound,
                format!("no agent {id}; `triage agents list` shows the enrolled ones"),
            )),
        }
    }

    /// Enrolled agents that are not removed, by hostname, at most `limit` of them.
    pub async fn list_agents(&self, limit: usize) -> Result<Vec<AgentRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {AGENT_COLUMNS} FROM agents WHERE removed_at IS NULL ORDER BY hostname, id LIMIT $1"
        ))
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(agent).collect()
    }

    /// One page of [`list_agents`](Self::list_agents): the enrolled agents
    /// after `after` in (hostname, id) order. Keyset paging, so a page costs
    /// the same however deep it is, and an agent enrolled meanwhile is not
    /// shown twice.
    pub async fn list_agents_after(
        &self,
        after: Option<&AgentCursor>,
        limit: usize,
    ) -> Result<Vec<AgentRecord>, StoreError> {
        let Some(after) = after else {
            return self.list_agents(limit).await;
        };
        // Spelled out rather than a row comparison, which older SQLite lacks.
        let rows = sqlx::query(&format!(
            "SELECT {AGENT_COLUMNS} FROM agents WHERE removed_at IS NULL \
             AND (hostname > $1 OR (hostname = $1 AND id > $2)) \
             ORDER BY hostname, id LIMIT $3"
        ))
        .bind(&after.hostname)
        .bind(after.id.to_string())
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(agent).collect()
    }

    /// Enrolled agents whose hostname is `name` (ignoring ASCII case) or
    /// whose id starts with `prefix`, at most `limit`, by id.
    pub async fn agents_named(
        &self,
        name: &str,
        prefix: Option<&IdPrefix>,
        limit: usize,
    ) -> Result<Vec<AgentRecord>, StoreError> {
        // A prefix is hex digits and hyphens only (checked), so it holds no
        // LIKE wildcard; without one, the pattern matches no id.
        let pattern = match prefix {
            Some(prefix) => format!("{}%", prefix.as_uuid_text()),
            None => String::new(),
        };
        let rows = sqlx::query(&format!(
            "SELECT {AGENT_COLUMNS} FROM agents WHERE removed_at IS NULL \
             AND (LOWER(hostname) = LOWER($1) OR id LIKE $2) ORDER BY id LIMIT $3"
        ))
        .bind(name)
        .bind(pattern)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(agent).collect()
    }

    pub async fn count_agents(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM agents")
            .fetch_one(&self.pool)
            .await?;
        super::rows::int(&row, "n")
    }
}
