//! Registered technicians: a name, roles and the public key they log in with.
//!
//! A removed technician keeps their row, marked `removed_at`, so the audit
//! log and ticket history still name someone real; every lookup a live
//! session or an assignment uses skips removed rows. Their key is never
//! given to another name.

use super::rows::{opt_timestamp, parsed, roles_from_text, roles_to_text, text, timestamp};
use super::{settle, Store, StoreError};
use sqlx::any::AnyRow;
use triage_shared::error::ErrorKind;
use triage_shared::identity::PublicKey;
use triage_shared::protocol::TechnicianSummary;
use triage_shared::roles::Role;
use triage_shared::time::Timestamp;

const TECHNICIAN_COLUMNS: &str = "name, public_key, roles, created_at, removed_at";

/// A technician's row, removed or not.
#[derive(Debug, Clone, PartialEq)]
pub struct TechnicianRecord {
    pub technician: TechnicianSummary,
    pub removed_at: Option<Timestamp>,
}

/// What registering a name that had been removed replaced.
#[derive(Debug, Clone, PartialEq)]
pub struct Readded {
    pub removed_at: Timestamp,
    pub previous_key: PublicKey,
    pub previous_roles: Vec<Role>,
}

/// A role change: the roles before and the technician after.
#[derive(Debug, Clone, PartialEq)]
pub struct RolesChanged {
    pub previous: Vec<Role>,
    pub technician: TechnicianSummary,
}

fn record(row: &AnyRow) -> Result<TechnicianRecord, StoreError> {
    Ok(TechnicianRecord {
        technician: TechnicianSummary {
            name: text(row, "name")?,
            roles: roles_from_text(&text(row, "roles")?)?,
            public_key: parsed(row, "public_key")?,
            created_at: timestamp(row, "created_at")?,
        },
        removed_at: opt_timestamp(row, "removed_at")?,
    })
}

fn technician(row: &AnyRow) -> Result<TechnicianSummary, StoreError> {
    record(row).map(|r| r.technician)
}

fn no_such_technician(name: &str) -> StoreError {
    StoreError::refused(
        ErrorKind::NotFound,
        format!("no technician named `{name}`; `triage technicians list` shows who is registered"),
    )
}

/// The refusal when a change would leave the relay without an active admin.
pub fn no_admin_left(name: &str) -> StoreError {
    StoreError::refused(
        ErrorKind::Conflict,
        format!(
            "this would leave no admin: `{name}` is the last technician with the admin role; register or promote another admin first"
        ),
    )
}

type Tx = sqlx::Transaction<'static, sqlx::Any>;

