//! `triage keygen`, `pubkey`, `login`, `whoami`: the technician's identity
//! and which relay it is used with.

use super::{connect, connect_to, print_json, Out};
use crate::error::CliError;
use crate::home::Home;
use crate::render;
use triage_shared::identity::PublicKey;
use triage_shared::protocol::SessionIdentity;
use triage_shared::text::clean;
use triage_shared::token::{EnrollmentToken, RelayLocator};

/// Makes the key pair. The public key is the last line, so scripts (and
/// `triage-relay quickstart`) can take it with `tail -n 1`.
pub fn keygen(home: &Home, force: bool, out: Out<'_>) -> Result<(), CliError> {
    let key = home.create_key(force)?;
    writeln!(
        out,
        "Created a technician identity in {}.",
        home.key_path().display()
    )?;
    writeln!(
        out,
        "Send this public key to a Triage admin (it is also in {}):",
        home.public_key_path().display()
    )?;
    writeln!(out, "{}", key.public_key())?;
    Ok(())
}

pub fn pubkey(home: &Home, out: Out<'_>) -> Result<(), CliError> {
    let key = home.load_key()?;
    writeln!(out, "{}", key.public_key())?;
    Ok(())
}

/// Checks that the relay accepts this key before remembering the relay, so
/// a wrong token or an unregistered key leaves the old login in place.
pub async fn login(
    home: &Home,
    relay_token: &str,
    org_key: Option<PublicKey>,
    out: Out<'_>,
) -> Result<(), CliError> {
    let relay: RelayLocator = relay_token.parse()?;
    let in_token = relay_token
        .parse::<EnrollmentToken>()
        .ok()
        .and_then(|t| t.org_key);
    if let (Some(given), Some(carried)) = (&org_key, &in_token) {
        if given != carried {
            return Err(CliError::InvalidInput(format!(
                "the token carries organisation key {carried}, but you gave {given}; ask your admin which one is right before logging in"
            )));
        }
    }
    let key = home.load_key()?;
    let conn = connect_to(relay, &key).await?;
    let line = format!(
        "logged in to {} as {} ({})",
        conn.relay.addr,
        clean(&conn.name),
        render::roles_text(&conn.roles)
    );
    let saved = home.save_relay(&conn.relay);
    conn.close().await;
    saved?;
    if let Some(org) = &org_key {
        home.pin_org_key(org)?;
    }
    writeln!(out, "{line}")?;
    match home.pinned_org_key()? {
        Some(org) => writeln!(out, "organisation key {org} is pinned")?,
        None => writeln!(
            out,
            "no organisation key is pinned: approving scripts and making tokens that run scripts need it; log in again with --org-key ed25519:… (from your organisation, not from the relay)"
        )?,
    }
    Ok(())
}

pub async fn whoami(home: &Home, json: bool, out: Out<'_>) -> Result<(), CliError> {
    let conn = connect(home).await?;
    let identity = SessionIdentity::Technician {
        name: conn.name.clone(),
        roles: conn.roles.clone(),
    };
    let addr = conn.relay.addr.clone();
    conn.close().await;
    if json {
        return print_json(out, &identity);
    }
    writeln!(out, "{} on relay {addr}", render::identity_text(&identity))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_shared::identity::KeyPair;

    #[test]
    fn keygen_prints_the_public_key_last_and_pubkey_repeats_it() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path().join("tech"));
        let mut out = Vec::new();
        keygen(&home, false, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let last: PublicKey = text.lines().last().unwrap().parse().unwrap();
        assert_eq!(last, home.load_key().unwrap().public_key());
        let mut out = Vec::new();
        pubkey(&home, &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), format!("{last}\n"));
    }

    #[test]
    fn keygen_refuses_to_replace_a_key_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path());
        keygen(&home, false, &mut Vec::new()).unwrap();
        let before = home.load_key().unwrap().public_key();
        let mut out = Vec::new();
        assert!(matches!(
            keygen(&home, false, &mut out),
            Err(CliError::IdentityExists(_))
        ));
        assert!(out.is_empty());
        assert_eq!(home.load_key().unwrap().public_key(), before);
    }

    #[test]
    fn pubkey_without_a_key_says_to_run_keygen() {
        let dir = tempfile::tempdir().unwrap();
        let err = pubkey(&Home::new(dir.path()), &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("triage keygen"), "{err}");
    }

    #[tokio::test]
    async fn login_refuses_a_malformed_token_before_connecting_and_keeps_no_relay() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path());
        std::fs::write(home.key_path(), KeyPair::generate().to_file_text()).unwrap();
        let err = login(&home, "http://relay:1", None, &mut Vec::new())
            .await
            .unwrap_err();
        assert!(matches!(err, CliError::BadRelayToken(_)), "{err}");
        assert!(!home.relay_path().exists());
    }

    #[tokio::test]
    async fn login_without_a_key_says_to_run_keygen() {
        let dir = tempfile::tempdir().unwrap();
        let token = format!("triage://127.0.0.1:9?fp={}", "ab".repeat(32));
        let err = login(&Home::new(dir.path()), &token, None, &mut Vec::new())
            .await
            .unwrap_err();
        assert!(matches!(err, CliError::NoIdentity(_)), "{err}");
    }
}
