//! The organisation's public key and the signed policies made with it.
//! The relay keeps and forwards these; it cannot make them (the private
//! org key stays with the admin), so it cannot change whom agents trust.

use super::rows::{json, parsed, to_json};
use super::{Store, StoreError};
use triage_shared::approval::SignedPolicy;
use triage_shared::identity::PublicKey;
use triage_shared::protocol::ErrorKind;
use triage_shared::time::Timestamp;

impl Store {
    /// The organisation key `triage-relay org init` recorded, if any.
    pub async fn org_key(&self) -> Result<Option<PublicKey>, StoreError> {
        let row = sqlx::query("SELECT public_key FROM org_key WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| parsed(&r, "public_key")).transpose()
    }

    /// Records the organisation key; there is only ever one.
    pub async fn record_org_key(&self, key: &PublicKey, now: Timestamp) -> Result<(), StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO org_key (id, public_key, created_at) VALUES (1, $1, $2) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(key.to_string())
        .bind(now.millis())
        .execute(&self.pool)
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(());
        }
        let existing = self
            .org_key()
            .await?
            .map_or_else(|| "?".to_string(), |k| k.to_string());
        Err(StoreError::refused(
            ErrorKind::Conflict,
            format!(
                "this relay already has an organisation key ({existing}); enrolled agents trust it, \
                 so it is never replaced. Sign policies with it: `triage-relay org sign-policy --org-key FILE`"
            ),
        ))
    }

    /// Stores a signed policy under its version; a version is stored once.
    pub async fn insert_policy(&self, policy: &SignedPolicy) -> Result<(), StoreError> {
        let version = i64::try_from(policy.policy.version).map_err(|_| {
            StoreError::refused(ErrorKind::InvalidInput, "policy version is out of range")
        })?;
        let inserted = sqlx::query(
            "INSERT INTO org_policies (version, policy_json, issued_at) VALUES ($1, $2, $3) \
             ON CONFLICT (version) DO NOTHING",
        )
        .bind(version)
        .bind(to_json(policy)?)
        .bind(policy.policy.issued_at.millis())
        .execute(&self.pool)
        .await?;
        if inserted.rows_affected() == 1 {
            Ok(())
        } else {
            Err(StoreError::refused(
                ErrorKind::Conflict,
                format!("policy version {version} was published meanwhile; sign the policy again"),
            ))
        }
    }

    /// The newest signed policy.
    pub async fn latest_policy(&self) -> Result<Option<SignedPolicy>, StoreError> {
        let row = sqlx::query("SELECT policy_json FROM org_policies ORDER BY version DESC LIMIT 1")
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| json(&r, "policy_json")).transpose()
    }

    /// The newest policy version, 0 when there is none.
    pub async fn latest_policy_version(&self) -> Result<u64, StoreError> {
        let row = sqlx::query("SELECT MAX(version) AS v FROM org_policies")
            .fetch_one(&self.pool)
            .await?;
        let v: Option<i64> = sqlx::Row::try_get(&row, "v")?;
        Ok(v.map_or(0, |v| v.max(0) as u64))
    }
}
