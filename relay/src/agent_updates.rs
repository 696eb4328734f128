//! What an agent's update does to a ticket it filed, as a pure function in
//! the manner of `crate::workflow`: the store locks the ticket, calls
//! [`apply`] and writes the result, recording the update id in the same
//! transaction so that a redelivered update changes nothing.

use crate::store::{NewAttachment, TicketUpdate};
use triage_shared::agent_update::AgentUpdate;
use triage_shared::error::{ErrorKind, RemoteError};
use triage_shared::ids::{CommentId, UpdateId};
use triage_shared::ticket::{
    transition, Comment, Status, StatusAction, Ticket, TicketEvent, TicketEventKind,
};
use triage_shared::time::Timestamp;
use triage_shared::transfer::{AttachmentId, AttachmentKind, AttachmentSummary, ContentDigest};
use triage_shared::AgentId;

/// The refusal for an update to a ticket this agent did not file.
pub fn not_yours(ticket: &Ticket) -> RemoteError {
    RemoteError::new(
        ErrorKind::Forbidden,
        format!(
            "ticket {} was not filed by this agent; an agent may only update its own tickets",
            ticket.id
        ),
    )
}

/// Applies `update` (queued by `agent` as `id`) to `ticket`. The comment
/// takes the update's id, so one update can never add two comments. A
/// resolve on a ticket that is already resolved or closed (a technician
/// got there first) only adds its note.
pub fn apply(
    ticket: &Ticket,
    agent: AgentId,
    actor: &str,
    id: UpdateId,
    update: &AgentUpdate,
    now: Timestamp,
) -> Result<TicketUpdate, RemoteError> {
    if ticket.agent_id != Some(agent) {
        return Err(not_yours(ticket));
    }
    update.validate()?;
    if let Some(decided) = crate::employee_updates::apply(ticket, id, update, now) {
        return decided;
    }
    let mut after = ticket.clone();
    after.updated_at = now;
    let mut events = Vec::new();
    let mut resolution = None;
    if let AgentUpdate::Resolve(note) = update {
        if matches!(
            ticket.status,
            Status::Open | Status::InProgress | Status::Waiting
        ) {
            let to = transition(ticket.status, StatusAction::Resolve)?;
            after.status = to;
            // Only a resolve that resolves sets the resolution; a late one
            // is just a comment beside the technician's.
            resolution = Some(note.clone());
            events.push(TicketEvent {
                actor: actor.to_string(),
                at: now,
                event: TicketEventKind::StatusChanged {
                    from: ticket.status,
                    to,
                },
            });
        }
    }
    if let AgentUpdate::Screenshot(png) = update {
        return Ok(screenshot(after, agent, id, png, now));
    }
    let comment = Comment {
        id: CommentId(id.0),
        author: actor.to_string(),
        text: update.text().unwrap_or_default().to_string(),
        created_at: now,
        internal: false,
    };
    Ok(TicketUpdate {
        ticket: after,
        events,
        comments: vec![comment],
        attachments: Vec::new(),
        resolution,
    })
}

/// Whether a history entry's actor is a technician. Technician names hold
/// no `:` (`check_name`); everyone else the relay records is written with
/// one: `agent:HOST`, `employee:NAME`, `relay:sla`.
pub fn is_technician(actor: &str) -> bool {
    !actor.contains(':')
}

/// The name an employee's screenshot is stored under.
pub const EMPLOYEE_SCREENSHOT_NAME: &str = "screenshot.png";

/// Who an employee's own attachment is recorded as taken by: the ticket's
/// requester, marked so that no one mistakes it for a technician's.
pub fn employee_actor(requester: &str) -> String {
    format!("employee:{requester}")
}

