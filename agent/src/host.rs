//! Facts about the machine and the person using it: host name, OS label,
//! who is logged in at the keyboard, whether we run as root. Names that go to
//! the relay are made to fit its rules here (see [`sanitize_name`]).

use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, System, Users};
use triage_shared::limits::MAX_NAME_LEN;
use triage_shared::text::shortened;

/// The name used when nothing better can be found or nothing of it survives sanitizing.
pub const UNKNOWN_NAME: &str = "unknown";

/// Makes `raw` pass `ticket::check_name`: letters, digits and `._-@` are
/// kept, anything else becomes `_`, and the result is cut to
/// [`MAX_NAME_LEN`] bytes. A name with nothing recognisable left becomes
/// `fallback`. (`DOMAIN\alice` → `DOMAIN_alice`, `José` → `Jos_`.)
pub fn sanitize_name(raw: &str, fallback: &str) -> String {
    let mapped: String = raw
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(MAX_NAME_LEN)
        .collect();
    if mapped.chars().all(|c| c == '_') {
        fallback.to_string()
    } else {
        mapped
    }
}

/// Picks the requester of a help request: `$USER`, else `$LOGNAME`, else the
/// account name of this process's user; sanitized, never empty.
pub fn choose_requester(
    user: Option<String>,
    logname: Option<String>,
    account: impl FnOnce() -> Option<String>,
) -> String {
    let raw = [user, logname]
        .into_iter()
        .flatten()
        .find(|s| !s.trim().is_empty())
        .or_else(account)
        .unwrap_or_default();
    sanitize_name(&raw, UNKNOWN_NAME)
}

/// The person asking for help on this machine, as [`choose_requester`] decides.
pub fn current_requester() -> String {
    let env = |name: &str| std::env::var(name).ok();
    choose_requester(env("USER"), env("LOGNAME"), current_account_name)
}

/// The host name the relay will know this machine by.
pub fn hostname() -> String {
    sanitize_name(&System::host_name().unwrap_or_default(), UNKNOWN_NAME)
}

/// A short OS description such as `Linux (Debian GNU/Linux 12)`, bounded
/// and free of control characters.
pub fn os_label() -> String {
    let label = System::long_os_version()
        .or_else(System::name)
        .unwrap_or_else(|| std::env::consts::OS.to_string());
    let clean: String = label.chars().filter(|c| !c.is_control()).collect();
    shortened(&clean, MAX_NAME_LEN).to_string()
}

/// The account this process runs as, by asking sysinfo for its own process.
fn current_account_name() -> Option<String> {
    let pid = sysinfo::get_current_pid().ok()?;
    let mut system = System::new();
    system.refresh_processes_specifics(
        ProcessesToUpdate::Some(&[pid]),
        false,
        ProcessRefreshKind::nothing().with_user(sysinfo::UpdateKind::Always),
    );
    let uid = system.process(pid)?.user_id()?.clone();
    let users = Users::new_with_refreshed_list();
    users.get_user_by_id(&uid).map(|u| u.name().to_string())
}

/// Whether this process runs with root's effective user id.
#[cfg(unix)]
pub fn running_as_root() -> bool {
    // sysinfo reads our own process entry, which avoids an `unsafe` libc call.
    let Ok(pid) = sysinfo::get_current_pid() else {
        return false;
    };
    let mut system = System::new();
    system.refresh_processes_specifics(
        ProcessesToUpdate::Some(&[pid]),
        false,
        ProcessRefreshKind::nothing().with_user(sysinfo::UpdateKind::Always),
    );
    system
        .process(pid)
        .and_then(|p| p.effective_user_id().or(p.user_id()))
        .is_some_and(|uid| **uid == 0)
}

#[cfg(not(unix))]
pub fn running_as_root() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_shared::text::check_name;

    #[test]
    fn sanitized_names_pass_the_relay_rules() {
        for raw in [
            "alice",
            "DOMAIN\\alice",
            "José",
            "bob smith",
            "a;rm -rf /",
            &"x".repeat(200),
            "名前です",
            "  carol  ",
        ] {
            let name = sanitize_name(raw, UNKNOWN_NAME);
            assert!(
                check_name("requester", &name).is_ok(),
                "{raw:?} became {name:?}"
            );
        }
        assert_eq!(sanitize_name("DOMAIN\\alice", UNKNOWN_NAME), "DOMAIN_alice");
        assert_eq!(
            sanitize_name("alice.smith@corp", UNKNOWN_NAME),
            "alice.smith@corp"
        );
        assert_eq!(
            sanitize_name(&"x".repeat(MAX_NAME_LEN + 1), UNKNOWN_NAME).len(),
            MAX_NAME_LEN
        );
    }

    #[test]
    fn unrecognisable_names_fall_back() {
        assert_eq!(sanitize_name("", UNKNOWN_NAME), UNKNOWN_NAME);
        assert_eq!(sanitize_name("   ", UNKNOWN_NAME), UNKNOWN_NAME);
        assert_eq!(sanitize_name("ñ ü", "someone"), "someone");
    }

    #[test]
    fn requester_prefers_user_then_logname_then_account() {
        let account = || Some("from-uid".to_string());
        assert_eq!(
            choose_requester(Some("alice".into()), Some("bob".into()), account),
            "alice"
        );
        assert_eq!(choose_requester(None, Some("bob".into()), account), "bob");
        assert_eq!(
            choose_requester(Some(" ".into()), None, account),
            "from-uid"
        );
        assert_eq!(choose_requester(None, None, || None), UNKNOWN_NAME);
        assert_eq!(
            choose_requester(Some("CORP\\dave".into()), None, account),
            "CORP_dave"
        );
    }

    #[test]
    fn this_process_has_an_account_name() {
        let name = current_account_name().expect("sysinfo resolves our own user");
        assert!(!name.is_empty());
    }

    #[test]
    fn os_label_is_a_bounded_single_line() {
        let label = os_label();
        assert!(
            !label.is_empty() && label.len() <= MAX_NAME_LEN && !label.contains('\n'),
            "{label:?}"
        );
    }
}
