//! What each ticket request does, as pure functions over the current ticket.
//!
//! The store locks a ticket, calls one of these with its current state and
//! writes the returned [`TicketUpdate`]; nothing here touches a database or a
//! socket, so every rule is unit-tested on plain values.

use crate::store::{AgentRecord, TicketUpdate};
use triage_shared::error::{ErrorKind, RemoteError};
use triage_shared::ids::CommentId;
use triage_shared::limits::MAX_TEXT_LEN;
use triage_shared::sla::policy::default_targets;
use triage_shared::text::check_text;
use triage_shared::ticket::{
    transition, Comment, NewTicket, Priority, Source, Status, StatusAction, Ticket, TicketEvent,
    TicketEventKind, Tier,
};
use triage_shared::time::Timestamp;

/// Turns an agent's submission into the ticket to store and its first event.
/// New tickets start open at L1 with the SLA of their priority; the hostname
/// comes from the agent's enrollment record, not from the submission.
pub fn new_ticket_from_agent(
    new: &NewTicket,
    agent: &AgentRecord,
    now: Timestamp,
) -> Result<(Ticket, TicketEvent), RemoteError> {
    new.validate()?;
    if new.source == Source::Technician {
        return Err(RemoteError::new(
            ErrorKind::InvalidInput,
            "source: an agent cannot file a ticket as a technician; use employee or health_alert",
        ));
    }
    let ticket = Ticket {
        id: new.id,
        title: new.title.clone(),
        description: new.description.clone(),
        category: new.category,
        priority: new.priority,
        status: Status::Open,
        tier: Tier::L1,
        source: new.source,
        agent_id: Some(agent.id),
        hostname: Some(agent.hostname.clone()),
        requester: new.requester.clone(),
        assignee: None,
        created_at: now,
        updated_at: now,
        // Until the store folds the history into the clocks: the default
        // resolution target from now.
        sla_due_at: now.plus(default_targets(new.priority).resolution),
        sla: None,
    };
    let event = TicketEvent {
        actor: new.requester.clone(),
        at: now,
        event: TicketEventKind::Created,
    };
    Ok((ticket, event))
}

fn touched(ticket: &Ticket, now: Timestamp) -> TicketUpdate {
    let mut ticket = ticket.clone();
    ticket.updated_at = now;
    TicketUpdate {
        ticket,
        events: Vec::new(),
        comments: Vec::new(),
        attachments: Vec::new(),
        resolution: None,
    }
}

fn make_comment(
    field: &'static str,
    author: &str,
    text: &str,
    now: Timestamp,
) -> Result<Comment, RemoteError> {
    check_text(field, text, MAX_TEXT_LEN, false)?;
    Ok(Comment {
        id: CommentId::new_random(),
        author: author.to_string(),
        text: text.to_string(),
        created_at: now,
        internal: false,
    })
}

/// An internal note: a comment between technicians that "My tickets"
/// never shows the employee.
pub fn note(
    ticket: &Ticket,
    author: &str,
    text: &str,
    now: Timestamp,
) -> Result<TicketUpdate, RemoteError> {
    let mut update = touched(ticket, now);
    let mut note = make_comment("note", author, text, now)?;
    note.internal = true;
    update.comments.push(note);
    Ok(update)
}

/// An optional note on escalation or a status change; a blank note is no note.
fn note_comment(
    note: Option<&str>,
    author: &str,
    now: Timestamp,
) -> Result<Option<Comment>, RemoteError> {
    match note {
        Some(text) if !text.trim().is_empty() => make_comment("note", author, text, now).map(Some),
        _ => Ok(None),
    }
}

pub fn comment(
    ticket: &Ticket,
    author: &str,
    text: &str,
    now: Timestamp,
) -> Result<TicketUpdate, RemoteError> {
    let mut update = touched(ticket, now);
    update
        .comments
        .push(make_comment("comment", author, text, now)?);
    Ok(update)
}

/// Assigns the ticket; an open ticket is now being worked on. The caller has
/// checked that `assignee` is a registered technician.
pub fn assign(
    ticket: &Ticket,
    assignee: &str,
    actor: &str,
    now: Timestamp,
) -> Result<TicketUpdate, RemoteError> {
    let mut update = touched(ticket, now);
    update.ticket.assignee = Some(assignee.to_string());
    update.events.push(TicketEvent {
        actor: actor.to_string(),
        at: now,
        event: TicketEventKind::Assigned {
            assignee: assignee.to_string(),
        },
    });
    if ticket.status == Status::Open {
        update.ticket.status = Status::InProgress;
        update.events.push(TicketEvent {
            actor: actor.to_string(),
            at: now,
            event: TicketEventKind::StatusChanged {
                from: Status::Open,
                to: Status::InProgress,
            },
        });
    }
    Ok(update)
}

