//! Business time: when the help desk is open, in its own time zone.
//!
//! Everything here is arithmetic on values: the zone rules come bundled
//! with jiff, so the same calendar gives the same answers on every host.
//! Opening hours are local wall-clock times, turned into instants one day
//! at a time, so a day that gains or loses an hour to daylight saving
//! time is as long as the clocks on the wall say it is.

use crate::time::Timestamp;
use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use std::collections::BTreeSet;

/// How far ahead or back the calendar looks before giving up: a calendar
/// is refused unless it opens at least once a week, so this bounds only
/// holiday lists that close every day for years.
pub const MAX_CALENDAR_DAYS: i32 = 3 * 366;

/// A span of opening hours on one day, in minutes after local midnight;
/// `end` may be 1440 (midnight at the end of the day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct OpenSpan {
    pub start_min: u16,
    pub end_min: u16,
}

/// When the clock runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Calendar {
    /// Around the clock, every day.
    AlwaysOpen,
    BusinessHours(Box<BusinessHours>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct BusinessHours {
    pub zone_name: String,
    pub zone: TimeZone,
    /// Monday first; each day's spans sorted and not overlapping.
    pub week: [Vec<OpenSpan>; 7],
    pub holidays: BTreeSet<Date>,
}

fn weekday_index(day: Weekday) -> usize {
    day.to_monday_zero_offset() as usize
}

fn millis(ts: jiff::Timestamp) -> i64 {
    ts.as_millisecond()
}

fn instant(at: Timestamp) -> jiff::Timestamp {
    jiff::Timestamp::from_millisecond(at.millis()).unwrap_or(if at.millis() < 0 {
        jiff::Timestamp::MIN
    } else {
        jiff::Timestamp::MAX
    })
}

impl BusinessHours {
    fn local_date(&self, at: Timestamp) -> Date {
        instant(at).to_zoned(self.zone.clone()).date()
    }

    /// The instant a local time on `date` falls at. In a gap (the hour
    /// daylight saving time skips) it is the moment after the gap; in a
    /// fold (the hour that repeats) the first time the wall shows it.
    fn at_local(&self, date: Date, minute: u16) -> i64 {
        let (day, minute) = if minute >= 1440 {
            (date.tomorrow().unwrap_or(date), 0)
        } else {
            (date, minute)
        };
        let time = Time::new((minute / 60) as i8, (minute % 60) as i8, 0, 0).unwrap_or(Time::MIN);
        self.zone
            .to_ambiguous_zoned(day.to_datetime(time))
            .compatible()
            .map(|z| millis(z.timestamp()))
            .unwrap_or(i64::MAX)
    }

    /// The day's opening spans as instants, `[start, end)`.
    fn spans_on(&self, date: Date) -> impl Iterator<Item = (i64, i64)> + '_ {
        let spans: &[OpenSpan] = if self.holidays.contains(&date) {
            &[]
        } else {
            &self.week[weekday_index(date.weekday())]
        };
        spans.iter().map(move |s| {
            (
                self.at_local(date, s.start_min),
                self.at_local(date, s.end_min),
            )
        })
    }
}

impl Calendar {
    /// Business milliseconds in `[from, to)`; zero when `to` is not later.
    pub fn open_millis_between(&self, from: Timestamp, to: Timestamp) -> u64 {
        if to.millis() <= from.millis() {
            return 0;
        }
        let hours = match self {
            Calendar::AlwaysOpen => return (to.millis() - from.millis()) as u64,
            Calendar::BusinessHours(h) => h,
        };
        let (from, to) = (from.millis(), to.millis());
        let mut date = hours.local_date(Timestamp(from)).yesterday().ok();
        let mut total: u64 = 0;
        // A span that starts before local midnight (a fold) may belong to
        // the day before `from`'s date, so start one day early.
        for _ in 0..MAX_CALENDAR_DAYS * 2 {
            let Some(day) = date else { break };
            let mut past_end = false;
            for (start, end) in hours.spans_on(day) {
                if start >= to {
                    past_end = true;
                    break;
                }
                let (s, e) = (start.max(from), end.min(to));
                if e > s {
                    total += (e - s) as u64;
                }
            }
            if past_end || hours.at_local(day, 1440) >= to {
                break;
            }
            date = day.tomorrow().ok();
        }
        total
    }

    /// The instant at which `amount` business milliseconds have passed
    /// since `from`. With nothing to add it is the first open moment at or
    /// after `from`. A calendar that stays closed for
    /// [`MAX_CALENDAR_DAYS`] gives the end of that search.
    pub fn add_open_millis(&self, from: Timestamp, amount: u64) -> Timestamp {
        let hours = match self {
            Calendar::AlwaysOpen => {
                return Timestamp(
                    from.millis()
                        .saturating_add(amount.min(i64::MAX as u64) as i64),
                )
            }
            Calendar::BusinessHours(h) => h,
        };
        let from = from.millis();
        let mut left = amount;
        let mut date = hours.local_date(Timestamp(from)).yesterday().ok();
        let mut last = from;
        for _ in 0..MAX_CALENDAR_DAYS {
            let Some(day) = date else { break };
            for (start, end) in hours.spans_on(day) {
                last = last.max(end);
                if end <= from {
                    continue;
                }
                let start = start.max(from);
                let available = (end - start) as u64;
                if available > 0 && left <= available {
                    return Timestamp(start + left as i64);
                }
                left -= available;
            }
            date = day.tomorrow().ok();
        }
        Timestamp(last)
    }
}
