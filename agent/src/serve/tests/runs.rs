//! Script runs: the one that passes, and every refusal, each reaching the
//! relay as one `RunEvent::Refused` with nothing run and no nonce used.

use super::*;

#[tokio::test]
async fn a_properly_approved_script_runs_and_streams_its_output() {
    let w = world();
    let order = w.good_order();
    let nonce = order.approval.approval.nonce;
    let replies = run(&w.endpoint(), order).await;
    assert_eq!(replies.first(), Some(&AgentReply::Run(RunEvent::Started)));
    assert!(replies.contains(&AgentReply::Run(RunEvent::Output {
        stream: OutputStream::Stdout,
        data: b"hello\n".to_vec()
    })));
    match replies.last() {
        Some(AgentReply::Run(RunEvent::Finished(outcome))) => {
            assert_eq!(outcome.exit_code, Some(0));
            assert!(!outcome.timed_out && !outcome.truncated);
        }
        other => panic!("ended with {other:?}"),
    }
    assert!(w.marker().exists());
    assert!(w.nonces_on_disk().contains(&nonce.to_string()));
}

#[tokio::test]
async fn a_script_changed_after_approval_is_refused() {
    let w = world();
    let mut order = w.good_order();
    order.content = b"rm -rf \"$HOME\"\n".to_vec();
    assert!(matches!(
        refused(&w, order).await,
        Refusal::DigestMismatch { .. }
    ));
}

#[tokio::test]
async fn a_manifest_edited_after_signing_is_refused() {
    let w = world();
    let mut order = w.good_order();
    order.script.manifest.timeout_secs = 3600;
    assert_eq!(refused(&w, order).await, Refusal::BadAuthorSignature);
}

#[tokio::test]
async fn an_approval_edited_after_signing_is_refused() {
    let w = world();
    let mut order = w.good_order();
    order.approval.approval.expires_at = Timestamp(i64::MAX);
    assert_eq!(refused(&w, order).await, Refusal::BadApprovalSignature);
}

#[tokio::test]
async fn an_approval_by_a_key_the_roster_does_not_trust_is_refused() {
    let w = world();
    // E.g. a hostile relay signing with its own key.
    let relay_key = KeyPair::generate();
    let order = w.order_with(
        |_| {},
        |a| a.approver_key = relay_key.public_key(),
        Some(&relay_key),
    );
    assert_eq!(
        refused(&w, order).await,
        Refusal::UntrustedApprover {
            name: "carol".into(),
            key: relay_key.public_key().to_string()
        }
    );
}

#[tokio::test]
async fn a_script_by_an_author_who_is_not_on_the_roster_is_refused() {
    let w = world();
    // A technician the relay knows but the organisation never signed for.
    let mallory = KeyPair::generate();
    let content = w.content();
    let mut m = w.manifest(&content);
    m.author = "mallory".into();
    m.author_key = mallory.public_key();
    let script = m.sign(&mallory);
    let order = RunOrder {
        run_id: RunId::new_random(),
        approval: w.approval(&script, Nonce::generate()).sign(&w.approver),
        script,
        content,
    };
    assert!(matches!(
        refused(&w, order).await,
        Refusal::UnknownAuthor { name, .. } if name == "mallory"
    ));
}

#[tokio::test]
async fn an_approval_by_the_author_is_refused_even_if_they_are_an_approver() {
    let w = world();
    let mut roster = w.roster(1, &w.org, &[]).roster;
    roster.entries[0].roles.push(Role::Approver);
    w.dir().save_roster(&roster.sign(&w.org)).unwrap();
    let order = w.order_with(
        |_| {},
        |a| {
            a.approver = "alice".into();
            a.approver_key = w.author.public_key();
        },
        Some(&w.author),
    );
    assert_eq!(refused(&w, order).await, Refusal::SelfApproval);
}

#[tokio::test]
async fn an_approval_for_another_script_is_refused() {
    let w = world();
    let order = w.order_with(|_| {}, |a| a.script_id = ScriptId::new_random(), None);
    assert!(matches!(
        refused(&w, order).await,
        Refusal::WrongScript { .. }
    ));
}

#[tokio::test]
async fn a_script_signed_for_another_agent_is_refused() {
    let w = world();
    let order = w.order_with(|m| m.targets = vec![AgentId::new_random()], |_| {}, None);
    assert_eq!(refused(&w, order).await, Refusal::WrongAgent(w.agent));
}

#[tokio::test]
async fn an_approval_for_another_ticket_is_refused() {
    let w = world();
    let other = TicketId::new_random();
    let order = w.order_with(|_| {}, |a| a.ticket_id = other, None);
    assert_eq!(
        refused(&w, order).await,
        Refusal::WrongTicket {
            approved: other,
            script: w.ticket
        }
    );
}

#[tokio::test]
async fn an_expired_approval_is_refused() {
    let w = world();
    let past = Timestamp(Timestamp::now().millis() - 1);
    let order = w.order_with(|_| {}, |a| a.expires_at = past, None);
    assert!(matches!(refused(&w, order).await, Refusal::Expired(_)));
}

