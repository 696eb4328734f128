//! The error a peer reports to the other side of a stream: a kind a
//! program can act on and a message that tells the person what to do next.
//! Every message type carries it, so it sits below all of them.

use crate::text::InvalidInput;
use crate::ticket::TransitionError;
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    InvalidInput,
    NotFound,
    Forbidden,
    Unauthenticated,
    InvalidToken,
    InvalidTransition,
    VersionMismatch,
    Conflict,
    Unavailable,
    Timeout,
    Internal,
    /// The peer's access was taken away (a removed technician or agent).
    Revoked,
}

/// An error the other side reports; `message` says what to do next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteError {
    pub kind: ErrorKind,
    pub message: String,
}

impl RemoteError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        RemoteError {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RemoteError {}

impl From<InvalidInput> for RemoteError {
    fn from(e: InvalidInput) -> Self {
        RemoteError::new(ErrorKind::InvalidInput, e.to_string())
    }
}

impl From<TransitionError> for RemoteError {
    fn from(e: TransitionError) -> Self {
        RemoteError::new(ErrorKind::InvalidTransition, e.to_string())
    }
}
