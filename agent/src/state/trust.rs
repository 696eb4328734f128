//! Whose scripts this agent runs: the organisation key pinned at enrollment
//! (`org.pub`), the roster it signed (`roster.json`), and the highest roster
//! version ever seen here (`roster-floor`).
//!
//! The org key comes from the admin with the enrollment token, never from the
//! relay, and changes only through a rotation statement the pinned key
//! signed. A roster replaces the installed one only if that key signed it,
//! it is unexpired, and its version is above the floor. The floor is kept
//! apart from the roster and written first, so deleting or replacing
//! `roster.json` never lets an older roster back in. `roster.json` is
//! re-verified every time it is loaded: a file edited on disk or rolled back
//! below the floor is treated as no roster (every run refused) and reported
//! loudly, never trusted.

use super::{read_capped, write_atomic, StateDir};
use crate::error::AgentError;
use triage_shared::approval::roster::{
    accept_roster, accept_rotation, RosterError, SignedRotation,
};
use triage_shared::approval::{Roster, SignedRoster};
use triage_shared::identity::PublicKey;
use triage_shared::time::Timestamp;

pub const ORG_KEY_FILE: &str = "org.pub";
pub const ROSTER_FILE: &str = "roster.json";
pub const ROSTER_FLOOR_FILE: &str = "roster-floor";
/// The file of the approver-only policy that rosters replaced; removed on sight.
pub const LEGACY_POLICY_FILE: &str = "policy.json";
/// Largest `roster.json` read; a full roster of
/// [`MAX_ROSTER_ENTRIES`](triage_shared::approval::roster::MAX_ROSTER_ENTRIES)
/// takes about a third of it.
pub const MAX_ROSTER_FILE_LEN: u64 = 1024 * 1024;

/// What `roster.json` holds, after checking it against the pinned org key
/// and the floor. Expiry is judged at each run, not here, so that an expired
/// roster can still be shown.
#[derive(Debug, Clone, PartialEq)]
pub enum StoredRoster {
    Absent,
    Trusted(Box<SignedRoster>),
    /// Present but not acceptable; the reason names the file and the problem.
    Rejected(String),
}

/// The answer to an offered roster.
#[derive(Debug, Clone, PartialEq)]
pub enum Offer {
    /// The same roster is already installed; nothing to do.
    Unchanged,
    /// Signed by the org key, unexpired and newer than any seen: install it.
    Install,
}

const NO_ORG_KEY: &str = "this agent was enrolled without an organisation key, so it accepts no roster and runs no scripts; enroll it again with a token that carries `&org=`";

/// Decides on an offered roster. The error text goes back to the relay verbatim.
pub fn judge_offer(
    org_key: Option<&PublicKey>,
    installed: Option<&SignedRoster>,
    floor: u64,
    offered: &SignedRoster,
    now: Timestamp,
) -> Result<Offer, String> {
    let org_key = org_key.ok_or_else(|| NO_ORG_KEY.to_string())?;
    if installed == Some(offered) {
        if offered.roster.expired(now) {
            return Err(RosterError::Expired {
                version: offered.roster.version,
                expires_at: offered.roster.expires_at,
            }
            .to_string());
        }
        return Ok(Offer::Unchanged);
    }
    accept_roster(org_key, floor, offered, now)
        .map(|_| Offer::Install)
        .map_err(|e| e.to_string())
}

/// Checks the text of `roster.json` against the pinned org key and the floor.
pub fn check_stored(
    org_key: Option<&PublicKey>,
    floor: u64,
    text: &str,
) -> Result<SignedRoster, String> {
    let roster: SignedRoster =
        serde_json::from_str(text).map_err(|e| format!("it is not a signed roster: {e}"))?;
    let org_key = org_key.ok_or_else(|| {
        format!("there is no pinned organisation key ({ORG_KEY_FILE}) to check it against")
    })?;
    if !roster.signed_by(org_key) {
        return Err("it is not signed by the pinned organisation key".into());
    }
    roster.roster.validate().map_err(|e| e.to_string())?;
    if roster.roster.version < floor {
        return Err(format!(
            "it is version {}, below version {floor} that this agent has already seen (rolled back)",
            roster.roster.version
        ));
    }
    Ok(roster)
}

/// What the endpoint trusts, loaded and kept together so a roster offer,
/// a rotation and a run always see one consistent state.
#[derive(Debug)]
pub struct Trust {
    dir: StateDir,
    org_key: Option<PublicKey>,
    roster: Option<SignedRoster>,
    floor: u64,
}

