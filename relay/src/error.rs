use crate::store::StoreError;
use std::net::SocketAddr;
use std::path::PathBuf;
use triage_shared::error::{ErrorKind, RemoteError};
use triage_shared::identity::IdentityError;
use triage_shared::tls::TlsError;

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not a relay key file ({source}); move it away to make a new identity (tokens and logins made for the old one stop working)", path.display())]
    BadKey {
        path: PathBuf,
        source: IdentityError,
    },
    #[error("cannot listen on {addr}: {source}; is another relay already using that port?")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Store(StoreError),
    /// The request was refused; `kind` says why and the message what to do.
    #[error("{0}")]
    Refused(RemoteError),
    #[error("{0}")]
    Config(String),
    /// `verify_audit` found an entry that does not chain; it names it.
    #[error("the audit log is not intact: {0}")]
    AuditBroken(triage_shared::audit::ChainBreak),
}

impl RelayError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> RelayError {
        let path = path.into();
        move |source| RelayError::Io {
            action,
            path,
            source,
        }
    }

    /// The kind of a refusal, `None` for operational failures.
    pub fn remote_kind(&self) -> Option<ErrorKind> {
        match self {
            RelayError::Refused(e) => Some(e.kind),
            _ => None,
        }
    }
}

impl From<StoreError> for RelayError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Refused(r) => RelayError::Refused(r),
            other => RelayError::Store(other),
        }
    }
}

impl From<crate::audit::VerifyError> for RelayError {
    fn from(e: crate::audit::VerifyError) -> Self {
        match e {
            crate::audit::VerifyError::Broken(b) => RelayError::AuditBroken(b),
            crate::audit::VerifyError::Store(s) => s.into(),
        }
    }
}

impl From<RemoteError> for RelayError {
    fn from(e: RemoteError) -> Self {
        RelayError::Refused(e)
    }
}
