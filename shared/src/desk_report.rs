//! Help desk metrics (`triage report`): what the relay's store computes
//! over a window of time, as plain data with every collection bounded.
//!
//! Definitions, the same in the README, the store and the CLI:
//! - **volume**: tickets filed in the window;
//! - **first response**: wall-clock time from filing to the first public
//!   technician comment or technician status change (what stops the SLA
//!   first-response clock), over tickets first responded to in the window;
//! - **time to resolve**: wall-clock time from filing to the moment the
//!   resolution clock stopped (resolved or closed, not reopened since),
//!   over tickets whose clock stopped in the window;
//! - **SLA compliance**: of those tickets, the share whose resolution clock
//!   stopped within its target (not breached);
//! - **first-contact resolution**: of tickets first resolved in the window,
//!   the share still at L1, never escalated and never reopened;
//! - **reopen rate**: of tickets first resolved in the window, the share
//!   reopened afterwards;
//! - **backlog**: active tickets (open, in progress, waiting) now, by tier
//!   and age ([`AGE_BUCKETS`]);
//! - **health alerts**: tickets with source `health_alert` filed in the
//!   window, by the rule the agent named in the description and by host;
//! - **satisfaction**: the `Rated` scores (1–5) given in the window;
//! - **deflection rate**: self-service deflections / (deflections +
//!   tickets filed by employees) in the window.

use crate::limits::MAX_NAME_LEN;
use crate::text::InvalidInput;
use crate::ticket::{Source, Tier};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

pub const DAY_MS: u64 = 86_400_000;
/// The shortest window a report covers.
pub const MIN_REPORT_WINDOW_MS: u64 = DAY_MS;
/// The longest window a report covers (two years).
pub const MAX_REPORT_WINDOW_MS: u64 = 730 * DAY_MS;
/// Days in the longest window's series (a window starting mid-day spans
/// one more calendar day).
pub const MAX_REPORT_DAYS: usize = 731;
/// Groups `--by` lists; the rest are counted in `groups_omitted`.
pub const MAX_REPORT_GROUPS: usize = 50;
/// Hosts in "top alerting hosts".
pub const MAX_REPORT_HOSTS: usize = 30;
/// Health rules listed by name.
pub const MAX_REPORT_RULES: usize = 50;
/// A group, host or rule label, in bytes.
pub const MAX_REPORT_LABEL_LEN: usize = MAX_NAME_LEN * 4;

/// Upper bounds (exclusive) of the time-to-resolve histogram's buckets, in
/// milliseconds; a last bucket holds everything longer.
pub const RESOLUTION_BUCKETS_MS: [u64; 6] = [
    3_600_000,     // 1 h
    4 * 3_600_000, // 4 h
    8 * 3_600_000, // 8 h
    DAY_MS,        // 1 d
    3 * DAY_MS,    // 3 d
    7 * DAY_MS,    // 7 d
];
/// Labels of the histogram's buckets, one more than the bounds.
pub const RESOLUTION_BUCKET_LABELS: [&str; 7] =
    ["<1h", "1-4h", "4-8h", "8-24h", "1-3d", "3-7d", ">7d"];

/// Upper bounds (exclusive) of the backlog's age buckets, in milliseconds.
pub const AGE_BUCKETS_MS: [u64; 3] = [DAY_MS, 3 * DAY_MS, 7 * DAY_MS];
/// Labels of the backlog's age buckets.
pub const AGE_BUCKETS: [&str; 4] = ["<1d", "1-3d", "3-7d", ">7d"];

/// What `--by` groups the headline figures by.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::Display,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ReportBy {
    Tier,
    Category,
    Assignee,
    Host,
}
crate::ticket::named_values!(ReportBy, "grouping");

/// Checks a report window from the wire or the command line.
pub fn check_window(window_ms: u64) -> Result<(), InvalidInput> {
    if (MIN_REPORT_WINDOW_MS..=MAX_REPORT_WINDOW_MS).contains(&window_ms) {
        return Ok(());
    }
    Err(InvalidInput::new(
        "since",
        format!(
            "a report window of {} ms is out of range; use from 1d to 730d (e.g. --since 30d)",
            window_ms
        ),
    ))
}

/// Nearest-rank percentiles of a set of durations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Percentiles {
    /// How many durations there were.
    pub count: u64,
    pub p50_ms: Option<u64>,
    pub p90_ms: Option<u64>,
}

/// `part` out of `of`, e.g. tickets that met their SLA out of those whose
/// clock stopped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ratio {
    pub part: u64,
    pub of: u64,
}

