//! The queue as technicians work it: filtered pages of tickets, full-text
//! search and the resolved tickets like one being looked at. Each checks
//! what came off the network, resolves what the filter names (`--agent`,
//! `--assignee me`) into a `FilterContext`, and asks the store.

use crate::resolve;
use crate::server::request::{record_ticket, Peer};
use crate::server::Shared;
use crate::store::StoreError;
use triage_shared::protocol::{Response, SessionIdentity};
use triage_shared::queue::{
    FilterContext, SearchQuery, TicketCursor, TicketFilter, TicketSort, MAX_SEARCH_RESULTS,
    MAX_SIMILAR, MAX_TICKET_PAGE,
};
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

/// `--assignee me` and `--agent` resolved for the technician who asks.
async fn context(
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
    mut fetched: Vec<T>,
    len: usize,
    cursor: impl Fn(&T) -> C,
) -> (Vec<T>, Option<C>) {
    if fetched.len() > len {
        fetched.truncate(len);
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
    let (tickets, next) = split_page(fetched, len, |t| sort.cursor_after(t));
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
