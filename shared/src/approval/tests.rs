//! The endpoint's decision, one refusal per test, without a network.
use super::*;
use crate::roles::Role;
use std::collections::HashSet;

const NOW: Timestamp = Timestamp(5_000_000);

struct World {
    author: KeyPair,
    approver: KeyPair,
    agent: AgentId,
    ticket: TicketId,
    content: Vec<u8>,
    roster: Roster,
}

fn world() -> World {
    let author = KeyPair::generate();
    let approver = KeyPair::generate();
    let roster = Roster {
        version: 1,
        entries: vec![
            RosterEntry {
                name: "alice".into(),
                roles: vec![Role::L2],
                key: author.public_key(),
                expires_at: None,
            },
            RosterEntry {
                name: "carol".into(),
                roles: vec![Role::Approver],
                key: approver.public_key(),
                expires_at: None,
            },
        ],
        issued_at: Timestamp(0),
        expires_at: NOW.plus(Duration::from_secs(3600)),
    };
    World {
        author,
        approver,
        agent: AgentId::new_random(),
        ticket: TicketId::new_random(),
        content: b"#!/bin/sh\necho fixed\n".to_vec(),
        roster,
    }
}

impl World {
    fn manifest(&self) -> ScriptManifest {
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
            targets: vec![self.agent],
        }
    }

    fn script(&self) -> SignedScript {
        self.manifest().sign(&self.author)
    }

    fn approval_of(
        &self,
        script: &SignedScript,
        signer: &KeyPair,
        edit: impl FnOnce(&mut Approval),
    ) -> SignedApproval {
        let mut a = Approval {
            manifest_hash: script.hash(),
            script_id: script.manifest.script_id,
            ticket_id: script.manifest.ticket_id,
            approved_at: NOW,
            expires_at: NOW.plus(Duration::from_secs(600)),
            nonce: Nonce([9; 16]),
            approver: "carol".into(),
            approver_key: signer.public_key(),
        };
        edit(&mut a);
        a.sign(signer)
    }

    fn approval_with(&self, signer: &KeyPair, edit: impl FnOnce(&mut Approval)) -> SignedApproval {
        self.approval_of(&self.script(), signer, edit)
    }

    fn check_at(
        &self,
        now: Timestamp,
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
                now,
                roster: Some(&self.roster),
                allowed_interpreters: &[Interpreter::Sh, Interpreter::Bash],
                nonce_used: &is_used,
            },
        )
    }

    fn check(&self, script: &SignedScript, approval: &SignedApproval) -> Result<(), Refusal> {
        self.check_at(NOW, &self.content, script, approval, &HashSet::new())
    }
}

#[test]
fn a_properly_approved_script_is_allowed() {
    let w = world();
    let approval = w.approval_with(&w.approver, |_| {});
    assert_eq!(w.check(&w.script(), &approval), Ok(()));
}

#[test]
fn script_changed_after_approval_is_refused() {
    let w = world();
    let approval = w.approval_with(&w.approver, |_| {});
    let err = w
        .check_at(
            NOW,
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
        w.check(&script, &approval),
        Err(Refusal::BadAuthorSignature)
    );
}

#[test]
fn a_manifest_re_signed_by_a_fresh_key_under_an_authors_name_is_refused() {
    let w = world();
    let fresh = KeyPair::generate();
    let mut m = w.manifest();
    m.author_key = fresh.public_key();
    let forged = m.sign(&fresh);
    let approval = w.approval_of(&forged, &w.approver, |_| {});
    let err = w.check(&forged, &approval).unwrap_err();
    assert!(
        matches!(err, Refusal::UnknownAuthor { ref name, .. } if name == "alice"),
        "{err}"
    );
    assert!(err
        .to_string()
        .contains("not an author on this agent's organisation roster"));
}

#[test]
fn an_author_who_is_not_on_the_roster_is_refused_even_with_a_real_approval() {
    let w = world();
    let mallory = KeyPair::generate();
    let mut m = w.manifest();
    m.author = "mallory".into();
    m.author_key = mallory.public_key();
    let script = m.sign(&mallory);
    let approval = w.approval_of(&script, &w.approver, |_| {});
    assert!(matches!(
        w.check(&script, &approval),
        Err(Refusal::UnknownAuthor { .. })
    ));
}

