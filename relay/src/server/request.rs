//! What every handler shares: the [`Peer`] a request comes from, the
//! [`Responder`] its answer goes to, the [`AuditNote`] a handler adds to
//! the dispatcher's audit entry, and small helpers. A leaf: it imports no
//! other server module, so every module may import it.

use crate::audit;
use crate::store::StoreError;
use serde_json::Value;
use std::time::Duration;
use tokio::time::timeout;
use tracing::{debug, error, warn};
use triage_shared::codec::encode;
use triage_shared::identity::PublicKey;
use triage_shared::limits::MAX_LIST_ITEMS;
use triage_shared::protocol::{ErrorKind, RemoteError, Response, SessionIdentity};
use triage_shared::remote::AgentReply;
use triage_shared::{AgentId, TicketId};

/// How long the relay waits for a client to take its response.
pub const RESPONSE_WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// Who is on the other end of a connection, fixed at hello time (and
/// re-read from the store before every request, `revoke::current_peer`).
#[derive(Debug)]
pub(crate) struct Peer {
    pub identity: SessionIdentity,
    pub key: PublicKey,
}

impl Peer {
    /// The name recorded as the author of comments and events.
    pub(super) fn actor(&self) -> String {
        match &self.identity {
            SessionIdentity::Technician { name, .. } => name.clone(),
            SessionIdentity::Agent { hostname, .. } => format!("agent:{hostname}"),
            SessionIdentity::Unenrolled => "unenrolled".into(),
        }
    }

    /// Who this peer is in the audit log.
    pub(super) fn audit_actor(&self) -> String {
        match &self.identity {
            SessionIdentity::Technician { name, .. } => audit::technician_actor(name),
            SessionIdentity::Agent { id, .. } => audit::agent_actor(*id),
            SessionIdentity::Unenrolled => audit::key_actor(&self.key),
        }
    }

    /// The technician's name; authorization has already made sure there is one.
    pub(super) fn technician_name(&self) -> Result<&str, RemoteError> {
        match &self.identity {
            SessionIdentity::Technician { name, .. } => Ok(name),
            _ => Err(RemoteError::new(
                ErrorKind::Unauthenticated,
                "only a registered technician may send this",
            )),
        }
    }

    pub(super) fn agent_id(&self) -> Result<AgentId, RemoteError> {
        match &self.identity {
            SessionIdentity::Agent { id, .. } => Ok(*id),
            _ => Err(RemoteError::new(
                ErrorKind::Unauthenticated,
                "only an enrolled agent may send this",
            )),
        }
    }
}

/// What a handler adds to its audit entry: facts, and an outcome other
/// than the plain "ok" / "refused: …".
#[derive(Debug, Default)]
pub(super) struct AuditNote {
    pub details: Value,
    pub outcome: Option<String>,
}

/// What the technician hears about a failure: a refusal as it is, an
/// internal error as a generic message (the details go to the log).
pub(super) fn to_remote(e: StoreError) -> RemoteError {
    match e {
        StoreError::Refused(refusal) => refusal,
        e => {
            error!(error = %e, "request failed");
            RemoteError::new(
                ErrorKind::Internal,
                "the relay could not complete this request (storage error); try again, and tell the relay admin if it persists",
            )
        }
    }
}

/// Puts the ticket a request is about on its tracing span.
pub(super) fn record_ticket(id: TicketId) {
    tracing::Span::current().record("ticket_id", tracing::field::display(id));
}

/// The number of items to list: `0` means "as many as allowed".
pub(super) fn list_limit(asked: u32) -> usize {
    match asked as usize {
        0 => MAX_LIST_ITEMS,
        n => n.min(MAX_LIST_ITEMS),
    }
}

/// A short name for a reply, for messages (never its contents).
pub(super) fn reply_kind(reply: &AgentReply) -> &'static str {
    reply.into()
}

/// The technician-facing half of a request stream. Most requests answer with
/// one frame; a script run answers with many as they arrive. If the client
/// stops reading, later frames are dropped (the work itself carries on, so
/// a run is still recorded).
pub(super) struct Responder {
    send: quinn::SendStream,
    gone: bool,
    /// The kind of the last error frame sent (the request's outcome in
    /// the metrics, streamed or not).
    error: Option<ErrorKind>,
}

