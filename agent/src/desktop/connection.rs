//! One window's connection, after the peer check let it in.
//!
//! ```text
//! Hello{version} (within HELLO_TIMEOUT) ──wrong/garbled──► Error, close
//!   └─► Welcome{user = the peer's account, hostname, screenshots_allowed}
//! loop (each request within the idle timeout, else Error, close):
//!   FileTicket(form) ──► Filed{ticket, delivered} | Error
//!   MyTickets        ──► MyTickets(..) | Error
//!   ServeConsent     ──► ConsentReady; the connection becomes a consent
//!                        channel (no idle timeout) until the window goes,
//!                        a newer window of the same user replaces it, or
//!                        the daemon stops
//!   Inbox | NoticesSeen{up_to} ──► Inbox(the peer's tickets and notices)
//!   ReplyToTicket | AnswerFixed ──► Queued{ticket} | Error (only the peer's
//!                        own tickets; queued with the peer's account)
//!   WatchInbox       ──► Inbox(..) now and on every change, until the
//!                        window goes or the daemon stops
//!   garbled          ──► Error, close (other connections are untouched)
//! ```
//!
//! Generic over the byte stream, so the same code serves a Unix socket, a
//! Windows pipe, and the in-memory pipes of the tests.

use super::consent::{describe_timeout, ConsentRegistry, Job, Registration};
use super::employee::{self, Answer};
use super::frame::{read_frame, write_frame, CodecError};
use super::peer::{AllowedPeers, Peer};
use super::protocol::{ConsentAnswer, DesktopReply, DesktopRequest, DESKTOP_PROTOCOL_VERSION};
use super::{requests, self_service};
use crate::config::AgentConfig;
use crate::help::FileOptions;
use crate::inbox::Inbox;
use crate::screenshot::{Consent, ScreenshotPolicy};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};
use triage_shared::text::shortened;

/// Connections served at once; more are told to try again.
pub const MAX_DESKTOP_CONNECTIONS: usize = 32;
/// How long a new connection has to say `Hello`.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection may sit without a request (consent channels excepted).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// How long one reply may take to write before the window is given up on.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest capture-failure reason passed on to the technician.
const MAX_REASON_LEN: usize = 1024;

/// What every connection of one daemon shares.
#[derive(Debug)]
pub struct DesktopService {
    state_dir: PathBuf,
    allowed: AllowedPeers,
    hostname: String,
    screenshots_allowed: bool,
    consent: Arc<ConsentRegistry>,
    idle_timeout: Duration,
    file_options: FileOptions,
    /// The employee's tickets as the daemon knows them.
    inbox: Arc<Inbox>,
    max_outbox: usize,
}

impl DesktopService {
    /// The service of the daemon with `state_dir` and `config`, asking
    /// screenshot consent through `consent`.
    pub fn new(state_dir: &Path, config: &AgentConfig, consent: Arc<ConsentRegistry>) -> Self {
        #[cfg(unix)]
        let daemon_uid = super::peer::effective_uid();
        #[cfg(not(unix))]
        let daemon_uid = super::peer::ROOT_UID;
        DesktopService {
            state_dir: state_dir.to_path_buf(),
            allowed: AllowedPeers {
                daemon_uid,
                listed: config.desktop_users.clone(),
            },
            hostname: crate::host::hostname(),
            screenshots_allowed: config.screenshots != ScreenshotPolicy::Never,
            consent,
            idle_timeout: IDLE_TIMEOUT,
            file_options: FileOptions::default(),
            inbox: Inbox::in_memory(),
            max_outbox: config.max_outbox_messages,
        }
    }

    /// Shows and updates the employee's tickets through `inbox` (the
    /// daemon's; a new service has an empty one in memory).
    pub fn with_inbox(mut self, inbox: Arc<Inbox>) -> Self {
        self.inbox = inbox;
        self
    }

    pub fn inbox(&self) -> &Arc<Inbox> {
        &self.inbox
    }

    pub(crate) fn max_outbox(&self) -> usize {
        self.max_outbox
    }

