//! The queue as technicians work it: filtered pages of tickets, full-text
//! search and the resolved tickets like one being looked at. Each checks
//! what came off the network, resolves what the filter names (`--agent`,
//! `--assignee me`) into a `FilterContext`, and asks the store.

use crate::resolve;
use crate::server::request::{record_ticket, Peer};
use crate::server::Shared;
use crate::store::StoreError;
use triage_shared::limits::MAX_FRAME_LEN;
use triage_shared::protocol::{Response, SessionIdentity};
use triage_shared::queue::{
    FilterContext, SearchQuery, TicketCursor, TicketFilter, TicketSort, MAX_SEARCH_RESULTS,
    MAX_SIMILAR, MAX_TICKET_PAGE,
};
use triage_shared::ticket::Ticket;
use triage_shared::time::Timestamp;
use triage_shared::TicketId;

/// How many results to fetch for `asked`: `0` means as many as allowed,
/// and no one gets more than `max`.
pub(in crate::server) fn capped(asked: u32, max: u32) -> usize {
    match asked {
        0 => max as usize,
        n => n.min(max) as usize,
    }
}

/// Whether search results may show this peer internal notes: technicians
/// see them; anyone else (an employee's self-service search) must not.
pub(in crate::server) fn sees_internal_notes(identity: &SessionIdentity) -> bool {
    matches!(identity, SessionIdentity::Technician { .. })
}

/// `--assignee me` and `--agent` resolved for the technician who asks
/// (a list, a search and the live queue alike).
pub(in crate::server) async fn context(
    shared: &Shared,
    peer: &Peer,
    filter: &TicketFilter,
    now: Timestamp,
) -> Result<FilterContext, StoreError> {
    let caller = peer.technician_name()?.to_string();
    let agent = match &filter.agent {
        Some(selector) => Some(resolve::agent(&shared.store, selector).await?.id),
        None => None,
    };
    Ok(FilterContext { caller, agent, now })
}

/// The page and where the next one starts: `fetched` holds up to one more
/// than `len`, and that one tells that another page follows.
pub(in crate::server) fn split_page<T, C>(
    fetched: Vec<T>,
    len: usize,
    cursor: impl Fn(&T) -> C,
) -> (Vec<T>, Option<C>) {
    fit_page(fetched, len, usize::MAX, |_| 0, cursor)
}

/// Bytes of one answer frame the tickets of a page may take; the rest is
/// room for the frame's other fields.
pub(in crate::server) const PAGE_BUDGET: usize = MAX_FRAME_LEN - 64 * 1024;

/// An upper bound on the bytes `ticket` takes in a frame.
pub(in crate::server) fn ticket_bytes(ticket: &Ticket) -> usize {
    // Ids, enums, timestamps and length prefixes take well under this.
    const FIXED: usize = 256;
    FIXED
        + ticket.title.len()
        + ticket.description.len()
        + ticket.requester.len()
        + ticket.hostname.as_ref().map_or(0, String::len)
        + ticket.assignee.as_ref().map_or(0, String::len)
}

/// [`split_page`], also ending the page early where the next item would
/// take it past `budget` bytes (`next` then starts at that item): a page
/// of long tickets is shorter rather than too large to send.
pub(in crate::server) fn fit_page<T, C>(
    mut fetched: Vec<T>,
    len: usize,
    budget: usize,
    bytes: impl Fn(&T) -> usize,
    cursor: impl Fn(&T) -> C,
) -> (Vec<T>, Option<C>) {
    let mut used = 0usize;
    let fits = fetched
        .iter()
        .take(len)
        .position(|item| {
            used = used.saturating_add(bytes(item));
            used > budget
        })
        .unwrap_or(len.min(fetched.len()))
        // One item always goes, or no page would ever move on.
        .max(1);
    if fetched.len() > fits {
        fetched.truncate(fits);
        let next = fetched.last().map(cursor);
        (fetched, next)
    } else {
        (fetched, None)
    }
}

pub(in crate::server) async fn list_page(
    shared: &Shared,
    peer: &Peer,
    filter: &TicketFilter,
    sort: TicketSort,
    after: Option<&TicketCursor>,
    limit: u32,
    now: Timestamp,
) -> Result<Response, StoreError> {
    filter.check()?;
    if let Some(cursor) = after {
        cursor.check(sort)?;
    }
    let len = capped(limit, MAX_TICKET_PAGE);
    let context = context(shared, peer, filter, now).await?;
    let fetched = shared
        .store
        .list_tickets_page(filter, &context, sort, after, len + 1)
        .await?;
    let (tickets, next) = fit_page(fetched, len, PAGE_BUDGET, ticket_bytes, |t| {
        sort.cursor_after(t)
    });
    Ok(Response::TicketPage { tickets, next })
}

