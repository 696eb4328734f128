//! Who is logged in. sysinfo's `Users` lists *accounts* (root, daemon, ...),
//! not people who are signed in, so it cannot answer this. What we report:
//!
//! - on Linux, the distinct user names of `USER_PROCESS` records in the utmp
//!   file whose session process is still alive (what `who` and `users` show);
//! - where there is no utmp file (other Unixes, or Linux systems that keep
//!   sessions only in systemd-logind), the names in the output of `who`,
//!   which knows the platform's own session database;
//! - otherwise nothing: an empty list means "no sessions could be found", not
//!   "nobody is there".

use std::process::Command;

/// Where glibc keeps the login records.
#[cfg(target_os = "linux")]
const UTMP_PATHS: [&str; 2] = ["/run/utmp", "/var/run/utmp"];
/// Size of one glibc `struct utmp` record on Linux (x86_64, aarch64 and
/// other 64-bit ports use 32-bit time fields here, so the size is the same).
pub const UTMP_RECORD_LEN: usize = 384;
/// `ut_type` of a record for a logged-in user.
const USER_PROCESS: i16 = 7;
const UT_TYPE: usize = 0;
const UT_PID: usize = 4;
const UT_USER: std::ops::Range<usize> = 44..76;

/// One login session record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user: String,
    pub pid: u32,
}

/// Parses a glibc utmp file. Records of other types, empty user names and a
/// trailing partial record are skipped; the bytes are never trusted further.
pub fn parse_utmp(bytes: &[u8]) -> Vec<Session> {
    bytes
        .chunks_exact(UTMP_RECORD_LEN)
        .filter_map(|record| {
            let kind = i16::from_ne_bytes([record[UT_TYPE], record[UT_TYPE + 1]]);
            if kind != USER_PROCESS {
                return None;
            }
            let pid = i32::from_ne_bytes([
                record[UT_PID],
                record[UT_PID + 1],
                record[UT_PID + 2],
                record[UT_PID + 3],
            ]);
            let raw = &record[UT_USER];
            let name = &raw[..raw.iter().position(|&b| b == 0).unwrap_or(raw.len())];
            let user = String::from_utf8_lossy(name).trim().to_string();
            (!user.is_empty()).then(|| Session {
                user,
                pid: pid.max(0) as u32,
            })
        })
        .collect()
}

/// The user names in `who` output: the first word of each line.
pub fn parse_who(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// Distinct names of sessions whose process is alive, sorted.
pub fn live_users(sessions: Vec<Session>, alive: impl Fn(u32) -> bool) -> Vec<String> {
    let mut users: Vec<String> = sessions
        .into_iter()
        .filter(|s| alive(s.pid))
        .map(|s| s.user)
        .collect();
    users.sort();
    users.dedup();
    users
}

/// The logged-in users of this machine, as described in the module docs.
pub fn logged_in_users() -> Vec<String> {
    #[cfg(target_os = "linux")]
    for path in UTMP_PATHS {
        if let Ok(bytes) = std::fs::read(path) {
            // Without /proc we cannot tell stale records apart; keep them all.
            let proc_mounted = std::path::Path::new("/proc/self").exists();
            return live_users(parse_utmp(&bytes), |pid| {
                !proc_mounted
                    || pid == 0
                    || std::path::Path::new("/proc").join(pid.to_string()).exists()
            });
        }
    }
    match Command::new("who").output() {
        Ok(out) if out.status.success() => {
            let mut users = parse_who(&String::from_utf8_lossy(&out.stdout));
            users.sort();
            users.dedup();
            users
        }
        Ok(out) => {
            tracing::debug!(status = %out.status, "`who` failed; reporting no logged-in users");
            Vec::new()
        }
        Err(e) => {
            tracing::debug!(error = %e, "`who` is not available; reporting no logged-in users");
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: i16, pid: i32, user: &str) -> Vec<u8> {
        let mut r = vec![0u8; UTMP_RECORD_LEN];
        r[UT_TYPE..UT_TYPE + 2].copy_from_slice(&kind.to_ne_bytes());
        r[UT_PID..UT_PID + 4].copy_from_slice(&pid.to_ne_bytes());
        r[UT_USER.start..UT_USER.start + user.len()].copy_from_slice(user.as_bytes());
        // Something in ut_line and ut_host, which must not leak into the name.
        r[8..13].copy_from_slice(b"pts/0");
        r[76..85].copy_from_slice(b"10.0.0.1x");
        r
    }

    #[test]
    fn utmp_user_records_are_read_and_others_skipped() {
        let mut bytes = Vec::new();
        bytes.extend(record(2, 0, "reboot")); // BOOT_TIME
        bytes.extend(record(USER_PROCESS, 1234, "alice"));
        bytes.extend(record(8, 1300, "bob")); // DEAD_PROCESS
        bytes.extend(record(USER_PROCESS, 1400, ""));
        bytes.extend(record(USER_PROCESS, 1500, &"c".repeat(32))); // full field, no NUL
        bytes.extend(&[7, 0, 0]); // trailing partial record
        let sessions = parse_utmp(&bytes);
        assert_eq!(
            sessions,
            [
                Session {
                    user: "alice".into(),
                    pid: 1234
                },
                Session {
                    user: "c".repeat(32),
                    pid: 1500
                }
            ]
        );
    }

    #[test]
    fn garbage_utmp_never_panics() {
        let mut x: u32 = 0x9e37_79b9;
        let bytes: Vec<u8> = (0..UTMP_RECORD_LEN * 8)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        let _ = parse_utmp(&bytes);
        assert!(parse_utmp(&[]).is_empty());
    }

    #[test]
    fn stale_sessions_are_dropped_and_names_deduplicated() {
        let sessions = vec![
            Session {
                user: "alice".into(),
                pid: 10,
            },
            Session {
                user: "alice".into(),
                pid: 11,
            },
            Session {
                user: "zed".into(),
                pid: 12,
            },
            Session {
                user: "ghost".into(),
                pid: 99,
            },
        ];
        assert_eq!(live_users(sessions, |pid| pid != 99), ["alice", "zed"]);
    }

    #[test]
    fn who_output_yields_the_first_column() {
        let text = "alice    tty2         2024-05-01 09:12 (:0)\nbob      pts/1        2024-05-01 10:00 (10.0.0.9)\n\n";
        assert_eq!(parse_who(text), ["alice", "bob"]);
        assert!(parse_who("").is_empty());
    }
}
