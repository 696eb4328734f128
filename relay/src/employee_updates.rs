//! What an employee's own update does to their ticket (a reply, "Did this
//! fix it?" Yes or No, a satisfaction score), as a pure function. The
//! agent delivers it (`AgentUpdate::Reply`/`Fixed`/`NotFixed`) with the
//! requester it read from its local socket; [`crate::agent_updates::apply`]
//! has already checked that the sending agent filed the ticket, and this
//! checks that the requester is the ticket's: an employee acts only on
//! their own tickets, even on a shared computer.

use crate::agent_updates::employee_actor;
use crate::store::TicketUpdate;
use triage_shared::agent_update::AgentUpdate;
use triage_shared::error::{ErrorKind, RemoteError};
use triage_shared::ids::{CommentId, UpdateId};
use triage_shared::ticket::{
    transition, Comment, Status, StatusAction, Ticket, TicketEvent, TicketEventKind,
};
use triage_shared::time::Timestamp;

/// The refusal for an employee acting on someone else's ticket.
pub fn not_their_ticket(ticket: &Ticket, requester: &str) -> RemoteError {
    RemoteError::new(
        ErrorKind::Forbidden,
        format!(
            "ticket {} was not filed by {requester}; an employee may only act on their own tickets",
            ticket.id
        ),
    )
}

/// Applies an employee update (already validated) to `ticket`. `None`
/// when `update` is not an employee's.
pub fn apply(
    ticket: &Ticket,
    id: UpdateId,
    update: &AgentUpdate,
    now: Timestamp,
) -> Option<Result<TicketUpdate, RemoteError>> {
    let requester = update.requester()?;
    if ticket.requester != requester {
        return Some(Err(not_their_ticket(ticket, requester)));
    }
    let actor = employee_actor(requester);
    let mut decided = TicketUpdate {
        ticket: ticket.clone(),
        events: Vec::new(),
        comments: Vec::new(),
        attachments: Vec::new(),
        resolution: None,
    };
    decided.ticket.updated_at = now;
    let comment = |text: &str| Comment {
        // The update's id: one update can never add two comments.
        id: CommentId(id.0),
        author: actor.clone(),
        text: text.to_string(),
        created_at: now,
        internal: false,
    };
    let score = match update {
        AgentUpdate::Reply { text, .. } => {
            decided.comments.push(comment(text));
            None
        }
        AgentUpdate::Fixed { score, .. } => {
            match ticket.status {
                Status::Resolved => move_to(&mut decided, StatusAction::Close, &actor, now),
                // Closed already (by a technician or the auto-close sweeper):
                // the answer still counts for the score.
                Status::Closed => {}
                active => {
                    return Some(Err(RemoteError::new(
                        ErrorKind::Conflict,
                        format!(
                        "ticket {} is {active}, not resolved: the help desk is still working on it",
                        ticket.id
                    ),
                    )))
                }
            }
            *score
        }
        AgentUpdate::NotFixed { words, score, .. } => {
            if matches!(ticket.status, Status::Resolved | Status::Closed) {
                move_to(&mut decided, StatusAction::Reopen, &actor, now);
            }
            decided.comments.push(comment(words));
            *score
        }
        // What they read is kept beside the ticket (`store::kb`), not in
        // its history: the ticket itself does not change.
        AgentUpdate::ArticlesViewed { .. } => {
            decided.ticket.updated_at = ticket.updated_at;
            None
        }
        AgentUpdate::Comment(_) | AgentUpdate::Resolve(_) | AgentUpdate::Screenshot(_) => {
            return None
        }
    };
    if let Some(score) = score {
        decided.events.push(TicketEvent {
            actor: actor.clone(),
            at: now,
            event: TicketEventKind::Rated { score },
        });
    }
    Some(Ok(decided))
}

/// A transition the caller knows is allowed from the ticket's status.
fn move_to(decided: &mut TicketUpdate, action: StatusAction, actor: &str, now: Timestamp) {
    let from = decided.ticket.status;
    if let Ok(to) = transition(from, action) {
        decided.ticket.status = to;
        decided.events.push(TicketEvent {
            actor: actor.to_string(),
            at: now,
            event: TicketEventKind::StatusChanged { from, to },
        });
    }
}

#[cfg(test)]
mod tests {
    use crate::agent_updates::apply;
    use triage_shared::agent_update::AgentUpdate;
    use triage_shared::error::ErrorKind;
    use triage_shared::ids::{CommentId, UpdateId};
    use triage_shared::ticket::{
        Category, Priority, Source, Status, Ticket, TicketEventKind, Tier,
    };
    use triage_shared::time::Timestamp;
    use triage_shared::{AgentId, TicketId};

    const NOW: Timestamp = Timestamp(1_700_000_000_000);

    fn ticket(owner: AgentId, status: Status) -> Ticket {
        Ticket {
            id: TicketId::new_random(),
            title: "Printer jammed".into(),
            description: String::new(),
            category: Category::Hardware,
            priority: Priority::Normal,
            status,
            tier: Tier::L1,
            source: Source::Employee,
            agent_id: Some(owner),
            hostname: Some("pc-7".into()),
            requester: "alice".into(),
            assignee: Some("bob".into()),
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
            sla_due_at: Timestamp(1),
            sla: None,
        }
    }

