//! Relay → agent commands over real QUIC, with a test double playing the
//! agent: the org key and roster delivery, offline and busy agents, and
//! live diagnostics.

mod common;

use common::{next_command, TestRelay};
use std::time::Duration;
use triage_relay::admin::PinnedOrg;
use triage_relay::MAX_COMMANDS_PER_AGENT;
use triage_shared::approval::roster::accept_roster;
use triage_shared::error::ErrorKind;
use triage_shared::identity::KeyPair;
use triage_shared::protocol::{Request, Response};
use triage_shared::remote::{AgentCommand, AgentReply, DiagnosticsReport, Section};
use triage_shared::roles::Role;
use triage_shared::ticket::{Category, NewTicket, Priority, Source};
use triage_shared::time::Timestamp;
use triage_shared::TicketId;

fn refusal_kind(e: &triage_relay::RelayError) -> Option<ErrorKind> {
    e.remote_kind()
}

#[tokio::test]
async fn tokens_carry_only_an_org_key_the_minter_pinned_and_the_store_agrees_with() {
    let t = TestRelay::start().await;
    let org = t.relay.init_org().await.unwrap();
    // The store's own copy never goes into a token by itself.
    let plain = t
        .relay
        .create_token(1, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(plain.org_key, None);
    let pinned = PinnedOrg {
        key: org.public_key(),
        min_roster: 3,
    };
    let token = t
        .relay
        .create_token_for_org(1, Duration::from_secs(60), pinned)
        .await
        .unwrap();
    let parsed: triage_shared::token::EnrollmentToken = token.to_string().parse().unwrap();
    assert_eq!(
        (parsed.org_key, parsed.min_roster),
        (Some(org.public_key()), 3)
    );
    // A key the store does not hold is refused: a mistake, or a changed store.
    let stranger = PinnedOrg {
        key: KeyPair::generate().public_key(),
        min_roster: 0,
    };
    let err = t
        .relay
        .create_token_for_org(1, Duration::from_secs(60), stranger)
        .await
        .unwrap_err();
    assert_eq!(refusal_kind(&err), Some(ErrorKind::Forbidden));
    assert!(err.to_string().contains("the store was changed"), "{err}");
    // There is only ever one org key.
    let err = t.relay.init_org().await.unwrap_err();
    assert_eq!(refusal_kind(&err), Some(ErrorKind::Conflict));
}

#[tokio::test]
async fn signing_a_roster_refuses_a_key_that_is_not_the_org_key() {
    let t = TestRelay::start().await;
    let impostor = KeyPair::generate();
    let err = t
        .relay
        .sign_and_publish_roster(&impostor)
        .await
        .unwrap_err();
    assert_eq!(refusal_kind(&err), Some(ErrorKind::NotFound));
    t.relay.init_org().await.unwrap();
    let err = t
        .relay
        .sign_and_publish_roster(&impostor)
        .await
        .unwrap_err();
    assert_eq!(refusal_kind(&err), Some(ErrorKind::Forbidden));
    // Nor can a roster signed elsewhere by another key be published.
    let forged = t
        .relay
        .export_roster(Duration::from_secs(600))
        .await
        .unwrap()
        .sign(&impostor);
    let err = t.relay.publish_roster(&forged).await.unwrap_err();
    assert_eq!(refusal_kind(&err), Some(ErrorKind::InvalidInput));
    assert_eq!(t.relay.store().latest_roster_version().await.unwrap(), 0);
}

#[tokio::test]
async fn the_roster_is_pushed_on_connect_and_newer_ones_follow() {
    let t = TestRelay::start().await;
    let org = t.relay.init_org().await.unwrap();
    let (carol, _) = t.technician_with_key("carol", &[Role::Approver]).await;
    let (bob, _) = t.technician_with_key("bob", &[Role::L2]).await;
    t.technician("lena", &[Role::L1]).await;
    assert_eq!(t.relay.sign_and_publish_roster(&org).await.unwrap(), 1);

    let (_key, _id, agent) = t.agent("pc-1").await;
    let push = next_command(&agent).await;
    let AgentCommand::InstallRoster(signed) = &push.command else {
        panic!("expected InstallRoster, got {:?}", push.command)
    };
    accept_roster(&org.public_key(), 0, signed, Timestamp::now()).unwrap();
    let r = &signed.roster;
    assert_eq!(r.version, 1);
    let names: Vec<_> = r.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        ["bob", "carol"],
        "only authors and approvers are named"
    );
    assert_eq!(r.entries[0].key, bob.public_key());
    assert_eq!(r.entries[1].key, carol.public_key());
    push.answer(&[AgentReply::RosterInstalled { version: 1 }])
        .await;

    // A newly published version reaches the connected agent.
    t.technician("dave", &[Role::Approver]).await;
    assert_eq!(t.relay.sign_and_publish_roster(&org).await.unwrap(), 2);
    let push = next_command(&agent).await;
    let AgentCommand::InstallRoster(signed) = &push.command else {
        panic!("expected InstallRoster, got {:?}", push.command)
    };
    accept_roster(&org.public_key(), 1, signed, Timestamp::now()).unwrap();
    assert_eq!(signed.roster.entries.len(), 3);
    push.answer(&[AgentReply::RosterInstalled { version: 2 }])
        .await;
}

