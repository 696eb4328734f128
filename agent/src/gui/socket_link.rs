//! The real daemon link: the local socket, driven by a tokio runtime on a
//! thread of its own so the window never waits on it.
//!
//! Three connections: one for requests (filing, "My tickets", replies and
//! answers), made again whenever it breaks, one that the daemon uses to
//! ask for consent, and one that carries the user's inbox on every change.
//! While the daemon is not running, both retry every [`RECONNECT_EVERY`]
//! and the window says why it cannot reach it.

use super::link::{ConsentAsk, DaemonLink, LinkCommand, LinkEvent, Session};
use crate::desktop::client::{ConsentChannel, ConsentPrompt, DesktopClient, DesktopError, Welcome};
use crate::desktop::protocol::{ConsentAnswer, HelpForm};
use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// How often a lost or missing daemon is tried again.
pub const RECONNECT_EVERY: Duration = Duration::from_secs(5);
/// Commands queued for the background thread; a user cannot click faster
/// than it sends, so a full queue means it is stuck and the click is refused.
const COMMAND_QUEUE: usize = 32;

type Wake = Arc<dyn Fn() + Send + Sync>;

/// Events back to the window; every send wakes it up to draw them.
#[derive(Clone)]
struct Events {
    tx: std_mpsc::Sender<LinkEvent>,
    wake: Wake,
}

impl Events {
    /// false once the window has gone, so the thread can stop.
    fn send(&self, event: LinkEvent) -> bool {
        let open = self.tx.send(event).is_ok();
        (self.wake)();
        open
    }
}

pub struct SocketLink {
    commands: mpsc::Sender<LinkCommand>,
    events: std_mpsc::Receiver<LinkEvent>,
    /// For refusing a command locally when the queue is full.
    local: std_mpsc::Sender<LinkEvent>,
}

impl SocketLink {
    /// Starts the background thread; `wake` asks the window to draw again.
    pub fn start(
        socket: PathBuf,
        wake: impl Fn() + Send + Sync + 'static,
    ) -> std::io::Result<SocketLink> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (commands, command_rx) = mpsc::channel(COMMAND_QUEUE);
        let (tx, events) = std_mpsc::channel();
        let out = Events {
            tx: tx.clone(),
            wake: Arc::new(wake),
        };
        std::thread::Builder::new()
            .name("triage-gui-link".into())
            .spawn(move || runtime.block_on(drive(socket, command_rx, out)))?;
        Ok(SocketLink {
            commands,
            events,
            local: tx,
        })
    }
}

impl DaemonLink for SocketLink {
    fn send(&mut self, command: LinkCommand) {
        let refused = match &command {
            LinkCommand::FileTicket(_) => Some(LinkEvent::FileFailed(busy())),
            LinkCommand::MyTickets => Some(LinkEvent::TicketsFailed(busy())),
            // The daemon counts an unanswered prompt as refused anyway.
            LinkCommand::AnswerConsent { .. } => None,
            LinkCommand::Reply { .. } | LinkCommand::AnswerFixed { .. } => {
                Some(LinkEvent::ActionFailed(busy()))
            }
            // Shown again next time: harmless.
            LinkCommand::NoticesSeen { .. } => None,
            // Suggestions are quiet: none is nothing to report.
            LinkCommand::SuggestArticles { .. } => None,
            LinkCommand::OpenArticle { .. } => Some(LinkEvent::ArticleFailed(busy())),
            LinkCommand::Solved { .. } => Some(LinkEvent::ActionFailed(busy())),
        };
        if self.commands.try_send(command).is_err() {
            if let Some(event) = refused {
                let _ = self.local.send(event);
            }
        }
    }

    fn try_recv(&mut self) -> Option<LinkEvent> {
        self.events.try_recv().ok()
    }
}

fn busy() -> String {
    "The window's link to the Triage agent is not responding; close the window and open it again."
        .into()
}

