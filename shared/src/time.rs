//! Wall-clock timestamps as milliseconds since the Unix epoch: portable across
//! SQLite and PostgreSQL and trivially encoded.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn now() -> Self {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Timestamp(ms)
    }

    pub fn millis(self) -> i64 {
        self.0
    }

    pub fn plus(self, d: Duration) -> Self {
        Timestamp(
            self.0
                .saturating_add(d.as_millis().min(i64::MAX as u128) as i64),
        )
    }

    /// Time elapsed from `earlier` to `self`, zero if `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0).max(0) as u64)
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC, computed without a calendar dependency.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.div_euclid(1000);
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            rem / 3600,
            (rem % 3600) / 60,
            rem % 60
        )
    }
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Parses a duration written for people, in humantime's syntax: `90s`,
/// `15m`, `1h`, `7d`, `1h 30m`. Whole seconds only: every duration this is
/// used for (token lifetimes, approval windows, health timings) counts
/// seconds, and a fraction would be dropped without a word.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    use humantime::DurationError;
    let text = text.trim();
    let d = humantime::parse_duration(text).map_err(|e| match e {
        DurationError::UnknownUnit { unit, .. } if unit.is_empty() => {
            format!("duration `{text}` needs a unit: s, m, h or d (e.g. 1h)")
        }
        DurationError::UnknownUnit { unit, .. } => {
            format!("duration `{text}` has unknown unit `{unit}`; use s, m, h or d")
        }
        DurationError::NumberOverflow => format!("duration `{text}` is too long"),
        DurationError::InvalidCharacter(_)
        | DurationError::NumberExpected(_)
        | DurationError::Empty => {
            format!("duration `{text}` must start with a whole number (e.g. 30m)")
        }
    })?;
    if d.subsec_nanos() != 0 {
        return Err(format!(
            "duration `{text}` must be whole seconds (e.g. 90s)"
        ));
    }
    Ok(d)
}

/// A duration for people, to the second, in the syntax [`parse_duration`]
/// reads back: `59s`, `5m`, `1m 30s`, `1day 2h 3m 4s`.
pub fn human_duration(d: Duration) -> String {
    humantime::format_duration(Duration::from_secs(d.as_secs())).to_string()
}

