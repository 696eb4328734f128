//! The endpoint's decision, one refusal per test, without a network.
use super::*;
use std::collections::HashSet;

struct World {
    org: KeyPair,
    author: KeyPair,
    approver: KeyPair,
    agent: AgentId,
    ticket: TicketId,
    content: Vec<u8>,
    policy: OrgPolicy,
}

fn world() -> World {
    let org = KeyPair::generate();
    let approver = KeyPair::generate();
    let policy = OrgPolicy {
        version: 1,
        approvers: vec![TrustedApprover {
            name: "carol".into(),
            key: approver.public_key(),
        }],
        issued_at: Timestamp(0),
    };
    World {
        org,
        author: KeyPair::generate(),
        approver,
        agent: AgentId::new_random(),
        ticket: TicketId::new_random(),
        content: b"#!/bin/sh\necho fixed\n".to_vec(),
        policy,
    }
}

impl World {
    fn script(&self) -> SignedScript {
        ScriptManifest {
            script_id: ScriptId(Uuid::from_u128(1)),
            ticket_id: self.ticket,
            digest: ScriptDigest::of(&self.content),
            interpreter: Interpreter::Sh,
            timeout_secs: 60,
            author: "alice".into(),
            author_key: self.author.public_key(),
            description: "restart the print spooler".into(),
            created_at: Timestamp(0),
        }
        .sign(&self.author)
    }

    fn approval_with(&self, signer: &KeyPair, edit: impl FnOnce(&mut Approval)) -> SignedApproval {
        let s = self.script();
        let mut a = Approval {
            script_id: s.manifest.script_id,
            digest: s.manifest.digest,
            ticket_id: self.ticket,
            agent_id: self.agent,
            expires_at: Timestamp(10_000),
            nonce: Nonce([9; 16]),
            approver: "carol".into(),
            approver_key: signer.public_key(),
        };
        edit(&mut a);
        a.sign(signer)
    }

    fn check(
        &self,
        content: &[u8],
        script: &SignedScript,
        approval: &SignedApproval,
        used: &HashSet<Nonce>,
    ) -> Result<(), Refusal> {
        let is_used = |n: &Nonce| used.contains(n);
        verify_run(
            content,
            script,
            approval,
            &RunContext {
                agent_id: self.agent,
                now: Timestamp(5_000),
                policy: Some(&self.policy),
                allowed_interpreters: &[Interpreter::Sh, Interpreter::Bash],
                nonce_used: &is_used,
            },
        )
    }
}

#[test]
fn a_properly_approved_script_is_allowed() {
    let w = world();
    let approval = w.approval_with(&w.approver, |_| {});
    assert_eq!(
        w.check(&w.content, &w.script(), &approval, &HashSet::new()),
        Ok(())
    );
}

#[test]
fn script_changed_after_approval_is_refused() {
    let w = world();
    let approval = w.approval_with(&w.approver, |_| {});
    let err = w
        .check(
            b"#!/bin/sh\nrm -rf /\n",
            &w.script(),
            &approval,
            &HashSet::new(),
        )
        .unwrap_err();
    assert!(matches!(err, Refusal::DigestMismatch { .. }), "{err}");
}

#[test]
fn manifest_edited_by_the_relay_fails_the_author_signature() {
    let w = world();
    let mut script = w.script();
    script.manifest.timeout_secs = 3600;
    let approval = w.approval_with(&w.approver, |_| {});
    assert_eq!(
        w.check(&w.content, &script, &approval, &HashSet::new()),
        Err(Refusal::BadAuthorSignature)
    );
}

#[test]
fn approval_by_the_author_is_refused() {
    let mut w = world();
    // Even when the author is a trusted approver, they cannot approve their own script.
    w.policy.approvers.push(TrustedApprover {
        name: "alice".into(),
        key: w.author.public_key(),
    });
    let author = KeyPair::from_file_text(&w.author.to_file_text()).unwrap();
    let approval = w.approval_with(&author, |a| a.approver = "alice".into());
    assert_eq!(
        w.check(&w.content, &w.script(), &approval, &HashSet::new()),
        Err(Refusal::SelfApproval)
    );
}

#[test]
fn approval_by_an_untrusted_key_is_refused() {
    let w = world();
    let relay_key = KeyPair::generate();
    let approval = w.approval_with(&relay_key, |_| {});
    let err = w
        .check(&w.content, &w.script(), &approval, &HashSet::new())
        .unwrap_err();
    assert!(matches!(err, Refusal::UntrustedApprover(_)), "{err}");
}