    /// Closes connections idle for `timeout` instead of [`IDLE_TIMEOUT`].
    pub fn with_idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Files tickets with `options` (how long to try delivering at once).
    pub fn with_file_options(mut self, options: FileOptions) -> Self {
        self.file_options = options;
        self
    }

    pub fn allowed(&self) -> &AllowedPeers {
        &self.allowed
    }

    pub fn consent(&self) -> &Arc<ConsentRegistry> {
        &self.consent
    }

    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    pub fn screenshots_allowed(&self) -> bool {
        self.screenshots_allowed
    }

    pub(crate) fn file_options(&self) -> FileOptions {
        self.file_options.clone()
    }
}

/// Writes one reply, bounded by [`WRITE_TIMEOUT`]; `Err` means the
/// connection is of no further use.
async fn send<W: AsyncWrite + Unpin>(writer: &mut W, reply: &DesktopReply) -> Result<(), ()> {
    match tokio::time::timeout(WRITE_TIMEOUT, write_frame(writer, reply)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            debug!(error = %e, "the window's connection broke");
            Err(())
        }
        Err(_) => {
            warn!("the window did not read a reply within {WRITE_TIMEOUT:?}; closing");
            Err(())
        }
    }
}

fn unreadable(e: &CodecError) -> DesktopReply {
    DesktopReply::Error(format!(
        "the Triage agent could not read that message ({e}); closing this connection"
    ))
}

/// Serves one connection from `peer` (already allowed) to its end.
pub async fn serve_connection<S>(stream: S, peer: Peer, service: Arc<DesktopService>)
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut reader, mut writer) = tokio::io::split(stream);
    let hello = tokio::time::timeout(HELLO_TIMEOUT, read_frame(&mut reader)).await;
    let refusal = match hello {
        Err(_) => Some(format!(
            "no Hello within {} s; closing this connection",
            HELLO_TIMEOUT.as_secs()
        )),
        Ok(Ok(None)) => return,
        Ok(Err(e)) => {
            let _ = send(&mut writer, &unreadable(&e)).await;
            return;
        }
        Ok(Ok(Some(DesktopRequest::Hello { version }))) if version == DESKTOP_PROTOCOL_VERSION => {
            None
        }
        Ok(Ok(Some(DesktopRequest::Hello { version }))) => Some(format!(
            "this window speaks version {version} of the desktop protocol and the Triage agent speaks version {DESKTOP_PROTOCOL_VERSION}; install matching versions"
        )),
        Ok(Ok(Some(_))) => Some("the first message on a connection must be Hello".into()),
    };
    if let Some(why) = refusal {
        debug!(%why, "refusing a window");
        let _ = send(&mut writer, &DesktopReply::Error(why)).await;
        return;
    }
    let welcome = DesktopReply::Welcome {
        user: peer.account.clone(),
        hostname: service.hostname.clone(),
        screenshots_allowed: service.screenshots_allowed,
    };
    if send(&mut writer, &welcome).await.is_err() {
        return;
    }
    loop {
        let request =
            match tokio::time::timeout(service.idle_timeout, read_frame(&mut reader)).await {
                Err(_) => {
                    let why = format!(
                        "closing this connection after {} without a request; connect again",
                        describe_timeout(service.idle_timeout)
                    );
                    let _ = send(&mut writer, &DesktopReply::Error(why)).await;
                    return;
                }
                Ok(Ok(None)) => return,
                Ok(Err(e)) => {
                    warn!(error = %e, "a window sent something unreadable");
                    let _ = send(&mut writer, &unreadable(&e)).await;
                    return;
                }
                Ok(Ok(Some(request))) => request,
            };
        let reply = match request {
            DesktopRequest::FileTicket(form) => requests::file_ticket(&service, &peer, form).await,
            DesktopRequest::MyTickets => requests::my_tickets(&service, &peer).await,
            DesktopRequest::ServeConsent if !service.screenshots_allowed => {
                let why = "this computer's policy does not allow screenshots, so there is no consent to ask for";
                let _ = send(&mut writer, &DesktopReply::Error(why.into())).await;
                return;
            }
            DesktopRequest::ServeConsent => {
                return consent_channel(reader, writer, &peer, &service.consent).await
            }
            DesktopRequest::Hello { .. } => {
                DesktopReply::Error("Hello was already said on this connection".into())
            }
            DesktopRequest::ConsentAnswer { .. } => DesktopReply::Error(
                "no consent prompt is open on this connection; send ServeConsent first".into(),
            ),
            DesktopRequest::Inbox => DesktopReply::Inbox(service.inbox.view(&peer.account)),
            DesktopRequest::NoticesSeen { up_to } => {
                service.inbox.mark_seen(&peer.account, up_to);
                DesktopReply::Inbox(service.inbox.view(&peer.account))
            }
            DesktopRequest::WatchInbox => {
                return inbox_channel(reader, writer, &peer, &service.inbox).await
            }
            DesktopRequest::ReplyToTicket { ticket, text } => {
                employee::reply(&service, &peer, ticket, &text)
            }
            DesktopRequest::AnswerFixed {
                ticket,
                fixed,
                words,
                score,
            } => {
                let answer = Answer {
                    fixed,
                    words,
                    score,
                };
                employee::answer_fixed(&service, &peer, ticket, answer)
            }
            DesktopRequest::SuggestArticles { text } => {
                self_service::suggest(&service, &text).await
            }
            DesktopRequest::OpenArticle { id } => self_service::open(&service, id).await,
            DesktopRequest::Solved { article, query } => {
                self_service::solved(&service, &peer, article, &query)
            }
        };
        if send(&mut writer, &reply).await.is_err() {
            return;
        }
    }
}

