//! The organisation key and its rosters, shared by `triage-relay org …`,
//! the network requests and [`crate::RelayHandle`].
//!
//! The org key is the root of script trust: agents pin its public half at
//! enrollment (from the token, put there by whoever minted it from a key
//! they pinned themselves) and install only rosters it signed. The relay
//! records the public half, builds the roster to sign next from its
//! technicians ([`build_roster`]), and stores and pushes signed rosters;
//! the private half is written once to a file for the admin and never
//! stored here. Every check made here only refuses mistakes early: agents
//! and CLIs verify again with the key they pinned.

use crate::audit::{self, LOCAL_ADMIN_ACTOR};
use crate::error::RelayError;
use crate::store::{Store, StoreError};
use serde_json::json;
use std::fs;
use std::io::Write;
use std::path::Path;
use std::time::Duration;
use triage_shared::approval::roster::{
    accept_rotation, check_roster, SignedRotation, MAX_ROSTER_ENTRIES, MAX_ROSTER_VALIDITY,
};
use triage_shared::approval::{Roster, RosterEntry, SignedRoster};
use triage_shared::error::{ErrorKind, RemoteError};
use triage_shared::identity::{KeyPair, PublicKey};
use triage_shared::protocol::TechnicianSummary;
use triage_shared::time::Timestamp;

/// Records `key` as the organisation key (once) and audits it.
pub async fn record_org_key(
    store: &Store,
    key: &PublicKey,
    now: Timestamp,
) -> Result<(), StoreError> {
    let result = store.record_org_key(key, now).await;
    let outcome = match &result {
        Ok(()) => "ok".to_string(),
        Err(e) => outcome_of(e),
    };
    audit::record(
        store,
        LOCAL_ADMIN_ACTOR,
        "org.init",
        &format!("org-key:{key}"),
        &outcome,
        json!({}),
    )
    .await;
    result
}

/// `triage-relay org init`: makes the org key, writes its private half to
/// `out` (refusing to overwrite) and records the public half. If recording
/// fails, the file is removed again so no unusable key is left behind.
pub async fn init_to_file(
    store: &Store,
    out: &Path,
    now: Timestamp,
) -> Result<PublicKey, RelayError> {
    if let Some(existing) = store.org_key().await? {
        return Err(RelayError::Config(format!(
            "this relay already has an organisation key ({existing}); it is never replaced, \
             because enrolled agents trust it. Sign rosters with its key file (`triage roster sign`)"
        )));
    }
    let key = KeyPair::generate();
    write_key_file(out, &key)?;
    if let Err(e) = record_org_key(store, &key.public_key(), now).await {
        let _ = fs::remove_file(out);
        return Err(e.into());
    }
    Ok(key.public_key())
}

/// The roster to sign next: every technician who may author scripts or
/// approve them, with all their roles, valid for `validity` from `now`.
pub fn build_roster(
    version: u64,
    technicians: &[TechnicianSummary],
    now: Timestamp,
    validity: Duration,
) -> Result<Roster, RemoteError> {
    if validity.is_zero() || validity > MAX_ROSTER_VALIDITY {
        return Err(RemoteError::new(
            ErrorKind::InvalidInput,
            format!(
                "a roster may be valid for 1 s to {} days",
                MAX_ROSTER_VALIDITY.as_secs() / 86_400
            ),
        ));
    }
    let entries: Vec<RosterEntry> = technicians
        .iter()
        .map(|t| RosterEntry {
            name: t.name.clone(),
            roles: t.roles.clone(),
            key: t.public_key,
            expires_at: None,
        })
        .filter(|e| e.may_author() || e.may_approve())
        .collect();
    if entries.len() > MAX_ROSTER_ENTRIES {
        return Err(RemoteError::new(
            ErrorKind::InvalidInput,
            format!(
                "{} technicians may author or approve scripts; a roster may name at most {MAX_ROSTER_ENTRIES}",
                entries.len()
            ),
        ));
    }
    Ok(Roster {
        version,
        entries,
        issued_at: now,
        expires_at: now.plus(validity),
    })
}

/// The next roster to sign, from the store's technicians.
pub async fn export_roster(
    store: &Store,
    now: Timestamp,
    validity: Duration,
) -> Result<Roster, StoreError> {
    let version = store.latest_roster_version().await? + 1;
    // Every technician: the roster must never leave someone out silently.
    let technicians = store.list_technicians(u32::MAX as usize).await?;
    Ok(build_roster(version, &technicians, now, validity)?)
}

