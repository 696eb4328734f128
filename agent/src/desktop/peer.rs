//! Who is at the other end of the local socket, and whether they may use it.
//!
//! The socket file is world-writable on purpose (any logged-in user's "Get
//! help" window must reach it), so this check is the gate: the kernel tells
//! us the peer's uid ([`peer_uid`], `SO_PEERCRED`), and [`check_peer`]
//! allows only the daemon's own uid, root, and the accounts an
//! administrator listed in agent.toml `desktop_users`. The peer's account
//! name, resolved here from that uid ([`account_name`]), is what tickets
//! are filed under: nothing the window says about itself is believed.

use std::fmt;

/// The uids the socket serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedPeers {
    /// The uid the daemon runs as.
    pub daemon_uid: u32,
    /// agent.toml `desktop_users`, resolved to uids.
    pub listed: Vec<u32>,
}

/// root: it could read the daemon's state directory anyway.
pub const ROOT_UID: u32 = 0;

/// A peer the socket does not serve; the text goes back to that peer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PeerRefused {
    pub uid: u32,
}

impl fmt::Display for PeerRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the Triage agent does not serve uid {}: only its own user, root and the accounts listed in agent.toml `desktop_users` may use the Get help window; ask your IT team to add this account",
            self.uid
        )
    }
}

/// Whether the process with `uid` may use the socket.
pub fn check_peer(uid: u32, allowed: &AllowedPeers) -> Result<(), PeerRefused> {
    if uid == allowed.daemon_uid || uid == ROOT_UID || allowed.listed.contains(&uid) {
        Ok(())
    } else {
        Err(PeerRefused { uid })
    }
}

/// The person behind a connection, as the daemon established it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// The peer's uid (`None` where the platform has none: Windows).
    pub uid: Option<u32>,
    /// The account name tickets are filed under (sanitized for the relay).
    pub account: String,
}

/// The name used for a uid with no account entry.
pub fn uid_fallback(uid: u32) -> String {
    format!("uid-{uid}")
}

/// Reads one `desktop_users` entry: a number is a uid, anything else an
/// account name looked up on this computer.
pub fn resolve_user(entry: &str) -> Result<u32, String> {
    let entry = entry.trim();
    if !entry.is_empty() && entry.bytes().all(|b| b.is_ascii_digit()) {
        return entry
            .parse()
            .map_err(|_| format!("`{entry}` is not a valid uid"));
    }
    lookup_name(entry)
}

#[cfg(unix)]
fn lookup_name(name: &str) -> Result<u32, String> {
    match unix::uid_by_name(name) {
        Ok(Some(uid)) => Ok(uid),
        Ok(None) => Err(format!(
            "there is no account named `{name}` on this computer"
        )),
        Err(e) => Err(format!("cannot look up the account `{name}`: {e}")),
    }
}

#[cfg(not(unix))]
fn lookup_name(name: &str) -> Result<u32, String> {
    Err(format!(
        "`{name}`: account names are only looked up on Unix; on Windows the pipe serves the agent's own account and administrators"
    ))
}

#[cfg(unix)]
pub use unix::{account_name, effective_uid, peer_uid, uid_by_name};

#[cfg(unix)]
mod unix {
    use std::ffi::{CStr, CString};
    use std::io;

    /// Largest buffer offered to getpw*_r before giving up.
    const MAX_PASSWD_BUF: usize = 1024 * 1024;

    /// The uid this process runs with.
    pub fn effective_uid() -> u32 {
        // SAFETY: geteuid has no preconditions and cannot fail.
        unsafe { libc::geteuid() }
    }

    /// The uid of the process at the other end of a Unix socket, from the kernel.
    pub fn peer_uid(stream: &tokio::net::UnixStream) -> io::Result<u32> {
        Ok(stream.peer_cred()?.uid())
    }

    /// The account name of `uid`, made fit for the relay; `uid-N` when
    /// the uid has no account (or a name with nothing usable in it).
    pub fn account_name(uid: u32) -> String {
        let fallback = super::uid_fallback(uid);
        match lookup(|pwd, buf, result| {
            // SAFETY: every pointer is valid for the call; buf's length is passed.
            unsafe { libc::getpwuid_r(uid, pwd, buf.as_mut_ptr().cast(), buf.len(), result) }
        }) {
            Ok(Some((_, name))) => crate::host::sanitize_name(&name, &fallback),
            Ok(None) => fallback,
            Err(e) => {
                tracing::warn!(uid, error = %e, "cannot look up the peer's account name");
                fallback
            }
        }
    }