#[tokio::test]
async fn a_replayed_approval_is_refused() {
    let w = world();
    let endpoint = w.endpoint();
    let order = w.good_order();
    let first = run(&endpoint, order.clone()).await;
    assert!(matches!(
        first.last(),
        Some(AgentReply::Run(RunEvent::Finished(_)))
    ));
    std::fs::remove_file(w.marker()).unwrap();
    let replies = run(&endpoint, order.clone()).await;
    assert_eq!(
        replies,
        [AgentReply::Run(RunEvent::Refused(Refusal::Replayed(
            order.approval.approval.nonce
        )))]
    );
    assert!(!w.marker().exists());
}

#[tokio::test]
async fn a_replayed_approval_is_refused_after_a_restart() {
    let w = world();
    let order = w.good_order();
    let nonce = order.approval.approval.nonce;
    run(&w.endpoint(), order.clone()).await;
    std::fs::remove_file(w.marker()).unwrap();
    // A fresh endpoint reads the state directory again, as after a restart.
    let restarted = w.endpoint();
    let replies = run(&restarted, order).await;
    assert_eq!(
        replies,
        [AgentReply::Run(RunEvent::Refused(Refusal::Replayed(nonce)))]
    );
    assert!(!w.marker().exists());
}

#[tokio::test]
async fn an_interpreter_off_the_configured_allow_list_is_refused() {
    let w = world();
    std::fs::write(
        w.tmp.path().join(crate::config::CONFIG_FILE),
        "allowed_interpreters = [\"bash\"]\n",
    )
    .unwrap();
    assert_eq!(
        refused(&w, w.good_order()).await,
        Refusal::InterpreterNotAllowed(Interpreter::Sh)
    );
}

#[cfg(unix)]
#[tokio::test]
async fn powershell_is_not_allowed_by_default_on_unix() {
    let w = world();
    let order = w.order_with(|m| m.interpreter = Interpreter::Powershell, |_| {}, None);
    assert_eq!(
        refused(&w, order).await,
        Refusal::InterpreterNotAllowed(Interpreter::Powershell)
    );
}

#[tokio::test]
async fn a_timeout_outside_the_allowed_range_is_refused() {
    let w = world();
    let order = w.order_with(|m| m.timeout_secs = 0, |_| {}, None);
    assert_eq!(refused(&w, order).await, Refusal::BadTimeout(0));
}

#[tokio::test]
async fn a_script_over_the_size_limit_is_refused() {
    let w = world();
    let mut order = w.good_order();
    order.content = vec![b'#'; MAX_SCRIPT_LEN + 1];
    assert_eq!(
        refused(&w, order).await,
        Refusal::TooLarge(MAX_SCRIPT_LEN + 1)
    );
}

#[tokio::test]
async fn without_a_roster_every_run_is_refused() {
    let w = bare_world();
    assert_eq!(refused(&w, w.good_order()).await, Refusal::NoRoster);
}

#[tokio::test]
async fn an_agent_enrolled_without_an_org_key_refuses_every_run() {
    let w = world();
    w.dir().pin_org_key(None).unwrap();
    assert_eq!(refused(&w, w.good_order()).await, Refusal::NoRoster);
}

#[tokio::test]
async fn a_roster_file_tampered_with_on_disk_is_not_trusted() {
    let w = world();
    // Someone with file access adds their own key as an approver.
    let mallory = KeyPair::generate();
    let path = w.tmp.path().join(ROSTER_FILE);
    let mut forged: SignedRoster =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    forged
        .roster
        .entries
        .push(entry("mallory", Role::Approver, &mallory));
    std::fs::write(&path, serde_json::to_string(&forged).unwrap()).unwrap();
    let endpoint = w.endpoint();
    assert_eq!(endpoint.roster_version(), None);
    let order = w.order_with(
        |_| {},
        |a| {
            a.approver = "mallory".into();
            a.approver_key = mallory.public_key();
        },
        Some(&mallory),
    );
    assert_eq!(refused_on(&w, &endpoint, order).await, Refusal::NoRoster);
}

#[tokio::test]
async fn an_allowed_but_missing_interpreter_fails_clearly_without_using_the_approval() {
    if crate::runner::resolve(Interpreter::Powershell).is_ok() {
        // PowerShell is installed here; the path under test cannot happen.
        return;
    }
    let w = world();
    std::fs::write(
        w.tmp.path().join(crate::config::CONFIG_FILE),
        "allowed_interpreters = [\"powershell\"]\n",
    )
    .unwrap();
    let order = w.order_with(|m| m.interpreter = Interpreter::Powershell, |_| {}, None);
    let nonce = order.approval.approval.nonce;
    match run(&w.endpoint(), order).await.as_slice() {
        [AgentReply::Error(e)] => {
            assert_eq!(e.kind, ErrorKind::Unavailable);
            assert!(e.message.contains("not installed"), "{}", e.message);
        }
        other => panic!("{other:?}"),
    }
    assert!(!w.nonces_on_disk().contains(&nonce.to_string()));
}
