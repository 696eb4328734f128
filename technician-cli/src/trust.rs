//! What this technician's CLI trusts, apart from the relay: the organisation
//! key pinned with `triage login --org-key` (`org.pub`) and the highest
//! roster version it has verified (`roster-floor`). A roster fetched from the
//! relay counts only if the pinned key signed it, it is unexpired and it is
//! not older than one seen before: a relay that is taken over can neither
//! show an approver a roster of its own nor an old one.

use crate::error::CliError;
use crate::home::{read_small, write_atomic, Home};
use std::path::PathBuf;
use triage_shared::approval::roster::check_roster;
use triage_shared::approval::{Roster, SignedRoster};
use triage_shared::identity::PublicKey;
use triage_shared::time::Timestamp;
use triage_shared::token::EnrollmentToken;

pub const ORG_KEY_FILE: &str = "org.pub";
pub const ROSTER_FLOOR_FILE: &str = "roster-floor";
const FILE_MODE: u32 = 0o600;

/// Why a roster from the relay is not trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RosterDistrust {
    #[error("no organisation key is pinned here, so no roster can be checked; run `triage login RELAY_TOKEN --org-key ed25519:…` with the key your organisation gave you (not one read from the relay)")]
    NoPinnedKey,
    #[error("the relay has no signed roster yet; an admin signs one with `triage roster export`, `triage roster sign` and `triage roster publish`")]
    NoRoster,
    #[error("the relay's roster is not acceptable: {0}. Do not approve anything until the admin has looked at the relay")]
    Rejected(String),
    #[error("the relay offers roster version {offered}, older than version {seen} this CLI already verified; the relay may be rolling it back, so do not approve anything until the admin has looked")]
    RolledBack { offered: u64, seen: u64 },
}

/// The roster the relay sent, if it can be trusted at `now` by someone who
/// pinned `pinned` and has seen versions up to `floor`.
pub fn check_fetched<'a>(
    pinned: Option<&PublicKey>,
    floor: u64,
    offered: Option<&'a SignedRoster>,
    now: Timestamp,
) -> Result<&'a Roster, RosterDistrust> {
    let pinned = pinned.ok_or(RosterDistrust::NoPinnedKey)?;
    let offered = offered.ok_or(RosterDistrust::NoRoster)?;
    check_roster(pinned, offered, now).map_err(|e| RosterDistrust::Rejected(e.to_string()))?;
    if offered.roster.version < floor {
        return Err(RosterDistrust::RolledBack {
            offered: offered.roster.version,
            seen: floor,
        });
    }
    Ok(&offered.roster)
}

impl Home {
    fn org_key_path(&self) -> PathBuf {
        self.dir().join(ORG_KEY_FILE)
    }

    fn roster_floor_path(&self) -> PathBuf {
        self.dir().join(ROSTER_FLOOR_FILE)
    }

    /// The organisation key pinned at login, if any.
    pub fn pinned_org_key(&self) -> Result<Option<PublicKey>, CliError> {
        let path = self.org_key_path();
        match read_small(&path)? {
            None => Ok(None),
            Some(text) => text.trim().parse().map(Some).map_err(
                |e: triage_shared::identity::IdentityError| {
                    CliError::InvalidInput(format!(
                    "{} is damaged ({e}); run `triage login RELAY_TOKEN --org-key ed25519:…` again",
                    path.display()
                ))
                },
            ),
        }
    }

    /// Pins `key`. Replacing a different pinned key is refused: a new org
    /// key reaches technicians out of band, and they remove the old pin on
    /// purpose.
    pub fn pin_org_key(&self, key: &PublicKey) -> Result<(), CliError> {
        match self.pinned_org_key()? {
            Some(pinned) if &pinned == key => Ok(()),
            Some(pinned) => Err(CliError::InvalidInput(format!(
                "this home already pins organisation key {pinned}; if your organisation really changed its key, delete {} and log in again",
                self.org_key_path().display()
            ))),
            None => {
                self.ensure_dir()?;
                write_atomic(&self.org_key_path(), format!("{key}\n").as_bytes(), FILE_MODE)
            }
        }
    }

