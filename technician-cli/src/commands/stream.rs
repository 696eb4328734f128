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
use tokio::io::AsyncRead;
use tokio::time::Instant;
use triage_shared::client::ClientError;
use triage_shared::codec::{read_frame, write_frame};
use triage_shared::limits::SCREENSHOT_CONSENT_TIMEOUT;
use triage_shared::protocol::{Request, Response};
use triage_shared::stream_timer::{AfterStop, Decision, Event, Patience, StreamTimer};

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

const PATIENCE: Patience = Patience {
    first_frame: FIRST_FRAME_TIMEOUT,
    next_frame: IDLE_TIMEOUT,
    stop_grace: STOP_WAIT,
    // Stopping never gives a silent stream longer than the frame wait.
    after_stop: AfterStop::GraceOrFrame,
};

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
    receiver: Receiver<'_>,
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
    let stop_sending = move || {
        let _ = send.finish();
    };
    answer(
        &mut recv,
        stop_sending,
        request.name(),
        receiver,
        follow,
        stop,
    )
    .await
}

/// Reads the answer to a sent request from `recv`; `stop_sending` finishes
/// the request's sending half (how a `--follow` is told to stop).
async fn answer<R: AsyncRead + Unpin>(
    recv: &mut R,
    stop_sending: impl FnOnce(),
    request_name: &str,
    mut receiver: Receiver<'_>,
    follow: bool,
    stop: impl Future<Output = ()>,
) -> Result<Received, CliError> {
    tokio::pin!(stop);
    let mut stop_sending = Some(stop_sending);
    let mut timer = StreamTimer::new(PATIENCE, Instant::now());
    loop {
        // A frame read is never dropped half way: the stop is handled beside it.
        let next = read_frame::<_, Response>(recv);
        tokio::pin!(next);
        let got = loop {
            tokio::select! {
                got = &mut next => break Some(got),
                _ = &mut stop, if timer.stop_deadline().is_none() => {
                    if !follow {
                        let bytes = receiver.bytes();
                        return Err(receiver.fail(format!("interrupted after {bytes} bytes")));
                    }
                    if let Some(stop_sending) = stop_sending.take() {
                        stop_sending();
                    }
                    timer.step(Event::Stop, Instant::now());
                }
                _ = tokio::time::sleep_until(timer.deadline()) => break None,
            }
        };
        let got = match got {
            Some(got) => got,
            None if timer.expired() == Decision::StopGraceOver => {
                let reason = format!(
                    "the endpoint did not finish within {} s of being told to stop",
                    STOP_WAIT.as_secs()
                );
                return Err(receiver.fail(reason));
            }
            None => {
                let reason = format!(
                    "nothing arrived for {} s after {} bytes",
                    timer.patience().as_secs(),
                    receiver.bytes()
                );
                return Err(receiver.fail(reason));
            }
        };
        match got {
            Ok(Some(Response::Transfer(frame))) => {
                if let Some(reason) = receiver.accept(frame)? {
                    return receiver.finish(reason);
                }
                // Counted from when the frame was handled, as the next read begins.
                timer.step(Event::Frame, Instant::now());
            }
            Ok(Some(Response::Error(e))) => return Err(receiver.remote_error(e)),
            Ok(Some(_)) => {
                let reason = format!(
                    "the relay answered `{request_name}` with something unexpected; is it running a matching version of Triage?"
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

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
