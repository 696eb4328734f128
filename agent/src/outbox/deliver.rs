//! Delivering the outbox: pending messages in queue order, each deleted only
//! once the relay acknowledged it. A message the relay refuses for good is
//! set aside (so it cannot block the queue); anything else stops the round,
//! and the message is tried again next time.

use super::{Loaded, Message, Outbox, CORRUPT_DIR, REFUSED_DIR};
use std::future::Future;
use tracing::{debug, warn};
use triage_shared::client::{ClientError, Session};
use triage_shared::error::{ErrorKind, RemoteError};
use triage_shared::protocol::{Request, Response};

/// Something that carries one request to the relay and brings back its
/// answer: a [`Session`], or a stand-in in tests.
pub trait Transport {
    fn send(&self, request: &Request)
        -> impl Future<Output = Result<Response, ClientError>> + Send;
}

impl Transport for Session {
    fn send(
        &self,
        request: &Request,
    ) -> impl Future<Output = Result<Response, ClientError>> + Send {
        self.request(request)
    }
}

/// What one delivery round did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Report {
    /// File names the relay acknowledged (and that were deleted).
    pub delivered: Vec<String>,
    /// File names the relay refused for good (moved to `refused/`).
    pub refused: Vec<(String, RemoteError)>,
    /// Files that could not be read (moved to `corrupt/`).
    pub corrupt: usize,
}

/// Whether a refusal means "never" rather than "not now": the message
/// itself is wrong for the relay, so sending it again cannot help.
pub fn is_permanent(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::InvalidInput
            | ErrorKind::NotFound
            | ErrorKind::Forbidden
            | ErrorKind::Conflict
            | ErrorKind::InvalidTransition
    )
}

/// Delivers pending messages oldest first, stopping after `until` (a file
/// name) when given. Returns what was done, and the error that stopped
/// the round early, if one did (the relay went away, or refused us as a
/// whole rather than one message).
pub async fn deliver_pending<T: Transport>(
    outbox: &Outbox,
    transport: &T,
    until: Option<&str>,
) -> (Report, Result<(), ClientError>) {
    let mut report = Report::default();
    let pending = match outbox.pending() {
        Ok(p) => p,
        Err(e) => {
            warn!(error = %e, "cannot list the outbox");
            return (report, Ok(()));
        }
    };
    for item in pending {
        let last = until == Some(item.file_name.as_str());
        let message = match outbox.read(&item) {
            Loaded::Message(m) => m,
            Loaded::Vanished => {
                debug!(file = %item.file_name, "already handled by another process");
                if last {
                    break;
                }
                continue;
            }
            Loaded::Corrupt(why) => {
                outbox.set_aside(&item, CORRUPT_DIR, &why);
                report.corrupt += 1;
                if last {
                    break;
                }
                continue;
            }
        };
        match transport.send(&message.request()).await {
            Ok(response) => {
                if let Err(e) = check(&message, &response) {
                    return (report, Err(e));
                }
                if let Err(e) = outbox.remove(&item) {
                    warn!(error = %e, "a delivered message could not be deleted; it will be sent again, which is harmless");
                }
                debug!(file = %item.file_name, "outbox message delivered");
                report.delivered.push(item.file_name);
            }
            Err(ClientError::Remote(refusal)) if is_permanent(refusal.kind) => {
                outbox.set_aside(
                    &item,
                    REFUSED_DIR,
                    &format!("the relay refused it: {refusal}"),
                );
                report.refused.push((item.file_name, refusal));
            }
            Err(e) => return (report, Err(e)),
        }
        if last {
            break;
        }
    }
    (report, Ok(()))
}

/// The acknowledgement a message expects: its own ticket id stored, or `Ok`.
fn check(message: &Message, response: &Response) -> Result<(), ClientError> {
    match (message, response) {
        (Message::Ticket { ticket, .. }, Response::TicketStored { id, .. }) if *id == ticket.id => {
            Ok(())
        }
        (Message::Update { .. } | Message::Deflection(_), Response::Ok) => Ok(()),
        _ => Err(ClientError::Protocol(format!(
            "the relay acknowledged {} with something else; it may run an incompatible version",
            message.request().name()
        ))),
    }
}
