//! The SLA policy as an admin writes it (`sla.toml`), checked into the
//! values the engine uses. Every refusal names the setting and says what
//! is allowed, so a bad file is fixed in one go and the policy in force
//! stays until then.
//!
//! ```toml
//! warning_percent = 80
//!
//! [calendar]            # leave out for 24×7
//! time_zone = "Europe/Berlin"
//! monday = "08:00-12:00, 13:00-17:00"
//! friday = "08:00-15:00"
//! holidays = ["2026-12-25", "2026-12-26"]
//!
//! [targets.urgent]
//! first_response = "30m"
//! resolution = "4h"
//!
//! [category.network.urgent]
//! resolution = "2h"
//!
//! [breach]
//! escalate = true          # one tier up, L1 → L2 → L3
//! return_to_queue = false  # clear the assignee: back to the tier's queue
//! ```

use super::calendar::{BusinessHours, Calendar, OpenSpan};
use crate::ticket::{Category, Priority};
use crate::time::{human_duration, parse_duration, WEEKDAY_NAMES};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Largest policy file read.
pub const MAX_POLICY_LEN: usize = 64 * 1024;
/// Longest target: a year of business time.
pub const MAX_TARGET: Duration = Duration::from_secs(366 * 86_400);
pub const MAX_HOLIDAYS: usize = 1_000;
pub const MAX_SPANS_PER_DAY: usize = 8;
pub const DEFAULT_WARNING_PERCENT: u8 = 80;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("SLA policy: {0}")]
pub struct PolicyError(pub String);

fn refuse<T>(message: impl Into<String>) -> Result<T, PolicyError> {
    Err(PolicyError(message.into()))
}

/// Business time promised for one priority (and category).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Targets {
    pub first_response: Duration,
    pub resolution: Duration,
}

impl Targets {
    pub fn first_response_ms(&self) -> u64 {
        self.first_response.as_millis() as u64
    }
    pub fn resolution_ms(&self) -> u64 {
        self.resolution.as_millis() as u64
    }
}

/// What happens to a ticket when one of its clocks is breached, besides
/// the event and its notifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BreachAction {
    /// Move the ticket one tier up (nothing above L3).
    pub escalate: bool,
    /// Clear the assignee, so the ticket is back in its tier's queue.
    pub return_to_queue: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SlaPolicy {
    pub calendar: Calendar,
    pub warning_percent: u8,
    targets: BTreeMap<Priority, Targets>,
    by_category: BTreeMap<(Category, Priority), Targets>,
    pub breach: BreachAction,
}

/// Today's promises: what `Priority::sla` said for resolution, and a
/// first response within an eighth of it.
pub fn default_targets(priority: Priority) -> Targets {
    let (first_response_min, resolution_h) = match priority {
        Priority::Urgent => (30, 4),
        Priority::High => (60, 8),
        Priority::Normal => (4 * 60, 24),
        Priority::Low => (8 * 60, 72),
    };
    Targets {
        first_response: Duration::from_secs(first_response_min * 60),
        resolution: Duration::from_secs(resolution_h * 3600),
    }
}

impl Default for SlaPolicy {
    fn default() -> Self {
        SlaPolicy {
            calendar: Calendar::AlwaysOpen,
            warning_percent: DEFAULT_WARNING_PERCENT,
            targets: Priority::ALL
                .iter()
                .map(|&p| (p, default_targets(p)))
                .collect(),
            by_category: BTreeMap::new(),
            breach: BreachAction::default(),
        }
    }
}

impl SlaPolicy {
    /// The targets for a ticket of this priority and category.
    pub fn targets(&self, priority: Priority, category: Category) -> Targets {
        self.by_category
            .get(&(category, priority))
            .or_else(|| self.targets.get(&priority))
            .copied()
            .unwrap_or_else(|| default_targets(priority))
    }

    /// Reads and checks a policy file's text.
    pub fn parse(text: &str) -> Result<SlaPolicy, PolicyError> {
        if text.len() > MAX_POLICY_LEN {
            return refuse(format!(
                "the file is {} bytes; at most {MAX_POLICY_LEN} are read",
                text.len()
            ));
        }
        let raw: RawPolicy = toml::from_str(text)
            .map_err(|e| PolicyError(format!("{}{}", e.message(), location(text, e.span()))))?;
        raw.check()
    }

