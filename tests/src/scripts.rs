//! What the script tests share: an organisation with a signed roster
//! (alice authors, carol approves), a running agent with a ticket, and
//! run orders built and signed as the test chooses, so a test can play the
//! relay (or an attacker holding it) and send them straight to the agent.

use crate::{Agent, Deployment, Technician};
use std::time::Duration;
use triage_shared::approval::{
    Approval, Interpreter, Nonce, ScriptDigest, ScriptId, ScriptManifest, SignedScript,
};
use triage_shared::identity::KeyPair;
use triage_shared::remote::{AgentCommand, AgentReply, RunEvent, RunId, RunOrder, RunOutcome};
use triage_shared::roles::Role;
use triage_shared::ticket::{Category, Priority};
use triage_shared::time::Timestamp;

pub struct Setup {
    pub d: Deployment,
    pub alice: Technician,
    pub carol: Technician,
    pub agent: Agent,
    pub ticket: String,
}

/// An org with carol as the one approver and alice as an L2 author on its
/// signed roster, and an enrolled, running agent with a ticket.
pub async fn setup() -> Setup {
    let d = Deployment::start().await;
    d.init_org().await;
    let alice = d.technician("alice", &[Role::L2]).await;
    let carol = d.technician("carol", &[Role::Approver]).await;
    let version = d.sign_roster().await;
    let mut agent = d.enroll_agent("endpoint").await;
    agent.start_daemon();
    assert!(
        agent.wait_for_roster(version).await,
        "agent never installed the org roster"
    );
    let ticket = triage_agent::file_ticket(
        &agent.state_dir,
        triage_agent::HelpRequest {
            title: "Print spooler stuck".into(),
            description: String::new(),
            category: Category::Hardware,
            priority: Priority::Normal,
            requester: "dave".into(),
            screenshot: None,
        },
    )
    .await
    .expect("ticket filed")
    .to_string();
    Setup {
        d,
        alice,
        carol,
        agent,
        ticket,
    }
}

impl Setup {
    /// A manifest for `content` by alice, for this ticket and this agent.
    pub fn manifest(&self, content: &[u8]) -> ScriptManifest {
        ScriptManifest {
            script_id: ScriptId::new_random(),
            ticket_id: self.ticket.parse().expect("ticket id"),
            digest: ScriptDigest::of(content),
            interpreter: Interpreter::Sh,
            timeout_secs: 30,
            author: "alice".into(),
            author_key: self.alice.key().public_key(),
            description: String::new(),
            created_at: Timestamp::now(),
            targets: vec![self.agent.id],
        }
    }

    pub fn signed_script(
        &self,
        content: &[u8],
        interpreter: Interpreter,
        timeout_secs: u64,
    ) -> SignedScript {
        let mut m = self.manifest(content);
        m.interpreter = interpreter;
        m.timeout_secs = timeout_secs;
        m.sign(&self.alice.key())
    }

    /// An order for `script` with `content`, approved by `approver` after `edit`.
    pub fn approved(
        &self,
        script: SignedScript,
        content: &[u8],
        approver: &KeyPair,
        edit: impl FnOnce(&mut Approval),
    ) -> RunOrder {
        let now = Timestamp::now();
        let mut approval = Approval {
            manifest_hash: script.hash(),
            script_id: script.manifest.script_id,
            ticket_id: script.manifest.ticket_id,
            approved_at: now,
            expires_at: now.plus(Duration::from_secs(600)),
            nonce: Nonce::generate(),
            approver: "carol".into(),
            approver_key: approver.public_key(),
        };
        edit(&mut approval);
        RunOrder {
            run_id: RunId::new_random(),
            script,
            content: content.to_vec(),
            approval: approval.sign(approver),
        }
    }

    /// A script and approval that pass every check on the agent.
    pub fn valid_order(&self, content: &[u8]) -> RunOrder {
        let script = self.signed_script(content, Interpreter::Sh, 30);
        self.approved(script, content, &self.carol.key(), |_| {})
    }

    /// Sends `order` to the agent the way the relay does.
    pub async fn send(&self, order: RunOrder) -> Vec<AgentReply> {
        self.send_command(AgentCommand::RunScript(Box::new(order)))
            .await
    }

    pub async fn send_command(&self, command: AgentCommand) -> Vec<AgentReply> {
        self.d
            .relay()
            .send_agent_command(self.agent.id, command)
            .await
            .expect("agent answers")
    }

    /// The digest `triage script show --json` reports, as an approver reads it.
    pub async fn reviewed_digest(&self, who: &Technician, script: &str) -> String {
        let shown = who
            .json(&["script", "show", &self.ticket, script, "--json"])
            .await;
        shown["script"]["manifest"]["digest"]
            .as_str()
            .expect("digest in script show")
            .to_string()
    }

    /// `triage script approve` as carol, after reading the script.
    pub async fn approve(&self, script: &str, extra: &[&str]) -> Result<String, crate::CliError> {
        let digest = self.reviewed_digest(&self.carol, script).await;
        let mut args = vec![
            "script",
            "approve",
            &self.ticket,
            script,
            "--digest",
            &digest,
            "--yes",
        ];
        args.extend_from_slice(extra);
        self.carol.run(&args).await
    }

    /// Restarts the agent daemon and waits until it is back online.
    pub async fn restart_agent(&mut self) {
        self.agent.stop_daemon().await;
        self.agent.start_daemon();
        let relay = self.d.relay();
        let id = self.agent.id;
        let back = crate::eventually(Duration::from_secs(30), || async move {
            relay.is_agent_online(id)
        })
        .await;
        assert!(back, "agent did not come back");
    }
}

/// The one refusal in `replies`, as text.
pub fn refusal(replies: &[AgentReply]) -> String {
    match replies {
        [AgentReply::Run(RunEvent::Refused(r))] => r.to_string(),
        other => panic!("expected exactly one refusal, got {other:?}"),
    }
}

/// The outcome and output of a finished run.
pub fn finished(replies: &[AgentReply]) -> (RunOutcome, String) {
    let mut output = Vec::new();
    for r in replies {
        match r {
            AgentReply::Run(RunEvent::Output { data, .. }) => output.extend_from_slice(data),
            AgentReply::Run(RunEvent::Finished(outcome)) => {
                return (
                    outcome.clone(),
                    String::from_utf8_lossy(&output).into_owned(),
                )
            }
            AgentReply::Run(RunEvent::Started) => {}
            other => panic!("unexpected reply {other:?}"),
        }
    }
    panic!("run never finished: {replies:?}")
}
