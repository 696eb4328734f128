//! `triage agents ...`, `triage technicians ...`, `triage tokens ...`:
//! looking at the fleet and the team, and the admin's register/token acts
//! (the relay enforces who may).

use super::{connect, print_json, terminal_width, unexpected, Out};
use crate::args::{AgentsCommand, TechniciansCommand, TokensCommand};
use crate::error::CliError;
use crate::home::{Home, MAX_HOME_FILE_LEN};
use crate::render;
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::Path;
use triage_shared::identity::PublicKey;
use triage_shared::protocol::{Request, Response};
use triage_shared::roles::Role;
use triage_shared::text::check_name;
use triage_shared::time::Timestamp;
use triage_shared::token::EnrollmentToken;
use triage_shared::token_id::TokenId;

/// The `--json` shape of `tokens create`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssuedToken {
    /// The public id `tokens list` and `tokens revoke` use.
    pub id: TokenId,
    pub token: String,
    pub expires_at: Timestamp,
    pub uses: u32,
}

pub async fn agents(home: &Home, command: AgentsCommand, out: Out<'_>) -> Result<(), CliError> {
    let (json, limit, filter) = match command {
        AgentsCommand::List {
            json,
            limit,
            filter,
        } => (json, limit.map(|n| n as usize), filter.to_filter()),
        AgentsCommand::Ping(args) => return super::ping::run(home, args, out).await,
        AgentsCommand::Remove { agent } => {
            return super::revoke::remove_agent(home, &agent, out).await
        }
    };
    let conn = connect(home).await?;
    let result = async {
        let agents = conn.agents(&filter, limit).await?;
        // The table says how many matched in all, also past `--limit`.
        let count = if json {
            None
        } else {
            Some(conn.count_agents(&filter).await?)
        };
        Ok::<_, CliError>((agents, count))
    }
    .await;
    conn.close().await;
    let (agents, count) = result?;
    if json {
        return print_json(out, &agents);
    }
    let filtered = filter != triage_shared::queue::AgentFilter::default();
    if agents.is_empty() && filtered {
        out.write_all(b"No endpoint matches.\n")?;
    } else {
        out.write_all(render::agent_table(&agents, Timestamp::now(), terminal_width()).as_bytes())?;
    }
    if let Some(count) = count {
        out.write_all(render::agent_count_line(&count).as_bytes())?;
    }
    Ok(())
}

pub async fn technicians(
    home: &Home,
    command: TechniciansCommand,
    out: Out<'_>,
) -> Result<(), CliError> {
    match command {
        TechniciansCommand::List { json } => {
            let conn = connect(home).await?;
            let request = Request::ListTechnicians;
            let result = conn.ask(&request).await;
            conn.close().await;
            let technicians = match result? {
                Response::Technicians(t) => t,
                _ => return Err(unexpected(&request)),
            };
            if json {
                return print_json(out, &technicians);
            }
            out.write_all(
                render::technician_table(&technicians, Timestamp::now(), terminal_width())
                    .as_bytes(),
            )?;
            Ok(())
        }
        TechniciansCommand::Add {
            name,
            roles,
            pubkey,
        } => {
            let request = registration(name, roles, &pubkey)?;
            let conn = connect(home).await?;
            let result = conn.ask(&request).await;
            conn.close().await;
            match (result?, &request) {
                (Response::Ok, Request::RegisterTechnician { name, roles, .. }) => {
                    writeln!(
                        out,
                        "Technician {name} registered with roles {}.",
                        render::roles_text(roles)
                    )?;
                    Ok(())
                }
                _ => Err(unexpected(&request)),
            }
        }
        TechniciansCommand::Remove { name } => {
            super::revoke::remove_technician(home, name, out).await
        }
        TechniciansCommand::Roles { name, roles } => {
            super::revoke::set_roles(home, name, roles, out).await
        }
        TechniciansCommand::Email {
            name,
            address,
            events,
        } => super::notify::technician_email(home, name, &address, events, out).await,
    }
}

/// Checks a registration before sending it: a plausible name, each role
/// once, and a readable public key.
pub fn registration(
    name: String,
    mut roles: Vec<Role>,
    pubkey: &Path,
) -> Result<Request, CliError> {
    check_name("name", &name)?;
    roles.sort();
    roles.dedup();
    let public_key = read_public_key(pubkey)?;
    Ok(Request::RegisterTechnician {
        name,
        roles,
        public_key,
    })
}

