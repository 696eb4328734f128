//! Streamed bodies: pulled logs, screenshots and ticket attachments.
//!
//! A body travels as a sequence of [`TransferFrame`]s on one stream:
//! `Start`, any number of `Chunk` (each at most [`TRANSFER_CHUNK_LEN`]
//! bytes) and `KeepAlive`, then `End` with the byte count and the SHA-256
//! of exactly the bytes sent. The sender never holds more than one chunk;
//! QUIC flow control slows it down when a reader falls behind.
//!
//! [`TransferCheck`] is the reader's side as a pure state machine: the
//! relay runs it over what an agent sends, the CLI over what the relay
//! forwards, and both refuse a body whose count or digest does not match.

use crate::ids::{AgentId, TicketId};
use crate::limits::MAX_FRAME_LEN;
use crate::text::InvalidInput;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// Largest piece of a body carried by one frame; with the frame's few
/// bytes of framing it stays far inside [`MAX_FRAME_LEN`].
pub const TRANSFER_CHUNK_LEN: usize = 128 * 1024;
/// Most lines `--tail` may ask for.
pub const MAX_TAIL_LINES: u32 = 100_000;
/// Bytes one log pull sends at most, unless the agent's `max_log_bytes` says otherwise.
pub const DEFAULT_MAX_LOG_BYTES: u64 = 1024 * 1024 * 1024;
/// Longest log path a technician may ask for, in bytes.
pub const MAX_LOG_PATH_LEN: usize = 4096;
/// Longest `--grep` pattern, in bytes (its compiled size is bounded by the agent too).
pub const MAX_GREP_LEN: usize = 1024;
/// Furthest back `--since` may reach (ten years), in seconds.
pub const MAX_SINCE_SECS: u64 = 10 * 366 * 24 * 3600;

const _: () = assert!(TRANSFER_CHUNK_LEN + 64 <= MAX_FRAME_LEN);

/// SHA-256 of a body's exact bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct ContentDigest(pub [u8; 32]);

impl ContentDigest {
    pub fn of(content: &[u8]) -> Self {
        ContentDigest(Sha256::digest(content).into())
    }
}

impl fmt::Display for ContentDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", hex::encode(self.0))
    }
}

impl fmt::Debug for ContentDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl From<ContentDigest> for String {
    fn from(d: ContentDigest) -> String {
        d.to_string()
    }
}

impl TryFrom<String> for ContentDigest {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl FromStr for ContentDigest {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut d = [0u8; 32];
        hex::decode_to_slice(s.trim().trim_start_matches("sha256:"), &mut d)
            .map_err(|_| "a content digest is sha256: and 64 hex digits".to_string())?;
        Ok(ContentDigest(d))
    }
}

/// Counts and hashes bytes as they go by.
#[derive(Clone, Default)]
pub struct ContentHasher {
    hasher: Sha256,
    bytes: u64,
}

