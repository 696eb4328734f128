use super::*;
use crate::ticket::Status::*;

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;

/// An instant written as local time in `zone`.
fn local(zone: &str, text: &str) -> Timestamp {
    let dt: jiff::civil::DateTime = text.parse().unwrap();
    let z = dt.in_tz(zone).unwrap();
    Timestamp(z.timestamp().as_millisecond())
}

fn utc(text: &str) -> Timestamp {
    local("UTC", text)
}

fn policy(toml: &str) -> SlaPolicy {
    SlaPolicy::parse(toml).unwrap()
}

const OFFICE: &str = r#"
[calendar]
time_zone = "Europe/Berlin"
monday = "09:00-17:00"
tuesday = "09:00-17:00"
wednesday = "09:00-17:00"
thursday = "09:00-17:00"
friday = "09:00-17:00"
holidays = ["2026-12-25"]

[targets.high]
first_response = "1h"
resolution = "8h"
"#;

fn berlin(text: &str) -> Timestamp {
    local("Europe/Berlin", text)
}

fn created(at: Timestamp, priority: Priority) -> SlaFact {
    SlaFact::Created {
        at,
        priority,
        category: Category::Software,
    }
}

fn status(at: Timestamp, to: Status) -> SlaFact {
    SlaFact::StatusChanged {
        at,
        to,
        by_technician: true,
    }
}

#[test]
fn business_hours_skip_nights_weekends_and_holidays() {
    let p = policy(OFFICE);
    let cal = &p.calendar;
    // (from, business time to add, expected due), all Berlin local time.
    let cases = [
        // Inside the day.
        ("2026-12-01T10:00", 2 * HOUR, "2026-12-01T12:00"),
        // Runs past closing: the rest the next morning.
        ("2026-12-01T16:00", 2 * HOUR, "2026-12-02T10:00"),
        // Filed at night: starts at opening.
        ("2026-12-01T22:00", HOUR, "2026-12-02T10:00"),
        // Friday afternoon → Monday.
        ("2026-12-04T16:30", HOUR, "2026-12-07T09:30"),
        // Saturday: nothing counts until Monday.
        ("2026-12-05T11:00", 30 * MIN, "2026-12-07T09:30"),
        // Thursday 24 Dec, then Christmas (a holiday, Friday), the weekend.
        ("2026-12-24T16:00", 2 * HOUR, "2026-12-28T10:00"),
        // Exactly a day's hours ends at closing, not the next opening.
        ("2026-12-01T09:00", 8 * HOUR, "2026-12-01T17:00"),
        // Nothing to add outside hours: the next opening.
        ("2026-12-05T11:00", 0, "2026-12-07T09:00"),
    ];
    for (from, add, due) in cases {
        let got = cal.add_open_millis(berlin(from), add as u64);
        assert_eq!(got, berlin(due), "{from} + {}m", add / MIN);
        assert_eq!(
            cal.open_millis_between(berlin(from), got),
            add as u64,
            "{from} → {due} counts back"
        );
    }
}

#[test]
fn daylight_saving_changes_follow_the_wall_clock() {
    let p = policy(
        r#"
[calendar]
time_zone = "Europe/Berlin"
saturday = "00:00-24:00"
sunday = "00:00-24:00"
"#,
    );
    let cal = &p.calendar;
    // 29 March 2026: clocks jump 02:00 → 03:00, the Sunday has 23 hours.
    let spring = cal.open_millis_between(berlin("2026-03-29T00:00"), berlin("2026-03-30T00:00"));
    assert_eq!(spring, 23 * HOUR as u64);
    // 25 October 2026: 03:00 → 02:00, the Sunday has 25 hours.
    let autumn = cal.open_millis_between(berlin("2026-10-25T00:00"), berlin("2026-10-26T00:00"));
    assert_eq!(autumn, 25 * HOUR as u64);
    // Office hours straddling the change are still 09:00-17:00 local.
    let p = policy(OFFICE);
    let due = p
        .calendar
        .add_open_millis(berlin("2026-10-23T16:00"), 2 * HOUR as u64);
    assert_eq!(due, berlin("2026-10-26T10:00"));
    assert_eq!(
        due.millis() - utc("2026-10-26T09:00").millis(),
        0,
        "Berlin is UTC+1 again after the change"
    );
}

#[test]
fn around_the_clock_counts_every_millisecond() {
    let cal = Calendar::AlwaysOpen;
    assert_eq!(cal.add_open_millis(Timestamp(5), 10), Timestamp(15));
    assert_eq!(cal.open_millis_between(Timestamp(5), Timestamp(15)), 10);
    assert_eq!(cal.open_millis_between(Timestamp(15), Timestamp(5)), 0);
}

