//! The employee's side of their tickets, kept by the daemon: news the
//! relay pushed or the catch-up fetched (`state`, pure), saved in
//! `<state dir>/inbox.json` so that nothing is lost when the daemon
//! restarts or no window is open. A window shows the notices it has not
//! seen when it opens, and is told of new ones at once while it is open
//! (`Inbox::subscribe`).
//!
//! ```text
//! relay ──AgentCommand::TicketNews──► serve ──┐
//! relay ◄─Request::TicketNews{since}── catch_up (on every connect)
//!                                             ▼
//!                           Inbox (state + inbox.json + watch)
//!                                             │ desktop socket
//!               Get help window ◄── Inbox / WatchInbox ──┘  `triage-agent tickets`
//! ```
//!
//! News is untrusted: a batch is checked (`news::validate_batch`) before
//! any of it is kept, and it is only ever shown, never acted on.

mod catch_up;
pub mod state;

pub use catch_up::{catch_up, MAX_CATCH_UP_PAGES};
pub use state::{FixAnswer, FixQuestion, InboxState, InboxTicket, InboxView, Notice, NoticeKind};

use crate::state::{read_capped, write_atomic};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::watch;
use tracing::{error, warn};
use triage_shared::news::{validate_batch, TicketNews};
use triage_shared::text::InvalidInput;
use triage_shared::time::Timestamp;
use triage_shared::TicketId;

pub const INBOX_FILE: &str = "inbox.json";
/// Largest inbox file read: [`state::MAX_KEPT_TICKETS`] tickets of bounded
/// news, and [`state::MAX_NOTICES`] notices, fit well within it.
pub const MAX_INBOX_FILE_LEN: u64 = 8 * 1024 * 1024;
const FORMAT_VERSION: u16 = 1;

#[derive(Serialize, Deserialize)]
struct Persisted {
    version: u16,
    state: InboxState,
}

/// The daemon's inbox: one per daemon, shared by the relay link and the
/// desktop socket.
#[derive(Debug)]
pub struct Inbox {
    dir: Option<PathBuf>,
    state: Mutex<InboxState>,
    changed: watch::Sender<u64>,
}

impl Inbox {
    /// The inbox saved in `state_dir`. A damaged file is moved aside and
    /// the inbox starts empty: the next catch-up fills it again.
    pub fn open(state_dir: &Path) -> Arc<Inbox> {
        let path = state_dir.join(INBOX_FILE);
        let loaded = read_capped(&path, MAX_INBOX_FILE_LEN).and_then(|text| {
            text.map(|t| {
                serde_json::from_str::<Persisted>(&t)
                    .map_err(|e| e.to_string())
                    .and_then(|p| match p.version {
                        FORMAT_VERSION => Ok(p.state),
                        v => Err(format!("unknown format version {v}")),
                    })
                    .map_err(|problem| crate::error::AgentError::CorruptState {
                        path: path.clone(),
                        problem,
                    })
            })
            .transpose()
        });
        let state = match loaded {
            Ok(state) => state.unwrap_or_default(),
            Err(e) => {
                let aside = state_dir.join(format!("{INBOX_FILE}.corrupt"));
                let moved = std::fs::rename(&path, &aside).is_ok();
                error!(error = %e, moved, "the ticket inbox is unreadable; starting afresh");
                InboxState::default()
            }
        };
        Arc::new(Inbox {
            dir: Some(state_dir.to_path_buf()),
            state: Mutex::new(state),
            changed: watch::Sender::new(0),
        })
    }

    /// An inbox kept in memory only (tests, and a daemon-less endpoint).
    pub fn in_memory() -> Arc<Inbox> {
        Arc::new(Inbox {
            dir: None,
            state: Mutex::default(),
            changed: watch::Sender::new(0),
        })
    }

    fn lock(&self) -> MutexGuard<'_, InboxState> {
        // Every change is applied whole under the lock; nothing panics half-way.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Saves `state` and tells the watchers; a save that fails is logged
    /// (the state still holds in memory and the next change saves again).
    fn changed(&self, state: &InboxState) {
        if let Some(dir) = &self.dir {
            let saved = serde_json::to_string(&Persisted {
                version: FORMAT_VERSION,
                state: state.clone(),
            })
            .map_err(|e| e.to_string())
            .and_then(|text| write_atomic(dir, INBOX_FILE, &text).map_err(|e| e.to_string()));
            if let Err(e) = saved {
                error!(error = %e, "cannot save the ticket inbox");
            }
        }
        self.changed.send_modify(|n| *n += 1);
    }

    /// Takes a batch of news from the relay, after checking all of it;
    /// returns how many tickets it held.
    pub fn take(&self, news: Vec<TicketNews>) -> Result<usize, InvalidInput> {
        if let Err(e) = validate_batch(&news) {
            warn!(error = %e, "refused ticket news from the relay");
            return Err(e);
        }
        let count = news.len();
        let mut state = self.lock();
        let added: usize = news.into_iter().map(|n| state.take(n)).sum();
        if count > 0 {
            tracing::info!(tickets = count, notices = added, "ticket news");
            self.changed(&state);
        }
        Ok(count)
    }

    /// A catch-up completed at the relay's `as_of`.
    pub fn caught_up(&self, as_of: Timestamp) {
        let mut state = self.lock();
        state.caught_up(as_of);
        self.changed(&state);
    }

    pub fn since(&self) -> Timestamp {
        self.lock().since()
    }

    pub fn view(&self, requester: &str) -> InboxView {
        self.lock().view(requester)
    }

    pub fn mark_seen(&self, requester: &str, up_to: u64) {
        let mut state = self.lock();
        if state.mark_seen(requester, up_to) {
            self.changed(&state);
        }
    }

    /// Who filed `ticket`, if this inbox knows it.
    pub fn requester_of(&self, ticket: TicketId) -> Option<String> {
        self.lock().requester_of(ticket).map(str::to_string)
    }

    pub fn answered(&self, ticket: TicketId, answer: FixAnswer) {
        let mut state = self.lock();
        state.answered(ticket, answer);
        self.changed(&state);
    }

    /// Changes whenever the inbox does.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_shared::ticket::Status;

    fn news(status: Status) -> TicketNews {
        TicketNews {
            id: TicketId(uuid::Uuid::from_u128(1)),
            title: "VPN".into(),
            requester: "alice".into(),
            status,
            updated_at: Timestamp(1),
            replies: vec![],
        }
    }

    #[test]
    fn the_inbox_survives_a_restart_and_a_damaged_file_starts_afresh() {
        let tmp = tempfile::tempdir().unwrap();
        let inbox = Inbox::open(tmp.path());
        let mut watch = inbox.subscribe();
        inbox.take(vec![news(Status::Resolved)]).unwrap();
        assert!(watch.has_changed().unwrap());
        watch.mark_unchanged();
        drop(inbox);
        let again = Inbox::open(tmp.path());
        let view = again.view("alice");
        assert_eq!(view.tickets[0].question, FixQuestion::Pending);
        assert_eq!(view.unseen().count(), 1);
        std::fs::write(tmp.path().join(INBOX_FILE), "{ nope").unwrap();
        assert!(Inbox::open(tmp.path()).view("alice").tickets.is_empty());
        assert!(tmp.path().join("inbox.json.corrupt").exists());
    }

    #[test]
    fn a_bad_batch_is_refused_whole() {
        let inbox = Inbox::in_memory();
        let mut bad = news(Status::Open);
        bad.title = "\u{1b}[2J".into();
        assert!(inbox.take(vec![news(Status::Resolved), bad]).is_err());
        assert!(inbox.view("alice").tickets.is_empty());
    }
}
