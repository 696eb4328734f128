//! The script's process group: everything it starts, killed together.
//!
//! On Unix the script is the leader of a new process group (its pid is the
//! group id), so `killpg` reaches its children and their children too, unless
//! one deliberately leaves the group (`setsid`), which the drain grace in
//! [`super::execute`] bounds. Elsewhere only the script itself can be killed.

/// Kills the group on drop unless it was disarmed, so a run abandoned half
/// way (the agent shutting down) leaves nothing behind either.
#[derive(Debug)]
pub struct Group {
    pgid: Option<u32>,
}

impl Group {
    pub fn new(pgid: Option<u32>) -> Self {
        Group { pgid }
    }

    /// Sends SIGKILL to every process in the group. Harmless if it is empty.
    pub fn kill(&self) {
        if let Some(pgid) = self.pgid {
            kill_group(pgid);
        }
    }

    /// Kills what is left and forgets the group id. Called right after the
    /// leader was reaped: from then on the id may be reused, so it is never
    /// signalled again.
    pub fn kill_and_forget(&mut self) {
        self.kill();
        self.pgid = None;
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(unix)]
fn kill_group(pgid: u32) {
    let Ok(pgid) = libc::pid_t::try_from(pgid) else {
        return;
    };
    if pgid <= 1 {
        // 0 would be our own group and 1 init's; neither is a script's.
        return;
    }
    // SAFETY: killpg only sends a signal; it touches no memory of ours.
    let rc = unsafe { libc::killpg(pgid, libc::SIGKILL) };
    if rc != 0 {
        let err = std::io::Error::last_os_error();
        // ESRCH: the group is already empty, the usual case after a clean exit.
        if err.raw_os_error() != Some(libc::ESRCH) {
            tracing::warn!(pgid, error = %err, "could not kill the script's process group");
        }
    }
}

#[cfg(not(unix))]
fn kill_group(_pgid: u32) {}
