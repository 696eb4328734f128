//! The "Get help" window's logic, with no drawing in it: the form and its
//! checks, sending, the result, "My tickets", the screenshot thumbnail and
//! consent prompts, and the employee's tickets with their notices
//! (`updates`). The view calls [`HelpApp::tick`] once a frame and the
//! action methods when the user clicks; tests drive it the same way.
//!
//! ```text
//! Connecting ──Connected──► Ready ──Disconnected──► Offline ──Connected──► Ready
//! Idle ──submit (valid)──► InFlight ──Filed──► Sent{ticket, delivered}
//!                                    └─FileFailed─► Failed(why)  (the form is kept)
//! consent: Requested ──Allow──► capture → Allow{png} | CaptureFailed(why)
//!                    ──Deny / CONSENT_TIMEOUT──► Deny
//! ```

use super::articles::SelfService;
use super::consent::{Answered, ConsentQueue};
use super::link::{ConsentAsk, DaemonLink, LinkCommand, LinkEvent, Session};
use super::sources::{Capturer, Clock, NoNotifications, Notifier};
use super::updates::{Draft, Updates};
use crate::capture::{fit_png, image::RgbaImage, thumbnail};
use crate::desktop::protocol::{ConsentAnswer, HelpForm, MAX_DESKTOP_FRAME_LEN};
use std::time::{Duration, Instant};
use triage_shared::limits::{MAX_ATTACHED_SCREENSHOT_LEN, MAX_TEXT_LEN};
use triage_shared::text::{text_problem, TextProblem};
use triage_shared::ticket::{Category, EmployeeTicket, Priority};
use triage_shared::TicketId;

/// How often "My tickets" is fetched again while the window is open.
pub const TICKETS_REFRESH: Duration = Duration::from_secs(30);
/// How often the screenshot thumbnail is taken again.
pub const SCREENSHOT_REFRESH: Duration = Duration::from_secs(5);
/// The thumbnail's largest size, in pixels.
pub const THUMBNAIL_MAX: (u32, u32) = (360, 220);
/// Room in a desktop frame for what surrounds a consent PNG.
const FRAME_OVERHEAD: usize = 4096;

/// Where the window stands with the agent daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    Connecting,
    Ready(Session),
    /// Why the daemon cannot be reached; the link keeps trying.
    Offline(String),
}

/// What the employee has typed and chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form {
    pub text: String,
    pub category: Category,
    pub priority: Priority,
    /// Off until the user ticks it.
    pub attach_screenshot: bool,
}

impl Default for Form {
    fn default() -> Self {
        Form {
            text: String::new(),
            category: Category::Other,
            priority: Priority::Normal,
            attach_screenshot: false,
        }
    }
}

/// The last "Get help" click.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sending {
    Idle,
    InFlight,
    Sent { ticket: TicketId, delivered: bool },
    Failed(String),
}

impl Sending {
    /// The line the window shows about it.
    pub fn message(&self) -> Option<String> {
        match self {
            Sending::Idle => None,
            Sending::InFlight => Some("Sending…".into()),
            Sending::Sent {
                ticket,
                delivered: true,
            } => Some(format!("Ticket {}: sent", ticket.short())),
            Sending::Sent {
                ticket,
                delivered: false,
            } => Some(format!(
                "Ticket {}: queued — will be sent when the network is back",
                ticket.short()
            )),
            Sending::Failed(why) => Some(why.clone()),
        }
    }
}

/// "My tickets": the last list fetched, and the last failure.
#[derive(Debug, Clone, Default)]
pub struct Tickets {
    pub list: Option<Vec<EmployeeTicket>>,
    pub error: Option<String>,
    pub in_flight: bool,
    asked_at: Option<Instant>,
}

/// The screen as last captured, and its thumbnail; `generation` changes
/// with every new picture so the view knows to upload it again.
#[derive(Debug, Clone)]
pub struct Shot {
    pub image: RgbaImage,
    pub thumbnail: RgbaImage,
    pub generation: u64,
}

impl Tickets {
    /// Asks on the next tick, even with a request out: its answer may be
    /// from before what just happened (the link answers in order).
    fn ask_again(&mut self) {
        self.asked_at = None;
        self.in_flight = false;
    }
}