#[test]
fn forged_approval_signature_is_refused() {
    let w = world();
    let mut approval = w.approval_with(&w.approver, |_| {});
    approval.approval.expires_at = Timestamp(i64::MAX);
    assert_eq!(
        w.check(&w.content, &w.script(), &approval, &HashSet::new()),
        Err(Refusal::BadApprovalSignature)
    );
}

#[test]
fn approval_for_another_agent_or_ticket_is_refused() {
    let w = world();
    let other_agent = w.approval_with(&w.approver, |a| a.agent_id = AgentId::new_random());
    assert!(matches!(
        w.check(&w.content, &w.script(), &other_agent, &HashSet::new()),
        Err(Refusal::WrongAgent(_))
    ));
    let other_ticket = w.approval_with(&w.approver, |a| a.ticket_id = TicketId::new_random());
    assert!(matches!(
        w.check(&w.content, &w.script(), &other_ticket, &HashSet::new()),
        Err(Refusal::WrongTicket { .. })
    ));
    let other_script = w.approval_with(&w.approver, |a| a.script_id = ScriptId::new_random());
    assert_eq!(
        w.check(&w.content, &w.script(), &other_script, &HashSet::new()),
        Err(Refusal::WrongScript)
    );
}

#[test]
fn expired_approval_is_refused_at_the_boundary() {
    let w = world();
    let just_valid = w.approval_with(&w.approver, |a| a.expires_at = Timestamp(5_001));
    assert_eq!(
        w.check(&w.content, &w.script(), &just_valid, &HashSet::new()),
        Ok(())
    );
    let just_expired = w.approval_with(&w.approver, |a| a.expires_at = Timestamp(5_000));
    assert_eq!(
        w.check(&w.content, &w.script(), &just_expired, &HashSet::new()),
        Err(Refusal::Expired(Timestamp(5_000)))
    );
}

#[test]
fn replayed_nonce_is_refused() {
    let w = world();
    let approval = w.approval_with(&w.approver, |_| {});
    let used: HashSet<Nonce> = [Nonce([9; 16])].into();
    assert_eq!(
        w.check(&w.content, &w.script(), &approval, &used),
        Err(Refusal::Replayed(Nonce([9; 16])))
    );
}

#[test]
fn interpreter_off_the_allow_list_is_refused() {
    let w = world();
    let mut m = w.script().manifest;
    m.interpreter = Interpreter::Python;
    let script = m.sign(&w.author);
    let approval = w.approval_with(&w.approver, |_| {});
    assert_eq!(
        w.check(&w.content, &script, &approval, &HashSet::new()),
        Err(Refusal::InterpreterNotAllowed(Interpreter::Python))
    );
}

#[test]
fn no_policy_means_no_trusted_approver() {
    let w = world();
    let approval = w.approval_with(&w.approver, |_| {});
    let never = |_: &Nonce| false;
    let ctx = RunContext {
        agent_id: w.agent,
        now: Timestamp(0),
        policy: None,
        allowed_interpreters: &[Interpreter::Sh],
        nonce_used: &never,
    };
    assert_eq!(
        verify_run(&w.content, &w.script(), &approval, &ctx),
        Err(Refusal::NoPolicy)
    );
}

#[test]
fn policy_updates_need_the_org_key_and_a_higher_version() {
    let w = world();
    let v1 = w.policy.clone().sign(&w.org);
    let installed = accept_policy(&w.org.public_key(), None, &v1).unwrap();
    let mut newer = installed.clone();
    newer.version = 2;
    assert!(accept_policy(
        &w.org.public_key(),
        Some(&installed),
        &newer.clone().sign(&w.org)
    )
    .is_ok());
    assert_eq!(
        accept_policy(
            &w.org.public_key(),
            Some(&installed),
            &newer.clone().sign(&KeyPair::generate())
        ),
        Err(PolicyError::BadSignature)
    );
    let mut same = installed.clone();
    same.approvers.push(TrustedApprover {
        name: "mallory".into(),
        key: KeyPair::generate().public_key(),
    });
    assert_eq!(
        accept_policy(&w.org.public_key(), Some(&installed), &same.sign(&w.org)),
        Err(PolicyError::NotNewer {
            offered: 1,
            installed: 1
        })
    );
}

#[test]
fn signed_values_round_trip_through_json_and_bincode() {
    let w = world();
    let s = w.script();
    let json = serde_json::to_string(&s).unwrap();
    let back: SignedScript = serde_json::from_str(&json).unwrap();
    assert!(back.signature_valid());
    let frame = crate::codec::encode(&s).unwrap();
    let back: SignedScript = crate::codec::decode_frame(&frame).unwrap();
    assert!(back.signature_valid());
}
