//! A latency histogram that records with two relaxed atomic adds.
//!
//! `prometheus_client::metrics::histogram::Histogram` takes a mutex on
//! every observation; on the request path the relay wants nothing but
//! atomic adds, so it keeps its own: one counter per bucket (not
//! cumulative, so an observation touches one) and the sum in
//! microseconds. The count is the buckets' total, read at scrape time, so
//! it always agrees with `+Inf`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds in seconds: 0.5 ms to 30 s, the range between a cached
/// read and an agent that only answers at its timeout.
pub const BUCKETS: [f64; 15] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// [`BUCKETS`] in microseconds, what [`LatencyHistogram::observe`] compares.
const BOUNDS_MICROS: [u64; 15] = [
    500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
    2_500_000, 5_000_000, 10_000_000, 30_000_000,
];

#[derive(Debug, Default)]
pub struct LatencyHistogram {
    /// Observations per bucket; the last one is past every bound (`+Inf`).
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_micros: AtomicU64,
}

/// What a scrape reads of a histogram.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub sum_secs: f64,
    pub count: u64,
    /// `(upper bound, observations in this bucket alone)`, `+Inf` last.
    pub buckets: Vec<(f64, u64)>,
}

impl LatencyHistogram {
    pub fn observe(&self, took: Duration) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        // The first bound at or above the value (`le` is inclusive).
        let bucket = BOUNDS_MICROS.partition_point(|&bound| bound < micros);
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).sum()
    }

    pub fn snapshot(&self) -> Snapshot {
        let buckets: Vec<(f64, u64)> = BUCKETS
            .iter()
            .copied()
            .chain(std::iter::once(f64::INFINITY))
            .zip(self.buckets.iter().map(|b| b.load(Ordering::Relaxed)))
            .collect();
        Snapshot {
            sum_secs: self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6,
            count: buckets.iter().map(|(_, n)| n).sum(),
            buckets,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_in_micros_are_the_bounds_in_seconds() {
        for (secs, micros) in BUCKETS.iter().zip(BOUNDS_MICROS) {
            assert_eq!((secs * 1e6).round() as u64, micros);
        }
    }

    #[test]
    fn an_observation_lands_in_the_first_bucket_that_holds_it() {
        let h = LatencyHistogram::default();
        h.observe(Duration::from_micros(500)); // le=0.0005, inclusive
        h.observe(Duration::from_micros(501)); // le=0.001
        h.observe(Duration::from_secs(31)); // +Inf
        h.observe(Duration::ZERO); // le=0.0005
        let s = h.snapshot();
        assert_eq!(s.count, 4);
        assert_eq!(h.count(), 4);
        assert_eq!(s.buckets[0], (0.0005, 2));
        assert_eq!(s.buckets[1], (0.001, 1));
        assert_eq!(s.buckets.last(), Some(&(f64::INFINITY, 1)));
        assert!((s.sum_secs - 31.001001).abs() < 1e-9, "{}", s.sum_secs);
    }
}