    fn fixed(score: Option<u8>) -> AgentUpdate {
        AgentUpdate::Fixed {
            requester: "alice".into(),
            score,
        }
    }

    fn not_fixed(words: &str) -> AgentUpdate {
        AgentUpdate::NotFixed {
            requester: "alice".into(),
            words: words.into(),
            score: None,
        }
    }

    fn statuses(u: &crate::store::TicketUpdate) -> Vec<(Status, Status)> {
        u.events
            .iter()
            .filter_map(|e| match e.event {
                TicketEventKind::StatusChanged { from, to } => Some((from, to)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_reply_is_a_public_comment_by_the_employee() {
        let agent = AgentId::new_random();
        let t = ticket(agent, Status::InProgress);
        let id = UpdateId::new_random();
        let update = AgentUpdate::Reply {
            requester: "alice".into(),
            text: "it happens every morning".into(),
        };
        let u = apply(&t, agent, "agent:pc-7", id, &update, NOW).unwrap();
        assert_eq!(u.ticket.status, Status::InProgress);
        let [c] = u.comments.as_slice() else {
            panic!("{:?}", u.comments)
        };
        assert_eq!(c.id, CommentId(id.0));
        assert_eq!(c.author, "employee:alice");
        assert!(!c.internal);
        assert!(u.events.is_empty());
    }

    #[test]
    fn yes_closes_a_resolved_ticket_and_records_the_score() {
        let agent = AgentId::new_random();
        let t = ticket(agent, Status::Resolved);
        let u = apply(&t, agent, "a", UpdateId::new_random(), &fixed(Some(4)), NOW).unwrap();
        assert_eq!(u.ticket.status, Status::Closed);
        assert_eq!(statuses(&u), [(Status::Resolved, Status::Closed)]);
        assert!(
            u.events
                .iter()
                .any(|e| e.event == TicketEventKind::Rated { score: 4 }
                    && e.actor == "employee:alice")
        );
        assert!(u.comments.is_empty());
    }

    #[test]
    fn yes_on_a_closed_ticket_only_records_the_score_and_on_an_active_one_is_refused() {
        let agent = AgentId::new_random();
        let closed = ticket(agent, Status::Closed);
        let u = apply(
            &closed,
            agent,
            "a",
            UpdateId::new_random(),
            &fixed(Some(5)),
            NOW,
        )
        .unwrap();
        assert_eq!(u.ticket.status, Status::Closed);
        assert!(statuses(&u).is_empty());
        assert_eq!(u.events.len(), 1);
        let open = ticket(agent, Status::InProgress);
        let err = apply(&open, agent, "a", UpdateId::new_random(), &fixed(None), NOW).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Conflict);
    }

    #[test]
    fn no_on_a_resolved_ticket_reopens_it_with_the_words() {
        let agent = AgentId::new_random();
        for from in [Status::Resolved, Status::Closed] {
            let t = ticket(agent, from);
            let u = apply(
                &t,
                agent,
                "a",
                UpdateId::new_random(),
                &not_fixed("still jams"),
                NOW,
            )
            .unwrap();
            assert_eq!(u.ticket.status, Status::Open);
            assert_eq!(statuses(&u), [(from, Status::Open)]);
            assert_eq!(u.comments[0].text, "still jams");
            assert_eq!(u.comments[0].author, "employee:alice");
        }
        // Already reopened by a technician: the words are still added.
        let t = ticket(agent, Status::InProgress);
        let u = apply(&t, agent, "a", UpdateId::new_random(), &not_fixed("x"), NOW).unwrap();
        assert_eq!(u.ticket.status, Status::InProgress);
        assert_eq!(u.comments.len(), 1);
    }

    #[test]
    fn only_the_requester_on_the_agent_that_filed_it_may_answer() {
        let agent = AgentId::new_random();
        let t = ticket(agent, Status::Resolved);
        let mallory = AgentUpdate::Fixed {
            requester: "mallory".into(),
            score: Some(1),
        };
        let err = apply(&t, agent, "a", UpdateId::new_random(), &mallory, NOW).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Forbidden);
        assert!(err.message.contains("their own tickets"), "{}", err.message);
        let other_agent = AgentId::new_random();
        let err = apply(
            &t,
            other_agent,
            "a",
            UpdateId::new_random(),
            &fixed(None),
            NOW,
        )
        .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Forbidden);
    }

    #[test]
    fn a_score_outside_one_to_five_is_refused() {
        let agent = AgentId::new_random();
        let t = ticket(agent, Status::Resolved);
        for bad in [0, 6, 255] {
            let err = apply(
                &t,
                agent,
                "a",
                UpdateId::new_random(),
                &fixed(Some(bad)),
                NOW,
            )
            .unwrap_err();
            assert_eq!(err.kind, ErrorKind::InvalidInput, "{bad}");
        }
        for good in 1..=5 {
            assert!(apply(
                &t,
                agent,
                "a",
                UpdateId::new_random(),
                &fixed(Some(good)),
                NOW
            )
            .is_ok());
        }
    }
}
