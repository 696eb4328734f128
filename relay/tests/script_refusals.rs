//! What the relay refuses before anything reaches an agent: scripts signed
//! by someone else, self-approval, approvals for another agent, runs without
//! an approval, and requests beyond a technician's roles. Every refusal is
//! in the audit log.

mod common;

use common::script_world::{world, CONTENT};
use triage_shared::error::ErrorKind;
use triage_shared::identity::KeyPair;
use triage_shared::protocol::Request;
use triage_shared::roles::Role;

#[tokio::test]
async fn a_run_without_an_approval_is_refused() {
    let w = world().await;
    let script = w.attach().await;
    let err = w
        .alice
        .1
        .request(&Request::RunScript {
            ticket: w.ticket,
            script: script.manifest.script_id,
        })
        .await
        .unwrap_err();
    assert_eq!(err.remote_kind(), Some(ErrorKind::Forbidden));
    assert!(err.to_string().contains("no valid approval"), "{err}");
}

#[tokio::test]
async fn the_relay_refuses_early_what_the_agent_would_refuse() {
    let w = world().await;
    // Attaching a script someone else signed.
    let mut forged = w.script();
    let mallory = KeyPair::generate();
    forged.manifest.author = "mallory".into();
    forged.manifest.author_key = mallory.public_key();
    let forged = forged.manifest.sign(&mallory);
    let err = w
        .alice
        .1
        .request(&Request::AttachScript {
            script: forged,
            content: CONTENT.to_vec(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.remote_kind(), Some(ErrorKind::Forbidden));

    let script = w.attach().await;
    // The author approving their own script (as an approver too).
    let (alice2, alice_as_approver) =
        w.t.technician_with_key("alice-approver", &[Role::Approver])
            .await;
    let mut own = w.approval(&script, &alice2, "alice-approver");
    own.approval.approver_key = w.alice.0.public_key();
    own.approval.approver = "alice".into();
    let own = own.approval.sign(&w.alice.0);
    let err = alice_as_approver
        .request(&Request::ApproveScript {
            ticket: w.ticket,
            approval: own,
        })
        .await
        .unwrap_err();
    assert_eq!(err.remote_kind(), Some(ErrorKind::Forbidden));

    // An approval for another version of the script.
    let mut elsewhere = w.approval(&script, &w.carol.0, "carol");
    elsewhere.approval.manifest_hash = triage_shared::approval::ManifestHash([7; 32]);
    let elsewhere = elsewhere.approval.sign(&w.carol.0);
    let err = w
        .carol
        .1
        .request(&Request::ApproveScript {
            ticket: w.ticket,
            approval: elsewhere,
        })
        .await
        .unwrap_err();
    assert_eq!(err.remote_kind(), Some(ErrorKind::InvalidInput));

    // Roles: an L2 cannot approve, an approver cannot run, only admins read the log.
    let approval = w.approval(&script, &w.alice.0, "alice");
    let err = w
        .alice
        .1
        .request(&Request::ApproveScript {
            ticket: w.ticket,
            approval,
        })
        .await
        .unwrap_err();
    assert_eq!(err.remote_kind(), Some(ErrorKind::Forbidden));
    let err = w
        .carol
        .1
        .request(&Request::RunScript {
            ticket: w.ticket,
            script: script.manifest.script_id,
        })
        .await
        .unwrap_err();
    assert_eq!(err.remote_kind(), Some(ErrorKind::Forbidden));
    let err = w
        .alice
        .1
        .request(&Request::ListAudit {
            after_seq: 0,
            since: None,
            limit: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(err.remote_kind(), Some(ErrorKind::Forbidden));

    // Every refusal above is in the log, with its reason.
    let entries = w.audit().await;
    let refused: Vec<_> = entries
        .iter()
        .filter(|e| e.action.starts_with("script.") && e.outcome.starts_with("refused: "))
        .map(|e| e.action.as_str())
        .collect();
    assert_eq!(
        refused,
        [
            "script.attach",
            "script.approve",
            "script.approve",
            "script.approve",
            "script.run"
        ]
    );
}
