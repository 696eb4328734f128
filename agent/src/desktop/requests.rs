//! The two requests a window makes of the daemon: file a ticket, and list
//! the user's tickets. Each answer is a [`DesktopReply`] whose error text
//! is written for the person at the window.

use super::connection::DesktopService;
use super::form::help_request;
use super::peer::Peer;
use super::protocol::{DesktopReply, HelpForm};
use crate::enroll::close;
use crate::error::{is_transient, AgentError};
use crate::state::StateDir;
use std::path::Path;
use std::time::Duration;
use tracing::{info, warn};
use triage_shared::client::{ClientError, Session};
use triage_shared::limits::MAX_MY_TICKETS;
use triage_shared::protocol::{PeerKind, Request, Response};
use triage_shared::ticket::EmployeeTicket;

/// How long "My tickets" waits for the relay (connecting included).
pub const MY_TICKETS_TIMEOUT: Duration = Duration::from_secs(20);

/// What the window shows when the relay cannot be reached.
pub const RELAY_UNREACHABLE: &str =
    "the help desk cannot be reached right now; your tickets are safe and will show when the network is back";

/// Files `form` for `peer`: the requester is the peer's account, whatever
/// the window thinks its user is called.
pub(crate) async fn file_ticket(
    service: &DesktopService,
    peer: &Peer,
    form: HelpForm,
) -> DesktopReply {
    if form.screenshot.is_some() && !service.screenshots_allowed() {
        return DesktopReply::Error(
            "this computer's policy does not allow screenshots; send the request without one"
                .into(),
        );
    }
    let viewed = form.viewed_articles.clone();
    let request = match help_request(form, &peer.account) {
        Ok(request) => request,
        Err(why) => return DesktopReply::Error(why),
    };
    let with_screenshot = request.screenshot.is_some();
    match crate::help::file_ticket_with(service.state_dir(), request, service.file_options()).await
    {
        Ok(filed) => {
            info!(ticket_id = %filed.id(), delivered = filed.is_delivered(), with_screenshot, "filed a ticket for the Get help window");
            super::self_service::record_viewed(service, peer, filed.id(), &viewed);
            DesktopReply::Filed {
                ticket: filed.id(),
                delivered: filed.is_delivered(),
            }
        }
        Err(e) => {
            warn!(error = %e, "could not file a ticket for the Get help window");
            DesktopReply::Error(for_the_window(e))
        }
    }
}

/// An agent error as the person at the window should read it.
fn for_the_window(e: AgentError) -> String {
    match e {
        AgentError::NotEnrolled { .. } => "this computer is not connected to the help desk yet (the Triage agent is not enrolled); please contact your IT team another way".into(),
        e @ (AgentError::InvalidRequest(_)
        | AgentError::OutboxFull { .. }
        | AgentError::TicketRefused(_)) => e.to_string(),
        other => format!("the ticket could not be filed: {other}"),
    }
}

/// The tickets this computer filed for `peer`, from the relay.
pub(crate) async fn my_tickets(service: &DesktopService, peer: &Peer) -> DesktopReply {
    let fetch = fetch_my_tickets(service.state_dir(), &peer.account);
    match tokio::time::timeout(MY_TICKETS_TIMEOUT, fetch).await {
        Err(_) => DesktopReply::Error(RELAY_UNREACHABLE.into()),
        Ok(Ok(mut tickets)) => {
            // The relay bounds the list; a relay that does not is not believed.
            tickets.truncate(MAX_MY_TICKETS as usize);
            DesktopReply::MyTickets(tickets)
        }
        Ok(Err(text)) => DesktopReply::Error(text),
    }
}

async fn fetch_my_tickets(
    state_dir: &Path,
    requester: &str,
) -> Result<Vec<EmployeeTicket>, String> {
    let enrollment = StateDir::new(state_dir).load().map_err(for_the_window)?;
    let session = Session::connect(&enrollment.relay, &enrollment.key, PeerKind::AgentOneShot)
        .await
        .map_err(describe)?;
    let request = Request::MyTickets {
        requester: requester.to_string(),
        limit: MAX_MY_TICKETS,
    };
    let response = session.request(&request).await;
    close(session).await;
    match response.map_err(describe)? {
        Response::MyTickets(tickets) => Ok(tickets),
        other => Err(format!(
            "the help desk answered `{}` when asked for your tickets; it may run another version of Triage",
            crate::enroll::response_name(&other)
        )),
    }
}

fn describe(e: ClientError) -> String {
    if is_transient(&e) {
        return RELAY_UNREACHABLE.into();
    }
    match e {
        ClientError::Remote(r) | ClientError::Refused(r) => {
            format!("the help desk could not list your tickets: {}", r.message)
        }
        other => format!("the help desk could not list your tickets: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_shared::error::{ErrorKind, RemoteError};

    #[test]
    fn relay_trouble_reads_as_the_network_and_refusals_as_themselves() {
        assert_eq!(
            describe(ClientError::Timeout("r:1".into())),
            RELAY_UNREACHABLE
        );
        let refused = describe(ClientError::Remote(RemoteError::new(
            ErrorKind::Unavailable,
            "not yet",
        )));
        assert_eq!(
            refused,
            "the help desk could not list your tickets: not yet"
        );
    }

    #[test]
    fn an_unenrolled_computer_is_explained_to_the_user() {
        let text = for_the_window(AgentError::NotEnrolled { dir: "/x".into() });
        assert!(text.contains("not connected to the help desk"), "{text}");
        assert!(!text.contains("triage-agent enroll"), "{text}");
    }
}
