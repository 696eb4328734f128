//! The time at the start of a log line, where it can be read:
//!
//! - ISO-8601 / RFC 3339: `2024-05-01T12:00:00Z`, `2024-05-01 12:00:00.123+02:00`,
//!   `2024-05-01T12:00:00+0200` (journalctl's short-iso); without an
//!   offset the time is the endpoint's local time;
//! - classic syslog: `May  1 12:00:00` in local time, in the year that
//!   puts it at most a day ahead of now (so December lines read in January
//!   belong to last year).
//!
//! A pure function of the line and a [`Clock`] (now and the time zone), so
//! tests fix both.

use chrono::{
    DateTime, Datelike, FixedOffset, Local, LocalResult, NaiveDate, NaiveDateTime, NaiveTime,
    TimeZone, Utc,
};

/// How far in the future a year-less syslog stamp may be before it is read
/// as last year's.
const SYSLOG_FUTURE_SLACK_SECS: i64 = 24 * 3600;

#[derive(Debug, Clone, Copy)]
pub enum Zone {
    /// The endpoint's own time zone (what the agent uses).
    Local,
    /// A fixed offset (tests pin the zone with it).
    #[cfg_attr(not(test), allow(dead_code))]
    Fixed(FixedOffset),
}

#[derive(Debug, Clone, Copy)]
pub struct Clock {
    pub now: DateTime<Utc>,
    pub zone: Zone,
}

impl Clock {
    pub fn system() -> Clock {
        Clock {
            now: Utc::now(),
            zone: Zone::Local,
        }
    }

    fn local_to_unix(&self, naive: NaiveDateTime) -> Option<i64> {
        let pick = |r: LocalResult<i64>| match r {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t),
            LocalResult::None => None,
        };
        let at = |n: NaiveDateTime| match self.zone {
            Zone::Local => pick(Local.from_local_datetime(&n).map(|t| t.timestamp())),
            Zone::Fixed(z) => pick(z.from_local_datetime(&n).map(|t| t.timestamp())),
        };
        // A time skipped by a daylight-saving change reads as an hour later.
        at(naive).or_else(|| at(naive + chrono::Duration::hours(1)))
    }

    fn local_year(&self) -> i32 {
        match self.zone {
            Zone::Local => self.now.with_timezone(&Local).year(),
            Zone::Fixed(z) => self.now.with_timezone(&z).year(),
        }
    }
}

/// Unix seconds of the timestamp that starts `line`, if there is one.
pub fn leading_time(line: &[u8], clock: &Clock) -> Option<i64> {
    iso(line, clock).or_else(|| syslog(line, clock))
}

fn digits(bytes: &[u8], at: usize, n: usize) -> Option<u32> {
    let part = bytes.get(at..at + n)?;
    let mut v = 0u32;
    for &b in part {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(b - b'0');
    }
    Some(v)
}

fn expect(bytes: &[u8], at: usize, what: u8) -> Option<()> {
    (bytes.get(at) == Some(&what)).then_some(())
}

fn hms(line: &[u8], at: usize) -> Option<NaiveTime> {
    let h = digits(line, at, 2)?;
    expect(line, at + 2, b':')?;
    let m = digits(line, at + 3, 2)?;
    expect(line, at + 5, b':')?;
    let s = digits(line, at + 6, 2)?;
    // A leap second reads as the last ordinary one.
    NaiveTime::from_hms_opt(h, m, s.min(59))
}