/// Refuses a key that is not the recorded organisation key.
pub fn check_org_key(recorded: Option<PublicKey>, offered: &PublicKey) -> Result<(), RemoteError> {
    match recorded {
        None => Err(no_org_key()),
        Some(k) if &k == offered => Ok(()),
        Some(k) => Err(RemoteError::new(
            ErrorKind::Forbidden,
            format!(
                "the key given is {offered}, but this relay's store holds {k} as the organisation key; \
                 if you are sure of your key, the store was changed: do not mint tokens or sign with it until you know why"
            ),
        )),
    }
}

/// Stores a roster signed with the org key (checked against the recorded
/// key and the newest stored version, to refuse mistakes early) and audits
/// it. `actor` is who published it.
pub async fn publish_roster(
    store: &Store,
    signed: &SignedRoster,
    actor: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    let result = async {
        let Some(org_key) = store.org_key().await? else {
            return Err(no_org_key().into());
        };
        check_roster(&org_key, signed, now).map_err(|e| {
            RemoteError::new(
                ErrorKind::InvalidInput,
                format!("the roster is not acceptable: {e}"),
            )
        })?;
        let latest = store.latest_roster_version().await?;
        if signed.roster.version <= latest {
            return Err(RemoteError::new(
                ErrorKind::Conflict,
                format!(
                    "roster version {} is not newer than the published version {latest}; export the roster again and sign that",
                    signed.roster.version
                ),
            )
            .into());
        }
        store.insert_roster(signed).await
    }
    .await;
    let r = &signed.roster;
    let details = json!({
        "version": r.version,
        "expires_at": r.expires_at.millis(),
        "entries": r.entries.iter().map(|e| json!({
            "name": e.name,
            "roles": e.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
            "key": e.key.to_string(),
        })).collect::<Vec<_>>(),
    });
    audit::record(
        store,
        actor,
        "roster.publish",
        &format!("roster:{}", r.version),
        &outcome(&result),
        details,
    )
    .await;
    if result.is_ok() {
        tracing::info!(
            version = r.version,
            entries = r.entries.len(),
            "organisation roster published"
        );
    }
    result
}

/// Exports, signs with `org` and publishes the next roster in one step:
/// for the relay host's own `org sign-roster` and the quickstart, where the
/// signer trusts this relay's technician list.
pub async fn sign_and_publish_roster(
    store: &Store,
    org: &KeyPair,
    validity: Duration,
    now: Timestamp,
) -> Result<SignedRoster, StoreError> {
    if let Err(refusal) = check_org_key(store.org_key().await?, &org.public_key()) {
        let outcome = audit::refused(&refusal);
        let target = format!("org-key:{}", org.public_key());
        audit::record(
            store,
            LOCAL_ADMIN_ACTOR,
            "roster.publish",
            &target,
            &outcome,
            json!({}),
        )
        .await;
        return Err(refusal.into());
    }
    let signed = export_roster(store, now, validity).await?.sign(org);
    publish_roster(store, &signed, LOCAL_ADMIN_ACTOR, now).await?;
    Ok(signed)
}

/// Stores a rotation signed by the recorded org key and makes its new key
/// the recorded one.
pub async fn publish_rotation(
    store: &Store,
    rotation: &SignedRotation,
    actor: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    let result = async {
        let Some(current) = store.org_key().await? else {
            return Err(no_org_key().into());
        };
        accept_rotation(&current, rotation).map_err(|e| {
            RemoteError::new(
                ErrorKind::InvalidInput,
                format!("the rotation is not acceptable: {e}"),
            )
        })?;
        store.record_rotation(rotation, now).await
    }
    .await;
    audit::record(
        store,
        actor,
        "org.rotate",
        &format!("org-key:{}", rotation.rotation.new_key),
        &outcome(&result),
        json!({ "old_key": rotation.rotation.old_key.to_string() }),
    )
    .await;
    result
}

fn no_org_key() -> RemoteError {
    RemoteError::new(
        ErrorKind::NotFound,
        "this relay has no organisation key yet; make one with `triage-relay org init --out FILE`",
    )
}

