//! Driving a streamed request: send it, feed each answer frame to a
//! [`Receiver`], and handle the technician's stop.
//!
//! The request stream's sending half stays open while a `--follow` runs:
//! finishing it (on Ctrl-C, or when `stop` completes) is how the relay and
//! then the agent learn to stop; the agent answers with an `End` frame, so
//! even a stopped follow is verified before it is saved. Without
//! `--follow`, `stop` aborts the transfer and nothing is saved.

use super::Connected;
use crate::error::CliError;
use crate::receive::{Received, Receiver};
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;
use triage_shared::client::ClientError;
use triage_shared::codec::{read_frame, write_frame};
use triage_shared::limits::SCREENSHOT_CONSENT_TIMEOUT;
use triage_shared::protocol::{Request, Response};

/// Longest the CLI waits for the next frame. Longer than the relay's own
/// patience with the agent, so a silent agent is reported by the relay,
/// which knows more.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest the CLI waits for the first frame: a screenshot begins only once
/// the employee allowed it, and the relay's patience then is longer too.
pub const FIRST_FRAME_TIMEOUT: Duration =
    Duration::from_secs(SCREENSHOT_CONSENT_TIMEOUT.as_secs() + 30);
/// How long a stopped `--follow` may take to deliver its end.
pub const STOP_WAIT: Duration = Duration::from_secs(20);

/// Resolves on Ctrl-C (never, where Ctrl-C cannot be caught).
pub async fn ctrl_c() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Sends `request` and receives its streamed answer into `receiver`.
pub async fn receive(
    conn: &Connected,
    request: &Request,
    mut receiver: Receiver<'_>,
    follow: bool,
    stop: impl Future<Output = ()>,
) -> Result<Received, CliError> {
    tracing::debug!(request = request.name(), "asking the relay for a stream");
    let (mut send, mut recv) = conn
        .session
        .connection()
        .open_bi()
        .await
        .map_err(ClientError::from)?;
    write_frame(&mut send, request)
        .await
        .map_err(ClientError::from)?;
    if !follow {
        let _ = send.finish();
    }
    tokio::pin!(stop);
    let mut stopping: Option<Instant> = None;
    let mut idle = FIRST_FRAME_TIMEOUT;
    loop {
        // A frame read is never dropped half way: the stop is handled beside it.
        let next = read_frame::<_, Response>(&mut recv);
        tokio::pin!(next);
        let deadline = Instant::now() + idle;
        let got = loop {
            let until = stopping.map_or(deadline, |s| s.min(deadline));
            tokio::select! {
                got = &mut next => break Some(got),
                _ = &mut stop, if stopping.is_none() => {
                    if !follow {
                        let bytes = receiver.bytes();
                        return Err(receiver.fail(format!("interrupted after {bytes} bytes")));
                    }
                    let _ = send.finish();
                    stopping = Some(Instant::now() + STOP_WAIT);
                }
                _ = tokio::time::sleep_until(until) => break None,
            }
        };
        let got = match got {
            Some(got) => got,
            None if stopping.is_some() => {
                let reason = format!(
                    "the endpoint did not finish within {} s of being told to stop",
                    STOP_WAIT.as_secs()
                );
                return Err(receiver.fail(reason));
            }
            None => {
                let reason = format!(
                    "nothing arrived for {} s after {} bytes",
                    idle.as_secs(),
                    receiver.bytes()
                );
                return Err(receiver.fail(reason));
            }
        };
        idle = IDLE_TIMEOUT;
        match got {
            Ok(Some(Response::Transfer(frame))) => {
                if let Some(reason) = receiver.accept(frame)? {
                    return receiver.finish(reason);
                }
            }
            Ok(Some(Response::Error(e))) => return Err(receiver.remote_error(e)),
            Ok(Some(_)) => {
                let reason = format!(
                    "the relay answered `{}` with something unexpected; is it running a matching version of Triage?",
                    request.name()
                );
                return Err(receiver.fail(reason));
            }
            Ok(None) => {
                let bytes = receiver.bytes();
                let reason = format!(
                    "the relay ended the stream after {bytes} bytes, before the end of the body"
                );
                return Err(receiver.fail(reason));
            }
            Err(e) => {
                let bytes = receiver.bytes();
                let reason = format!("lost the connection to the relay after {bytes} bytes ({e})");
                return Err(receiver.fail(reason));
            }
        }
    }
}
