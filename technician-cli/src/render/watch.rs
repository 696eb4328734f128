//! `tickets watch`: one line per event of the live queue, and the JSON
//! lines of `--json`.

use crate::ticket_ref::short_id;
use serde::Serialize;
use triage_shared::queue::{QueueEvent, QueueEventKind};
use triage_shared::text::clean;
use triage_shared::ticket::Ticket;
use triage_shared::time::Timestamp;

/// What `tickets watch --json` prints, one object a line:
/// `{"ticket": …}` for each ticket matching when the watch began,
/// `{"event": …}` for each event, `{"lagged": {"skipped", "resume_after"}}`
/// when events were skipped, `{"reconnected": {"after"}}` after the
/// connection was made again.
#[derive(Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WatchLine<'a> {
    Ticket(&'a Ticket),
    Event(&'a QueueEvent),
    Lagged { skipped: u64, resume_after: u64 },
    Reconnected { after: u64 },
}

/// One `--json` line, newline included.
pub fn watch_json_line(line: &WatchLine<'_>) -> Result<String, serde_json::Error> {
    let mut text = serde_json::to_string(line)?;
    text.push('\n');
    Ok(text)
}

/// `14:02:11  1234abcd  open → in_progress  Printer on fire`
pub fn watch_event_line(event: &QueueEvent) -> String {
    format!(
        "{}  {}  {}  {}\n",
        clock(event.at),
        short_id(&event.ticket.id),
        what_happened(event),
        one_line(&event.ticket.title)
    )
}

pub fn watch_lagged_line(skipped: u64) -> String {
    format!("lagged: {skipped} events skipped\n")
}

/// What an event did, in a few words.
pub fn what_happened(event: &QueueEvent) -> String {
    match &event.kind {
        QueueEventKind::Created => "new ticket".into(),
        QueueEventKind::StatusChanged { from, to } => format!("{from} → {to}"),
        QueueEventKind::Escalated { from, to } => format!("{from} → {to}"),
        QueueEventKind::Assigned { assignee } => format!("assigned to {}", one_line(assignee)),
        QueueEventKind::Commented { internal, excerpt } => format!(
            "{} by {}: {}",
            if *internal {
                "internal note"
            } else {
                "comment"
            },
            one_line(&event.actor),
            one_line(excerpt)
        ),
        QueueEventKind::Attached { name } => format!("attached {}", one_line(name)),
        QueueEventKind::SlaWarning { clock } => format!("SLA warning ({clock})"),
        QueueEventKind::SlaBreached { clock } => format!("SLA breached ({clock})"),
        QueueEventKind::Rated { score } => format!("rated {score}/5"),
        QueueEventKind::PriorityChanged { from, to } => format!("priority {from} → {to}"),
    }
}

/// The time of day in UTC, as `HH:MM:SS`.
fn clock(at: Timestamp) -> String {
    let stamp = at.to_string();
    stamp.get(11..19).unwrap_or(&stamp).to_string()
}

/// Text from the relay on one line: runs of whitespace (newlines too)
/// become one space, other control characters are cleaned.
fn one_line(text: &str) -> String {
    clean(&text.split_whitespace().collect::<Vec<_>>().join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_shared::ticket::{Category, Priority, Source, Status, Tier};
    use triage_shared::TicketId;

    fn ticket() -> Ticket {
        Ticket {
            id: "1234abcd-0000-4000-8000-000000000001"
                .parse::<TicketId>()
                .unwrap(),
            title: "Printer\non fire\u{1b}[2J".into(),
            description: "smoke".into(),
            category: Category::Hardware,
            priority: Priority::Urgent,
            status: Status::InProgress,
            tier: Tier::L2,
            source: Source::Employee,
            agent_id: None,
            hostname: Some("pc-42".into()),
            requester: "alice".into(),
            assignee: Some("bob".into()),
            created_at: Timestamp(1_700_000_000_000),
            updated_at: Timestamp(1_700_000_000_000),
            sla_due_at: Timestamp(1_700_003_600_000),
            sla: None,
        }
    }

    fn event(actor: &str, kind: QueueEventKind) -> QueueEvent {
        QueueEvent {
            seq: 7,
            // 2023-11-14T22:13:20Z, then 11 s later.
            at: Timestamp(1_700_000_011_000),
            actor: actor.into(),
            kind,
            ticket: ticket(),
        }
    }

    #[test]
    fn each_kind_of_event_says_what_happened() {
        let said = |actor: &str, kind| what_happened(&event(actor, kind));
        assert_eq!(said("agent:pc-42", QueueEventKind::Created), "new ticket");
        assert_eq!(
            said(
                "bob",
                QueueEventKind::StatusChanged {
                    from: Status::Open,
                    to: Status::InProgress
                }
            ),
            "open → in_progress"
        );
        assert_eq!(
            said(
                "bob",
                QueueEventKind::Escalated {
                    from: Tier::L1,
                    to: Tier::L2
                }
            ),
            "l1 → l2"
        );
        assert_eq!(
            said(
                "carol",
                QueueEventKind::Assigned {
                    assignee: "bob".into()
                }
            ),
            "assigned to bob"
        );
        assert_eq!(
            said(
                "alice",
                QueueEventKind::Commented {
                    internal: false,
                    excerpt: "rebooted,\nstill smoking".into()
                }
            ),
            "comment by alice: rebooted, still smoking"
        );
        assert_eq!(
            said(
                "bob",
                QueueEventKind::Commented {
                    internal: true,
                    excerpt: "old model".into()
                }
            ),
            "internal note by bob: old model"
        );
        assert_eq!(
            said(
                "employee:alice",
                QueueEventKind::Attached {
                    name: "screenshot.png".into()
                }
            ),
            "attached screenshot.png"
        );
    }

    #[test]
    fn an_event_line_has_time_ticket_what_and_a_clean_title() {
        let line = watch_event_line(&event(
            "bob\u{7}",
            QueueEventKind::Commented {
                internal: false,
                excerpt: "hi\u{1b}[31m".into(),
            },
        ));
        assert_eq!(
            line,
            "22:13:31  1234abcd  comment by bob?: hi?[31m  Printer on fire?[2J\n"
        );
        assert_eq!(watch_lagged_line(12), "lagged: 12 events skipped\n");
    }

    #[test]
    fn json_lines_are_one_object_each_named_by_what_they_hold() {
        let e = event("bob", QueueEventKind::Created);
        let parse = |line: WatchLine<'_>| {
            let text = watch_json_line(&line).unwrap();
            assert!(text.ends_with('\n') && !text.trim_end().contains('\n'));
            serde_json::from_str::<serde_json::Value>(&text).unwrap()
        };
        let v = parse(WatchLine::Event(&e));
        assert_eq!(v["event"]["seq"], 7);
        assert_eq!(v["event"]["kind"], "created");
        assert_eq!(v["event"]["ticket"]["title"], "Printer\non fire\u{1b}[2J");
        let t = ticket();
        assert_eq!(parse(WatchLine::Ticket(&t))["ticket"]["requester"], "alice");
        let v = parse(WatchLine::Lagged {
            skipped: 3,
            resume_after: 40,
        });
        assert_eq!(
            v,
            serde_json::json!({"lagged": {"skipped": 3, "resume_after": 40}})
        );
        let v = parse(WatchLine::Reconnected { after: 40 });
        assert_eq!(v, serde_json::json!({"reconnected": {"after": 40}}));
    }
}
