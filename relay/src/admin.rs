//! What an administrator can do, whether through a technician connection,
//! the [`crate::RelayHandle`], or the offline `triage-relay` subcommands:
//! register technicians and mint enrollment tokens. Each checks its input
//! here, once, whichever way it arrives.

use crate::audit;
use crate::store::{Store, StoreError};
use serde_json::json;
use std::time::Duration;
use triage_shared::error::{ErrorKind, RemoteError};
use triage_shared::identity::PublicKey;
use triage_shared::limits::{MAX_ROLES, MAX_TOKEN_TTL_SECS, MAX_TOKEN_USES};
use triage_shared::protocol::TechnicianSummary;
use triage_shared::roles::Role;
use triage_shared::text::check_name;
use triage_shared::time::Timestamp;
use triage_shared::token::{EnrollmentToken, RelayLocator, TokenSecret};

/// Who acts when it is not a technician over the network (the offline
/// commands and [`crate::RelayHandle`]); recorded on tokens and in the audit log.
pub const LOCAL_ADMIN: &str = audit::LOCAL_ADMIN_ACTOR;

/// Checks a technician's name and roles; returns the roles sorted, without repeats.
pub fn check_technician(name: &str, roles: &[Role]) -> Result<Vec<Role>, RemoteError> {
    check_name("name", name)?;
    let mut roles = roles.to_vec();
    roles.sort();
    roles.dedup();
    if roles.is_empty() {
        return Err(RemoteError::new(
            ErrorKind::InvalidInput,
            "roles: give at least one of l1, l2, l3, approver, admin",
        ));
    }
    if roles.len() > MAX_ROLES {
        return Err(RemoteError::new(
            ErrorKind::InvalidInput,
            format!("roles: at most {MAX_ROLES}"),
        ));
    }
    Ok(roles)
}

/// The audit outcome text of a result.
pub(crate) fn outcome<T>(result: &Result<T, StoreError>) -> String {
    match result {
        Ok(_) => "ok".into(),
        Err(StoreError::Refused(r)) => audit::refused(r),
        Err(e) => format!("failed: {e}"),
    }
}

/// Registers a technician on behalf of `actor` (an audit actor) and audits it.
pub async fn register_technician(
    store: &Store,
    name: &str,
    roles: &[Role],
    public_key: PublicKey,
    actor: &str,
    now: Timestamp,
) -> Result<TechnicianSummary, StoreError> {
    let result = async {
        let roles = check_technician(name, roles)?;
        let tech = TechnicianSummary {
            name: name.to_string(),
            roles,
            public_key,
            created_at: now,
        };
        let readded = store.add_technician(&tech).await?;
        Ok((tech, readded))
    }
    .await;
    let mut details = json!({
        "roles": roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        "public_key": public_key.to_string(),
    });
    // Adding a removed name again is allowed, and said so in the log.
    if let Ok((_, Some(readded))) = &result {
        details["readded"] = json!({
            "removed_at": readded.removed_at.millis(),
            "previous_public_key": readded.previous_key.to_string(),
            "previous_roles": readded.previous_roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        });
    }
    let result = result.map(|(tech, _)| tech);
    audit::record(
        store,
        actor,
        "technician.register",
        &format!("technician:{name}"),
        &outcome(&result),
        details,
    )
    .await;
    if let Ok(tech) = &result {
        tracing::info!(technician = %tech.name, roles = ?tech.roles, "technician registered");
    }
    result
}

/// Checks the uses and lifetime asked for a token.
pub fn check_token_request(uses: u32, ttl_secs: u64) -> Result<(), RemoteError> {
    if !(1..=MAX_TOKEN_USES).contains(&uses) {
        return Err(RemoteError::new(
            ErrorKind::InvalidInput,
            format!(
                "uses: {uses} is out of range; a token may be used 1 to {MAX_TOKEN_USES} times"
            ),
        ));
    }
    if !(1..=MAX_TOKEN_TTL_SECS).contains(&ttl_secs) {
        return Err(RemoteError::new(
            ErrorKind::InvalidInput,
            format!(
                "ttl: {ttl_secs} s is out of range; a token may live 1 s to {} days",
                MAX_TOKEN_TTL_SECS / 86_400
            ),
        ));
    }
    Ok(())
}

/// The organisation key a token carries, and the lowest roster version
/// its agent may accept. Whoever mints the token pinned the key themselves
/// (a file, a fingerprint read out, the CLI's own pin): it is never read
/// from the store, which a hostile relay host can rewrite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinnedOrg {
    pub key: PublicKey,
    pub min_roster: u64,
}

