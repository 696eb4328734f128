//! A warm collector for the daemon: one sysinfo `System` kept between
//! snapshots, so CPU usage (a difference of two readings) is measured from
//! the previous snapshot's reading instead of a fresh one taken
//! [`MINIMUM_CPU_UPDATE_INTERVAL`] earlier with a sleep in between.
//!
//! ```text
//! snapshot ─► judge(age of the last reading)
//!     Usable            ─► second reading now                       (~10 ms)
//!     Wait(d)           ─► sleep d (< the minimum), second reading   (too recent)
//!     Resample          ─► first reading, sleep the minimum, second  (none yet, or too old)
//! ```
//!
//! Every snapshot's reading is the next one's baseline. A baseline older
//! than [`MAX_BASELINE_AGE`] would report usage averaged over a long quiet
//! (or busy) stretch as if it were now, so it is resampled instead. A cold
//! collector behaves exactly like [`super::collect`].

use super::{probe, refresh_usage, shape};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use sysinfo::{System, MINIMUM_CPU_UPDATE_INTERVAL};
use triage_shared::diagnostics::Snapshot;

/// Oldest reading still used as the baseline for CPU usage: usage is then
/// an average over at most this long before the snapshot.
pub const MAX_BASELINE_AGE: Duration = Duration::from_secs(60);

/// What to do with the last reading before taking a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Baseline {
    /// Measure usage against it, at once.
    Usable,
    /// Too recent for sysinfo to measure a difference: wait this long first.
    Wait(Duration),
    /// None yet, or too old to speak for now: take a new one and wait the minimum.
    Resample,
}

/// Whether a reading `age` old can be the baseline, given the shortest
/// interval sysinfo measures over (`min`) and the oldest allowed (`max`).
pub fn judge(age: Option<Duration>, min: Duration, max: Duration) -> Baseline {
    match age {
        None => Baseline::Resample,
        Some(age) if age > max => Baseline::Resample,
        Some(age) if age < min => Baseline::Wait(min - age),
        Some(_) => Baseline::Usable,
    }
}

struct Reading {
    system: System,
    at: Instant,
}

/// The daemon's collector; share it (`Arc`) between everything that takes
/// snapshots in one process. Snapshots are taken one at a time.
#[derive(Default)]
pub struct WarmCollector {
    last: Mutex<Option<Reading>>,
}

impl std::fmt::Debug for WarmCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let age = self.lock().as_ref().map(|r| r.at.elapsed());
        f.debug_struct("WarmCollector")
            .field("baseline_age", &age)
            .finish()
    }
}

impl WarmCollector {
    pub fn new() -> Arc<WarmCollector> {
        Arc::new(WarmCollector::default())
    }

    fn lock(&self) -> MutexGuard<'_, Option<Reading>> {
        // Poisoned only by a panic inside sysinfo; the reading is then just stale.
        self.last.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What the next snapshot would do, now.
    pub fn baseline(&self) -> Baseline {
        let age = self.lock().as_ref().map(|r| r.at.elapsed());
        judge(age, MINIMUM_CPU_UPDATE_INTERVAL, MAX_BASELINE_AGE)
    }

    /// A snapshot measured from the last reading where it is usable. Blocks
    /// (sysinfo reads /proc; a cold or stale baseline sleeps): call it from
    /// `spawn_blocking`, or use [`WarmCollector::snapshot`].
    pub fn collect(&self) -> Snapshot {
        let mut last = self.lock();
        let age = last.as_ref().map(|r| r.at.elapsed());
        let mut system = match (
            judge(age, MINIMUM_CPU_UPDATE_INTERVAL, MAX_BASELINE_AGE),
            last.take(),
        ) {
            (Baseline::Usable, Some(reading)) => reading.system,
            (Baseline::Wait(d), Some(reading)) => {
                std::thread::sleep(d);
                reading.system
            }
            _ => {
                let mut system = System::new();
                refresh_usage(&mut system);
                std::thread::sleep(MINIMUM_CPU_UPDATE_INTERVAL);
                system
            }
        };
        let raw = probe(&mut system);
        *last = Some(Reading {
            system,
            at: Instant::now(),
        });
        drop(last);
        shape::assemble(raw)
    }

    /// [`WarmCollector::collect`] on the blocking pool.
    pub async fn snapshot(self: &Arc<Self>) -> Result<Snapshot, String> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.collect())
            .await
            .map_err(|e| format!("the diagnostics probe failed: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_millis(200);
    const MAX: Duration = Duration::from_secs(60);

    #[test]
    fn no_reading_yet_means_sampling_from_cold() {
        assert_eq!(judge(None, MIN, MAX), Baseline::Resample);
    }

    #[test]
    fn a_reading_between_the_minimum_and_the_maximum_age_is_used_at_once() {
        assert_eq!(judge(Some(MIN), MIN, MAX), Baseline::Usable);
        assert_eq!(
            judge(Some(Duration::from_secs(5)), MIN, MAX),
            Baseline::Usable
        );
        assert_eq!(judge(Some(MAX), MIN, MAX), Baseline::Usable);
    }

    #[test]
    fn a_too_recent_reading_waits_only_for_the_rest_of_the_minimum() {
        assert_eq!(
            judge(Some(Duration::from_millis(150)), MIN, MAX),
            Baseline::Wait(Duration::from_millis(50))
        );
        assert_eq!(judge(Some(Duration::ZERO), MIN, MAX), Baseline::Wait(MIN));
    }

    #[test]
    fn a_reading_older_than_the_maximum_is_resampled() {
        assert_eq!(
            judge(Some(MAX + Duration::from_millis(1)), MIN, MAX),
            Baseline::Resample
        );
    }

    #[test]
    fn each_snapshot_leaves_a_baseline_for_the_next() {
        let warm = WarmCollector::new();
        assert_eq!(warm.baseline(), Baseline::Resample);
        let first = warm.collect();
        first.validate().expect("a warm snapshot validates");
        // Just taken: the next one would wait out the rest of the minimum, not resample.
        assert!(matches!(
            warm.baseline(),
            Baseline::Wait(_) | Baseline::Usable
        ));
        std::thread::sleep(MINIMUM_CPU_UPDATE_INTERVAL);
        assert_eq!(warm.baseline(), Baseline::Usable);
        let second = warm.collect();
        second.validate().expect("a warm snapshot validates");
        assert!(second.cpu.logical_cores > 0);
        assert!(!second.top_by_memory.is_empty());
        assert!(second.taken_at >= first.taken_at);
    }
}
