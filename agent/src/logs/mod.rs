//! Log pulls: a technician asks for a file; the agent decides whether it may
//! be read and streams it.
//!
//! ```text
//! PullLogs(query) ─► validate ─► allow-list + open (access) ─► --grep compiles? (filter)
//!     │ refused: one Error frame
//!     ▼
//! Start{name, upper_bound} ─► Chunk… (pump: ≤ TRANSFER_CHUNK_LEN each, counted, hashed,
//!     │                         cut at max_log_bytes)
//!     ├─ no --follow: the bytes from the --tail offset to the length at open,
//!     │               filtered line by line when --since/--grep ask
//!     └─ --follow:    then new bytes as they are appended (follow)
//!     ▼
//! End{bytes, sha256, Complete | LimitReached | Stopped}
//! ```
//!
//! Nothing holds more than one chunk (and one line when filtering): the
//! stream's flow control makes a slow reader slow the reading down.

mod access;
mod filter;
mod follow;
mod pump;
mod read_ahead;
pub mod settings;
mod tail;
mod timestamp;

pub use access::{AllowList, LogRefusal};
pub use filter::{GREP_SIZE_LIMIT, MAX_LINE_LEN};
pub use follow::{FOLLOW_KEEPALIVE, FOLLOW_POLL};
pub use tail::TAIL_BLOCK;

#[cfg(test)]
pub(crate) use pump::tests as pump_tests;
pub(crate) use pump::Pump;

use access::OpenedLog;
use filter::{LineFilter, LineSplitter};
use read_ahead::ReadAhead;
use std::path::PathBuf;
use timestamp::Clock;
use tokio::io::{AsyncRead, AsyncSeekExt, AsyncWrite};
use tracing::{info, warn, Instrument};
use triage_shared::codec::{write_frame, CodecError};
use triage_shared::error::{ErrorKind, RemoteError};
use triage_shared::remote::AgentReply;
use triage_shared::transfer::{EndReason, LogQuery, TransferStart};

/// What the endpoint allows: from `log_paths` and `max_log_bytes` in agent.toml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogPolicy {
    pub allow: Vec<PathBuf>,
    pub max_bytes: u64,
}

/// A pull that passed every check, ready to stream.
struct Prepared {
    opened: OpenedLog,
    allow: AllowList,
    filter: LineFilter,
    /// Where the bytes to send begin (`--tail`), and where they end when
    /// not following (the length at open).
    from: u64,
}

/// Checks `query` against the policy and opens the file (blocking work:
/// resolving paths, reading blocks backwards for `--tail`).
fn prepare(policy: &LogPolicy, query: &LogQuery, clock: Clock) -> Result<Prepared, RemoteError> {
    query
        .validate()
        .map_err(|e| RemoteError::new(ErrorKind::InvalidInput, format!("the log request: {e}")))?;
    let filter = LineFilter::new(query, clock)?;
    let allow = AllowList::new(&policy.allow);
    let mut opened = allow.open(&query.path).map_err(|e| e.to_remote())?;
    let from = match query.tail {
        None => 0,
        Some(n) => tail::tail_start(&mut opened.file, opened.len, n).map_err(|e| {
            RemoteError::new(
                ErrorKind::Unavailable,
                format!("the agent could not read {}: {e}", opened.path.display()),
            )
        })?,
    };
    Ok(Prepared {
        opened,
        allow,
        filter,
        from,
    })
}

/// The body being sent: filtering (when asked) in front of the pump.
struct Body<'w, W> {
    pump: Pump<'w, W>,
    filter: LineFilter,
    split: LineSplitter,
}

impl<W: AsyncWrite + Unpin> Body<'_, W> {
    /// Sends what `data` contributes; `false` once the byte limit is reached.
    async fn feed(&mut self, data: &[u8]) -> Result<bool, CodecError> {
        if self.filter.keeps_everything() {
            return self.pump.push(data).await;
        }
        let mut kept = Vec::new();
        let filter = &mut self.filter;
        self.split.push(data, |line| {
            if filter.keep(line) {
                kept.extend_from_slice(line);
            }
        });
        self.pump.push(&kept).await
    }

    /// Sends the last, unfinished line if it is kept.
    async fn finish_line(&mut self) -> Result<bool, CodecError> {
        match self.split.finish() {
            Some(last) if self.filter.keep(&last) => self.pump.push(&last).await,
            _ => Ok(true),
        }
    }
}