/// Sends the peer's inbox now and on every change, until the window goes
/// or the daemon stops. The window only listens here; anything it sends
/// ends the channel.
async fn inbox_channel<R, W>(mut reader: R, mut writer: W, peer: &Peer, inbox: &Inbox)
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin,
{
    let mut changed = inbox.subscribe();
    // A read is not cancel-safe, so it gets a task of its own: it ends
    // when the window closes its side (or says anything at all).
    let (gone_tx, mut gone) = tokio::sync::oneshot::channel::<()>();
    let _reader = AbortOnDrop(tokio::spawn(async move {
        let _ = read_frame::<_, DesktopRequest>(&mut reader).await;
        let _ = gone_tx.send(());
    }));
    loop {
        changed.mark_unchanged();
        let view = DesktopReply::Inbox(inbox.view(&peer.account));
        if send(&mut writer, &view).await.is_err() {
            return;
        }
        tokio::select! {
            moved = changed.changed() => if moved.is_err() { return },
            _ = &mut gone => return,
        }
    }
}

/// Removes a consent channel from the registry however its task ends.
struct Unregister<'a> {
    registry: &'a ConsentRegistry,
    uid: u32,
    id: u64,
}

impl Drop for Unregister<'_> {
    fn drop(&mut self) {
        self.registry.unregister(self.uid, self.id);
    }
}

/// Aborts the reader task when the channel ends (it may be parked in a read).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

type Frames = mpsc::Receiver<Result<Option<DesktopRequest>, CodecError>>;

