//! Taking access away, whether through a technician connection or the
//! offline `triage-relay` subcommands: remove a technician, change their
//! roles, remove an agent, revoke an enrollment token. Each checks its
//! input here, once, and writes its audit entry with the outcome, like
//! `crate::admin`. Closing the live connections of whoever lost access is
//! the server's half (`server::revoke`); this module only changes the store.
//!
//! Rows are marked, never deleted: a removed technician's name still means
//! someone in the audit log and ticket history, and a removed agent's
//! tickets keep their agent.

use crate::admin::{check_technician, outcome};
use crate::audit;
use crate::store::{AgentRecord, RolesChanged, Store, StoreError};
use serde_json::json;
use std::fmt::Write as _;
use triage_shared::error::{ErrorKind, RemoteError};
use triage_shared::protocol::{TechnicianSummary, TokenSummary};
use triage_shared::roles::Role;
use triage_shared::text::check_name;
use triage_shared::time::Timestamp;
use triage_shared::token_id::parse_token_prefix;
use triage_shared::AgentId;

fn role_names(roles: &[Role]) -> Vec<&'static str> {
    roles.iter().map(|r| r.as_str()).collect()
}

/// Removes technician `name` on behalf of `actor` (an audit actor). Refused
/// if they are the last admin.
pub async fn remove_technician(
    store: &Store,
    name: &str,
    actor: &str,
    now: Timestamp,
) -> Result<TechnicianSummary, StoreError> {
    let result = async {
        check_name("name", name)?;
        store.remove_technician(name, now).await
    }
    .await;
    let details = match &result {
        Ok(t) => json!({ "roles": role_names(&t.roles), "public_key": t.public_key.to_string() }),
        Err(_) => json!({}),
    };
    audit::record(
        store,
        actor,
        "technician.remove",
        &audit::technician_actor(name),
        &outcome(&result),
        details,
    )
    .await;
    if result.is_ok() {
        tracing::info!(technician = %name, actor, "technician removed");
    }
    result
}

/// Replaces technician `name`'s roles. Refused if it would take the admin
/// role from the last admin.
pub async fn set_technician_roles(
    store: &Store,
    name: &str,
    roles: &[Role],
    actor: &str,
) -> Result<RolesChanged, StoreError> {
    let result = async {
        let roles = check_technician(name, roles)?;
        store.set_technician_roles(name, &roles).await
    }
    .await;
    let mut details = json!({ "roles": role_names(roles) });
    if let Ok(changed) = &result {
        details["previous_roles"] = json!(role_names(&changed.previous));
    }
    audit::record(
        store,
        actor,
        "technician.roles",
        &audit::technician_actor(name),
        &outcome(&result),
        details,
    )
    .await;
    if let Ok(changed) = &result {
        tracing::info!(technician = %name, roles = ?changed.technician.roles, actor, "technician roles changed");
    }
    result
}

/// Removes (unenrolls) an agent. Its tickets stay.
pub async fn remove_agent(
    store: &Store,
    agent: AgentId,
    actor: &str,
    now: Timestamp,
) -> Result<AgentRecord, StoreError> {
    let result = store.remove_agent(agent, now).await;
    let details = match &result {
        Ok(a) => json!({ "hostname": a.hostname, "public_key": a.public_key.to_string() }),
        Err(_) => json!({}),
    };
    audit::record(
        store,
        actor,
        "agent.remove",
        &audit::agent_actor(agent),
        &outcome(&result),
        details,
    )
    .await;
    if result.is_ok() {
        tracing::info!(%agent, actor, "agent removed");
    }
    result
}

/// Revokes the token whose id is or starts with `id`.
pub async fn revoke_token(
    store: &Store,
    id: &str,
    actor: &str,
    now: Timestamp,
) -> Result<TokenSummary, StoreError> {
    let result = async {
        let prefix = parse_token_prefix(id)
            .map_err(|m| StoreError::Refused(RemoteError::new(ErrorKind::InvalidInput, m)))?;
        store.revoke_token(&prefix, actor, now).await
    }
    .await;
    let target = match &result {
        Ok(t) => format!("token:{}", t.id),
        Err(_) => format!("token:{}", audit::bounded(id)),
    };
    audit::record(
        store,
        actor,
        "token.revoke",
        &target,
        &outcome(&result),
        json!({}),
    )
    .await;
    if let Ok(t) = &result {
        tracing::info!(token = %t.id, actor, "enrollment token revoked");
    }
    result
}

/// The tokens as a text table, or a hint when there are none.
pub fn tokens_table(tokens: &[TokenSummary], now: Timestamp) -> String {
    if tokens.is_empty() {
        return "No enrollment tokens yet; make one with `triage-relay token` or `triage tokens create`.\n".into();
    }
    let mut out = format!(
        "{:<17} {:<8} {:<5} {:<21} {:<21} {:<21} CREATED BY\n",
        "ID", "STATE", "USES", "CREATED", "EXPIRES", "REVOKED"
    );
    for t in tokens {
        let revoked = t
            .revoked_at
            .map_or_else(|| "-".to_string(), |at| at.to_string());
        let _ = writeln!(
            out,
            "{:<17} {:<8} {:<5} {:<21} {:<21} {:<21} {}",
            t.id,
            t.state(now),
            t.uses_left,
            t.created_at,
            t.expires_at,
            revoked,
            t.created_by
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(uses_left: u32, expires_at: i64, revoked_at: Option<i64>) -> TokenSummary {
        TokenSummary {
            id: "0123456789abcdef".parse().unwrap(),
            created_at: Timestamp(0),
            expires_at: Timestamp(expires_at),
            uses_left,
            created_by: "relay-admin".into(),
            revoked_at: revoked_at.map(Timestamp),
            revoked_by: revoked_at.map(|_| "technician:alice".into()),
        }
    }

    #[test]
    fn token_table_has_one_line_each_and_a_hint_when_empty() {
        assert!(tokens_table(&[], Timestamp(0)).contains("triage-relay token"));
        let table = tokens_table(&[token(2, 200, Some(60))], Timestamp(100));
        let lines: Vec<_> = table.lines().collect();
        assert_eq!(lines.len(), 2, "{table}");
        assert!(lines[1].starts_with("0123456789abcdef revoked"), "{table}");
        assert!(lines[1].ends_with("relay-admin"), "{table}");
    }
}