impl Store {
    /// Registers a technician. The name must be new, or a removed
    /// technician's (who then comes back with this key and these roles,
    /// and the replaced row is returned for the audit log); the key must
    /// never have belonged to another name.
    pub async fn add_technician(
        &self,
        tech: &TechnicianSummary,
    ) -> Result<Option<Readded>, StoreError> {
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
            return Ok(None);
        }
        let by_name = self.technician_record(&tech.name).await?;
        let by_key = self.technician_record_by_key(&tech.public_key).await?;
        let key_owner = by_key.as_ref().map(|r| r.technician.name.as_str());
        let message = match (&by_name, key_owner) {
            (_, Some(owner)) if owner != tech.name => {
                let removed = by_key.as_ref().and_then(|r| r.removed_at).is_some();
                format!(
                    "this public key {} technician `{owner}`; each technician needs their own key (`triage keygen`)",
                    if removed { "belonged to the removed" } else { "is already registered to" }
                )
            }
            (
                Some(TechnicianRecord {
                    removed_at: Some(removed_at),
                    technician: previous,
                }),
                _,
            ) => {
                let readded = Readded {
                    removed_at: *removed_at,
                    previous_key: previous.public_key,
                    previous_roles: previous.roles.clone(),
                };
                return self.readd_technician(tech, readded).await;
            }
            (Some(_), _) => format!(
                "a technician named `{}` already exists; pick another name, or change their roles with `triage technicians roles`",
                tech.name
            ),
            (None, _) => format!("technician `{}` could not be added; try again", tech.name),
        };
        Err(StoreError::refused(ErrorKind::Conflict, message))
    }

    async fn readd_technician(
        &self,
        tech: &TechnicianSummary,
        readded: Readded,
    ) -> Result<Option<Readded>, StoreError> {
        let updated = sqlx::query(
            "UPDATE technicians SET public_key = $2, roles = $3, created_at = $4, removed_at = NULL \
             WHERE name = $1 AND removed_at IS NOT NULL",
        )
        .bind(&tech.name)
        .bind(tech.public_key.to_string())
        .bind(roles_to_text(&tech.roles))
        .bind(tech.created_at.millis())
        .execute(&self.pool)
        .await?;
        if updated.rows_affected() == 1 {
            Ok(Some(readded))
        } else {
            Err(StoreError::refused(
                ErrorKind::Conflict,
                format!(
                    "technician `{}` changed while being added again; try again",
                    tech.name
                ),
            ))
        }
    }

    /// A technician who is not removed.
    pub async fn technician(&self, name: &str) -> Result<Option<TechnicianSummary>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {TECHNICIAN_COLUMNS} FROM technicians WHERE name = $1 AND removed_at IS NULL"
        ))
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(technician).transpose()
    }

    /// The technician holding this key, unless removed.
    pub async fn technician_by_key(
        &self,
        key: &PublicKey,
    ) -> Result<Option<TechnicianSummary>, StoreError> {
        Ok(self
            .technician_record_by_key(key)
            .await?
            .filter(|r| r.removed_at.is_none())
            .map(|r| r.technician))
    }

    /// A technician's row by name, removed or not.
    pub async fn technician_record(
        &self,
        name: &str,
    ) -> Result<Option<TechnicianRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {TECHNICIAN_COLUMNS} FROM technicians WHERE name = $1"
        ))
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(record).transpose()
    }

    /// A technician's row by key, removed or not (so a removed technician
    /// is told so rather than "unknown key").
    pub async fn technician_record_by_key(
        &self,
        key: &PublicKey,
    ) -> Result<Option<TechnicianRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {TECHNICIAN_COLUMNS} FROM technicians WHERE public_key = $1"
        ))
        .bind(key.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(record).transpose()
    }

    /// Technicians who are not removed, by name, at most `limit` of them.
    pub async fn list_technicians(
        &self,
        limit: usize,
    ) -> Result<Vec<TechnicianSummary>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {TECHNICIAN_COLUMNS} FROM technicians WHERE removed_at IS NULL ORDER BY name LIMIT $1"
        ))
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(technician).collect()
    }

    /// Marks a technician removed at `now` and returns who it was. Refused
    /// when nobody of that name is active, or when they are the last admin.
    pub async fn remove_technician(
        &self,
        name: &str,
        now: Timestamp,
    ) -> Result<TechnicianSummary, StoreError> {
        let mut tx = self.begin().await?;
        let result = async {
            let before = Store::lock_for_admin_change(&mut tx, name).await?;
            sqlx::query("UPDATE technicians SET removed_at = $2 WHERE name = $1")
                .bind(name)
                .bind(now.millis())
                .execute(&mut *tx)
                .await?;
            Store::check_an_admin_remains(&mut tx, &before).await?;
            Ok(before)
        }
        .await;
        settle(tx, result).await
    }

    /// Replaces an active technician's roles. Refused when that would take
    /// the admin role from the last admin.
    pub async fn set_technician_roles(
        &self,
        name: &str,
        roles: &[Role],
    ) -> Result<RolesChanged, StoreError> {
        let mut tx = self.begin().await?;
        let result = async {
            let before = Store::lock_for_admin_change(&mut tx, name).await?;
            sqlx::query("UPDATE technicians SET roles = $2 WHERE name = $1")
                .bind(name)
                .bind(roles_to_text(roles))
                .execute(&mut *tx)
                .await?;
            Store::check_an_admin_remains(&mut tx, &before).await?;
            Ok(RolesChanged {
                previous: before.roles.clone(),
                technician: TechnicianSummary {
                    roles: roles.to_vec(),
                    ..before
                },
            })
        }
        .await;
        settle(tx, result).await
    }

    /// Starts a change that could take away an admin: a write on every
    /// active admin's row and on the target's first, so that two such
    /// changes at once (two admins removing each other) run one after the
    /// other on PostgreSQL as on SQLite, and the second sees the first.
    async fn lock_for_admin_change(
        tx: &mut Tx,
        name: &str,
    ) -> Result<TechnicianSummary, StoreError> {
        sqlx::query(
            "UPDATE technicians SET roles = roles \
             WHERE removed_at IS NULL AND (name = $1 OR roles LIKE $2)",
        )
        .bind(name)
        .bind("%admin%")
        .execute(&mut **tx)
        .await?;
        let row = sqlx::query(&format!(
            "SELECT {TECHNICIAN_COLUMNS} FROM technicians WHERE name = $1 AND removed_at IS NULL"
        ))
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?;
        match row {
            Some(row) => technician(&row),
            None => Err(no_such_technician(name)),
        }
    }

    /// After a change inside `tx`: refused if `before` was an admin and no
    /// active admin is left.
    async fn check_an_admin_remains(
        tx: &mut Tx,
        before: &TechnicianSummary,
    ) -> Result<(), StoreError> {
        if !before.roles.contains(&Role::Admin) {
            return Ok(());
        }
        let rows = sqlx::query(&format!(
            "SELECT {TECHNICIAN_COLUMNS} FROM technicians WHERE removed_at IS NULL AND roles LIKE $1"
        ))
        .bind("%admin%")
        .fetch_all(&mut **tx)
        .await?;
        let admins = rows.iter().map(technician).collect::<Result<Vec<_>, _>>()?;
        if admins.iter().any(|t| t.roles.contains(&Role::Admin)) {
            Ok(())
        } else {
            Err(no_admin_left(&before.name))
        }
    }
}

impl Store {
    /// Every active technician holding the approver role, by name (a
    /// removed approver is left out of the next signed policy).
    pub async fn approvers(&self) -> Result<Vec<TechnicianSummary>, StoreError> {
        // The LIKE narrows the scan; the parsed roles decide.
        let rows = sqlx::query(&format!(
            "SELECT {TECHNICIAN_COLUMNS} FROM technicians \
             WHERE roles LIKE $1 AND removed_at IS NULL ORDER BY name"
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
