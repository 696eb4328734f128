//! `[health]` and `[outbox]` in `agent.toml`, through the real loader.

use super::config::*;
use crate::config::AgentConfig;
use crate::outbox::{MAX_OUTBOX_MESSAGES, OUTBOX_MESSAGES_CEILING};
use std::path::Path;
use std::time::Duration;

fn parse(text: &str) -> Result<AgentConfig, String> {
    AgentConfig::parse(text, Path::new("/state/agent.toml")).map_err(|e| e.to_string())
}

#[test]
fn no_health_section_means_the_defaults() {
    let config = parse("").unwrap();
    assert_eq!(config.health, HealthConfig::default());
    assert_eq!(config.max_outbox_messages, MAX_OUTBOX_MESSAGES);
    let d = HealthConfig::default();
    assert!(d.enabled && !d.auto_resolve);
    // Every default rule waits at least a minute: a short-lived daemon
    // (or a test) never files a ticket for a passing spike.
    for rule in super::rules::RuleId::ALL {
        assert!(
            super::rules::timing(&d, rule).raise_after >= Duration::from_secs(60),
            "{rule:?}"
        );
    }
}

#[test]
fn health_settings_are_read() {
    let config = parse(
        r#"
[health]
interval = "5s"
update_interval = "10m"
auto_resolve = true

[health.disk]
raise_percent = 80
clear_percent = 70.5
raise_free_bytes = "1GiB"
clear_free_bytes = 2147483648
raise_after = "0s"
severity = "emergency"
ignore_mounts = ["/boot"]

[health.cpu]
enabled = false

[health.load]
raise_per_core = 4
clear_per_core = 3

[health.temperature]
raise_celsius = 70

[outbox]
max_messages = 50
"#,
    )
    .unwrap();
    let h = &config.health;
    assert_eq!(h.interval, Duration::from_secs(5));
    assert_eq!(h.update_interval, Duration::from_secs(600));
    assert!(h.auto_resolve);
    assert_eq!(h.disk.raise_percent, 80.0);
    assert_eq!(h.disk.clear_percent, 70.5);
    assert_eq!(h.disk.raise_free_bytes, 1 << 30);
    assert_eq!(h.disk.clear_free_bytes, 2 << 30);
    assert_eq!(h.disk.common.raise_after, Duration::ZERO);
    assert_eq!(
        h.disk.common.severity.priority(),
        triage_shared::ticket::Priority::Urgent
    );
    assert_eq!(h.disk.ignore_mounts, ["/boot"]);
    assert!(!h.cpu.common.enabled);
    assert_eq!((h.load.raise, h.load.clear), (4.0, 3.0));
    assert_eq!(h.temperature.raise_celsius, Some(70.0));
    assert_eq!(config.max_outbox_messages, 50);
}

#[test]
fn unknown_health_keys_are_named() {
    let err = parse("[health.disk]\nraise_precent = 90\n").unwrap_err();
    assert!(
        err.contains("/state/agent.toml") && err.contains("`raise_precent`"),
        "{err}"
    );
    let err = parse("[health]\nintervall = \"5s\"\n").unwrap_err();
    assert!(err.contains("`intervall`"), "{err}");
    let err = parse("[health.gpu]\nenabled = true\n").unwrap_err();
    assert!(err.contains("`gpu`"), "{err}");
    let err = parse("[outbox]\nmax = 3\n").unwrap_err();
    assert!(err.contains("`max`"), "{err}");
}

