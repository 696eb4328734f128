//! Taking access away (admin only; the relay enforces it):
//! `technicians remove NAME`, `technicians roles NAME --role R...`,
//! `agents remove AGENT`, `tokens list [--json]` and `tokens revoke ID`.
//! Each checks its input before connecting ([`plan_removal`],
//! [`plan_roles`], `AgentSelector::parse`; token ids are parsed by clap).

use super::{connect, print_json, terminal_width, unexpected, Out};
use crate::error::CliError;
use crate::home::Home;
use crate::render::roles_text;
use crate::text::{relative, table};
use triage_shared::protocol::{Request, Response, TokenSummary};
use triage_shared::roles::Role;
use triage_shared::text::check_name;
use triage_shared::time::Timestamp;

/// `technicians remove NAME`, checked.
pub fn plan_removal(name: String) -> Result<Request, CliError> {
    check_name("name", &name)?;
    Ok(Request::RemoveTechnician { name })
}

/// `technicians roles NAME --role ...`, checked: a plausible name and each
/// role once (clap already refused unknown roles and none at all).
pub fn plan_roles(name: String, mut roles: Vec<Role>) -> Result<Request, CliError> {
    check_name("name", &name)?;
    roles.sort();
    roles.dedup();
    if roles.is_empty() {
        return Err(CliError::InvalidInput(
            "give at least one role: l1, l2, l3, approver or admin".into(),
        ));
    }
    Ok(Request::SetTechnicianRoles { name, roles })
}

/// Sends one admin request that is answered `Ok`.
async fn send_ok(home: &Home, request: &Request) -> Result<(), CliError> {
    let conn = connect(home).await?;
    let result = conn.ask(request).await;
    conn.close().await;
    match result? {
        Response::Ok => Ok(()),
        _ => Err(unexpected(request)),
    }
}

pub async fn remove_technician(home: &Home, name: String, out: Out<'_>) -> Result<(), CliError> {
    let request = plan_removal(name)?;
    send_ok(home, &request).await?;
    if let Request::RemoveTechnician { name } = &request {
        writeln!(
            out,
            "Technician {name} removed: their connections are closed and their key is refused from now on."
        )?;
    }
    Ok(())
}

pub async fn set_roles(
    home: &Home,
    name: String,
    roles: Vec<Role>,
    out: Out<'_>,
) -> Result<(), CliError> {
    let request = plan_roles(name, roles)?;
    send_ok(home, &request).await?;
    if let Request::SetTechnicianRoles { name, roles } = &request {
        writeln!(
            out,
            "Technician {name} now has roles {}, from their next request.",
            roles_text(roles)
        )?;
    }
    Ok(())
}

pub async fn remove_agent(home: &Home, agent: &str, out: Out<'_>) -> Result<(), CliError> {
    let selector = crate::selector::parse_agent(agent)?;
    let conn = connect(home).await?;
    let result = async {
        let target = conn.resolve_agent(&selector).await?;
        let request = Request::RemoveAgent { agent: target.id };
        match conn.ask(&request).await? {
            Response::Ok => Ok(target),
            _ => Err(unexpected(&request)),
        }
    }
    .await;
    conn.close().await;
    let removed = result?;
    writeln!(
        out,
        "Agent {} ({}) removed; its tickets stay. To bring the endpoint back, enroll it again there: `triage-agent enroll TOKEN --force`.",
        removed.id,
        triage_shared::text::clean(&removed.hostname)
    )?;
    Ok(())
}

pub async fn list_tokens(home: &Home, json: bool, out: Out<'_>) -> Result<(), CliError> {
    let conn = connect(home).await?;
    let request = Request::ListTokens;
    let result = conn.ask(&request).await;
    conn.close().await;
    let tokens = match result? {
        Response::Tokens(tokens) => tokens,
        _ => return Err(unexpected(&request)),
    };
    if json {
        return print_json(out, &tokens);
    }
    out.write_all(token_table(&tokens, Timestamp::now(), terminal_width()).as_bytes())?;
    Ok(())
}