#[test]
fn a_roster_entry_without_an_authoring_role_or_past_its_expiry_cannot_author() {
    let mut w = world();
    w.roster.entries[0].roles = vec![Role::L1];
    let approval = w.approval_with(&w.approver, |_| {});
    assert!(matches!(
        w.check(&w.script(), &approval),
        Err(Refusal::UnknownAuthor { .. })
    ));
    w.roster.entries[0].roles = vec![Role::L3];
    assert_eq!(w.check(&w.script(), &approval), Ok(()));
    w.roster.entries[0].expires_at = Some(NOW);
    assert!(matches!(
        w.check(&w.script(), &approval),
        Err(Refusal::UnknownAuthor { .. })
    ));
}

#[test]
fn any_field_changed_after_approval_is_refused_even_when_the_author_re_signs() {
    let w = world();
    let approval = w.approval_with(&w.approver, |_| {});
    let edits: [fn(&mut ScriptManifest); 5] = [
        |m| m.interpreter = Interpreter::Bash,
        |m| m.timeout_secs = 6 * 3600,
        |m| m.description = "something else".into(),
        |m| m.targets.push(AgentId::new_random()),
        |m| m.created_at = Timestamp(1),
    ];
    for edit in edits {
        let mut m = w.manifest();
        edit(&mut m);
        let resigned = m.sign(&w.author);
        let err = w.check(&resigned, &approval).unwrap_err();
        assert!(matches!(err, Refusal::WrongScript { .. }), "{err}");
    }
}

#[test]
fn approval_by_the_author_is_refused() {
    let mut w = world();
    // Even when the author is also an approver, they cannot approve their own script.
    w.roster.entries[0].roles.push(Role::Approver);
    let author = KeyPair::from_file_text(&w.author.to_file_text()).unwrap();
    let approval = w.approval_with(&author, |a| a.approver = "alice".into());
    assert_eq!(w.check(&w.script(), &approval), Err(Refusal::SelfApproval));
    // The same name with another key is the same person.
    let other = KeyPair::generate();
    let approval = w.approval_with(&other, |a| a.approver = "alice".into());
    assert_eq!(w.check(&w.script(), &approval), Err(Refusal::SelfApproval));
}

#[test]
fn approval_by_a_key_that_is_not_an_approver_on_the_roster_is_refused() {
    let mut w = world();
    let relay_key = KeyPair::generate();
    let approval = w.approval_with(&relay_key, |_| {});
    let err = w.check(&w.script(), &approval).unwrap_err();
    assert!(matches!(err, Refusal::UntrustedApprover { .. }), "{err}");

    // On the roster, but not as an approver.
    w.roster.entries[1].roles = vec![Role::Admin];
    let approval = w.approval_with(&w.approver, |_| {});
    assert!(matches!(
        w.check(&w.script(), &approval),
        Err(Refusal::UntrustedApprover { .. })
    ));
    // An approver whose entry expired.
    w.roster.entries[1].roles = vec![Role::Approver];
    w.roster.entries[1].expires_at = Some(Timestamp(1));
    assert!(matches!(
        w.check(&w.script(), &approval),
        Err(Refusal::UntrustedApprover { .. })
    ));
}

#[test]
fn forged_approval_signature_is_refused() {
    let w = world();
    let mut approval = w.approval_with(&w.approver, |_| {});
    approval.approval.expires_at = Timestamp(i64::MAX);
    assert_eq!(
        w.check(&w.script(), &approval),
        Err(Refusal::BadApprovalSignature)
    );
}

#[test]
fn a_script_for_another_agent_or_an_approval_for_another_ticket_is_refused() {
    let w = world();
    let mut m = w.manifest();
    m.targets = vec![AgentId::new_random()];
    let elsewhere = m.sign(&w.author);
    let approval = w.approval_of(&elsewhere, &w.approver, |_| {});
    assert_eq!(
        w.check(&elsewhere, &approval),
        Err(Refusal::WrongAgent(w.agent))
    );

    let other_ticket = w.approval_with(&w.approver, |a| a.ticket_id = TicketId::new_random());
    assert!(matches!(
        w.check(&w.script(), &other_ticket),
        Err(Refusal::WrongTicket { .. })
    ));
    let other_script = w.approval_with(&w.approver, |a| a.script_id = ScriptId::new_random());
    assert!(matches!(
        w.check(&w.script(), &other_script),
        Err(Refusal::WrongScript { .. })
    ));
}

#[test]
fn target_lists_are_bounded() {
    let w = world();
    let mut m = w.manifest();
    m.targets = (0..MAX_SCRIPT_TARGETS)
        .map(|_| AgentId::new_random())
        .collect();
    m.targets[0] = w.agent;
    let at_limit = m.clone().sign(&w.author);
    assert_eq!(
        w.check(&at_limit, &w.approval_of(&at_limit, &w.approver, |_| {})),
        Ok(())
    );
    m.targets.push(AgentId::new_random());
    let over = m.sign(&w.author);
    assert_eq!(
        w.check(&over, &w.approval_of(&over, &w.approver, |_| {})),
        Err(Refusal::TooManyTargets(MAX_SCRIPT_TARGETS + 1))
    );
}