impl Ratio {
    /// The share in percent; `None` when there is nothing to divide.
    pub fn percent(self) -> Option<f64> {
        (self.of > 0).then(|| self.part as f64 * 100.0 / self.of as f64)
    }
}

/// The figures `--by` groups.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Headline {
    pub volume: u64,
    pub first_response: Percentiles,
    pub resolution: Percentiles,
    pub sla_compliance: Ratio,
    pub first_contact_resolution: Ratio,
}

/// One group of `--by`: a tier, category, assignee or host (`-` for none).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupFigures {
    pub label: String,
    pub figures: Headline,
}

/// Active tickets of one tier, by age bucket ([`AGE_BUCKETS`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backlog {
    pub tier: Tier,
    pub by_age: [u64; 4],
}

impl Backlog {
    pub fn total(&self) -> u64 {
        self.by_age.iter().sum()
    }
}

/// A label and how many.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelCount {
    pub label: String,
    pub count: u64,
}

/// The `Rated` scores given in the window: `by_score[0]` is how many 1s.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Satisfaction {
    pub by_score: [u64; 5],
}

impl Satisfaction {
    pub fn count(&self) -> u64 {
        self.by_score.iter().sum()
    }

    /// The mean score; `None` without ratings.
    pub fn mean(&self) -> Option<f64> {
        let count = self.count();
        let sum: u64 = self
            .by_score
            .iter()
            .zip(1u64..)
            .map(|(n, score)| n * score)
            .sum();
        (count > 0).then(|| sum as f64 / count as f64)
    }
}

/// Self-service: deflections against tickets employees filed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeflectionRate {
    pub deflections: u64,
    pub employee_tickets: u64,
}

impl DeflectionRate {
    pub fn rate(&self) -> Ratio {
        Ratio {
            part: self.deflections,
            of: self.deflections + self.employee_tickets,
        }
    }
}

/// One UTC day of the window, for the charts; days with nothing are left
/// out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Day {
    /// Midnight UTC.
    pub day: Timestamp,
    /// Tickets filed that day by source: employee, health alert, technician.
    pub filed: [u64; 3],
    /// Tickets whose resolution clock stopped that day, and of them those
    /// within target.
    pub sla: Ratio,
}

impl Day {
    /// The day starting at `day` (midnight UTC), with nothing in it yet.
    pub fn new(day: Timestamp) -> Self {
        Day {
            day,
            filed: [0; 3],
            sla: Ratio::default(),
        }
    }

    pub fn filed_from(&self, source: Source) -> u64 {
        self.filed[source_index(source)]
    }
}

/// Where a source's count is in [`Day::filed`].
pub fn source_index(source: Source) -> usize {
    match source {
        Source::Employee => 0,
        Source::HealthAlert => 1,
        Source::Technician => 2,
    }
}

/// The answer to `Request::DeskReport`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeskReport {
    pub since: Timestamp,
    pub until: Timestamp,
    pub by: Option<ReportBy>,
    pub overall: Headline,
    /// Largest volume first, at most [`MAX_REPORT_GROUPS`].
    pub groups: Vec<GroupFigures>,
    pub groups_omitted: u64,
    pub reopen_rate: Ratio,
    /// One row per tier, L1 first.
    pub backlog: Vec<Backlog>,
    pub health_alerts: u64,
    /// Most alerts first, at most [`MAX_REPORT_RULES`].
    pub alerts_by_rule: Vec<LabelCount>,
    /// Most alerts first, at most [`MAX_REPORT_HOSTS`].
    pub alerts_by_host: Vec<LabelCount>,
    pub satisfaction: Satisfaction,
    pub deflection: DeflectionRate,
    /// Oldest first, at most [`MAX_REPORT_DAYS`].
    pub days: Vec<Day>,
    /// Tickets per [`RESOLUTION_BUCKET_LABELS`] bucket.
    pub resolution_histogram: Vec<u64>,
}

