//! Turning rows back into typed values. A value that does not parse is
//! reported as corrupt data rather than papered over.

use super::StoreError;
use sqlx::any::AnyRow;
use sqlx::Row;
use std::fmt::Display;
use std::str::FromStr;
use triage_shared::roles::Role;
use triage_shared::ticket::Ticket;
use triage_shared::time::Timestamp;

pub(super) fn text(row: &AnyRow, col: &str) -> Result<String, StoreError> {
    Ok(row.try_get::<String, _>(col)?)
}

pub(super) fn opt_text(row: &AnyRow, col: &str) -> Result<Option<String>, StoreError> {
    Ok(row.try_get::<Option<String>, _>(col)?)
}

pub(super) fn parsed<T>(row: &AnyRow, col: &str) -> Result<T, StoreError>
where
    T: FromStr,
    T::Err: Display,
{
    parse_text(col, &text(row, col)?)
}

pub(super) fn opt_parsed<T>(row: &AnyRow, col: &str) -> Result<Option<T>, StoreError>
where
    T: FromStr,
    T::Err: Display,
{
    opt_text(row, col)?.map(|s| parse_text(col, &s)).transpose()
}

fn parse_text<T>(col: &str, s: &str) -> Result<T, StoreError>
where
    T: FromStr,
    T::Err: Display,
{
    s.parse()
        .map_err(|e| StoreError::Corrupt(format!("column {col}: {e}")))
}

pub(super) fn int(row: &AnyRow, col: &str) -> Result<i64, StoreError> {
    Ok(row.try_get::<i64, _>(col)?)
}

pub(super) fn opt_int(row: &AnyRow, col: &str) -> Result<Option<i64>, StoreError> {
    Ok(row.try_get::<Option<i64>, _>(col)?)
}

pub(super) fn timestamp(row: &AnyRow, col: &str) -> Result<Timestamp, StoreError> {
    int(row, col).map(Timestamp)
}

pub(super) fn opt_timestamp(row: &AnyRow, col: &str) -> Result<Option<Timestamp>, StoreError> {
    Ok(row.try_get::<Option<i64>, _>(col)?.map(Timestamp))
}

pub(super) fn json<T: serde::de::DeserializeOwned>(
    row: &AnyRow,
    col: &str,
) -> Result<T, StoreError> {
    let s = text(row, col)?;
    serde_json::from_str(&s).map_err(|e| StoreError::Corrupt(format!("column {col}: {e}")))
}

pub(super) fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::Corrupt(format!("cannot encode as JSON: {e}")))
}

/// Roles are stored as `l1,admin`.
pub(super) fn roles_to_text(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

pub(super) fn roles_from_text(text: &str) -> Result<Vec<Role>, StoreError> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| parse_text("roles", s))
        .collect()
}

/// The ticket columns in the order [`ticket`] reads them.
pub(super) const TICKET_COLUMNS: &str =
    "id, title, description, category, priority, status, tier, source, \
     agent_id, hostname, requester, assignee, created_at, updated_at, sla_due_at, sla_json";

pub(super) fn ticket(row: &AnyRow) -> Result<Ticket, StoreError> {
    Ok(Ticket {
        id: parsed(row, "id")?,
        title: text(row, "title")?,
        description: text(row, "description")?,
        category: parsed(row, "category")?,
        priority: parsed(row, "priority")?,
        status: parsed(row, "status")?,
        tier: parsed(row, "tier")?,
        source: parsed(row, "source")?,
        agent_id: opt_parsed(row, "agent_id")?,
        hostname: opt_text(row, "hostname")?,
        requester: text(row, "requester")?,
        assignee: opt_text(row, "assignee")?,
        created_at: timestamp(row, "created_at")?,
        updated_at: timestamp(row, "updated_at")?,
        sla_due_at: timestamp(row, "sla_due_at")?,
        sla: opt_text(row, "sla_json")?
            .map(|text| {
                serde_json::from_str(&text)
                    .map_err(|e| StoreError::Corrupt(format!("sla_json: {e}")))
            })
            .transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_text() {
        let roles = [Role::L1, Role::Admin];
        assert_eq!(roles_to_text(&roles), "l1,admin");
        assert_eq!(roles_from_text("l1,admin").unwrap(), roles);
        assert!(roles_from_text("").unwrap().is_empty());
        assert!(matches!(
            roles_from_text("l1,root"),
            Err(StoreError::Corrupt(_))
        ));
    }
}
