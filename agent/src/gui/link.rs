//! The window's side of its link to the agent daemon, as messages: the
//! window never waits on the daemon, it sends a [`LinkCommand`] and picks up
//! [`LinkEvent`]s each frame. The real link is
//! [`SocketLink`](super::socket_link::SocketLink) (the local socket, on a
//! background thread); tests use [`FakeLink`](super::fake::FakeLink).

use crate::desktop::protocol::{ConsentAnswer, HelpForm};
use crate::inbox::InboxView;
use triage_shared::kb::{ArticleId, PublicArticle, Suggestion};
use triage_shared::ticket::EmployeeTicket;
use triage_shared::TicketId;

/// What the daemon said about this session when the window connected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user: String,
    pub hostname: String,
    /// false: agent.toml says `screenshots = "never"`; the window offers none.
    pub screenshots_allowed: bool,
}

/// A technician's request to see the screen, to be answered by the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentAsk {
    /// The daemon's number for this request; the answer carries it back.
    pub request: u64,
    pub technician: String,
    pub ticket: Option<TicketId>,
}

/// Window → link.
#[derive(Debug, Clone, PartialEq)]
pub enum LinkCommand {
    FileTicket(HelpForm),
    MyTickets,
    AnswerConsent {
        request: u64,
        answer: ConsentAnswer,
    },
    /// The employee's reply on their ticket.
    Reply {
        ticket: TicketId,
        text: String,
    },
    /// "Did this fix it?"
    AnswerFixed {
        ticket: TicketId,
        fixed: bool,
        words: Option<String>,
        score: Option<u8>,
    },
    /// The notices up to `up_to` were shown.
    NoticesSeen {
        up_to: u64,
    },
    /// Articles that may answer what the user has typed.
    SuggestArticles {
        text: String,
    },
    /// One suggested article, to read.
    OpenArticle {
        id: ArticleId,
    },
    /// "This solved it".
    Solved {
        article: ArticleId,
        query: String,
    },
}

/// Link → window. Every failure is text for the user that says what to do.
#[derive(Debug, Clone, PartialEq)]
pub enum LinkEvent {
    /// Connected (again) to the daemon.
    Connected(Session),
    /// The daemon cannot be reached; the link keeps trying.
    Disconnected(String),
    Filed {
        ticket: TicketId,
        delivered: bool,
    },
    FileFailed(String),
    Tickets(Vec<EmployeeTicket>),
    TicketsFailed(String),
    ConsentRequested(ConsentAsk),
    /// The consent channel closed: prompts still shown can no longer be
    /// answered (the daemon counts them as refused).
    ConsentClosed,
    /// The user's tickets and notices as the daemon keeps them (at once
    /// when the window connects, and again on every change).
    Inbox(InboxView),
    /// A reply or answer is on its way to the help desk.
    Queued {
        ticket: TicketId,
    },
    /// A reply or answer was not taken.
    ActionFailed(String),
    /// Articles for `text` (none when the help desk is away).
    Suggestions {
        text: String,
        list: Vec<Suggestion>,
    },
    Article(PublicArticle),
    /// The article could not be opened.
    ArticleFailed(String),
    /// "This solved it" is on its way to the help desk.
    Deflected {
        article: ArticleId,
    },
}

/// How the window reaches the daemon. Both calls return at once.
pub trait DaemonLink {
    fn send(&mut self, command: LinkCommand);
    /// The next event, if one has arrived.
    fn try_recv(&mut self) -> Option<LinkEvent>;
}
