//! The window's side of the local socket: connect and say hello, then file
//! tickets, list "My tickets", or turn the connection into the consent
//! channel that carries a technician's screenshot requests.
//!
//! ```no_run
//! # async fn demo() -> Result<(), triage_agent::desktop::client::DesktopError> {
//! use triage_agent::desktop::client::DesktopClient;
//! use triage_agent::desktop::protocol::ConsentAnswer;
//! let socket = triage_agent::desktop::locate_socket(None);
//! let (mut client, welcome) = DesktopClient::connect(&socket).await?;
//! println!("signed in as {}", welcome.user);
//! let tickets = client.my_tickets().await?;
//! let (prompts, _) = DesktopClient::connect(&socket).await?;
//! let mut prompts = prompts.serve_consent().await?;
//! while let Some(prompt) = prompts.next_request().await? {
//!     prompts.answer(prompt.request, ConsentAnswer::Deny).await?;
//! }
//! # Ok(()) }
//! ```

use super::frame::{read_frame, write_frame, CodecError};
use super::protocol::{
    ConsentAnswer, DesktopReply, DesktopRequest, HelpForm, DESKTOP_PROTOCOL_VERSION,
};
use crate::inbox::InboxView;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use triage_shared::kb::{ArticleId, PublicArticle, Suggestion};
use triage_shared::ticket::EmployeeTicket;
use triage_shared::TicketId;

/// How long the client waits for the daemon's answer to a request (filing
/// collects diagnostics and may try the relay; My tickets asks the relay).
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(60);

/// A byte stream to the daemon: a Unix socket, or a named pipe on Windows.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// A connection to the agent daemon, past the hello.
pub struct DesktopClient {
    stream: Box<dyn Stream>,
    path: PathBuf,
}

/// What the daemon said on connecting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Welcome {
    /// The account the daemon files tickets under (from the socket's peer uid).
    pub user: String,
    pub hostname: String,
    /// false: the endpoint's policy forbids screenshots; offer none.
    pub screenshots_allowed: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum DesktopError {
    #[error("the Triage agent is not running (no socket at {}); ask your IT team, or start it with `triage-agent run`", path.display())]
    NotRunning { path: PathBuf },
    /// The daemon said no; its text is for the user.
    #[error("{0}")]
    Refused(String),
    #[error("cannot talk to the Triage agent at {}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("the Triage agent answered something unexpected ({0}); the window and the agent may be different versions")]
    Protocol(String),
    #[error("the Triage agent did not answer within {} s; try again", REPLY_TIMEOUT.as_secs())]
    Timeout,
}

/// A consent prompt to show the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentPrompt {
    pub request: u64,
    /// "Technician NAME asks to see your screen …"
    pub technician: String,
    pub ticket: Option<TicketId>,
}

#[cfg(unix)]
async fn open(path: &Path) -> Result<Box<dyn Stream>, DesktopError> {
    use std::io::ErrorKind;
    match tokio::net::UnixStream::connect(path).await {
        Ok(stream) => Ok(Box::new(stream)),
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::ConnectionRefused) => {
            Err(DesktopError::NotRunning {
                path: path.to_path_buf(),
            })
        }
        Err(error) => Err(DesktopError::Io {
            path: path.to_path_buf(),
            error,
        }),
    }
}

#[cfg(windows)]
async fn open(path: &Path) -> Result<Box<dyn Stream>, DesktopError> {
    super::windows::connect(path)
        .await
        .map(|s| Box::new(s) as Box<dyn Stream>)
}

impl DesktopClient {
    /// Connects to the daemon at `socket` and says hello.
    pub async fn connect(socket: &Path) -> Result<(DesktopClient, Welcome), DesktopError> {
        let mut client = DesktopClient {
            stream: open(socket).await?,
            path: socket.to_path_buf(),
        };
        let hello = DesktopRequest::Hello {
            version: DESKTOP_PROTOCOL_VERSION,
        };
        // A refused peer may find the socket closed before its hello is
        // written; the refusal is still waiting to be read, so read first.
        let sent = write_frame(&mut client.stream, &hello).await;
        let reply = match (sent, client.reply().await) {
            (_, Err(DesktopError::Refused(why))) => return Err(DesktopError::Refused(why)),
            (Err(e), Err(_)) => return Err(client.codec(e)),
            (_, reply) => reply?,
        };
        match reply {
            DesktopReply::Welcome {
                user,
                hostname,
                screenshots_allowed,
            } => Ok((
                client,
                Welcome {
                    user,
                    hostname,
                    screenshots_allowed,
                },
            )),
            other => Err(unexpected(other)),
        }
    }

