//! The trust chain end to end on the agent's side, over real QUIC from a
//! stand-in relay: the relay can neither install a roster of its own nor
//! get a script run with an approval it made up.
// The approved script runs through /bin/sh.
#![cfg(unix)]

mod common;

use common::{command, Seen, StubRelay, GUARD};
use std::time::Duration;
use triage_shared::approval::{
    Approval, Interpreter, Nonce, Refusal, Roster, RosterEntry, ScriptDigest, ScriptId,
    ScriptManifest,
};
use triage_shared::error::ErrorKind;
use triage_shared::identity::KeyPair;
use triage_shared::remote::{AgentCommand, AgentReply, OutputStream, RunEvent, RunId, RunOrder};
use triage_shared::roles::Role;
use triage_shared::time::Timestamp;
use triage_shared::TicketId;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_org_signed_rosters_and_approved_scripts_are_accepted_over_quic() {
    let mut relay = StubRelay::start();
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("agent");
    let org = KeyPair::generate();
    let mut token = relay.token();
    token.org_key = Some(org.public_key());
    let agent = triage_agent::enroll(&state, &token).await.unwrap();
    let _ = relay.next().await;
    assert_eq!(
        triage_agent::status(&state).unwrap().org_key,
        Some(org.public_key().to_string())
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let daemon = tokio::spawn({
        let state = state.clone();
        async move {
            triage_agent::run_daemon(&state, async {
                let _ = stopped.await;
            })
            .await
        }
    });
    let Seen::AgentConnected(conn) = relay.next().await else {
        panic!("expected the agent to connect")
    };

    let approver = KeyPair::generate();
    let author = KeyPair::generate();
    let entry = |name: &str, role, key: &KeyPair| RosterEntry {
        name: name.into(),
        roles: vec![role],
        key: key.public_key(),
        expires_at: None,
    };
    let roster = |signer: &KeyPair| {
        Roster {
            version: 1,
            entries: vec![
                entry("alice", Role::L2, &author),
                entry("carol", Role::Approver, &approver),
            ],
            issued_at: Timestamp::now(),
            expires_at: Timestamp::now().plus(Duration::from_secs(3600)),
        }
        .sign(signer)
    };
    // The relay cannot install a roster of its own making.
    let forged = command(
        &conn,
        &AgentCommand::InstallRoster(Box::new(roster(&KeyPair::generate()))),
    )
    .await;
    assert!(
        matches!(forged.as_slice(), [AgentReply::Error(e)] if e.kind == ErrorKind::Forbidden),
        "{forged:?}"
    );
    let installed = command(&conn, &AgentCommand::InstallRoster(Box::new(roster(&org)))).await;
    assert_eq!(installed, [AgentReply::RosterInstalled { version: 1 }]);

    let content = b"echo fixed\n".to_vec();
    let script = ScriptManifest {
        script_id: ScriptId::new_random(),
        ticket_id: TicketId::new_random(),
        digest: ScriptDigest::of(&content),
        interpreter: Interpreter::Sh,
        timeout_secs: 30,
        author: "alice".into(),
        author_key: author.public_key(),
        description: "fix it".into(),
        created_at: Timestamp::now(),
        targets: vec![agent],
    }
    .sign(&author);
    let order = |signer: &KeyPair| RunOrder {
        run_id: RunId::new_random(),
        approval: Approval {
            manifest_hash: script.hash(),
            script_id: script.manifest.script_id,
            ticket_id: script.manifest.ticket_id,
            approved_at: Timestamp::now(),
            expires_at: Timestamp::now().plus(Duration::from_secs(600)),
            nonce: Nonce::generate(),
            approver: "carol".into(),
            approver_key: signer.public_key(),
        }
        .sign(signer),
        script: script.clone(),
        content: content.clone(),
    };
    // A run approved by a key the relay made up is refused, with the reason.
    let relay_key = KeyPair::generate();
    let refused = command(&conn, &AgentCommand::RunScript(Box::new(order(&relay_key)))).await;
    assert_eq!(
        refused,
        [AgentReply::Run(RunEvent::Refused(
            Refusal::UntrustedApprover {
                name: "carol".into(),
                key: relay_key.public_key().to_string()
            }
        ))]
    );
    // A properly approved run streams its output and outcome.
    let ran = command(&conn, &AgentCommand::RunScript(Box::new(order(&approver)))).await;
    assert_eq!(ran.first(), Some(&AgentReply::Run(RunEvent::Started)));
    assert!(ran.contains(&AgentReply::Run(RunEvent::Output {
        stream: OutputStream::Stdout,
        data: b"fixed\n".to_vec()
    })));
    assert!(
        matches!(ran.last(), Some(AgentReply::Run(RunEvent::Finished(o))) if o.exit_code == Some(0)),
        "{ran:?}"
    );

    stop.send(()).unwrap();
    tokio::time::timeout(GUARD, daemon)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