/// Refuses what the daemon would refuse, with a sentence the user can act on.
/// Control characters are left to the daemon: it turns Windows line endings
/// into newlines before the ticket is checked.
pub fn check_text(text: &str) -> Result<(), String> {
    match text_problem(text, MAX_TEXT_LEN, false) {
        Some(TextProblem::Empty) => {
            Err("Please describe what's wrong before asking for help.".into())
        }
        Some(TextProblem::TooLong { len, max }) => Err(format!(
            "Your description is {len} bytes long; please shorten it to at most {max}."
        )),
        Some(TextProblem::ControlCharacters) | None => Ok(()),
    }
}

pub struct HelpApp {
    link: Box<dyn DaemonLink>,
    capturer: Box<dyn Capturer>,
    clock: Box<dyn Clock>,
    pub form: Form,
    connection: Connection,
    /// Why the form was not sent (validation, screenshot); cleared on send.
    notice: Option<String>,
    sending: Sending,
    tickets: Tickets,
    shot: Option<Shot>,
    shot_error: Option<String>,
    shot_taken: Option<Instant>,
    consents: ConsentQueue,
    notifier: Box<dyn Notifier>,
    updates: Updates,
    articles: SelfService,
}

impl HelpApp {
    pub fn new(
        link: Box<dyn DaemonLink>,
        capturer: Box<dyn Capturer>,
        clock: Box<dyn Clock>,
    ) -> Self {
        HelpApp {
            link,
            capturer,
            clock,
            form: Form::default(),
            connection: Connection::Connecting,
            notice: None,
            sending: Sending::Idle,
            tickets: Tickets::default(),
            shot: None,
            shot_error: None,
            shot_taken: None,
            consents: ConsentQueue::default(),
            notifier: Box::new(NoNotifications),
            updates: Updates::default(),
            articles: SelfService::default(),
        }
    }

    /// Knowledge base articles for what the user typed, and the one open.
    pub fn articles(&self) -> &SelfService {
        &self.articles
    }

    /// "Read" on a suggested article.
    pub fn open_article(&mut self, id: triage_shared::kb::ArticleId) {
        let command = self.articles.open(id);
        self.link.send(command);
    }

    /// "Back" from an article to the form.
    pub fn close_article(&mut self) {
        self.articles.close();
    }

    /// "This solved it" on the open article: no ticket is filed.
    pub fn article_solved(&mut self) {
        if let Some(command) = self.articles.solved() {
            self.link.send(command);
        }
    }

    /// "I still need help": the article is closed and the ticket filed as
    /// usual, noting which articles were read.
    pub fn still_need_help(&mut self) {
        self.articles.close();
        self.submit();
    }

    /// Raises desktop notifications through `notifier` (without one,
    /// every notice is a toast in the window).
    pub fn with_notifier(mut self, notifier: Box<dyn Notifier>) -> Self {
        self.notifier = notifier;
        self
    }

    /// The employee's tickets, notices, toasts and drafts.
    pub fn updates(&self) -> &Updates {
        &self.updates
    }

    /// The reply and answer boxes of `ticket`, for the view to edit.
    pub fn draft(&mut self, ticket: TicketId) -> &mut Draft {
        self.updates.draft(ticket)
    }

    /// Sends the reply typed for `ticket`.
    pub fn send_reply(&mut self, ticket: TicketId) {
        match self.updates.reply(ticket) {
            Ok(command) => self.link.send(command),
            Err(why) => self.updates.refuse(why),
        }
    }

    /// "Did this fix it?" for `ticket`: Yes closes it, No (with the words
    /// typed) reopens it; the score goes with either.
    pub fn answer_fixed(&mut self, ticket: TicketId, fixed: bool) {
        match self.updates.answer(ticket, fixed) {
            Ok(command) => self.link.send(command),
            Err(why) => self.updates.refuse(why),
        }
    }

    /// How long a consent prompt waits before it counts as "Deny".
    pub fn with_consent_timeout(mut self, timeout: Duration) -> Self {
        self.consents.set_timeout(timeout);
        self
    }

    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    pub fn notice(&self) -> Option<&str> {
        self.notice.as_deref()
    }

    pub fn sending(&self) -> &Sending {
        &self.sending
    }

    pub fn tickets(&self) -> &Tickets {
        &self.tickets
    }

    pub fn shot(&self) -> Option<&Shot> {
        self.shot.as_ref()
    }

    pub fn shot_error(&self) -> Option<&str> {
        self.shot_error.as_deref()
    }

