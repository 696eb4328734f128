//! `PingAgent`: does this agent answer right now? The relay sends the agent
//! a `Ping` on its connection and reports how long that hop took.
//!
//! Neither stored nor audited: a ping reads nothing on the endpoint and
//! changes nothing, and it is meant to be cheap enough to repeat (`triage
//! agents ping`, the round-trip benchmark). It still takes one of the
//! agent's command slots like any command, so a flood of pings is bounded
//! by `MAX_COMMANDS_PER_AGENT` and refused as busy beyond it.

use crate::server::agent_link::{self, ReplyError};
use crate::server::request::reply_kind;
use crate::server::Shared;
use crate::store::StoreError;
use std::time::{Duration, Instant};
use triage_shared::protocol::{ErrorKind, RemoteError, Response};
use triage_shared::remote::{AgentCommand, AgentReply};
use triage_shared::AgentId;

/// How long the whole relay → agent → relay hop of a ping may take
/// (sending the command included). Short: an agent that takes longer to
/// answer a ping is not usefully "up", and the technician pings again.
pub const PING_TIMEOUT: Duration = Duration::from_secs(2);

pub(in crate::server) async fn ping(
    shared: &Shared,
    agent: AgentId,
) -> Result<Response, StoreError> {
    // Unknown → NotFound, offline → Unavailable, no free slot → busy; at once.
    let link = agent_link::connect(shared, agent).await?;
    let label = format!("{agent} ({})", link.hostname);
    let started = Instant::now();
    let exchange = async {
        let mut stream = link.send(&AgentCommand::Ping).await?;
        stream.next(PING_TIMEOUT).await.map_err(RemoteError::from)
    };
    let reply = match tokio::time::timeout(PING_TIMEOUT, exchange).await {
        Err(_) => {
            return Err(
                RemoteError::from(ReplyError::Timeout(label, PING_TIMEOUT.as_secs())).into(),
            )
        }
        Ok(reply) => reply?,
    };
    let agent_micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    match reply {
        Some(AgentReply::Pong) => Ok(Response::AgentPong { agent_micros }),
        // The agent's own refusal (e.g. it is busy) says what to do.
        Some(AgentReply::Error(e)) => Err(e.into()),
        Some(other) => Err(StoreError::refused(
            ErrorKind::Internal,
            format!(
                "agent {label} answered a ping with {}; check the agent's version",
                reply_kind(&other)
            ),
        )),
        None => Err(StoreError::refused(
            ErrorKind::Unavailable,
            format!("agent {label} closed the ping without answering; try again"),
        )),
    }
}