    /// The uid of the account `name`, if there is one.
    pub fn uid_by_name(name: &str) -> io::Result<Option<u32>> {
        let Ok(cname) = CString::new(name) else {
            return Ok(None);
        };
        lookup(|pwd, buf, result| {
            // SAFETY: every pointer is valid for the call; buf's length is passed.
            unsafe {
                libc::getpwnam_r(
                    cname.as_ptr(),
                    pwd,
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    result,
                )
            }
        })
        .map(|found| found.map(|(uid, _)| uid))
    }

    /// Runs a getpw*_r call with a buffer that grows on ERANGE; returns the
    /// entry's uid and name, or `None` when there is no such account.
    fn lookup(
        mut call: impl FnMut(&mut libc::passwd, &mut [u8], &mut *mut libc::passwd) -> libc::c_int,
    ) -> io::Result<Option<(u32, String)>> {
        let mut size = 1024;
        loop {
            let mut buf = vec![0u8; size];
            // SAFETY: passwd is plain old data; all-zero is a valid value.
            let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
            let mut result: *mut libc::passwd = std::ptr::null_mut();
            let rc = call(&mut pwd, &mut buf, &mut result);
            if rc == libc::ERANGE && size < MAX_PASSWD_BUF {
                size *= 2;
                continue;
            }
            // Some C libraries report "no such entry" as an error code.
            if matches!(rc, libc::ENOENT | libc::ESRCH | libc::EBADF | libc::EPERM) {
                return Ok(None);
            }
            if rc != 0 {
                return Err(io::Error::from_raw_os_error(rc));
            }
            if result.is_null() || pwd.pw_name.is_null() {
                return Ok(None);
            }
            // SAFETY: on success pw_name points to a NUL-terminated string in `buf`,
            // which is still alive here.
            let name = unsafe { CStr::from_ptr(pwd.pw_name) }
                .to_string_lossy()
                .into_owned();
            return Ok(Some((pwd.pw_uid, name)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> AllowedPeers {
        AllowedPeers {
            daemon_uid: 1001,
            listed: vec![1000, 1002],
        }
    }

    #[test]
    fn the_daemons_own_uid_root_and_listed_users_are_served() {
        assert_eq!(check_peer(1001, &allowed()), Ok(()));
        assert_eq!(check_peer(ROOT_UID, &allowed()), Ok(()));
        assert_eq!(check_peer(1000, &allowed()), Ok(()));
        assert_eq!(check_peer(1002, &allowed()), Ok(()));
    }

    #[test]
    fn another_uid_is_refused_with_a_message_naming_it() {
        let refused = check_peer(65534, &allowed()).unwrap_err();
        assert_eq!(refused, PeerRefused { uid: 65534 });
        let text = refused.to_string();
        assert!(text.contains("uid 65534"), "{text}");
        assert!(text.contains("desktop_users"), "{text}");
        let nobody_listed = AllowedPeers {
            daemon_uid: 0,
            listed: vec![],
        };
        assert!(check_peer(1000, &nobody_listed).is_err());
    }

    #[test]
    fn numbers_are_uids_and_unknown_names_are_refused() {
        assert_eq!(resolve_user("1000"), Ok(1000));
        assert_eq!(resolve_user(" 0 "), Ok(0));
        assert!(resolve_user("99999999999").is_err());
        let err = resolve_user("no-such-user-triage-test").unwrap_err();
        assert!(err.contains("no-such-user-triage-test"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn root_resolves_both_ways() {
        assert_eq!(resolve_user("root"), Ok(0));
        assert_eq!(account_name(0), "root");
        assert_eq!(uid_by_name("root\0x").unwrap(), None);
    }

    #[cfg(unix)]
    #[test]
    fn a_uid_without_an_account_is_named_by_its_number() {
        // Far above any allocated range on a test machine.
        assert_eq!(account_name(3_999_999_999), "uid-3999999999");
    }
}
