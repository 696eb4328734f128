//! Splicing a streamed body (a log, a screenshot) from an agent's stream to
//! a technician's, one frame at a time.
//!
//! ```text
//! agent frame ─► decode (≤ one frame in memory) ─► TransferCheck (order, sizes,
//!     count, digest) ─► [attachment copy, ≤ MAX_ATTACHMENT_LEN] ─► technician
//! ```
//!
//! The relay never holds more than one frame of a body (plus an attachment
//! copy when `--attach` asks, bounded). It reads the next agent frame only
//! after the technician's stream took the last one, so a slow technician
//! slows the agent down through QUIC flow control. The last frame (`End`
//! or an error) is handed back unsent, so the caller can record the pull
//! before the technician learns how it ended.
//!
//! Each agent frame must come within [`TRANSFER_IDLE_TIMEOUT`] (a quiet
//! followed log sends keep-alives); the first one within the plan's
//! `first_frame_within` (longer for a screenshot, which waits for consent). When the technician finishes their
//! sending half during a `--follow`, the agent is told to stop and has
//! [`STOP_GRACE`] to send its `End`; when the technician's stream breaks,
//! the pull is abandoned at once.

use super::agent_link::{AgentStream, ReplyError};
use super::request::{reply_kind, Responder};
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;
use triage_shared::limits::SCREENSHOT_CONSENT_TIMEOUT;
use triage_shared::protocol::{ErrorKind, RemoteError, Response};
use triage_shared::remote::AgentReply;
use triage_shared::stream_timer::{AfterStop, Decision, Event, Patience, StreamTimer};
use triage_shared::transfer::{
    ContentDigest, EndReason, Step, TransferCheck, TransferFrame, TransferStart, MAX_LOG_PATH_LEN,
};

/// Logs and screenshots one agent may be sending at once (each also takes
/// one of the agent's `MAX_COMMANDS_PER_AGENT` command slots).
pub const MAX_TRANSFERS_PER_AGENT: usize = 4;
/// How long the relay waits for each frame of a body from the agent.
pub const TRANSFER_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the relay waits for a screenshot to begin: the employee has
/// `SCREENSHOT_CONSENT_TIMEOUT` to allow it, then the window captures and
/// the agent answers, so the agent's own refusal arrives before this.
pub const SCREENSHOT_FIRST_FRAME_WAIT: Duration =
    Duration::from_secs(SCREENSHOT_CONSENT_TIMEOUT.as_secs() + 15);
/// How long an agent has to end a followed log once told to stop.
pub const STOP_GRACE: Duration = Duration::from_secs(10);
/// Largest body `--attach` stores on a ticket.
pub const MAX_ATTACHMENT_LEN: u64 = 4 * 1024 * 1024;

/// Where agent replies come from.
pub(super) trait Source {
    type Stopper: Stop;
    /// The means to tell the agent to stop, usable while a read is pending.
    fn stopper(&mut self) -> Self::Stopper;
    fn next(
        &mut self,
        wait: Duration,
    ) -> impl Future<Output = Result<Option<AgentReply>, ReplyError>> + Send;
    fn label(&self) -> String;
}

pub(super) trait Stop {
    /// Tells the agent to stop (ends the relay's sending half).
    fn stop(self);
}

impl Stop for Option<quinn::SendStream> {
    fn stop(self) {
        if let Some(mut send) = self {
            let _ = send.finish();
        }
    }
}

impl Source for AgentStream {
    type Stopper = Option<quinn::SendStream>;

    fn stopper(&mut self) -> Self::Stopper {
        self.take_send()
    }

    fn next(
        &mut self,
        wait: Duration,
    ) -> impl Future<Output = Result<Option<AgentReply>, ReplyError>> + Send {
        AgentStream::next(self, wait)
    }

    fn label(&self) -> String {
        AgentStream::label(self)
    }
}

/// Where frames go to the technician.
pub(super) trait Sink {
    /// `false` once the technician is gone.
    fn send(&mut self, response: &Response) -> impl Future<Output = bool> + Send;
}

impl Sink for Responder {
    fn send(&mut self, response: &Response) -> impl Future<Output = bool> + Send {
        Responder::send(self, response)
    }
}

/// What the technician's sending half did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TechSignal {
    /// Finished cleanly: "stop following".
    Finished,
    /// Broke: the technician is gone.
    Gone,
}