    /// Only once the daemon said so: before that, and with `screenshots =
    /// "never"`, the window shows no screenshot at all.
    pub fn screenshots_allowed(&self) -> bool {
        matches!(&self.connection, Connection::Ready(s) if s.screenshots_allowed)
    }

    /// The prompt to show now and the whole seconds left to answer it.
    pub fn consent_prompt(&self) -> Option<(&ConsentAsk, u64)> {
        self.consents.shown(self.clock.now())
    }

    /// Whether an allowed capture waits for the prompt to leave the screen.
    pub fn capture_pending(&self) -> bool {
        self.consents.capture_pending()
    }

    /// Takes in what the link said and does what is due: refreshes,
    /// screenshots, refusing unanswered prompts. Once per frame.
    pub fn tick(&mut self) {
        while let Some(event) = self.link.try_recv() {
            self.on_event(event);
        }
        if let Some(request) = self.consents.frame() {
            self.send_capture(request);
        }
        let now = self.clock.now();
        self.updates.expire(now);
        for request in self.consents.expire(now) {
            self.send_answer(request, ConsentAnswer::Deny);
        }
        if matches!(self.connection, Connection::Ready(_)) {
            if let Some(command) = self.articles.tick(&self.form.text, now) {
                self.link.send(command);
            }
        }
        let due = |at: Option<Instant>, every: Duration| at.is_none_or(|t| now >= t + every);
        if matches!(self.connection, Connection::Ready(_))
            && !self.tickets.in_flight
            && due(self.tickets.asked_at, TICKETS_REFRESH)
        {
            self.refresh_tickets();
        }
        if self.screenshots_allowed() && due(self.shot_taken, SCREENSHOT_REFRESH) {
            self.retake_screenshot();
        }
    }

    /// How long the view may sleep before something is due (the link
    /// wakes it for what the daemon says).
    pub fn next_wake(&self) -> Duration {
        if self.consents.capture_pending() {
            return Duration::ZERO;
        }
        let now = self.clock.now();
        let until = |at: Option<Instant>, every: Duration| match at {
            Some(t) => (t + every).saturating_duration_since(now),
            None => Duration::ZERO,
        };
        let mut wake = Duration::from_secs(60);
        if matches!(self.connection, Connection::Ready(_)) && !self.tickets.in_flight {
            wake = wake.min(until(self.tickets.asked_at, TICKETS_REFRESH));
        }
        if self.screenshots_allowed() {
            wake = wake.min(until(self.shot_taken, SCREENSHOT_REFRESH));
        }
        if let Some(toast) = self.updates.next_expiry(now) {
            wake = wake.min(toast);
        }
        if let Some(pause) = self.articles.next_wake(now) {
            wake = wake.min(pause);
        }
        if self.consents.is_waiting() {
            // The countdown moves every second.
            wake = wake.min(Duration::from_secs(1));
        }
        wake.max(Duration::from_millis(100))
    }

    fn on_event(&mut self, event: LinkEvent) {
        match event {
            LinkEvent::Connected(session) => {
                if !session.screenshots_allowed {
                    self.shot = None;
                    self.shot_error = None;
                    self.form.attach_screenshot = false;
                }
                self.connection = Connection::Ready(session);
                self.tickets.ask_again();
            }
            LinkEvent::Disconnected(why) => self.connection = Connection::Offline(why),
            LinkEvent::Filed { ticket, delivered } => {
                self.sending = Sending::Sent { ticket, delivered };
                // Sent: the next ticket starts blank, without the screenshot.
                self.form.text.clear();
                self.form.attach_screenshot = false;
                self.articles.on_filed();
                // Show the new ticket in "My tickets".
                self.tickets.ask_again();
            }
            LinkEvent::FileFailed(why) => self.sending = Sending::Failed(why),
            LinkEvent::Tickets(list) => {
                self.tickets.list = Some(list);
                self.tickets.error = None;
                self.tickets.in_flight = false;
            }
            LinkEvent::TicketsFailed(why) => {
                self.tickets.error = Some(why);
                self.tickets.in_flight = false;
            }
            LinkEvent::ConsentRequested(ask) => {
                if let Err(request) = self.consents.push(ask, self.clock.now()) {
                    self.send_answer(request, ConsentAnswer::Deny);
                }
            }
            // The daemon took the open prompts as refused.
            LinkEvent::ConsentClosed => self.consents.clear(),
            LinkEvent::Inbox(view) => {
                let now = self.clock.now();
                if let Some(seen) = self.updates.on_view(view, self.notifier.as_mut(), now) {
                    self.link.send(seen);
                }
            }
            LinkEvent::Queued { ticket } => self.updates.queued(ticket),
            LinkEvent::ActionFailed(why) => self.updates.failed(why),
            LinkEvent::Suggestions { text, list } => self.articles.on_suggestions(&text, list),
            LinkEvent::Article(article) => self.articles.on_article(article),
            LinkEvent::ArticleFailed(why) => self.articles.on_article_failed(why),
            LinkEvent::Deflected { .. } => {
                // Solved without a ticket: the form starts over.
                self.articles.on_deflected();
                self.form.text.clear();
                self.form.attach_screenshot = false;
            }
        }
    }