impl DeskReport {
    /// Checks what came off the wire: every list within its bound, every
    /// label short, every ratio's part within its whole.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        let bounded = |field: &'static str, len: usize, max: usize| {
            if len > max {
                Err(InvalidInput::new(
                    field,
                    format!("holds {len} entries, more than the {max} allowed"),
                ))
            } else {
                Ok(())
            }
        };
        bounded("groups", self.groups.len(), MAX_REPORT_GROUPS)?;
        bounded(
            "alerts_by_rule",
            self.alerts_by_rule.len(),
            MAX_REPORT_RULES,
        )?;
        bounded(
            "alerts_by_host",
            self.alerts_by_host.len(),
            MAX_REPORT_HOSTS,
        )?;
        bounded("days", self.days.len(), MAX_REPORT_DAYS)?;
        bounded("backlog", self.backlog.len(), Tier::ALL.len())?;
        if self.resolution_histogram.len() != RESOLUTION_BUCKET_LABELS.len() {
            return Err(InvalidInput::new(
                "resolution_histogram",
                format!(
                    "holds {} buckets, not {}",
                    self.resolution_histogram.len(),
                    RESOLUTION_BUCKET_LABELS.len()
                ),
            ));
        }
        let labels = self
            .groups
            .iter()
            .map(|g| &g.label)
            .chain(self.alerts_by_rule.iter().map(|l| &l.label))
            .chain(self.alerts_by_host.iter().map(|l| &l.label));
        for label in labels {
            crate::text::check_text("label", label, MAX_REPORT_LABEL_LEN, true)?;
        }
        let ratios = std::iter::once(self.reopen_rate)
            .chain(self.days.iter().map(|d| d.sla))
            .chain(
                std::iter::once(&self.overall)
                    .chain(self.groups.iter().map(|g| &g.figures))
                    .flat_map(|h| [h.sla_compliance, h.first_contact_resolution]),
            );
        for r in ratios {
            if r.part > r.of {
                return Err(InvalidInput::new(
                    "ratio",
                    format!("{} out of {} is more than the whole", r.part, r.of),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> DeskReport {
        DeskReport {
            since: Timestamp(0),
            until: Timestamp(DAY_MS as i64),
            by: None,
            overall: Headline::default(),
            groups: Vec::new(),
            groups_omitted: 0,
            reopen_rate: Ratio::default(),
            backlog: Vec::new(),
            health_alerts: 0,
            alerts_by_rule: Vec::new(),
            alerts_by_host: Vec::new(),
            satisfaction: Satisfaction::default(),
            deflection: DeflectionRate::default(),
            days: Vec::new(),
            resolution_histogram: vec![0; RESOLUTION_BUCKET_LABELS.len()],
        }
    }

    #[test]
    fn windows_outside_a_day_to_two_years_are_refused_naming_the_range() {
        assert!(check_window(MIN_REPORT_WINDOW_MS).is_ok());
        assert!(check_window(MAX_REPORT_WINDOW_MS).is_ok());
        let err = check_window(MIN_REPORT_WINDOW_MS - 1)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("86399999 ms") && err.contains("1d to 730d"),
            "{err}"
        );
        assert!(check_window(MAX_REPORT_WINDOW_MS + 1).is_err());
        assert_eq!(
            "hosts".parse::<ReportBy>().unwrap_err(),
            "unknown grouping `hosts`; use one of: tier, category, assignee, host"
        );
    }

    #[test]
    fn reports_past_their_bounds_are_refused() {
        assert!(report().validate().is_ok());
        let mut r = report();
        r.alerts_by_host = (0..=MAX_REPORT_HOSTS)
            .map(|i| LabelCount {
                label: format!("h{i}"),
                count: 1,
            })
            .collect();
        assert!(r
            .validate()
            .unwrap_err()
            .to_string()
            .contains("alerts_by_host"));
        let mut r = report();
        r.days = vec![Day::new(Timestamp(0)); MAX_REPORT_DAYS + 1];
        assert!(r.validate().is_err());
        let mut r = report();
        r.resolution_histogram.pop();
        assert!(r.validate().is_err());
        let mut r = report();
        r.overall.sla_compliance = Ratio { part: 3, of: 2 };
        assert!(r.validate().is_err());
        let mut r = report();
        r.alerts_by_rule = vec![LabelCount {
            label: "x".repeat(MAX_REPORT_LABEL_LEN + 1),
            count: 1,
        }];
        assert!(r.validate().is_err());
    }

    #[test]
    fn means_and_rates_divide_only_what_there_is() {
        let s = Satisfaction {
            by_score: [0, 0, 1, 0, 2],
        };
        assert_eq!(s.count(), 3);
        assert_eq!(s.mean(), Some(13.0 / 3.0));
        assert_eq!(Satisfaction::default().mean(), None);
        let d = DeflectionRate {
            deflections: 1,
            employee_tickets: 3,
        };
        assert_eq!(d.rate().percent(), Some(25.0));
        assert_eq!(Ratio::default().percent(), None);
    }
}
