//! **Pure**: what the daemon knows of the tickets it filed, and what the
//! employee should be told. News from the relay is a whole ticket state;
//! [`InboxState::take`] compares it with what was known and adds a
//! [`Notice`] for each thing the employee should hear of: a new public
//! reply from a technician, a resolution ("Did this fix it?"), a reopen or
//! a close they did not cause. The same news twice adds nothing, and news
//! older than what is known is ignored, so pushes and catch-ups may cross.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use triage_shared::news::{is_technician_reply, TicketNews, NEWS_OVERLAP_MILLIS};
use triage_shared::text::shortened;
use triage_shared::ticket::{Comment, Status};
use triage_shared::time::Timestamp;
use triage_shared::TicketId;

/// Tickets kept; beyond, the closed ones changed longest ago go first.
pub const MAX_KEPT_TICKETS: usize = 200;
/// Notices kept (all users together); beyond, the oldest go.
pub const MAX_NOTICES: usize = 100;
/// Tickets and notices in one user's view.
pub const MAX_VIEW_TICKETS: usize = 50;
/// Longest reply excerpt in a notice.
pub const NOTICE_EXCERPT_LEN: usize = 200;

/// The employee's answer to "Did this fix it?", given on this computer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FixAnswer {
    Yes { score: Option<u8> },
    No { score: Option<u8> },
}

/// Where "Did this fix it?" stands for one ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FixQuestion {
    /// Not resolved: nothing to ask.
    NotAsked,
    /// Resolved, and the employee has not answered yet.
    Pending,
    /// Answered here; the relay has (or will have, once delivered) it.
    Answered(FixAnswer),
}

/// What happened, in the words of a notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum NoticeKind {
    Reply { author: String, excerpt: String },
    Resolved,
    Reopened,
    Closed,
    StatusChanged { to: Status },
}

/// One thing to tell the employee.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// Increasing; the window says "seen up to" with it.
    pub seq: u64,
    pub ticket: TicketId,
    pub title: String,
    pub requester: String,
    pub kind: NoticeKind,
    pub seen: bool,
}

