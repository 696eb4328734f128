//! Script runs over real QUIC with a test double playing the agent: the
//! order the agent gets, streamed output, the record on the ticket and in
//! the audit log, refusals and disconnects.

mod common;

use common::script_world::{outcome, world, CONTENT};
use common::{next_command, read_all, PROMPTLY};
use std::time::Duration;
use triage_shared::approval::Refusal;
use triage_shared::error::ErrorKind;
use triage_shared::protocol::{Request, Response};
use triage_shared::remote::{AgentCommand, AgentReply, OutputStream, RunEvent};

#[tokio::test]
async fn attach_approve_run_streams_output_and_records_it_everywhere() {
    let w = world().await;
    let script = w.attach().await;
    let approval = w.approve(&script).await;

    let mut run = w.start_run(&script).await;
    let cmd = next_command(&w.agent).await;
    let AgentCommand::RunScript(order) = &cmd.command else {
        panic!("expected RunScript, got {:?}", cmd.command)
    };
    // The relay forwards exactly what the author and approver signed.
    assert_eq!(order.script, script);
    assert_eq!(order.content, CONTENT);
    assert_eq!(order.approval, approval);
    let mut send = cmd.send;
    triage_shared::codec::write_frame(&mut send, &AgentReply::Run(RunEvent::Started))
        .await
        .unwrap();
    let first: Response = triage_shared::client::next_frame(&mut run)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        first,
        Response::Run(RunEvent::Started),
        "events stream as they come"
    );
    for reply in [
        AgentReply::Run(RunEvent::Output {
            stream: OutputStream::Stdout,
            data: b"fixed\n".to_vec(),
        }),
        AgentReply::Run(RunEvent::Finished(outcome())),
    ] {
        triage_shared::codec::write_frame(&mut send, &reply)
            .await
            .unwrap();
    }
    send.finish().unwrap();
    let rest = read_all(run).await;
    assert_eq!(
        rest,
        [
            Response::Run(RunEvent::Output {
                stream: OutputStream::Stdout,
                data: b"fixed\n".to_vec()
            }),
            Response::Run(RunEvent::Finished(outcome())),
        ]
    );

    let detail = w.detail().await;
    assert_eq!(detail.script_runs.len(), 1);
    let record = &detail.script_runs[0];
    assert_eq!(record.outcome, Some(outcome()));
    assert_eq!(record.output, "fixed\n");
    assert_eq!(record.requested_by, "alice");
    let last = detail.comments.last().unwrap();
    assert_eq!(
        last.text,
        format!("Script {} exited 0 in 1.2 s", script.manifest.script_id)
    );

    // The approval is spent: a second run needs a new one.
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
    assert!(err.to_string().contains("triage script approve"), "{err}");

    let entries = w.audit().await;
    let acts: Vec<_> = entries
        .iter()
        .filter(|e| e.action.starts_with("script."))
        .map(|e| (e.action.as_str(), e.outcome.as_str()))
        .collect();
    assert_eq!(acts[0], ("script.attach", "ok"));
    assert_eq!(acts[1], ("script.approve", "ok"));
    // Each run is on record before the agent is asked, then its outcome.
    assert_eq!(acts[2], ("script.run", "started"));
    assert_eq!(acts[3], ("script.run", "exit 0"));
    assert_eq!(acts[4], ("script.run", "started"));
    assert!(acts[5].1.starts_with("refused: "), "{acts:?}");
    assert!(entries
        .iter()
        .any(|e| e.action == "enroll" && e.outcome == "ok"));
    assert!(entries
        .iter()
        .any(|e| e.action == "login" && e.actor == "technician:alice"));
    assert_eq!(
        w.t.relay.verify_audit().await.unwrap(),
        entries.len() as u64
    );

    // The script view shows the content, the approval and the run.
    let Response::Script(shown) = w
        .carol
        .1
        .request(&Request::ShowScript {
            ticket: w.ticket,
            script: script.manifest.script_id,
        })
        .await
        .unwrap()
    else {
        panic!("expected a script")
    };
    assert_eq!(shown.content, CONTENT);
    assert_eq!(shown.approvals, [approval]);
    assert_eq!(shown.runs.len(), 1);
    let Response::Scripts(list) = w
        .carol
        .1
        .request(&Request::ListScripts { ticket: w.ticket })
        .await
        .unwrap()
    else {
        panic!("expected scripts")
    };
    assert_eq!(
        (list.len(), list[0].runs, list[0].live_approvals),
        (1, 1, 0)
    );
}

