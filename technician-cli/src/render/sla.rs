//! SLA clocks for people: the DUE column of `tickets list`, the two clock
//! lines of `tickets show`, and `sla show`.

use crate::text::{compact_duration, relative};
use std::time::Duration;
use triage_shared::sla::{ClockPhase, ClockState, ClockStatus, TicketSla};
use triage_shared::ticket::Ticket;
use triage_shared::time::Timestamp;

fn business(ms: i64) -> String {
    compact_duration(Duration::from_millis(ms.unsigned_abs()))
}

/// The DUE cell: the clock that matters next, in a word or two.
pub fn due_cell(t: &Ticket, now: Timestamp) -> String {
    let Some(sla) = &t.sla else {
        return "-".into();
    };
    let running = sla
        .clocks()
        .into_iter()
        .filter(|(_, c)| c.state == ClockState::Running)
        .filter_map(|(_, c)| c.due_at.map(|due| (due, c)))
        .min_by_key(|(due, _)| *due);
    if let Some((due, clock)) = running {
        return if due <= now {
            format!("late {}", compact_duration(now.since(due)))
        } else if clock.warned(now) {
            format!("in {}!", compact_duration(due.since(now)))
        } else {
            format!("in {}", compact_duration(due.since(now)))
        };
    }
    if sla
        .clocks()
        .iter()
        .any(|(_, c)| c.state == ClockState::Paused)
    {
        return "paused".into();
    }
    if sla.clocks().iter().any(|(_, c)| c.breached(now)) {
        "missed".into()
    } else {
        "met".into()
    }
}

/// One clock as `tickets show` prints it.
pub fn clock_text(clock: &ClockStatus, now: Timestamp) -> String {
    let target = business(clock.target_ms as i64);
    let used = business(clock.used_ms as i64);
    match clock.phase(now) {
        ClockPhase::Late(due) => {
            format!(
                "BREACHED: was due {due} ({}; target {target})",
                relative(due, now)
            )
        }
        ClockPhase::Due(due) => {
            let warned = if clock.warned(now) { "WARNING: " } else { "" };
            format!(
                "{warned}due {due} ({}; target {target})",
                relative(due, now)
            )
        }
        ClockPhase::Paused => {
            let left = clock.left_ms();
            if left < 0 {
                format!(
                    "paused while waiting, {} over its {target} target",
                    business(left)
                )
            } else {
                format!("paused while waiting, {} of {target} left", business(left))
            }
        }
        ClockPhase::Missed => format!("missed: took {used} of {target}"),
        ClockPhase::Met => format!("met: took {used} of {target}"),
    }
}

/// The two `tickets show` lines, or why there are none.
pub fn clock_fields(sla: Option<&TicketSla>, now: Timestamp) -> [(&'static str, String); 2] {
    match sla {
        Some(sla) => [
            ("Response", clock_text(&sla.first_response, now)),
            ("Resolution", clock_text(&sla.resolution, now)),
        ],
        None => [
            ("Response", "not computed yet".into()),
            ("Resolution", "not computed yet".into()),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    fn clock(state: ClockState, used: i64, due: Option<i64>) -> ClockStatus {
        ClockStatus {
            target_ms: (60 * MIN) as u64,
            state,
            used_ms: used as u64,
            as_of: Timestamp(0),
            due_at: due.map(Timestamp),
            warn_at: due.map(|d| Timestamp(d - 12 * MIN)),
            warn_ms: (48 * MIN) as u64,
        }
    }

    #[test]
    fn each_state_reads_as_what_it_means() {
        let now = Timestamp(100 * MIN);
        let cases = [
            (clock(ClockState::Running, 0, Some(130 * MIN)), "due "),
            (
                clock(ClockState::Running, 0, Some(105 * MIN)),
                "WARNING: due ",
            ),
            (
                clock(ClockState::Running, 0, Some(90 * MIN)),
                "BREACHED: was due",
            ),
            (
                clock(ClockState::Paused, 20 * MIN, None),
                "paused while waiting, 40m of 1h left",
            ),
            (
                clock(ClockState::Paused, 90 * MIN, None),
                "paused while waiting, 30m over",
            ),
            (
                clock(ClockState::Stopped, 20 * MIN, None),
                "met: took 20m of 1h",
            ),
            (
                clock(ClockState::Stopped, 70 * MIN, None),
                "missed: took 1h of 1h",
            ),
        ];
        for (c, wanted) in cases {
            let text = clock_text(&c, now);
            assert!(
                text.starts_with(wanted),
                "{text} should start with {wanted}"
            );
        }
    }
}