impl Notice {
    /// The notification's summary and body.
    pub fn text(&self) -> (String, String) {
        let short = self.ticket.short();
        match &self.kind {
            NoticeKind::Reply { author, excerpt } => (
                format!("{author} replied on ticket {short}"),
                format!("{}: {excerpt}", self.title),
            ),
            NoticeKind::Resolved => (
                format!("Ticket {short} was resolved"),
                format!("{}: did this fix it? Answer in Get help.", self.title),
            ),
            NoticeKind::Reopened => (format!("Ticket {short} was reopened"), self.title.clone()),
            NoticeKind::Closed => (format!("Ticket {short} was closed"), self.title.clone()),
            NoticeKind::StatusChanged { to } => (
                format!("Ticket {short} is now {}", to.as_str().replace('_', " ")),
                self.title.clone(),
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Known {
    news: TicketNews,
    answer: Option<FixAnswer>,
}

/// One ticket as the employee's view shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboxTicket {
    pub id: TicketId,
    pub title: String,
    pub status: Status,
    pub updated_at: Timestamp,
    /// The newest public comments (technicians' and the employee's own).
    pub replies: Vec<Comment>,
    pub question: FixQuestion,
}

/// What one employee sees: their tickets, newest change first, and their
/// notices, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InboxView {
    pub tickets: Vec<InboxTicket>,
    pub notices: Vec<Notice>,
}

impl InboxView {
    /// The notices not yet shown.
    pub fn unseen(&self) -> impl Iterator<Item = &Notice> {
        self.notices.iter().filter(|n| !n.seen)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InboxState {
    tickets: BTreeMap<TicketId, Known>,
    notices: VecDeque<Notice>,
    next_seq: u64,
    /// The relay's clock at the last complete catch-up.
    caught_up_at: Option<Timestamp>,
}

impl InboxState {
    /// Takes one ticket's news; returns how many notices it added.
    pub fn take(&mut self, news: TicketNews) -> usize {
        let before = self.notices.len();
        let old = self.tickets.get(&news.id).cloned();
        if old
            .as_ref()
            .is_some_and(|o| o.news.updated_at > news.updated_at)
        {
            return 0; // older than what is known: a crossed push
        }
        let mut answer = old.as_ref().and_then(|o| o.answer);
        for kind in changes(old.as_ref().map(|o| &o.news), &news, answer) {
            self.notify(&news, kind);
        }
        if news.status != Status::Resolved {
            // The answer took effect (or a technician moved on): a new
            // resolution asks again.
            answer = None;
        }
        self.tickets.insert(news.id, Known { news, answer });
        self.bound();
        self.notices.len() - before
    }

    fn notify(&mut self, news: &TicketNews, kind: NoticeKind) {
        self.next_seq += 1;
        self.notices.push_back(Notice {
            seq: self.next_seq,
            ticket: news.id,
            title: news.title.clone(),
            requester: news.requester.clone(),
            kind,
            seen: false,
        });
    }

    fn bound(&mut self) {
        while self.notices.len() > MAX_NOTICES {
            self.notices.pop_front();
        }
        while self.tickets.len() > MAX_KEPT_TICKETS {
            // Closed first, then resolved, then the one changed longest
            // ago: a ticket still being worked on is the last to go.
            let rank = |s: Status| match s {
                Status::Closed => 0,
                Status::Resolved => 1,
                _ => 2,
            };
            let victim = self
                .tickets
                .values()
                .min_by_key(|k| (rank(k.news.status), k.news.updated_at))
                .map(|k| k.news.id);
            match victim {
                Some(id) => self.tickets.remove(&id),
                None => break,
            };
        }
    }

    /// `requester`'s tickets and notices.
    pub fn view(&self, requester: &str) -> InboxView {
        let mut tickets: Vec<InboxTicket> = self
            .tickets
            .values()
            .filter(|k| k.news.requester == requester)
            .map(|k| InboxTicket {
                id: k.news.id,
                title: k.news.title.clone(),
                status: k.news.status,
                updated_at: k.news.updated_at,
                replies: k.news.replies.clone(),
                question: match (k.news.status, k.answer) {
                    (Status::Resolved, Some(a)) => FixQuestion::Answered(a),
                    (Status::Resolved, None) => FixQuestion::Pending,
                    _ => FixQuestion::NotAsked,
                },
            })
            .collect();
        tickets.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then(a.id.0.cmp(&b.id.0)));
        tickets.truncate(MAX_VIEW_TICKETS);
        let mut notices: Vec<Notice> = self
            .notices
            .iter()
            .rev()
            .filter(|n| n.requester == requester)
            .take(MAX_VIEW_TICKETS)
            .cloned()
            .collect();
        notices.reverse();
        InboxView { tickets, notices }
    }

    /// `requester`'s notices up to `up_to` were shown to them.
    pub fn mark_seen(&mut self, requester: &str, up_to: u64) -> bool {
        let mut changed = false;
        for n in &mut self.notices {
            if n.requester == requester && n.seq <= up_to && !n.seen {
                n.seen = true;
                changed = true;
            }
        }
        changed
    }

    /// Who filed `ticket`, if it is known here.
    pub fn requester_of(&self, ticket: TicketId) -> Option<&str> {
        self.tickets.get(&ticket).map(|k| k.news.requester.as_str())
    }

    /// The employee answered "Did this fix it?" on this computer.
    pub fn answered(&mut self, ticket: TicketId, answer: FixAnswer) {
        if let Some(known) = self.tickets.get_mut(&ticket) {
            known.answer = Some(answer);
        }
    }

    /// A catch-up read everything up to the relay's `as_of`.
    pub fn caught_up(&mut self, as_of: Timestamp) {
        self.caught_up_at = Some(as_of);
    }

    /// Where the next catch-up starts: a little before the last one's
    /// `as_of` (clocks of several relays differ), or the beginning.
    pub fn since(&self) -> Timestamp {
        self.caught_up_at.map_or(Timestamp(0), |t| {
            Timestamp(t.millis().saturating_sub(NEWS_OVERLAP_MILLIS).max(0))
        })
    }
}

/// What the employee should hear of between `old` (what was known, if
/// anything) and `new`. `answer`: what they answered here, so that the
/// reopen or close their own answer caused is not announced to them.
fn changes(
    old: Option<&TicketNews>,
    new: &TicketNews,
    answer: Option<FixAnswer>,
) -> Vec<NoticeKind> {
    let mut out = Vec::new();
    let reply = |c: &Comment| NoticeKind::Reply {
        author: c.author.clone(),
        excerpt: shortened(&c.text, NOTICE_EXCERPT_LEN).to_string(),
    };
    match old {
        None => {
            // First sight: the newest reply, if a technician wrote it.
            if let Some(c) = new.replies.last().filter(|c| is_technician_reply(c)) {
                out.push(reply(c));
            }
        }
        Some(old) => {
            let newest_known = old.replies.iter().map(|c| c.created_at).max();
            for c in &new.replies {
                let unseen = !old.replies.iter().any(|o| o.id == c.id)
                    && newest_known.is_none_or(|t| c.created_at >= t);
                if unseen && is_technician_reply(c) {
                    out.push(reply(c));
                }
            }
        }
    }
    let from = old.map(|o| o.status);
    if from != Some(new.status) {
        let own_doing = matches!(
            (answer, new.status),
            (Some(FixAnswer::Yes { .. }), Status::Closed)
                | (Some(FixAnswer::No { .. }), Status::Open)
        );
        let kind = match (from, new.status) {
            (_, Status::Resolved) => Some(NoticeKind::Resolved),
            // First sight of a ticket that is not resolved: nothing new.
            (None, _) => None,
            _ if own_doing => None,
            (_, Status::Closed) => Some(NoticeKind::Closed),
            (Some(Status::Resolved | Status::Closed), _) => Some(NoticeKind::Reopened),
            (_, to) => Some(NoticeKind::StatusChanged { to }),
        };
        out.extend(kind);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_shared::ids::CommentId;

    fn reply(author: &str, at: i64) -> Comment {
        Comment {
            id: CommentId::new_random(),
            author: author.into(),
            text: format!("reply at {at}"),
            created_at: Timestamp(at),
            internal: false,
        }
    }

    fn news(id: TicketId, status: Status, at: i64, replies: Vec<Comment>) -> TicketNews {
        TicketNews {
            id,
            title: "VPN drops".into(),
            requester: "alice".into(),
            status,
            updated_at: Timestamp(at),
            replies,
        }
    }

    fn kinds(state: &InboxState) -> Vec<NoticeKind> {
        state
            .view("alice")
            .notices
            .into_iter()
            .map(|n| n.kind)
            .collect()
    }

    #[test]
    fn a_technician_reply_is_told_once_and_the_employees_own_never() {
        let mut s = InboxState::default();
        let id = TicketId::new_random();
        assert_eq!(s.take(news(id, Status::Open, 1, vec![])), 0);
        let bob = reply("bob", 2);
        assert_eq!(
            s.take(news(id, Status::InProgress, 2, vec![bob.clone()])),
            2
        );
        // The same news again, as a catch-up after a push: nothing new.
        assert_eq!(
            s.take(news(id, Status::InProgress, 2, vec![bob.clone()])),
            0
        );
        let own = reply("employee:alice", 3);
        assert_eq!(s.take(news(id, Status::InProgress, 3, vec![bob, own])), 0);
        assert_eq!(
            kinds(&s),
            [
                NoticeKind::Reply {
                    author: "bob".into(),
                    excerpt: "reply at 2".into()
                },
                NoticeKind::StatusChanged {
                    to: Status::InProgress
                }
            ]
        );
    }

    #[test]
    fn older_news_is_ignored() {
        let mut s = InboxState::default();
        let id = TicketId::new_random();
        s.take(news(id, Status::Resolved, 5, vec![]));
        assert_eq!(
            s.take(news(id, Status::InProgress, 4, vec![reply("bob", 4)])),
            0
        );
        assert_eq!(s.view("alice").tickets[0].status, Status::Resolved);
    }

    #[test]
    fn a_resolution_asks_did_this_fix_it_until_answered() {
        let mut s = InboxState::default();
        let id = TicketId::new_random();
        s.take(news(id, Status::InProgress, 1, vec![]));
        s.take(news(id, Status::Resolved, 2, vec![]));
        assert_eq!(kinds(&s), [NoticeKind::Resolved]);
        assert_eq!(s.view("alice").tickets[0].question, FixQuestion::Pending);
        let no = FixAnswer::No { score: None };
        s.answered(id, no);
        assert_eq!(
            s.view("alice").tickets[0].question,
            FixQuestion::Answered(no)
        );
        // The relay reopened it because of that answer: not announced.
        assert_eq!(s.take(news(id, Status::Open, 3, vec![])), 0);
        assert_eq!(s.view("alice").tickets[0].question, FixQuestion::NotAsked);
        // Resolved again: asked again.
        s.take(news(id, Status::Resolved, 4, vec![]));
        assert_eq!(s.view("alice").tickets[0].question, FixQuestion::Pending);
        s.answered(id, FixAnswer::Yes { score: Some(4) });
        assert_eq!(s.take(news(id, Status::Closed, 5, vec![])), 0);
        assert_eq!(
            kinds(&s),
            [NoticeKind::Resolved, NoticeKind::Resolved],
            "no notice for what the employee did"
        );
    }

    #[test]
    fn a_close_or_reopen_by_someone_else_is_told() {
        let mut s = InboxState::default();
        let id = TicketId::new_random();
        s.take(news(id, Status::Resolved, 1, vec![]));
        s.take(news(id, Status::Closed, 2, vec![]));
        s.take(news(id, Status::Open, 3, vec![]));
        assert_eq!(
            kinds(&s),
            [
                NoticeKind::Resolved,
                NoticeKind::Closed,
                NoticeKind::Reopened
            ]
        );
    }

    #[test]
    fn each_employee_sees_only_their_own_and_marks_only_their_own_seen() {
        let mut s = InboxState::default();
        let mine = TicketId::new_random();
        let theirs = TicketId::new_random();
        s.take(news(mine, Status::Resolved, 1, vec![]));
        let mut other = news(theirs, Status::Resolved, 1, vec![]);
        other.requester = "bob".into();
        s.take(other);
        let view = s.view("alice");
        assert_eq!(view.tickets.len(), 1);
        assert_eq!(view.tickets[0].id, mine);
        let up_to = view.notices[0].seq;
        assert!(s.mark_seen("alice", u64::MAX));
        assert_eq!(s.view("alice").unseen().count(), 0);
        assert_eq!(s.view("bob").unseen().count(), 1);
        assert!(!s.mark_seen("alice", up_to), "already seen");
    }

    #[test]
    fn the_inbox_is_bounded_and_keeps_open_tickets_over_finished_ones() {
        let mut s = InboxState::default();
        let open = TicketId::new_random();
        s.take(news(open, Status::Open, 0, vec![]));
        for i in 0..(MAX_KEPT_TICKETS as i64 + 10) {
            s.take(news(
                TicketId::new_random(),
                Status::Resolved,
                i + 1,
                vec![],
            ));
            s.take(news(TicketId::new_random(), Status::Closed, i + 1, vec![]));
        }
        assert!(s.tickets.len() <= MAX_KEPT_TICKETS);
        assert!(s.notices.len() <= MAX_NOTICES);
        assert!(s.tickets.contains_key(&open));
        assert!(s.view("alice").tickets.len() <= MAX_VIEW_TICKETS);
    }

    #[test]
    fn catch_up_starts_a_little_before_the_last_one() {
        let mut s = InboxState::default();
        assert_eq!(s.since(), Timestamp(0));
        s.caught_up(Timestamp(NEWS_OVERLAP_MILLIS + 10));
        assert_eq!(s.since(), Timestamp(10));
        s.caught_up(Timestamp(5));
        assert_eq!(s.since(), Timestamp(0));
    }
}