    /// "Get help": checks the form and sends it, with the screenshot shown
    /// only if the user ticked "Attach this screenshot".
    pub fn submit(&mut self) {
        if self.sending == Sending::InFlight {
            return;
        }
        self.notice = None;
        if let Err(why) = check_text(&self.form.text) {
            self.notice = Some(why);
            return;
        }
        let screenshot = if self.form.attach_screenshot && self.screenshots_allowed() {
            match self.attachment() {
                Ok(png) => Some(png),
                Err(why) => {
                    self.notice = Some(format!(
                        "The screenshot could not be attached ({why}). \
                         Untick \"Attach this screenshot\" to send without it."
                    ));
                    return;
                }
            }
        } else {
            None
        };
        self.link.send(LinkCommand::FileTicket(HelpForm {
            text: self.form.text.clone(),
            category: self.form.category,
            priority: self.form.priority,
            screenshot,
            viewed_articles: self.articles.viewed().to_vec(),
        }));
        self.sending = Sending::InFlight;
    }

    /// The picture the user saw in the thumbnail, as a PNG that fits a ticket.
    fn attachment(&mut self) -> Result<Vec<u8>, String> {
        if self.shot.is_none() {
            self.retake_screenshot();
        }
        match &self.shot {
            Some(shot) => {
                fit_png(&shot.image, MAX_ATTACHED_SCREENSHOT_LEN).map_err(|e| e.to_string())
            }
            None => Err(self
                .shot_error
                .clone()
                .unwrap_or_else(|| "no screenshot was taken".into())),
        }
    }

    /// Asks for "My tickets" again (the Refresh button, and every 30 s).
    pub fn refresh_tickets(&mut self) {
        if self.tickets.in_flight {
            return;
        }
        self.tickets.in_flight = true;
        self.tickets.asked_at = Some(self.clock.now());
        self.link.send(LinkCommand::MyTickets);
    }

    fn retake_screenshot(&mut self) {
        self.shot_taken = Some(self.clock.now());
        match self.capturer.capture() {
            Ok(image) => {
                let generation = self.shot.as_ref().map_or(1, |s| s.generation + 1);
                let thumbnail = thumbnail(&image, THUMBNAIL_MAX.0, THUMBNAIL_MAX.1);
                self.shot = Some(Shot {
                    image,
                    thumbnail,
                    generation,
                });
                self.shot_error = None;
            }
            Err(e) => {
                self.shot = None;
                self.shot_error = Some(e.to_string());
            }
        }
    }

    /// The user's answer to the prompt shown. Allow captures the screen
    /// at full resolution (scaled down only to fit a desktop frame), a few
    /// frames later, once the prompt is gone from it.
    pub fn answer_consent(&mut self, allow: bool) {
        match self.consents.answer(allow) {
            Some(Answered::Deny(request)) => self.send_answer(request, ConsentAnswer::Deny),
            Some(Answered::Allow {
                earlier: Some(request),
            }) => self.send_capture(request),
            Some(Answered::Allow { earlier: None }) | None => {}
        }
    }

    fn send_capture(&mut self, request: u64) {
        let fitted = self
            .capturer
            .capture()
            .and_then(|image| fit_png(&image, MAX_DESKTOP_FRAME_LEN - FRAME_OVERHEAD));
        let answer = match fitted {
            Ok(png) => ConsentAnswer::Allow { png },
            Err(e) => ConsentAnswer::CaptureFailed(e.to_string()),
        };
        self.send_answer(request, answer);
    }

    fn send_answer(&mut self, request: u64, answer: ConsentAnswer) {
        self.link
            .send(LinkCommand::AnswerConsent { request, answer });
    }
}

#[cfg(test)]
#[path = "app_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "updates_tests.rs"]
mod updates_tests;