impl Responder {
    pub(super) fn new(send: quinn::SendStream) -> Self {
        Responder {
            send,
            gone: false,
            error: None,
        }
    }

    /// The kind of the last error this stream answered, if any.
    pub(super) fn error_sent(&self) -> Option<ErrorKind> {
        self.error
    }

    /// Writes one response frame; `false` once the client is gone.
    pub(super) async fn send(&mut self, response: &Response) -> bool {
        if let Response::Error(e) = response {
            self.error = Some(e.kind);
        }
        if self.gone {
            return false;
        }
        let frame = match encode(response) {
            Ok(frame) => frame,
            Err(e) => {
                warn!(error = %e, "response cannot be encoded");
                self.error = Some(ErrorKind::Internal);
                let fallback = Response::Error(RemoteError::new(
                    ErrorKind::Internal,
                    format!(
                        "the answer is too large to send ({e}); ask for less, e.g. a smaller --limit"
                    ),
                ));
                match encode(&fallback) {
                    Ok(frame) => frame,
                    Err(_) => return false,
                }
            }
        };
        match timeout(RESPONSE_WRITE_TIMEOUT, self.send.write_all(&frame)).await {
            Ok(Ok(())) => true,
            Ok(Err(e)) => {
                debug!(error = %e, "client stopped reading the response");
                self.gone = true;
                false
            }
            Err(_) => {
                debug!("client did not take the response in time");
                let _ = self.send.reset(0u32.into());
                self.gone = true;
                false
            }
        }
    }

    pub(super) fn finish(mut self) {
        if !self.gone {
            let _ = self.send.finish();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_shared::transfer::TransferFrame;

    #[test]
    fn list_limit_is_clamped() {
        assert_eq!(list_limit(0), MAX_LIST_ITEMS);
        assert_eq!(list_limit(5), 5);
        assert_eq!(list_limit(MAX_LIST_ITEMS as u32), MAX_LIST_ITEMS);
        assert_eq!(list_limit(u32::MAX), MAX_LIST_ITEMS);
    }

    #[test]
    fn replies_are_named_as_before() {
        // Refusals name the wrong reply an agent sent; the names predate strum.
        let key = triage_shared::identity::KeyPair::generate().public_key();
        let named = [
            (AgentReply::Pong, "pong"),
            (
                AgentReply::RosterInstalled { version: 1 },
                "roster_installed",
            ),
            (
                AgentReply::Error(RemoteError::new(ErrorKind::Internal, "x")),
                "error",
            ),
            (AgentReply::Transfer(TransferFrame::KeepAlive), "transfer"),
            (AgentReply::OrgKeyRotated { key }, "org_key_rotated"),
            (
                AgentReply::Run(triage_shared::remote::RunEvent::Started),
                "run",
            ),
        ];
        for (reply, name) in named {
            assert_eq!(reply_kind(&reply), name);
        }
    }

    #[test]
    fn peers_are_named_for_the_ticket_history_and_the_audit_log() {
        let key = triage_shared::identity::KeyPair::generate().public_key();
        let tech = Peer {
            identity: SessionIdentity::Technician {
                name: "carol".into(),
                roles: vec![],
            },
            key,
        };
        assert_eq!(tech.actor(), "carol");
        assert_eq!(tech.audit_actor(), "technician:carol");
        assert_eq!(tech.technician_name(), Ok("carol"));
        assert!(tech.agent_id().is_err());
        let id = AgentId::new_random();
        let agent = Peer {
            identity: SessionIdentity::Agent {
                id,
                hostname: "pc".into(),
            },
            key,
        };
        assert_eq!(agent.actor(), "agent:pc");
        assert_eq!(agent.audit_actor(), format!("agent:{id}"));
        assert_eq!(agent.agent_id(), Ok(id));
        let stranger = Peer {
            identity: SessionIdentity::Unenrolled,
            key,
        };
        assert_eq!(stranger.audit_actor(), format!("key:{key}"));
        assert_eq!(
            stranger.technician_name().unwrap_err().kind,
            ErrorKind::Unauthenticated
        );
    }
}