/// An error as a sentence for the window.
fn sentence(e: impl std::fmt::Display) -> String {
    let text = e.to_string();
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => text,
    }
}

fn unreachable(e: &DesktopError) -> String {
    format!("{}. This window keeps trying.", sentence(e))
}

/// Whether the connection is still good after `e`: the daemon's own
/// refusals leave it in step; anything else may not.
fn keeps_connection(e: &DesktopError) -> bool {
    matches!(e, DesktopError::Refused(_))
}

fn session(welcome: Welcome) -> Session {
    Session {
        user: welcome.user,
        hostname: welcome.hostname,
        screenshots_allowed: welcome.screenshots_allowed,
    }
}

async fn drive(socket: PathBuf, mut commands: mpsc::Receiver<LinkCommand>, out: Events) {
    let (answers_tx, answers_rx) = mpsc::channel(COMMAND_QUEUE);
    let consent = tokio::spawn(consent_loop(socket.clone(), answers_rx, out.clone()));
    let inbox = tokio::spawn(inbox_loop(socket.clone(), out.clone()));
    let (typed_tx, typed_rx) = watch::channel(None);
    let suggestions = tokio::spawn(suggest_loop(socket.clone(), typed_rx, out.clone()));
    let mut client = connect(&socket, &out).await;
    loop {
        tokio::select! {
            command = commands.recv() => {
                let open = match command {
                    None => false,
                    Some(LinkCommand::AnswerConsent { request, answer }) => {
                        let _ = answers_tx.try_send((request, answer));
                        true
                    }
                    Some(LinkCommand::FileTicket(form)) => {
                        file(form, &socket, &mut client, &out).await
                    }
                    Some(LinkCommand::MyTickets) => my_tickets(&socket, &mut client, &out).await,
                    Some(command @ (LinkCommand::Reply { .. }
                    | LinkCommand::AnswerFixed { .. }
                    | LinkCommand::NoticesSeen { .. })) => {
                        employee(command, &socket, &mut client, &out).await
                    }
                    // The newest text replaces one not yet asked about.
                    Some(LinkCommand::SuggestArticles { text }) => {
                        typed_tx.send_replace(Some(text));
                        true
                    }
                    Some(command @ (LinkCommand::OpenArticle { .. }
                    | LinkCommand::Solved { .. })) => {
                        article(command, &socket, &mut client, &out).await
                    }
                };
                if !open {
                    break;
                }
            }
            _ = tokio::time::sleep(RECONNECT_EVERY), if client.is_none() => {
                client = connect(&socket, &out).await;
            }
        }
    }
    consent.abort();
    inbox.abort();
    suggestions.abort();
}

/// Opening an article or "This solved it", on the open connection (made
/// again if it has gone bad). false: the window has gone.
async fn article(
    command: LinkCommand,
    socket: &Path,
    client: &mut Option<DesktopClient>,
    out: &Events,
) -> bool {
    if client.is_none() {
        *client = connect(socket, out).await;
    }
    let Some(connected) = client.as_mut() else {
        let why = "The Triage agent cannot be reached (see above).".to_string();
        return out.send(match command {
            LinkCommand::OpenArticle { .. } => LinkEvent::ArticleFailed(why),
            _ => LinkEvent::ActionFailed(why),
        });
    };
    let event = match command {
        LinkCommand::OpenArticle { id } => match connected.open_article(id).await {
            Ok(article) => LinkEvent::Article(article),
            Err(e) => {
                if !keeps_connection(&e) {
                    *client = None;
                }
                LinkEvent::ArticleFailed(sentence(e))
            }
        },
        LinkCommand::Solved { article, query } => match connected.solved(article, query).await {
            Ok(()) => LinkEvent::Deflected { article },
            Err(e) => {
                if !keeps_connection(&e) {
                    *client = None;
                }
                LinkEvent::ActionFailed(format!("Not sent: {e}"))
            }
        },
        _ => return true,
    };
    out.send(event)
}

