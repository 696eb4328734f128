//! The `[health]` section of `agent.toml`: which rules run, their
//! thresholds and timing. Every key is optional; the defaults are meant to
//! stay quiet on a healthy machine and to need a problem that lasts.
//!
//! ```toml
//! [health]
//! enabled = true            # the monitor as a whole
//! interval = "30s"          # how often the machine is sampled
//! update_interval = "1h"    # at most one "still raised" comment per alert this often
//! auto_resolve = false      # resolve an alert's ticket when it clears
//!
//! [health.disk]             # per mount; raised when BOTH thresholds are crossed
//! raise_percent = 90        # used space at or above this …
//! clear_percent = 85
//! raise_free_bytes = "5GiB" # … and free space below this
//! clear_free_bytes = "6GiB"
//! ignore_file_systems = ["tmpfs", "devtmpfs", "squashfs", "overlay"]
//! ignore_mounts = []
//!
//! [health.memory]           # available memory, percent of total
//! raise_percent = 5         # at or below
//! clear_percent = 10
//!
//! [health.swap]             # swap used, percent (ignored without swap)
//! [health.cpu]              # overall CPU busy, percent
//! [health.load]             # 5-minute load average per logical core
//! raise_per_core = 2.0
//! clear_per_core = 1.5
//!
//! [health.temperature]      # per sensor
//! # raise_celsius = 85      # default: each sensor's own critical value
//! clear_margin_celsius = 5
//! ```
//!
//! Every rule also takes `enabled`, `severity` (`info`, `warning`,
//! `critical`, `emergency`: the ticket priority low … urgent), `raise_after`
//! (how long the problem must last before a ticket is filed) and
//! `clear_after` (how long it must be gone before the alert clears).

use std::time::Duration;
use triage_shared::ticket::Priority;

/// Bounds on the sampling interval.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);
pub const MAX_INTERVAL: Duration = Duration::from_secs(3600);
/// Longest `raise_after`, `clear_after` or `update_interval`.
pub const MAX_RULE_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);
/// Entries in an ignore list.
pub const MAX_IGNORE_ENTRIES: usize = 64;

/// How bad an alert is; it becomes the ticket's priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Critical,
    Emergency,
}

impl Severity {
    pub fn priority(self) -> Priority {
        match self {
            Severity::Info => Priority::Low,
            Severity::Warning => Priority::Normal,
            Severity::Critical => Priority::High,
            Severity::Emergency => Priority::Urgent,
        }
    }

    pub fn parse(s: &str) -> Result<Severity, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "info" => Ok(Severity::Info),
            "warning" => Ok(Severity::Warning),
            "critical" => Ok(Severity::Critical),
            "emergency" => Ok(Severity::Emergency),
            _ => Err(format!(
                "unknown severity `{s}`; use info, warning, critical or emergency"
            )),
        }
    }
}

/// What every rule has.
#[derive(Debug, Clone, PartialEq)]
pub struct Common {
    pub enabled: bool,
    pub severity: Severity,
    pub raise_after: Duration,
    pub clear_after: Duration,
}

/// A rule with one number and two thresholds.
#[derive(Debug, Clone, PartialEq)]
pub struct LevelRule {
    pub common: Common,
    pub raise: f64,
    pub clear: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DiskRule {
    pub common: Common,
    pub raise_percent: f64,
    pub clear_percent: f64,
    pub raise_free_bytes: u64,
    pub clear_free_bytes: u64,
    pub ignore_file_systems: Vec<String>,
    pub ignore_mounts: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TemperatureRule {
    pub common: Common,
    /// `None`: each sensor's own critical value (sensors without one are skipped).
    pub raise_celsius: Option<f64>,
    pub clear_margin_celsius: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HealthConfig {
    pub enabled: bool,
    pub interval: Duration,
    pub update_interval: Duration,
    pub auto_resolve: bool,
    pub disk: DiskRule,
    /// Available memory, percent: raised at or *below* `raise`.
    pub memory: LevelRule,
    pub swap: LevelRule,
    pub cpu: LevelRule,
    pub load: LevelRule,
    pub temperature: TemperatureRule,
}

const GIB: u64 = 1 << 30;

fn common(severity: Severity, raise_after: u64, clear_after: u64) -> Common {
    Common {
        enabled: true,
        severity,
        raise_after: Duration::from_secs(raise_after),
        clear_after: Duration::from_secs(clear_after),
    }
}

fn level(common: Common, raise: f64, clear: f64) -> LevelRule {
    LevelRule {
        common,
        raise,
        clear,
    }
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            enabled: true,
            interval: Duration::from_secs(30),
            update_interval: Duration::from_secs(3600),
            auto_resolve: false,
            disk: DiskRule {
                common: common(Severity::Critical, 300, 300),
                raise_percent: 90.0,
                clear_percent: 85.0,
                raise_free_bytes: 5 * GIB,
                clear_free_bytes: 6 * GIB,
                ignore_file_systems: ["tmpfs", "devtmpfs", "squashfs", "overlay", "ramfs"]
                    .map(String::from)
                    .to_vec(),
                ignore_mounts: Vec::new(),
            },
            memory: level(common(Severity::Warning, 300, 300), 5.0, 10.0),
            swap: level(common(Severity::Warning, 600, 600), 80.0, 60.0),
            cpu: level(common(Severity::Warning, 900, 300), 95.0, 80.0),
            load: level(common(Severity::Warning, 900, 300), 2.0, 1.5),
            temperature: TemperatureRule {
                common: common(Severity::Critical, 120, 300),
                raise_celsius: None,
                clear_margin_celsius: 5.0,
            },
        }
    }
}