/// Carries consent prompts to this window until it goes or is replaced.
async fn consent_channel<R, W>(
    mut reader: R,
    mut writer: W,
    peer: &Peer,
    registry: &ConsentRegistry,
) where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin,
{
    let uid = peer.uid.unwrap_or(u32::MAX);
    let Registration { id, mut jobs } = registry.register(uid);
    let _unregister = Unregister { registry, uid, id };
    if send(&mut writer, &DesktopReply::ConsentReady)
        .await
        .is_err()
    {
        return;
    }
    info!(account = %peer.account, "a Get help window will answer screenshot requests");
    // Frames are read on a task of their own so that waiting for one never
    // races a job half-way through a read (a frame read is not cancel-safe).
    let (tx, mut frames) = mpsc::channel(1);
    let _reader = AbortOnDrop(tokio::spawn(async move {
        loop {
            let frame = read_frame::<_, DesktopRequest>(&mut reader).await;
            let more = matches!(frame, Ok(Some(_)));
            if tx.send(frame).await.is_err() || !more {
                break;
            }
        }
    }));
    loop {
        tokio::select! {
            job = jobs.recv() => {
                let Some(job) = job else {
                    debug!("a newer window took over; closing this consent channel");
                    return;
                };
                if !prompt(&mut writer, &mut frames, job, registry.timeout()).await {
                    return;
                }
            }
            frame = frames.recv() => match frame {
                None | Some(Ok(None)) => return,
                Some(Ok(Some(DesktopRequest::ConsentAnswer { request, .. }))) => {
                    debug!(request, "an answer to a prompt that is already over; ignored");
                }
                Some(Ok(Some(_))) => {
                    let why = "this connection only carries consent answers; open another for requests";
                    let _ = send(&mut writer, &DesktopReply::Error(why.into())).await;
                    return;
                }
                Some(Err(e)) => {
                    let _ = send(&mut writer, &unreadable(&e)).await;
                    return;
                }
            },
        }
    }
}

/// Puts one prompt to the window and reports the user's answer to the
/// asker; `false` when the connection must close.
async fn prompt<W: AsyncWrite + Unpin>(
    writer: &mut W,
    frames: &mut Frames,
    job: Job,
    timeout: Duration,
) -> bool {
    if job.reply.is_closed() {
        debug!(
            request = job.request,
            "the technician stopped waiting; not asking"
        );
        return true;
    }
    let ask = DesktopReply::ConsentRequest {
        request: job.request,
        technician: job.technician.clone(),
        ticket: job.ticket,
    };
    if send(writer, &ask).await.is_err() {
        let _ = job.reply.send(Consent::Denied(
            "the Get help window could not be reached".into(),
        ));
        return false;
    }
    let answer =
        async {
            loop {
                match frames.recv().await {
                    Some(Ok(Some(DesktopRequest::ConsentAnswer { request, answer })))
                        if request == job.request =>
                    {
                        return Ok(consent_of(answer));
                    }
                    Some(Ok(Some(DesktopRequest::ConsentAnswer { request, .. }))) => {
                        debug!(request, "an answer to an earlier prompt; ignored");
                    }
                    Some(Ok(Some(_))) => return Err(Some(DesktopReply::Error(
                        "this connection only carries consent answers; open another for requests"
                            .into(),
                    ))),
                    Some(Err(e)) => return Err(Some(unreadable(&e))),
                    None | Some(Ok(None)) => return Err(None),
                }
            }
        };
    let (consent, keep) = match tokio::time::timeout(timeout, answer).await {
        Ok(Ok(consent)) => (consent, true),
        Err(_) => {
            let why = format!("no answer within {}", describe_timeout(timeout));
            (Consent::Denied(why), true)
        }
        Ok(Err(complaint)) => {
            if let Some(reply) = complaint {
                let _ = send(writer, &reply).await;
            }
            let why = "the Get help window closed before the user answered".to_string();
            (Consent::Denied(why), false)
        }
    };
    info!(request = job.request, technician = %job.technician, answer = consent_name(&consent), "screenshot consent");
    let _ = job.reply.send(consent);
    keep
}

fn consent_of(answer: ConsentAnswer) -> Consent {
    match answer {
        ConsentAnswer::Allow { png } => Consent::Granted { png },
        ConsentAnswer::Deny => Consent::Denied("the user declined".into()),
        ConsentAnswer::CaptureFailed(why) => {
            let clean: String = why.chars().filter(|c| !c.is_control()).collect();
            Consent::Failed(shortened(&clean, MAX_REASON_LEN).to_string())
        }
    }
}

fn consent_name(consent: &Consent) -> &'static str {
    match consent {
        Consent::Granted { .. } => "allowed",
        Consent::Denied(_) => "refused",
        Consent::Failed(_) => "capture failed",
    }
}