/// Reads an `ed25519:<hex>` key from a file. The last non-empty line counts,
/// so the saved output of `triage keygen` works as well as `identity.pub`.
pub fn read_public_key(path: &Path) -> Result<PublicKey, CliError> {
    let fail = |source| CliError::File {
        action: "read",
        path: path.into(),
        source,
    };
    let mut text = String::new();
    std::fs::File::open(path)
        .map_err(fail)?
        .take(MAX_HOME_FILE_LEN + 1)
        .read_to_string(&mut text)
        .map_err(fail)?;
    if text.len() as u64 > MAX_HOME_FILE_LEN {
        return Err(CliError::InvalidInput(format!(
            "{} is too large to be a public key file",
            path.display()
        )));
    }
    let line = text
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("");
    line.parse::<PublicKey>().map_err(|e| {
        CliError::InvalidInput(format!(
            "{}: {e}; it should hold the line `triage keygen` printed",
            path.display()
        ))
    })
}

pub async fn tokens(home: &Home, command: TokensCommand, out: Out<'_>) -> Result<(), CliError> {
    let (uses, ttl, json) = match command {
        TokensCommand::Create { uses, ttl, json } => (uses, ttl, json),
        TokensCommand::List { json } => return super::revoke::list_tokens(home, json, out).await,
        TokensCommand::Revoke { id } => return super::revoke::revoke_token(home, id, out).await,
    };
    let request = Request::CreateEnrollmentToken {
        uses,
        ttl_secs: ttl.as_secs(),
    };
    let conn = connect(home).await?;
    let result = conn.ask(&request).await;
    // With an org key pinned, a roster this CLI can verify raises the
    // token's minimum roster version.
    if home.pinned_org_key()?.is_some() {
        if let Ok(roster) = crate::commands::script::current_roster(&conn).await {
            let _ = home.trust_roster(roster.as_ref(), triage_shared::time::Timestamp::now());
        }
    }
    conn.close().await;
    let issued = match result? {
        Response::Token {
            token,
            expires_at,
            uses,
        } => {
            let parsed = token
                .parse::<EnrollmentToken>()
                .map_err(|_| unexpected(&request))?;
            IssuedToken {
                id: TokenId::of(&parsed.secret),
                token: crate::trust::pin_token(home, &token)?,
                expires_at,
                uses,
            }
        }
        _ => return Err(unexpected(&request)),
    };
    if json {
        return print_json(out, &issued);
    }
    // Only the token, so `TOKEN=$(triage tokens create)` works; the id on stderr.
    writeln!(out, "{}", issued.token)?;
    eprintln!(
        "token id {} (`triage tokens revoke {}` takes it back)",
        issued.id, issued.id
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_shared::identity::KeyPair;

    #[test]
    fn keygen_output_and_pub_files_are_both_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let key = KeyPair::generate().public_key();
        let pub_file = dir.path().join("identity.pub");
        std::fs::write(&pub_file, format!("{key}\n")).unwrap();
        assert_eq!(read_public_key(&pub_file).unwrap(), key);
        let saved_output = dir.path().join("keygen.txt");
        std::fs::write(
            &saved_output,
            format!("Created a technician identity\nSend it:\n{key}\n\n"),
        )
        .unwrap();
        assert_eq!(read_public_key(&saved_output).unwrap(), key);
    }

    #[test]
    fn bad_key_files_are_refused_with_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.pub");
        std::fs::write(&bad, "ssh-ed25519 AAAA...").unwrap();
        let err = read_public_key(&bad).unwrap_err();
        assert!(
            err.to_string().contains("bad.pub") && err.to_string().contains("triage keygen"),
            "{err}"
        );
        let huge = dir.path().join("huge.pub");
        std::fs::write(&huge, vec![b'a'; MAX_HOME_FILE_LEN as usize + 1]).unwrap();
        assert!(read_public_key(&huge).is_err());
        assert!(matches!(
            read_public_key(&dir.path().join("missing")),
            Err(CliError::File { .. })
        ));
    }

    #[test]
    fn registration_checks_the_name_and_lists_each_role_once() {
        let dir = tempfile::tempdir().unwrap();
        let key = KeyPair::generate().public_key();
        let file = dir.path().join("k.pub");
        std::fs::write(&file, key.to_string()).unwrap();
        let request = registration(
            "bob".into(),
            vec![Role::Admin, Role::L1, Role::Admin],
            &file,
        )
        .unwrap();
        assert_eq!(
            request,
            Request::RegisterTechnician {
                name: "bob".into(),
                roles: vec![Role::L1, Role::Admin],
                public_key: key
            }
        );
        assert!(matches!(
            registration("bob smith".into(), vec![Role::L1], &file),
            Err(CliError::InvalidInput(_))
        ));
    }

    #[test]
    fn issued_token_json_has_stable_field_names() {
        let t = IssuedToken {
            id: "0123456789abcdef".parse().unwrap(),
            token: "triage://h:1?fp=00&token=11".into(),
            expires_at: Timestamp(5),
            uses: 2,
        };
        let v = serde_json::to_value(&t).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"id": "0123456789abcdef", "token": "triage://h:1?fp=00&token=11", "expires_at": 5, "uses": 2})
        );
    }
}