/// Moves the ticket one tier up, L1 → L2 → L3.
pub fn escalate(
    ticket: &Ticket,
    actor: &str,
    note: Option<&str>,
    now: Timestamp,
) -> Result<TicketUpdate, RemoteError> {
    let to = ticket.tier.escalated().ok_or_else(|| {
        RemoteError::new(
            ErrorKind::InvalidTransition,
            format!(
                "ticket {} is already at L3, the highest tier; it cannot be escalated further",
                ticket.id
            ),
        )
    })?;
    let mut update = touched(ticket, now);
    update.ticket.tier = to;
    update.events.push(TicketEvent {
        actor: actor.to_string(),
        at: now,
        event: TicketEventKind::Escalated {
            from: ticket.tier,
            to,
        },
    });
    update.comments.extend(note_comment(note, actor, now)?);
    Ok(update)
}

/// Changes the priority; the store's SLA fold measures the time used
/// against the new priority's targets from this event on.
pub fn set_priority(
    ticket: &Ticket,
    priority: Priority,
    actor: &str,
    note: Option<&str>,
    now: Timestamp,
) -> Result<TicketUpdate, RemoteError> {
    if ticket.priority == priority {
        return Err(RemoteError::new(
            ErrorKind::InvalidTransition,
            format!("ticket {} is already {priority} priority", ticket.id),
        ));
    }
    let comment = note_comment(note, actor, now)?;
    let mut update = touched(ticket, now);
    update.ticket.priority = priority;
    update.events.push(TicketEvent {
        actor: actor.to_string(),
        at: now,
        event: TicketEventKind::PriorityChanged {
            from: ticket.priority,
            to: priority,
        },
    });
    update.comments.extend(comment);
    Ok(update)
}

