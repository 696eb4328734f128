//! Who a screenshot prompt is for, as uids: the ticket's requester looked
//! up in the user database, or the user at the console.
//!
//! The lookups sit behind [`Accounts`] so that the consent registry's
//! choice ([`super::consent::choose_window`]) is tested without real
//! accounts or a real seat.

use std::path::Path;

/// systemd-logind's record of the first seat (the local screen and
/// keyboard); `ACTIVE_UID=` is the user of its active session.
pub const SEAT0_FILE: &str = "/run/systemd/seats/seat0";

/// Names and the console, as uids.
pub trait Accounts: Send + Sync + std::fmt::Debug {
    /// The uid of the account `name` (as tickets name it), if there is one.
    fn uid_of(&self, name: &str) -> Option<u32>;
    /// The uid of the user of the active local session, when it is known.
    fn console_uid(&self) -> Option<u32>;
    /// The account name of `uid`, for messages.
    fn name_of(&self, uid: u32) -> String;
}

/// This computer's user database and seat.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemAccounts;

impl Accounts for SystemAccounts {
    fn uid_of(&self, name: &str) -> Option<u32> {
        #[cfg(unix)]
        match super::peer::uid_by_name(name) {
            Ok(Some(uid)) => return Some(uid),
            Ok(None) => {}
            Err(e) => tracing::warn!(account = %name, error = %e, "cannot look up an account"),
        }
        fallback_uid(name)
    }

    fn console_uid(&self) -> Option<u32> {
        read_active_uid(Path::new(SEAT0_FILE))
    }

    fn name_of(&self, uid: u32) -> String {
        #[cfg(unix)]
        return super::peer::account_name(uid);
        #[cfg(not(unix))]
        return super::peer::uid_fallback(uid);
    }
}

/// The uid in a name made by [`super::peer::uid_fallback`] (`uid-1234`):
/// a window whose uid has no account files its tickets under that name.
pub fn fallback_uid(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("uid-")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// `ACTIVE_UID=` from the text of a logind seat file.
pub fn parse_active_uid(text: &str) -> Option<u32> {
    text.lines()
        .find_map(|line| line.trim().strip_prefix("ACTIVE_UID="))
        .and_then(|uid| uid.trim().parse().ok())
}

/// The active uid of the seat file at `path`; `None` where there is no
/// such file (no systemd, no local session, not Linux) or it says none.
pub fn read_active_uid(path: &Path) -> Option<u32> {
    /// Seat files are a few hundred bytes; anything larger is not one.
    const MAX_SEAT_FILE_LEN: u64 = 64 * 1024;
    use std::io::Read;
    let file = std::fs::File::open(path).ok()?;
    let mut text = String::new();
    file.take(MAX_SEAT_FILE_LEN)
        .read_to_string(&mut text)
        .ok()?;
    parse_active_uid(&text)
}

/// Accounts and a console for tests.
#[cfg(test)]
pub(crate) mod fake {
    use super::Accounts;

    #[derive(Debug, Clone, Default)]
    pub struct FakeAccounts {
        names: Vec<(String, u32)>,
        console: Option<u32>,
    }

    impl FakeAccounts {
        pub fn new(names: &[(&str, u32)], console: Option<u32>) -> FakeAccounts {
            FakeAccounts {
                names: names.iter().map(|(n, u)| (n.to_string(), *u)).collect(),
                console,
            }
        }
    }

    impl Accounts for FakeAccounts {
        fn uid_of(&self, name: &str) -> Option<u32> {
            self.names.iter().find(|(n, _)| n == name).map(|(_, u)| *u)
        }
        fn console_uid(&self) -> Option<u32> {
            self.console
        }
        fn name_of(&self, uid: u32) -> String {
            self.names
                .iter()
                .find(|(_, u)| *u == uid)
                .map_or_else(|| super::super::peer::uid_fallback(uid), |(n, _)| n.clone())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_active_uid_is_read_from_a_logind_seat_file() {
        let seat = "# This is private data. Do not parse.\nIS_SEAT0=1\nACTIVE=c2\nACTIVE_UID=1000\nSESSIONS=c2 c1\nUIDS=1000 120\n";
        assert_eq!(parse_active_uid(seat), Some(1000));
        assert_eq!(parse_active_uid("IS_SEAT0=1\nACTIVE=\n"), None);
        assert_eq!(parse_active_uid("ACTIVE_UID=nobody\n"), None);
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("seat0");
        std::fs::write(&file, seat).unwrap();
        assert_eq!(read_active_uid(&file), Some(1000));
        assert_eq!(read_active_uid(&tmp.path().join("missing")), None);
    }

    #[test]
    fn uid_fallback_names_map_back_to_their_uid() {
        assert_eq!(
            fallback_uid(&super::super::peer::uid_fallback(4321)),
            Some(4321)
        );
        assert_eq!(fallback_uid("uid-"), None);
        assert_eq!(fallback_uid("uid-12x"), None);
        assert_eq!(fallback_uid("alice"), None);
    }

    #[cfg(unix)]
    #[test]
    fn system_accounts_know_root() {
        assert_eq!(SystemAccounts.uid_of("root"), Some(0));
        assert_eq!(SystemAccounts.uid_of("uid-77"), Some(77));
        assert_eq!(SystemAccounts.uid_of("no-such-user-triage-test"), None);
        assert_eq!(SystemAccounts.name_of(0), "root");
    }
}
