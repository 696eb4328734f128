//! A request rate per technician: a token bucket for each name, shared by
//! all of that technician's connections, so that one technician (or a
//! stolen key) flooding the relay slows down only themself.
//!
//! Pure: the time is passed in, so the tests need no clock.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Buckets kept before full (idle) ones are forgotten.
pub const MAX_TRACKED_TECHNICIANS: usize = 10_000;

/// `burst` requests at once, refilled at `per_second`.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    per_second: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn full(per_second: u32, burst: u32, now: Instant) -> Self {
        TokenBucket {
            per_second: f64::from(per_second),
            burst: f64::from(burst.max(1)),
            tokens: f64::from(burst.max(1)),
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.burst);
        self.last = self.last.max(now);
    }

    /// Takes one token, or says how long until one is there.
    pub fn take(&mut self, now: Instant) -> Result<(), Duration> {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Ok(());
        }
        if self.per_second <= 0.0 {
            return Err(Duration::MAX);
        }
        let wait = (1.0 - self.tokens) / self.per_second;
        // Round up to whole milliseconds so that "retry in N ms" is enough.
        Err(Duration::from_millis((wait * 1000.0).ceil() as u64))
    }

    fn is_full(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= self.burst
    }
}

/// One bucket per technician name.
#[derive(Debug)]
pub struct RateLimiter {
    per_second: u32,
    burst: u32,
    buckets: Mutex<HashMap<String, TokenBucket>>,
}

impl RateLimiter {
    pub fn new(per_second: u32, burst: u32) -> Self {
        RateLimiter {
            per_second,
            burst,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one request by `who`; `Err(wait)` if over the rate.
    pub fn check(&self, who: &str, now: Instant) -> Result<(), Duration> {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !buckets.contains_key(who) && buckets.len() >= MAX_TRACKED_TECHNICIANS {
            // A full bucket is the same as none: forgetting it changes nothing.
            buckets.retain(|_, b| !b.is_full(now));
        }
        buckets
            .entry(who.to_string())
            .or_insert_with(|| TokenBucket::full(self.per_second, self.burst, now))
            .take(now)
    }

    pub fn rate(&self) -> u32 {
        self.per_second
    }
}

/// What a technician over the rate is told.
pub fn rate_limited(
    who: &str,
    per_second: u32,
    wait: Duration,
) -> triage_shared::protocol::RemoteError {
    let wait_ms = wait.as_millis().max(1);
    triage_shared::protocol::RemoteError::new(
        triage_shared::protocol::ErrorKind::Unavailable,
        format!(
            "rate limited: technician {who} may send {per_second} requests a second; retry in {wait_ms} ms"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_served_then_requests_wait_for_the_refill() {
        let t0 = Instant::now();
        let mut b = TokenBucket::full(10, 3, t0);
        for _ in 0..3 {
            assert_eq!(b.take(t0), Ok(()));
        }
        // The fourth at once waits one tenth of a second.
        assert_eq!(b.take(t0), Err(Duration::from_millis(100)));
        assert_eq!(
            b.take(t0 + Duration::from_millis(60)),
            Err(Duration::from_millis(40))
        );
        assert_eq!(b.take(t0 + Duration::from_millis(100)), Ok(()));
        // A long pause refills to the burst, not beyond.
        let later = t0 + Duration::from_secs(60);
        for _ in 0..3 {
            assert_eq!(b.take(later), Ok(()));
        }
        assert!(b.take(later).is_err());
    }

    #[test]
    fn each_technician_has_their_own_bucket() {
        let t0 = Instant::now();
        let limiter = RateLimiter::new(1, 2);
        assert!(limiter.check("alice", t0).is_ok());
        assert!(limiter.check("alice", t0).is_ok());
        assert!(limiter.check("alice", t0).is_err());
        assert!(limiter.check("bob", t0).is_ok());
        assert!(limiter.check("alice", t0 + Duration::from_secs(1)).is_ok());
    }

    #[test]
    fn a_zero_rate_refuses_once_the_burst_is_spent() {
        let t0 = Instant::now();
        let mut b = TokenBucket::full(0, 1, t0);
        assert!(b.take(t0).is_ok());
        assert_eq!(b.take(t0 + Duration::from_secs(3600)), Err(Duration::MAX));
    }

    #[test]
    fn idle_buckets_are_forgotten_when_the_table_is_full() {
        let t0 = Instant::now();
        let limiter = RateLimiter::new(1, 1);
        for i in 0..MAX_TRACKED_TECHNICIANS {
            assert!(limiter.check(&format!("t{i}"), t0).is_ok());
        }
        let later = t0 + Duration::from_secs(5);
        assert!(limiter.check("newcomer", later).is_ok());
        let buckets = limiter.buckets.lock().unwrap();
        assert_eq!(buckets.len(), 1);
    }

    #[test]
    fn the_refusal_says_when_to_retry() {
        let e = rate_limited("alice", 100, Duration::from_millis(7));
        assert_eq!(e.kind, triage_shared::protocol::ErrorKind::Unavailable);
        assert!(e.message.contains("retry in 7 ms"), "{}", e.message);
        assert!(e.message.starts_with("rate limited"), "{}", e.message);
    }
}