/// Applies a status action through the shared state machine.
pub fn change_status(
    ticket: &Ticket,
    action: StatusAction,
    actor: &str,
    note: Option<&str>,
    now: Timestamp,
) -> Result<TicketUpdate, RemoteError> {
    let to = transition(ticket.status, action)?;
    let comment = note_comment(note, actor, now)?;
    let mut update = touched(ticket, now);
    update.ticket.status = to;
    update.events.push(TicketEvent {
        actor: actor.to_string(),
        at: now,
        event: TicketEventKind::StatusChanged {
            from: ticket.status,
            to,
        },
    });
    if action == StatusAction::Resolve {
        // The note is kept beside the ticket too, for "similar tickets".
        update.resolution = comment.as_ref().map(|c| c.text.clone());
    }
    update.comments.extend(comment);
    Ok(update)
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_shared::identity::KeyPair;
    use triage_shared::ticket::{Category, Priority};
    use triage_shared::{AgentId, TicketId};

    fn agent() -> AgentRecord {
        AgentRecord {
            id: AgentId::new_random(),
            public_key: KeyPair::generate().public_key(),
            hostname: "pc-42".into(),
            os: "Debian 12".into(),
            enrolled_at: Timestamp(0),
            last_seen: None,
            removed_at: None,
        }
    }

    fn submission() -> NewTicket {
        NewTicket {
            id: TicketId::new_random(),
            title: "Outlook keeps crashing".into(),
            description: "since this morning".into(),
            category: Category::Software,
            priority: Priority::High,
            source: Source::Employee,
            requester: "alice".into(),
        }
    }

    fn open_ticket() -> Ticket {
        new_ticket_from_agent(&submission(), &agent(), Timestamp(1_000))
            .unwrap()
            .0
    }

    #[test]
    fn new_ticket_starts_open_at_l1_with_the_sla_of_its_priority() {
        let a = agent();
        let (t, event) = new_ticket_from_agent(&submission(), &a, Timestamp(1_000)).unwrap();
        assert_eq!((t.status, t.tier), (Status::Open, Tier::L1));
        assert_eq!(t.sla_due_at, Timestamp(1_000 + 8 * 3600 * 1000));
        assert_eq!(t.agent_id, Some(a.id));
        assert_eq!(t.hostname.as_deref(), Some("pc-42"));
        assert_eq!(event.event, TicketEventKind::Created);
        assert_eq!(event.actor, "alice");
    }

    #[test]
    fn agent_may_not_claim_a_technician_source() {
        let mut s = submission();
        s.source = Source::Technician;
        let err = new_ticket_from_agent(&s, &agent(), Timestamp(0)).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidInput);
        s.source = Source::HealthAlert;
        assert!(new_ticket_from_agent(&s, &agent(), Timestamp(0)).is_ok());
    }

    #[test]
    fn invalid_submission_is_refused() {
        let mut s = submission();
        s.title = String::new();
        assert_eq!(
            new_ticket_from_agent(&s, &agent(), Timestamp(0))
                .unwrap_err()
                .kind,
            ErrorKind::InvalidInput
        );
    }

    #[test]
    fn assigning_an_open_ticket_starts_work_and_records_both_events() {
        let u = assign(&open_ticket(), "bob", "carol", Timestamp(2_000)).unwrap();
        assert_eq!(u.ticket.assignee.as_deref(), Some("bob"));
        assert_eq!(u.ticket.status, Status::InProgress);
        assert_eq!(u.ticket.updated_at, Timestamp(2_000));
        assert_eq!(u.events.len(), 2);
        assert_eq!(
            u.events[0].event,
            TicketEventKind::Assigned {
                assignee: "bob".into()
            }
        );
        assert_eq!(u.events[0].actor, "carol");
    }

    #[test]
    fn assigning_a_waiting_ticket_keeps_its_status() {
        let mut t = open_ticket();
        t.status = Status::Waiting;
        let u = assign(&t, "bob", "carol", Timestamp(2_000)).unwrap();
        assert_eq!(u.ticket.status, Status::Waiting);
        assert_eq!(u.events.len(), 1);
    }

    #[test]
    fn escalation_climbs_tiers_and_stops_at_l3() {
        let t = open_ticket();
        let u = escalate(
            &t,
            "carol",
            Some("needs a network person"),
            Timestamp(2_000),
        )
        .unwrap();
        assert_eq!(u.ticket.tier, Tier::L2);
        assert_eq!(
            u.events[0].event,
            TicketEventKind::Escalated {
                from: Tier::L1,
                to: Tier::L2
            }
        );
        assert_eq!(u.comments[0].text, "needs a network person");
        assert_eq!(u.comments[0].author, "carol");
        let u = escalate(&u.ticket, "carol", None, Timestamp(3_000)).unwrap();
        assert_eq!(u.ticket.tier, Tier::L3);
        assert!(u.comments.is_empty());
        let err = escalate(&u.ticket, "carol", None, Timestamp(4_000)).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidTransition);
        assert!(err.message.contains("already at L3"), "{}", err.message);
    }

    #[test]
    fn status_changes_follow_the_state_machine() {
        let t = open_ticket();
        let u = change_status(
            &t,
            StatusAction::Resolve,
            "carol",
            Some("rebooted"),
            Timestamp(2_000),
        )
        .unwrap();
        assert_eq!(u.ticket.status, Status::Resolved);
        assert_eq!(
            u.events[0].event,
            TicketEventKind::StatusChanged {
                from: Status::Open,
                to: Status::Resolved
            }
        );
        assert_eq!(u.comments.len(), 1);
        let err = change_status(
            &u.ticket,
            StatusAction::Start,
            "carol",
            None,
            Timestamp(3_000),
        )
        .unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidTransition);
    }

    #[test]
    fn a_resolve_with_a_note_keeps_it_as_the_resolution() {
        let t = open_ticket();
        let u = change_status(
            &t,
            StatusAction::Resolve,
            "carol",
            Some("rebooted"),
            Timestamp(2),
        );
        assert_eq!(u.unwrap().resolution.as_deref(), Some("rebooted"));
        let u = change_status(&t, StatusAction::Resolve, "carol", None, Timestamp(2)).unwrap();
        assert_eq!(u.resolution, None);
        let u = change_status(&t, StatusAction::Wait, "carol", Some("asked"), Timestamp(2));
        assert_eq!(u.unwrap().resolution, None, "only a resolve sets it");
    }

    #[test]
    fn blank_notes_are_dropped_and_bad_notes_refused() {
        let t = open_ticket();
        let u = change_status(
            &t,
            StatusAction::Wait,
            "carol",
            Some("   "),
            Timestamp(2_000),
        )
        .unwrap();
        assert!(u.comments.is_empty());
        let err = change_status(
            &t,
            StatusAction::Wait,
            "carol",
            Some("bad\u{7}bell"),
            Timestamp(2_000),
        )
        .unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidInput);
    }

    #[test]
    fn comments_must_have_text_within_the_limit() {
        let t = open_ticket();
        assert_eq!(
            comment(&t, "carol", "hi", Timestamp(5)).unwrap().comments[0].text,
            "hi"
        );
        assert!(comment(&t, "carol", "", Timestamp(5)).is_err());
        assert!(comment(&t, "carol", &"x".repeat(MAX_TEXT_LEN), Timestamp(5)).is_ok());
        assert!(comment(&t, "carol", &"x".repeat(MAX_TEXT_LEN + 1), Timestamp(5)).is_err());
        assert!(!comment(&t, "carol", "hi", Timestamp(5)).unwrap().comments[0].internal);
    }

    #[test]
    fn a_note_is_an_internal_comment_with_the_same_bounds() {
        let t = open_ticket();
        let u = note(&t, "carol", "caller was rude", Timestamp(5)).unwrap();
        assert_eq!(u.comments.len(), 1);
        assert!(u.comments[0].internal);
        assert_eq!(u.comments[0].author, "carol");
        assert_eq!(u.ticket.updated_at, Timestamp(5));
        assert_eq!(u.ticket.status, t.status);
        assert!(u.events.is_empty());
        assert!(note(&t, "carol", " ", Timestamp(5)).is_err());
        assert!(note(&t, "carol", &"x".repeat(MAX_TEXT_LEN + 1), Timestamp(5)).is_err());
        assert!(note(&t, "carol", "bell\u{7}", Timestamp(5)).is_err());
    }
}
