//! The commands. Each one checks its input first (pure, tested), then
//! connects, asks the relay, prints, and closes the connection whatever
//! happened.

pub mod account;
pub mod admin;
pub mod audit;
pub mod diag;
pub mod kb;
pub mod logs;
pub mod notify;
pub mod ping;
pub mod report;
pub mod revoke;
pub mod roster;
pub mod script;
pub mod sla;
pub mod stream;
pub mod tickets;
pub mod watch;

use crate::error::CliError;
use crate::home::Home;
use crate::pager::Pager;
use crate::selector::AgentSelector;
use crate::ticket_ref::TicketRef;
use serde::Serialize;
use std::io::Write;
use std::time::Duration;
use triage_shared::client::{next_frame, ClientError, Session};
use triage_shared::error::ErrorKind;
use triage_shared::identity::KeyPair;
use triage_shared::protocol::{
    AgentSummary, PeerKind, Request, Response, SessionIdentity, TicketDetail,
};
use triage_shared::queue::{AgentCount, AgentFilter};
use triage_shared::roles::Role;
use triage_shared::selector::IdPrefix;
use triage_shared::token::RelayLocator;
use triage_shared::TicketId;

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

    /// Like [`Connected::ask`], for a request that may take longer than the
    /// usual request timeout (the relay waits on an endpoint).
    pub async fn ask_within(
        &self,
        request: &Request,
        limit: Duration,
        what: &'static str,
    ) -> Result<Response, CliError> {
        match self.first_answer(request, limit).await {
            None => Err(CliError::NoAnswer {
                what,
                secs: limit.as_secs(),
            }),
            Some(Ok(Response::Error(e))) => Err(e.into()),
            Some(other) => Ok(other?),
        }
    }

    /// Sends `request` on a stream of its own and returns the first answer
    /// as it came (a relay `Error` included, with its kind), or `None` when
    /// nothing came within `limit`.
    pub async fn first_answer(
        &self,
        request: &Request,
        limit: Duration,
    ) -> Option<Result<Response, ClientError>> {
        tracing::debug!(request = request.name(), "asking the relay");
        let exchange = async {
            let mut recv = self.session.open_stream(request).await?;
            next_frame::<Response>(&mut recv).await?.ok_or_else(|| {
                ClientError::Protocol("the relay closed the stream without answering".into())
            })
        };
        tokio::time::timeout(limit, exchange).await.ok()
    }

    /// The online or offline agent a selector names (id, id prefix or
    /// hostname), as the relay resolves it against every enrolled agent.
    pub async fn resolve_agent(&self, agent: &AgentSelector) -> Result<AgentSummary, CliError> {
        let request = Request::ResolveAgent {
            selector: agent.clone(),
        };
        match self.ask(&request).await? {
            Response::AgentMatch(agent) => Ok(agent),
            _ => Err(unexpected(&request)),
        }
    }

    /// The ticket a reference names: a full id needs no lookup; the relay
    /// matches a prefix against every ticket.
    pub async fn resolve_ticket(&self, target: &TicketRef) -> Result<TicketId, CliError> {
        let prefix = match target {
            TicketRef::Full(id) => return Ok(*id),
            TicketRef::Prefix(digits) => {
                IdPrefix::parse(digits).ok_or_else(|| CliError::BadTicketId(digits.clone()))?
            }
        };
        let request = Request::ResolveTicket {
            reference: triage_shared::selector::TicketRef::Prefix(prefix),
        };
        match self.ask(&request).await? {
            Response::TicketMatch(id) => Ok(id),
            _ => Err(unexpected(&request)),
        }
    }

    /// The endpoints `filter` selects (every one, or the first `limit`),
    /// fetched a page at a time, with how many match and are online.
    pub async fn agents(
        &self,
        filter: &AgentFilter,
        limit: Option<usize>,
    ) -> Result<Vec<AgentSummary>, CliError> {
        let mut pager = Pager::new(limit, MAX_LISTED_AGENTS, "endpoint");
        let mut agents = Vec::new();
        while let Some((after, limit)) = pager.next() {
            let request = Request::ListAgentsFiltered {
                filter: filter.clone(),
                after,
                limit,
            };
            match self.ask(&request).await? {
                Response::AgentPage { agents: page, next } => {
                    agents.extend(pager.take(page, next)?)
                }
                _ => return Err(unexpected(&request)),
            }
        }
        Ok(agents)
    }

    /// How many endpoints `filter` selects, and how many of those are online.
    pub async fn count_agents(&self, filter: &AgentFilter) -> Result<AgentCount, CliError> {
        let request = Request::CountAgents {
            filter: filter.clone(),
        };
        match self.ask(&request).await? {
            Response::AgentCount(count) => Ok(count),
            _ => Err(unexpected(&request)),
        }
    }

    pub async fn ticket(&self, id: TicketId) -> Result<TicketDetail, CliError> {
        let request = Request::ShowTicket { id };
        match self.ask(&request).await? {
            Response::Ticket(detail) => Ok(*detail),
            _ => Err(unexpected(&request)),
        }
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

/// A JSON array written an element at a time, pretty like [`print_json`].
pub struct JsonArray<'a> {
    out: Out<'a>,
    empty: bool,
}

impl<'a> JsonArray<'a> {
    pub fn start(out: Out<'a>) -> JsonArray<'a> {
        JsonArray { out, empty: true }
    }

    pub fn extend<T: Serialize>(&mut self, items: &[T]) -> Result<(), CliError> {
        for item in items {
            self.out
                .write_all(if self.empty { b"[\n" } else { b",\n" })?;
            self.empty = false;
            let text = serde_json::to_string_pretty(item)?;
            for (i, line) in text.lines().enumerate() {
                if i > 0 {
                    self.out.write_all(b"\n")?;
                }
                write!(self.out, "  {line}")?;
            }
        }
        Ok(())
    }

    pub fn finish(self) -> Result<(), CliError> {
        self.out
            .write_all(if self.empty { b"[]\n" } else { b"\n]\n" })?;
        Ok(())
    }
}

/// Most endpoints one listing collects, whatever a relay hands out.
pub const MAX_LISTED_AGENTS: usize = 1_000_000;

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
    fn a_json_array_written_in_pieces_reads_as_print_json_writes_it() {
        let items = vec![serde_json::json!({"a": [1, 2]}), serde_json::json!("x")];
        let mut whole = Vec::new();
        print_json(&mut whole, &items).unwrap();
        let mut pieces = Vec::new();
        let mut array = JsonArray::start(&mut pieces);
        array.extend(&items[..1]).unwrap();
        array.extend::<serde_json::Value>(&[]).unwrap();
        array.extend(&items[1..]).unwrap();
        array.finish().unwrap();
        assert_eq!(
            String::from_utf8(pieces).unwrap(),
            String::from_utf8(whole).unwrap()
        );
        let mut empty = Vec::new();
        JsonArray::start(&mut empty).finish().unwrap();
        assert_eq!(empty, b"[]\n");
    }

    #[test]
    fn json_is_pretty_and_ends_with_a_newline() {
        let mut out = Vec::new();
        print_json(&mut out, &vec![1, 2]).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "[\n  1,\n  2\n]\n");
    }
}
