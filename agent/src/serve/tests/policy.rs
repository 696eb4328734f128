//! Policy installs: only the pinned org key's signature and a higher
//! version change what the agent trusts.

use super::*;

async fn install(endpoint: &Endpoint, policy: &SignedPolicy) -> AgentReply {
    let replies = exchange(
        endpoint,
        &AgentCommand::InstallPolicy(Box::new(policy.clone())),
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
async fn a_first_policy_signed_by_the_org_key_is_installed_and_used() {
    let w = bare_world();
    let endpoint = w.endpoint();
    let v1 = w.policy(1, &w.org, &[]);
    assert_eq!(
        install(&endpoint, &v1).await,
        AgentReply::PolicyInstalled { version: 1 }
    );
    assert_eq!(endpoint.policy_version(), Some(1));
    // It is on disk, and trusted after a restart.
    assert_eq!(w.endpoint().policy_version(), Some(1));
    // Offered again, it is a no-op success.
    assert_eq!(
        install(&endpoint, &v1).await,
        AgentReply::PolicyInstalled { version: 1 }
    );
    // And it takes effect at once.
    let replies = run(&endpoint, w.good_order()).await;
    assert!(matches!(
        replies.last(),
        Some(AgentReply::Run(RunEvent::Finished(_)))
    ));
}

#[tokio::test]
async fn a_newer_policy_adds_approvers() {
    let w = world();
    let endpoint = w.endpoint();
    let dave = KeyPair::generate();
    assert_eq!(
        install(&endpoint, &w.policy(2, &w.org, &[("dave", &dave)])).await,
        AgentReply::PolicyInstalled { version: 2 }
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
async fn a_policy_with_a_lower_version_is_refused_and_changes_nothing() {
    let w = bare_world();
    let endpoint = w.endpoint();
    install(&endpoint, &w.policy(2, &w.org, &[])).await;
    let before = std::fs::read(w.tmp.path().join(POLICY_FILE)).unwrap();
    let message = forbidden(install(&endpoint, &w.policy(1, &w.org, &[])).await);
    assert_eq!(
        message,
        "policy version 1 is not newer than the installed version 2"
    );
    assert_eq!(
        std::fs::read(w.tmp.path().join(POLICY_FILE)).unwrap(),
        before
    );
    assert_eq!(endpoint.policy_version(), Some(2));
}

#[tokio::test]
async fn a_policy_not_signed_by_the_org_key_is_refused_and_changes_nothing() {
    let w = world();
    let endpoint = w.endpoint();
    let before = std::fs::read(w.tmp.path().join(POLICY_FILE)).unwrap();
    let relay_key = KeyPair::generate();
    let message = forbidden(install(&endpoint, &w.policy(9, &relay_key, &[])).await);
    assert!(
        message.contains("not signed by the organisation key"),
        "{message}"
    );
    assert_eq!(
        std::fs::read(w.tmp.path().join(POLICY_FILE)).unwrap(),
        before
    );
    assert_eq!(endpoint.policy_version(), Some(1));
}

#[tokio::test]
async fn an_agent_without_an_org_key_accepts_no_policy() {
    let w = bare_world();
    w.dir().pin_org_key(None).unwrap();
    let endpoint = w.endpoint();
    let message = forbidden(install(&endpoint, &w.policy(1, &w.org, &[])).await);
    assert!(message.contains("without an organisation key"), "{message}");
    assert!(!w.tmp.path().join(POLICY_FILE).exists());
}