impl ContentHasher {
    pub fn update(&mut self, data: &[u8]) {
        self.hasher.update(data);
        self.bytes += data.len() as u64;
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    pub fn finish(self) -> (u64, ContentDigest) {
        (self.bytes, ContentDigest(self.hasher.finalize().into()))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TransferFrame {
    Start(TransferStart),
    /// The next bytes of the body (never empty, at most [`TRANSFER_CHUNK_LEN`]).
    Chunk(#[serde(with = "serde_bytes")] Vec<u8>),
    /// Nothing new yet (a followed log is quiet); keeps idle timeouts from
    /// firing on a sender that is alive.
    KeepAlive,
    End(TransferEnd),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferStart {
    /// What is being sent: the resolved path of a log, `screenshot.png`, ….
    pub name: String,
    /// At most this many bytes will follow; `None` when unknown (`--follow`).
    pub upper_bound: Option<u64>,
    /// True when exactly `upper_bound` bytes will follow (nothing is filtered).
    pub exact: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferEnd {
    pub bytes: u64,
    pub sha256: ContentDigest,
    pub reason: EndReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// Everything asked for was sent.
    Complete,
    /// The sender stopped at its limit of `limit` bytes; more was there.
    LimitReached { limit: u64 },
    /// A followed log was stopped by the technician.
    Stopped,
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndReason::Complete => f.write_str("complete"),
            EndReason::LimitReached { limit } => write!(f, "limit of {limit} bytes reached"),
            EndReason::Stopped => f.write_str("stopped by the technician"),
        }
    }
}

/// What a frame meant, once checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Started,
    Data(usize),
    KeepAlive,
    Ended(EndReason),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransferError {
    #[error("the body did not begin with a start frame")]
    NotStarted,
    #[error("the body began twice")]
    StartedTwice,
    #[error("a chunk of {len} bytes is larger than the {TRANSFER_CHUNK_LEN}-byte limit")]
    ChunkTooLarge { len: usize },
    #[error("an empty chunk")]
    EmptyChunk,
    #[error("more bytes ({bytes}) than the {bound} announced")]
    BeyondBound { bytes: u64, bound: u64 },
    #[error("a frame after the end of the body")]
    AfterEnd,
    #[error("the sender says it sent {claimed} bytes but {counted} arrived")]
    CountMismatch { claimed: u64, counted: u64 },
    #[error("the SHA-256 of the bytes that arrived ({computed}) is not the one the sender computed ({claimed})")]
    DigestMismatch {
        claimed: ContentDigest,
        computed: ContentDigest,
    },
}

/// The reader's side of a transfer: order, sizes, count and digest.
#[derive(Default)]
pub struct TransferCheck {
    start: Option<TransferStart>,
    hasher: ContentHasher,
    ended: bool,
}

impl TransferCheck {
    pub fn accept(&mut self, frame: &TransferFrame) -> Result<Step, TransferError> {
        if self.ended {
            return Err(TransferError::AfterEnd);
        }
        match (frame, &self.start) {
            (TransferFrame::Start(start), None) => {
                self.start = Some(start.clone());
                Ok(Step::Started)
            }
            (TransferFrame::Start(_), Some(_)) => Err(TransferError::StartedTwice),
            (_, None) => Err(TransferError::NotStarted),
            (TransferFrame::Chunk(data), Some(start)) => {
                if data.is_empty() {
                    return Err(TransferError::EmptyChunk);
                }
                if data.len() > TRANSFER_CHUNK_LEN {
                    return Err(TransferError::ChunkTooLarge { len: data.len() });
                }
                let bytes = self.hasher.bytes() + data.len() as u64;
                if let Some(bound) = start.upper_bound.filter(|b| bytes > *b) {
                    return Err(TransferError::BeyondBound { bytes, bound });
                }
                self.hasher.update(data);
                Ok(Step::Data(data.len()))
            }
            (TransferFrame::KeepAlive, Some(_)) => Ok(Step::KeepAlive),
            (TransferFrame::End(end), Some(_)) => {
                self.ended = true;
                let (counted, computed) = self.hasher.clone().finish();
                if end.bytes != counted {
                    return Err(TransferError::CountMismatch {
                        claimed: end.bytes,
                        counted,
                    });
                }
                if end.sha256 != computed {
                    return Err(TransferError::DigestMismatch {
                        claimed: end.sha256,
                        computed,
                    });
                }
                Ok(Step::Ended(end.reason))
            }
        }
    }

    pub fn start(&self) -> Option<&TransferStart> {
        self.start.as_ref()
    }

    /// Bytes accepted so far.
    pub fn bytes(&self) -> u64 {
        self.hasher.bytes()
    }

    pub fn is_finished(&self) -> bool {
        self.ended
    }
}

/// A technician's log pull, as the agent receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogQuery {
    /// A path under the agent's allow-list.
    pub path: String,
    /// Only the last N lines of the file (0 with `follow`: only new lines).
    pub tail: Option<u32>,
    /// Only lines stamped at most this many seconds before the agent's clock.
    pub since_secs: Option<u64>,
    /// Only lines matching this regular expression (Rust `regex` syntax).
    pub grep: Option<String>,
    /// Keep sending appended lines until the technician stops.
    pub follow: bool,
}

impl LogQuery {
    /// A plain pull of the whole file.
    pub fn whole(path: impl Into<String>) -> Self {
        LogQuery {
            path: path.into(),
            tail: None,
            since_secs: None,
            grep: None,
            follow: false,
        }
    }

    /// True when every byte of the file is sent as it is.
    pub fn is_unfiltered(&self) -> bool {
        self.tail.is_none() && self.since_secs.is_none() && self.grep.is_none()
    }

    /// Shape checks both the relay and the agent make before any work.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        if self.path.trim().is_empty() {
            return Err(InvalidInput::new("path", "give the path of a log file"));
        }
        if self.path.len() > MAX_LOG_PATH_LEN || self.path.contains('\0') {
            return Err(InvalidInput::new(
                "path",
                format!("a path is at most {MAX_LOG_PATH_LEN} bytes, without NUL"),
            ));
        }
        if self.tail.is_some_and(|n| n > MAX_TAIL_LINES) {
            return Err(InvalidInput::new(
                "tail",
                format!("--tail may ask for at most {MAX_TAIL_LINES} lines"),
            ));
        }
        if self.since_secs.is_some_and(|s| s > MAX_SINCE_SECS) {
            return Err(InvalidInput::new(
                "since",
                "--since may reach back at most ten years",
            ));
        }
        if let Some(pattern) = &self.grep {
            if pattern.is_empty() || pattern.len() > MAX_GREP_LEN {
                return Err(InvalidInput::new(
                    "grep",
                    format!("a --grep pattern is 1 to {MAX_GREP_LEN} bytes"),
                ));
            }
        }
        Ok(())
    }
}

/// Identifies a file attached to a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AttachmentId(pub Uuid);

impl AttachmentId {
    pub fn new_random() -> Self {
        AttachmentId(Uuid::new_v4())
    }
}

impl fmt::Display for AttachmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for AttachmentId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(AttachmentId(Uuid::parse_str(s.trim())?))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttachmentKind {
    Log,
    Screenshot,
}

impl AttachmentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AttachmentKind::Log => "log",
            AttachmentKind::Screenshot => "screenshot",
        }
    }
}

impl FromStr for AttachmentKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "log" => Ok(AttachmentKind::Log),
            "screenshot" => Ok(AttachmentKind::Screenshot),
            other => Err(format!("unknown attachment kind `{other}`")),
        }
    }
}

/// A file stored on a ticket (`--attach`), listed without its content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentSummary {
    pub id: AttachmentId,
    pub ticket_id: TicketId,
    pub kind: AttachmentKind,
    /// The log's resolved path on the endpoint, or a file name.
    pub name: String,
    pub agent_id: AgentId,
    pub taken_by: String,
    pub taken_at: Timestamp,
    pub bytes: u64,
    pub sha256: ContentDigest,
}

#[path = "transfer_raw.rs"]
pub mod raw;

#[cfg(test)]
#[path = "transfer_tests.rs"]
mod tests;