    /// Files a ticket: its id, and whether the relay has it already
    /// (`false`: queued, sent when the network is back).
    pub async fn file_ticket(&mut self, form: HelpForm) -> Result<(TicketId, bool), DesktopError> {
        match self.exchange(&DesktopRequest::FileTicket(form)).await? {
            DesktopReply::Filed { ticket, delivered } => Ok((ticket, delivered)),
            other => Err(unexpected(other)),
        }
    }

    /// The user's tickets, newest first, with the help desk's latest reply.
    pub async fn my_tickets(&mut self) -> Result<Vec<EmployeeTicket>, DesktopError> {
        match self.exchange(&DesktopRequest::MyTickets).await? {
            DesktopReply::MyTickets(tickets) => Ok(tickets),
            other => Err(unexpected(other)),
        }
    }

    /// The user's tickets and notices, as the daemon keeps them.
    pub async fn inbox(&mut self) -> Result<InboxView, DesktopError> {
        match self.exchange(&DesktopRequest::Inbox).await? {
            DesktopReply::Inbox(view) => Ok(view),
            other => Err(unexpected(other)),
        }
    }

    /// Says the user was shown their notices up to `up_to`.
    pub async fn notices_seen(&mut self, up_to: u64) -> Result<InboxView, DesktopError> {
        match self
            .exchange(&DesktopRequest::NoticesSeen { up_to })
            .await?
        {
            DesktopReply::Inbox(view) => Ok(view),
            other => Err(unexpected(other)),
        }
    }