/// An employee's screenshot (already validated as a bounded PNG): stored as
/// an attachment under the update's id, so one update can never store two,
/// with an `Attached` event in the history and no comment.
fn screenshot(
    ticket: Ticket,
    agent: AgentId,
    id: UpdateId,
    png: &[u8],
    now: Timestamp,
) -> TicketUpdate {
    let taken_by = employee_actor(&ticket.requester);
    let summary = AttachmentSummary {
        id: AttachmentId(id.0),
        ticket_id: ticket.id,
        kind: AttachmentKind::Screenshot,
        name: EMPLOYEE_SCREENSHOT_NAME.into(),
        agent_id: agent,
        taken_by: taken_by.clone(),
        taken_at: now,
        bytes: png.len() as u64,
        sha256: ContentDigest::of(png),
    };
    let event = TicketEvent {
        actor: taken_by,
        at: now,
        event: TicketEventKind::Attached {
            kind: AttachmentKind::Screenshot,
            name: summary.name.clone(),
            attachment: summary.id,
        },
    };
    TicketUpdate {
        ticket,
        events: vec![event],
        comments: Vec::new(),
        attachments: vec![NewAttachment {
            summary,
            content: png.to_vec(),
        }],
        resolution: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_shared::ticket::{Category, Priority, Source, Tier};
    use triage_shared::TicketId;

    const NOW: Timestamp = Timestamp(1_700_000_000_000);

    fn ticket(owner: AgentId, status: Status) -> Ticket {
        Ticket {
            id: TicketId::new_random(),
            title: "Disk /var 96% full on pc-7".into(),
            description: String::new(),
            category: Category::Hardware,
            priority: Priority::High,
            status,
            tier: Tier::L1,
            source: Source::HealthAlert,
            agent_id: Some(owner),
            hostname: Some("pc-7".into()),
            requester: "pc-7".into(),
            assignee: None,
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
            sla_due_at: Timestamp(1),
            sla: None,
        }
    }

    #[test]
    fn a_comment_is_added_under_the_update_id() {
        let agent = AgentId::new_random();
        let t = ticket(agent, Status::InProgress);
        let id = UpdateId::new_random();
        let update = AgentUpdate::Comment("now 97%".into());
        let u = apply(&t, agent, "agent:pc-7", id, &update, NOW).unwrap();
        assert_eq!(u.ticket.status, Status::InProgress);
        assert_eq!(u.ticket.updated_at, NOW);
        assert!(u.events.is_empty());
        assert_eq!(u.comments.len(), 1);
        assert_eq!(u.comments[0].id, CommentId(id.0));
        assert_eq!(u.comments[0].text, "now 97%");
        assert_eq!(u.comments[0].author, "agent:pc-7");
    }

    #[test]
    fn resolve_moves_an_active_ticket_to_resolved_with_its_note() {
        let agent = AgentId::new_random();
        for from in [Status::Open, Status::InProgress, Status::Waiting] {
            let t = ticket(agent, from);
            let update = AgentUpdate::Resolve("cleared".into());
            let u = apply(&t, agent, "a", UpdateId::new_random(), &update, NOW).unwrap();
            assert_eq!(u.ticket.status, Status::Resolved);
            assert_eq!(
                u.events[0].event,
                TicketEventKind::StatusChanged {
                    from,
                    to: Status::Resolved
                }
            );
            assert_eq!(u.comments[0].text, "cleared");
            assert_eq!(u.resolution.as_deref(), Some("cleared"));
        }
    }

    #[test]
    fn resolve_on_a_finished_ticket_only_adds_the_note() {
        let agent = AgentId::new_random();
        for from in [Status::Resolved, Status::Closed] {
            let t = ticket(agent, from);
            let update = AgentUpdate::Resolve("cleared".into());
            let u = apply(&t, agent, "a", UpdateId::new_random(), &update, NOW).unwrap();
            assert_eq!(u.ticket.status, from);
            assert!(u.events.is_empty());
            assert_eq!(u.comments.len(), 1);
            assert_eq!(u.resolution, None, "the first resolution stands");
        }
    }

    #[test]
    fn another_agents_ticket_is_refused() {
        let t = ticket(AgentId::new_random(), Status::Open);
        let update = AgentUpdate::Comment("x".into());
        let err = apply(
            &t,
            AgentId::new_random(),
            "a",
            UpdateId::new_random(),
            &update,
            NOW,
        )
        .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Forbidden);
        assert!(err.message.contains("its own tickets"), "{}", err.message);
        let mut technicians = t.clone();
        technicians.agent_id = None;
        assert!(apply(
            &technicians,
            AgentId::new_random(),
            "a",
            UpdateId::new_random(),
            &update,
            NOW
        )
        .is_err());
    }

    fn png(extra: usize) -> Vec<u8> {
        let mut png = triage_shared::agent_update::PNG_SIGNATURE.to_vec();
        png.extend(std::iter::repeat_n(7u8, extra));
        png
    }

    #[test]
    fn a_screenshot_is_stored_as_the_employees_attachment_without_a_comment() {
        let agent = AgentId::new_random();
        let mut t = ticket(agent, Status::Waiting);
        t.requester = "alice".into();
        let id = UpdateId::new_random();
        let data = png(100);
        let update = AgentUpdate::Screenshot(data.clone());
        let u = apply(&t, agent, "agent:pc-7", id, &update, NOW).unwrap();
        assert!(u.comments.is_empty());
        assert_eq!(u.ticket.status, Status::Waiting);
        assert_eq!(u.ticket.updated_at, NOW);
        let [a] = u.attachments.as_slice() else {
            panic!("{:?}", u.attachments)
        };
        assert_eq!(a.content, data);
        assert_eq!(a.summary.id, AttachmentId(id.0));
        assert_eq!(a.summary.ticket_id, t.id);
        assert_eq!(a.summary.kind, AttachmentKind::Screenshot);
        assert_eq!(a.summary.name, "screenshot.png");
        assert_eq!(a.summary.agent_id, agent);
        assert_eq!(a.summary.taken_by, "employee:alice");
        assert_eq!(a.summary.bytes, data.len() as u64);
        assert_eq!(a.summary.sha256, ContentDigest::of(&data));
        assert_eq!(
            u.events[0].event,
            TicketEventKind::Attached {
                kind: AttachmentKind::Screenshot,
                name: "screenshot.png".into(),
                attachment: a.summary.id,
            }
        );
        assert_eq!(u.events[0].actor, "employee:alice");
    }

    #[test]
    fn a_screenshot_that_is_not_a_bounded_png_or_not_ours_is_refused() {
        let agent = AgentId::new_random();
        let t = ticket(agent, Status::Open);
        let apply_png = |bytes: Vec<u8>, by: AgentId| {
            apply(
                &t,
                by,
                "a",
                UpdateId::new_random(),
                &AgentUpdate::Screenshot(bytes),
                NOW,
            )
        };
        let gif = apply_png(b"GIF89a....".to_vec(), agent).unwrap_err();
        assert_eq!(gif.kind, ErrorKind::InvalidInput);
        assert!(gif.message.contains("not a PNG"), "{}", gif.message);
        let limit = triage_shared::limits::MAX_ATTACHED_SCREENSHOT_LEN;
        let at_limit = png(limit - triage_shared::agent_update::PNG_SIGNATURE.len());
        assert!(apply_png(at_limit, agent).is_ok());
        let big = apply_png(png(limit), agent).unwrap_err();
        assert_eq!(big.kind, ErrorKind::InvalidInput);
        let theirs = apply_png(png(10), AgentId::new_random()).unwrap_err();
        assert_eq!(theirs.kind, ErrorKind::Forbidden);
    }

    #[test]
    fn an_empty_update_is_refused() {
        let agent = AgentId::new_random();
        let t = ticket(agent, Status::Open);
        let update = AgentUpdate::Comment(" ".into());
        let err = apply(&t, agent, "a", UpdateId::new_random(), &update, NOW).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidInput);
    }
}