/// Asks for articles on a connection of its own, so a slow relay never
/// holds up filing; only the newest text typed is asked about. Any
/// failure means no suggestions, silently.
async fn suggest_loop(socket: PathBuf, mut typed: watch::Receiver<Option<String>>, out: Events) {
    let mut client: Option<DesktopClient> = None;
    while typed.changed().await.is_ok() {
        let Some(text) = typed.borrow_and_update().clone() else {
            continue;
        };
        if client.is_none() {
            client = DesktopClient::connect(&socket).await.ok().map(|(c, _)| c);
        }
        let list = match client.as_mut() {
            Some(connected) => match connected.suggest_articles(text.clone()).await {
                Ok(list) => list,
                Err(e) => {
                    tracing::debug!(error = %e, "no suggestions");
                    if !keeps_connection(&e) {
                        client = None;
                    }
                    Vec::new()
                }
            },
            None => Vec::new(),
        };
        if !out.send(LinkEvent::Suggestions { text, list }) {
            return;
        }
    }
}

/// A reply, an answer or "seen", on a connection made for it (as with
/// filing: a retried reply on a stale connection could be sent twice).
/// false: the window has gone.
async fn employee(
    command: LinkCommand,
    socket: &Path,
    client: &mut Option<DesktopClient>,
    out: &Events,
) -> bool {
    *client = connect(socket, out).await;
    let Some(connected) = client.as_mut() else {
        return match command {
            LinkCommand::NoticesSeen { .. } => true,
            _ => out.send(LinkEvent::ActionFailed(
                "Not sent: the Triage agent cannot be reached (see above).".into(),
            )),
        };
    };
    let result = match command {
        LinkCommand::Reply { ticket, text } => connected
            .reply_to(ticket, text)
            .await
            .map(|()| Some(ticket)),
        LinkCommand::AnswerFixed {
            ticket,
            fixed,
            words,
            score,
        } => connected
            .answer_fixed(ticket, fixed, words, score)
            .await
            .map(|()| Some(ticket)),
        LinkCommand::NoticesSeen { up_to } => connected.notices_seen(up_to).await.map(|_| None),
        _ => Ok(None),
    };
    match result {
        Ok(Some(ticket)) => out.send(LinkEvent::Queued { ticket }),
        Ok(None) => true,
        Err(e) => {
            if !keeps_connection(&e) {
                *client = None;
            }
            out.send(LinkEvent::ActionFailed(format!("Not sent: {e}")))
        }
    }
}