    /// The user's reply on `ticket`, queued for the help desk.
    pub async fn reply_to(&mut self, ticket: TicketId, text: String) -> Result<(), DesktopError> {
        match self
            .exchange(&DesktopRequest::ReplyToTicket { ticket, text })
            .await?
        {
            DesktopReply::Queued { .. } => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// The user's answer to "Did this fix it?" on `ticket`.
    pub async fn answer_fixed(
        &mut self,
        ticket: TicketId,
        fixed: bool,
        words: Option<String>,
        score: Option<u8>,
    ) -> Result<(), DesktopError> {
        let request = DesktopRequest::AnswerFixed {
            ticket,
            fixed,
            words,
            score,
        };
        match self.exchange(&request).await? {
            DesktopReply::Queued { .. } => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// Knowledge base articles that may answer `text`; empty when there
    /// are none or the help desk cannot be reached.
    pub async fn suggest_articles(
        &mut self,
        text: String,
    ) -> Result<Vec<Suggestion>, DesktopError> {
        match self
            .exchange(&DesktopRequest::SuggestArticles { text })
            .await?
        {
            DesktopReply::Suggestions(list) => Ok(list),
            other => Err(unexpected(other)),
        }
    }

    /// One suggested article, to read.
    pub async fn open_article(&mut self, id: ArticleId) -> Result<PublicArticle, DesktopError> {
        match self.exchange(&DesktopRequest::OpenArticle { id }).await? {
            DesktopReply::Article(article) => Ok(article),
            other => Err(unexpected(other)),
        }
    }

    /// "This solved it" for `article`, with what the user had typed.
    pub async fn solved(&mut self, article: ArticleId, query: String) -> Result<(), DesktopError> {
        match self
            .exchange(&DesktopRequest::Solved { article, query })
            .await?
        {
            DesktopReply::Deflected { .. } => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// Makes this connection carry the user's inbox whenever it changes.
    pub async fn watch_inbox(mut self) -> Result<InboxChannel, DesktopError> {
        self.send(&DesktopRequest::WatchInbox).await?;
        Ok(InboxChannel { client: self })
    }

    /// Makes this connection the channel the daemon asks consent on.
    pub async fn serve_consent(mut self) -> Result<ConsentChannel, DesktopError> {
        match self.exchange(&DesktopRequest::ServeConsent).await? {
            DesktopReply::ConsentReady => Ok(ConsentChannel { client: self }),
            other => Err(unexpected(other)),
        }
    }

    async fn exchange(&mut self, request: &DesktopRequest) -> Result<DesktopReply, DesktopError> {
        self.send(request).await?;
        match tokio::time::timeout(REPLY_TIMEOUT, self.reply()).await {
            Ok(reply) => reply,
            Err(_) => Err(DesktopError::Timeout),
        }
    }

    async fn send(&mut self, request: &DesktopRequest) -> Result<(), DesktopError> {
        write_frame(&mut self.stream, request)
            .await
            .map_err(|e| self.codec(e))
    }

    /// The next frame; an `Error` frame becomes [`DesktopError::Refused`].
    async fn reply(&mut self) -> Result<DesktopReply, DesktopError> {
        match self.next().await? {
            Some(reply) => Ok(reply),
            None => Err(DesktopError::Protocol(
                "the connection closed without an answer".into(),
            )),
        }
    }

    async fn next(&mut self) -> Result<Option<DesktopReply>, DesktopError> {
        match read_frame(&mut self.stream).await {
            Ok(Some(DesktopReply::Error(why))) => Err(DesktopError::Refused(why)),
            Ok(other) => Ok(other),
            Err(e) => Err(self.codec(e)),
        }
    }

    fn codec(&self, e: CodecError) -> DesktopError {
        match e {
            CodecError::Io(error) => DesktopError::Io {
                path: self.path.clone(),
                error,
            },
            other => DesktopError::Protocol(other.to_string()),
        }
    }
}

fn unexpected(reply: DesktopReply) -> DesktopError {
    let name = match reply {
        DesktopReply::Welcome { .. } => "welcome",
        DesktopReply::Filed { .. } => "filed",
        DesktopReply::MyTickets(_) => "my tickets",
        DesktopReply::ConsentRequest { .. } => "consent request",
        DesktopReply::Error(_) => "error",
        DesktopReply::ConsentReady => "consent ready",
        DesktopReply::Inbox(_) => "inbox",
        DesktopReply::Queued { .. } => "queued",
        DesktopReply::Suggestions(_) => "suggestions",
        DesktopReply::Article(_) => "article",
        DesktopReply::Deflected { .. } => "deflected",
    };
    DesktopError::Protocol(format!("`{name}` out of turn"))
}

/// A connection that carries the user's inbox each time it changes.
pub struct InboxChannel {
    client: DesktopClient,
}

impl InboxChannel {
    /// The inbox as it is now (first) or after the next change, waiting
    /// as long as it takes; `None` when the daemon closed the channel.
    pub async fn next(&mut self) -> Result<Option<InboxView>, DesktopError> {
        match self.client.next().await? {
            None => Ok(None),
            Some(DesktopReply::Inbox(view)) => Ok(Some(view)),
            Some(other) => Err(unexpected(other)),
        }
    }
}

/// A connection that carries the daemon's consent prompts to the window.
pub struct ConsentChannel {
    client: DesktopClient,
}

impl ConsentChannel {
    /// The next prompt to show, waiting as long as it takes. `None` when
    /// the daemon closed the channel (it stopped, or a newer window of the
    /// same user took over).
    pub async fn next_request(&mut self) -> Result<Option<ConsentPrompt>, DesktopError> {
        match self.client.next().await? {
            None => Ok(None),
            Some(DesktopReply::ConsentRequest {
                request,
                technician,
                ticket,
            }) => Ok(Some(ConsentPrompt {
                request,
                technician,
                ticket,
            })),
            Some(other) => Err(unexpected(other)),
        }
    }

    /// The user's answer to prompt `request` (with the picture when allowed).
    pub async fn answer(
        &mut self,
        request: u64,
        answer: ConsentAnswer,
    ) -> Result<(), DesktopError> {
        self.client
            .send(&DesktopRequest::ConsentAnswer { request, answer })
            .await
    }
}
