//! Relay → agent commands. The relay opens a bidirectional stream on the
//! agent's newest connection, writes one [`AgentCommand`] frame and reads
//! [`AgentReply`] frames until the agent finishes the stream.
//!
//! An agent that is not connected is refused at once (never a wait), and
//! each agent has at most [`MAX_COMMANDS_PER_AGENT`] commands in flight, so
//! one busy endpoint cannot tie up the relay. Nothing here decides whether
//! a command is allowed: the technician side checks roles before calling,
//! and the agent verifies whatever it is sent.

use super::Shared;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::time::timeout;
use triage_shared::codec::{read_frame, write_frame, CodecError};
use triage_shared::protocol::{ErrorKind, RemoteError};
use triage_shared::remote::{AgentCommand, AgentReply};
use triage_shared::AgentId;

/// Commands one agent may have in flight at once; more are refused as busy.
pub const MAX_COMMANDS_PER_AGENT: usize = 8;
/// How long opening a stream to an agent and writing the command may take.
pub const COMMAND_SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the relay waits for each reply frame of an ordinary command.
pub const AGENT_REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// Counts commands in flight per agent, up to a limit each.
pub struct InFlight {
    counts: Mutex<HashMap<AgentId, usize>>,
    limit: usize,
}

impl Default for InFlight {
    /// [`MAX_COMMANDS_PER_AGENT`] per agent.
    fn default() -> Self {
        InFlight::with_limit(MAX_COMMANDS_PER_AGENT)
    }
}

/// One command slot; given back when dropped.
#[must_use = "the slot is released when this is dropped"]
pub struct Slot {
    inflight: Arc<InFlight>,
    agent: AgentId,
}

impl InFlight {
    fn lock(&self) -> MutexGuard<'_, HashMap<AgentId, usize>> {
        // Every change is a single increment or decrement: poisoning cannot
        // leave the map inconsistent.
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// At most `limit` slots per agent.
    pub fn with_limit(limit: usize) -> Self {
        InFlight {
            counts: Mutex::default(),
            limit,
        }
    }

    /// A slot for `agent`, or `None` when it already has the maximum.
    pub fn try_acquire(self: &Arc<Self>, agent: AgentId) -> Option<Slot> {
        let mut counts = self.lock();
        let n = counts.entry(agent).or_insert(0);
        if *n >= self.limit {
            return None;
        }
        *n += 1;
        Some(Slot {
            inflight: Arc::clone(self),
            agent,
        })
    }

    #[cfg(test)]
    pub fn in_flight(&self, agent: AgentId) -> usize {
        self.lock().get(&agent).copied().unwrap_or(0)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.inflight.lock();
        if let Some(n) = counts.get_mut(&self.agent) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.agent);
            }
        }
    }
}

/// The receiving half of a command stream, holding its slot.
pub struct AgentStream {
    recv: quinn::RecvStream,
    // Kept so the stream is not reset before the agent has read the command
    // (and, for a streamed command, to tell the agent to stop).
    send: Option<quinn::SendStream>,
    _slot: Slot,
    pub agent: AgentId,
    pub hostname: String,
}

/// Why reading a reply failed.
#[derive(Debug, thiserror::Error)]
pub enum ReplyError {
    #[error("agent {0} did not answer within {1} s")]
    Timeout(String, u64),
    #[error("agent {0} disconnected before it finished answering")]
    Disconnected(String),
    #[error("agent {0} sent a garbled reply: {1}")]
    Garbled(String, String),
}

impl From<ReplyError> for RemoteError {
    fn from(e: ReplyError) -> Self {
        let kind = match e {
            ReplyError::Timeout(..) => ErrorKind::Timeout,
            ReplyError::Disconnected(_) => ErrorKind::Unavailable,
            ReplyError::Garbled(..) => ErrorKind::Internal,
        };
        RemoteError::new(kind, e.to_string())
    }
}

impl AgentStream {
    pub fn label(&self) -> String {
        format!("{} ({})", self.agent, self.hostname)
    }

    /// The relay's sending half, to end it (for a command sent with
    /// [`AgentLink::send_open`], the agent reads its end as "stop") while a
    /// read is pending. Keep it: dropping it ends it too.
    pub fn take_send(&mut self) -> Option<quinn::SendStream> {
        self.send.take()
    }

    /// The next reply; `Ok(None)` when the agent finished the stream.
    pub async fn next(&mut self, wait: Duration) -> Result<Option<AgentReply>, ReplyError> {
        match timeout(wait, read_frame::<_, AgentReply>(&mut self.recv)).await {
            Err(_) => Err(ReplyError::Timeout(self.label(), wait.as_secs())),
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(CodecError::Garbled(e))) => Err(ReplyError::Garbled(self.label(), e)),
            Ok(Err(e @ (CodecError::FrameTooLarge { .. } | CodecError::Encode(_)))) => {
                Err(ReplyError::Garbled(self.label(), e.to_string()))
            }
            Ok(Err(CodecError::Truncated | CodecError::Io(_))) => {
                Err(ReplyError::Disconnected(self.label()))
            }
        }
    }
}

