//! The commands. Each one checks its input first (pure, tested), then
//! connects, asks the relay, prints, and closes the connection whatever
//! happened.

pub mod account;
pub mod admin;
pub mod audit;
pub mod diag;
pub mod logs;
pub mod ping;
pub mod revoke;
pub mod roster;
pub mod script;
pub mod stream;
pub mod tickets;

use crate::error::CliError;
use crate::home::Home;
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
use triage_shared::roles::Role;
use triage_shared::selector::{AgentCursor, IdPrefix};
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

    /// Every enrolled agent, or the first `limit`, fetched a page at a time.
    pub async fn agents(&self, limit: Option<usize>) -> Result<Vec<AgentSummary>, CliError> {
        let mut pages = AgentPages::new(limit);
        while let Some(request) = pages.next_request() {
            match self.ask(&request).await? {
                Response::AgentPage { agents, next } => pages.take(agents, next)?,
                _ => return Err(unexpected(&request)),
            }
        }
        Ok(pages.into_agents())
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

/// Most endpoints one listing collects, whatever a relay hands out.
pub const MAX_LISTED_AGENTS: usize = 1_000_000;

/// Walks the pages of the endpoint list: what to ask next, and a check
/// that each page moves forward, so a relay that repeats a cursor or sends
/// empty pages cannot keep the CLI asking.
pub struct AgentPages {
    agents: Vec<AgentSummary>,
    limit: usize,
    after: Option<AgentCursor>,
    done: bool,
}

impl AgentPages {
    pub fn new(limit: Option<usize>) -> AgentPages {
        AgentPages {
            agents: Vec::new(),
            limit: limit.unwrap_or(MAX_LISTED_AGENTS).min(MAX_LISTED_AGENTS),
            after: None,
            done: limit == Some(0),
        }
    }

    pub fn next_request(&self) -> Option<Request> {
        (!self.done).then(|| Request::ListAgentsPage {
            after: self.after.clone(),
            limit: u32::try_from(self.limit - self.agents.len()).unwrap_or(u32::MAX),
        })
    }

    pub fn take(
        &mut self,
        mut page: Vec<AgentSummary>,
        next: Option<AgentCursor>,
    ) -> Result<(), CliError> {
        let stalled = next.is_some() && (page.is_empty() || next == self.after);
        if stalled {
            return Err(CliError::Relay(
                "the relay's endpoint list did not move on to a next page; try again, and tell the relay admin if it persists".into(),
            ));
        }
        page.truncate(self.limit - self.agents.len());
        self.agents.extend(page);
        self.after = next;
        self.done = self.after.is_none() || self.agents.len() >= self.limit;
        Ok(())
    }

    pub fn into_agents(self) -> Vec<AgentSummary> {
        self.agents
    }
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
    use triage_shared::time::Timestamp;

    fn agents(hosts: &[&str]) -> Vec<AgentSummary> {
        hosts
            .iter()
            .map(|h| AgentSummary {
                id: triage_shared::AgentId::new_random(),
                hostname: h.to_string(),
                os: "Debian".into(),
                enrolled_at: Timestamp(0),
                last_seen: None,
                online: false,
            })
            .collect()
    }

    fn cursor_after(page: &[AgentSummary]) -> Option<AgentCursor> {
        page.last().map(|a| AgentCursor {
            hostname: a.hostname.clone(),
            id: a.id,
        })
    }

    #[test]
    fn every_page_is_fetched_until_the_relay_says_it_was_the_last() {
        let mut pages = AgentPages::new(None);
        let first = agents(&["a", "b"]);
        let Some(Request::ListAgentsPage { after: None, .. }) = pages.next_request() else {
            panic!("the first page starts at the beginning");
        };
        pages.take(first.clone(), cursor_after(&first)).unwrap();
        let Some(Request::ListAgentsPage { after, .. }) = pages.next_request() else {
            panic!("a second page is asked for");
        };
        assert_eq!(after, cursor_after(&first));
        pages.take(agents(&["c"]), None).unwrap();
        assert!(pages.next_request().is_none());
        let hosts: Vec<_> = pages
            .into_agents()
            .into_iter()
            .map(|a| a.hostname)
            .collect();
        assert_eq!(hosts, ["a", "b", "c"]);
    }

    #[test]
    fn a_limit_stops_the_paging_and_asks_for_no_more_than_it_needs() {
        let mut pages = AgentPages::new(Some(3));
        let Some(Request::ListAgentsPage { limit: 3, .. }) = pages.next_request() else {
            panic!("asks for the limit");
        };
        let first = agents(&["a", "b"]);
        pages.take(first.clone(), cursor_after(&first)).unwrap();
        let Some(Request::ListAgentsPage { limit: 1, .. }) = pages.next_request() else {
            panic!("asks for the rest");
        };
        // A relay that sends more than asked is cut to the limit.
        let second = agents(&["c", "d"]);
        pages.take(second.clone(), cursor_after(&second)).unwrap();
        assert!(pages.next_request().is_none());
        assert_eq!(pages.into_agents().len(), 3);
    }

    #[test]
    fn a_relay_that_does_not_move_on_is_refused() {
        let mut pages = AgentPages::new(None);
        let first = agents(&["a"]);
        pages.take(first.clone(), cursor_after(&first)).unwrap();
        let err = pages
            .take(agents(&["a"]), cursor_after(&first))
            .unwrap_err();
        assert!(err.to_string().contains("next page"), "{err}");
        let mut pages = AgentPages::new(None);
        let err = pages.take(Vec::new(), cursor_after(&first)).unwrap_err();
        assert!(matches!(err, CliError::Relay(_)), "{err}");
    }

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