/// Waits for the technician's sending half to finish or break.
pub(super) async fn technician_signal(mut recv: quinn::RecvStream) -> TechSignal {
    let mut buf = [0u8; 256];
    loop {
        match recv.read(&mut buf).await {
            Ok(None) => return TechSignal::Finished,
            // Nothing more is expected after the request; stray bytes are ignored.
            Ok(Some(_)) => {}
            Err(_) => return TechSignal::Gone,
        }
    }
}

/// How a splice is to treat the body.
#[derive(Debug, Clone, Copy)]
pub(super) struct Plan {
    /// A followed log: a finished technician half means "stop".
    pub follow: bool,
    /// Keep a copy for an attachment, refusing bodies larger than this.
    pub keep: Option<u64>,
    /// How long the first frame may take (later ones: [`TRANSFER_IDLE_TIMEOUT`]).
    pub first_frame_within: Duration,
}

/// How a splice ended.
#[derive(Debug)]
pub(super) enum Ending {
    /// The agent's `End`, checked; still to be sent to the technician.
    Ended {
        reason: EndReason,
        bytes: u64,
        sha256: ContentDigest,
    },
    /// The agent refused before the body began (its error, as it said it).
    Refused(RemoteError),
    /// The relay refused the body when it was announced (too large to attach).
    Declined(RemoteError),
    /// Something failed after the body began, or the agent misbehaved.
    Failed(RemoteError),
    /// The technician went away; there is no one to tell.
    TechnicianGone,
}

#[derive(Debug)]
pub(super) struct Spliced {
    pub ending: Ending,
    pub start: Option<TransferStart>,
    /// Body bytes forwarded.
    pub bytes: u64,
    /// The body, when `Plan::keep` asked and the body fit.
    pub kept: Option<Vec<u8>>,
}

impl Spliced {
    /// The frame that tells the technician how it ended, if anyone listens.
    pub fn last_frame(&self) -> Option<Response> {
        match &self.ending {
            Ending::Ended {
                reason,
                bytes,
                sha256,
            } => Some(Response::Transfer(TransferFrame::End(
                triage_shared::transfer::TransferEnd {
                    bytes: *bytes,
                    sha256: *sha256,
                    reason: *reason,
                },
            ))),
            Ending::Refused(e) | Ending::Declined(e) | Ending::Failed(e) => {
                Some(Response::Error(e.clone()))
            }
            Ending::TechnicianGone => None,
        }
    }
}

fn failed(message: String) -> Ending {
    Ending::Failed(RemoteError::new(ErrorKind::Unavailable, message))
}