pub(in crate::server) async fn search(
    shared: &Shared,
    peer: &Peer,
    query: &SearchQuery,
    filter: &TicketFilter,
    limit: u32,
    now: Timestamp,
) -> Result<Response, StoreError> {
    query.check()?;
    filter.check()?;
    let len = capped(limit, MAX_SEARCH_RESULTS);
    let context = context(shared, peer, filter, now).await?;
    let include_internal = sees_internal_notes(&peer.identity);
    let hits = shared
        .store
        .search_tickets(query, filter, &context, include_internal, len)
        .await?;
    // The best hits that fit in one frame (no next page: a search is read
    // from the top).
    let (hits, _) = fit_page(
        hits,
        len,
        PAGE_BUDGET,
        |h| ticket_bytes(&h.ticket) + h.snippet.text.len() + 8 * h.snippet.marks.len(),
        |_| (),
    );
    Ok(Response::SearchHits(hits))
}

pub(in crate::server) async fn similar(
    shared: &Shared,
    ticket: TicketId,
    limit: u32,
) -> Result<Response, StoreError> {
    record_ticket(ticket);
    let len = capped(limit, MAX_SIMILAR);
    let similar = shared.store.similar_tickets(ticket, len).await?;
    Ok(Response::Similar(similar))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_capped_and_zero_asks_for_the_most() {
        assert_eq!(capped(0, MAX_TICKET_PAGE), 500);
        assert_eq!(capped(1, MAX_TICKET_PAGE), 1);
        assert_eq!(capped(500, MAX_TICKET_PAGE), 500);
        assert_eq!(capped(501, MAX_TICKET_PAGE), 500);
        assert_eq!(capped(u32::MAX, MAX_SEARCH_RESULTS), 100);
        assert_eq!(capped(0, MAX_SIMILAR), 5);
    }

    #[test]
    fn one_more_than_the_page_means_another_page() {
        let (page, next) = split_page(vec![1, 2, 3], 2, |n| n * 10);
        assert_eq!((page, next), (vec![1, 2], Some(20)));
        let (page, next) = split_page(vec![1, 2], 2, |n| n * 10);
        assert_eq!((page, next), (vec![1, 2], None));
        let (page, next) = split_page(Vec::<u32>::new(), 2, |n| n * 10);
        assert_eq!((page, next), (vec![], None));
    }

    #[test]
    fn a_page_ends_early_rather_than_outgrow_a_frame() {
        // Items of 40 bytes in a budget of 100: two fit, the next page
        // starts after the second.
        let (page, next) = fit_page(vec![1, 2, 3, 4], 3, 100, |_| 40, |n| *n);
        assert_eq!((page, next), (vec![1, 2], Some(2)));
        // Within the budget, the page is as asked.
        let (page, next) = fit_page(vec![1, 2, 3, 4], 3, 1000, |_| 40, |n| *n);
        assert_eq!((page, next), (vec![1, 2, 3], Some(3)));
        // One item always goes, however large.
        let (page, next) = fit_page(vec![1, 2], 3, 10, |_| 40, |n| *n);
        assert_eq!((page, next), (vec![1], Some(1)));
        let (page, next) = fit_page(vec![1], 3, 10, |_| 40, |n| *n);
        assert_eq!((page, next), (vec![1], None));
    }

    #[test]
    fn a_page_of_the_longest_tickets_fits_in_a_frame() {
        use triage_shared::limits::{MAX_TEXT_LEN, MAX_TITLE_LEN};
        use triage_shared::ticket::{Category, Priority, Source, Status, Tier};
        let ticket = Ticket {
            id: TicketId::new_random(),
            title: "t".repeat(MAX_TITLE_LEN),
            description: "d".repeat(MAX_TEXT_LEN),
            category: Category::Other,
            priority: Priority::Low,
            status: Status::Open,
            tier: Tier::L3,
            source: Source::Technician,
            agent_id: Some(triage_shared::AgentId::new_random()),
            hostname: Some("h".repeat(64)),
            requester: "r".repeat(64),
            assignee: Some("a".repeat(64)),
            created_at: Timestamp(i64::MAX),
            updated_at: Timestamp(i64::MAX),
            sla_due_at: Timestamp(i64::MAX),
            sla: None,
        };
        let fetched = vec![ticket; MAX_TICKET_PAGE as usize + 1];
        let (tickets, next) = fit_page(
            fetched,
            MAX_TICKET_PAGE as usize,
            PAGE_BUDGET,
            ticket_bytes,
            |t| TicketSort::Created.cursor_after(t),
        );
        assert!(next.is_some() && tickets.len() < MAX_TICKET_PAGE as usize);
        let frame = triage_shared::codec::encode(&Response::TicketPage { tickets, next });
        assert!(frame.is_ok(), "{:?}", frame.map(|f| f.len()));
    }

    #[test]
    fn only_technicians_see_internal_notes_in_search() {
        let technician = SessionIdentity::Technician {
            name: "carol".into(),
            roles: vec![],
        };
        assert!(sees_internal_notes(&technician));
        let agent = SessionIdentity::Agent {
            id: triage_shared::AgentId::new_random(),
            hostname: "pc".into(),
        };
        assert!(!sees_internal_notes(&agent));
        assert!(!sees_internal_notes(&SessionIdentity::Unenrolled));
    }
}
