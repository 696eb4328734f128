//! The dispatcher with fabricated commands and a real state directory.
//! This file: the harness and the plain commands; [`runs`]: script runs and
//! every refusal; [`roster`]: roster installs and org key rotations.

use super::*;
use crate::state::nonces::NONCE_FILE;
use crate::state::trust::ROSTER_FILE;
use std::path::PathBuf;
use triage_shared::approval::{
    Approval, Interpreter, Nonce, Refusal, Roster, RosterEntry, ScriptDigest, ScriptId,
    ScriptManifest, SignedRoster, SignedScript, MAX_SCRIPT_LEN,
};
use triage_shared::codec::encode;
use triage_shared::identity::KeyPair;
use triage_shared::remote::{OutputStream, RunEvent, RunId, RunOrder};
use triage_shared::roles::Role;
use triage_shared::TicketId;

struct World {
    tmp: tempfile::TempDir,
    agent: AgentId,
    org: KeyPair,
    author: KeyPair,
    approver: KeyPair,
    ticket: TicketId,
}

/// An enrolled agent with a pinned org key and no roster yet.
fn bare_world() -> World {
    let tmp = tempfile::tempdir().unwrap();
    let dir = StateDir::new(tmp.path());
    let agent = AgentId::new_random();
    dir.write_key(&KeyPair::generate()).unwrap();
    let relay =
        "triage://127.0.0.1:1?fp=0101010101010101010101010101010101010101010101010101010101010101"
            .parse()
            .unwrap();
    dir.save_enrollment(&relay, agent).unwrap();
    let org = KeyPair::generate();
    dir.pin_org_key(Some(&org.public_key())).unwrap();
    World {
        tmp,
        agent,
        org,
        author: KeyPair::generate(),
        approver: KeyPair::generate(),
        ticket: TicketId::new_random(),
    }
}

/// [`bare_world`] with roster version 1: `alice` (l2) authors, `carol` approves.
fn world() -> World {
    let w = bare_world();
    w.dir().save_roster(&w.roster(1, &w.org, &[])).unwrap();
    w
}

fn entry(name: &str, role: Role, key: &KeyPair) -> RosterEntry {
    RosterEntry {
        name: name.into(),
        roles: vec![role],
        key: key.public_key(),
        expires_at: None,
    }
}

impl World {
    fn dir(&self) -> StateDir {
        StateDir::new(self.tmp.path())
    }

    fn endpoint(&self) -> Endpoint {
        Endpoint::load(self.tmp.path()).expect("the state directory loads")
    }

    /// Alice (author) and carol (approver), plus `extra` entries.
    fn roster(&self, version: u64, signer: &KeyPair, extra: &[RosterEntry]) -> SignedRoster {
        let mut entries = vec![
            entry("alice", Role::L2, &self.author),
            entry("carol", Role::Approver, &self.approver),
        ];
        entries.extend_from_slice(extra);
        Roster {
            version,
            entries,
            issued_at: Timestamp::now(),
            expires_at: Timestamp::now().plus(Duration::from_secs(86_400)),
        }
        .sign(signer)
    }

    fn marker(&self) -> PathBuf {
        self.tmp.path().join("the-script-ran")
    }

    /// A script whose only effect is to leave [`World::marker`] behind.
    fn content(&self) -> Vec<u8> {
        format!("touch '{}'\necho hello\n", self.marker().display()).into_bytes()
    }

    fn manifest(&self, content: &[u8]) -> ScriptManifest {
        ScriptManifest {
            script_id: ScriptId(uuid::Uuid::from_u128(7)),
            ticket_id: self.ticket,
            digest: ScriptDigest::of(content),
            interpreter: Interpreter::Sh,
            timeout_secs: 60,
            author: "alice".into(),
            author_key: self.author.public_key(),
            description: "print hello".into(),
            created_at: Timestamp(0),
            targets: vec![self.agent],
        }
    }

    fn approval(&self, script: &SignedScript, nonce: Nonce) -> Approval {
        let now = Timestamp::now();
        Approval {
            manifest_hash: script.hash(),
            script_id: script.manifest.script_id,
            ticket_id: self.ticket,
            approved_at: now,
            expires_at: now.plus(Duration::from_secs(3600)),
            nonce,
            approver: "carol".into(),
            approver_key: self.approver.public_key(),
        }
    }

    /// An order that passes every check, after `script` and `approval`
    /// edits (the approval is signed by `signer`, default the approver).
    fn order_with(
        &self,
        script: impl FnOnce(&mut ScriptManifest),
        approval: impl FnOnce(&mut Approval),
        signer: Option<&KeyPair>,
    ) -> RunOrder {
        let content = self.content();
        let mut manifest = self.manifest(&content);
        script(&mut manifest);
        let signed = manifest.sign(&self.author);
        let mut a = self.approval(&signed, Nonce::generate());
        approval(&mut a);
        RunOrder {
            run_id: RunId::new_random(),
            approval: a.sign(signer.unwrap_or(&self.approver)),
            script: signed,
            content,
        }
    }

    fn good_order(&self) -> RunOrder {
        self.order_with(|_| {}, |_| {}, None)
    }

    fn nonces_on_disk(&self) -> String {
        std::fs::read_to_string(self.tmp.path().join(NONCE_FILE)).unwrap_or_default()
    }
}