impl Trust {
    /// Loads the trust files; a roster that does not verify is dropped with
    /// its reason (returned, for the caller to log loudly).
    pub fn load(dir: &StateDir) -> Result<(Trust, Option<String>), AgentError> {
        let org_key = dir.org_key()?;
        let stored_floor = dir.roster_floor()?;
        let (roster, problem) = match dir.stored_roster(org_key.as_ref())? {
            StoredRoster::Trusted(r) => (Some(*r), None),
            StoredRoster::Absent => (None, None),
            StoredRoster::Rejected(reason) => (None, Some(reason)),
        };
        let floor = stored_floor.max(roster.as_ref().map_or(0, |r| r.roster.version));
        let trust = Trust {
            dir: dir.clone(),
            org_key,
            roster,
            floor,
        };
        Ok((trust, problem))
    }

    pub fn org_key(&self) -> Option<&PublicKey> {
        self.org_key.as_ref()
    }

    pub fn roster(&self) -> Option<&Roster> {
        self.roster.as_ref().map(|r| &r.roster)
    }

    pub fn floor(&self) -> u64 {
        self.floor
    }

    /// Installs `offered` if [`judge_offer`] says so; the floor is raised on
    /// disk before the roster is written.
    pub fn offer_roster(
        &mut self,
        offered: &SignedRoster,
        now: Timestamp,
    ) -> Result<Offer, String> {
        let offer = judge_offer(
            self.org_key.as_ref(),
            self.roster.as_ref(),
            self.floor,
            offered,
            now,
        )?;
        if offer == Offer::Install {
            let version = offered.roster.version;
            self.dir
                .save_roster_floor(version)
                .and_then(|()| self.dir.save_roster(offered))
                .map_err(|e| format!("the agent could not save the roster: {e}"))?;
            self.floor = version;
            self.roster = Some(offered.clone());
        }
        Ok(offer)
    }

    /// Follows a rotation the pinned key signed. The installed roster was
    /// signed by the old key, so it is dropped: no script runs until a
    /// roster signed by the new key arrives (its version above the floor).
    pub fn offer_rotation(&mut self, offered: &SignedRotation) -> Result<PublicKey, String> {
        let pinned = self.org_key.ok_or_else(|| NO_ORG_KEY.to_string())?;
        if pinned == offered.rotation.new_key {
            return Ok(pinned);
        }
        let new_key = accept_rotation(&pinned, offered).map_err(|e| e.to_string())?;
        self.dir
            .pin_org_key(Some(&new_key))
            .and_then(|()| super::files::remove_if_present(self.dir.file(ROSTER_FILE)))
            .map_err(|e| format!("the agent could not save the new organisation key: {e}"))?;
        self.org_key = Some(new_key);
        self.roster = None;
        Ok(new_key)
    }
}

impl StateDir {
    /// The pinned organisation key; `None` for an agent enrolled without one.
    pub fn org_key(&self) -> Result<Option<PublicKey>, AgentError> {
        match self.read(ORG_KEY_FILE)? {
            None => Ok(None),
            Some(text) => {
                text.parse::<PublicKey>()
                    .map(Some)
                    .map_err(|e| AgentError::CorruptState {
                        path: self.file(ORG_KEY_FILE),
                        problem: e.to_string(),
                    })
            }
        }
    }

    /// Pins `key` (or records that there is none) at enrollment.
    pub fn pin_org_key(&self, key: Option<&PublicKey>) -> Result<(), AgentError> {
        match key {
            Some(key) => self.write_atomic(ORG_KEY_FILE, &format!("{key}\n")),
            None => super::files::remove_if_present(self.file(ORG_KEY_FILE)),
        }
    }

    /// The highest roster version seen here (0: none). A damaged file is an
    /// error: guessing low would let an old roster back in.
    pub fn roster_floor(&self) -> Result<u64, AgentError> {
        match self.read(ROSTER_FLOOR_FILE)? {
            None => Ok(0),
            Some(text) => text
                .trim()
                .parse::<u64>()
                .map_err(|_| AgentError::CorruptState {
                    path: self.file(ROSTER_FLOOR_FILE),
                    problem: "it should hold one roster version number; write the version of the newest roster this agent had (see `triage roster show`) into it".to_string(),
                }),
        }
    }

    /// Raises the floor to `version` (never lowers it).
    pub fn save_roster_floor(&self, version: u64) -> Result<(), AgentError> {
        let current = self.roster_floor()?;
        if version > current {
            self.write_atomic(ROSTER_FLOOR_FILE, &format!("{version}\n"))?;
        }
        Ok(())
    }

