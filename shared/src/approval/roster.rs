//! The organisation's roster: who may author scripts and who may approve
//! them, signed by the organisation key. The endpoint trusts nobody else.
//!
//! A roster is signed off the relay host, where the org key lives. Agents
//! install a roster only if the key they pinned at enrollment signed it, its
//! version is higher than any they have seen (the floor survives losing the
//! roster file), and it has not expired. An expired roster means no script
//! runs at all. The org key itself changes only through an
//! [`OrgKeyRotation`] that the current key signed.

use super::signed_bytes;
use crate::identity::{KeyPair, PublicKey, Signature};
use crate::roles::Role;
use crate::text::check_name;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::time::Duration;

/// Entries one roster may hold.
pub const MAX_ROSTER_ENTRIES: usize = 1024;
/// Longest a roster may stay valid after it was issued.
pub const MAX_ROSTER_VALIDITY: Duration = Duration::from_secs(400 * 24 * 3600);
/// How long a roster made by `export` stays valid when nothing else is asked.
pub const DEFAULT_ROSTER_VALIDITY: Duration = Duration::from_secs(90 * 24 * 3600);

const ROSTER_DOMAIN: &[u8] = b"triage/org-roster/v1\0";
const ROTATION_DOMAIN: &[u8] = b"triage/org-key-rotation/v1\0";

/// Roles that let a roster entry author scripts (as `AttachScript` on the relay).
pub const AUTHOR_ROLES: [Role; 3] = [Role::L2, Role::L3, Role::Admin];

/// One person the organisation vouches for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterEntry {
    pub name: String,
    pub roles: Vec<Role>,
    pub key: PublicKey,
    /// After this the entry counts for nothing, even in an unexpired roster.
    pub expires_at: Option<Timestamp>,
}

impl RosterEntry {
    pub fn may_author(&self) -> bool {
        self.roles.iter().any(|r| AUTHOR_ROLES.contains(r))
    }

    pub fn may_approve(&self) -> bool {
        self.roles.contains(&Role::Approver)
    }

