//! `RunScript`: the endpoint decides, then runs.
//!
//! 1. [`Endpoint::authorize`]: `verify_run` with this agent's id, the clock,
//!    the installed roster, the allowed interpreters and the used nonces.
//!    Refused → one `Run(Refused(reason))` frame, nothing runs.
//! 2. The interpreter is looked up (missing → an `Unavailable` error; the
//!    approval is not used up).
//! 3. The nonce is recorded durably, *then* the script starts, so a crash
//!    can never let the same approval run twice.
//! 4. [`runner::execute`] streams `Started`, `Output`…, `Finished`.
//!
//! The nonce check and the record happen under one lock, so two streams
//! carrying the same approval cannot both pass.

use super::{lock, Endpoint};
use crate::runner::{self, RunSpec};
use std::time::Duration;
use tokio::io::AsyncWrite;
use tokio::sync::mpsc;
use tracing::{error, info, warn, Instrument};
use triage_shared::approval::{verify_run, Nonce, Refusal, RunContext};
use triage_shared::codec::{write_frame, CodecError};
use triage_shared::error::{ErrorKind, RemoteError};
use triage_shared::remote::{AgentReply, RunEvent, RunOrder};
use triage_shared::time::Timestamp;

/// Why a run did not start.
#[derive(Debug)]
pub(crate) enum Denied {
    /// The order failed a check; the reason goes to the technician verbatim.
    Refused(Refusal),
    /// The order was good but the agent could not act on it.
    Failed(RemoteError),
}

impl Endpoint {
    /// Decides on `order` at `now`; on success the nonce is already recorded.
    pub(crate) fn authorize(&self, order: &RunOrder, now: Timestamp) -> Result<RunSpec, Denied> {
        let trust = lock(&self.trust);
        let mut nonces = lock(&self.nonces);
        {
            let used = |n: &Nonce| nonces.is_used(n);
            let ctx = RunContext {
                agent_id: self.agent_id,
                now,
                roster: trust.roster(),
                allowed_interpreters: &self.config.allowed_interpreters,
                nonce_used: &used,
            };
            verify_run(&order.content, &order.script, &order.approval, &ctx)
                .map_err(Denied::Refused)?;
        }
        let manifest = &order.script.manifest;
        let program = runner::resolve(manifest.interpreter)
            .map_err(|e| Denied::Failed(RemoteError::new(ErrorKind::Unavailable, e.to_string())))?;
        let approval = &order.approval.approval;
        nonces
            .record(approval.nonce, approval.expires_at)
            .map_err(|e| {
                Denied::Failed(RemoteError::new(
                    ErrorKind::Internal,
                    format!("the script was not run because the agent could not record its approval as used: {e}"),
                ))
            })?;
        Ok(RunSpec {
            interpreter: manifest.interpreter,
            program,
            content: order.content.clone(),
            timeout: Duration::from_secs(manifest.timeout_secs),
        })
    }
}

/// Answers one `RunScript` on `send`.
pub(crate) async fn run<W>(
    endpoint: &Endpoint,
    order: RunOrder,
    send: &mut W,
) -> Result<(), CodecError>
where
    W: AsyncWrite + Unpin,
{
    let m = &order.script.manifest;
    let span = tracing::info_span!(
        "script_run",
        run_id = %order.run_id,
        ticket_id = %m.ticket_id,
        script_id = %m.script_id,
        approver = %order.approval.approval.approver,
    );
    async move {
        let spec = match endpoint.authorize(&order, endpoint.now()) {
            Ok(spec) => spec,
            Err(Denied::Refused(reason)) => {
                warn!(%reason, "refused to run a script");
                return write_frame(send, &AgentReply::Run(RunEvent::Refused(reason))).await;
            }
            Err(Denied::Failed(e)) => {
                error!(error = %e, "could not run an approved script");
                return write_frame(send, &AgentReply::Error(e)).await;
            }
        };
        info!(interpreter = %spec.interpreter, timeout = ?spec.timeout, "running an approved script");
        let (tx, rx) = mpsc::unbounded_channel();
        let (ran, forwarded) = tokio::join!(runner::execute(spec, tx), forward(rx, send));
        match ran {
            Ok(outcome) => {
                info!(?outcome.exit_code, outcome.timed_out, outcome.duration_ms, outcome.output_bytes, outcome.truncated, "script finished");
                forwarded
            }
            Err(e) => {
                // Nothing was sent: the script never started.
                error!(error = %e, "an approved script could not start");
                forwarded?;
                let failure = RemoteError::new(ErrorKind::Internal, e.to_string());
                write_frame(send, &AgentReply::Error(failure)).await
            }
        }
    }
    .instrument(span)
    .await
}

/// Writes run events as they come. If the stream breaks, the rest are
/// drained (the script keeps running to its end or its timeout; stopping it
/// half way could leave the machine worse off) and the error is returned.
async fn forward<W>(
    mut events: mpsc::UnboundedReceiver<RunEvent>,
    send: &mut W,
) -> Result<(), CodecError>
where
    W: AsyncWrite + Unpin,
{
    while let Some(event) = events.recv().await {
        if let Err(e) = write_frame(send, &AgentReply::Run(event)).await {
            warn!(error = %e, "the relay stopped listening to a script run; it continues");
            while events.recv().await.is_some() {}
            return Err(e);
        }
    }
    Ok(())
}
