//! The queue as technicians work it: filtered pages of tickets, full-text
//! search and the resolved tickets like one being looked at.

use crate::server::request::Peer;
use crate::server::Shared;
use crate::store::StoreError;
use triage_shared::limits::MAX_LIST_ITEMS;
use triage_shared::protocol::{ErrorKind, Response};
use triage_shared::queue::{SearchQuery, TicketCursor, TicketFilter, TicketSort, MAX_TICKET_PAGE};
use triage_shared::ticket::Ticket;
use triage_shared::time::Timestamp;
use triage_shared::TicketId;

/// STOPGAP for `tickets watch` until the queue work's indexed list lands
/// (take that version on merge): the newest `MAX_LIST_ITEMS` tickets,
/// filtered in memory, `--sort created` only.
pub(in crate::server) async fn list_page(
    shared: &Shared,
    peer: &Peer,
    filter: &TicketFilter,
    sort: TicketSort,
    after: Option<&TicketCursor>,
    limit: u32,
    now: Timestamp,
) -> Result<Response, StoreError> {
    if sort != TicketSort::Created {
        return Err(StoreError::refused(
            ErrorKind::InvalidInput,
            format!("--sort {sort} is not served by this relay yet; use --sort created"),
        ));
    }
    if let Some(cursor) = after {
        cursor.check(sort)?;
    }
    let context = super::watch::filter_context(shared, peer, filter, now).await?;
    let limit = (limit as usize).clamp(1, MAX_TICKET_PAGE as usize);
    let mut matching = shared
        .store
        .list_tickets(None, MAX_LIST_ITEMS)
        .await?
        .into_iter()
        .filter(|t| filter.matches(t, &context))
        .filter(|t| after.is_none_or(|c| (t.created_at.millis(), t.id) < (c.keys[0], c.id)));
    let tickets: Vec<Ticket> = matching.by_ref().take(limit).collect();
    let next = match (matching.next(), tickets.last()) {
        (Some(_), Some(last)) => Some(sort.cursor_after(last)),
        _ => None,
    };
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
    let _ = (shared, peer, query, filter, limit, now);
    todo!("built by the queue work")
}

pub(in crate::server) async fn similar(
    shared: &Shared,
    ticket: TicketId,
    limit: u32,
) -> Result<Response, StoreError> {
    let _ = (shared, ticket, limit);
    todo!("built by the queue work")
}