/// How a body ended: normally, or with an error to report after it began.
enum Ended {
    Normally(EndReason),
    Failed(RemoteError),
}

/// Answers one `PullLogs` on `send`. `recv` is the rest of the command
/// stream: when it ends (the relay finished or dropped it), a `--follow`
/// stops.
pub async fn serve<R, W>(
    policy: &LogPolicy,
    query: LogQuery,
    recv: &mut R,
    send: &mut W,
) -> Result<(), CodecError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let span = tracing::info_span!("log_pull", path = %query.path, follow = query.follow);
    async move {
        let prepared = {
            let (policy, query) = (policy.clone(), query.clone());
            tokio::task::spawn_blocking(move || prepare(&policy, &query, Clock::system())).await
        };
        let prepared = match prepared {
            Ok(Ok(p)) => p,
            Ok(Err(refusal)) => {
                warn!(reason = %refusal, "refused a log pull");
                return write_frame(send, &AgentReply::Error(refusal)).await;
            }
            Err(e) => {
                let failure =
                    RemoteError::new(ErrorKind::Internal, format!("the log pull failed: {e}"));
                return write_frame(send, &AgentReply::Error(failure)).await;
            }
        };
        let Prepared {
            opened,
            allow,
            filter,
            from,
        } = prepared;
        let remaining = opened.len - from;
        let start = TransferStart {
            name: opened.path.display().to_string(),
            upper_bound: (!query.follow).then_some(remaining.min(policy.max_bytes)),
            exact: filter.keeps_everything(),
        };
        info!(resolved = %start.name, from, "sending a log");
        let pump = Pump::start(send, start, policy.max_bytes).await?;
        let mut body = Body {
            pump,
            filter,
            split: LineSplitter::default(),
        };
        let path = opened.path.clone();
        let identity = opened.identity;
        let mut file = tokio::fs::File::from_std(opened.file);
        let ended = match file.seek(std::io::SeekFrom::Start(from)).await {
            Err(e) => Ended::Failed(read_failed(&path, &e)),
            Ok(_) if query.follow => {
                let spot = follow::Spot {
                    file,
                    pos: from,
                    path,
                    identity,
                };
                follow::follow(&mut body, spot, &allow, &query.path, recv).await?
            }
            Ok(_) => send_range(&mut body, file, remaining, &path).await?,
        };
        match ended {
            Ended::Normally(reason) => {
                let end = body.pump.end(reason).await?;
                info!(bytes = end.bytes, reason = %end.reason, "log sent");
                Ok(())
            }
            Ended::Failed(e) => {
                warn!(error = %e, bytes = body.pump.bytes(), "a log pull failed part way");
                write_frame(body.pump_writer(), &AgentReply::Error(e)).await
            }
        }
    }
    .instrument(span)
    .await
}

impl<'w, W: AsyncWrite + Unpin> Body<'w, W> {
    fn pump_writer(self) -> &'w mut W {
        self.pump.into_writer()
    }
}

fn read_failed(path: &std::path::Path, e: &std::io::Error) -> RemoteError {
    RemoteError::new(
        ErrorKind::Unavailable,
        format!("the agent could not read {}: {e}", path.display()),
    )
}

/// Sends `len` bytes from the current position of `file`, read ahead
/// on the blocking pool while the previous chunk goes out.
async fn send_range<W: AsyncWrite + Unpin>(
    body: &mut Body<'_, W>,
    file: tokio::fs::File,
    len: u64,
    path: &std::path::Path,
) -> Result<Ended, CodecError> {
    let mut chunks = ReadAhead::start(file.into_std().await, len);
    while let Some(read) = chunks.next().await {
        let data = match read {
            Ok(data) => data,
            Err(e) => return Ok(Ended::Failed(read_failed(path, &e))),
        };
        if !body.feed(&data).await? {
            return Ok(Ended::Normally(EndReason::Complete));
        }
    }
    // The file may have shrunk since it was opened: what there was is sent.
    body.finish_line().await?;
    Ok(Ended::Normally(EndReason::Complete))
}

#[cfg(all(test, unix))]
mod tests;
