//! "Get help": an employee's request becomes a ticket with a diagnostics
//! snapshot attached, and the screenshot they chose to include, if any.
//!
//! The ticket goes into the outbox first (durably), and only then to the
//! relay: [`file_ticket`] tries to deliver it at once, over a connection of
//! its own that says it is a one-shot process (so the relay never routes
//! commands to it), for at most [`DELIVER_NOW_TIMEOUT`]. If the relay
//! cannot be reached the ticket stays queued and the daemon delivers it
//! when the relay is back — also after a restart. The ticket id is made
//! here, and the relay stores a ticket once per id, so a delivery that is
//! repeated (a lost acknowledgement, or the daemon sending the same file at
//! the same moment) is harmless.
//!
//! A screenshot is checked before anything is queued, and queued as an
//! `AgentUpdate::Screenshot` right after its ticket, so the outbox (which
//! delivers in order) never sends it before the ticket exists.

use crate::config::AgentConfig;
use crate::enroll::close;
use crate::error::{from_client, is_transient, AgentError};
use crate::outbox::{deliver_pending, Message, Outbox, Queued};
use crate::state::{Enrollment, StateDir};
use std::fmt;
use std::path::Path;
use std::time::Duration;
use tracing::{info, warn, Instrument};
use triage_shared::agent_update::AgentUpdate;
use triage_shared::client::{ClientError, Session};
use triage_shared::error::{ErrorKind, RemoteError};
use triage_shared::protocol::{PeerKind, SessionIdentity};
use triage_shared::ticket::{Category, NewTicket, Priority, Source};
use triage_shared::TicketId;

/// How long "Get help" tries to deliver a ticket before it leaves it queued.
pub const DELIVER_NOW_TIMEOUT: Duration = Duration::from_secs(5);

/// What the employee asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct HelpRequest {
    pub title: String,
    pub description: String,
    pub category: Category,
    pub priority: Priority,
    /// The person asking; see [`crate::host::current_requester`].
    pub requester: String,
    /// A PNG of the screen the person chose to attach (at most
    /// [`triage_shared::limits::MAX_ATTACHED_SCREENSHOT_LEN`] bytes).
    pub screenshot: Option<Vec<u8>>,
}

/// Where a filed ticket is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filed {
    /// The relay has stored it.
    Delivered(TicketId),
    /// It waits in the outbox; the daemon sends it when the relay is reachable.
    Queued(TicketId),
}

impl Filed {
    pub fn id(self) -> TicketId {
        match self {
            Filed::Delivered(id) | Filed::Queued(id) => id,
        }
    }

    pub fn is_delivered(self) -> bool {
        matches!(self, Filed::Delivered(_))
    }
}

/// Shows the ticket id.
impl fmt::Display for Filed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.id().fmt(f)
    }
}

/// How [`file_ticket_with`] goes about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileOptions {
    /// How long to try delivering at once; zero only queues.
    pub deliver_within: Duration,
}

impl Default for FileOptions {
    fn default() -> Self {
        FileOptions {
            deliver_within: DELIVER_NOW_TIMEOUT,
        }
    }
}

/// Files `request` as a ticket from this agent, with a fresh snapshot:
/// queued, then delivered if the relay answers within [`DELIVER_NOW_TIMEOUT`].
pub async fn file_ticket(state_dir: &Path, request: HelpRequest) -> Result<Filed, AgentError> {
    file_ticket_with(state_dir, request, FileOptions::default()).await
}

/// [`file_ticket`] with its timing chosen by the caller.
pub async fn file_ticket_with(
    state_dir: &Path,
    request: HelpRequest,
    options: FileOptions,
) -> Result<Filed, AgentError> {
    let enrollment = StateDir::new(state_dir).load()?;
    let ticket = NewTicket {
        id: TicketId::new_random(),
        title: request.title,
        description: request.description,
        category: request.category,
        priority: request.priority,
        source: Source::Employee,
        requester: request.requester,
    };
    ticket.validate()?;
    let screenshot = request.screenshot.map(AgentUpdate::Screenshot);
    if let Some(update) = &screenshot {
        update.validate()?;
    }
    let id = ticket.id;
    let span = tracing::info_span!("file_ticket", agent_id = %enrollment.agent_id, ticket_id = %id);
    async move {
        let snapshot = tokio::task::spawn_blocking(crate::diagnostics::collect)
            .await
            .map_err(|e| AgentError::Diagnostics(e.to_string()))?;
        let outbox = Outbox::open(state_dir, outbox_bound(state_dir))?;
        let ticket_file = match outbox.push(&Message::ticket(ticket, Some(snapshot)))? {
            Queued::Queued { file_name, .. } => file_name,
            // The drop policy never drops an employee's ticket; it refuses.
            Queued::Dropped => {
                return Err(AgentError::OutboxFull {
                    dir: outbox.dir().to_path_buf(),
                    max: outbox_bound(state_dir),
                })
            }
        };
        info!("ticket queued");
        let last_file = match screenshot {
            Some(update) => queue_screenshot(&outbox, id, update).unwrap_or(ticket_file.clone()),
            None => ticket_file.clone(),
        };
        if options.deliver_within.is_zero() {
            return Ok(Filed::Queued(id));
        }
        let attempt = deliver_now(&enrollment, &outbox, &ticket_file, &last_file);
        match tokio::time::timeout(options.deliver_within, attempt).await {
            Err(_) => {
                info!("the relay did not answer in time; the ticket stays queued");
                Ok(Filed::Queued(id))
            }
            Ok(Ok(true)) => Ok(Filed::Delivered(id)),
            Ok(Ok(false)) => Ok(Filed::Queued(id)),
            Ok(Err(e)) => settle(&enrollment.relay.addr, id, e),
        }
    }
    .instrument(span)
    .await
}

