//! The audit log before the act and for every download: an act on an
//! endpoint is on record before the agent is asked, and refused when its
//! intent cannot be written; attachment downloads are recorded; strangers'
//! refusals cannot grow the log without bound.

mod common;

use common::script_world::world;
use common::{next_command, read_all, TestRelay};
use std::time::Duration;
use triage_shared::agent_update::{AgentUpdate, PNG_SIGNATURE};
use triage_shared::audit::AuditEntry;
use triage_shared::client::Session;
use triage_shared::error::ErrorKind;
use triage_shared::identity::KeyPair;
use triage_shared::ids::UpdateId;
use triage_shared::protocol::{PeerKind, Request, Response};
use triage_shared::remote::{AgentCommand, AgentReply, RunEvent};
use triage_shared::roles::Role;
use triage_shared::ticket::{Category, NewTicket, Priority, Source};
use triage_shared::transfer::{LogQuery, TransferFrame};
use triage_shared::TicketId;

async fn audit_of(t: &TestRelay, action: &str) -> Vec<AuditEntry> {
    let all = t
        .relay
        .store()
        .audit_entries(0, None, 10_000)
        .await
        .unwrap();
    all.into_iter().filter(|e| e.action == action).collect()
}

/// What an attacker (or a full disk) does to the relay's store: from now
/// on every audit append fails, while the rest of the database works.
async fn break_audit_appends(t: &TestRelay) -> sqlx::SqlitePool {
    let url = format!("sqlite://{}", t.dir.path().join("relay.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query(
        "CREATE TRIGGER no_audit BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit log unavailable'); END",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool
}

async fn repair_audit_appends(pool: &sqlx::SqlitePool) {
    sqlx::query("DROP TRIGGER no_audit")
        .execute(pool)
        .await
        .unwrap();
}

/// The agent is asked nothing within a moment.
async fn never_asked(agent: &Session) {
    let asked =
        tokio::time::timeout(Duration::from_millis(700), agent.connection().accept_bi()).await;
    assert!(asked.is_err(), "the agent was sent a command");
}

fn unavailable(result: Result<Response, triage_shared::client::ClientError>) -> String {
    let err = result.unwrap_err();
    assert_eq!(err.remote_kind(), Some(ErrorKind::Unavailable), "{err}");
    let text = err.to_string();
    assert!(text.contains("audit log is unavailable"), "{text}");
    text
}

#[tokio::test]
async fn acts_whose_intent_cannot_be_audited_are_refused_before_the_agent_is_asked() {
    let t = TestRelay::start().await;
    let (_, agent_id, agent) = t.agent("pc-1").await;
    let tech = t.technician("lina", &[Role::L2]).await;
    let _hook = break_audit_appends(&t).await;
    let pull = Request::PullLogs {
        agent: agent_id,
        query: LogQuery {
            path: "/var/log/syslog".into(),
            tail: Some(10),
            since_secs: None,
            grep: None,
            follow: false,
        },
        attach: None,
    };
    unavailable(tech.request(&pull).await);
    never_asked(&agent).await;
    let shot = Request::Screenshot {
        agent: agent_id,
        attach: None,
    };
    unavailable(tech.request(&shot).await);
    never_asked(&agent).await;
    let diag = Request::Diagnose {
        agent: agent_id,
        sections: vec![],
        attach: None,
    };
    unavailable(tech.request(&diag).await);
    never_asked(&agent).await;
    t.relay.shutdown().await;
}

#[tokio::test]
async fn a_script_run_without_an_audit_log_is_refused_and_keeps_its_approval() {
    let w = world().await;
    let script = w.attach().await;
    w.approve(&script).await;
    let hook = break_audit_appends(&w.t).await;
    let run = Request::RunScript {
        ticket: w.ticket,
        script: script.manifest.script_id,
    };
    let text = unavailable(w.alice.1.request(&run).await);
    assert!(text.contains("run this script"), "{text}");
    never_asked(&w.agent).await;
    // Nothing was spent: once the log works again the same approval runs.
    repair_audit_appends(&hook).await;
    let _stream = w.start_run(&script).await;
    let cmd = next_command(&w.agent).await;
    assert!(matches!(cmd.command, AgentCommand::RunScript(_)));
}

#[tokio::test]
async fn a_script_run_is_on_record_before_the_agent_is_asked() {
    let w = world().await;
    let script = w.attach().await;
    w.approve(&script).await;
    let run = w.start_run(&script).await;
    let cmd = next_command(&w.agent).await;
    // The agent has the order and nothing has come back: if the relay died
    // now, the log would still say the run was started.
    let runs: Vec<_> = audit_of(&w.t, "script.run").await;
    let [intent] = runs.as_slice() else {
        panic!("one intent entry before the run: {runs:?}")
    };
    assert_eq!(intent.outcome, "started");
    assert_eq!(intent.actor, "technician:alice");
    cmd.answer(&[AgentReply::Run(RunEvent::Finished(
        common::script_world::outcome(),
    ))])
    .await;
    read_all(run).await;
    let runs = audit_of(&w.t, "script.run").await;
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(runs[1].outcome, "exit 0");
    let details: serde_json::Value = serde_json::from_str(&runs[1].details).unwrap();
    assert_eq!(details["intent_seq"], intent.seq);
}

#[tokio::test]
async fn attachment_downloads_are_audited_with_their_size() {
    let t = TestRelay::start().await;
    let (_, _, agent) = t.agent("pc-1").await;
    // Downloading a screenshot takes the role that may take one.
    let bob = t.technician("bob", &[Role::L2]).await;
    let ticket = NewTicket {
        id: TicketId::new_random(),
        title: "Error dialog".into(),
        description: String::new(),
        category: Category::Software,
        priority: Priority::Normal,
        source: Source::Employee,
        requester: "erin".into(),
    };
    agent
        .request(&Request::SubmitTicket {
            ticket: ticket.clone(),
            snapshot: None,
        })
        .await
        .unwrap();
    let mut png = PNG_SIGNATURE.to_vec();
    png.extend_from_slice(&[7; 100]);
    let update = Request::SubmitUpdate {
        id: UpdateId::new_random(),
        ticket: ticket.id,
        update: AgentUpdate::Screenshot(png.clone()),
    };
    assert_eq!(agent.request(&update).await.unwrap(), Response::Ok);
    let Response::Ticket(detail) = bob
        .request(&Request::ShowTicket { id: ticket.id })
        .await
        .unwrap()
    else {
        panic!("expected a ticket")
    };
    let attachment = detail.attachments[0].id;
    let fetch = Request::FetchAttachment {
        ticket: ticket.id,
        attachment,
    };
    let frames = read_all(bob.open_stream(&fetch).await.unwrap()).await;
    assert!(matches!(
        frames.last(),
        Some(Response::Transfer(TransferFrame::End(_)))
    ));
    let fetches = audit_of(&t, "attachment.fetch").await;
    let [entry] = fetches.as_slice() else {
        panic!("one download entry: {fetches:?}")
    };
    assert_eq!(
        (entry.actor.as_str(), entry.outcome.as_str()),
        ("technician:bob", "ok")
    );
    assert_eq!(entry.target, format!("ticket:{}", ticket.id));
    let details: serde_json::Value = serde_json::from_str(&entry.details).unwrap();
    assert_eq!(details["attachment"], attachment.to_string());
    assert_eq!(details["bytes"], png.len() as u64);
    // A download of something that is not there is recorded as refused.
    let missing = Request::FetchAttachment {
        ticket: ticket.id,
        attachment: triage_shared::transfer::AttachmentId::new_random(),
    };
    read_all(bob.open_stream(&missing).await.unwrap()).await;
    let fetches = audit_of(&t, "attachment.fetch").await;
    assert!(fetches[1].outcome.starts_with("refused"), "{fetches:?}");
    t.relay.shutdown().await;
}

#[tokio::test]
async fn a_stranger_with_bad_tokens_gets_only_a_bounded_number_of_audit_entries() {
    let t = TestRelay::start().await;
    let budget = triage_relay::REFUSED_ENROLLMENTS_PER_WINDOW as usize;
    let stranger = Session::connect(&t.locator(), &KeyPair::generate(), PeerKind::Agent)
        .await
        .unwrap();
    let bad = Request::Enroll {
        token_secret: "00".repeat(32),
        hostname: "evil".into(),
        os: "x".into(),
    };
    for _ in 0..budget + 15 {
        let err = stranger.request(&bad).await.unwrap_err();
        assert!(err.remote_kind().is_some(), "{err}");
    }
    // Requests only enrolled agents may send count against the same budget.
    let _ = stranger
        .request(&Request::Diagnose {
            agent: triage_shared::AgentId::new_random(),
            sections: vec![],
            attach: None,
        })
        .await;
    let enrolls = audit_of(&t, "enroll").await;
    assert_eq!(enrolls.len(), budget, "at most the budget is recorded");
    assert!(enrolls.iter().all(|e| e.outcome.starts_with("refused")));
    assert!(audit_of(&t, "diag").await.is_empty());
    // A real enrollment is always recorded.
    let (_, _, _agent) = t.agent("pc-1").await;
    let enrolls = audit_of(&t, "enroll").await;
    assert_eq!(enrolls.len(), budget + 1);
    assert_eq!(enrolls.last().unwrap().outcome, "ok");
    t.relay.shutdown().await;
}
