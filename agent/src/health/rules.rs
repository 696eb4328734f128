//! What each rule makes of one sample: per device, whether the value is past
//! the raise threshold, back past the clear threshold, or in between — and
//! the words to say so. Pure; the state machine in `machine` adds time.

use super::config::{DiskRule, HealthConfig, LevelRule, Severity};
use super::sample::HealthSample;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use triage_shared::size::human_bytes;

/// Devices one rule tracks at most (mounts, sensors); more are ignored.
pub const MAX_DEVICES_PER_RULE: usize = 64;
/// Longest device name kept (mount point, sensor label), in bytes.
pub const MAX_DEVICE_LEN: usize = 96;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleId {
    Disk,
    Memory,
    Swap,
    Cpu,
    Load,
    Temperature,
}

impl RuleId {
    pub const ALL: [RuleId; 6] = [
        RuleId::Disk,
        RuleId::Memory,
        RuleId::Swap,
        RuleId::Cpu,
        RuleId::Load,
        RuleId::Temperature,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RuleId::Disk => "disk",
            RuleId::Memory => "memory",
            RuleId::Swap => "swap",
            RuleId::Cpu => "cpu",
            RuleId::Load => "load",
            RuleId::Temperature => "temperature",
        }
    }
}

/// Where a value stands against a rule's two thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Back on the healthy side of the clear threshold.
    Clear,
    /// Between the thresholds: neither raises nor clears.
    Hold,
    /// Past the raise threshold.
    Raise,
}

/// One rule's view of one device in one sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    pub rule: RuleId,
    pub device: String,
    pub level: Level,
    /// The start of a ticket title, e.g. `Disk /var 96% full`.
    pub headline: String,
    /// The measured values, e.g. `96.0% used, 4.0 GiB free of 100.0 GiB`.
    pub reading: String,
}

/// The rule's settings that matter once an alert exists.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleFacts {
    pub severity: Severity,
    pub thresholds: String,
}

/// A device name safe for a one-line title: control characters become
/// `?`, and it is cut to [`MAX_DEVICE_LEN`] bytes.
pub fn clean_device(raw: &str) -> String {
    let mut out = String::new();
    for c in raw
        .trim()
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
    {
        if out.len() + c.len_utf8() > MAX_DEVICE_LEN {
            break;
        }
        out.push(c);
    }
    if out.is_empty() {
        "unnamed".into()
    } else {
        out
    }
}

fn level_high(value: f64, raise: f64, clear: f64) -> Level {
    if value >= raise {
        Level::Raise
    } else if value <= clear {
        Level::Clear
    } else {
        Level::Hold
    }
}

fn level_low(value: f64, raise: f64, clear: f64) -> Level {
    if value <= raise {
        Level::Raise
    } else if value >= clear {
        Level::Clear
    } else {
        Level::Hold
    }
}

fn percent(part: u64, whole: u64) -> f64 {
    part as f64 * 100.0 / whole as f64
}

fn disk_level(rule: &DiskRule, used_pct: f64, free: u64) -> Level {
    // Full means both: a large share used and little room left.
    let raise = used_pct >= rule.raise_percent && free < rule.raise_free_bytes;
    let clear = used_pct <= rule.clear_percent || free >= rule.clear_free_bytes;
    if raise {
        Level::Raise
    } else if clear {
        Level::Clear
    } else {
        Level::Hold
    }
}

fn disks(rule: &DiskRule, sample: &HealthSample, out: &mut Vec<Observation>) {
    for d in &sample.disks {
        if d.total_bytes == 0
            || rule
                .ignore_file_systems
                .iter()
                .any(|f| f.eq_ignore_ascii_case(&d.file_system))
            || rule.ignore_mounts.contains(&d.mount_point)
        {
            continue;
        }
        let free = d.available_bytes.min(d.total_bytes);
        let used = percent(d.total_bytes - free, d.total_bytes);
        let device = clean_device(&d.mount_point);
        out.push(Observation {
            rule: RuleId::Disk,
            level: disk_level(rule, used, free),
            headline: format!("Disk {device} {used:.0}% full"),
            reading: format!(
                "{used:.1}% used, {} free of {}",
                human_bytes(free),
                human_bytes(d.total_bytes)
            ),
            device,
        });
    }
}

fn single(
    out: &mut Vec<Observation>,
    rule: RuleId,
    level: Level,
    headline: String,
    reading: String,
) {
    out.push(Observation {
        rule,
        device: rule.as_str().into(),
        level,
        headline,
        reading,
    });
}

