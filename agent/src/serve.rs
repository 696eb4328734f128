//! Requests the relay routes *to* the agent (on streams the relay opens):
//! one [`Request`] frame in, one [`Response`] frame out, then the stream ends.
//!
//! [`dispatch`] is the pure core: later issues add an arm per request kind
//! the agent serves (live diagnostics, logs, approved scripts, ...).
//! Everything else is refused with `Unavailable` and a reason a technician
//! can read. [`answer`] wraps it with frame reading and writing over any
//! byte stream, so it is tested without QUIC.

use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tracing::{debug, warn, Instrument};
use triage_shared::codec::{read_frame, write_frame, CodecError};
use triage_shared::protocol::{ErrorKind, RemoteError, Request, Response};

/// How long the relay may take to send the request once it opened a stream.
pub const REQUEST_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The agent's answer to one routed request.
pub fn dispatch(request: &Request) -> Response {
    // Request kinds the agent serves get their own arm here as they arrive.
    Response::Error(not_served(request))
}

/// The refusal for a request kind this agent does not handle.
pub fn not_served(request: &Request) -> RemoteError {
    RemoteError::new(
        ErrorKind::Unavailable,
        format!("this agent does not serve {} yet", request.name()),
    )
}

/// What happened on one stream, for the log.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Answered(&'static str),
    /// The frame could not be decoded; an `InvalidInput` error was sent back.
    Garbled,
    /// The stream ended before any request arrived.
    Empty,
}

/// Reads one request from `recv`, writes the answer to `send`. A request
/// that does not decode is answered with `InvalidInput`; a broken stream is
/// an error (nothing can be answered on it).
pub async fn answer<R, W>(recv: &mut R, send: &mut W) -> Result<Outcome, CodecError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    match read_frame::<_, Request>(recv).await {
        Ok(Some(request)) => {
            write_frame(send, &dispatch(&request)).await?;
            Ok(Outcome::Answered(request.name()))
        }
        Ok(None) => Ok(Outcome::Empty),
        Err(e @ (CodecError::Garbled(_) | CodecError::FrameTooLarge { .. })) => {
            let refusal = RemoteError::new(
                ErrorKind::InvalidInput,
                format!("the agent could not read the request: {e}"),
            );
            write_frame(send, &Response::Error(refusal)).await?;
            Ok(Outcome::Garbled)
        }
        Err(e) => Err(e),
    }
}

/// Serves one QUIC stream the relay opened, within [`REQUEST_READ_TIMEOUT`].
pub(crate) async fn serve_stream(mut send: quinn::SendStream, mut recv: quinn::RecvStream) {
    let span = tracing::debug_span!("routed_request", stream = %send.id());
    async move {
        match tokio::time::timeout(REQUEST_READ_TIMEOUT, answer(&mut recv, &mut send)).await {
            Ok(Ok(outcome)) => debug!(?outcome, "routed request handled"),
            Ok(Err(e)) => warn!(error = %e, "routed request stream failed"),
            Err(_) => warn!("relay opened a stream but sent no request in time"),
        }
        let _ = send.finish();
    }
    .instrument(span)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_shared::codec::{decode_frame, encode};
    use triage_shared::TicketId;

    fn every_request() -> Vec<Request> {
        vec![
            Request::WhoAmI,
            Request::Heartbeat,
            Request::ListAgents,
            Request::ShowTicket {
                id: TicketId::new_random(),
            },
            Request::ListTickets {
                status: None,
                limit: 5,
            },
        ]
    }

    #[test]
    fn unserved_requests_are_refused_as_unavailable_naming_the_request() {
        for request in every_request() {
            match dispatch(&request) {
                Response::Error(e) => {
                    assert_eq!(e.kind, ErrorKind::Unavailable);
                    assert_eq!(
                        e.message,
                        format!("this agent does not serve {} yet", request.name())
                    );
                }
                other => panic!("{request:?} answered {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn a_request_frame_gets_one_response_frame() {
        let frame = encode(&Request::ListAgents).unwrap();
        let mut recv: &[u8] = &frame;
        let mut sent = Vec::new();
        assert_eq!(
            answer(&mut recv, &mut sent).await.unwrap(),
            Outcome::Answered("list_agents")
        );
        let response: Response = decode_frame(&sent).unwrap();
        assert_eq!(response, dispatch(&Request::ListAgents));
    }

    #[tokio::test]
    async fn a_garbled_request_is_answered_with_invalid_input() {
        let mut recv: &[u8] = &[0, 0, 0, 3, 250, 1, 2];
        let mut sent = Vec::new();
        assert_eq!(
            answer(&mut recv, &mut sent).await.unwrap(),
            Outcome::Garbled
        );
        match decode_frame::<Response>(&sent).unwrap() {
            Response::Error(e) => assert_eq!(e.kind, ErrorKind::InvalidInput),
            other => panic!("answered {other:?}"),
        }
    }

    #[tokio::test]
    async fn an_empty_stream_gets_no_answer_and_a_cut_one_is_an_error() {
        let mut recv: &[u8] = &[];
        let mut sent = Vec::new();
        assert_eq!(answer(&mut recv, &mut sent).await.unwrap(), Outcome::Empty);
        assert!(sent.is_empty());
        let frame = encode(&Request::WhoAmI).unwrap();
        let mut cut: &[u8] = &frame[..frame.len() - 1];
        assert!(matches!(
            answer(&mut cut, &mut sent).await,
            Err(CodecError::Truncated)
        ));
        assert!(sent.is_empty());
    }
}