#[test]
fn expired_approval_is_refused_at_the_boundary() {
    let w = world();
    let approval = w.approval_with(&w.approver, |_| {});
    let expiry = approval.approval.expires_at;
    let s = w.script();
    let just_before = Timestamp(expiry.millis() - 1);
    assert_eq!(
        w.check_at(just_before, &w.content, &s, &approval, &HashSet::new()),
        Ok(())
    );
    assert_eq!(
        w.check_at(expiry, &w.content, &s, &approval, &HashSet::new()),
        Err(Refusal::Expired(expiry))
    );
}

#[test]
fn approvals_longer_than_the_maximum_lifetime_are_refused() {
    let w = world();
    let at_limit = w.approval_with(&w.approver, |a| {
        a.expires_at = a.approved_at.plus(MAX_APPROVAL_TTL)
    });
    assert_eq!(w.check(&w.script(), &at_limit), Ok(()));
    let too_long = w.approval_with(&w.approver, |a| {
        a.expires_at = Timestamp(a.approved_at.plus(MAX_APPROVAL_TTL).millis() + 1)
    });
    assert_eq!(w.check(&w.script(), &too_long), Err(Refusal::TooLong));
    // Dated in the future to look short: bounded from the agent's clock too.
    let future = NOW.plus(Duration::from_secs(30 * 86_400));
    let post_dated = w.approval_with(&w.approver, |a| {
        a.approved_at = future;
        a.expires_at = future.plus(Duration::from_secs(60));
    });
    assert_eq!(w.check(&w.script(), &post_dated), Err(Refusal::TooLong));
}

#[test]
fn replayed_nonce_is_refused() {
    let w = world();
    let approval = w.approval_with(&w.approver, |_| {});
    let used: HashSet<Nonce> = [Nonce([9; 16])].into();
    assert_eq!(
        w.check_at(NOW, &w.content, &w.script(), &approval, &used),
        Err(Refusal::Replayed(Nonce([9; 16])))
    );
}

#[test]
fn interpreter_off_the_allow_list_is_refused() {
    let w = world();
    let mut m = w.manifest();
    m.interpreter = Interpreter::Python;
    let script = m.sign(&w.author);
    let approval = w.approval_of(&script, &w.approver, |_| {});
    assert_eq!(
        w.check(&script, &approval),
        Err(Refusal::InterpreterNotAllowed(Interpreter::Python))
    );
}

#[test]
fn no_roster_means_no_trusted_author_or_approver() {
    let w = world();
    let approval = w.approval_with(&w.approver, |_| {});
    let never = |_: &Nonce| false;
    let ctx = RunContext {
        agent_id: w.agent,
        now: NOW,
        roster: None,
        allowed_interpreters: &[Interpreter::Sh],
        nonce_used: &never,
    };
    assert_eq!(
        verify_run(&w.content, &w.script(), &approval, &ctx),
        Err(Refusal::NoRoster)
    );
}

#[test]
fn an_expired_roster_runs_nothing() {
    let w = world();
    let approval = w.approval_with(&w.approver, |a| {
        a.expires_at = NOW.plus(Duration::from_secs(2 * 3600))
    });
    let end = w.roster.expires_at;
    let s = w.script();
    let before = Timestamp(end.millis() - 1);
    assert_eq!(
        w.check_at(before, &w.content, &s, &approval, &HashSet::new()),
        Ok(())
    );
    let err = w
        .check_at(end, &w.content, &s, &approval, &HashSet::new())
        .unwrap_err();
    assert_eq!(
        err,
        Refusal::RosterExpired {
            version: 1,
            expires_at: end
        }
    );
    assert!(err.to_string().contains("no script runs"), "{err}");
}

#[test]
fn signed_values_round_trip_through_json_and_bincode() {
    let w = world();
    let s = w.script();
    let json = serde_json::to_string(&s).unwrap();
    let back: SignedScript = serde_json::from_str(&json).unwrap();
    assert!(back.signature_valid());
    assert_eq!(back.hash(), s.hash());
    let frame = crate::codec::encode(&s).unwrap();
    let back: SignedScript = crate::codec::decode_frame(&frame).unwrap();
    assert!(back.signature_valid());
    let a = w.approval_with(&w.approver, |_| {});
    let back: SignedApproval = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
    assert!(back.signature_valid());
}
