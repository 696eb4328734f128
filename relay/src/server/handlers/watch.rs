//! The live queue: one long-lived stream of ticket events.

use crate::server::request::{Peer, Responder};
use crate::server::Shared;
use triage_shared::queue::TicketFilter;

pub(in crate::server) async fn watch(
    shared: &Shared,
    peer: &Peer,
    filter: TicketFilter,
    after: Option<u64>,
    recv: quinn::RecvStream,
    out: &mut Responder,
) {
    let _ = (shared, peer, filter, after, recv, out);
    todo!("built by the queue work")
}
