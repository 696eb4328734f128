//! **Pure**: the text of a notification mail. Plain, and enough to act
//! on without opening anything: the ticket, its host, what happened, the
//! SLA state and the command to run.

use serde::{Deserialize, Serialize};
use triage_shared::notify::NotifyEvent;
use triage_shared::queue::{QueueEvent, QueueEventKind};
use triage_shared::sla::{ClockPhase, ClockState, ClockStatus};
use triage_shared::text::clean;
use triage_shared::ticket::Ticket;
use triage_shared::time::{human_duration, Timestamp};

/// A queued mail, as the delivery row keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailBody {
    pub to: String,
    pub subject: String,
    pub text: String,
}

impl MailBody {
    pub fn new(to: &str, event: NotifyEvent, e: &QueueEvent, now: Timestamp) -> MailBody {
        MailBody {
            to: to.to_string(),
            subject: subject(event, &e.ticket),
            text: text(event, e, now),
        }
    }

    pub fn to_json(&self) -> String {
        // A struct of strings always serialises.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// One line on the ticket's SLA. Only the due time for now; the SLA engine
/// replaces this with both clocks.
pub fn sla_line(ticket: &Ticket, now: Timestamp) -> String {
    let Some(sla) = &ticket.sla else {
        return "not computed yet".into();
    };
    let state = |c: &ClockStatus| match c.phase(now) {
        ClockPhase::Late(due) => format!(
            "BREACHED: overdue by {} (was due {due})",
            human_duration(now.since(due))
        ),
        ClockPhase::Due(due) => format!("due in {} ({due})", human_duration(due.since(now))),
        ClockPhase::Paused => "paused while waiting on the employee".into(),
        ClockPhase::Missed => "missed".into(),
        ClockPhase::Met => "met".into(),
    };
    // The clock due soonest leads; the other follows.
    let mut clocks = sla.clocks();
    clocks.sort_by_key(|(_, c)| (c.state != ClockState::Running, c.due_at));
    let [(lead_name, lead), (other_name, other)] = clocks;
    format!(
        "{} ({}); {}: {}",
        state(lead),
        lead_name.label(),
        other_name.label(),
        state(other)
    )
}

fn what(event: NotifyEvent) -> &'static str {
    match event {
        NotifyEvent::New => "New ticket",
        NotifyEvent::Assigned => "Assigned",
        NotifyEvent::Commented => "New comment",
        NotifyEvent::Status => "Status changed",
        NotifyEvent::SlaWarning => "SLA warning",
        NotifyEvent::SlaBreach => "SLA breached",
        NotifyEvent::Resolved => "Resolved",
        NotifyEvent::Test => "Test",
    }
}

fn subject(event: NotifyEvent, t: &Ticket) -> String {
    // A title could hold line breaks; a header must not.
    let title: String = clean(&t.title)
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    format!("[Triage {}] {}: {title}", t.id.short(), what(event))
}

fn happened(e: &QueueEvent) -> String {
    let actor = clean(&e.actor);
    match &e.kind {
        QueueEventKind::Created => format!("{actor} filed it"),
        QueueEventKind::Assigned { assignee } => {
            format!("{actor} assigned it to {}", clean(assignee))
        }
        QueueEventKind::Commented { excerpt, .. } => {
            format!("{actor} commented: \"{}\"", clean(excerpt))
        }
        QueueEventKind::StatusChanged { from, to } => {
            format!("{actor} changed the status from {from} to {to}")
        }
        QueueEventKind::SlaWarning { clock } => format!("the {clock} SLA is close to its due time"),
        QueueEventKind::SlaBreached { clock } => format!("the {clock} SLA passed its due time"),
        QueueEventKind::Escalated { from, to } => {
            format!("{actor} escalated it from {from} to {to}")
        }
        QueueEventKind::Attached { name } => format!("{actor} attached {}", clean(name)),
        QueueEventKind::Rated { score } => format!("the employee rated it {score}/5"),
        QueueEventKind::PriorityChanged { from, to } => {
            format!("{actor} changed the priority from {from} to {to}")
        }
    }
}

fn text(event: NotifyEvent, e: &QueueEvent, now: Timestamp) -> String {
    let t = &e.ticket;
    let host = t.hostname.as_deref().map_or_else(|| "-".into(), clean);
    let assignee = t.assignee.as_deref().map_or_else(|| "nobody".into(), clean);
    format!(
        "{what}: ticket {short} \"{title}\"\n\
         \n\
         What happened: {happened} ({at})\n\
         Host:          {host}\n\
         Requester:     {requester}\n\
         Status:        {status}, priority {priority}, tier {tier}, assigned to {assignee}\n\
         SLA:           {sla}\n\
         \n\
         To see it:     triage tickets show {id}\n",
        what = what(event),
        short = t.id.short(),
        title = clean(&t.title),
        happened = happened(e),
        at = e.at,
        requester = clean(&t.requester),
        status = t.status,
        priority = t.priority,
        tier = t.tier,
        sla = sla_line(t, now),
        id = t.id,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_shared::ticket::{Category, Priority, Source, Status, Tier};
    use triage_shared::TicketId;

    /// First response given; resolution running, due at `due`.
    fn ticket(due: i64) -> Ticket {
        use triage_shared::sla::{ClockState, ClockStatus, TicketSla};
        let clock = |state, due_at: Option<i64>| ClockStatus {
            target_ms: 3_600_000,
            state,
            used_ms: 60_000,
            as_of: Timestamp(0),
            due_at: due_at.map(Timestamp),
            warn_at: due_at.map(Timestamp),
            warn_ms: 2_880_000,
        };
        Ticket {
            id: TicketId(uuid::Uuid::from_u128(
                0x1234_5678_0000_0000_0000_0000_0000_0001,
            )),
            title: "VPN\r\nBcc: eve@example.com".into(),
            description: String::new(),
            category: Category::Network,
            priority: Priority::High,
            status: Status::InProgress,
            tier: Tier::L2,
            source: Source::Employee,
            agent_id: None,
            hostname: Some("pc-7".into()),
            requester: "alice".into(),
            assignee: Some("bob".into()),
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
            sla_due_at: Timestamp(due),
            sla: Some(TicketSla {
                first_response: clock(ClockState::Stopped, None),
                resolution: clock(ClockState::Running, Some(due)),
            }),
        }
    }

    #[test]
    fn the_sla_line_says_time_left_or_how_late() {
        let now = Timestamp(1_000_000);
        assert_eq!(
            sla_line(&ticket(1_000_000 + 3_600_000), now),
            "due in 1h (1970-01-01T01:16:40Z) (resolution); first response: met"
        );
        assert!(sla_line(&ticket(1_000_000 - 120_000), now).starts_with("BREACHED: overdue by 2m"));
        let mut unknown = ticket(0);
        unknown.sla = None;
        assert_eq!(sla_line(&unknown, now), "not computed yet");
    }

    #[test]
    fn a_mail_names_the_ticket_host_event_sla_and_command_and_no_header_breaks() {
        let e = QueueEvent {
            seq: 3,
            at: Timestamp(500),
            actor: "carol".into(),
            kind: QueueEventKind::Commented {
                internal: false,
                excerpt: "rebooting the router".into(),
            },
            ticket: ticket(10_000_000),
        };
        let mail = MailBody::new(
            "bob@example.com",
            NotifyEvent::Commented,
            &e,
            Timestamp(1_000),
        );
        assert!(!mail.subject.contains('\n') && !mail.subject.contains('\r'));
        assert!(mail
            .subject
            .starts_with("[Triage 12345678] New comment: VPN"));
        for needle in [
            "carol commented: \"rebooting the router\"",
            "Host:          pc-7",
            "SLA:           due in",
            "triage tickets show 12345678-0000-0000-0000-000000000001",
        ] {
            assert!(mail.text.contains(needle), "{needle} in:\n{}", mail.text);
        }
        let back: MailBody = serde_json::from_str(&mail.to_json()).unwrap();
        assert_eq!(back, mail);
    }
}