    /// The policy written back as `sla.toml` text, every setting spelled
    /// out, so `triage sla show` output can be edited and set again.
    pub fn to_toml(&self) -> String {
        let mut out = format!("warning_percent = {}\n", self.warning_percent);
        if let Calendar::BusinessHours(h) = &self.calendar {
            out.push_str(&format!("\n[calendar]\ntime_zone = \"{}\"\n", h.zone_name));
            for (day, spans) in WEEKDAY_NAMES.iter().zip(&h.week) {
                if !spans.is_empty() {
                    let text: Vec<String> = spans.iter().map(span_text).collect();
                    out.push_str(&format!("{day} = \"{}\"\n", text.join(", ")));
                }
            }
            let holidays: Vec<String> = h.holidays.iter().map(|d| format!("\"{d}\"")).collect();
            out.push_str(&format!("holidays = [{}]\n", holidays.join(", ")));
        }
        for p in Priority::ALL.iter().rev() {
            let t = self.targets(*p, Category::Other);
            let t = self.targets.get(p).copied().unwrap_or(t);
            out.push_str(&targets_text(&format!("targets.{p}"), &t));
        }
        for ((category, priority), t) in &self.by_category {
            out.push_str(&targets_text(&format!("category.{category}.{priority}"), t));
        }
        out.push_str(&format!(
            "\n[breach]\nescalate = {}\nreturn_to_queue = {}\n",
            self.breach.escalate, self.breach.return_to_queue
        ));
        out
    }
}

fn targets_text(table: &str, t: &Targets) -> String {
    format!(
        "\n[{table}]\nfirst_response = \"{}\"\nresolution = \"{}\"\n",
        human_duration(t.first_response),
        human_duration(t.resolution)
    )
}

fn span_text(s: &OpenSpan) -> String {
    format!(
        "{:02}:{:02}-{:02}:{:02}",
        s.start_min / 60,
        s.start_min % 60,
        s.end_min / 60,
        s.end_min % 60
    )
}