async fn exchange(endpoint: &Endpoint, command: &AgentCommand) -> Vec<AgentReply> {
    let frame = encode(command).unwrap();
    let mut recv: &[u8] = &frame;
    let mut sent = Vec::new();
    answer(endpoint, &mut recv, &mut sent).await.unwrap();
    decode_all(&sent).await
}

async fn decode_all(mut bytes: &[u8]) -> Vec<AgentReply> {
    let mut replies = Vec::new();
    while let Some(reply) = read_frame::<_, AgentReply>(&mut bytes).await.unwrap() {
        replies.push(reply);
    }
    replies
}

async fn run(endpoint: &Endpoint, order: RunOrder) -> Vec<AgentReply> {
    exchange(endpoint, &AgentCommand::RunScript(Box::new(order))).await
}

/// Runs `order` on `w`'s agent, expecting one `Refused` frame and no trace
/// of the script having run or its approval having been used.
async fn refused_on(w: &World, endpoint: &Endpoint, order: RunOrder) -> Refusal {
    let nonce = order.approval.approval.nonce;
    let replies = run(endpoint, order).await;
    assert!(!w.marker().exists(), "a refused script ran");
    assert!(
        !w.nonces_on_disk().contains(&nonce.to_string()),
        "a refused approval was recorded as used"
    );
    match replies.as_slice() {
        [AgentReply::Run(RunEvent::Refused(reason))] => reason.clone(),
        other => panic!("expected one refusal, got {other:?}"),
    }
}

async fn refused(w: &World, order: RunOrder) -> Refusal {
    refused_on(w, &w.endpoint(), order).await
}

mod roster;
mod runs;
mod transfers;

#[tokio::test]
async fn ping_is_answered_with_pong() {
    let w = world();
    assert_eq!(
        exchange(&w.endpoint(), &AgentCommand::Ping).await,
        [AgentReply::Pong]
    );
}

#[tokio::test]
async fn diagnose_answers_with_a_report_of_the_asked_sections() {
    let w = world();
    let replies = exchange(
        &w.endpoint(),
        &AgentCommand::Diagnose {
            sections: vec![Section::Cpu],
        },
    )
    .await;
    match replies.as_slice() {
        [AgentReply::Diagnostics(report)] => {
            report.snapshot.validate().unwrap();
            assert!(report.software.is_none() && report.services.is_none());
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_garbled_command_is_answered_with_invalid_input() {
    let w = world();
    let mut recv: &[u8] = &[0, 0, 0, 3, 250, 1, 2];
    let mut sent = Vec::new();
    assert_eq!(
        answer(&w.endpoint(), &mut recv, &mut sent).await.unwrap(),
        Outcome::Garbled
    );
    match decode_all(&sent).await.as_slice() {
        [AgentReply::Error(e)] => assert_eq!(e.kind, ErrorKind::InvalidInput),
        other => panic!("answered {other:?}"),
    }
}

#[tokio::test]
async fn an_empty_stream_gets_no_answer_and_a_cut_one_is_an_error() {
    let w = world();
    let endpoint = w.endpoint();
    let mut recv: &[u8] = &[];
    let mut sent = Vec::new();
    assert_eq!(
        answer(&endpoint, &mut recv, &mut sent).await.unwrap(),
        Outcome::Empty
    );
    assert!(sent.is_empty());
    let frame = encode(&AgentCommand::Ping).unwrap();
    let mut cut: &[u8] = &frame[..frame.len() - 1];
    assert!(matches!(
        answer(&endpoint, &mut cut, &mut sent).await,
        Err(CodecError::Truncated)
    ));
    assert!(sent.is_empty());
}

#[tokio::test]
async fn commands_beyond_the_concurrency_limit_are_told_the_agent_is_busy() {
    let w = world();
    let endpoint = w.endpoint();
    let held: Vec<_> = (0..MAX_CONCURRENT_COMMANDS)
        .map(|_| endpoint.try_permit().expect("a free slot"))
        .collect();
    let frame = encode(&AgentCommand::Ping).unwrap();
    let mut recv: &[u8] = &frame;
    let mut sent = Vec::new();
    assert_eq!(
        answer_if_free(&endpoint, &mut recv, &mut sent)
            .await
            .unwrap(),
        Outcome::Busy
    );
    match decode_all(&sent).await.as_slice() {
        [AgentReply::Error(e)] => {
            assert_eq!(e.kind, ErrorKind::Unavailable);
            assert!(e.message.contains("busy"), "{}", e.message);
        }
        other => panic!("{other:?}"),
    }
    drop(held);
    let mut recv: &[u8] = &frame;
    let mut sent = Vec::new();
    assert_eq!(
        answer_if_free(&endpoint, &mut recv, &mut sent)
            .await
            .unwrap(),
        Outcome::Answered("ping")
    );
}

#[test]
fn loading_needs_an_enrollment_and_a_valid_config() {
    let tmp = tempfile::tempdir().unwrap();
    assert!(matches!(
        Endpoint::load(tmp.path()),
        Err(AgentError::NotEnrolled { .. })
    ));
    let w = world();
    std::fs::write(
        w.tmp.path().join(crate::config::CONFIG_FILE),
        "allowed_interpreters = [\"perl\"]\n",
    )
    .unwrap();
    match Endpoint::load(w.tmp.path()) {
        Err(e @ AgentError::Config { .. }) => {
            assert!(e.to_string().contains("agent.toml"), "{e}")
        }
        other => panic!("{other:?}"),
    }
}
