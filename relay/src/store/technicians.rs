//! Registered technicians: a name, roles and the public key they log in with.

use super::rows::{parsed, roles_from_text, roles_to_text, text, timestamp};
use super::{Store, StoreError};
use sqlx::any::AnyRow;
use triage_shared::identity::PublicKey;
use triage_shared::protocol::{ErrorKind, TechnicianSummary};

const TECHNICIAN_COLUMNS: &str = "name, public_key, roles, created_at";

fn technician(row: &AnyRow) -> Result<TechnicianSummary, StoreError> {
    Ok(TechnicianSummary {
        name: text(row, "name")?,
        roles: roles_from_text(&text(row, "roles")?)?,
        public_key: parsed(row, "public_key")?,
        created_at: timestamp(row, "created_at")?,
    })
}

impl Store {
    /// Registers a technician. Both the name and the key must be new.
    pub async fn add_technician(&self, tech: &TechnicianSummary) -> Result<(), StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO technicians (name, public_key, roles, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&tech.name)
        .bind(tech.public_key.to_string())
        .bind(roles_to_text(&tech.roles))
        .bind(tech.created_at.millis())
        .execute(&self.pool)
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(());
        }
        let message = if self.technician(&tech.name).await?.is_some() {
            format!(
                "a technician named `{}` already exists; pick another name",
                tech.name
            )
        } else {
            match self.technician_by_key(&tech.public_key).await? {
                Some(owner) => format!(
                    "this public key is already registered to technician `{}`; each technician needs their own key (`triage keygen`)",
                    owner.name
                ),
                None => format!("technician `{}` could not be added; try again", tech.name),
            }
        };
        Err(StoreError::refused(ErrorKind::Conflict, message))
    }

    pub async fn technician(&self, name: &str) -> Result<Option<TechnicianSummary>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {TECHNICIAN_COLUMNS} FROM technicians WHERE name = $1"
        ))
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(technician).transpose()
    }

    pub async fn technician_by_key(
        &self,
        key: &PublicKey,
    ) -> Result<Option<TechnicianSummary>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {TECHNICIAN_COLUMNS} FROM technicians WHERE public_key = $1"
        ))
        .bind(key.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(technician).transpose()
    }

    /// Technicians by name, at most `limit` of them.
    pub async fn list_technicians(
        &self,
        limit: usize,
    ) -> Result<Vec<TechnicianSummary>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {TECHNICIAN_COLUMNS} FROM technicians ORDER BY name LIMIT $1"
        ))
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(technician).collect()
    }
}

impl Store {
    /// Every technician holding the approver role, by name.
    pub async fn approvers(&self) -> Result<Vec<TechnicianSummary>, StoreError> {
        // The LIKE narrows the scan; the parsed roles decide.
        let rows = sqlx::query(&format!(
            "SELECT {TECHNICIAN_COLUMNS} FROM technicians WHERE roles LIKE $1 ORDER BY name"
        ))
        .bind("%approver%")
        .fetch_all(&self.pool)
        .await?;
        let all = rows.iter().map(technician).collect::<Result<Vec<_>, _>>()?;
        Ok(all
            .into_iter()
            .filter(|t| t.roles.contains(&triage_shared::roles::Role::Approver))
            .collect())
    }
}
