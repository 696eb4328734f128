//! The agent's half of "nothing is lost while offline": on every connect
//! it asks the relay for the tickets it filed that changed since its last
//! catch-up (a few minutes' overlap; news is idempotent), a page at a
//! time, and keeps them. Bounded: at most [`MAX_CATCH_UP_PAGES`] pages a
//! connection; what is left comes with the next one.

use super::Inbox;
use tracing::{debug, warn};
use triage_shared::client::{ClientError, Session};
use triage_shared::protocol::{Request, Response};

/// Pages read per catch-up.
pub const MAX_CATCH_UP_PAGES: usize = 20;

/// Catches up; `Err` only when the connection failed.
pub async fn catch_up(session: &Session, inbox: &Inbox) -> Result<(), ClientError> {
    let mut since = inbox.since();
    for _ in 0..MAX_CATCH_UP_PAGES {
        let response = match session.request(&Request::TicketNews { since }).await {
            Ok(r) => r,
            Err(ClientError::Remote(e)) => {
                // An older relay, say: news then comes only by push.
                warn!(error = %e, "the relay did not give ticket news");
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let Response::TicketNews {
            as_of,
            tickets,
            more,
        } = response
        else {
            warn!("the relay answered ticket news with something else");
            return Ok(());
        };
        let last = tickets.last().map(|t| t.updated_at);
        if inbox.take(tickets).is_err() {
            return Ok(());
        }
        match (more, last) {
            // A relay that says "more" must move forward, or this stops.
            (true, Some(last)) if last > since => since = last,
            _ => {
                inbox.caught_up(as_of);
                debug!(%as_of, "caught up on ticket news");
                return Ok(());
            }
        }
    }
    Ok(())
}