/// Queues the screenshot of ticket `id` (already checked); its file name,
/// or `None` when it could not be kept. The ticket is queued by then, so
/// a lost screenshot is logged rather than failing the request.
fn queue_screenshot(outbox: &Outbox, id: TicketId, update: AgentUpdate) -> Option<String> {
    match outbox.push(&Message::update(id, update)) {
        Ok(Queued::Queued { file_name, .. }) => {
            info!("screenshot queued");
            Some(file_name)
        }
        Ok(Queued::Dropped) => {
            warn!("the outbox is full of updates; the ticket was queued without its screenshot");
            None
        }
        Err(e) => {
            warn!(error = %e, "the screenshot could not be queued; the ticket was queued without it");
            None
        }
    }
}

/// The outbox bound from `agent.toml`; a broken file must not stop an
/// employee from asking for help, so it means the default here.
fn outbox_bound(state_dir: &Path) -> usize {
    match AgentConfig::load(&StateDir::new(state_dir)) {
        Ok(config) => config.max_outbox_messages,
        Err(e) => {
            warn!(error = %e, "using the default outbox size");
            AgentConfig::default().max_outbox_messages
        }
    }
}

/// Why delivering right away did not work out.
#[derive(Debug)]
enum NotNow {
    /// The relay refused this ticket for good (it was set aside).
    Refused(RemoteError),
    Client(ClientError),
}

/// Delivers the outbox up to and including `last_file` (the ticket, or
/// the screenshot queued after it) over a one-shot connection.
/// `Ok(true)`: the ticket was delivered (by us, or by the daemon meanwhile).
async fn deliver_now(
    enrollment: &Enrollment,
    outbox: &Outbox,
    ticket_file: &str,
    last_file: &str,
) -> Result<bool, NotNow> {
    let session = Session::connect(&enrollment.relay, &enrollment.key, PeerKind::AgentOneShot)
        .await
        .map_err(NotNow::Client)?;
    if matches!(session.identity(), SessionIdentity::Unenrolled) {
        close(session).await;
        return Err(NotNow::Client(ClientError::Refused(RemoteError::new(
            ErrorKind::Unauthenticated,
            "the relay does not know this agent's key",
        ))));
    }
    let (report, result) = deliver_pending(outbox, &session, Some(last_file)).await;
    close(session).await;
    for (file, refusal) in &report.refused {
        if file == ticket_file {
            return Err(NotNow::Refused(refusal.clone()));
        }
        if file == last_file {
            warn!(%refusal, "the relay refused the screenshot; the ticket was filed without it");
        }
    }
    if report.delivered.iter().any(|f| f == ticket_file) {
        return Ok(true);
    }
    result.map_err(NotNow::Client)?;
    // Gone without our doing: the daemon handled it, unless it set it aside.
    if outbox.was_set_aside(ticket_file) {
        return Err(NotNow::Refused(RemoteError::new(
            ErrorKind::InvalidInput,
            "the ticket could not be delivered and was set aside; see the agent daemon's log",
        )));
    }
    Ok(!outbox
        .pending()
        .map_or(true, |p| p.iter().any(|x| x.file_name == ticket_file)))
}

