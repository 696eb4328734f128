//! A bound on audit entries for refusals of peers nobody knows: refused
//! technician logins, and refused enrollments and other requests from
//! unenrolled connections (a bad or expired token, a request only an
//! enrolled agent may send).
//!
//! Anyone who can finish a TLS handshake with some key can be refused, so
//! auditing every refusal would let a stranger grow the audit log without
//! limit. Refusals are recorded individually up to a budget per window; the
//! rest are counted, and the next recorded refusal carries that count, so the
//! log still says how many there were. Successful logins need a registered
//! key and are always recorded.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Refused logins recorded individually per window.
pub const REFUSED_LOGINS_PER_WINDOW: u32 = 60;
/// Refused requests from unenrolled connections recorded individually per window.
pub const REFUSED_ENROLLMENTS_PER_WINDOW: u32 = 60;
/// The window over which each budget applies.
pub const REFUSED_LOGIN_WINDOW: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Record this refusal; `suppressed` earlier ones went unrecorded.
    Record { suppressed: u64 },
    /// Over budget: count it, don't record it.
    Suppress,
}

#[derive(Debug)]
struct Window {
    started: Instant,
    recorded: u32,
    suppressed: u64,
}

/// Fixed-window budget; time comes from the caller so it tests without a clock.
#[derive(Debug)]
pub struct RefusalBudget {
    per_window: u32,
    window: Mutex<Option<Window>>,
}

impl RefusalBudget {
    /// For refused technician logins.
    pub fn logins() -> Self {
        Self::new(REFUSED_LOGINS_PER_WINDOW)
    }

    /// For refused requests from unenrolled connections.
    pub fn enrollments() -> Self {
        Self::new(REFUSED_ENROLLMENTS_PER_WINDOW)
    }

    pub fn new(per_window: u32) -> Self {
        RefusalBudget {
            per_window,
            window: Mutex::new(None),
        }
    }

    pub fn admit(&self, now: Instant) -> Admission {
        let mut guard = self
            .window
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let window = guard.get_or_insert(Window {
            started: now,
            recorded: 0,
            suppressed: 0,
        });
        if now.saturating_duration_since(window.started) >= REFUSED_LOGIN_WINDOW {
            window.started = now;
            window.recorded = 0;
        }
        if window.recorded < self.per_window {
            window.recorded += 1;
            Admission::Record {
                suppressed: std::mem::take(&mut window.suppressed),
            }
        } else {
            window.suppressed += 1;
            Admission::Suppress
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_past_the_budget_are_counted_and_reported_with_the_next_recorded_one() {
        let budget = RefusalBudget::logins();
        let t0 = Instant::now();
        for _ in 0..REFUSED_LOGINS_PER_WINDOW {
            assert_eq!(budget.admit(t0), Admission::Record { suppressed: 0 });
        }
        assert_eq!(budget.admit(t0), Admission::Suppress);
        assert_eq!(
            budget.admit(t0 + Duration::from_secs(59)),
            Admission::Suppress
        );
        // A new window records again and owns up to the two it skipped.
        assert_eq!(
            budget.admit(t0 + REFUSED_LOGIN_WINDOW),
            Admission::Record { suppressed: 2 }
        );
        assert_eq!(
            budget.admit(t0 + REFUSED_LOGIN_WINDOW),
            Admission::Record { suppressed: 0 }
        );
    }

    #[test]
    fn the_enrollment_budget_is_exact_at_its_boundary() {
        let budget = RefusalBudget::enrollments();
        let t0 = Instant::now();
        for _ in 0..REFUSED_ENROLLMENTS_PER_WINDOW - 1 {
            assert!(matches!(budget.admit(t0), Admission::Record { .. }));
        }
        // The last one of the window is still recorded, the next is not.
        assert_eq!(budget.admit(t0), Admission::Record { suppressed: 0 });
        assert_eq!(budget.admit(t0), Admission::Suppress);
        // One moment before the window ends it is still spent.
        let almost = t0 + REFUSED_LOGIN_WINDOW - Duration::from_millis(1);
        assert_eq!(budget.admit(almost), Admission::Suppress);
        assert_eq!(
            budget.admit(t0 + REFUSED_LOGIN_WINDOW),
            Admission::Record { suppressed: 2 }
        );
    }
}
