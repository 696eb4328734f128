use super::*;
use triage_shared::approval::{Approval, Interpreter, Nonce, ScriptId, ScriptManifest};
use triage_shared::identity::KeyPair;

const NOW: Timestamp = Timestamp(1_700_000_000_000);

struct World {
    author: KeyPair,
    approver: KeyPair,
    ticket: TicketId,
    agent: AgentId,
    content: Vec<u8>,
}

fn world() -> World {
    World {
        author: KeyPair::generate(),
        approver: KeyPair::generate(),
        ticket: TicketId::new_random(),
        agent: AgentId::new_random(),
        content: b"#!/bin/sh\nsystemctl restart cups\n".to_vec(),
    }
}

impl World {
    fn manifest(&self) -> ScriptManifest {
        ScriptManifest {
            script_id: ScriptId::new_random(),
            ticket_id: self.ticket,
            digest: ScriptDigest::of(&self.content),
            interpreter: Interpreter::Sh,
            timeout_secs: 60,
            author: "alice".into(),
            author_key: self.author.public_key(),
            description: "restart the print spooler".into(),
            created_at: NOW,
            targets: vec![self.agent],
        }
    }

    fn script(&self) -> SignedScript {
        self.manifest().sign(&self.author)
    }

    fn alice(&self) -> PublicKey {
        self.author.public_key()
    }

    fn attach(&self, script: &SignedScript, content: &[u8]) -> Result<(), RemoteError> {
        let key = self.alice();
        check_attach(
            script,
            content,
            self.agent,
            Signer {
                name: "alice",
                key: &key,
            },
        )
    }

    fn approval(&self, script: &SignedScript, edit: impl FnOnce(&mut Approval)) -> SignedApproval {
        let m = &script.manifest;
        let mut a = Approval {
            manifest_hash: script.hash(),
            script_id: m.script_id,
            ticket_id: self.ticket,
            approved_at: NOW,
            expires_at: NOW.plus(Duration::from_secs(3600)),
            nonce: Nonce::generate(),
            approver: "carol".into(),
            approver_key: self.approver.public_key(),
        };
        edit(&mut a);
        a.sign(&self.approver)
    }

    fn approve_as(
        &self,
        name: &str,
        key: &PublicKey,
        script: &SignedScript,
        approval: &SignedApproval,
    ) -> Result<(), RemoteError> {
        check_approval(
            approval,
            ApprovalTarget {
                ticket: self.ticket,
                agent: self.agent,
                script,
            },
            Signer { name, key },
            NOW,
        )
    }

    fn approve(&self, script: &SignedScript, approval: &SignedApproval) -> Result<(), RemoteError> {
        self.approve_as("carol", &self.approver.public_key(), script, approval)
    }
}

fn message(result: Result<(), RemoteError>) -> (ErrorKind, String) {
    let e = result.unwrap_err();
    (e.kind, e.message)
}

#[test]
fn a_well_formed_script_is_accepted() {
    let w = world();
    assert_eq!(w.attach(&w.script(), &w.content), Ok(()));
}

#[test]
fn attach_is_refused_when_the_author_is_not_the_session() {
    let w = world();
    let mallory = KeyPair::generate();
    let mut m = w.manifest();
    m.author = "mallory".into();
    m.author_key = mallory.public_key();
    let (kind, msg) = message(w.attach(&m.sign(&mallory), &w.content));
    assert_eq!(kind, ErrorKind::Forbidden);
    assert!(msg.contains("only attach scripts you signed"), "{msg}");
    // Right name, someone else's key.
    let mut m = w.manifest();
    m.author_key = mallory.public_key();
    assert_eq!(
        message(w.attach(&m.sign(&mallory), &w.content)).0,
        ErrorKind::Forbidden
    );
}

#[test]
fn attach_is_refused_on_digest_mismatch() {
    let w = world();
    let (kind, msg) = message(w.attach(&w.script(), b"#!/bin/sh\nrm -rf /\n"));
    assert_eq!(kind, ErrorKind::InvalidInput);
    assert!(msg.contains("hashes to"), "{msg}");
}

#[test]
fn attach_is_refused_on_a_bad_signature() {
    let w = world();
    let mut script = w.script();
    script.manifest.timeout_secs = 120;
    let (kind, msg) = message(w.attach(&script, &w.content));
    assert_eq!(kind, ErrorKind::InvalidInput);
    assert!(msg.contains("signature"), "{msg}");
}