/// Every enabled rule's observations of `sample`, at most one per (rule,
/// device) — the worst, when a device shows up twice — and at most
/// [`MAX_DEVICES_PER_RULE`] per rule. Non-finite readings are skipped.
pub fn observe(config: &HealthConfig, sample: &HealthSample) -> Vec<Observation> {
    let mut out = Vec::new();
    if config.disk.common.enabled {
        disks(&config.disk, sample, &mut out);
    }
    let s = sample;
    if config.memory.common.enabled && s.memory_total_bytes > 0 {
        let available = s.memory_available_bytes.min(s.memory_total_bytes);
        let pct = percent(available, s.memory_total_bytes);
        let r = &config.memory;
        single(
            &mut out,
            RuleId::Memory,
            level_low(pct, r.raise, r.clear),
            format!("Memory low ({pct:.0}% available)"),
            format!(
                "{pct:.1}% available ({} of {})",
                human_bytes(available),
                human_bytes(s.memory_total_bytes)
            ),
        );
    }
    if config.swap.common.enabled && s.swap_total_bytes > 0 {
        let used = s.swap_used_bytes.min(s.swap_total_bytes);
        let pct = percent(used, s.swap_total_bytes);
        let r = &config.swap;
        single(
            &mut out,
            RuleId::Swap,
            level_high(pct, r.raise, r.clear),
            format!("Swap {pct:.0}% used"),
            format!("{pct:.1}% of {} swap used", human_bytes(s.swap_total_bytes)),
        );
    }
    if config.cpu.common.enabled && s.cpu_percent.is_finite() {
        let r = &config.cpu;
        let pct = s.cpu_percent.clamp(0.0, 100.0);
        single(
            &mut out,
            RuleId::Cpu,
            level_high(pct, r.raise, r.clear),
            format!("CPU {pct:.0}% busy"),
            format!("CPU {pct:.1}% busy"),
        );
    }
    if config.load.common.enabled && s.logical_cores > 0 && s.load_average_5m.is_finite() {
        let per_core = s.load_average_5m / f64::from(s.logical_cores);
        let r = &config.load;
        single(
            &mut out,
            RuleId::Load,
            level_high(per_core, r.raise, r.clear),
            format!("Load {per_core:.1} per core"),
            format!(
                "5-minute load average {:.2} on {} cores ({per_core:.2} per core)",
                s.load_average_5m, s.logical_cores
            ),
        );
    }
    if config.temperature.common.enabled {
        let r = &config.temperature;
        for c in &s.components {
            let (Some(t), Some(limit)) = (c.celsius, r.raise_celsius.or(c.critical_celsius)) else {
                continue;
            };
            if !t.is_finite() || !limit.is_finite() {
                continue;
            }
            let device = clean_device(&c.label);
            let mut reading = format!("{device} at {t:.1}°C");
            let _ = write!(reading, " (raised at {limit:.0}°C)");
            out.push(Observation {
                rule: RuleId::Temperature,
                level: level_high(t, limit, limit - r.clear_margin_celsius),
                headline: format!("{device} at {t:.0}°C"),
                reading,
                device,
            });
        }
    }
    dedup(out)
}

fn dedup(all: Vec<Observation>) -> Vec<Observation> {
    let mut kept: Vec<Observation> = Vec::with_capacity(all.len());
    for o in all {
        match kept
            .iter()
            .position(|k| k.rule == o.rule && k.device == o.device)
        {
            Some(i) if o.level > kept[i].level => kept[i] = o,
            Some(_) => {}
            None if kept.iter().filter(|k| k.rule == o.rule).count() < MAX_DEVICES_PER_RULE => {
                kept.push(o)
            }
            None => {}
        }
    }
    kept
}

fn level_facts(r: &LevelRule, what: &str, unit: &str, raised_high: bool) -> RuleFacts {
    let (at, back) = if raised_high {
        ("at or above", "at or below")
    } else {
        ("at or below", "at or above")
    };
    RuleFacts {
        severity: r.common.severity,
        thresholds: format!(
            "raised {at} {}{unit} {what}; clears {back} {}{unit}",
            r.raise, r.clear
        ),
    }
}

/// The severity and the thresholds, in words, of `rule`.
pub fn facts(config: &HealthConfig, rule: RuleId) -> RuleFacts {
    match rule {
        RuleId::Disk => {
            let r = &config.disk;
            RuleFacts {
                severity: r.common.severity,
                thresholds: format!(
                    "raised at or above {}% used with less than {} free; clears at or below {}% used or with {} free",
                    r.raise_percent, human_bytes(r.raise_free_bytes), r.clear_percent, human_bytes(r.clear_free_bytes)
                ),
            }
        }
        RuleId::Memory => level_facts(&config.memory, "available", "%", false),
        RuleId::Swap => level_facts(&config.swap, "used", "%", true),
        RuleId::Cpu => level_facts(&config.cpu, "busy", "%", true),
        RuleId::Load => level_facts(&config.load, "per core (5-minute load)", "", true),
        RuleId::Temperature => {
            let r = &config.temperature;
            let at = match r.raise_celsius {
                Some(c) => format!("{c}°C"),
                None => "the sensor's critical temperature".into(),
            };
            RuleFacts {
                severity: r.common.severity,
                thresholds: format!(
                    "raised at or above {at}; clears {}°C below it",
                    r.clear_margin_celsius
                ),
            }
        }
    }
}

/// How long `rule` waits before raising and before clearing.
pub fn timing(config: &HealthConfig, rule: RuleId) -> &super::config::Common {
    match rule {
        RuleId::Disk => &config.disk.common,
        RuleId::Memory => &config.memory.common,
        RuleId::Swap => &config.swap.common,
        RuleId::Cpu => &config.cpu.common,
        RuleId::Load => &config.load.common,
        RuleId::Temperature => &config.temperature.common,
    }
}