pub async fn revoke_token(home: &Home, id: String, out: Out<'_>) -> Result<(), CliError> {
    let request = Request::RevokeToken { id };
    send_ok(home, &request).await?;
    if let Request::RevokeToken { id } = &request {
        writeln!(
            out,
            "Enrollment token {id} revoked; it can no longer enroll."
        )?;
    }
    Ok(())
}

/// `tokens list`.
pub fn token_table(tokens: &[TokenSummary], now: Timestamp, width: usize) -> String {
    if tokens.is_empty() {
        return "No enrollment tokens; make one with `triage tokens create`.\n".into();
    }
    let rows: Vec<Vec<String>> = tokens
        .iter()
        .map(|t| {
            vec![
                t.id.to_string(),
                t.state(now).into(),
                t.uses_left.to_string(),
                relative(t.created_at, now),
                relative(t.expires_at, now),
                t.revoked_at
                    .map_or_else(|| "-".into(), |at| relative(at, now)),
                t.created_by.clone(),
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "STATE",
            "USES LEFT",
            "CREATED",
            "EXPIRES",
            "REVOKED",
            "CREATED BY",
        ],
        &rows,
        width,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_input_is_refused_before_connecting() {
        assert!(matches!(
            plan_removal("bob smith".into()),
            Err(CliError::InvalidInput(_))
        ));
        assert!(matches!(
            plan_roles("".into(), vec![Role::L1]),
            Err(CliError::InvalidInput(_))
        ));
        assert!(matches!(
            plan_roles("bob".into(), vec![]),
            Err(CliError::InvalidInput(_))
        ));
        assert!(crate::selector::parse_agent("  ").is_err());
        assert_eq!(
            plan_roles("bob".into(), vec![Role::L2, Role::L1, Role::L2]).unwrap(),
            Request::SetTechnicianRoles {
                name: "bob".into(),
                roles: vec![Role::L1, Role::L2]
            }
        );
        assert_eq!(
            plan_removal("bob".into()).unwrap(),
            Request::RemoveTechnician { name: "bob".into() }
        );
    }

    #[tokio::test]
    async fn a_bad_name_fails_without_looking_for_a_relay() {
        // An empty home: reaching `connect` would fail with "not logged in".
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path());
        let mut out = Vec::new();
        let err = remove_technician(&home, "bad name".into(), &mut out)
            .await
            .unwrap_err();
        assert!(matches!(err, CliError::InvalidInput(_)), "{err}");
        let err = remove_agent(&home, " ", &mut out).await.unwrap_err();
        assert!(matches!(err, CliError::InvalidInput(_)), "{err}");
    }

    fn token(revoked: bool) -> TokenSummary {
        TokenSummary {
            id: "0123456789abcdef".parse().unwrap(),
            created_at: Timestamp(0),
            expires_at: Timestamp(10_000_000),
            uses_left: 1,
            created_by: "technician:admin".into(),
            revoked_at: revoked.then_some(Timestamp(1_000)),
            revoked_by: revoked.then(|| "technician:admin".into()),
        }
    }

    #[test]
    fn token_table_shows_the_id_and_state_and_json_is_the_protocol_type() {
        let table = token_table(&[token(true), token(false)], Timestamp(5_000), 200);
        let lines: Vec<_> = table.lines().collect();
        assert_eq!(lines.len(), 3, "{table}");
        assert!(
            lines[1].contains("0123456789abcdef") && lines[1].contains("revoked"),
            "{table}"
        );
        assert!(lines[2].contains("usable"), "{table}");
        assert!(token_table(&[], Timestamp(0), 80).contains("tokens create"));
        let v = serde_json::to_value(token(true)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "id": "0123456789abcdef", "created_at": 0, "expires_at": 10_000_000,
                "uses_left": 1, "created_by": "technician:admin",
                "revoked_at": 1_000, "revoked_by": "technician:admin"
            })
        );
    }
}