    /// Moves the pin from `old` to `new` after a rotation signed by `old`
    /// was verified; refused when `old` is not what is pinned.
    pub fn follow_rotation(&self, old: &PublicKey, new: &PublicKey) -> Result<(), CliError> {
        if self.pinned_org_key()?.as_ref() != Some(old) {
            return Err(CliError::Untrusted(
                "the rotation is not from the organisation key pinned here".into(),
            ));
        }
        write_atomic(
            &self.org_key_path(),
            format!("{new}\n").as_bytes(),
            FILE_MODE,
        )
    }

    /// The highest roster version verified here (0: none yet).
    pub fn roster_floor(&self) -> Result<u64, CliError> {
        let path = self.roster_floor_path();
        match read_small(&path)? {
            None => Ok(0),
            Some(text) => text.trim().parse().map_err(|_| {
                CliError::InvalidInput(format!(
                    "{} is damaged; it should hold one roster version number",
                    path.display()
                ))
            }),
        }
    }

    /// Remembers that `version` was verified (never lowers the floor).
    pub fn raise_roster_floor(&self, version: u64) -> Result<(), CliError> {
        if version > self.roster_floor()? {
            self.ensure_dir()?;
            write_atomic(
                &self.roster_floor_path(),
                format!("{version}\n").as_bytes(),
                FILE_MODE,
            )?;
        }
        Ok(())
    }

    /// Checks a roster the relay sent against this home's pin and floor,
    /// and raises the floor to it.
    pub fn trust_roster<'a>(
        &self,
        offered: Option<&'a SignedRoster>,
        now: Timestamp,
    ) -> Result<&'a Roster, CliError> {
        let pinned = self.pinned_org_key()?;
        let roster = check_fetched(pinned.as_ref(), self.roster_floor()?, offered, now)
            .map_err(|e| CliError::Untrusted(e.to_string()))?;
        self.raise_roster_floor(roster.version)?;
        Ok(roster)
    }
}