#[test]
fn attach_is_refused_when_oversized_and_accepted_at_the_limit() {
    let mut w = world();
    w.content = vec![b'#'; MAX_SCRIPT_LEN];
    assert_eq!(w.attach(&w.script(), &w.content), Ok(()));
    w.content.push(b'\n');
    let (kind, msg) = message(w.attach(&w.script(), &w.content));
    assert_eq!(kind, ErrorKind::InvalidInput);
    assert!(msg.contains("limit"), "{msg}");
}

#[test]
fn attach_timeout_bounds_are_inclusive() {
    let w = world();
    for (secs, ok) in [
        (0, false),
        (1, true),
        (MAX_SCRIPT_TIMEOUT.as_secs(), true),
        (MAX_SCRIPT_TIMEOUT.as_secs() + 1, false),
    ] {
        let mut m = w.manifest();
        m.timeout_secs = secs;
        assert_eq!(
            w.attach(&m.sign(&w.author), &w.content).is_ok(),
            ok,
            "{secs}"
        );
    }
}

#[test]
fn attach_refuses_control_characters_in_the_description() {
    let w = world();
    let mut m = w.manifest();
    m.description = "bell\u{7}".into();
    assert_eq!(
        message(w.attach(&m.sign(&w.author), &w.content)).0,
        ErrorKind::InvalidInput
    );
}

#[test]
fn a_proper_approval_is_accepted() {
    let w = world();
    let s = w.script();
    assert_eq!(w.approve(&s, &w.approval(&s, |_| {})), Ok(()));
}

#[test]
fn approval_by_the_author_is_refused() {
    let w = world();
    let s = w.script();
    let mut a = w.approval(&s, |a| {
        a.approver = "alice".into();
        a.approver_key = w.author.public_key();
    });
    a = a.approval.sign(&w.author);
    let (kind, msg) = message(w.approve_as("alice", &w.alice(), &s, &a));
    assert_eq!(kind, ErrorKind::Forbidden);
    assert!(msg.contains("may not approve"), "{msg}");
}

#[test]
fn approval_by_the_author_under_another_key_is_refused() {
    let w = world();
    let s = w.script();
    // The author registered a second identity under their own name.
    let second = KeyPair::generate();
    let a = w.approval(&s, |a| {
        a.approver = "alice".into();
        a.approver_key = second.public_key();
    });
    let a = a.approval.sign(&second);
    let (kind, _) = message(w.approve_as("alice", &second.public_key(), &s, &a));
    assert_eq!(kind, ErrorKind::Forbidden);
}

#[test]
fn approval_signed_as_someone_else_is_refused() {
    let w = world();
    let s = w.script();
    let a = w.approval(&s, |_| {});
    let dave = KeyPair::generate().public_key();
    let (kind, msg) = message(w.approve_as("dave", &dave, &s, &a));
    assert_eq!(kind, ErrorKind::Forbidden);
    assert!(msg.contains("your own approvals"), "{msg}");
}

#[test]
fn a_script_for_another_agent_is_refused_at_attach_and_approval() {
    let w = world();
    let mut m = w.manifest();
    m.targets = vec![AgentId::new_random()];
    let s = m.sign(&w.author);
    let (kind, msg) = message(w.attach(&s, &w.content));
    assert_eq!(kind, ErrorKind::InvalidInput);
    assert!(msg.contains("signed for other agents"), "{msg}");
    let a = w.approval(&s, |_| {});
    let (kind, msg) = message(w.approve(&s, &a));
    assert_eq!(kind, ErrorKind::InvalidInput);
    assert!(msg.contains("not signed to run on agent"), "{msg}");
}

#[test]
fn an_approval_longer_than_the_maximum_lifetime_is_refused() {
    let w = world();
    let s = w.script();
    let a = w.approval(&s, |a| {
        a.approved_at = Timestamp(NOW.millis() - 2 * 86_400_000);
        a.expires_at = a
            .approved_at
            .plus(MAX_APPROVAL_TTL + Duration::from_secs(1));
    });
    let (_, msg) = message(w.approve(&s, &a));
    assert!(msg.contains("longer than 7 days"), "{msg}");
}