/// What a failed immediate delivery means for the person asking.
fn settle(addr: &str, id: TicketId, failure: NotNow) -> Result<Filed, AgentError> {
    match failure {
        NotNow::Refused(e) => Err(AgentError::TicketRefused(e)),
        NotNow::Client(ClientError::Remote(e)) if e.kind == ErrorKind::Unauthenticated => {
            Err(AgentError::NotRecognised(e.message))
        }
        NotNow::Client(e) if is_transient(&e) => {
            info!(error = %e, "the relay is unreachable; the ticket stays queued");
            Ok(Filed::Queued(id))
        }
        NotNow::Client(e) => Err(from_client(addr, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::pending_count;

    fn enrolled_unreachable() -> tempfile::TempDir {
        let tmp = tempfile::tempdir().unwrap();
        let dir = StateDir::new(tmp.path());
        dir.write_key(&triage_shared::identity::KeyPair::generate())
            .unwrap();
        // Port 0 fails every connection attempt at once.
        let relay = "triage://127.0.0.1:0?fp=0000000000000000000000000000000000000000000000000000000000000000".parse().unwrap();
        dir.save_enrollment(&relay, triage_shared::AgentId::new_random())
            .unwrap();
        tmp
    }

    fn help(title: &str) -> HelpRequest {
        HelpRequest {
            title: title.into(),
            description: String::new(),
            category: Category::Other,
            priority: Priority::Normal,
            requester: "alice".into(),
            screenshot: None,
        }
    }

    #[tokio::test]
    async fn with_the_relay_unreachable_the_ticket_is_queued() {
        let tmp = enrolled_unreachable();
        let filed = file_ticket(tmp.path(), help("printer")).await.unwrap();
        assert!(matches!(filed, Filed::Queued(_)), "{filed:?}");
        assert!(!filed.is_delivered());
        assert_eq!(filed.to_string(), filed.id().to_string());
        let only_queued = FileOptions {
            deliver_within: Duration::ZERO,
        };
        let second = file_ticket_with(tmp.path(), help("scanner"), only_queued)
            .await
            .unwrap();
        assert_eq!(second, Filed::Queued(second.id()));
        assert_eq!(pending_count(tmp.path()).unwrap(), 2);
    }

    #[tokio::test]
    async fn an_invalid_request_is_refused_before_anything_is_queued() {
        let tmp = enrolled_unreachable();
        let err = file_ticket(tmp.path(), help("two\nlines"))
            .await
            .unwrap_err();
        assert!(matches!(err, AgentError::InvalidRequest(_)), "{err}");
        assert_eq!(pending_count(tmp.path()).unwrap(), 0);
    }

    #[tokio::test]
    async fn a_screenshot_is_checked_first_and_queued_right_after_its_ticket() {
        let tmp = enrolled_unreachable();
        let mut bad = help("printer");
        bad.screenshot = Some(b"GIF89a".to_vec());
        let err = file_ticket(tmp.path(), bad).await.unwrap_err();
        assert!(err.to_string().contains("not a PNG"), "{err}");
        assert_eq!(pending_count(tmp.path()).unwrap(), 0);

        let mut good = help("printer");
        let png = [&triage_shared::agent_update::PNG_SIGNATURE[..], b"pixels"].concat();
        good.screenshot = Some(png.clone());
        let filed = file_ticket(tmp.path(), good).await.unwrap();
        let outbox = Outbox::open(tmp.path(), 10).unwrap();
        let queued: Vec<Message> = outbox
            .pending()
            .unwrap()
            .iter()
            .map(|p| match outbox.read(p) {
                crate::outbox::Loaded::Message(m) => *m,
                other => panic!("{other:?}"),
            })
            .collect();
        let [Message::Ticket { ticket, .. }, Message::Update {
            ticket: of,
            update: AgentUpdate::Screenshot(sent),
            ..
        }] = queued.as_slice()
        else {
            panic!("{queued:?}")
        };
        assert_eq!((ticket.id, *of), (filed.id(), filed.id()));
        assert_eq!(sent, &png);
    }

    #[tokio::test]
    async fn filing_without_enrollment_says_how_to_enroll() {
        let tmp = tempfile::tempdir().unwrap();
        let err = file_ticket(tmp.path(), help("help")).await.unwrap_err();
        assert!(matches!(err, AgentError::NotEnrolled { .. }), "{err}");
    }

    #[tokio::test]
    async fn a_full_outbox_refuses_the_ticket_and_says_so() {
        let tmp = enrolled_unreachable();
        std::fs::write(
            tmp.path().join(crate::config::CONFIG_FILE),
            "[outbox]\nmax_messages = 1\n",
        )
        .unwrap();
        let only_queued = FileOptions {
            deliver_within: Duration::ZERO,
        };
        file_ticket_with(tmp.path(), help("first"), only_queued.clone())
            .await
            .unwrap();
        let err = file_ticket_with(tmp.path(), help("second"), only_queued)
            .await
            .unwrap_err();
        assert!(
            matches!(err, AgentError::OutboxFull { max: 1, .. }),
            "{err}"
        );
        assert_eq!(pending_count(tmp.path()).unwrap(), 1);
    }

    #[test]
    fn failures_to_deliver_at_once_are_read_for_the_user() {
        let id = TicketId::new_random();
        let transient = NotNow::Client(ClientError::Timeout("r:1".into()));
        assert_eq!(settle("r:1", id, transient).unwrap(), Filed::Queued(id));
        let refused = NotNow::Refused(RemoteError::new(ErrorKind::InvalidInput, "title too long"));
        let err = settle("r:1", id, refused).unwrap_err();
        assert!(matches!(err, AgentError::TicketRefused(_)), "{err}");
        assert!(err.to_string().contains("title too long"), "{err}");
        let unknown = NotNow::Client(ClientError::Remote(RemoteError::new(
            ErrorKind::Unauthenticated,
            "who?",
        )));
        assert!(matches!(
            settle("r:1", id, unknown),
            Err(AgentError::NotRecognised(_))
        ));
        let wrong = NotNow::Client(ClientError::WrongRelay {
            addr: "r:1".into(),
            detail: "fingerprint".into(),
        });
        assert!(matches!(
            settle("r:1", id, wrong),
            Err(AgentError::Relay(_))
        ));
    }
}
