//! `triage-agent health [--json]`: the rules in force (from `agent.toml`)
//! and where each stands (from the state the daemon saved). Reads only
//! local files; works without the daemon ("no data yet").

use super::config::Severity;
use super::machine::Phase;
use super::rules::{facts, timing, Level, RuleId};
use super::store;
use crate::config::AgentConfig;
use crate::error::AgentError;
use crate::outbox;
use crate::state::StateDir;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use triage_shared::time::human_duration;
use triage_shared::time::Timestamp;
use triage_shared::TicketId;

/// The stable `--json` shape of `triage-agent health`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthReport {
    pub state_dir: PathBuf,
    pub enabled: bool,
    pub interval_secs: u64,
    pub update_interval_secs: u64,
    pub auto_resolve: bool,
    pub rules: Vec<RuleView>,
    /// When the daemon last evaluated the rules; `None`: no data yet.
    pub evaluated_at: Option<Timestamp>,
    pub readings: Vec<ReadingView>,
    pub alerts: Vec<AlertView>,
    /// Messages waiting in the outbox for the relay.
    pub outbox_pending: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleView {
    pub rule: RuleId,
    pub enabled: bool,
    pub severity: Severity,
    pub thresholds: String,
    pub raise_after_secs: u64,
    pub clear_after_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReadingView {
    pub rule: RuleId,
    pub device: String,
    pub level: Level,
    pub reading: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertView {
    pub rule: RuleId,
    pub device: String,
    /// `pending`, `raised` or `clearing`.
    pub phase: &'static str,
    pub since: Timestamp,
    pub ticket: Option<TicketId>,
    pub reading: String,
}

/// Reads `agent.toml` and the saved monitor state of `state_dir`.
pub fn health_report(state_dir: &Path) -> Result<HealthReport, AgentError> {
    let config = AgentConfig::load(&StateDir::new(state_dir))?.health;
    let saved = store::load(state_dir)?.unwrap_or_default();
    let rules = RuleId::ALL
        .iter()
        .map(|&rule| {
            let common = timing(&config, rule);
            let facts = facts(&config, rule);
            RuleView {
                rule,
                enabled: common.enabled,
                severity: facts.severity,
                thresholds: facts.thresholds,
                raise_after_secs: common.raise_after.as_secs(),
                clear_after_secs: common.clear_after.as_secs(),
            }
        })
        .collect();
    let readings = saved
        .readings
        .iter()
        .map(|o| ReadingView {
            rule: o.rule,
            device: o.device.clone(),
            level: o.level,
            reading: o.reading.clone(),
        })
        .collect();
    let alerts = saved
        .alerts
        .iter()
        .map(|a| {
            let (phase, since, ticket) = match a.phase {
                Phase::Pending { since } => ("pending", since, None),
                Phase::Raised {
                    ticket, raised_at, ..
                } => ("raised", raised_at, Some(ticket)),
                Phase::Clearing { ticket, since, .. } => ("clearing", since, Some(ticket)),
            };
            AlertView {
                rule: a.key.rule,
                device: a.key.device.clone(),
                phase,
                since,
                ticket,
                reading: a.reading.clone(),
            }
        })
        .collect();
    Ok(HealthReport {
        state_dir: state_dir.to_path_buf(),
        enabled: config.enabled,
        interval_secs: config.interval.as_secs(),
        update_interval_secs: config.update_interval.as_secs(),
        auto_resolve: config.auto_resolve,
        rules,
        evaluated_at: saved.evaluated_at,
        readings,
        alerts,
        outbox_pending: outbox::pending_count(state_dir)?,
    })
}

fn on(enabled: bool) -> &'static str {
    if enabled {
        "on"
    } else {
        "off"
    }
}

impl HealthReport {
    pub fn render_text(&self) -> String {
        let secs = |s: u64| human_duration(std::time::Duration::from_secs(s));
        let mut out = String::new();
        let _ = writeln!(
            out,
            "health monitor  {} (every {}; updates at most every {}; auto-resolve {})",
            on(self.enabled),
            secs(self.interval_secs),
            secs(self.update_interval_secs),
            on(self.auto_resolve)
        );
        let _ = writeln!(out, "\nrules");
        for r in &self.rules {
            let _ = writeln!(
                out,
                "  {:<12} {:<4} {:<9} {}; after {}, clears after {}",
                r.rule.as_str(),
                on(r.enabled),
                format!("{:?}", r.severity).to_lowercase(),
                r.thresholds,
                secs(r.raise_after_secs),
                secs(r.clear_after_secs)
            );
        }
        match self.evaluated_at {
            None => {
                let _ = writeln!(
                    out,
                    "\nno data yet: the daemon (`triage-agent run`) has not evaluated the rules here"
                );
            }
            Some(at) => {
                let _ = writeln!(out, "\nlast evaluated  {at}\n\nreadings");
                for r in &self.readings {
                    let level = format!("{:?}", r.level).to_lowercase();
                    let _ = writeln!(
                        out,
                        "  {:<12} {:<24} {:<5}  {}",
                        r.rule.as_str(),
                        r.device,
                        level,
                        r.reading
                    );
                }
                let _ = writeln!(out, "\nalerts");
                if self.alerts.is_empty() {
                    let _ = writeln!(out, "  none");
                }
                for a in &self.alerts {
                    let ticket = a
                        .ticket
                        .map_or_else(String::new, |t| format!("  ticket {t}"));
                    let _ = writeln!(
                        out,
                        "  {:<12} {:<24} {} since {}{ticket}",
                        a.rule.as_str(),
                        a.device,
                        a.phase,
                        a.since
                    );
                }
            }
        }
        let _ = writeln!(
            out,
            "\noutbox  {} message(s) waiting for the relay",
            self.outbox_pending
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::machine::{step, MonitorState};
    use crate::health::sample::HealthSample;

    #[test]
    fn before_the_daemon_ran_there_is_no_data_yet() {
        let tmp = tempfile::tempdir().unwrap();
        let report = health_report(tmp.path()).unwrap();
        assert_eq!(report.evaluated_at, None);
        assert_eq!(report.rules.len(), RuleId::ALL.len());
        assert!(report.rules.iter().all(|r| r.enabled));
        assert_eq!(report.outbox_pending, 0);
        let text = report.render_text();
        assert!(text.contains("no data yet"), "{text}");
        assert!(
            text.contains("disk") && text.contains("temperature"),
            "{text}"
        );
        let json = serde_json::to_value(&report).unwrap();
        assert!(json["evaluated_at"].is_null());
        assert_eq!(json["rules"][0]["rule"], "disk");
        assert_eq!(json["rules"][0]["severity"], "critical");
    }

    #[test]
    fn a_raised_alert_is_shown_with_its_ticket() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(
            tmp.path().join(crate::config::CONFIG_FILE),
            "[health.disk]\nraise_after = \"0s\"\n[health.cpu]\nenabled = false\n",
        )
        .unwrap();
        let config = AgentConfig::load(&StateDir::new(tmp.path()))
            .unwrap()
            .health;
        let full = HealthSample::healthy().with_disk("/var", 10 << 30, 1 << 28);
        let (state, _) = step(&config, MonitorState::default(), &full, Timestamp(1_000));
        store::save(tmp.path(), &state).unwrap();
        let report = health_report(tmp.path()).unwrap();
        assert_eq!(report.evaluated_at, Some(Timestamp(1_000)));
        assert_eq!(report.alerts.len(), 1);
        let alert = &report.alerts[0];
        assert_eq!(
            (alert.rule, alert.device.as_str(), alert.phase),
            (RuleId::Disk, "/var", "raised")
        );
        assert_eq!(alert.ticket, state.ticket_of(RuleId::Disk, "/var"));
        assert!(
            !report
                .rules
                .iter()
                .find(|r| r.rule == RuleId::Cpu)
                .unwrap()
                .enabled
        );
        let text = report.render_text();
        assert!(
            text.contains(&format!("ticket {}", alert.ticket.unwrap())),
            "{text}"
        );
        assert!(text.contains("97.5% used"), "{text}");
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["alerts"][0]["phase"], "raised");
        assert_eq!(json["readings"][0]["level"], "clear");
    }

    #[test]
    fn a_broken_agent_toml_is_reported() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(
            tmp.path().join(crate::config::CONFIG_FILE),
            "[health]\nnope = 1\n",
        )
        .unwrap();
        assert!(matches!(
            health_report(tmp.path()),
            Err(AgentError::Config { .. })
        ));
    }
}
