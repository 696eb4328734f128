//! `quickstart::set_up` driven against stand-in `triage` and `triage-agent`
//! scripts that record how they were called. (The real binaries are tested
//! end to end in the workspace's tests/.)
#![cfg(unix)]

mod common;

use common::{start_at, start_in};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use triage_relay::quickstart::{self, Binaries, QuickstartError};
use triage_shared::identity::KeyPair;
use triage_shared::roles::Role;
use triage_shared::token::EnrollmentToken;

fn script(path: &Path, body: &str) {
    fs::write(path, format!("#!/bin/sh\n{body}")).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// Stand-ins that append their arguments to `calls`; `triage keygen` prints
/// `key_line` for the admin's home and `approver_line` for the approver's.
fn stand_ins(bin: &Path, calls: &Path, key_line: &str, approver_line: &str) -> Binaries {
    fs::create_dir_all(bin).unwrap();
    let log = calls.display();
    script(
        &bin.join("triage"),
        &format!(
            "echo \"triage $*\" >> '{log}'\n\
             case \"$3\" in\n\
               keygen) echo 'Made a key.'\n\
                 case \"$2\" in */approver) echo '{approver_line}';; *) echo '{key_line}';; esac;;\n\
               login) ;;\n\
               *) exit 9;;\n\
             esac\n"
        ),
    );
    script(
        &bin.join("triage-agent"),
        &format!(
            "echo \"triage-agent $*\" >> '{log}'\n\
             case \"$1\" in\n\
               enroll) mkdir -p \"$4\";;\n\
               run) exec sleep 600;;\n\
             esac\n"
        ),
    );
    Binaries::in_dir(bin).unwrap()
}

/// The recorded calls, leaving out the agent daemon's (it starts in the
/// background, so its line may or may not be there yet).
fn calls_but_run(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|c| !c.starts_with("triage-agent run"))
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn quickstart_sets_up_once_and_reuses_on_rerun() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir_in(tmp.path()).unwrap();
    let call_log = tmp.path().join("calls");
    let key = KeyPair::generate().public_key();
    let approver_key = KeyPair::generate().public_key();
    let bins = stand_ins(
        &tmp.path().join("bin"),
        &call_log,
        &key.to_string(),
        &approver_key.to_string(),
    );

    // First run: every step happens.
    let relay = start_in(&dir).await;
    let mut deployment = quickstart::set_up(&relay, dir.path(), &bins).await.unwrap();
    assert_eq!(deployment.technician_key, key);
    let admin = relay.technician("admin").await.unwrap().unwrap();
    assert_eq!(admin.public_key, key);
    assert_eq!(admin.roles, Role::ALL);
    let approver = relay.technician("approver").await.unwrap().unwrap();
    assert_eq!(
        (approver.public_key, approver.roles),
        (approver_key, vec![Role::Approver])
    );
    let org = relay.store().org_key().await.unwrap().expect("an org key");
    let roster = relay
        .store()
        .latest_roster()
        .await
        .unwrap()
        .expect("a roster");
    assert!(roster.signed_by(&org));
    let names: Vec<_> = roster
        .roster
        .entries
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(names, ["admin", "approver"]);
    let first = calls_but_run(&call_log);
    assert_eq!(first.len(), 5, "{first:?}");
    assert!(first[0].ends_with("/technician keygen"), "{first:?}");
    assert!(
        first[1].ends_with(&format!(
            "/technician login {} --org-key {org}",
            relay.locator()
        )),
        "{first:?}"
    );
    assert!(first[2].ends_with("/approver keygen"), "{first:?}");
    assert!(first[3].contains("/approver login "), "{first:?}");
    assert!(first[4].starts_with("triage-agent enroll "), "{first:?}");
    let token: EnrollmentToken = first[4].split(' ').nth(2).unwrap().parse().unwrap();
    assert_eq!(token.relay, relay.locator());
    assert_eq!(token.org_key, Some(org));
    assert!(deployment
        .instructions
        .contains("script approve TICKET SCRIPT"));
    assert!(deployment.instructions.contains("triage tickets list"));
    assert!(
        deployment.agent.try_wait().unwrap().is_none(),
        "the agent daemon should be running"
    );
    let first_addr = relay.local_addr();
    deployment.agent.kill().await.unwrap();
    relay.shutdown().await;

    // Second run in the same directory at the same address: only the logins run again.
    let relay = start_at(&dir, first_addr).await;
    let mut deployment = quickstart::set_up(&relay, dir.path(), &bins).await.unwrap();
    assert_eq!(deployment.technician_key, key);
    let again = calls_but_run(&call_log);
    assert_eq!(again.len(), 7, "{again:?}");
    assert!(again[5].contains("/technician login "), "{again:?}");
    assert!(again[6].contains("/approver login "), "{again:?}");
    deployment.agent.kill().await.unwrap();
    relay.shutdown().await;

    // Third run at another address: the agent is enrolled afresh for it.
    fs::write(dir.path().join("agent").join("stale-state"), "old relay").unwrap();
    let relay = start_in(&dir).await;
    let mut deployment = quickstart::set_up(&relay, dir.path(), &bins).await.unwrap();
    let third = calls_but_run(&call_log);
    assert_eq!(third.len(), 10, "{third:?}");
    assert!(third[7].contains("/technician login "), "{third:?}");
    let token: EnrollmentToken = third[9].split(' ').nth(2).unwrap().parse().unwrap();
    assert_eq!(token.relay, relay.locator());
    assert!(!dir.path().join("agent").join("stale-state").exists());
    deployment.agent.kill().await.unwrap();

    // A technician key that no longer matches the registered one is reported.
    fs::write(
        dir.path().join(quickstart::TECHNICIAN_KEY_FILE),
        format!("{}\n", KeyPair::generate().public_key()),
    )
    .unwrap();
    let err = quickstart::set_up(&relay, dir.path(), &bins)
        .await
        .err()
        .unwrap();
    assert!(matches!(err, QuickstartError::Mismatch(_)), "{err}");
    relay.shutdown().await;
}
