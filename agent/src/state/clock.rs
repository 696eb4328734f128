//! `clock-floor`: the latest wall-clock time this agent has seen, so that
//! setting the clock back cannot make an expired approval valid again.
//!
//! The attack it stops: with the clock set forward, a restart prunes the
//! used nonces whose approvals expired long "ago" ([`super::nonces`]); set
//! the clock back, and an approval that has not expired by the real time
//! would be unexpired and unknown again. With the floor, the agent's
//! "now" is `max(wall clock, floor)` ([`ClockFloor::now`]), for approval
//! expiry and for pruning alike, and the floor never goes down.
//!
//! The file holds one line, milliseconds since the epoch. It is raised at
//! load, on every run authorization and every [`CLOCK_FLOOR_SAVE_INTERVAL`]
//! while the daemon runs, written atomically like every state file. A
//! damaged file is an error that stops the agent (see
//! [`AgentError::ClockFloorDamaged`] for the fix), never silently reset.
//!
//! The price: a clock that was once far ahead keeps approvals expired
//! until real time catches up; removing the file (with the agent stopped)
//! is the way out, and the agent warns when the wall clock is behind.

use super::files::{read_capped, write_atomic};
use super::{StateDir, MAX_STATE_FILE_LEN};
use crate::error::AgentError;
use std::path::PathBuf;
use std::time::Duration;
use triage_shared::time::Timestamp;

pub const CLOCK_FLOOR_FILE: &str = "clock-floor";
/// How often the daemon saves the floor between runs.
pub const CLOCK_FLOOR_SAVE_INTERVAL: Duration = Duration::from_secs(5 * 60);
/// How far the wall clock may lag the floor before the agent warns.
pub const CLOCK_BEHIND_WARNING: Duration = Duration::from_secs(10 * 60);

/// The persisted clock floor of one state directory.
#[derive(Debug)]
pub struct ClockFloor {
    dir: PathBuf,
    floor: Timestamp,
    /// What the file holds, so an unchanged floor is not rewritten.
    saved: Option<Timestamp>,
}

/// The file's text for `floor`.
pub fn format_floor(floor: Timestamp) -> String {
    format!("{}\n", floor.millis())
}

/// Reads the file's text: one non-negative number of milliseconds.
pub fn parse_floor(text: &str) -> Result<Timestamp, String> {
    let line = text.trim();
    match line.parse::<i64>() {
        Ok(ms) if ms >= 0 => Ok(Timestamp(ms)),
        _ => Err(format!(
            "`{}` is not a time in milliseconds since the epoch",
            line.chars().take(40).collect::<String>()
        )),
    }
}

/// The agent's time given the wall clock and the floor: never before
/// either. Pure: this is the whole rule.
pub fn agent_now(floor: Timestamp, wall: Timestamp) -> Timestamp {
    floor.max(wall)
}

impl ClockFloor {
    /// Loads the floor of `dir` (none yet: the epoch).
    pub fn load(dir: &StateDir) -> Result<ClockFloor, AgentError> {
        let path = dir.file(CLOCK_FLOOR_FILE);
        let saved = match read_capped(&path, MAX_STATE_FILE_LEN) {
            Ok(None) => None,
            Ok(Some(text)) => Some(
                parse_floor(&text)
                    .map_err(|problem| AgentError::ClockFloorDamaged { path, problem })?,
            ),
            Err(AgentError::CorruptState { path, problem }) => {
                return Err(AgentError::ClockFloorDamaged { path, problem })
            }
            Err(e) => return Err(e),
        };
        Ok(ClockFloor {
            dir: dir.path().to_path_buf(),
            floor: saved.unwrap_or(Timestamp(0)),
            saved,
        })
    }

    /// The highest time seen so far.
    pub fn floor(&self) -> Timestamp {
        self.floor
    }

    /// The agent's "now" when the wall clock says `wall`; raises the floor
    /// to it. Wall time going back never lowers the floor.
    pub fn now(&mut self, wall: Timestamp) -> Timestamp {
        if wall.millis() + (CLOCK_BEHIND_WARNING.as_millis() as i64) < self.floor.millis() {
            tracing::warn!(
                wall = %wall,
                floor = %self.floor,
                path = %self.dir.join(CLOCK_FLOOR_FILE).display(),
                "the wall clock is behind the latest time this agent has seen; approvals are judged by the later time (if that time is wrong, stop the agent and remove the clock-floor file)"
            );
        }
        self.floor = agent_now(self.floor, wall);
        self.floor
    }

    /// Writes the floor if it rose since it was last written.
    pub fn save(&mut self) -> Result<(), AgentError> {
        if self.saved == Some(self.floor) {
            return Ok(());
        }
        write_atomic(&self.dir, CLOCK_FLOOR_FILE, &format_floor(self.floor))?;
        self.saved = Some(self.floor);
        Ok(())
    }

    /// [`ClockFloor::now`], then [`ClockFloor::save`].
    pub fn advance(&mut self, wall: Timestamp) -> Result<Timestamp, AgentError> {
        let now = self.now(wall);
        self.save()?;
        Ok(now)
    }
}