/// Forwards `source`'s body to `sink` until it ends; see the module docs.
pub(super) async fn splice<S: Source, K: Sink>(
    source: &mut S,
    sink: &mut K,
    technician: impl Future<Output = TechSignal>,
    plan: Plan,
) -> Spliced {
    tokio::pin!(technician);
    let mut check = TransferCheck::default();
    let mut kept: Option<Vec<u8>> = plan.keep.map(|_| Vec::new());
    let mut listening = true;
    let patience = Patience {
        first_frame: plan.first_frame_within,
        next_frame: TRANSFER_IDLE_TIMEOUT,
        stop_grace: STOP_GRACE,
        after_stop: AfterStop::GraceOnly,
    };
    let mut timer = StreamTimer::new(patience, Instant::now());
    let label = source.label();
    let done = |ending, check: &TransferCheck, kept: Option<Vec<u8>>| Spliced {
        ending,
        start: check.start().cloned(),
        bytes: check.bytes(),
        kept,
    };
    let mut stopper = Some(source.stopper());
    loop {
        let wait = timer.deadline().saturating_duration_since(Instant::now());
        // One read per frame, never dropped half way (a frame read is not
        // cancel-safe): the technician's signal is handled beside it.
        let next = source.next(wait);
        tokio::pin!(next);
        let reply = loop {
            let grace = async {
                match timer.stop_deadline() {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                reply = &mut next => break reply,
                signal = &mut technician, if listening => {
                    listening = false;
                    match signal {
                        TechSignal::Gone => return done(Ending::TechnicianGone, &check, None),
                        TechSignal::Finished if plan.follow => {
                            if let Some(stop) = stopper.take() {
                                stop.stop();
                            }
                            timer.step(Event::Stop, Instant::now());
                        }
                        TechSignal::Finished => {}
                    }
                }
                _ = grace => break Err(ReplyError::Timeout(label.clone(), STOP_GRACE.as_secs())),
            }
        };
        let frame = match reply {
            Ok(Some(AgentReply::Transfer(frame))) => frame,
            Ok(Some(AgentReply::Error(e))) if check.start().is_none() => {
                return done(Ending::Refused(e), &check, None)
            }
            Ok(Some(AgentReply::Error(e))) => {
                let e = RemoteError::new(
                    e.kind,
                    format!(
                        "agent {label} failed after sending {} bytes: {}",
                        check.bytes(),
                        e.message
                    ),
                );
                return done(Ending::Failed(e), &check, None);
            }
            Ok(Some(other)) => {
                let e = RemoteError::new(
                    ErrorKind::Internal,
                    format!(
                        "agent {label} answered with {} instead of a body; check the agent's version",
                        reply_kind(&other)
                    ),
                );
                return done(Ending::Failed(e), &check, None);
            }
            Ok(None) => {
                let m = format!(
                    "agent {label} ended the stream after {} bytes without finishing the body",
                    check.bytes()
                );
                return done(failed(m), &check, None);
            }
            Err(ReplyError::Timeout(..)) => {
                let m = match timer.expired() {
                    Decision::StopGraceOver => format!(
                        "agent {label} did not finish within {} s of being told to stop",
                        STOP_GRACE.as_secs()
                    ),
                    _ => format!(
                        "agent {label} sent nothing for {} s after {} bytes; the relay stopped waiting",
                        timer.patience().as_secs(),
                        check.bytes()
                    ),
                };
                return done(
                    Ending::Failed(RemoteError::new(ErrorKind::Timeout, m)),
                    &check,
                    None,
                );
            }
            Err(ReplyError::Disconnected(_)) => {
                let m = format!(
                    "agent {label} disconnected after sending {} bytes; the transfer is incomplete",
                    check.bytes()
                );
                return done(failed(m), &check, None);
            }
            Err(e @ ReplyError::Garbled(..)) => {
                return done(Ending::Failed(e.into()), &check, None)
            }
        };
        let step = match check.accept(&frame) {
            Ok(step) => step,
            Err(e) => {
                let e = RemoteError::new(
                    ErrorKind::Internal,
                    format!(
                        "agent {label} sent a broken body ({e}); nothing it sent can be trusted"
                    ),
                );
                return done(Ending::Failed(e), &check, None);
            }
        };
        match (step, &frame) {
            (Step::Started, TransferFrame::Start(start)) => {
                if start.name.len() > MAX_LOG_PATH_LEN {
                    let e = RemoteError::new(
                        ErrorKind::Internal,
                        format!(
                            "agent {label} named its body with more than {MAX_LOG_PATH_LEN} bytes"
                        ),
                    );
                    return done(Ending::Failed(e), &check, None);
                }
                if let Some(limit) = plan.keep {
                    if let Err(e) = attachable(start, limit) {
                        return done(Ending::Declined(e), &check, None);
                    }
                }
            }
            (Step::Data(_), TransferFrame::Chunk(data)) => {
                if let (Some(limit), Some(copy)) = (plan.keep, kept.as_mut()) {
                    if copy.len() as u64 + data.len() as u64 > limit {
                        return done(Ending::Failed(too_large_to_attach(limit)), &check, None);
                    }
                    copy.extend_from_slice(data);
                }
            }
            (Step::Ended(reason), TransferFrame::End(end)) => {
                let ending = Ending::Ended {
                    reason,
                    bytes: end.bytes,
                    sha256: end.sha256,
                };
                return done(ending, &check, kept);
            }
            _ => {}
        }
        if !sink.send(&Response::Transfer(frame)).await {
            return done(Ending::TechnicianGone, &check, None);
        }
        // Counted once the technician took it: a slow technician is not the agent's delay.
        timer.step(Event::Frame, Instant::now());
    }
}

fn too_large_to_attach(limit: u64) -> RemoteError {
    RemoteError::new(
        ErrorKind::InvalidInput,
        format!(
            "--attach stores at most {limit} bytes on a ticket and this body is larger; pull it without --attach (e.g. with -o FILE), or narrow it with --tail, --since or --grep"
        ),
    )
}

/// Whether a body announced as `start` may be kept as an attachment:
/// refused before any byte is forwarded when it is surely too large.
pub(super) fn attachable(start: &TransferStart, limit: u64) -> Result<(), RemoteError> {
    match start.upper_bound {
        None => Err(RemoteError::new(
            ErrorKind::InvalidInput,
            "a followed log has no end and cannot be attached to a ticket",
        )),
        Some(bound) if start.exact && bound > limit => Err(too_large_to_attach(limit)),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
#[path = "transfer_tests.rs"]
mod tests;