#[tokio::test]
async fn a_command_to_an_offline_agent_fails_at_once() {
    let t = TestRelay::start().await;
    let (_key, id, agent) = t.agent("pc-1").await;
    t.disconnect_agent(id, agent).await;
    let err = t
        .relay
        .send_agent_command(id, AgentCommand::Ping)
        .await
        .unwrap_err();
    assert_eq!(refusal_kind(&err), Some(ErrorKind::Unavailable));
    let message = err.to_string();
    assert!(
        message.contains("is offline") && message.contains("pc-1") && message.contains("last seen"),
        "{message}"
    );
    let err = t
        .relay
        .send_agent_command(triage_shared::AgentId::new_random(), AgentCommand::Ping)
        .await
        .unwrap_err();
    assert_eq!(refusal_kind(&err), Some(ErrorKind::NotFound));
}

#[tokio::test]
async fn commands_are_sent_as_given_and_replies_collected() {
    let t = TestRelay::start().await;
    let (_key, id, agent) = t.agent("pc-1").await;
    let fake = tokio::spawn(async move {
        let cmd = next_command(&agent).await;
        assert_eq!(cmd.command, AgentCommand::Ping);
        cmd.answer(&[AgentReply::Pong, AgentReply::Pong]).await;
        agent
    });
    let replies = t
        .relay
        .send_agent_command(id, AgentCommand::Ping)
        .await
        .unwrap();
    assert_eq!(replies, [AgentReply::Pong, AgentReply::Pong]);
    fake.await.unwrap();
}

#[tokio::test]
async fn commands_beyond_the_per_agent_limit_are_refused_as_busy() {
    let t = TestRelay::start().await;
    let (_key, id, agent) = t.agent("pc-1").await;
    let relay = std::sync::Arc::new(t);
    let mut pending = tokio::task::JoinSet::new();
    for _ in 0..MAX_COMMANDS_PER_AGENT {
        let relay = std::sync::Arc::clone(&relay);
        pending.spawn(async move { relay.relay.send_agent_command(id, AgentCommand::Ping).await });
    }
    // Hold every command open on the agent side, unanswered.
    let mut held = Vec::new();
    for _ in 0..MAX_COMMANDS_PER_AGENT {
        held.push(next_command(&agent).await);
    }
    let err = relay
        .relay
        .send_agent_command(id, AgentCommand::Ping)
        .await
        .unwrap_err();
    assert_eq!(refusal_kind(&err), Some(ErrorKind::Unavailable));
    assert!(err.to_string().contains("busy"), "{err}");
    for cmd in held {
        cmd.answer(&[AgentReply::Pong]).await;
    }
    while let Some(done) = pending.join_next().await {
        assert_eq!(done.unwrap().unwrap(), [AgentReply::Pong]);
    }
    // Slots are given back.
    let fake = tokio::spawn(async move {
        next_command(&agent).await.answer(&[AgentReply::Pong]).await;
    });
    relay
        .relay
        .send_agent_command(id, AgentCommand::Ping)
        .await
        .unwrap();
    fake.await.unwrap();
}

fn new_ticket() -> NewTicket {
    NewTicket {
        id: TicketId::new_random(),
        title: "Laptop is slow".into(),
        description: String::new(),
        category: Category::Hardware,
        priority: Priority::Normal,
        source: Source::Employee,
        requester: "erin".into(),
    }
}

#[tokio::test]
async fn live_diagnostics_are_forwarded_checked_and_attached() {
    let t = TestRelay::start().await;
    let (_key, id, agent) = t.agent("pc-1").await;
    let ticket = new_ticket();
    agent
        .request(&Request::SubmitTicket {
            ticket: ticket.clone(),
            snapshot: None,
        })
        .await
        .unwrap();
    let tech = t.technician("lena", &[Role::L1]).await;
    let report = DiagnosticsReport {
        snapshot: common::sample_snapshot(),
        software: None,
        services: None,
    };
    let sent = report.clone();
    let fake = tokio::spawn(async move {
        let cmd = next_command(&agent).await;
        assert_eq!(
            cmd.command,
            AgentCommand::Diagnose {
                sections: vec![Section::Cpu, Section::Services]
            }
        );
        cmd.answer(&[AgentReply::Diagnostics(Box::new(sent))]).await;
        agent
    });
    let answer = tech
        .request(&Request::Diagnose {
            agent: id,
            sections: vec![Section::Cpu, Section::Services, Section::Cpu],
            attach: Some(ticket.id),
        })
        .await
        .unwrap();
    assert_eq!(answer, Response::Diagnostics(Box::new(report.clone())));
    let agent = fake.await.unwrap();
    let Response::Ticket(detail) = tech
        .request(&Request::ShowTicket { id: ticket.id })
        .await
        .unwrap()
    else {
        panic!("expected a ticket")
    };
    assert_eq!(detail.attached_diagnostics.len(), 1);
    assert_eq!(detail.attached_diagnostics[0].taken_by, "lena");
    assert_eq!(detail.attached_diagnostics[0].report, report);

    // A report that breaks the limits is refused, not passed on.
    let mut bad = report;
    bad.snapshot.os.hostname = "h".repeat(triage_shared::limits::MAX_SNAPSHOT_STRING_LEN + 1);
    let fake = tokio::spawn(async move {
        next_command(&agent)
            .await
            .answer(&[AgentReply::Diagnostics(Box::new(bad))])
            .await;
        agent
    });
    let err = tech
        .request(&Request::Diagnose {
            agent: id,
            sections: vec![],
            attach: None,
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("refuses"), "{err}");
    let agent = fake.await.unwrap();

    // Offline agents are refused at once.
    t.disconnect_agent(id, agent).await;
    let err = tech
        .request(&Request::Diagnose {
            agent: id,
            sections: vec![],
            attach: None,
        })
        .await
        .unwrap_err();
    assert_eq!(err.remote_kind(), Some(ErrorKind::Unavailable));
}