/// One row: history, "now", and what each clock should say.
struct Case {
    name: &'static str,
    facts: Vec<SlaFact>,
    now: Timestamp,
    first: (ClockState, Option<&'static str>, bool),
    resolution: (ClockState, Option<&'static str>, bool),
}

#[test]
fn clocks_follow_the_history() {
    let p = policy(OFFICE);
    let b = berlin;
    let cases = vec![
        Case {
            name: "new ticket: both clocks run from filing",
            facts: vec![created(b("2026-12-01T10:00"), Priority::High)],
            now: b("2026-12-01T10:30"),
            first: (ClockState::Running, Some("2026-12-01T11:00"), false),
            resolution: (ClockState::Running, Some("2026-12-02T10:00"), false),
        },
        Case {
            name: "a technician's status change is the first response",
            facts: vec![
                created(b("2026-12-01T10:00"), Priority::High),
                status(b("2026-12-01T10:20"), InProgress),
            ],
            now: b("2026-12-01T15:00"),
            first: (ClockState::Stopped, None, false),
            resolution: (ClockState::Running, Some("2026-12-02T10:00"), false),
        },
        Case {
            name: "an agent's status change is no response",
            facts: vec![
                created(b("2026-12-01T10:00"), Priority::High),
                SlaFact::StatusChanged {
                    at: b("2026-12-01T10:20"),
                    to: Waiting,
                    by_technician: false,
                },
                SlaFact::StatusChanged {
                    at: b("2026-12-01T10:50"),
                    to: Open,
                    by_technician: false,
                },
            ],
            now: b("2026-12-01T11:00"),
            first: (ClockState::Running, Some("2026-12-01T11:30"), false),
            resolution: (ClockState::Running, Some("2026-12-02T10:30"), false),
        },
        Case {
            name: "late first response stays breached",
            facts: vec![
                created(b("2026-12-01T10:00"), Priority::High),
                SlaFact::TechnicianReplied {
                    at: b("2026-12-01T12:00"),
                },
            ],
            now: b("2026-12-01T13:00"),
            first: (ClockState::Stopped, None, true),
            resolution: (ClockState::Running, Some("2026-12-02T10:00"), false),
        },
        Case {
            name: "waiting pauses both clocks; working again resumes them",
            facts: vec![
                created(b("2026-12-01T10:00"), Priority::High),
                status(b("2026-12-01T10:10"), Waiting),
                status(b("2026-12-01T14:10"), InProgress),
            ],
            now: b("2026-12-01T15:00"),
            first: (ClockState::Stopped, None, false),
            // 10 min used, then 4 h paused: due 4 h later than without.
            resolution: (ClockState::Running, Some("2026-12-02T14:00"), false),
        },
        Case {
            name: "paused: no due time, business time left kept",
            facts: vec![
                created(b("2026-12-01T10:00"), Priority::High),
                SlaFact::StatusChanged {
                    at: b("2026-12-01T11:00"),
                    to: Waiting,
                    by_technician: false,
                },
            ],
            now: b("2026-12-09T10:00"),
            first: (ClockState::Paused, None, true),
            resolution: (ClockState::Paused, None, false),
        },
        Case {
            name: "resolved stops the clock; reopen goes on from there",
            facts: vec![
                created(b("2026-12-01T10:00"), Priority::High),
                status(b("2026-12-01T12:00"), Resolved),
                status(b("2026-12-03T09:00"), Open),
            ],
            now: b("2026-12-03T09:30"),
            // Resolving is a response, two hours in: late.
            first: (ClockState::Stopped, None, true),
            // 2 h used before resolving; 6 h left from the reopen.
            resolution: (ClockState::Running, Some("2026-12-03T15:00"), false),
        },
        Case {
            name: "priority raised mid-flight: time used meets the new target",
            facts: vec![
                created(b("2026-12-01T10:00"), Priority::High),
                status(b("2026-12-01T10:05"), InProgress),
                SlaFact::PriorityChanged {
                    at: b("2026-12-01T12:00"),
                    to: Priority::Urgent,
                },
            ],
            now: b("2026-12-01T13:00"),
            first: (ClockState::Stopped, None, false),
            // Urgent: 4 h resolution, 2 h used at the change.
            resolution: (ClockState::Running, Some("2026-12-01T14:00"), false),
        },
        Case {
            name: "priority raised past the time used: breached at the change",
            facts: vec![
                created(b("2026-12-01T09:00"), Priority::Low),
                status(b("2026-12-01T09:05"), InProgress),
                SlaFact::PriorityChanged {
                    at: b("2026-12-01T14:00"),
                    to: Priority::Urgent,
                },
            ],
            now: b("2026-12-01T14:30"),
            first: (ClockState::Stopped, None, false),
            resolution: (ClockState::Running, Some("2026-12-01T14:00"), true),
        },
        Case {
            name: "filed on a holiday: the clock waits for the next business day",
            facts: vec![created(b("2026-12-25T10:00"), Priority::High)],
            now: b("2026-12-25T18:00"),
            first: (ClockState::Running, Some("2026-12-28T10:00"), false),
            resolution: (ClockState::Running, Some("2026-12-28T17:00"), false),
        },
    ];
    for case in cases {
        let eval = evaluate(&case.facts, &p, case.now);
        for ((state, due, breached), clock, which) in [
            (case.first, &eval.sla.first_response, "first response"),
            (case.resolution, &eval.sla.resolution, "resolution"),
        ] {
            assert_eq!(clock.state, state, "{}: {which} state", case.name);
            assert_eq!(clock.due_at, due.map(b), "{}: {which} due", case.name);
            assert_eq!(
                clock.breached(case.now),
                breached,
                "{}: {which} breached",
                case.name
            );
        }
    }
}

#[test]
fn crossings_are_due_once_until_recorded() {
    let p = policy(OFFICE);
    let at = berlin("2026-12-01T10:00");
    let mut facts = vec![created(at, Priority::High)];
    // High: first response in 1 h, warning at 80 %: 10:48.
    let before = evaluate(&facts, &p, berlin("2026-12-01T10:40"));
    assert!(before.due_events.is_empty());
    assert_eq!(before.next_event_at, Some(berlin("2026-12-01T10:48")));
    assert!(!before.sla.needs_attention(berlin("2026-12-01T10:40")));

    let warned = evaluate(&facts, &p, berlin("2026-12-01T10:50"));
    assert_eq!(
        warned.due_events,
        vec![DueEvent {
            clock: SlaClock::FirstResponse,
            crossing: Crossing::Warning,
            due_at: berlin("2026-12-01T11:00"),
        }]
    );
    assert!(warned.sla.needs_attention(berlin("2026-12-01T10:50")));
    facts.push(SlaFact::Recorded {
        at: berlin("2026-12-01T10:50"),
        clock: SlaClock::FirstResponse,
        crossing: Crossing::Warning,
    });
    let after = evaluate(&facts, &p, berlin("2026-12-01T10:55"));
    assert!(after.due_events.is_empty(), "{:?}", after.due_events);
    assert_eq!(after.next_event_at, Some(berlin("2026-12-01T11:00")));

    // The relay was down for both: warning first, then breach.
    let late = evaluate(&facts[..1], &p, berlin("2026-12-01T12:00"));
    let kinds: Vec<_> = late
        .due_events
        .iter()
        .map(|e| (e.clock, e.crossing))
        .collect();
    assert_eq!(
        kinds,
        [
            (SlaClock::FirstResponse, Crossing::Warning),
            (SlaClock::FirstResponse, Crossing::Breach)
        ]
    );
    facts.push(SlaFact::Recorded {
        at: berlin("2026-12-01T12:00"),
        clock: SlaClock::FirstResponse,
        crossing: Crossing::Breach,
    });
    let done = evaluate(&facts, &p, berlin("2026-12-01T12:01"));
    assert!(done.due_events.is_empty());
    // The resolution clock is the next one heading for a crossing.
    assert_eq!(done.next_event_at, Some(berlin("2026-12-01T16:24")));

    // A resolved ticket owes no events, even unrecorded ones.
    facts.push(status(berlin("2026-12-01T12:02"), Resolved));
    let resolved = evaluate(&facts, &p, berlin("2026-12-09T12:00"));
    assert!(resolved.due_events.is_empty());
    assert_eq!(resolved.next_event_at, None);
    assert_eq!(resolved.sla.attention_at(), None);
}

#[test]
fn a_new_target_gets_its_own_warning() {
    let p = SlaPolicy::default();
    let t0 = utc("2026-12-01T10:00");
    let facts = vec![
        created(t0, Priority::Low),
        SlaFact::Recorded {
            at: Timestamp(t0.millis() + 7 * HOUR),
            clock: SlaClock::FirstResponse,
            crossing: Crossing::Warning,
        },
        SlaFact::PriorityChanged {
            at: Timestamp(t0.millis() + 7 * HOUR),
            to: Priority::High,
        },
    ];
    let eval = evaluate(&facts, &p, Timestamp(t0.millis() + 7 * HOUR + 1));
    // Past High's 1 h first response: its warning is due again, and its
    // breach; 7 h of High's 8 h resolution is past that clock's warning.
    let kinds: Vec<_> = eval
        .due_events
        .iter()
        .map(|e| (e.clock, e.crossing))
        .collect();
    assert_eq!(
        kinds,
        [
            (SlaClock::FirstResponse, Crossing::Warning),
            (SlaClock::Resolution, Crossing::Warning),
            (SlaClock::FirstResponse, Crossing::Breach),
        ]
    );
}

#[test]
fn defaults_match_the_old_resolution_times() {
    let p = SlaPolicy::default();
    for &priority in Priority::ALL {
        let t = p.targets(priority, Category::Network);
        let hours = match priority {
            Priority::Urgent => 4,
            Priority::High => 8,
            Priority::Normal => 24,
            Priority::Low => 72,
        };
        assert_eq!(t.resolution.as_secs(), hours * 3600, "{priority}");
        assert!(t.first_response < t.resolution);
    }
    assert_eq!(p.warning_percent, 80);
    assert_eq!(p.calendar, Calendar::AlwaysOpen);
}

#[test]
fn category_targets_override_the_priority_ones() {
    let p = policy(
        r#"
[targets.urgent]
first_response = "20m"
resolution = "3h"
[category.network.urgent]
resolution = "1h"
"#,
    );
    let net = p.targets(Priority::Urgent, Category::Network);
    assert_eq!(net.resolution.as_secs(), 3600);
    assert_eq!(net.first_response.as_secs(), 20 * 60, "inherits the rest");
    let sw = p.targets(Priority::Urgent, Category::Software);
    assert_eq!(sw.resolution.as_secs(), 3 * 3600);
}

#[test]
fn bad_policies_are_refused_with_what_to_do() {
    let cases = [
        ("warning_percent = 100", "warning_percent: 100 must be from 1 to 99"),
        ("colour = 1", "unknown field `colour`"),
        (
            "[targets.urgnt]\nresolution = \"1h\"",
            "targets.urgnt: unknown priority `urgnt`; use one of: low, normal, high, urgent",
        ),
        (
            "[targets.high]\nresolution = \"5\"",
            "targets.high.resolution: duration `5` needs a unit",
        ),
        (
            "[targets.high]\nresolution = \"10s\"",
            "targets.high.resolution: `10s` must be between 1m and",
        ),
        (
            "[category.printers.high]\nresolution = \"1h\"",
            "category.printers: unknown category `printers`",
        ),
        (
            "[calendar]\nmonday = \"09:00-17:00\"",
            "calendar.time_zone is missing",
        ),
        (
            "[calendar]\ntime_zone = \"Mars/Olympus\"\nmonday = \"09:00-17:00\"",
            "`Mars/Olympus` is not a known IANA time zone",
        ),
        (
            "[calendar]\ntime_zone = \"UTC\"\nmonday = \"17:00-09:00\"",
            "calendar.monday: `17:00-09:00` ends before it starts",
        ),
        (
            "[calendar]\ntime_zone = \"UTC\"\nmonday = \"9am-5pm\"",
            "calendar.monday: `9am-5pm` is not a span of hours",
        ),
        (
            "[calendar]\ntime_zone = \"UTC\"\nmonday = \"09:00-13:00, 12:00-17:00\"",
            "overlap",
        ),
        ("[calendar]\ntime_zone = \"UTC\"", "no opening hours on any day"),
        (
            "[calendar]\ntime_zone = \"UTC\"\nmonday = \"09:00-17:00\"\nholidays = [\"25.12.2026\"]",
            "calendar.holidays: `25.12.2026` is not a date; write YYYY-MM-DD",
        ),
        ("warning_percent = ", "line 1"),
    ];
    for (text, wanted) in cases {
        let err = SlaPolicy::parse(text).unwrap_err().to_string();
        assert!(err.contains(wanted), "{text:?}: {err}");
    }
    let huge = "#".repeat(MAX_POLICY_LEN_FOR_TEST + 1);
    assert!(SlaPolicy::parse(&huge).is_err());
}

const MAX_POLICY_LEN_FOR_TEST: usize = policy::MAX_POLICY_LEN;

#[test]
fn a_shown_policy_reads_back_the_same() {
    for text in [
        OFFICE,
        "",
        "[breach]\nescalate = true\n[category.account.low]\nresolution = \"5d\"",
    ] {
        let p = policy(text);
        let again = SlaPolicy::parse(&p.to_toml()).unwrap();
        assert_eq!(again, p, "{}", p.to_toml());
    }
}
