//! The organisation's public key, the rosters it signed and its rotations.
//! The relay keeps and forwards these; it cannot make them (the private
//! org key stays with the admin), so it cannot change whom agents trust.
//! Nothing here is trusted by an agent or a CLI because it came from this
//! store: both verify with the key they pinned themselves.

use super::rows::{json, parsed, to_json};
use super::{Store, StoreError};
use triage_shared::approval::roster::SignedRotation;
use triage_shared::approval::SignedRoster;
use triage_shared::error::ErrorKind;
use triage_shared::identity::PublicKey;
use triage_shared::time::Timestamp;

impl Store {
    /// The organisation key `triage-relay org init` recorded, if any.
    pub async fn org_key(&self) -> Result<Option<PublicKey>, StoreError> {
        let row = sqlx::query("SELECT public_key FROM org_key WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| parsed(&r, "public_key")).transpose()
    }

    /// Records the organisation key; there is only ever one row (a rotation
    /// replaces its value through [`Store::record_rotation`]).
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
                 so it is only replaced through a rotation it signed (`triage org rotate`)"
            ),
        ))
    }

    /// Stores a signed roster under its version; a version is stored once.
    pub async fn insert_roster(&self, roster: &SignedRoster) -> Result<(), StoreError> {
        let version = i64::try_from(roster.roster.version).map_err(|_| {
            StoreError::refused(ErrorKind::InvalidInput, "roster version is out of range")
        })?;
        let inserted = sqlx::query(
            "INSERT INTO org_rosters (version, roster_json, issued_at, expires_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (version) DO NOTHING",
        )
        .bind(version)
        .bind(to_json(roster)?)
        .bind(roster.roster.issued_at.millis())
        .bind(roster.roster.expires_at.millis())
        .execute(&self.pool)
        .await?;
        if inserted.rows_affected() == 1 {
            Ok(())
        } else {
            Err(StoreError::refused(
                ErrorKind::Conflict,
                format!("roster version {version} is already published; export the roster again and sign the new version"),
            ))
        }
    }

    /// The newest signed roster.
    pub async fn latest_roster(&self) -> Result<Option<SignedRoster>, StoreError> {
        let row = sqlx::query("SELECT roster_json FROM org_rosters ORDER BY version DESC LIMIT 1")
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| json(&r, "roster_json")).transpose()
    }

    /// The newest roster version, 0 when there is none.
    pub async fn latest_roster_version(&self) -> Result<u64, StoreError> {
        let row = sqlx::query("SELECT MAX(version) AS v FROM org_rosters")
            .fetch_one(&self.pool)
            .await?;
        let v: Option<i64> = sqlx::Row::try_get(&row, "v")?;
        Ok(v.map_or(0, |v| v.max(0) as u64))
    }

    /// Records a rotation and makes its new key the recorded org key, in one
    /// transaction; the caller checked it against the current key.
    pub async fn record_rotation(
        &self,
        rotation: &SignedRotation,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let updated =
            sqlx::query("UPDATE org_key SET public_key = $1 WHERE id = 1 AND public_key = $2")
                .bind(rotation.rotation.new_key.to_string())
                .bind(rotation.rotation.old_key.to_string())
                .execute(&mut *tx)
                .await?;
        if updated.rows_affected() != 1 {
            return Err(StoreError::refused(
                ErrorKind::Conflict,
                "the organisation key changed meanwhile; check `triage org show` and sign the rotation again",
            ));
        }
        let seq: i64 = sqlx::Row::try_get(
            &sqlx::query("SELECT COALESCE(MAX(seq), 0) + 1 AS next FROM org_rotations")
                .fetch_one(&mut *tx)
                .await?,
            "next",
        )?;
        sqlx::query(
            "INSERT INTO org_rotations (seq, new_key, rotation_json, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(seq)
        .bind(rotation.rotation.new_key.to_string())
        .bind(to_json(rotation)?)
        .bind(now.millis())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every rotation, oldest first, so an agent that pinned an old key can
    /// follow them one by one.
    pub async fn rotations(&self) -> Result<Vec<SignedRotation>, StoreError> {
        let rows = sqlx::query("SELECT rotation_json FROM org_rotations ORDER BY seq LIMIT 100")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| json(r, "rotation_json")).collect()
    }
}