/// The days of the week as people write them, Monday first.
pub const WEEKDAY_NAMES: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// A point in time as a technician writes "since" it, relative to `now`:
/// a duration ago (`2h`, `3 days`), a date (`2026-12-01`, midnight UTC), a
/// date and time (`2026-12-01T09:30:00Z`, `2026-12-01 09:30`), `today`,
/// `yesterday`, or a weekday (`monday`: the most recent one, at midnight
/// UTC, today if it is that day).
pub fn parse_since(text: &str, now: Timestamp) -> Result<Timestamp, String> {
    const DAY_MS: i64 = 86_400_000;
    let text = text.trim();
    let word = text.to_ascii_lowercase();
    let midnight = now.millis().div_euclid(DAY_MS) * DAY_MS;
    if word == "today" {
        return Ok(Timestamp(midnight));
    }
    if word == "yesterday" {
        return Ok(Timestamp(midnight - DAY_MS));
    }
    if let Some(wanted) = WEEKDAY_NAMES
        .iter()
        .position(|d| word.len() >= 3 && d.starts_with(&word))
    {
        // 1970-01-01 was a Thursday (index 3 from Monday).
        let today = (now.millis().div_euclid(DAY_MS) + 3).rem_euclid(7) as usize;
        let back = (today + 7 - wanted) % 7;
        return Ok(Timestamp(midnight - back as i64 * DAY_MS));
    }
    if text.starts_with(|c: char| c.is_ascii_digit()) && text.contains('-') {
        let full = if text.len() == 10 {
            format!("{text}T00:00:00Z")
        } else {
            text.to_string()
        };
        return humantime::parse_rfc3339_weak(&full)
            .map(|t| {
                let ms = t
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as i64);
                Timestamp(ms)
            })
            .map_err(|_| {
                format!("`{text}` is not a date; write it as 2026-12-01 or 2026-12-01T09:30:00Z")
            });
    }
    let ago = parse_duration(text).map_err(|e| {
        format!("{e}; or give a date (2026-12-01), `today`, `yesterday` or a weekday")
    })?;
    let ago_ms = i64::try_from(ago.as_millis()).unwrap_or(i64::MAX);
    Ok(Timestamp(now.millis().saturating_sub(ago_ms)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_epoch_and_a_known_date() {
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00Z");
        // 2024-02-29T12:34:56Z, a leap day.
        assert_eq!(
            Timestamp(1_709_210_096_000).to_string(),
            "2024-02-29T12:34:56Z"
        );
    }

    #[test]
    fn since_reads_durations_dates_and_days() {
        // 2026-12-03T13:45:00Z, a Thursday.
        let now = Timestamp(1_796_305_500_000);
        assert_eq!(now.to_string(), "2026-12-03T13:45:00Z");
        let at = |t: &str| parse_since(t, now).unwrap().to_string();
        assert_eq!(at("2h"), "2026-12-03T11:45:00Z");
        assert_eq!(at("3 days"), "2026-11-30T13:45:00Z");
        assert_eq!(at("today"), "2026-12-03T00:00:00Z");
        assert_eq!(at("Yesterday"), "2026-12-02T00:00:00Z");
        assert_eq!(at("monday"), "2026-11-30T00:00:00Z");
        assert_eq!(at("thu"), "2026-12-03T00:00:00Z");
        assert_eq!(at("friday"), "2026-11-27T00:00:00Z");
        assert_eq!(at("2026-12-01"), "2026-12-01T00:00:00Z");
        assert_eq!(at("2026-12-01T09:30:00Z"), "2026-12-01T09:30:00Z");
        assert_eq!(at("2026-12-01 09:30:00"), "2026-12-01T09:30:00Z");
        let err = parse_since("2026-13-01", now).unwrap_err();
        assert!(err.contains("is not a date"), "{err}");
        let err = parse_since("soon", now).unwrap_err();
        assert!(err.contains("or give a date"), "{err}");
        assert!(parse_since("mo", now).is_err());
    }

    #[test]
    fn parses_durations_and_refuses_bad_ones() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_duration("1d").unwrap(), Duration::from_secs(86_400));
        assert_eq!(
            parse_duration(" 1h 30m ").unwrap(),
            Duration::from_secs(5400)
        );
        assert_eq!(parse_duration("0s").unwrap(), Duration::ZERO);
        assert_eq!(
            parse_duration("10").unwrap_err(),
            "duration `10` needs a unit: s, m, h or d (e.g. 1h)"
        );
        assert_eq!(
            parse_duration("h").unwrap_err(),
            "duration `h` must start with a whole number (e.g. 30m)"
        );
        // humantime knows years, so an unknown unit is now a made-up one.
        assert_eq!(
            parse_duration("5parsecs").unwrap_err(),
            "duration `5parsecs` has unknown unit `parsecs`; use s, m, h or d"
        );
        assert_eq!(
            parse_duration("99999999999999999999d").unwrap_err(),
            "duration `99999999999999999999d` is too long"
        );
        assert!(parse_duration("1500ms")
            .unwrap_err()
            .contains("whole seconds"));
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn durations_print_to_the_second_and_read_back() {
        let cases = [
            (0, "0s"),
            (59, "59s"),
            (90, "1m 30s"),
            (300, "5m"),
            (7200, "2h"),
            (86_400, "1day"),
            (93_784, "1day 2h 3m 4s"),
        ];
        for (secs, text) in cases {
            let d = Duration::from_secs(secs);
            assert_eq!(human_duration(d), text);
            assert_eq!(parse_duration(text).unwrap(), d, "{text}");
        }
        assert_eq!(human_duration(Duration::from_millis(1999)), "1s");
    }
}