#[tokio::test]
async fn a_refusal_from_the_agent_reaches_the_technician_the_ticket_and_the_log() {
    let w = world().await;
    let script = w.attach().await;
    w.approve(&script).await;
    let run = w.start_run(&script).await;
    let refusal = Refusal::UntrustedApprover {
        name: "carol".into(),
        key: "ed25519:00".into(),
    };
    next_command(&w.agent)
        .await
        .answer(&[AgentReply::Run(RunEvent::Refused(refusal.clone()))])
        .await;
    assert_eq!(
        read_all(run).await,
        [Response::Run(RunEvent::Refused(refusal.clone()))]
    );
    let detail = w.detail().await;
    assert_eq!(detail.script_runs[0].outcome, None);
    assert_eq!(detail.script_runs[0].refusal, Some(refusal.to_string()));
    assert!(detail.comments.last().unwrap().text.starts_with(&format!(
        "Agent refused script {}: ",
        script.manifest.script_id
    )));
    let entries = w.audit().await;
    let run_entry = entries.iter().rfind(|e| e.action == "script.run").unwrap();
    assert!(
        run_entry.outcome.contains("not an approver"),
        "{run_entry:?}"
    );
}

#[tokio::test]
async fn an_agent_that_disconnects_mid_run_is_recorded_and_reported() {
    let w = world().await;
    let script = w.attach().await;
    w.approve(&script).await;
    let mut run = w.start_run(&script).await;
    let mut cmd = next_command(&w.agent).await;
    triage_shared::codec::write_frame(&mut cmd.send, &AgentReply::Run(RunEvent::Started))
        .await
        .unwrap();
    let started: Response = triage_shared::client::next_frame(&mut run)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(started, Response::Run(RunEvent::Started));
    w.agent.connection().close(0u32.into(), b"gone");
    let frames = read_all(run).await;
    let [Response::Error(e)] = frames.as_slice() else {
        panic!("expected one error, got {frames:?}")
    };
    assert_eq!(e.kind, ErrorKind::Unavailable);
    assert!(
        e.message.contains("disconnected during the run"),
        "{}",
        e.message
    );
    let detail = w.detail().await;
    assert!(detail.script_runs[0]
        .refusal
        .as_deref()
        .unwrap()
        .starts_with("no result: "));
}

#[tokio::test]
async fn a_run_to_an_offline_agent_is_refused_at_once_and_keeps_the_approval() {
    let w = world().await;
    let script = w.attach().await;
    w.approve(&script).await;
    let id = w.agent_id;
    w.agent.connection().close(0u32.into(), b"gone");
    tokio::time::timeout(PROMPTLY, async {
        while w.t.relay.is_agent_online(id) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    let err = w
        .alice
        .1
        .request(&Request::RunScript {
            ticket: w.ticket,
            script: script.manifest.script_id,
        })
        .await
        .unwrap_err();
    assert_eq!(err.remote_kind(), Some(ErrorKind::Unavailable));
    assert!(err.to_string().contains("offline"), "{err}");
    let Response::Scripts(list) = w
        .alice
        .1
        .request(&Request::ListScripts { ticket: w.ticket })
        .await
        .unwrap()
    else {
        panic!("expected scripts")
    };
    assert_eq!(list[0].live_approvals, 1, "the approval was not spent");
}
