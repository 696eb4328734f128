//! `PingAgent` over real QUIC, with a test double playing the agent: the
//! answer, unknown and offline agents, who may ask, a hung agent, a wrong
//! reply, and the per-agent command bound.

mod common;

use common::{next_command, TestRelay};
use std::sync::Arc;
use std::time::{Duration, Instant};
use triage_relay::{MAX_COMMANDS_PER_AGENT, PING_TIMEOUT};
use triage_shared::client::ClientError;
use triage_shared::error::{ErrorKind, RemoteError};
use triage_shared::protocol::{Request, Response};
use triage_shared::remote::{AgentCommand, AgentReply};
use triage_shared::roles::Role;
use triage_shared::AgentId;

fn ping(agent: AgentId) -> Request {
    Request::PingAgent { agent }
}

fn refusal(e: &ClientError) -> &RemoteError {
    match e {
        ClientError::Remote(r) => r,
        other => panic!("expected the relay's refusal, got {other}"),
    }
}

#[tokio::test]
async fn a_technician_pings_an_online_agent_and_hears_its_pong() {
    let t = TestRelay::start().await;
    let (_key, id, agent) = t.agent("pc-1").await;
    // The lowest role that may list agents may ping them.
    let tech = t.technician("ana", &[Role::Approver]).await;
    let audited = t.relay.verify_audit().await.unwrap();
    let fake = tokio::spawn(async move {
        let cmd = next_command(&agent).await;
        assert_eq!(cmd.command, AgentCommand::Ping);
        cmd.answer(&[AgentReply::Pong]).await;
        agent
    });
    let Response::AgentPong { agent_micros } = tech.request(&ping(id)).await.unwrap() else {
        panic!("expected AgentPong")
    };
    assert!(
        agent_micros > 0 && agent_micros < PING_TIMEOUT.as_micros() as u64,
        "{agent_micros} µs"
    );
    fake.await.unwrap();
    // A liveness check leaves no trace in the audit log.
    assert_eq!(t.relay.verify_audit().await.unwrap(), audited);
}

#[tokio::test]
async fn unknown_and_offline_agents_are_refused_at_once_with_what_to_do() {
    let t = TestRelay::start().await;
    let tech = t.technician("ana", &[Role::L1]).await;
    let started = Instant::now();
    let err = tech
        .request(&ping(AgentId::new_random()))
        .await
        .unwrap_err();
    let e = refusal(&err);
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert!(e.message.contains("triage agents list"), "{}", e.message);

    let (_key, id, agent) = t.agent("pc-1").await;
    t.disconnect_agent(id, agent).await;
    let err = tech.request(&ping(id)).await.unwrap_err();
    let e = refusal(&err);
    assert_eq!(e.kind, ErrorKind::Unavailable);
    assert!(
        e.message.contains("is offline") && e.message.contains("pc-1"),
        "{}",
        e.message
    );
    assert!(started.elapsed() < PING_TIMEOUT, "{:?}", started.elapsed());
}

#[tokio::test]
async fn agents_may_not_ping_agents() {
    let t = TestRelay::start().await;
    let (_k1, id, _target) = t.agent("pc-1").await;
    let (_k2, _other, asker) = t.agent("pc-2").await;
    let err = asker.request(&ping(id)).await.unwrap_err();
    let e = refusal(&err);
    assert_eq!(e.kind, ErrorKind::Forbidden);
    assert!(e.message.contains("technician request"), "{}", e.message);
}

#[tokio::test]
async fn a_hung_agent_times_out_within_the_ping_timeout() {
    let t = TestRelay::start().await;
    let (_key, id, agent) = t.agent("pc-1").await;
    let tech = t.technician("ana", &[Role::L1]).await;
    let request = ping(id);
    let started = Instant::now();
    let (answer, held) = tokio::join!(tech.request(&request), next_command(&agent));
    let took = started.elapsed();
    let err = answer.unwrap_err();
    let e = refusal(&err);
    assert_eq!(e.kind, ErrorKind::Timeout);
    assert!(
        e.message.contains("did not answer") && e.message.contains("pc-1"),
        "{}",
        e.message
    );
    assert!(
        took >= PING_TIMEOUT && took < PING_TIMEOUT + Duration::from_secs(2),
        "{took:?}"
    );
    drop(held);
}

#[tokio::test]
async fn a_wrong_reply_or_a_refusal_from_the_agent_is_reported() {
    let t = TestRelay::start().await;
    let (_key, id, agent) = t.agent("pc-1").await;
    let tech = t.technician("ana", &[Role::L1]).await;
    let fake = tokio::spawn(async move {
        next_command(&agent)
            .await
            .answer(&[AgentReply::RosterInstalled { version: 1 }])
            .await;
        let busy = RemoteError::new(ErrorKind::Unavailable, "the agent is busy with 8 commands");
        next_command(&agent)
            .await
            .answer(&[AgentReply::Error(busy)])
            .await;
        next_command(&agent).await.answer(&[]).await;
        agent
    });
    let err = tech.request(&ping(id)).await.unwrap_err();
    let e = refusal(&err);
    assert_eq!(e.kind, ErrorKind::Internal);
    assert!(e.message.contains("roster_installed"), "{}", e.message);
    let err = tech.request(&ping(id)).await.unwrap_err();
    assert_eq!(refusal(&err).kind, ErrorKind::Unavailable);
    assert!(refusal(&err).message.contains("busy"), "{err}");
    let err = tech.request(&ping(id)).await.unwrap_err();
    let e = refusal(&err);
    assert_eq!(e.kind, ErrorKind::Unavailable);
    assert!(e.message.contains("without answering"), "{}", e.message);
    fake.await.unwrap();
}

#[tokio::test]
async fn pings_take_command_slots_and_a_flood_is_refused_as_busy() {
    let t = TestRelay::start().await;
    let (_key, id, agent) = t.agent("pc-1").await;
    let tech = Arc::new(t.technician("ana", &[Role::L1]).await);
    let mut pending = tokio::task::JoinSet::new();
    for _ in 0..MAX_COMMANDS_PER_AGENT {
        let tech = Arc::clone(&tech);
        pending.spawn(async move { tech.request(&ping(id)).await });
    }
    // Hold every ping open on the agent side, unanswered.
    let mut held = Vec::new();
    for _ in 0..MAX_COMMANDS_PER_AGENT {
        held.push(next_command(&agent).await);
    }
    let err = tech.request(&ping(id)).await.unwrap_err();
    let e = refusal(&err);
    assert_eq!(e.kind, ErrorKind::Unavailable);
    assert!(e.message.contains("busy"), "{}", e.message);
    for cmd in held {
        cmd.answer(&[AgentReply::Pong]).await;
    }
    while let Some(done) = pending.join_next().await {
        assert!(matches!(done.unwrap().unwrap(), Response::AgentPong { .. }));
    }
}
