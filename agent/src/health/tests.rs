//! The state machine over made-up samples and times: no machine, no clock.

use super::config::HealthConfig;
use super::machine::{step, Alert, AlertKey, HealthEvent, MonitorState, Phase};
use super::messages::{message, title};
use super::rules::{observe, Level, RuleId};
use super::sample::{ComponentSample, HealthSample};
use crate::outbox::Message;
use std::time::Duration;
use triage_shared::agent_update::AgentUpdate;
use triage_shared::ticket::{Priority, Source};
use triage_shared::time::Timestamp;

const GIB: u64 = 1 << 30;
const MIN: i64 = 60_000;

fn at(minutes: i64) -> Timestamp {
    Timestamp(1_700_000_000_000 + minutes * MIN)
}

/// Disk rule: raise after 5 min at ≥ 90% with < 5 GiB free, clear after 5 min at ≤ 85%.
fn config() -> HealthConfig {
    HealthConfig::default()
}

/// `/var` on a 40 GiB disk at `used` percent (at 89% and over, less than
/// 5 GiB is free, so the percentage alone decides).
fn var_at(used: u64) -> HealthSample {
    HealthSample::healthy().with_disk("/var", 40 * GIB, (100 - used) * 40 * GIB / 100)
}

/// Runs `samples` (minute, used %) through the machine from a fresh state.
fn run(config: &HealthConfig, samples: &[(i64, u64)]) -> (MonitorState, Vec<HealthEvent>) {
    let mut state = MonitorState::default();
    let mut all = Vec::new();
    for &(minute, used) in samples {
        let (next, events) = step(config, state, &var_at(used), at(minute));
        state = next;
        all.extend(events);
    }
    (state, all)
}

fn raised(events: &[HealthEvent]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, HealthEvent::Raised { .. }))
        .count()
}

fn cleared(events: &[HealthEvent]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, HealthEvent::Cleared { .. }))
        .count()
}

