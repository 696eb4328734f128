//! `MyTickets`: the "Get help" window's list of an employee's own tickets.
//! Only the agent that filed them may ask (authorization sees to that), and
//! only for one requester at a time; technicians' internal notes never
//! appear (`Store::my_tickets` picks the latest public reply).

use crate::server::Shared;
use crate::store::StoreError;
use triage_shared::limits::{MAX_MY_TICKETS, MAX_NAME_LEN};
use triage_shared::protocol::Response;
use triage_shared::ticket::check_text;
use triage_shared::time::Timestamp;
use triage_shared::AgentId;

/// The number of tickets to return: `0` means "as many as allowed".
pub(super) fn limit(asked: u32) -> usize {
    match asked {
        0 => MAX_MY_TICKETS as usize,
        n => n.min(MAX_MY_TICKETS) as usize,
    }
}

/// `actor` is the name this agent's own comments carry, which are not
/// replies to the employee.
pub(super) async fn list(
    shared: &Shared,
    agent: AgentId,
    actor: &str,
    requester: &str,
    asked: u32,
) -> Result<Response, StoreError> {
    // The same rule a ticket's requester was checked with when it was filed.
    check_text("requester", requester, MAX_NAME_LEN, false)?;
    let tickets = shared
        .store
        .my_tickets(agent, requester, actor, limit(asked))
        .await?;
    Ok(Response::MyTickets(tickets))
}

/// `TicketNews`: the agent's catch-up, the tickets it filed that changed
/// at or after `since`, with the time the relay read them (`as_of`).
pub(super) async fn news(
    shared: &Shared,
    agent: AgentId,
    since: Timestamp,
    now: Timestamp,
) -> Result<Response, StoreError> {
    let (tickets, more) = shared.store.ticket_news_since(agent, since).await?;
    Ok(Response::TicketNews {
        as_of: now,
        tickets,
        more,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_shared::ids::CommentId;
    use triage_shared::limits::{MAX_TEXT_LEN, MAX_TITLE_LEN};
    use triage_shared::ticket::{Category, Comment, EmployeeTicket, Priority, Status};
    use triage_shared::TicketId;

    #[test]
    fn the_limit_is_clamped() {
        assert_eq!(limit(0), MAX_MY_TICKETS as usize);
        assert_eq!(limit(3), 3);
        assert_eq!(limit(MAX_MY_TICKETS), MAX_MY_TICKETS as usize);
        assert_eq!(limit(u32::MAX), MAX_MY_TICKETS as usize);
    }

    #[test]
    fn a_full_answer_fits_in_one_frame() {
        // Every field at its bound: the longest title, a reply of the longest
        // text, by the longest name a technician can have.
        let one = EmployeeTicket {
            id: TicketId::new_random(),
            title: "é".repeat(MAX_TITLE_LEN / 2),
            category: Category::Other,
            priority: Priority::Urgent,
            status: Status::InProgress,
            created_at: Timestamp(i64::MAX),
            updated_at: Timestamp(i64::MAX),
            latest_reply: Some(Comment {
                id: CommentId::new_random(),
                author: "a".repeat(MAX_NAME_LEN),
                text: "x".repeat(MAX_TEXT_LEN),
                created_at: Timestamp(i64::MAX),
                internal: false,
            }),
        };
        let all = Response::MyTickets(vec![one; MAX_MY_TICKETS as usize]);
        assert!(triage_shared::codec::encode(&all).is_ok());
    }
}
