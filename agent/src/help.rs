//! "Get help": an employee's request becomes a ticket with a diagnostics
//! snapshot attached.
//!
//! The ticket id is made here, before anything is sent, and the relay stores
//! a ticket once per id. So when an acknowledgement is lost, sending the
//! same request again is safe, and [`file_ticket`] does exactly that for
//! network failures (never for a refusal).

use crate::backoff::random_backoff;
use crate::enroll::{close, response_name};
use crate::error::{from_client, is_transient, AgentError};
use crate::state::{Enrollment, StateDir};
use std::future::Future;
use std::path::Path;
use std::time::Duration;
use tracing::{info, warn, Instrument};
use triage_shared::client::{ClientError, Session};
use triage_shared::codec::encode;
use triage_shared::diagnostics::Snapshot;
use triage_shared::protocol::{
    ErrorKind, PeerKind, RemoteError, Request, Response, SessionIdentity,
};
use triage_shared::ticket::{Category, NewTicket, Priority, Source};
use triage_shared::TicketId;

/// Times a submission is tried before giving up on an unreachable relay.
pub const SUBMIT_ATTEMPTS: u32 = 4;

/// What the employee asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct HelpRequest {
    pub title: String,
    pub description: String,
    pub category: Category,
    pub priority: Priority,
    /// The person asking; see [`crate::host::current_requester`].
    pub requester: String,
}

/// Files `request` as a ticket from this agent, with a fresh snapshot.
pub async fn file_ticket(state_dir: &Path, request: HelpRequest) -> Result<TicketId, AgentError> {
    let enrollment = StateDir::new(state_dir).load()?;
    let ticket = NewTicket {
        id: TicketId::new_random(),
        title: request.title,
        description: request.description,
        category: request.category,
        priority: request.priority,
        source: Source::Employee,
        requester: request.requester,
    };
    ticket.validate()?;
    let id = ticket.id;
    let span = tracing::info_span!("file_ticket", agent_id = %enrollment.agent_id, ticket_id = %id);
    async move {
        let snapshot = tokio::task::spawn_blocking(crate::diagnostics::collect)
            .await
            .map_err(|e| AgentError::Diagnostics(e.to_string()))?;
        let submit = submit_request(ticket, snapshot);
        let response = with_retries(SUBMIT_ATTEMPTS, random_backoff, || {
            submit_once(&enrollment, &submit)
        })
        .await;
        stored_id(&enrollment.relay.addr, id, response)
    }
    .instrument(span)
    .await
}

/// The submission, with the snapshot left out in the unlikely case that it
/// would make the frame too large: the ticket matters more than its attachment.
pub fn submit_request(ticket: NewTicket, snapshot: Snapshot) -> Request {
    let full = Request::SubmitTicket {
        ticket,
        snapshot: Some(snapshot),
    };
    if encode(&full).is_ok() {
        return full;
    }
    warn!("the diagnostics snapshot is too large to send; filing the ticket without it");
    match full {
        Request::SubmitTicket { ticket, .. } => Request::SubmitTicket {
            ticket,
            snapshot: None,
        },
        other => other,
    }
}

/// Runs `op` up to `attempts` times while it fails with a transient error,
/// waiting `delay(n)` before retry `n` (0-based).
pub async fn with_retries<T, F, Fut>(
    attempts: u32,
    delay: impl Fn(u32) -> Duration,
    mut op: F,
) -> Result<T, ClientError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ClientError>>,
{
    let mut retry = 0;
    loop {
        match op().await {
            Err(e) if is_transient(&e) && retry + 1 < attempts => {
                let wait = delay(retry);
                warn!(error = %e, retry_in = ?wait, "relay unreachable; trying again");
                tokio::time::sleep(wait).await;
                retry += 1;
            }
            other => return other,
        }
    }
}

/// One connection, one submission.
async fn submit_once(enrollment: &Enrollment, request: &Request) -> Result<Response, ClientError> {
    let session = Session::connect(&enrollment.relay, &enrollment.key, PeerKind::Agent).await?;
    if matches!(session.identity(), SessionIdentity::Unenrolled) {
        close(session).await;
        return Err(ClientError::Refused(RemoteError::new(
            ErrorKind::Unauthenticated,
            "the relay does not know this agent's key",
        )));
    }
    let result = session.request(request).await;
    close(session).await;
    result
}

