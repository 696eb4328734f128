//! The window's part of keeping the employee in the loop, with no drawing
//! in it: the tickets the daemon knows for this user ([`InboxView`]), a
//! desktop notification for each notice not yet shown (or the window's own
//! toast when there is no notification service), the reply box, and "Did
//! this fix it?" with its score.
//!
//! ```text
//! Inbox(view) ──unseen notices──► Notifier::notify ──Err──► toast (TOAST_FOR)
//!             └─► NoticesSeen{up_to}   (the daemon keeps them seen: no repeat
//!                                       after a reopen of the window)
//! reply(ticket)        ──► Reply{ticket, text}            ──► Queued | Failed
//! answer(ticket, yes)  ──► AnswerFixed{ticket, yes, score}
//! answer(ticket, no)   ──► AnswerFixed{ticket, no, words} (words required)
//! ```

use super::link::LinkCommand;
use super::sources::Notifier;
use crate::inbox::InboxView;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};
use triage_shared::news::{MAX_SCORE, MIN_SCORE};
use triage_shared::TicketId;

/// How long the window's own toast stays.
pub const TOAST_FOR: Duration = Duration::from_secs(8);
/// Toasts shown at once; older ones make room.
pub const MAX_TOASTS: usize = 4;

/// A notice shown inside the window, for want of a notification service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toast {
    pub summary: String,
    pub body: String,
    shown_at: Instant,
}

/// What the employee is typing for one ticket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Draft {
    /// The reply box.
    pub reply: String,
    /// "What is still wrong?", for No.
    pub words: String,
    /// 1–5, or none.
    pub score: Option<u8>,
}

/// The last reply or answer sent, and how it went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Idle,
    InFlight(TicketId),
    Done(String),
    Failed(String),
}

#[derive(Debug)]
pub struct Updates {
    view: Option<InboxView>,
    /// The highest notice number already raised: a new view with the same
    /// notices (before the daemon has marked them seen) raises nothing.
    raised_up_to: u64,
    toasts: VecDeque<Toast>,
    drafts: HashMap<TicketId, Draft>,
    action: Action,
}

impl Default for Updates {
    fn default() -> Self {
        Updates {
            view: None,
            raised_up_to: 0,
            toasts: VecDeque::new(),
            drafts: HashMap::new(),
            action: Action::Idle,
        }
    }
}

impl Updates {
    pub fn view(&self) -> Option<&InboxView> {
        self.view.as_ref()
    }

    pub fn toasts(&self) -> impl Iterator<Item = &Toast> {
        self.toasts.iter()
    }

    pub fn action(&self) -> &Action {
        &self.action
    }

    /// The draft for `ticket`, made on first use.
    pub fn draft(&mut self, ticket: TicketId) -> &mut Draft {
        self.drafts.entry(ticket).or_default()
    }

    /// A new view from the daemon: raises each notice not raised yet, and
    /// returns the command that marks them seen, if any were new.
    pub fn on_view(
        &mut self,
        view: InboxView,
        notifier: &mut dyn Notifier,
        now: Instant,
    ) -> Option<LinkCommand> {
        let fresh: Vec<_> = view
            .unseen()
            .filter(|n| n.seq > self.raised_up_to)
            .cloned()
            .collect();
        self.view = Some(view);
        let up_to = fresh.iter().map(|n| n.seq).max()?;
        for notice in fresh {
            let (summary, body) = notice.text();
            if let Err(why) = notifier.notify(&summary, &body) {
                tracing::debug!(%why, "no desktop notification; showing it in the window");
                self.toast(summary, body, now);
            }
        }
        self.raised_up_to = up_to;
        Some(LinkCommand::NoticesSeen { up_to })
    }

    fn toast(&mut self, summary: String, body: String, now: Instant) {
        if self.toasts.len() == MAX_TOASTS {
            self.toasts.pop_front();
        }
        self.toasts.push_back(Toast {
            summary,
            body,
            shown_at: now,
        });
    }

    /// Drops the toasts that have been shown long enough.
    pub fn expire(&mut self, now: Instant) {
        self.toasts
            .retain(|t| now.saturating_duration_since(t.shown_at) < TOAST_FOR);
    }

    /// When the next toast goes, for the view's sleep.
    pub fn next_expiry(&self, now: Instant) -> Option<Duration> {
        self.toasts
            .iter()
            .map(|t| (t.shown_at + TOAST_FOR).saturating_duration_since(now))
            .min()
    }

    /// Sends the reply typed for `ticket`, if there is one.
    pub fn reply(&mut self, ticket: TicketId) -> Result<LinkCommand, String> {
        self.ready()?;
        let text = self.draft(ticket).reply.trim().to_string();
        if text.is_empty() {
            return Err("Type your reply first.".into());
        }
        self.action = Action::InFlight(ticket);
        Ok(LinkCommand::Reply { ticket, text })
    }

    /// "Did this fix it?": Yes, or No with the words typed.
    pub fn answer(&mut self, ticket: TicketId, fixed: bool) -> Result<LinkCommand, String> {
        self.ready()?;
        let draft = self.draft(ticket).clone();
        if let Some(score) = draft.score {
            if !(MIN_SCORE..=MAX_SCORE).contains(&score) {
                return Err(format!("Pick a score from {MIN_SCORE} to {MAX_SCORE}."));
            }
        }
        let words = draft.words.trim().to_string();
        if !fixed && words.is_empty() {
            return Err("Please say in a few words what is still wrong.".into());
        }
        self.action = Action::InFlight(ticket);
        Ok(LinkCommand::AnswerFixed {
            ticket,
            fixed,
            words: (!fixed).then_some(words),
            score: draft.score,
        })
    }

    fn ready(&self) -> Result<(), String> {
        match self.action {
            Action::InFlight(_) => Err("Still sending the last one…".into()),
            _ => Ok(()),
        }
    }

    /// The daemon queued what was sent for `ticket`.
    pub fn queued(&mut self, ticket: TicketId) {
        if let Action::InFlight(sent) = self.action {
            if sent == ticket {
                // Sent: the next reply starts blank.
                self.drafts.remove(&ticket);
            }
        }
        self.action = Action::Done(format!(
            "Sent to the help desk (ticket {}).",
            ticket.short()
        ));
    }

    pub fn failed(&mut self, why: String) {
        self.action = Action::Failed(why);
    }

    /// A refusal made here, before anything was sent.
    pub fn refuse(&mut self, why: String) {
        if !matches!(self.action, Action::InFlight(_)) {
            self.action = Action::Failed(why);
        }
    }
}