#[test]
fn approval_for_another_ticket_is_refused() {
    let w = world();
    let s = w.script();
    let a = w.approval(&s, |a| a.ticket_id = TicketId::new_random());
    let (_, msg) = message(w.approve(&s, &a));
    assert!(msg.contains("for ticket"), "{msg}");
}

#[test]
fn approval_for_another_version_of_the_manifest_is_refused() {
    let w = world();
    let s = w.script();
    let mut m = w.manifest();
    m.timeout_secs = 3600;
    let reviewed = m.sign(&w.author);
    let a = w.approval(&reviewed, |_| {});
    let (_, msg) = message(w.approve(&s, &a));
    assert!(msg.contains("approve again"), "{msg}");
}

#[test]
fn expired_approval_is_refused_at_the_boundary() {
    let w = world();
    let s = w.script();
    let at_now = w.approval(&s, |a| a.expires_at = NOW);
    let (_, msg) = message(w.approve(&s, &at_now));
    assert!(msg.contains("expired"), "{msg}");
    let just_after = w.approval(&s, |a| a.expires_at = Timestamp(NOW.0 + 1));
    assert_eq!(w.approve(&s, &just_after), Ok(()));
}

#[test]
fn approval_expiring_too_far_ahead_is_refused_at_the_boundary() {
    let w = world();
    let s = w.script();
    // Dated ahead by the skew allowed, so only the distance from now counts.
    let approved_at = NOW.plus(CLOCK_SKEW_ALLOWANCE);
    let limit = NOW.plus(MAX_APPROVAL_TTL + CLOCK_SKEW_ALLOWANCE);
    let at_limit = w.approval(&s, |a| {
        a.approved_at = approved_at;
        a.expires_at = limit
    });
    assert_eq!(w.approve(&s, &at_limit), Ok(()));
    let beyond = w.approval(&s, |a| {
        a.approved_at = Timestamp(approved_at.0 + 1);
        a.expires_at = Timestamp(limit.0 + 1)
    });
    let (_, msg) = message(w.approve(&s, &beyond));
    assert!(msg.contains("at most 7 days"), "{msg}");
}

#[test]
fn approval_with_a_bad_signature_is_refused() {
    let w = world();
    let s = w.script();
    let mut a = w.approval(&s, |_| {});
    a.approval.expires_at = Timestamp(a.approval.expires_at.0 + 1);
    let (_, msg) = message(w.approve(&s, &a));
    assert!(msg.contains("signature"), "{msg}");
}

#[test]
fn output_is_kept_up_to_the_cap_and_the_rest_counted() {
    let mut keeper = OutputKeeper::default();
    assert_eq!(
        keeper.keep(&vec![b'a'; MAX_SCRIPT_OUTPUT - 1]).len(),
        MAX_SCRIPT_OUTPUT - 1
    );
    assert_eq!(keeper.keep(b"bcd"), b"b");
    assert_eq!(keeper.keep(b"e"), b"");
    assert_eq!(keeper.dropped(), 3);
    let text = keeper.into_text();
    assert_eq!(text.len(), MAX_SCRIPT_OUTPUT);
    assert!(text.ends_with("ab"));
}

#[test]
fn output_text_has_no_nul_and_survives_invalid_utf8() {
    let mut keeper = OutputKeeper::default();
    keeper.keep(b"ok\0\xffdone");
    assert_eq!(keeper.into_text(), "ok\u{FFFD}\u{FFFD}done");
}

#[test]
fn run_summaries_say_what_happened() {
    let o = RunOutcome {
        exit_code: Some(0),
        timed_out: false,
        duration_ms: 1_234,
        output_bytes: 10,
        truncated: false,
    };
    assert_eq!(outcome_comment("s1", &o), "Script s1 exited 0 in 1.2 s");
    assert_eq!(outcome_audit(&o), "exit 0");
    let killed = RunOutcome {
        exit_code: None,
        timed_out: true,
        ..o.clone()
    };
    assert!(outcome_comment("s1", &killed).contains("timed out"));
    let big = RunOutcome {
        truncated: true,
        output_bytes: 5_000_000,
        ..o
    };
    assert!(outcome_comment("s1", &big).contains("5000000 bytes"));
}
