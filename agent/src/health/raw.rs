//! The `[health]` table as written, and its checking into a [`HealthConfig`].
//! Each value is checked on its own so that an error names its key.
//! (serde's `flatten` would switch off `deny_unknown_fields`, so every rule
//! table lists the common keys itself.)

use super::config::{
    Common, HealthConfig, LevelRule, Severity, MAX_IGNORE_ENTRIES, MAX_INTERVAL, MAX_RULE_DURATION,
    MIN_INTERVAL,
};
use serde::Deserialize;
use std::time::Duration;
use triage_shared::size::parse_bytes;
use triage_shared::time::parse_duration;

/// A byte count: an integer, or a string like `"5GiB"`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum RawBytes {
    Number(u64),
    Text(String),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHealth {
    enabled: Option<bool>,
    interval: Option<String>,
    update_interval: Option<String>,
    auto_resolve: Option<bool>,
    disk: Option<RawDisk>,
    memory: Option<RawPercent>,
    swap: Option<RawPercent>,
    cpu: Option<RawPercent>,
    load: Option<RawLoad>,
    temperature: Option<RawTemperature>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDisk {
    enabled: Option<bool>,
    severity: Option<String>,
    raise_after: Option<String>,
    clear_after: Option<String>,
    raise_percent: Option<f64>,
    clear_percent: Option<f64>,
    raise_free_bytes: Option<RawBytes>,
    clear_free_bytes: Option<RawBytes>,
    ignore_file_systems: Option<Vec<String>>,
    ignore_mounts: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPercent {
    enabled: Option<bool>,
    severity: Option<String>,
    raise_after: Option<String>,
    clear_after: Option<String>,
    raise_percent: Option<f64>,
    clear_percent: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLoad {
    enabled: Option<bool>,
    severity: Option<String>,
    raise_after: Option<String>,
    clear_after: Option<String>,
    raise_per_core: Option<f64>,
    clear_per_core: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTemperature {
    enabled: Option<bool>,
    severity: Option<String>,
    raise_after: Option<String>,
    clear_after: Option<String>,
    raise_celsius: Option<f64>,
    clear_margin_celsius: Option<f64>,
}

fn duration(
    key: &str,
    text: Option<String>,
    default: Duration,
    min: Duration,
    max: Duration,
) -> Result<Duration, String> {
    let Some(text) = text else { return Ok(default) };
    let d = parse_duration(&text).map_err(|e| format!("key `{key}`: {e}"))?;
    if d < min || d > max {
        return Err(format!(
            "key `{key}`: must be between {}s and {}s",
            min.as_secs(),
            max.as_secs()
        ));
    }
    Ok(d)
}

fn common(
    section: &str,
    enabled: Option<bool>,
    severity: Option<String>,
    raise_after: Option<String>,
    clear_after: Option<String>,
    default: &Common,
) -> Result<Common, String> {
    let key = |k: &str| format!("health.{section}.{k}");
    Ok(Common {
        enabled: enabled.unwrap_or(default.enabled),
        severity: match severity {
            Some(s) => {
                Severity::parse(&s).map_err(|e| format!("key `{}`: {e}", key("severity")))?
            }
            None => default.severity,
        },
        raise_after: duration(
            &key("raise_after"),
            raise_after,
            default.raise_after,
            Duration::ZERO,
            MAX_RULE_DURATION,
        )?,
        clear_after: duration(
            &key("clear_after"),
            clear_after,
            default.clear_after,
            Duration::ZERO,
            MAX_RULE_DURATION,
        )?,
    })
}

/// A finite number within `[lo, hi]`.
fn number(key: &str, value: Option<f64>, default: f64, lo: f64, hi: f64) -> Result<f64, String> {
    let v = value.unwrap_or(default);
    if !v.is_finite() || v < lo || v > hi {
        return Err(format!("key `{key}`: must be a number from {lo} to {hi}"));
    }
    Ok(v)
}

/// `raise` and `clear` with room between them on the right side: above
/// for rules raised by high values, below for those raised by low ones.
fn thresholds(
    section: &str,
    names: (&str, &str),
    raised_high: bool,
    raise: f64,
    clear: f64,
) -> Result<(), String> {
    let ok = if raised_high {
        clear < raise
    } else {
        clear > raise
    };
    if ok {
        return Ok(());
    }
    let side = if raised_high { "below" } else { "above" };
    Err(format!(
        "key `health.{section}.{}`: must be {side} `{}` ({clear} vs {raise}), so that a value hovering at the threshold does not flap",
        names.1, names.0
    ))
}

fn percent_rule(
    section: &str,
    raw: Option<RawPercent>,
    default: &LevelRule,
    raised_high: bool,
) -> Result<LevelRule, String> {
    let raw = raw.unwrap_or_default();
    let key = |k: &str| format!("health.{section}.{k}");
    let rule = LevelRule {
        common: common(
            section,
            raw.enabled,
            raw.severity,
            raw.raise_after,
            raw.clear_after,
            &default.common,
        )?,
        raise: number(
            &key("raise_percent"),
            raw.raise_percent,
            default.raise,
            0.0,
            100.0,
        )?,
        clear: number(
            &key("clear_percent"),
            raw.clear_percent,
            default.clear,
            0.0,
            100.0,
        )?,
    };
    thresholds(
        section,
        ("raise_percent", "clear_percent"),
        raised_high,
        rule.raise,
        rule.clear,
    )?;
    Ok(rule)
}

fn bytes(key: &str, raw: Option<RawBytes>, default: u64) -> Result<u64, String> {
    match raw {
        None => Ok(default),
        Some(RawBytes::Number(n)) => Ok(n),
        Some(RawBytes::Text(t)) => parse_bytes(&t).map_err(|e| format!("key `{key}`: {e}")),
    }
}

fn list(key: &str, raw: Option<Vec<String>>, default: &[String]) -> Result<Vec<String>, String> {
    let items = raw.unwrap_or_else(|| default.to_vec());
    if items.len() > MAX_IGNORE_ENTRIES {
        return Err(format!("key `{key}`: at most {MAX_IGNORE_ENTRIES} entries"));
    }
    Ok(items)
}

pub(crate) fn build(raw: Option<RawHealth>) -> Result<HealthConfig, String> {
    let raw = raw.unwrap_or_default();
    let d = HealthConfig::default();
    let disk = {
        let r = raw.disk.unwrap_or_default();
        let rule = super::config::DiskRule {
            common: common(
                "disk",
                r.enabled,
                r.severity,
                r.raise_after,
                r.clear_after,
                &d.disk.common,
            )?,
            raise_percent: number(
                "health.disk.raise_percent",
                r.raise_percent,
                d.disk.raise_percent,
                0.0,
                100.0,
            )?,
            clear_percent: number(
                "health.disk.clear_percent",
                r.clear_percent,
                d.disk.clear_percent,
                0.0,
                100.0,
            )?,
            raise_free_bytes: bytes(
                "health.disk.raise_free_bytes",
                r.raise_free_bytes,
                d.disk.raise_free_bytes,
            )?,
            clear_free_bytes: bytes(
                "health.disk.clear_free_bytes",
                r.clear_free_bytes,
                d.disk.clear_free_bytes,
            )?,
            ignore_file_systems: list(
                "health.disk.ignore_file_systems",
                r.ignore_file_systems,
                &d.disk.ignore_file_systems,
            )?,
            ignore_mounts: list(
                "health.disk.ignore_mounts",
                r.ignore_mounts,
                &d.disk.ignore_mounts,
            )?,
        };
        thresholds(
            "disk",
            ("raise_percent", "clear_percent"),
            true,
            rule.raise_percent,
            rule.clear_percent,
        )?;
        // Free space is "low" below the threshold, so clearing needs more of it.
        thresholds(
            "disk",
            ("raise_free_bytes", "clear_free_bytes"),
            false,
            rule.raise_free_bytes as f64,
            rule.clear_free_bytes as f64,
        )?;
        rule
    };
    let load = {
        let r = raw.load.unwrap_or_default();
        let rule = LevelRule {
            common: common(
                "load",
                r.enabled,
                r.severity,
                r.raise_after,
                r.clear_after,
                &d.load.common,
            )?,
            raise: number(
                "health.load.raise_per_core",
                r.raise_per_core,
                d.load.raise,
                0.0,
                1000.0,
            )?,
            clear: number(
                "health.load.clear_per_core",
                r.clear_per_core,
                d.load.clear,
                0.0,
                1000.0,
            )?,
        };
        thresholds(
            "load",
            ("raise_per_core", "clear_per_core"),
            true,
            rule.raise,
            rule.clear,
        )?;
        rule
    };
    let temperature = {
        let r = raw.temperature.unwrap_or_default();
        super::config::TemperatureRule {
            common: common(
                "temperature",
                r.enabled,
                r.severity,
                r.raise_after,
                r.clear_after,
                &d.temperature.common,
            )?,
            raise_celsius: match r.raise_celsius {
                Some(c) => Some(number(
                    "health.temperature.raise_celsius",
                    Some(c),
                    c,
                    -50.0,
                    300.0,
                )?),
                None => None,
            },
            clear_margin_celsius: number(
                "health.temperature.clear_margin_celsius",
                r.clear_margin_celsius,
                d.temperature.clear_margin_celsius,
                0.5,
                100.0,
            )?,
        }
    };
    Ok(HealthConfig {
        enabled: raw.enabled.unwrap_or(d.enabled),
        interval: duration(
            "health.interval",
            raw.interval,
            d.interval,
            MIN_INTERVAL,
            MAX_INTERVAL,
        )?,
        update_interval: duration(
            "health.update_interval",
            raw.update_interval,
            d.update_interval,
            MIN_INTERVAL,
            MAX_RULE_DURATION,
        )?,
        auto_resolve: raw.auto_resolve.unwrap_or(d.auto_resolve),
        disk,
        memory: percent_rule("memory", raw.memory, &d.memory, false)?,
        swap: percent_rule("swap", raw.swap, &d.swap, true)?,
        cpu: percent_rule("cpu", raw.cpu, &d.cpu, true)?,
        load,
        temperature,
    })
}