/// Interprets the relay's answer to a submission of ticket `id`.
fn stored_id(
    addr: &str,
    id: TicketId,
    response: Result<Response, ClientError>,
) -> Result<TicketId, AgentError> {
    match response {
        Ok(Response::TicketStored {
            id: stored,
            created,
        }) if stored == id => {
            if created {
                info!("ticket filed");
            } else {
                info!("ticket was already filed by an earlier attempt");
            }
            Ok(id)
        }
        Ok(Response::TicketStored { .. }) => Err(AgentError::UnexpectedResponse {
            request: "submit_ticket",
            got: "another ticket's id",
        }),
        Ok(other) => Err(AgentError::UnexpectedResponse {
            request: "submit_ticket",
            got: response_name(&other),
        }),
        Err(ClientError::Remote(e)) if e.kind == ErrorKind::Unauthenticated => {
            Err(AgentError::NotRecognised(e.message))
        }
        Err(ClientError::Remote(e)) => Err(AgentError::TicketRefused(e)),
        Err(e) => Err(from_client(addr, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use triage_shared::diagnostics::{DiskInfo, MemoryInfo};
    use triage_shared::limits::{MAX_SNAPSHOT_ITEMS, MAX_SNAPSHOT_STRING_LEN};

    fn no_wait(_: u32) -> Duration {
        Duration::ZERO
    }

    fn transient() -> ClientError {
        ClientError::Timeout("relay:1".into())
    }

    #[tokio::test]
    async fn transient_failures_are_retried_until_success() {
        let calls = Cell::new(0);
        let result = with_retries(SUBMIT_ATTEMPTS, no_wait, || {
            calls.set(calls.get() + 1);
            let n = calls.get();
            async move {
                if n < 3 {
                    Err(transient())
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(result.unwrap(), 3);
    }

    #[tokio::test]
    async fn retries_stop_after_the_last_attempt() {
        let calls = Cell::new(0);
        let result: Result<(), _> = with_retries(SUBMIT_ATTEMPTS, no_wait, || {
            calls.set(calls.get() + 1);
            async { Err(transient()) }
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls.get(), SUBMIT_ATTEMPTS);
    }

    #[tokio::test]
    async fn a_refusal_is_not_retried() {
        let calls = Cell::new(0);
        let result: Result<(), _> = with_retries(SUBMIT_ATTEMPTS, no_wait, || {
            calls.set(calls.get() + 1);
            async {
                Err(ClientError::Remote(RemoteError::new(
                    ErrorKind::InvalidInput,
                    "bad",
                )))
            }
        })
        .await;
        assert!(matches!(result, Err(ClientError::Remote(_))));
        assert_eq!(calls.get(), 1);
    }

    fn ticket() -> NewTicket {
        NewTicket {
            id: TicketId::new_random(),
            title: "Printer on fire".into(),
            description: String::new(),
            category: Category::Hardware,
            priority: Priority::Urgent,
            source: Source::Employee,
            requester: "alice".into(),
        }
    }

    fn snapshot() -> Snapshot {
        let mut raw = crate::diagnostics::shape::tests::raw();
        raw.memory = MemoryInfo {
            total_bytes: 1,
            used_bytes: 1,
            available_bytes: 0,
            swap_total_bytes: 0,
            swap_used_bytes: 0,
        };
        crate::diagnostics::shape::assemble(raw)
    }

    #[test]
    fn a_normal_snapshot_travels_with_the_ticket() {
        let t = ticket();
        match submit_request(t.clone(), snapshot()) {
            Request::SubmitTicket { ticket, snapshot } => {
                assert_eq!(ticket, t);
                assert!(snapshot.is_some());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_oversized_snapshot_is_dropped_but_the_ticket_is_sent() {
        let mut big = snapshot();
        let long = "d".repeat(MAX_SNAPSHOT_STRING_LEN);
        big.disks = vec![
            DiskInfo {
                name: long.clone(),
                mount_point: long.clone(),
                file_system: long,
                total_bytes: 0,
                available_bytes: 0,
                removable: false
            };
            MAX_SNAPSHOT_ITEMS
        ];
        big.validate().unwrap();
        let t = ticket();
        match submit_request(t.clone(), big) {
            Request::SubmitTicket { ticket, snapshot } => {
                assert_eq!(ticket, t);
                assert!(snapshot.is_none());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_relay_answer_is_checked_against_our_ticket_id() {
        let id = TicketId::new_random();
        let ok = stored_id("r:1", id, Ok(Response::TicketStored { id, created: false }));
        assert_eq!(ok.unwrap(), id);
        let other = stored_id(
            "r:1",
            id,
            Ok(Response::TicketStored {
                id: TicketId::new_random(),
                created: true,
            }),
        );
        assert!(matches!(other, Err(AgentError::UnexpectedResponse { .. })));
        let refused = stored_id(
            "r:1",
            id,
            Err(ClientError::Remote(RemoteError::new(
                ErrorKind::InvalidInput,
                "title too long",
            ))),
        );
        assert!(refused.unwrap_err().to_string().contains("title too long"));
        let unknown = stored_id(
            "r:1",
            id,
            Err(ClientError::Remote(RemoteError::new(
                ErrorKind::Unauthenticated,
                "who?",
            ))),
        );
        assert!(matches!(unknown, Err(AgentError::NotRecognised(_))));
    }

    #[tokio::test]
    async fn an_invalid_request_is_refused_before_anything_is_sent() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = StateDir::new(tmp.path());
        dir.write_key(&triage_shared::identity::KeyPair::generate())
            .unwrap();
        let relay = "triage://127.0.0.1:0?fp=0000000000000000000000000000000000000000000000000000000000000000".parse().unwrap();
        dir.save_enrollment(&relay, triage_shared::AgentId::new_random())
            .unwrap();
        let request = HelpRequest {
            title: "two\nlines".into(),
            description: String::new(),
            category: Category::Other,
            priority: Priority::Normal,
            requester: "alice".into(),
        };
        let err = file_ticket(tmp.path(), request).await.unwrap_err();
        assert!(matches!(err, AgentError::InvalidRequest(_)), "{err}");
    }

    #[tokio::test]
    async fn filing_without_enrollment_says_how_to_enroll() {
        let tmp = tempfile::tempdir().unwrap();
        let request = HelpRequest {
            title: "help".into(),
            description: String::new(),
            category: Category::Other,
            priority: Priority::Normal,
            requester: "alice".into(),
        };
        let err = file_ticket(tmp.path(), request).await.unwrap_err();
        assert!(matches!(err, AgentError::NotEnrolled { .. }), "{err}");
    }
}