/// Keeps the inbox channel open to the daemon, passing every view on, and
/// reconnects when it closes.
async fn inbox_loop(socket: PathBuf, out: Events) {
    loop {
        let channel = match DesktopClient::connect(&socket).await {
            Ok((client, _)) => client.watch_inbox().await,
            Err(e) => Err(e),
        };
        match channel {
            Ok(mut channel) => loop {
                match channel.next().await {
                    Ok(Some(view)) => {
                        if !out.send(LinkEvent::Inbox(view)) {
                            return;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::debug!(error = %e, "inbox channel failed");
                        break;
                    }
                }
            },
            Err(e) => tracing::debug!(error = %e, "no inbox channel yet"),
        }
        tokio::time::sleep(RECONNECT_EVERY).await;
    }
}

/// Connects if it can, telling the window either way.
async fn connect(socket: &Path, out: &Events) -> Option<DesktopClient> {
    match DesktopClient::connect(socket).await {
        Ok((client, welcome)) => {
            out.send(LinkEvent::Connected(session(welcome)));
            Some(client)
        }
        Err(e) => {
            out.send(LinkEvent::Disconnected(unreachable(&e)));
            None
        }
    }
}

/// Files on a connection made for it: one that sat idle may have been
/// closed by a restarted daemon, and a retried filing could file twice.
/// false: the window has gone.
async fn file(
    form: HelpForm,
    socket: &Path,
    client: &mut Option<DesktopClient>,
    out: &Events,
) -> bool {
    *client = connect(socket, out).await;
    let Some(connected) = client.as_mut() else {
        return out.send(LinkEvent::FileFailed(
            "The ticket was not filed: the Triage agent cannot be reached (see above).".into(),
        ));
    };
    let event = match connected.file_ticket(form).await {
        Ok((ticket, delivered)) => LinkEvent::Filed { ticket, delivered },
        Err(e) => {
            if !keeps_connection(&e) {
                *client = None;
            }
            LinkEvent::FileFailed(format!("The ticket was not filed: {e}"))
        }
    };
    out.send(event)
}

/// "My tickets" on the open connection, tried once more on a new one if
/// that one has gone bad (asking twice is harmless). false: the window has
/// gone.
async fn my_tickets(socket: &Path, client: &mut Option<DesktopClient>, out: &Events) -> bool {
    let mut last = None;
    for _ in 0..2 {
        if client.is_none() {
            *client = connect(socket, out).await;
        }
        let Some(connected) = client.as_mut() else {
            break;
        };
        match connected.my_tickets().await {
            Ok(list) => return out.send(LinkEvent::Tickets(list)),
            Err(e) if keeps_connection(&e) => {
                return out.send(LinkEvent::TicketsFailed(sentence(e)));
            }
            Err(e) => {
                *client = None;
                last = Some(e);
            }
        }
    }
    let why = match last {
        Some(e) => sentence(e),
        None => "The Triage agent cannot be reached (see above).".into(),
    };
    out.send(LinkEvent::TicketsFailed(why))
}

/// Keeps a consent channel open to the daemon, reconnecting when it closes.
async fn consent_loop(
    socket: PathBuf,
    mut answers: mpsc::Receiver<(u64, ConsentAnswer)>,
    out: Events,
) {
    loop {
        let channel = match DesktopClient::connect(&socket).await {
            Ok((client, _)) => client.serve_consent().await,
            Err(e) => Err(e),
        };
        match channel {
            Ok(channel) => {
                // Answers queued meanwhile were for the last channel's
                // prompts; request numbers may repeat on a new one.
                while answers.try_recv().is_ok() {}
                if !serve_consent(channel, &mut answers, &out).await {
                    return;
                }
            }
            Err(e) => tracing::debug!(error = %e, "no consent channel yet"),
        }
        tokio::time::sleep(RECONNECT_EVERY).await;
    }
}

/// Passes prompts to the window and its answers back until the channel
/// closes. false: the window has gone.
async fn serve_consent(
    mut channel: ConsentChannel,
    answers: &mut mpsc::Receiver<(u64, ConsentAnswer)>,
    out: &Events,
) -> bool {
    loop {
        // Cancelling next_request() when an answer is ready is safe in
        // practice: a prompt is one small frame written at once, so the
        // read never waits in the middle of one. Were it ever cut, the rest
        // would fail to decode and the channel would be made again.
        tokio::select! {
            request = channel.next_request() => match request {
                Ok(Some(ConsentPrompt { request, technician, ticket })) => {
                    let ask = ConsentAsk { request, technician, ticket };
                    if !out.send(LinkEvent::ConsentRequested(ask)) {
                        return false;
                    }
                }
                Ok(None) => return out.send(LinkEvent::ConsentClosed),
                Err(e) => {
                    tracing::debug!(error = %e, "consent channel failed");
                    return out.send(LinkEvent::ConsentClosed);
                }
            },
            answer = answers.recv() => {
                let Some((request, answer)) = answer else { return false };
                if let Err(e) = channel.answer(request, answer).await {
                    tracing::debug!(error = %e, "cannot send the consent answer");
                    return out.send(LinkEvent::ConsentClosed);
                }
            }
        }
    }
}

#[cfg(all(test, unix))]
#[path = "socket_link_tests.rs"]
mod tests;