    /// Loads `roster.json` and verifies it against `org_key` and the floor.
    pub fn stored_roster(&self, org_key: Option<&PublicKey>) -> Result<StoredRoster, AgentError> {
        let _ = super::files::remove_if_present(self.file(LEGACY_POLICY_FILE));
        let floor = self.roster_floor()?;
        let path = self.file(ROSTER_FILE);
        let text = match read_capped(&path, MAX_ROSTER_FILE_LEN) {
            Ok(None) => return Ok(StoredRoster::Absent),
            Ok(Some(text)) => text,
            Err(AgentError::CorruptState { problem, .. }) => {
                return Ok(StoredRoster::Rejected(format!(
                    "{} is {problem}",
                    path.display()
                )))
            }
            Err(e) => return Err(e),
        };
        Ok(match check_stored(org_key, floor, &text) {
            Ok(roster) => StoredRoster::Trusted(Box::new(roster)),
            Err(problem) => {
                StoredRoster::Rejected(format!("{} is not trusted: {problem}", path.display()))
            }
        })
    }

    /// Writes an accepted roster (atomically; see [`write_atomic`]).
    pub fn save_roster(&self, roster: &SignedRoster) -> Result<(), AgentError> {
        let text = serde_json::to_string_pretty(roster).map_err(|e| AgentError::CorruptState {
            path: self.file(ROSTER_FILE),
            problem: format!("cannot encode the roster: {e}"),
        })?;
        write_atomic(self.path(), ROSTER_FILE, &format!("{text}\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use triage_shared::approval::roster::OrgKeyRotation;
    use triage_shared::approval::RosterEntry;
    use triage_shared::identity::KeyPair;
    use triage_shared::roles::Role;

    const NOW: Timestamp = Timestamp(1_000_000);

    fn roster(version: u64, org: &KeyPair) -> SignedRoster {
        Roster {
            version,
            entries: vec![RosterEntry {
                name: "carol".into(),
                roles: vec![Role::Approver],
                key: KeyPair::generate().public_key(),
                expires_at: None,
            }],
            issued_at: Timestamp(0),
            expires_at: NOW.plus(Duration::from_secs(86_400)),
        }
        .sign(org)
    }

    fn dir() -> (tempfile::TempDir, StateDir) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = StateDir::new(tmp.path());
        (tmp, dir)
    }

    #[test]
    fn a_first_roster_signed_by_the_org_key_is_installed() {
        let org = KeyPair::generate();
        let offer = judge_offer(Some(&org.public_key()), None, 0, &roster(1, &org), NOW);
        assert_eq!(offer, Ok(Offer::Install));
    }

    #[test]
    fn the_installed_roster_offered_again_is_a_no_op() {
        let org = KeyPair::generate();
        let v1 = roster(1, &org);
        assert_eq!(
            judge_offer(Some(&org.public_key()), Some(&v1), 1, &v1, NOW),
            Ok(Offer::Unchanged)
        );
    }

    #[test]
    fn a_version_at_or_below_the_floor_is_refused_even_with_no_roster_installed() {
        let org = KeyPair::generate();
        let err = judge_offer(Some(&org.public_key()), None, 2, &roster(2, &org), NOW).unwrap_err();
        assert_eq!(
            err,
            RosterError::NotNewer {
                offered: 2,
                seen: 2
            }
            .to_string()
        );
    }

    #[test]
    fn an_expired_roster_is_refused_even_when_it_is_the_one_installed() {
        let org = KeyPair::generate();
        let r = roster(1, &org);
        let end = r.roster.expires_at;
        let err = judge_offer(Some(&org.public_key()), None, 0, &r, end).unwrap_err();
        assert!(err.contains("expired"), "{err}");
        let err = judge_offer(Some(&org.public_key()), Some(&r), 1, &r, end).unwrap_err();
        assert!(err.contains("expired"), "{err}");
    }

    #[test]
    fn without_an_org_key_no_roster_is_accepted() {
        let org = KeyPair::generate();
        let err = judge_offer(None, None, 0, &roster(1, &org), NOW).unwrap_err();
        assert!(err.contains("enroll it again"), "{err}");
    }

    #[test]
    fn the_floor_survives_losing_the_roster_file() {
        let (tmp, dir) = dir();
        let org = KeyPair::generate();
        dir.pin_org_key(Some(&org.public_key())).unwrap();
        let (mut trust, _) = Trust::load(&dir).unwrap();
        assert_eq!(
            trust.offer_roster(&roster(5, &org), NOW),
            Ok(Offer::Install)
        );
        std::fs::remove_file(tmp.path().join(ROSTER_FILE)).unwrap();

        let (mut trust, problem) = Trust::load(&dir).unwrap();
        assert_eq!((trust.roster(), problem, trust.floor()), (None, None, 5));
        assert!(trust.offer_roster(&roster(4, &org), NOW).is_err());
        assert!(trust.offer_roster(&roster(5, &org), NOW).is_err());
        assert_eq!(
            trust.offer_roster(&roster(6, &org), NOW),
            Ok(Offer::Install)
        );
        assert_eq!(dir.roster_floor().unwrap(), 6);
    }

    #[test]
    fn a_roster_file_rolled_back_below_the_floor_is_rejected() {
        let (_tmp, dir) = dir();
        let org = KeyPair::generate();
        let key = org.public_key();
        dir.save_roster(&roster(2, &org)).unwrap();
        dir.save_roster_floor(3).unwrap();
        match dir.stored_roster(Some(&key)).unwrap() {
            StoredRoster::Rejected(reason) => assert!(reason.contains("rolled back"), "{reason}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_floor_never_goes_down_and_a_damaged_floor_is_an_error() {
        let (tmp, dir) = dir();
        dir.save_roster_floor(7).unwrap();
        dir.save_roster_floor(3).unwrap();
        assert_eq!(dir.roster_floor().unwrap(), 7);
        std::fs::write(tmp.path().join(ROSTER_FLOOR_FILE), "seven").unwrap();
        let err = dir.roster_floor().unwrap_err();
        assert!(matches!(err, AgentError::CorruptState { .. }), "{err}");
    }

    #[test]
    fn stored_rosters_are_checked_against_the_pinned_key() {
        let (tmp, dir) = dir();
        let org = KeyPair::generate();
        let key = org.public_key();
        assert_eq!(dir.stored_roster(Some(&key)).unwrap(), StoredRoster::Absent);

        let v3 = roster(3, &org);
        dir.save_roster(&v3).unwrap();
        assert_eq!(
            dir.stored_roster(Some(&key)).unwrap(),
            StoredRoster::Trusted(Box::new(v3))
        );
        let other = KeyPair::generate().public_key();
        assert!(matches!(
            dir.stored_roster(Some(&other)).unwrap(),
            StoredRoster::Rejected(_)
        ));
        assert!(matches!(
            dir.stored_roster(None).unwrap(),
            StoredRoster::Rejected(_)
        ));
        let path = tmp.path().join(ROSTER_FILE);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("\"version\": 3", "\"version\": 9")).unwrap();
        match dir.stored_roster(Some(&key)).unwrap() {
            StoredRoster::Rejected(reason) => {
                assert!(reason.contains("roster.json is not trusted"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        std::fs::write(&path, "{ not json").unwrap();
        assert!(matches!(
            dir.stored_roster(Some(&key)).unwrap(),
            StoredRoster::Rejected(_)
        ));
    }

    #[test]
    fn a_rotation_signed_by_the_pinned_key_moves_trust_and_drops_the_old_roster() {
        let (_tmp, dir) = dir();
        let old = KeyPair::generate();
        let new = KeyPair::generate();
        dir.pin_org_key(Some(&old.public_key())).unwrap();
        let (mut trust, _) = Trust::load(&dir).unwrap();
        trust.offer_roster(&roster(1, &old), NOW).unwrap();

        let forged = OrgKeyRotation {
            old_key: old.public_key(),
            new_key: new.public_key(),
            issued_at: NOW,
        }
        .sign(&new);
        assert!(trust.offer_rotation(&forged).is_err());
        assert_eq!(trust.org_key(), Some(&old.public_key()));

        let real = OrgKeyRotation {
            old_key: old.public_key(),
            new_key: new.public_key(),
            issued_at: NOW,
        }
        .sign(&old);
        assert_eq!(trust.offer_rotation(&real), Ok(new.public_key()));
        assert_eq!(trust.roster(), None);
        // Offered again after it took effect: nothing to do.
        assert_eq!(trust.offer_rotation(&real), Ok(new.public_key()));

        let (mut trust, _) = Trust::load(&dir).unwrap();
        assert_eq!(trust.org_key(), Some(&new.public_key()));
        // Only rosters of the new key, above the floor, are taken now.
        assert!(trust.offer_roster(&roster(2, &old), NOW).is_err());
        assert!(trust.offer_roster(&roster(1, &new), NOW).is_err());
        assert_eq!(
            trust.offer_roster(&roster(2, &new), NOW),
            Ok(Offer::Install)
        );
    }

    #[test]
    fn the_org_key_round_trips_and_can_be_unpinned() {
        let (tmp, dir) = dir();
        let key = KeyPair::generate().public_key();
        assert_eq!(dir.org_key().unwrap(), None);
        dir.pin_org_key(Some(&key)).unwrap();
        assert_eq!(dir.org_key().unwrap(), Some(key));
        dir.pin_org_key(None).unwrap();
        assert_eq!(dir.org_key().unwrap(), None);
        std::fs::write(tmp.path().join(ORG_KEY_FILE), "ed25519:zz").unwrap();
        assert!(matches!(
            dir.org_key(),
            Err(AgentError::CorruptState { .. })
        ));
    }
}