#[test]
fn thresholds_must_leave_room_for_hysteresis() {
    let err = parse("[health.disk]\nraise_percent = 80\nclear_percent = 80\n").unwrap_err();
    assert!(
        err.contains("health.disk.clear_percent") && err.contains("flap"),
        "{err}"
    );
    let err = parse("[health.memory]\nraise_percent = 10\nclear_percent = 5\n").unwrap_err();
    assert!(
        err.contains("health.memory.clear_percent") && err.contains("above"),
        "{err}"
    );
    let err = parse("[health.disk]\nraise_free_bytes = \"6GiB\"\nclear_free_bytes = \"5GiB\"\n")
        .unwrap_err();
    assert!(err.contains("health.disk.clear_free_bytes"), "{err}");
    let err = parse("[health.cpu]\nraise_percent = 101\n").unwrap_err();
    assert!(err.contains("health.cpu.raise_percent"), "{err}");
}

#[test]
fn bad_values_name_their_key() {
    let err = parse("[health.swap]\nseverity = \"meh\"\n").unwrap_err();
    assert!(
        err.contains("health.swap.severity") && err.contains("emergency"),
        "{err}"
    );
    let err = parse("[health.disk]\nraise_after = \"soon\"\n").unwrap_err();
    assert!(err.contains("health.disk.raise_after"), "{err}");
    let err = parse("[health.disk]\nraise_free_bytes = \"lots\"\n").unwrap_err();
    assert!(err.contains("health.disk.raise_free_bytes"), "{err}");
}

#[test]
fn intervals_are_bounded_at_both_ends() {
    assert_eq!(
        parse("[health]\ninterval = \"1s\"\n")
            .unwrap()
            .health
            .interval,
        MIN_INTERVAL
    );
    assert_eq!(
        parse("[health]\ninterval = \"1h\"\n")
            .unwrap()
            .health
            .interval,
        MAX_INTERVAL
    );
    assert!(parse("[health]\ninterval = \"0s\"\n")
        .unwrap_err()
        .contains("health.interval"));
    assert!(parse("[health]\ninterval = \"3601s\"\n").is_err());
    assert!(parse("[health]\nupdate_interval = \"7d\"\n").is_ok());
    assert!(parse("[health]\nupdate_interval = \"8d\"\n")
        .unwrap_err()
        .contains("health.update_interval"));
    let list = |n: usize| {
        let items = vec!["\"x\""; n].join(", ");
        format!("[health.disk]\nignore_mounts = [{items}]\n")
    };
    assert!(parse(&list(MAX_IGNORE_ENTRIES)).is_ok());
    assert!(parse(&list(MAX_IGNORE_ENTRIES + 1))
        .unwrap_err()
        .contains("ignore_mounts"));
}

#[test]
fn the_outbox_bound_is_checked() {
    assert_eq!(
        parse("[outbox]\nmax_messages = 1\n")
            .unwrap()
            .max_outbox_messages,
        1
    );
    let top = format!("[outbox]\nmax_messages = {OUTBOX_MESSAGES_CEILING}\n");
    assert_eq!(
        parse(&top).unwrap().max_outbox_messages,
        OUTBOX_MESSAGES_CEILING
    );
    let over = format!("[outbox]\nmax_messages = {}\n", OUTBOX_MESSAGES_CEILING + 1);
    assert!(parse(&over).unwrap_err().contains("outbox.max_messages"));
    assert!(parse("[outbox]\nmax_messages = 0\n").is_err());
}

#[test]
fn sizes_parse_in_both_unit_families() {
    let disk = |raise: &str| {
        parse(&format!("[health.disk]\nraise_free_bytes = \"{raise}\"\n"))
            .map(|c| c.health.disk.raise_free_bytes)
    };
    assert_eq!(disk("5GiB").unwrap(), 5 << 30);
    assert_eq!(disk("500 MB").unwrap(), 500_000_000);
    assert_eq!(disk("1.5KiB").unwrap(), 1536);
    assert_eq!(disk("42").unwrap(), 42);
    let err = disk("5 parsecs").unwrap_err();
    assert!(
        err.contains("health.disk.raise_free_bytes") && err.contains("unknown unit"),
        "{err}"
    );
    assert!(disk("GiB").is_err());
    assert!(disk("99999999999TiB").unwrap_err().contains("too large"));
}
