//! A ticket on a test-double agent, with an author, an approver and an
//! admin connected: the starting point of the script tests.

use super::TestRelay;
use std::time::Duration;
use triage_shared::approval::{
    Approval, Interpreter, Nonce, ScriptDigest, ScriptId, ScriptManifest, SignedApproval,
    SignedScript,
};
use triage_shared::client::Session;
use triage_shared::identity::KeyPair;
use triage_shared::protocol::{Request, Response};
use triage_shared::remote::RunOutcome;
use triage_shared::roles::Role;
use triage_shared::ticket::{Category, NewTicket, Priority, Source};
use triage_shared::time::Timestamp;
use triage_shared::{AgentId, TicketId};

pub const CONTENT: &[u8] = b"#!/bin/sh\necho fixed\n";

pub struct World {
    pub t: TestRelay,
    pub agent_id: AgentId,
    pub agent: Session,
    pub ticket: TicketId,
    pub alice: (KeyPair, Session),
    pub carol: (KeyPair, Session),
    pub admin: Session,
}

pub async fn world() -> World {
    let t = TestRelay::start().await;
    let (_key, agent_id, agent) = t.agent("pc-1").await;
    let ticket = NewTicket {
        id: TicketId::new_random(),
        title: "Printing is stuck".into(),
        description: String::new(),
        category: Category::Hardware,
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
    let alice = t.technician_with_key("alice", &[Role::L2]).await;
    let carol = t.technician_with_key("carol", &[Role::Approver]).await;
    let admin = t.technician("root", &[Role::Admin]).await;
    World {
        t,
        agent_id,
        agent,
        ticket: ticket.id,
        alice,
        carol,
        admin,
    }
}

impl World {
    pub fn script(&self) -> SignedScript {
        ScriptManifest {
            script_id: ScriptId::new_random(),
            ticket_id: self.ticket,
            digest: ScriptDigest::of(CONTENT),
            interpreter: Interpreter::Sh,
            timeout_secs: 60,
            author: "alice".into(),
            author_key: self.alice.0.public_key(),
            description: "clear the print queue".into(),
            created_at: Timestamp::now(),
            targets: vec![self.agent_id],
        }
        .sign(&self.alice.0)
    }

    pub fn approval(&self, script: &SignedScript, signer: &KeyPair, name: &str) -> SignedApproval {
        Approval {
            manifest_hash: script.hash(),
            script_id: script.manifest.script_id,
            ticket_id: self.ticket,
            approved_at: Timestamp::now(),
            expires_at: Timestamp::now().plus(Duration::from_secs(3600)),
            nonce: Nonce::generate(),
            approver: name.into(),
            approver_key: signer.public_key(),
        }
        .sign(signer)
    }

    pub async fn attach(&self) -> SignedScript {
        let script = self.script();
        let answer = self
            .alice
            .1
            .request(&Request::AttachScript {
                script: script.clone(),
                content: CONTENT.to_vec(),
            })
            .await
            .unwrap();
        assert_eq!(
            answer,
            Response::ScriptAttached {
                script: script.manifest.script_id,
                digest: script.manifest.digest
            }
        );
        script
    }

    pub async fn approve(&self, script: &SignedScript) -> SignedApproval {
        let approval = self.approval(script, &self.carol.0, "carol");
        self.carol
            .1
            .request(&Request::ApproveScript {
                ticket: self.ticket,
                approval: approval.clone(),
            })
            .await
            .unwrap();
        approval
    }

    pub async fn start_run(&self, script: &SignedScript) -> quinn::RecvStream {
        self.alice
            .1
            .open_stream(&Request::RunScript {
                ticket: self.ticket,
                script: script.manifest.script_id,
            })
            .await
            .unwrap()
    }

    pub async fn audit(&self) -> Vec<triage_shared::audit::AuditEntry> {
        match self
            .admin
            .request(&Request::ListAudit {
                after_seq: 0,
                since: None,
                limit: 0,
            })
            .await
            .unwrap()
        {
            Response::Audit(entries) => entries,
            other => panic!("expected audit entries, got {other:?}"),
        }
    }

    pub async fn detail(&self) -> triage_shared::protocol::TicketDetail {
        match self
            .admin
            .request(&Request::ShowTicket { id: self.ticket })
            .await
            .unwrap()
        {
            Response::Ticket(d) => *d,
            other => panic!("expected a ticket, got {other:?}"),
        }
    }
}

pub fn outcome() -> RunOutcome {
    RunOutcome {
        exit_code: Some(0),
        timed_out: false,
        duration_ms: 1_200,
        output_bytes: 6,
        truncated: false,
    }
}