/// The token text the relay minted, with this home's pinned org key and
/// roster floor put in (the relay's own copy of the org key is never used).
/// Without a pin the token carries no org key, and its agent runs no scripts.
pub fn pin_token(home: &Home, minted: &str) -> Result<String, CliError> {
    let mut token: EnrollmentToken = minted.parse().map_err(|e| {
        CliError::Untrusted(format!("the relay sent a token that does not parse: {e}"))
    })?;
    token.org_key = home.pinned_org_key()?;
    token.min_roster = match token.org_key {
        Some(_) => home.roster_floor()?,
        None => 0,
    };
    Ok(token.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use triage_shared::identity::KeyPair;

    const NOW: Timestamp = Timestamp(1_000_000);

    fn roster(version: u64, org: &KeyPair) -> SignedRoster {
        Roster {
            version,
            entries: vec![],
            issued_at: Timestamp(0),
            expires_at: NOW.plus(Duration::from_secs(60)),
        }
        .sign(org)
    }

    #[test]
    fn a_roster_signed_by_the_pinned_key_at_or_above_the_floor_is_trusted() {
        let org = KeyPair::generate();
        let r = roster(3, &org);
        let key = org.public_key();
        assert_eq!(check_fetched(Some(&key), 3, Some(&r), NOW), Ok(&r.roster));
        assert_eq!(check_fetched(Some(&key), 0, Some(&r), NOW), Ok(&r.roster));
    }

    #[test]
    fn a_roster_from_another_key_an_old_version_or_none_is_distrusted() {
        let org = KeyPair::generate();
        let key = org.public_key();
        let forged = roster(9, &KeyPair::generate());
        assert!(matches!(
            check_fetched(Some(&key), 0, Some(&forged), NOW),
            Err(RosterDistrust::Rejected(_))
        ));
        let old = roster(2, &org);
        assert_eq!(
            check_fetched(Some(&key), 3, Some(&old), NOW),
            Err(RosterDistrust::RolledBack {
                offered: 2,
                seen: 3
            })
        );
        assert_eq!(
            check_fetched(Some(&key), 0, None, NOW),
            Err(RosterDistrust::NoRoster)
        );
        assert_eq!(
            check_fetched(None, 0, Some(&old), NOW),
            Err(RosterDistrust::NoPinnedKey)
        );
        let expired = roster(4, &org);
        let end = expired.roster.expires_at;
        assert!(matches!(
            check_fetched(Some(&key), 0, Some(&expired), end),
            Err(RosterDistrust::Rejected(reason)) if reason.contains("expired")
        ));
    }

    #[test]
    fn the_pin_is_kept_and_a_different_key_is_not_pinned_over_it() {
        let tmp = tempfile::tempdir().unwrap();
        let home = Home::new(tmp.path().join("home"));
        assert_eq!(home.pinned_org_key().unwrap(), None);
        let key = KeyPair::generate().public_key();
        home.pin_org_key(&key).unwrap();
        home.pin_org_key(&key).unwrap();
        assert_eq!(home.pinned_org_key().unwrap(), Some(key));
        let err = home
            .pin_org_key(&KeyPair::generate().public_key())
            .unwrap_err();
        assert!(err.to_string().contains("already pins"), "{err}");
        assert_eq!(home.pinned_org_key().unwrap(), Some(key));
    }

    #[test]
    fn minted_tokens_get_the_pinned_key_and_floor_never_the_relays() {
        let tmp = tempfile::tempdir().unwrap();
        let home = Home::new(tmp.path().join("home"));
        let relays_choice = KeyPair::generate().public_key();
        let minted = format!(
            "triage://relay:1?fp={}&token={}&org={}",
            "01".repeat(32),
            "02".repeat(32),
            hex::encode(relays_choice.0)
        );
        let bare: EnrollmentToken = pin_token(&home, &minted).unwrap().parse().unwrap();
        assert_eq!((bare.org_key, bare.min_roster), (None, 0));

        let org = KeyPair::generate().public_key();
        home.pin_org_key(&org).unwrap();
        home.raise_roster_floor(7).unwrap();
        let pinned: EnrollmentToken = pin_token(&home, &minted).unwrap().parse().unwrap();
        assert_eq!((pinned.org_key, pinned.min_roster), (Some(org), 7));
        assert!(pin_token(&home, "garbage").is_err());
    }

    #[test]
    fn the_pin_follows_a_rotation_only_from_the_pinned_key() {
        let tmp = tempfile::tempdir().unwrap();
        let home = Home::new(tmp.path().join("home"));
        let (old, new) = (
            KeyPair::generate().public_key(),
            KeyPair::generate().public_key(),
        );
        home.pin_org_key(&old).unwrap();
        assert!(home.follow_rotation(&new, &old).is_err());
        home.follow_rotation(&old, &new).unwrap();
        assert_eq!(home.pinned_org_key().unwrap(), Some(new));
    }

    #[test]
    fn the_floor_rises_with_each_trusted_roster_and_never_falls() {
        let tmp = tempfile::tempdir().unwrap();
        let home = Home::new(tmp.path().join("home"));
        let org = KeyPair::generate();
        home.pin_org_key(&org.public_key()).unwrap();
        let v5 = roster(5, &org);
        home.trust_roster(Some(&v5), NOW).unwrap();
        assert_eq!(home.roster_floor().unwrap(), 5);
        let v4 = roster(4, &org);
        let err = home.trust_roster(Some(&v4), NOW).unwrap_err();
        assert!(err.to_string().contains("rolling it back"), "{err}");
        home.raise_roster_floor(2).unwrap();
        assert_eq!(home.roster_floor().unwrap(), 5);
    }
}
