//! How long to wait before trying the relay again.
//!
//! Exponential backoff with "equal jitter": the ceiling doubles from
//! [`BACKOFF_BASE`] up to [`BACKOFF_CAP`], and the delay is a random point in
//! the upper half of it. The random half spreads a fleet of agents out after
//! a relay restart; the fixed half keeps any one agent from hammering it.

use std::time::Duration;

/// Ceiling of the first retry.
pub const BACKOFF_BASE: Duration = Duration::from_millis(500);
/// No retry waits longer than this.
pub const BACKOFF_CAP: Duration = Duration::from_secs(60);

/// The ceiling for retry number `attempt` (0 for the first retry).
pub fn backoff_ceiling(attempt: u32) -> Duration {
    // 2^7 * 500 ms already exceeds the cap; stop doubling well before overflow.
    let factor = 1u32 << attempt.min(16);
    BACKOFF_BASE.saturating_mul(factor).min(BACKOFF_CAP)
}

/// The delay before retry number `attempt`; `jitter` is a random number in
/// `[0, 1]` (values outside are clamped, NaN counts as 0.5).
pub fn backoff_delay(attempt: u32, jitter: f64) -> Duration {
    let jitter = if jitter.is_nan() {
        0.5
    } else {
        jitter.clamp(0.0, 1.0)
    };
    let ceiling = backoff_ceiling(attempt);
    let half = ceiling / 2;
    half + half.mul_f64(jitter)
}

/// [`backoff_delay`] with a fresh random jitter.
pub fn random_backoff(attempt: u32) -> Duration {
    backoff_delay(attempt, rand::random::<f64>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_starts_at_the_base_and_doubles() {
        assert_eq!(backoff_ceiling(0), BACKOFF_BASE);
        for attempt in 0..6 {
            assert_eq!(
                backoff_ceiling(attempt + 1),
                backoff_ceiling(attempt) * 2,
                "attempt {attempt}"
            );
        }
    }

    #[test]
    fn delay_never_exceeds_the_cap_even_for_huge_attempts() {
        for attempt in [7, 8, 16, 17, 31, 32, 1000, u32::MAX] {
            assert_eq!(backoff_ceiling(attempt), BACKOFF_CAP, "attempt {attempt}");
            assert_eq!(backoff_delay(attempt, 1.0), BACKOFF_CAP);
            assert!(backoff_delay(attempt, 0.0) >= BACKOFF_CAP / 2);
        }
    }

    #[test]
    fn jitter_stays_in_the_upper_half_of_the_ceiling() {
        for attempt in 0..12 {
            let ceiling = backoff_ceiling(attempt);
            assert_eq!(backoff_delay(attempt, 0.0), ceiling / 2);
            assert_eq!(backoff_delay(attempt, 1.0), ceiling);
            for jitter in [0.1, 0.37, 0.5, 0.99] {
                let d = backoff_delay(attempt, jitter);
                assert!(
                    d >= ceiling / 2 && d <= ceiling,
                    "attempt {attempt} jitter {jitter}: {d:?}"
                );
            }
        }
    }

    #[test]
    fn out_of_range_jitter_is_clamped() {
        assert_eq!(backoff_delay(3, -5.0), backoff_delay(3, 0.0));
        assert_eq!(backoff_delay(3, 7.0), backoff_delay(3, 1.0));
        assert_eq!(backoff_delay(3, f64::NAN), backoff_delay(3, 0.5));
        assert_eq!(backoff_delay(3, f64::INFINITY), backoff_delay(3, 1.0));
    }

    #[test]
    fn random_backoff_is_within_bounds() {
        for _ in 0..100 {
            let d = random_backoff(2);
            assert!(d >= backoff_ceiling(2) / 2 && d <= backoff_ceiling(2));
        }
    }
}
