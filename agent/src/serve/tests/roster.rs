//! Roster installs and org key rotations: only the pinned org key's
//! signature, an unexpired roster and a version above any seen change what
//! the agent trusts.

use super::*;

async fn install(endpoint: &Endpoint, roster: &SignedRoster) -> AgentReply {
    let replies = exchange(
        endpoint,
        &AgentCommand::InstallRoster(Box::new(roster.clone())),
    )
    .await;
    match <[AgentReply; 1]>::try_from(replies) {
        Ok([reply]) => reply,
        Err(replies) => panic!("expected one reply, got {replies:?}"),
    }
}

fn forbidden(reply: AgentReply) -> String {
    match reply {
        AgentReply::Error(e) if e.kind == ErrorKind::Forbidden => e.message,
        other => panic!("expected a Forbidden error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_first_roster_signed_by_the_org_key_is_installed_and_used() {
    let w = bare_world();
    let endpoint = w.endpoint();
    let v1 = w.roster(1, &w.org, &[]);
    assert_eq!(
        install(&endpoint, &v1).await,
        AgentReply::RosterInstalled { version: 1 }
    );
    assert_eq!(endpoint.roster_version(), Some(1));
    // It is on disk, and trusted after a restart.
    assert_eq!(w.endpoint().roster_version(), Some(1));
    // Offered again, it is a no-op success.
    assert_eq!(
        install(&endpoint, &v1).await,
        AgentReply::RosterInstalled { version: 1 }
    );
    // And it takes effect at once.
    let replies = run(&endpoint, w.good_order()).await;
    assert!(matches!(
        replies.last(),
        Some(AgentReply::Run(RunEvent::Finished(_)))
    ));
}

#[tokio::test]
async fn a_newer_roster_adds_approvers() {
    let w = world();
    let endpoint = w.endpoint();
    let dave = KeyPair::generate();
    assert_eq!(
        install(
            &endpoint,
            &w.roster(2, &w.org, &[entry("dave", Role::Approver, &dave)])
        )
        .await,
        AgentReply::RosterInstalled { version: 2 }
    );
    let order = w.order_with(
        |_| {},
        |a| {
            a.approver = "dave".into();
            a.approver_key = dave.public_key();
        },
        Some(&dave),
    );
    let replies = run(&endpoint, order).await;
    assert!(matches!(
        replies.last(),
        Some(AgentReply::Run(RunEvent::Finished(_)))
    ));
}

#[tokio::test]
async fn a_roster_with_a_lower_version_is_refused_and_changes_nothing() {
    let w = bare_world();
    let endpoint = w.endpoint();
    install(&endpoint, &w.roster(2, &w.org, &[])).await;
    let before = std::fs::read(w.tmp.path().join(ROSTER_FILE)).unwrap();
    let message = forbidden(install(&endpoint, &w.roster(1, &w.org, &[])).await);
    assert_eq!(
        message,
        "roster version 1 is not newer than version 2, the highest seen here; a roster is never rolled back"
    );
    assert_eq!(
        std::fs::read(w.tmp.path().join(ROSTER_FILE)).unwrap(),
        before
    );
    assert_eq!(endpoint.roster_version(), Some(2));
}

#[tokio::test]
async fn a_roster_not_signed_by_the_org_key_is_refused_and_changes_nothing() {
    let w = world();
    let endpoint = w.endpoint();
    let before = std::fs::read(w.tmp.path().join(ROSTER_FILE)).unwrap();
    let relay_key = KeyPair::generate();
    let message = forbidden(install(&endpoint, &w.roster(9, &relay_key, &[])).await);
    assert!(
        message.contains("not signed by the organisation key"),
        "{message}"
    );
    assert_eq!(
        std::fs::read(w.tmp.path().join(ROSTER_FILE)).unwrap(),
        before
    );
    assert_eq!(endpoint.roster_version(), Some(1));
}

#[tokio::test]
async fn an_agent_without_an_org_key_accepts_no_roster() {
    let w = bare_world();
    w.dir().pin_org_key(None).unwrap();
    let endpoint = w.endpoint();
    let message = forbidden(install(&endpoint, &w.roster(1, &w.org, &[])).await);
    assert!(message.contains("without an organisation key"), "{message}");
    assert!(!w.tmp.path().join(ROSTER_FILE).exists());
}

#[tokio::test]
async fn an_expired_roster_is_refused_and_one_that_expires_later_stops_every_run() {
    let w = bare_world();
    let endpoint = w.endpoint();
    let mut expired = w.roster(1, &w.org, &[]).roster;
    expired.expires_at = Timestamp(Timestamp::now().millis() - 1);
    let message = forbidden(install(&endpoint, &expired.sign(&w.org)).await);
    assert!(message.contains("expired"), "{message}");
    assert_eq!(endpoint.roster_version(), None);

    // Installed while valid, then past its expiry: nothing runs, with that reason.
    let mut short = w.roster(2, &w.org, &[]).roster;
    short.expires_at = Timestamp::now().plus(Duration::from_millis(300));
    install(&endpoint, &short.clone().sign(&w.org)).await;
    assert_eq!(endpoint.roster_version(), Some(2));
    tokio::time::sleep(Duration::from_millis(400)).await;
    let replies = run(&endpoint, w.good_order()).await;
    assert_eq!(
        replies,
        [AgentReply::Run(RunEvent::Refused(Refusal::RosterExpired {
            version: 2,
            expires_at: short.expires_at
        }))]
    );
    assert!(!w.marker().exists());
}

#[tokio::test]
async fn an_author_dropped_from_the_next_roster_no_longer_counts() {
    let w = world();
    let endpoint = w.endpoint();
    let mut without_alice = w.roster(2, &w.org, &[]).roster;
    without_alice.entries.retain(|e| e.name != "alice");
    install(&endpoint, &without_alice.sign(&w.org)).await;
    let replies = run(&endpoint, w.good_order()).await;
    assert!(matches!(
        replies.as_slice(),
        [AgentReply::Run(RunEvent::Refused(
            Refusal::UnknownAuthor { .. }
        ))]
    ));
}

#[tokio::test]
async fn the_roster_floor_outlives_a_deleted_roster_file() {
    let w = bare_world();
    install(&w.endpoint(), &w.roster(3, &w.org, &[])).await;
    std::fs::remove_file(w.tmp.path().join(ROSTER_FILE)).unwrap();
    let restarted = w.endpoint();
    assert_eq!(restarted.roster_version(), None);
    let message = forbidden(install(&restarted, &w.roster(2, &w.org, &[])).await);
    assert!(message.contains("never rolled back"), "{message}");
    assert_eq!(
        install(&restarted, &w.roster(4, &w.org, &[])).await,
        AgentReply::RosterInstalled { version: 4 }
    );
}

#[tokio::test]
async fn an_org_key_rotation_is_followed_only_when_the_pinned_key_signed_it() {
    use triage_shared::approval::roster::OrgKeyRotation;
    let w = world();
    let endpoint = w.endpoint();
    let new_org = KeyPair::generate();
    let rotation = OrgKeyRotation {
        old_key: w.org.public_key(),
        new_key: new_org.public_key(),
        issued_at: Timestamp::now(),
    };
    let forged = rotation.clone().sign(&KeyPair::generate());
    let replies = exchange(&endpoint, &AgentCommand::RotateOrgKey(Box::new(forged))).await;
    assert!(matches!(replies.as_slice(), [AgentReply::Error(e)] if e.kind == ErrorKind::Forbidden));
    assert_eq!(w.dir().org_key().unwrap(), Some(w.org.public_key()));

    let replies = exchange(
        &endpoint,
        &AgentCommand::RotateOrgKey(Box::new(rotation.sign(&w.org))),
    )
    .await;
    assert_eq!(
        replies,
        [AgentReply::OrgKeyRotated {
            key: new_org.public_key()
        }]
    );
    // Trust moved: the old key's roster is gone, the new key's is taken.
    assert_eq!(endpoint.roster_version(), None);
    assert!(matches!(
        install(&endpoint, &w.roster(5, &w.org, &[])).await,
        AgentReply::Error(_)
    ));
    assert_eq!(
        install(&endpoint, &w.roster(5, &new_org, &[])).await,
        AgentReply::RosterInstalled { version: 5 }
    );
    let replies = run(&endpoint, w.good_order()).await;
    assert!(matches!(
        replies.last(),
        Some(AgentReply::Run(RunEvent::Finished(_)))
    ));
}