fn iso(line: &[u8], clock: &Clock) -> Option<i64> {
    let year = digits(line, 0, 4)?;
    expect(line, 4, b'-')?;
    let month = digits(line, 5, 2)?;
    expect(line, 7, b'-')?;
    let day = digits(line, 8, 2)?;
    if !matches!(line.get(10), Some(b'T' | b't' | b' ')) {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(year as i32, month, day)?;
    let time = hms(line, 11)?;
    let mut at = 19;
    if matches!(line.get(at), Some(b'.' | b',')) {
        at += 1;
        while line.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
    }
    let naive = NaiveDateTime::new(date, time);
    match line.get(at) {
        Some(b'Z' | b'z') => Some(naive.and_utc().timestamp()),
        Some(sign @ (b'+' | b'-')) => {
            let hours = digits(line, at + 1, 2)?;
            let colon = usize::from(line.get(at + 3) == Some(&b':'));
            let minutes = digits(line, at + 3 + colon, 2)?;
            let secs = (hours * 3600 + minutes * 60) as i32;
            let offset = if *sign == b'+' {
                FixedOffset::east_opt(secs)
            } else {
                FixedOffset::west_opt(secs)
            }?;
            offset
                .from_local_datetime(&naive)
                .single()
                .map(|t| t.timestamp())
        }
        _ => clock.local_to_unix(naive),
    }
}

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

fn syslog(line: &[u8], clock: &Clock) -> Option<i64> {
    let name = line.get(0..3)?;
    let month = MONTHS.iter().position(|m| m.as_slice() == name)? as u32 + 1;
    expect(line, 3, b' ')?;
    // The day is space-padded: `May  1` or `May 11`.
    let day = match (line.get(4), line.get(5)) {
        (Some(b' '), Some(d)) if d.is_ascii_digit() => u32::from(d - b'0'),
        _ => digits(line, 4, 2)?,
    };
    expect(line, 6, b' ')?;
    let time = hms(line, 7)?;
    let year = clock.local_year();
    let at = |y: i32| {
        NaiveDate::from_ymd_opt(y, month, day)
            .and_then(|d| clock.local_to_unix(NaiveDateTime::new(d, time)))
    };
    match at(year) {
        Some(t) if t <= clock.now.timestamp() + SYSLOG_FUTURE_SLACK_SECS => Some(t),
        _ => at(year - 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2024-03-10 12:00:00 UTC, read in UTC+01:00.
    fn clock() -> Clock {
        Clock {
            now: Utc.with_ymd_and_hms(2024, 3, 10, 12, 0, 0).unwrap(),
            zone: Zone::Fixed(FixedOffset::east_opt(3600).unwrap()),
        }
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> i64 {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
            .unwrap()
            .timestamp()
    }

    fn read(line: &str) -> Option<i64> {
        leading_time(line.as_bytes(), &clock())
    }

    #[test]
    fn rfc3339_with_an_offset_is_absolute() {
        assert_eq!(
            read("2024-03-10T11:00:00Z app started"),
            Some(utc(2024, 3, 10, 11, 0, 0))
        );
        assert_eq!(
            read("2024-03-10T11:00:00.123456+02:00 x"),
            Some(utc(2024, 3, 10, 9, 0, 0))
        );
        assert_eq!(
            read("2024-03-10T11:00:00-0530 x"),
            Some(utc(2024, 3, 10, 16, 30, 0))
        );
        assert_eq!(
            read("2024-03-10 11:00:00,5Z x"),
            Some(utc(2024, 3, 10, 11, 0, 0))
        );
    }

    #[test]
    fn iso_without_an_offset_is_local_time() {
        assert_eq!(
            read("2024-03-10 11:00:00 kernel: x"),
            Some(utc(2024, 3, 10, 10, 0, 0))
        );
        assert_eq!(
            read("2024-03-10T11:00:00"),
            Some(utc(2024, 3, 10, 10, 0, 0))
        );
    }

    #[test]
    fn classic_syslog_is_local_time_this_year_or_last() {
        assert_eq!(
            read("Mar 10 11:30:00 host sshd[1]: accepted"),
            Some(utc(2024, 3, 10, 10, 30, 0))
        );
        assert_eq!(
            read("Mar  1 00:00:00 host x"),
            Some(utc(2024, 2, 29, 23, 0, 0))
        );
        // December seen in March is last December.
        assert_eq!(
            read("Dec 31 23:00:00 host x"),
            Some(utc(2023, 12, 31, 22, 0, 0))
        );
        // Up to a day ahead (a clock a little off) still counts as this year.
        assert_eq!(
            read("Mar 11 12:00:00 h x"),
            Some(utc(2024, 3, 11, 11, 0, 0))
        );
        assert_eq!(
            read("Mar 12 12:00:00 h x"),
            Some(utc(2023, 3, 12, 11, 0, 0))
        );
    }

    #[test]
    fn lines_without_a_timestamp_have_none() {
        for line in [
            "",
            "   at java.lang.Thread.run",
            "2024-13-01T00:00:00Z bad month",
            "2024-03-10X11:00:00Z",
            "2024-03-10T11:00Z",
            "Foo 10 11:00:00 x",
            "Mar 32 11:00:00 x",
            "Mar 10 25:00:00 x",
            "12345",
        ] {
            assert_eq!(read(line), None, "{line:?}");
        }
    }

    #[test]
    fn the_system_clock_reads_local_times() {
        let now = Utc::now();
        let c = Clock::system();
        let stamp = now
            .with_timezone(&Local)
            .format("%Y-%m-%dT%H:%M:%S")
            .to_string();
        let t = leading_time(stamp.as_bytes(), &c).unwrap();
        assert!((t - now.timestamp()).abs() <= 3600, "{stamp} read as {t}");
    }
}