/// " (line N)" for a parse error with a place in the text.
fn location(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    span.map(|s| {
        let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
        format!(" (line {line})")
    })
    .unwrap_or_default()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    warning_percent: Option<i64>,
    calendar: Option<RawCalendar>,
    #[serde(default)]
    targets: BTreeMap<String, RawTargets>,
    #[serde(default)]
    category: BTreeMap<String, BTreeMap<String, RawTargets>>,
    breach: Option<RawBreach>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCalendar {
    time_zone: Option<String>,
    monday: Option<String>,
    tuesday: Option<String>,
    wednesday: Option<String>,
    thursday: Option<String>,
    friday: Option<String>,
    saturday: Option<String>,
    sunday: Option<String>,
    #[serde(default)]
    holidays: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTargets {
    first_response: Option<String>,
    resolution: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBreach {
    #[serde(default)]
    escalate: bool,
    #[serde(default)]
    return_to_queue: bool,
}

fn target(
    setting: &str,
    text: &Option<String>,
    default: Duration,
) -> Result<Duration, PolicyError> {
    let Some(text) = text else { return Ok(default) };
    let d = parse_duration(text).map_err(|e| PolicyError(format!("{setting}: {e}")))?;
    if d < Duration::from_secs(60) || d > MAX_TARGET {
        return refuse(format!(
            "{setting}: `{text}` must be between 1m and {}",
            human_duration(MAX_TARGET)
        ));
    }
    Ok(d)
}

fn raw_targets(table: &str, raw: &RawTargets, base: Targets) -> Result<Targets, PolicyError> {
    Ok(Targets {
        first_response: target(
            &format!("{table}.first_response"),
            &raw.first_response,
            base.first_response,
        )?,
        resolution: target(
            &format!("{table}.resolution"),
            &raw.resolution,
            base.resolution,
        )?,
    })
}

fn named<T: std::str::FromStr<Err = String>>(setting: &str, name: &str) -> Result<T, PolicyError> {
    name.parse()
        .map_err(|e: String| PolicyError(format!("{setting}: {e}")))
}

/// "08:00-12:00, 13:00-17:00" → sorted spans that do not overlap.
fn parse_spans(day: &str, text: &str) -> Result<Vec<OpenSpan>, PolicyError> {
    let text = text.trim();
    if text.is_empty() || text.eq_ignore_ascii_case("closed") {
        return Ok(Vec::new());
    }
    let mut spans = Vec::new();
    for part in text.split(',') {
        let part = part.trim();
        let bad = || {
            PolicyError(format!(
                "calendar.{day}: `{part}` is not a span of hours; write HH:MM-HH:MM, e.g. 08:00-17:00, several separated by commas, or \"closed\""
            ))
        };
        let (from, to) = part.split_once('-').ok_or_else(bad)?;
        let minute = |t: &str| -> Option<u16> {
            let (h, m) = t.trim().split_once(':')?;
            let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
            (m < 60 && (h < 24 || h == 24 && m == 0)).then_some(h * 60 + m)
        };
        let (start_min, end_min) = (minute(from).ok_or_else(bad)?, minute(to).ok_or_else(bad)?);
        if end_min <= start_min {
            return refuse(format!(
                "calendar.{day}: `{part}` ends before it starts; a span cannot pass midnight, split it over two days"
            ));
        }
        spans.push(OpenSpan { start_min, end_min });
    }
    if spans.len() > MAX_SPANS_PER_DAY {
        return refuse(format!(
            "calendar.{day}: at most {MAX_SPANS_PER_DAY} spans a day"
        ));
    }
    spans.sort();
    if spans.windows(2).any(|w| w[1].start_min < w[0].end_min) {
        return refuse(format!("calendar.{day}: spans `{text}` overlap"));
    }
    Ok(spans)
}

impl RawCalendar {
    fn check(&self) -> Result<Calendar, PolicyError> {
        let days = [
            &self.monday,
            &self.tuesday,
            &self.wednesday,
            &self.thursday,
            &self.friday,
            &self.saturday,
            &self.sunday,
        ];
        let zone_name = self.time_zone.clone().ok_or_else(|| {
            PolicyError(
                "calendar.time_zone is missing; name an IANA zone such as \"Europe/Berlin\" or \"UTC\" (leave out [calendar] for 24×7)".into(),
            )
        })?;
        let zone = TimeZone::get(&zone_name).map_err(|_| {
            PolicyError(format!(
                "calendar.time_zone: `{zone_name}` is not a known IANA time zone; use a name such as \"Europe/Berlin\", \"America/New_York\" or \"UTC\""
            ))
        })?;
        let mut week: [Vec<OpenSpan>; 7] = Default::default();
        for ((slot, text), day) in week.iter_mut().zip(days).zip(WEEKDAY_NAMES) {
            if let Some(text) = text {
                *slot = parse_spans(day, text)?;
            }
        }
        if week.iter().all(|d| d.is_empty()) {
            return refuse(
                "calendar: no opening hours on any day; give at least one, e.g. monday = \"09:00-17:00\", or leave out [calendar] for 24×7",
            );
        }
        if self.holidays.len() > MAX_HOLIDAYS {
            return refuse(format!("calendar.holidays: at most {MAX_HOLIDAYS} dates"));
        }
        let mut holidays = BTreeSet::new();
        for text in &self.holidays {
            let date: Date = text.trim().parse().map_err(|_| {
                PolicyError(format!(
                    "calendar.holidays: `{text}` is not a date; write YYYY-MM-DD"
                ))
            })?;
            holidays.insert(date);
        }
        Ok(Calendar::BusinessHours(Box::new(BusinessHours {
            zone_name,
            zone,
            week,
            holidays,
        })))
    }
}

impl RawPolicy {
    fn check(self) -> Result<SlaPolicy, PolicyError> {
        let warning_percent = match self.warning_percent {
            None => DEFAULT_WARNING_PERCENT,
            Some(p @ 1..=99) => p as u8,
            Some(p) => return refuse(format!("warning_percent: {p} must be from 1 to 99")),
        };
        let calendar = match &self.calendar {
            None => Calendar::AlwaysOpen,
            Some(c) => c.check()?,
        };
        let mut targets = BTreeMap::new();
        for (name, raw) in &self.targets {
            let priority: Priority = named(&format!("targets.{name}"), name)?;
            let table = format!("targets.{name}");
            targets.insert(
                priority,
                raw_targets(&table, raw, default_targets(priority))?,
            );
        }
        for p in Priority::ALL {
            targets.entry(*p).or_insert_with(|| default_targets(*p));
        }
        let mut by_category = BTreeMap::new();
        for (cat_name, per_priority) in &self.category {
            let category: Category = named(&format!("category.{cat_name}"), cat_name)?;
            for (name, raw) in per_priority {
                let table = format!("category.{cat_name}.{name}");
                let priority: Priority = named(&table, name)?;
                let t = raw_targets(&table, raw, targets[&priority])?;
                by_category.insert((category, priority), t);
            }
        }
        let breach = self
            .breach
            .map(|b| BreachAction {
                escalate: b.escalate,
                return_to_queue: b.return_to_queue,
            })
            .unwrap_or_default();
        Ok(SlaPolicy {
            calendar,
            warning_percent,
            targets,
            by_category,
            breach,
        })
    }
}