#[test]
fn a_problem_must_last_raise_after_before_a_ticket_is_filed() {
    let c = config();
    let (_, events) = run(&c, &[(0, 96), (4, 96)]);
    assert_eq!(raised(&events), 0, "4 minutes is not 5");
    let (state, events) = run(&c, &[(0, 96), (4, 96), (5, 96)]);
    assert_eq!(raised(&events), 1);
    match &events[0] {
        HealthEvent::Raised {
            key,
            headline,
            reading,
            ..
        } => {
            assert_eq!(
                key,
                &AlertKey {
                    rule: RuleId::Disk,
                    device: "/var".into()
                }
            );
            assert_eq!(headline, "Disk /var 96% full");
            assert!(
                reading.contains("96.0% used, 1.6 GiB free of 40.0 GiB"),
                "{reading}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(state.ticket_of(RuleId::Disk, "/var").is_some());
}

#[test]
fn a_problem_that_goes_away_before_raise_after_files_nothing() {
    let (state, events) = run(&config(), &[(0, 96), (3, 80), (6, 96), (10, 96)]);
    assert!(events.is_empty(), "{events:?}");
    // The wait started again at minute 6.
    assert!(matches!(state.alerts[0].phase, Phase::Pending { since } if since == at(6)));
}

#[test]
fn a_value_flapping_around_the_raise_threshold_files_one_ticket() {
    // 89% and 91% alternate every minute for an hour: between the thresholds
    // (85 and 90) nothing resets, so the alert is raised once and stays.
    let samples: Vec<(i64, u64)> = (0..60)
        .map(|m| (m, if m % 2 == 0 { 91 } else { 89 }))
        .collect();
    let (state, events) = run(&config(), &samples);
    assert_eq!(raised(&events), 1);
    assert_eq!(cleared(&events), 0);
    assert!(matches!(state.alerts[0].phase, Phase::Raised { .. }));
}

#[test]
fn a_value_flapping_across_both_thresholds_files_one_ticket() {
    // Raised for good first, then swinging between 80% and 95% every minute:
    // never clear for the 5 minutes clearing takes.
    let mut samples: Vec<(i64, u64)> = (0..=5).map(|m| (m, 95)).collect();
    samples.extend((6..120).map(|m| (m, if m % 2 == 0 { 95 } else { 80 })));
    let (_, events) = run(&config(), &samples);
    assert_eq!(raised(&events), 1);
    assert_eq!(cleared(&events), 0);
}

#[test]
fn hysteresis_needs_the_clear_threshold_not_just_below_the_raise_one() {
    let (state, events) = run(&config(), &[(0, 95), (5, 95), (6, 88), (30, 88)]);
    assert_eq!(raised(&events), 1);
    assert_eq!(cleared(&events), 0, "88% is below 90 but above 85");
    assert!(matches!(state.alerts[0].phase, Phase::Raised { .. }));
    let (state, events) = run(&config(), &[(0, 95), (5, 95), (6, 85), (10, 85)]);
    assert_eq!(cleared(&events), 0, "clearing takes 5 minutes");
    assert!(matches!(state.alerts[0].phase, Phase::Clearing { .. }));
    let (state, events) = run(&config(), &[(0, 95), (5, 95), (6, 85), (11, 85)]);
    assert_eq!(cleared(&events), 1);
    assert!(state.alerts.is_empty());
}

#[test]
fn both_disk_thresholds_must_be_crossed() {
    // 96% of a 1 TiB disk still leaves 40 GiB: not full.
    let big = HealthSample::healthy().with_disk("/data", 1024 * GIB, 40 * GIB);
    let c = config();
    let o = observe(&c, &big);
    assert_eq!(
        o.iter().find(|o| o.device == "/data").unwrap().level,
        Level::Clear
    );
    let small = HealthSample::healthy().with_disk("/boot", GIB, GIB / 20);
    let o = observe(&c, &small);
    assert_eq!(
        o.iter().find(|o| o.device == "/boot").unwrap().level,
        Level::Raise
    );
}

#[test]
fn while_raised_updates_come_at_most_every_update_interval() {
    let mut c = config();
    c.update_interval = Duration::from_secs(30 * 60);
    let samples: Vec<(i64, u64)> = (0..=125).map(|m| (m, 97)).collect();
    let (_, events) = run(&c, &samples);
    assert_eq!(raised(&events), 1);
    let updates: Vec<_> = events
        .iter()
        .filter(|e| matches!(e, HealthEvent::StillRaised { .. }))
        .collect();
    // Raised at minute 5; updates at 35, 65, 95, 125.
    assert_eq!(updates.len(), 4, "{updates:?}");
    let ticket = match &events[0] {
        HealthEvent::Raised { ticket, .. } => *ticket,
        other => panic!("{other:?}"),
    };
    assert!(updates
        .iter()
        .all(|e| matches!(e, HealthEvent::StillRaised { ticket: t, .. } if *t == ticket)));
}

#[test]
fn a_cleared_alert_comments_or_resolves_as_configured() {
    let samples = [(0, 95), (5, 95), (6, 50), (11, 50)];
    let (_, events) = run(&config(), &samples);
    let HealthEvent::Cleared {
        auto_resolve,
        ticket,
        ..
    } = events.last().unwrap().clone()
    else {
        panic!("{events:?}")
    };
    assert!(!auto_resolve);
    let m = message(&config(), "pc-7", events.last().unwrap(), None);
    assert!(
        matches!(&m, Message::Update { ticket: t, update: AgentUpdate::Comment(text), .. } if *t == ticket && text.starts_with("Cleared:"))
    );

    let mut c = config();
    c.auto_resolve = true;
    let (_, events) = run(&c, &samples);
    let m = message(&c, "pc-7", events.last().unwrap(), None);
    assert!(
        matches!(&m, Message::Update { update: AgentUpdate::Resolve(text), .. } if text.contains("Resolved automatically"))
    );
}

#[test]
fn each_device_has_its_own_alert_and_duplicates_count_once() {
    let mut sample = var_at(97).with_disk("/home", 100 * GIB, 2 * GIB);
    // The same mount reported twice (a bind mount) is one device.
    sample.disks.push(sample.disks[1].clone());
    let c = config();
    let mut state = MonitorState::default();
    let mut events = Vec::new();
    for minute in [0, 5, 6] {
        let (next, e) = step(&c, state, &sample, at(minute));
        state = next;
        events.extend(e);
    }
    assert_eq!(raised(&events), 2);
    let devices: Vec<_> = state.alerts.iter().map(|a| a.key.device.as_str()).collect();
    assert_eq!(devices, ["/var", "/home"]);
    assert_ne!(
        state.ticket_of(RuleId::Disk, "/var"),
        state.ticket_of(RuleId::Disk, "/home")
    );
}

#[test]
fn a_device_that_disappears_clears_after_clear_after() {
    let (state, _) = run(&config(), &[(0, 97), (5, 97)]);
    let gone = HealthSample::healthy();
    let (state, events) = step(&config(), state, &gone, at(6));
    assert!(events.is_empty());
    let (state, events) = step(&config(), state, &gone, at(11));
    assert_eq!(cleared(&events), 1);
    assert!(state.alerts.is_empty());
}

#[test]
fn a_restart_continues_from_the_saved_state_without_filing_again() {
    let tmp = tempfile::tempdir().unwrap();
    let (state, events) = run(&config(), &[(0, 97), (5, 97)]);
    assert_eq!(raised(&events), 1);
    super::store::save(tmp.path(), &state).unwrap();
    let loaded = super::store::load(tmp.path()).unwrap().unwrap();
    assert_eq!(loaded, state);
    let (_, events) = step(&config(), loaded, &var_at(97), at(6));
    assert!(events.is_empty(), "{events:?}");
}

#[test]
fn a_damaged_state_file_is_set_aside() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join(super::store::HEALTH_STATE_FILE), "{ nope").unwrap();
    assert!(matches!(
        super::store::load(tmp.path()),
        Err(crate::AgentError::HealthState { .. })
    ));
    assert_eq!(
        super::store::load_or_fresh(tmp.path()),
        MonitorState::default()
    );
    assert!(super::store::load(tmp.path()).unwrap().is_none());
}

#[test]
fn zero_durations_raise_and_clear_on_the_first_sample() {
    let mut c = config();
    c.disk.common.raise_after = Duration::ZERO;
    c.disk.common.clear_after = Duration::ZERO;
    let (_, events) = run(&c, &[(0, 97), (1, 10)]);
    assert_eq!(raised(&events), 1);
    assert_eq!(cleared(&events), 1);
}

#[test]
fn the_other_rules_raise_on_their_own_measures() {
    let mut c = config();
    for common in [
        &mut c.memory.common,
        &mut c.swap.common,
        &mut c.cpu.common,
        &mut c.load.common,
        &mut c.temperature.common,
    ] {
        common.raise_after = Duration::ZERO;
    }
    let mut s = HealthSample::healthy();
    s.memory_available_bytes = s.memory_total_bytes / 50; // 2%
    s.swap_total_bytes = 4 * GIB;
    s.swap_used_bytes = 4 * GIB;
    s.cpu_percent = 99.0;
    s.load_average_5m = 12.0; // 3 per core on 4
    s.components = vec![
        ComponentSample {
            label: "Package id 0".into(),
            celsius: Some(101.0),
            critical_celsius: Some(100.0),
        },
        ComponentSample {
            label: "nvme".into(),
            celsius: Some(50.0),
            critical_celsius: Some(80.0),
        },
        ComponentSample {
            label: "no limit".into(),
            celsius: Some(500.0),
            critical_celsius: None,
        },
    ];
    let (state, events) = step(&c, MonitorState::default(), &s, at(0));
    let mut rules: Vec<RuleId> = state.alerts.iter().map(|a| a.key.rule).collect();
    rules.sort();
    assert_eq!(
        rules,
        [
            RuleId::Memory,
            RuleId::Swap,
            RuleId::Cpu,
            RuleId::Load,
            RuleId::Temperature
        ]
    );
    assert_eq!(raised(&events), 5);
    assert_eq!(state.ticket_of(RuleId::Temperature, "nvme"), None);
    // A configured temperature overrides the sensor's own.
    c.temperature.raise_celsius = Some(45.0);
    let (state, _) = step(&c, MonitorState::default(), &s, at(0));
    assert!(state.ticket_of(RuleId::Temperature, "nvme").is_some());
    assert!(state.ticket_of(RuleId::Temperature, "no limit").is_some());
}

#[test]
fn disabled_rules_and_ignored_file_systems_observe_nothing() {
    let mut c = config();
    c.disk.common.enabled = false;
    assert!(observe(&c, &var_at(99))
        .iter()
        .all(|o| o.rule != RuleId::Disk));
    let c = config();
    let mut tmpfs = var_at(99);
    tmpfs.disks[1].file_system = "tmpfs".into();
    assert!(observe(&c, &tmpfs).iter().all(|o| o.device != "/var"));
    let mut nan = HealthSample::healthy();
    nan.cpu_percent = f64::NAN;
    assert!(observe(&c, &nan).iter().all(|o| o.rule != RuleId::Cpu));
}

#[test]
fn devices_per_rule_are_bounded() {
    use super::rules::MAX_DEVICES_PER_RULE;
    let mut s = HealthSample::healthy();
    s.disks.clear();
    for i in 0..MAX_DEVICES_PER_RULE + 5 {
        s = s.with_disk(&format!("/m{i}"), 100 * GIB, GIB);
    }
    let disks = observe(&config(), &s)
        .into_iter()
        .filter(|o| o.rule == RuleId::Disk)
        .count();
    assert_eq!(disks, MAX_DEVICES_PER_RULE);
}

#[test]
fn a_raised_alert_becomes_a_health_ticket_named_after_rule_device_and_host() {
    let c = config();
    let (_, events) = run(&c, &[(0, 96), (5, 96)]);
    let m = message(&c, "host-7", &events[0], None);
    let Message::Ticket { ticket, .. } = m else {
        panic!("{m:?}")
    };
    assert_eq!(ticket.title, "Disk /var 96% full on host-7");
    assert_eq!(ticket.source, Source::HealthAlert);
    assert_eq!(ticket.priority, Priority::High, "disk alerts are critical");
    assert!(
        ticket.description.contains("96.0% used"),
        "{}",
        ticket.description
    );
    assert!(
        ticket.description.contains("at or above 90% used"),
        "{}",
        ticket.description
    );
    ticket.validate().unwrap();
    let long = title(&"x".repeat(300), "h");
    assert_eq!(long.len(), triage_shared::limits::MAX_TITLE_LEN);
}

#[test]
fn device_names_are_made_safe_for_titles() {
    let s = HealthSample::healthy().with_disk("/mnt/evil\n\u{1b}[31m", 100 * GIB, GIB);
    let o = observe(&config(), &s);
    let evil = o
        .iter()
        .find(|o| o.device.starts_with("/mnt/evil"))
        .unwrap();
    assert_eq!(evil.device, "/mnt/evil??[31m");
    let alert = Alert {
        key: AlertKey {
            rule: RuleId::Disk,
            device: evil.device.clone(),
        },
        phase: Phase::Pending { since: at(0) },
        reading: String::new(),
    };
    assert!(!alert.key.device.chars().any(char::is_control));
}
