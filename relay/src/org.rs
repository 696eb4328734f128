//! The organisation key and its policies, shared by `triage-relay org …`
//! and [`crate::RelayHandle`].
//!
//! The org key is the root of script trust: agents pin its public half at
//! enrollment (it travels in the token) and install only policies it signed.
//! The relay records the public half and stores signed policies; the private
//! half is written once to a file for the admin and never stored here.

use crate::audit::{self, LOCAL_ADMIN_ACTOR};
use crate::error::RelayError;
use crate::store::{Store, StoreError};
use serde_json::json;
use std::fs;
use std::io::Write;
use std::path::Path;
use triage_shared::approval::{OrgPolicy, SignedPolicy, TrustedApprover, MAX_APPROVERS};
use triage_shared::identity::{KeyPair, PublicKey};
use triage_shared::protocol::{ErrorKind, RemoteError, TechnicianSummary};
use triage_shared::roles::Role;
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
             because enrolled agents trust it. Use its key file with `triage-relay org sign-policy`"
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

/// The policy to sign next: every technician holding the approver role.
pub fn build_policy(
    version: u64,
    technicians: &[TechnicianSummary],
    now: Timestamp,
) -> Result<OrgPolicy, RemoteError> {
    let approvers: Vec<TrustedApprover> = technicians
        .iter()
        .filter(|t| t.roles.contains(&Role::Approver))
        .map(|t| TrustedApprover {
            name: t.name.clone(),
            key: t.public_key,
        })
        .collect();
    if approvers.len() > MAX_APPROVERS {
        return Err(RemoteError::new(
            ErrorKind::InvalidInput,
            format!(
                "{} technicians hold the approver role; a policy may name at most {MAX_APPROVERS}",
                approvers.len()
            ),
        ));
    }
    Ok(OrgPolicy {
        version,
        approvers,
        issued_at: now,
    })
}

/// Refuses a key that is not the recorded organisation key.
pub fn check_org_key(recorded: Option<PublicKey>, offered: &PublicKey) -> Result<(), RemoteError> {
    match recorded {
        None => Err(RemoteError::new(
            ErrorKind::NotFound,
            "this relay has no organisation key yet; make one with `triage-relay org init --out FILE`",
        )),
        Some(k) if &k == offered => Ok(()),
        Some(k) => Err(RemoteError::new(
            ErrorKind::Forbidden,
            format!(
                "the key given is {offered}, but this relay's organisation key is {k}; \
                 sign with the file `triage-relay org init` wrote"
            ),
        )),
    }
}

/// Signs and stores the next policy version; returns what was stored.
pub async fn publish_policy(
    store: &Store,
    org: &KeyPair,
    now: Timestamp,
) -> Result<SignedPolicy, StoreError> {
    let result = async {
        check_org_key(store.org_key().await?, &org.public_key())?;
        let version = store.latest_policy_version().await? + 1;
        let policy = build_policy(version, &store.approvers().await?, now)?.sign(org);
        store.insert_policy(&policy).await?;
        Ok(policy)
    }
    .await;
    let (outcome, details) = match &result {
        Ok(p) => (
            "ok".to_string(),
            json!({
                "version": p.policy.version,
                "approvers": p.policy.approvers.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
            }),
        ),
        Err(e) => (outcome_of(e), json!({})),
    };
    audit::record(
        store,
        LOCAL_ADMIN_ACTOR,
        "policy.publish",
        "org-policy",
        &outcome,
        details,
    )
    .await;
    if let Ok(p) = &result {
        tracing::info!(
            version = p.policy.version,
            approvers = p.policy.approvers.len(),
            "organisation policy published"
        );
    }
    result
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

    fn tech(name: &str, roles: &[Role]) -> TechnicianSummary {
        TechnicianSummary {
            name: name.into(),
            roles: roles.to_vec(),
            public_key: KeyPair::generate().public_key(),
            created_at: Timestamp(0),
        }
    }

    #[test]
    fn policy_names_exactly_the_approvers() {
        let techs = [
            tech("alice", &[Role::L2]),
            tech("carol", &[Role::Approver]),
            tech("root", &[Role::Admin]),
            tech("dave", &[Role::L1, Role::Approver]),
        ];
        let p = build_policy(3, &techs, Timestamp(9)).unwrap();
        let names: Vec<_> = p.approvers.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["carol", "dave"]);
        assert_eq!(p.approvers[0].key, techs[1].public_key);
        assert_eq!((p.version, p.issued_at), (3, Timestamp(9)));
    }

    #[test]
    fn too_many_approvers_are_refused() {
        let techs: Vec<_> = (0..=MAX_APPROVERS)
            .map(|i| tech(&format!("a{i}"), &[Role::Approver]))
            .collect();
        assert!(build_policy(1, &techs, Timestamp(0)).is_err());
        assert!(build_policy(1, &techs[1..], Timestamp(0)).is_ok());
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
