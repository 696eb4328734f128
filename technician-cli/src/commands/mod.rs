//! The commands. Each one checks its input first (pure, tested), then
//! connects, asks the relay, prints, and closes the connection whatever
//! happened.

pub mod account;
pub mod admin;
pub mod tickets;

use crate::error::CliError;
use crate::home::Home;
use serde::Serialize;
use std::io::Write;
use triage_shared::client::{ClientError, Session};
use triage_shared::identity::KeyPair;
use triage_shared::protocol::{ErrorKind, PeerKind, Request, Response, SessionIdentity};
use triage_shared::roles::Role;
use triage_shared::token::RelayLocator;

/// Table width when `$COLUMNS` does not say.
pub const DEFAULT_WIDTH: usize = 120;
/// `$COLUMNS` values outside this range are ignored.
const SANE_WIDTHS: std::ops::RangeInclusive<usize> = 20..=1000;

/// The output stream every command writes to.
pub type Out<'a> = &'a mut (dyn Write + Send);

/// A session with the relay as a registered technician.
pub struct Connected {
    pub session: Session,
    pub relay: RelayLocator,
    pub name: String,
    pub roles: Vec<Role>,
}

impl Connected {
    pub async fn ask(&self, request: &Request) -> Result<Response, CliError> {
        tracing::debug!(request = request.name(), "asking the relay");
        Ok(self.session.request(request).await?)
    }

    pub async fn close(self) {
        self.session.close().await;
    }
}

/// Connects with the stored key to the stored relay.
pub async fn connect(home: &Home) -> Result<Connected, CliError> {
    let key = home.load_key()?;
    let relay = home.load_relay()?;
    connect_to(relay, &key).await
}

/// Connects as a technician and insists the relay knows the key: anything
/// else means the admin has not registered it yet.
pub async fn connect_to(relay: RelayLocator, key: &KeyPair) -> Result<Connected, CliError> {
    let not_registered = || CliError::KeyNotRegistered {
        public_key: key.public_key().to_string(),
    };
    let session = match Session::connect(&relay, key, PeerKind::Technician).await {
        Ok(s) => s,
        Err(ClientError::Refused(e))
            if matches!(e.kind, ErrorKind::Unauthenticated | ErrorKind::Forbidden) =>
        {
            return Err(not_registered())
        }
        Err(e) => return Err(e.into()),
    };
    match session.identity().clone() {
        SessionIdentity::Technician { name, roles } => {
            tracing::debug!(technician = %name, relay = %relay.addr, "connected");
            Ok(Connected {
                session,
                relay,
                name,
                roles,
            })
        }
        SessionIdentity::Agent { .. } | SessionIdentity::Unenrolled => {
            session.close().await;
            Err(not_registered())
        }
    }
}

/// Writes `value` as pretty JSON: the stable shape scripts read.
pub fn print_json<T: Serialize + ?Sized>(out: Out<'_>, value: &T) -> Result<(), CliError> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)?;
    Ok(())
}

pub fn unexpected(request: &Request) -> CliError {
    CliError::UnexpectedResponse {
        request: request.name(),
    }
}

/// The width tables should fit: `$COLUMNS` if it is sensible.
pub fn terminal_width() -> usize {
    width_from(std::env::var("COLUMNS").ok().as_deref())
}

fn width_from(columns: Option<&str>) -> usize {
    columns
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|w| SANE_WIDTHS.contains(w))
        .unwrap_or(DEFAULT_WIDTH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn width_comes_from_columns_when_sensible() {
        assert_eq!(width_from(Some("80")), 80);
        assert_eq!(width_from(None), DEFAULT_WIDTH);
        assert_eq!(width_from(Some("wide")), DEFAULT_WIDTH);
        assert_eq!(width_from(Some("3")), DEFAULT_WIDTH);
        assert_eq!(width_from(Some("999999")), DEFAULT_WIDTH);
    }

    #[test]
    fn json_is_pretty_and_ends_with_a_newline() {
        let mut out = Vec::new();
        print_json(&mut out, &vec![1, 2]).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "[\n  1,\n  2\n]\n");
    }
}