impl StateDir {
    /// The clock floor kept in this directory.
    pub fn clock_floor(&self) -> Result<ClockFloor, AgentError> {
        ClockFloor::load(self)
    }
}

#[cfg(test)]
mod tests {
    use super::super::nonces::{NonceLog, NONCE_RETENTION};
    use super::*;
    use triage_shared::approval::Nonce;

    const DAY_MS: i64 = 24 * 3600 * 1000;

    fn dir() -> (tempfile::TempDir, StateDir) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = StateDir::new(tmp.path());
        (tmp, dir)
    }

    #[test]
    fn the_wall_clock_going_back_never_lowers_the_agents_time() {
        let (_tmp, dir) = dir();
        let mut clock = dir.clock_floor().unwrap();
        assert_eq!(clock.floor(), Timestamp(0));
        assert_eq!(clock.now(Timestamp(5_000)), Timestamp(5_000));
        assert_eq!(clock.now(Timestamp(1_000)), Timestamp(5_000));
        assert_eq!(clock.now(Timestamp(7_000)), Timestamp(7_000));
        assert_eq!(clock.floor(), Timestamp(7_000));
        assert_eq!(agent_now(Timestamp(3), Timestamp(2)), Timestamp(3));
        assert_eq!(agent_now(Timestamp(3), Timestamp(4)), Timestamp(4));
    }

    #[test]
    fn the_floor_survives_a_reload_and_is_written_only_when_it_rose() {
        let (tmp, dir) = dir();
        let file = tmp.path().join(CLOCK_FLOOR_FILE);
        let mut clock = dir.clock_floor().unwrap();
        clock.save().unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "0\n");
        assert_eq!(
            clock.advance(Timestamp(9 * DAY_MS)).unwrap(),
            Timestamp(9 * DAY_MS)
        );
        let mut reloaded = dir.clock_floor().unwrap();
        assert_eq!(reloaded.floor(), Timestamp(9 * DAY_MS));
        assert_eq!(
            reloaded.advance(Timestamp(DAY_MS)).unwrap(),
            Timestamp(9 * DAY_MS)
        );
        // Unchanged: not rewritten (a marker survives).
        std::fs::write(&file, format_floor(Timestamp(9 * DAY_MS)) + " ").unwrap();
        reloaded.save().unwrap();
        assert!(std::fs::read_to_string(&file).unwrap().ends_with(' '));
    }

    #[test]
    fn a_damaged_floor_is_an_error_naming_the_file_and_the_fix() {
        let (tmp, dir) = dir();
        let file = tmp.path().join(CLOCK_FLOOR_FILE);
        for damage in ["yesterday\n", "-5\n", ""] {
            std::fs::write(&file, damage).unwrap();
            let err = dir.clock_floor().unwrap_err();
            let text = err.to_string();
            assert!(
                matches!(err, AgentError::ClockFloorDamaged { .. }),
                "{text}"
            );
            assert!(text.contains(&file.display().to_string()), "{text}");
            assert!(text.contains("date +%s000"), "{text}");
        }
        std::fs::write(&file, [0xff, 0xfe]).unwrap();
        assert!(matches!(
            dir.clock_floor(),
            Err(AgentError::ClockFloorDamaged { .. })
        ));
        assert_eq!(parse_floor(" 42 \n"), Ok(Timestamp(42)));
    }

    #[cfg(unix)]
    #[test]
    fn the_floor_file_is_private_to_the_owner() {
        use std::os::unix::fs::PermissionsExt;
        let (tmp, dir) = dir();
        dir.clock_floor().unwrap().advance(Timestamp(1)).unwrap();
        let mode = std::fs::metadata(tmp.path().join(CLOCK_FLOOR_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    /// The attack: clock forward, restart (pruning), clock back.
    #[test]
    fn a_clock_set_back_after_pruning_cannot_revive_an_expired_approval() {
        let (_tmp, dir) = dir();
        let start = Timestamp(100 * DAY_MS);
        let expiry = start.plus(Duration::from_secs(3600));
        let nonce = Nonce([7; 16]);
        let mut clock = dir.clock_floor().unwrap();
        let mut log = NonceLog::load(&dir, clock.advance(start).unwrap()).unwrap();
        log.record(nonce, expiry).unwrap();

        // The clock is set far forward and the agent restarts: the nonce is pruned.
        let ahead = expiry
            .plus(NONCE_RETENTION)
            .plus(Duration::from_secs(86_400));
        let mut clock = dir.clock_floor().unwrap();
        let now = clock.advance(ahead).unwrap();
        let log = NonceLog::load(&dir, now).unwrap();
        assert!(!log.is_used(&nonce), "pruned: its approval is long expired");

        // The clock is set back before the expiry and the agent restarts.
        let back = start.plus(Duration::from_secs(60));
        assert!(back < expiry);
        let mut clock = dir.clock_floor().unwrap();
        let now = clock.advance(back).unwrap();
        assert_eq!(now, ahead, "the floor keeps the agent's time");
        assert!(
            now >= expiry,
            "an approval expiring at {expiry} is still expired at {now}"
        );
        // Pruning by the same time forgets nothing that could run again.
        let log = NonceLog::load(&dir, now).unwrap();
        assert!(!log.is_used(&nonce));
    }
}