    pub fn expired(&self, now: Timestamp) -> bool {
        self.expires_at.is_some_and(|e| now >= e)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roster {
    pub version: u64,
    pub entries: Vec<RosterEntry>,
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedRoster {
    pub roster: Roster,
    pub signature: Signature,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RosterError {
    #[error("the roster is not signed by the organisation key this side pinned")]
    BadSignature,
    #[error("roster version {offered} is not newer than version {seen}, the highest seen here; a roster is never rolled back")]
    NotNewer { offered: u64, seen: u64 },
    #[error("roster version {version} expired at {expires_at}; sign a new one")]
    Expired { version: u64, expires_at: Timestamp },
    #[error("the roster names {0} entries; the limit is {MAX_ROSTER_ENTRIES}")]
    TooManyEntries(usize),
    #[error("the roster is valid for longer than the {} days allowed", MAX_ROSTER_VALIDITY.as_secs() / 86_400)]
    TooLong,
    #[error("roster entry `{0}` is not acceptable: {1}")]
    BadEntry(String, String),
    #[error("`{0}` appears twice in the roster; each person and each key must appear once")]
    Duplicate(String),
}

impl Roster {
    pub fn sign(self, org: &KeyPair) -> SignedRoster {
        let signature = org.sign(&signed_bytes(ROSTER_DOMAIN, &self));
        SignedRoster {
            roster: self,
            signature,
        }
    }

    /// The entry holding `key`. Keys are unique in a valid roster.
    pub fn entry_by_key(&self, key: &PublicKey) -> Option<&RosterEntry> {
        self.entries.iter().find(|e| &e.key == key)
    }

    pub fn expired(&self, now: Timestamp) -> bool {
        now >= self.expires_at
    }

    /// The shape rules every roster must meet, whoever signed it.
    pub fn validate(&self) -> Result<(), RosterError> {
        if self.entries.len() > MAX_ROSTER_ENTRIES {
            return Err(RosterError::TooManyEntries(self.entries.len()));
        }
        if self.expires_at > self.issued_at.plus(MAX_ROSTER_VALIDITY) {
            return Err(RosterError::TooLong);
        }
        let mut names = HashSet::new();
        let mut keys = HashSet::new();
        for e in &self.entries {
            check_name("name", &e.name)
                .map_err(|err| RosterError::BadEntry(e.name.clone(), err.to_string()))?;
            if e.roles.is_empty() || e.roles.len() > Role::ALL.len() {
                return Err(RosterError::BadEntry(
                    e.name.clone(),
                    "it must hold 1 to 5 roles".into(),
                ));
            }
            if !names.insert(e.name.as_str()) {
                return Err(RosterError::Duplicate(e.name.clone()));
            }
            if !keys.insert(e.key) {
                return Err(RosterError::Duplicate(e.key.to_string()));
            }
        }
        Ok(())
    }
}

impl SignedRoster {
    pub fn signed_by(&self, org_key: &PublicKey) -> bool {
        org_key.verify(&signed_bytes(ROSTER_DOMAIN, &self.roster), &self.signature)
    }
}

/// Checks a roster on its own: signature, shape, expiry. Version order is
/// [`accept_roster`]'s business.
pub fn check_roster(
    org_key: &PublicKey,
    offered: &SignedRoster,
    now: Timestamp,
) -> Result<(), RosterError> {
    if !offered.signed_by(org_key) {
        return Err(RosterError::BadSignature);
    }
    offered.roster.validate()?;
    if offered.roster.expired(now) {
        return Err(RosterError::Expired {
            version: offered.roster.version,
            expires_at: offered.roster.expires_at,
        });
    }
    Ok(())
}

/// Accepts `offered` only if the org key signed it, it is well formed and
/// unexpired, and its version is above `highest_seen` (the floor kept apart
/// from the roster itself, so losing the roster file does not let an older
/// one back in).
pub fn accept_roster(
    org_key: &PublicKey,
    highest_seen: u64,
    offered: &SignedRoster,
    now: Timestamp,
) -> Result<(), RosterError> {
    check_roster(org_key, offered, now)?;
    if offered.roster.version <= highest_seen {
        return Err(RosterError::NotNewer {
            offered: offered.roster.version,
            seen: highest_seen,
        });
    }
    Ok(())
}

/// One line of a roster diff, for the signer to read before signing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RosterChange {
    Added(RosterEntry),
    Removed(RosterEntry),
    /// Same name, other roles, key or expiry.
    Changed {
        before: RosterEntry,
        after: RosterEntry,
    },
}

/// What `next` changes relative to `previous`, by name, in `next`'s order
/// (removals last).
pub fn diff(previous: &Roster, next: &Roster) -> Vec<RosterChange> {
    let mut changes = Vec::new();
    for after in &next.entries {
        match previous.entries.iter().find(|e| e.name == after.name) {
            None => changes.push(RosterChange::Added(after.clone())),
            Some(before) if before != after => changes.push(RosterChange::Changed {
                before: before.clone(),
                after: after.clone(),
            }),
            Some(_) => {}
        }
    }
    for before in &previous.entries {
        if !next.entries.iter().any(|e| e.name == before.name) {
            changes.push(RosterChange::Removed(before.clone()));
        }
    }
    changes
}

/// The current org key handing over to a new one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgKeyRotation {
    pub old_key: PublicKey,
    pub new_key: PublicKey,
    pub issued_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedRotation {
    pub rotation: OrgKeyRotation,
    /// By `old_key`.
    pub signature: Signature,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RotationError {
    #[error("the rotation is from {from}, but this side trusts {pinned}")]
    NotFromPinnedKey { from: PublicKey, pinned: PublicKey },
    #[error("the rotation is not signed by the organisation key it rotates from")]
    BadSignature,
    #[error("the rotation names the same key twice")]
    SameKey,
}

impl OrgKeyRotation {
    pub fn sign(self, old: &KeyPair) -> SignedRotation {
        let signature = old.sign(&signed_bytes(ROTATION_DOMAIN, &self));
        SignedRotation {
            rotation: self,
            signature,
        }
    }
}

/// The new org key, if `offered` hands over from the `pinned` one.
pub fn accept_rotation(
    pinned: &PublicKey,
    offered: &SignedRotation,
) -> Result<PublicKey, RotationError> {
    let r = &offered.rotation;
    if &r.old_key != pinned {
        return Err(RotationError::NotFromPinnedKey {
            from: r.old_key,
            pinned: *pinned,
        });
    }
    if r.new_key == r.old_key {
        return Err(RotationError::SameKey);
    }
    if !pinned.verify(&signed_bytes(ROTATION_DOMAIN, r), &offered.signature) {
        return Err(RotationError::BadSignature);
    }
    Ok(r.new_key)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(86_400);

    fn entry(name: &str, roles: &[Role]) -> RosterEntry {
        RosterEntry {
            name: name.into(),
            roles: roles.to_vec(),
            key: KeyPair::generate().public_key(),
            expires_at: None,
        }
    }

    fn roster(version: u64) -> Roster {
        Roster {
            version,
            entries: vec![
                entry("alice", &[Role::L2]),
                entry("carol", &[Role::Approver]),
            ],
            issued_at: Timestamp(0),
            expires_at: Timestamp(0).plus(DAY),
        }
    }

    #[test]
    fn a_newer_roster_signed_by_the_org_key_is_accepted() {
        let org = KeyPair::generate();
        let r = roster(3).sign(&org);
        assert_eq!(
            accept_roster(&org.public_key(), 2, &r, Timestamp(1)),
            Ok(())
        );
    }

    #[test]
    fn a_roster_at_or_below_the_floor_is_refused() {
        let org = KeyPair::generate();
        let r = roster(3).sign(&org);
        assert_eq!(
            accept_roster(&org.public_key(), 3, &r, Timestamp(1)),
            Err(RosterError::NotNewer {
                offered: 3,
                seen: 3
            })
        );
        assert!(accept_roster(&org.public_key(), 9, &r, Timestamp(1)).is_err());
    }

    #[test]
    fn a_roster_signed_by_another_key_is_refused() {
        let org = KeyPair::generate();
        let r = roster(1).sign(&KeyPair::generate());
        assert_eq!(
            accept_roster(&org.public_key(), 0, &r, Timestamp(1)),
            Err(RosterError::BadSignature)
        );
    }

    #[test]
    fn an_edited_roster_fails_its_signature() {
        let org = KeyPair::generate();
        let mut r = roster(1).sign(&org);
        r.roster.entries[0].roles.push(Role::Approver);
        assert_eq!(
            check_roster(&org.public_key(), &r, Timestamp(1)),
            Err(RosterError::BadSignature)
        );
    }

    #[test]
    fn a_roster_expires_at_its_boundary() {
        let org = KeyPair::generate();
        let r = roster(1).sign(&org);
        let end = r.roster.expires_at;
        assert_eq!(
            check_roster(&org.public_key(), &r, Timestamp(end.millis() - 1)),
            Ok(())
        );
        assert_eq!(
            check_roster(&org.public_key(), &r, end),
            Err(RosterError::Expired {
                version: 1,
                expires_at: end
            })
        );
    }

    #[test]
    fn validity_is_bounded() {
        let mut r = roster(1);
        r.expires_at = r.issued_at.plus(MAX_ROSTER_VALIDITY);
        assert_eq!(r.validate(), Ok(()));
        r.expires_at = Timestamp(r.expires_at.millis() + 1);
        assert_eq!(r.validate(), Err(RosterError::TooLong));
    }

    #[test]
    fn entries_are_bounded_and_unique_by_name_and_key() {
        let mut r = roster(1);
        r.entries = (0..MAX_ROSTER_ENTRIES)
            .map(|i| entry(&format!("t{i}"), &[Role::L2]))
            .collect();
        assert_eq!(r.validate(), Ok(()));
        r.entries.push(entry("one-more", &[Role::L2]));
        assert_eq!(
            r.validate(),
            Err(RosterError::TooManyEntries(MAX_ROSTER_ENTRIES + 1))
        );

        let mut r = roster(1);
        r.entries.push(entry("alice", &[Role::L3]));
        assert_eq!(r.validate(), Err(RosterError::Duplicate("alice".into())));

        let mut r = roster(1);
        let mut twin = entry("mallory", &[Role::Approver]);
        twin.key = r.entries[0].key;
        r.entries.push(twin);
        assert!(matches!(r.validate(), Err(RosterError::Duplicate(_))));

        let mut r = roster(1);
        r.entries[0].name = "bad name\n".into();
        assert!(matches!(r.validate(), Err(RosterError::BadEntry(..))));
        let mut r = roster(1);
        r.entries[0].roles.clear();
        assert!(matches!(r.validate(), Err(RosterError::BadEntry(..))));
    }

    #[test]
    fn roles_decide_who_authors_and_who_approves() {
        assert!(entry("a", &[Role::L2]).may_author());
        assert!(entry("a", &[Role::L3]).may_author());
        assert!(entry("a", &[Role::Admin]).may_author());
        assert!(!entry("a", &[Role::L1]).may_author());
        assert!(!entry("a", &[Role::Approver]).may_author());
        assert!(entry("a", &[Role::Approver]).may_approve());
        assert!(!entry("a", &[Role::Admin]).may_approve());
        let mut e = entry("a", &[Role::L2]);
        e.expires_at = Some(Timestamp(10));
        assert!(!e.expired(Timestamp(9)));
        assert!(e.expired(Timestamp(10)));
    }

    #[test]
    fn diff_names_added_changed_and_removed_entries() {
        let before = roster(1);
        let mut after = before.clone();
        after.version = 2;
        after.entries[0].roles = vec![Role::L3];
        let dave = entry("dave", &[Role::Approver]);
        after.entries.push(dave.clone());
        after.entries.remove(1);
        let changes = diff(&before, &after);
        assert_eq!(changes.len(), 3);
        assert!(
            matches!(&changes[0], RosterChange::Changed { after, .. } if after.roles == [Role::L3])
        );
        assert_eq!(changes[1], RosterChange::Added(dave));
        assert!(matches!(&changes[2], RosterChange::Removed(e) if e.name == "carol"));
        assert!(diff(&before, &before).is_empty());
    }

    #[test]
    fn a_rotation_needs_the_pinned_key_and_its_signature() {
        let old = KeyPair::generate();
        let new = KeyPair::generate().public_key();
        let rotation = OrgKeyRotation {
            old_key: old.public_key(),
            new_key: new,
            issued_at: Timestamp(0),
        };
        let signed = rotation.clone().sign(&old);
        assert_eq!(accept_rotation(&old.public_key(), &signed), Ok(new));

        let stranger = KeyPair::generate();
        let forged = OrgKeyRotation {
            old_key: old.public_key(),
            ..rotation.clone()
        }
        .sign(&stranger);
        assert_eq!(
            accept_rotation(&old.public_key(), &forged),
            Err(RotationError::BadSignature)
        );
        let other = KeyPair::generate().public_key();
        assert!(matches!(
            accept_rotation(&other, &signed),
            Err(RotationError::NotFromPinnedKey { .. })
        ));
        let same = OrgKeyRotation {
            new_key: old.public_key(),
            ..rotation
        }
        .sign(&old);
        assert_eq!(
            accept_rotation(&old.public_key(), &same),
            Err(RotationError::SameKey)
        );
    }
}