fn outcome<T>(result: &Result<T, StoreError>) -> String {
    match result {
        Ok(_) => "ok".to_string(),
        Err(e) => outcome_of(e),
    }
}

fn outcome_of(e: &StoreError) -> String {
    match e {
        StoreError::Refused(r) => audit::refused(r),
        other => format!("failed: {other}"),
    }
}

/// Writes the private org key to a new file readable only by its owner;
/// an existing file is never overwritten.
pub fn write_key_file(path: &Path, key: &KeyPair) -> Result<(), RelayError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            RelayError::Config(format!(
                "{} already exists; it may hold a key you need, so it is not overwritten. Choose another --out",
                path.display()
            ))
        } else {
            RelayError::io("create org key file", path)(e)
        }
    })?;
    let written = file
        .write_all(key.to_file_text().as_bytes())
        .and_then(|_| file.sync_all());
    if let Err(e) = written {
        let _ = fs::remove_file(path);
        return Err(RelayError::io("write org key file", path)(e));
    }
    Ok(())
}

pub fn read_key_file(path: &Path) -> Result<KeyPair, RelayError> {
    let text = fs::read_to_string(path).map_err(RelayError::io("read org key file", path))?;
    KeyPair::from_file_text(&text).map_err(|source| RelayError::BadKey {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_shared::roles::Role;

    fn tech(name: &str, roles: &[Role]) -> TechnicianSummary {
        TechnicianSummary {
            name: name.into(),
            roles: roles.to_vec(),
            public_key: KeyPair::generate().public_key(),
            created_at: Timestamp(0),
        }
    }

    #[test]
    fn the_roster_names_every_author_and_approver_with_their_roles() {
        let techs = [
            tech("alice", &[Role::L2]),
            tech("bob", &[Role::L1]),
            tech("carol", &[Role::Approver]),
            tech("root", &[Role::Admin]),
            tech("dave", &[Role::L1, Role::Approver]),
        ];
        let r = build_roster(3, &techs, Timestamp(9), Duration::from_secs(60)).unwrap();
        let names: Vec<_> = r.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["alice", "carol", "root", "dave"]);
        assert_eq!(r.entries[3].roles, [Role::L1, Role::Approver]);
        assert_eq!(r.entries[1].key, techs[2].public_key);
        assert_eq!((r.version, r.issued_at), (3, Timestamp(9)));
        assert_eq!(r.expires_at, Timestamp(60_009));
    }

    #[test]
    fn roster_size_and_validity_are_bounded() {
        let techs: Vec<_> = (0..=MAX_ROSTER_ENTRIES)
            .map(|i| tech(&format!("a{i}"), &[Role::Approver]))
            .collect();
        let day = Duration::from_secs(86_400);
        assert!(build_roster(1, &techs, Timestamp(0), day).is_err());
        assert!(build_roster(1, &techs[1..], Timestamp(0), day).is_ok());
        assert!(build_roster(1, &techs[1..], Timestamp(0), Duration::ZERO).is_err());
        assert!(build_roster(1, &techs[1..], Timestamp(0), MAX_ROSTER_VALIDITY).is_ok());
        let too_long = MAX_ROSTER_VALIDITY + Duration::from_secs(1);
        assert!(build_roster(1, &techs[1..], Timestamp(0), too_long).is_err());
    }

    #[test]
    fn only_the_recorded_org_key_may_sign() {
        let org = KeyPair::generate().public_key();
        let other = KeyPair::generate().public_key();
        assert!(check_org_key(Some(org), &org).is_ok());
        let err = check_org_key(Some(org), &other).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Forbidden);
        assert!(err.message.contains(&org.to_string()), "{}", err.message);
        let err = check_org_key(None, &org).unwrap_err();
        assert!(err.message.contains("org init"), "{}", err.message);
        let err = check_org_key(Some(org), &other).unwrap_err();
        assert!(
            err.message.contains("the store was changed"),
            "{}",
            err.message
        );
    }

    #[test]
    fn key_file_is_private_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("org.key");
        let key = KeyPair::generate();
        write_key_file(&path, &key).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let err = write_key_file(&path, &KeyPair::generate()).unwrap_err();
        assert!(err.to_string().contains("not overwritten"), "{err}");
        assert_eq!(read_key_file(&path).unwrap().public_key(), key.public_key());
    }
}