/// A connected agent with a command slot reserved, not yet sent anything.
/// Taking a slot first lets a caller refuse at once (offline, busy) before
/// spending anything, such as a script approval.
pub struct AgentLink {
    connection: quinn::Connection,
    slot: Slot,
    pub agent: AgentId,
    pub hostname: String,
}

/// Finds `agent`'s connection and reserves a command slot. Unknown agent →
/// NotFound; not connected → Unavailable at once; too many commands in
/// flight → Unavailable "busy".
pub async fn connect(shared: &Shared, agent: AgentId) -> Result<AgentLink, RemoteError> {
    let record = shared
        .store
        .agent(agent)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "cannot look up the agent");
            RemoteError::new(
                ErrorKind::Internal,
                "the relay cannot read its database; try again, and tell the relay admin if it persists",
            )
        })?
        .ok_or_else(|| {
            RemoteError::new(
                ErrorKind::NotFound,
                format!("no agent with id {agent}; see `triage agents list`"),
            )
        })?;
    let Some(connection) = shared.registry.connection(agent) else {
        let seen = record
            .last_seen
            .map_or_else(|| "never".to_string(), |t| t.to_string());
        return Err(RemoteError::new(
            ErrorKind::Unavailable,
            format!(
                "agent {agent} ({}) is offline; last seen {seen}. It must be running and connected; try again when `triage agents list` shows it online",
                record.hostname
            ),
        ));
    };
    let slot = shared.inflight.try_acquire(agent).ok_or_else(|| {
        RemoteError::new(
            ErrorKind::Unavailable,
            format!(
                "agent {agent} ({}) is busy with {MAX_COMMANDS_PER_AGENT} requests already; try again shortly",
                record.hostname
            ),
        )
    })?;
    Ok(AgentLink {
        connection,
        slot,
        agent,
        hostname: record.hostname,
    })
}

impl AgentLink {
    /// Writes `command` on a new stream and returns the stream its replies
    /// come on.
    pub async fn send(self, command: &AgentCommand) -> Result<AgentStream, RemoteError> {
        self.send_command(command, true).await
    }

    /// Like [`AgentLink::send`], but the relay's half of the stream stays
    /// open until [`AgentStream::finish_sending`] (or the stream is dropped):
    /// a streamed command (a followed log) stops when it ends.
    pub async fn send_open(self, command: &AgentCommand) -> Result<AgentStream, RemoteError> {
        self.send_command(command, false).await
    }

    async fn send_command(
        self,
        command: &AgentCommand,
        finish: bool,
    ) -> Result<AgentStream, RemoteError> {
        let AgentLink {
            connection,
            slot,
            agent,
            hostname,
        } = self;
        let sent = timeout(COMMAND_SEND_TIMEOUT, async {
            let (mut send, recv) = connection.open_bi().await.map_err(|e| e.to_string())?;
            write_frame(&mut send, command)
                .await
                .map_err(|e| e.to_string())?;
            if finish {
                let _ = send.finish();
            }
            Ok::<_, String>((send, recv))
        })
        .await;
        let lost = |what: &str| {
            RemoteError::new(
                ErrorKind::Unavailable,
                format!(
                    "agent {agent} ({hostname}) could not be reached ({what}); it may have just gone offline, try again"
                ),
            )
        };
        let (send, recv) = match sent {
            Err(_) => return Err(lost("it did not take the command in time")),
            Ok(Err(e)) => return Err(lost(&e)),
            Ok(Ok(halves)) => halves,
        };
        tracing::debug!(%agent, command = command.name(), "command sent to agent");
        Ok(AgentStream {
            recv,
            send: Some(send),
            _slot: slot,
            agent,
            hostname,
        })
    }
}

/// [`connect`] then [`AgentLink::send`].
pub async fn open(
    shared: &Shared,
    agent: AgentId,
    command: &AgentCommand,
) -> Result<AgentStream, RemoteError> {
    connect(shared, agent).await?.send(command).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_bounded_per_agent_and_given_back() {
        let inflight = Arc::new(InFlight::default());
        let (a, b) = (AgentId::new_random(), AgentId::new_random());
        let mut slots: Vec<_> = (0..MAX_COMMANDS_PER_AGENT)
            .map(|_| inflight.try_acquire(a).unwrap())
            .collect();
        assert!(inflight.try_acquire(a).is_none());
        // Another agent is unaffected.
        let other = inflight.try_acquire(b).unwrap();
        slots.pop();
        assert_eq!(inflight.in_flight(a), MAX_COMMANDS_PER_AGENT - 1);
        let again = inflight.try_acquire(a);
        assert!(again.is_some());
        assert!(inflight.try_acquire(a).is_none());
        drop((again, slots, other));
        assert_eq!((inflight.in_flight(a), inflight.in_flight(b)), (0, 0));
    }

    #[test]
    fn reply_errors_map_to_the_kinds_a_technician_sees() {
        let kind = |e: ReplyError| RemoteError::from(e).kind;
        assert_eq!(kind(ReplyError::Timeout("a".into(), 5)), ErrorKind::Timeout);
        assert_eq!(
            kind(ReplyError::Disconnected("a".into())),
            ErrorKind::Unavailable
        );
        let e = RemoteError::from(ReplyError::Disconnected("x (pc)".into()));
        assert!(e.message.contains("disconnected"), "{}", e.message);
    }
}
