//! What the "Get help" window and the agent daemon say to each other over
//! the local socket: `u32` length prefix + bincode frames (the relay
//! protocol's codec), at most [`MAX_DESKTOP_FRAME_LEN`] each.
//!
//! ```text
//! window                                   daemon
//!   Hello{version} ───────────────────────►  peer uid allowed? ──no──► Error, close
//!                  ◄─────────────────────── Welcome{user, hostname, screenshots}
//!   FileTicket(HelpForm) ─────────────────►  + snapshot → outbox → relay
//!                  ◄─────────────────────── Filed{ticket, delivered, screenshot_attached}
//!   MyTickets ────────────────────────────►  relay: MyTickets{requester}
//!                  ◄─────────────────────── MyTickets(..) | Error
//!   ServeConsent ─────────────────────────►  this connection is now the
//!                  ◄─────────────────────── ConsentReady    session's consent channel:
//!                  ◄─────────────────────── ConsentRequest{request, technician, ticket}
//!   ConsentAnswer{request, answer} ───────►  (no answer in 60 s = refused)
//!   Inbox | NoticesSeen{up_to} ───────────►  the daemon's inbox (inbox.json)
//!                  ◄─────────────────────── Inbox(view of this user's tickets)
//!   WatchInbox ───────────────────────────►  this connection now carries
//!                  ◄─────────────────────── Inbox(..) now and on every change
//!   ReplyToTicket | AnswerFixed ──────────►  requester = the peer's account
//!                  ◄─────────────────────── Queued{ticket} | Error (outbox → relay)
//!   SuggestArticles{text} ────────────────►  relay: SuggestArticles (public only)
//!                  ◄─────────────────────── Suggestions(≤ 3; none when offline)
//!   OpenArticle{id} ──────────────────────►  relay: ReadArticle
//!                  ◄─────────────────────── Article | Error
//!   Solved{article, query} ───────────────►  deflection → outbox → relay
//!                  ◄─────────────────────── Deflected{article} | Error
//! ```
//!
//! bincode is positional: append variants at the end, never reorder, or
//! bump [`DESKTOP_PROTOCOL_VERSION`].

use crate::inbox::InboxView;
use serde::{Deserialize, Serialize};
use triage_shared::kb::{ArticleId, PublicArticle, Suggestion};
use triage_shared::ticket::{Category, EmployeeTicket, Priority};
use triage_shared::TicketId;

/// 2: `HelpForm` carries the articles read before filing.
pub const DESKTOP_PROTOCOL_VERSION: u16 = 2;

/// Largest frame either side sends or accepts on the local socket: a
/// full-resolution screenshot for a technician fits (a 4K screen's PNG is
/// well under this), and nothing unbounded is ever read.
pub const MAX_DESKTOP_FRAME_LEN: usize = 32 * 1024 * 1024;

/// How long the daemon waits for the user to answer a consent prompt.
pub const CONSENT_TIMEOUT: std::time::Duration = triage_shared::limits::SCREENSHOT_CONSENT_TIMEOUT;

/// Window → daemon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DesktopRequest {
    /// The first frame on every connection.
    Hello { version: u16 },
    /// File a ticket for the user at the other end of the socket.
    FileTicket(HelpForm),
    /// That user's tickets, from the relay.
    MyTickets,
    /// From now on this connection carries consent prompts to this window.
    ServeConsent,
    /// The user's answer to a [`DesktopReply::ConsentRequest`].
    ConsentAnswer { request: u64, answer: ConsentAnswer },
    /// That user's tickets as the daemon knows them (no relay needed),
    /// with what they have not been told yet: `Inbox`.
    Inbox,
    /// From now on this connection carries an `Inbox` frame at once and
    /// again whenever the user's tickets change.
    WatchInbox,
    /// The user was shown their notices up to `up_to`: `Inbox`.
    NoticesSeen { up_to: u64 },
    /// The user's reply on their ticket: `Queued`.
    ReplyToTicket { ticket: TicketId, text: String },
    /// The user's answer to "Did this fix it?": `Queued`. `words` is
    /// required with No (it reopens the ticket as a comment).
    AnswerFixed {
        ticket: TicketId,
        fixed: bool,
        words: Option<String>,
        score: Option<u8>,
    },
    /// Knowledge base articles that may answer what the user is typing:
    /// `Suggestions`, empty when there are none or the relay is away.
    SuggestArticles { text: String },
    /// One suggested article, to read in the window: `Article`.
    OpenArticle { id: ArticleId },
    /// "This solved it": no ticket; the help desk counts the article as
    /// having helped. `query` is what the user had typed: `Deflected`.
    Solved { article: ArticleId, query: String },
}

/// What the employee typed and chose in the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HelpForm {
    /// "What's wrong?": the first line becomes the ticket title (cut to
    /// the title limit), the whole text its description.
    pub text: String,
    pub category: Category,
    pub priority: Priority,
    /// A PNG of the screen, only when the user ticked "include"; at most
    /// [`triage_shared::limits::MAX_ATTACHED_SCREENSHOT_LEN`] bytes.
    pub screenshot: Option<Vec<u8>>,
    /// Knowledge base articles the user opened before asking anyway ("I
    /// still need help"), at most [`triage_shared::kb::MAX_VIEWED_ARTICLES`].
    pub viewed_articles: Vec<ArticleId>,
}

/// The user's answer to a technician's screenshot request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ConsentAnswer {
    /// Allowed; the window captured the screen as the logged-in user.
    Allow {
        png: Vec<u8>,
    },
    Deny,
    /// Allowed, but the capture failed (the reason reaches the technician).
    CaptureFailed(String),
}

/// Daemon → window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DesktopReply {
    Welcome {
        /// The account name the daemon resolved from the peer's uid; tickets
        /// are filed with it as the requester.
        user: String,
        hostname: String,
        /// false when agent.toml says `screenshots = "never"`: the window
        /// then offers no screenshot at all.
        screenshots_allowed: bool,
    },
    Filed {
        ticket: TicketId,
        /// true: the relay has it; false: queued, sent when the network is back.
        delivered: bool,
    },
    MyTickets(Vec<EmployeeTicket>),
    ConsentRequest {
        request: u64,
        technician: String,
        ticket: Option<TicketId>,
    },
    /// The request failed; the text is for the user and says what to do.
    Error(String),
    /// Answer to `ServeConsent`: prompts will come on this connection.
    /// (Without it a window could not know when a technician's request
    /// would reach it.)
    ConsentReady,
    /// The user's tickets and notices.
    Inbox(InboxView),
    /// The reply or answer is in the outbox; the daemon delivers it (now,
    /// or when the network is back).
    Queued {
        ticket: TicketId,
    },
    /// Articles for what the user typed, best first (at most
    /// [`triage_shared::kb::MAX_SUGGESTIONS`]).
    Suggestions(Vec<Suggestion>),
    Article(PublicArticle),
    /// The deflection is in the outbox, on its way to the help desk.
    Deflected {
        article: ArticleId,
    },
}
