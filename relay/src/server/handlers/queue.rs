//! The queue as technicians work it: filtered pages of tickets, full-text
//! search and the resolved tickets like one being looked at.

use crate::server::request::Peer;
use crate::server::Shared;
use crate::store::StoreError;
use triage_shared::protocol::Response;
use triage_shared::queue::{SearchQuery, TicketCursor, TicketFilter, TicketSort};
use triage_shared::time::Timestamp;
use triage_shared::TicketId;

pub(in crate::server) async fn list_page(
    shared: &Shared,
    peer: &Peer,
    filter: &TicketFilter,
    sort: TicketSort,
    after: Option<&TicketCursor>,
    limit: u32,
    now: Timestamp,
) -> Result<Response, StoreError> {
    let _ = (shared, peer, filter, sort, after, limit, now);
    todo!("built by the queue work")
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
