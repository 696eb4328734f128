//! Helpers shared by unit tests that start real processes.

use std::time::Duration;

/// Whether `pid` is a live process (a zombie waiting to be reaped is dead).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z')),
        Err(_) => false,
    }
}

/// SIGKILL is delivered asynchronously; waits (bounded, as a guard against
/// a hang, not a timing assertion) for `pid` to go.
pub async fn gone(pid: u32) -> bool {
    for _ in 0..200 {
        if !alive(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}