/// What a token is for.
#[derive(Debug, Clone, Copy)]
pub struct TokenRequest {
    pub uses: u32,
    pub ttl: Duration,
    /// `None`: agents enrolled with it trust no author or approver.
    pub org: Option<PinnedOrg>,
}

/// Makes a token for `relay`: the secret goes to the caller, only its hash
/// to the store. With `org`, the key given must be the one the store holds
/// (a mismatch means a mistake or a changed store; either way no token).
/// Returns the token and its expiry; `actor` is who asked, for the audit log.
pub async fn mint_token(
    store: &Store,
    relay: &RelayLocator,
    request: TokenRequest,
    actor: &str,
    now: Timestamp,
) -> Result<(EnrollmentToken, Timestamp), StoreError> {
    let TokenRequest { uses, ttl, org } = request;
    let result = async {
        check_token_request(uses, ttl.as_secs())?;
        if let Some(org) = &org {
            crate::org::check_org_key(store.org_key().await?, &org.key)?;
        }
        let secret = TokenSecret::generate();
        let expires_at = now.plus(Duration::from_secs(ttl.as_secs()));
        store
            .create_token(&secret.hash_hex(), uses, expires_at, actor, now)
            .await?;
        let token = EnrollmentToken {
            relay: relay.clone(),
            secret,
            org_key: org.map(|o| o.key),
            min_roster: org.map_or(0, |o| o.min_roster),
        };
        Ok((token, expires_at))
    }
    .await;
    let details = match &result {
        Ok((token, expires_at)) => json!({
            "uses": uses,
            "expires_at": expires_at.millis(),
            "token_hash": token.secret.hash_hex(),
            "org_key": token.org_key.map(|k| k.to_string()),
            "min_roster": token.min_roster,
        }),
        Err(_) => json!({ "uses": uses, "ttl_secs": ttl.as_secs() }),
    };
    audit::record(
        store,
        actor,
        "token.create",
        "enrollment-token",
        &outcome(&result),
        details,
    )
    .await;
    if let Ok((_, expires_at)) = &result {
        tracing::info!(uses, %expires_at, actor, "enrollment token made");
    }
    result
}

/// The technicians as a text table, or a hint when there are none.
pub fn technicians_table(technicians: &[TechnicianSummary]) -> String {
    use std::fmt::Write as _;
    if technicians.is_empty() {
        return "No technicians yet; add one with `triage-relay technician add NAME --role admin --pubkey FILE`.\n"
            .into();
    }
    let mut out = format!(
        "{:<24} {:<28} {:<20} PUBLIC KEY\n",
        "NAME", "ROLES", "REGISTERED"
    );
    for t in technicians {
        let roles: Vec<_> = t.roles.iter().map(|r| r.as_str()).collect();
        let _ = writeln!(
            out,
            "{:<24} {:<28} {:<20} {}",
            t.name,
            roles.join(","),
            t.created_at,
            t.public_key
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn technician_table_has_one_line_each_and_a_hint_when_empty() {
        assert!(technicians_table(&[]).contains("triage-relay technician add"));
        let key = triage_shared::identity::KeyPair::generate().public_key();
        let carol = TechnicianSummary {
            name: "carol".into(),
            roles: vec![Role::L1, Role::Admin],
            public_key: key,
            created_at: Timestamp(0),
        };
        let table = technicians_table(&[carol]);
        let lines: Vec<_> = table.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(
            lines[1].starts_with("carol ") && lines[1].contains("l1,admin"),
            "{table}"
        );
        assert!(
            lines[1].contains("1970-01-01T00:00:00Z") && lines[1].ends_with(&key.to_string()),
            "{table}"
        );
    }

    #[test]
    fn token_bounds_are_inclusive() {
        assert!(check_token_request(1, 1).is_ok());
        assert!(check_token_request(MAX_TOKEN_USES, MAX_TOKEN_TTL_SECS).is_ok());
        assert!(check_token_request(0, 60).is_err());
        assert!(check_token_request(MAX_TOKEN_USES + 1, 60).is_err());
        assert!(check_token_request(1, 0).is_err());
        let err = check_token_request(1, MAX_TOKEN_TTL_SECS + 1).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidInput);
        assert!(err.message.contains("30 days"), "{}", err.message);
    }

    #[test]
    fn technician_roles_are_deduplicated_and_required() {
        assert_eq!(
            check_technician("carol", &[Role::Admin, Role::L1, Role::Admin]).unwrap(),
            [Role::L1, Role::Admin]
        );
        assert!(check_technician("carol", &[]).is_err());
        assert!(check_technician("bad name", &[Role::L1]).is_err());
        assert_eq!(
            check_technician("carol", &Role::ALL).unwrap().len(),
            MAX_ROLES
        );
    }
}
