//! Telling endpoints about their tickets: one relay-wide task follows the
//! store's event feed and, for each ticket an agent filed that got a public
//! technician comment or changed status, pushes the ticket as its
//! requester may see it (`AgentCommand::TicketNews`) to that agent, if it
//! is connected here.
//!
//! ```text
//! feed (seq order) ──news_worthy──► tickets ──store.ticket_news──► by agent
//!     ──online here?──► AgentCommand::TicketNews(≤ MAX_NEWS_TICKETS) ──► agent
//!                        offline: nothing; the agent catches up on connect
//! ```
//!
//! A push is best effort: the agent asks `Request::TicketNews { since }`
//! whenever it (re)connects, so a push that is lost, or a change that
//! another relay committed, reaches it anyway. News is a whole ticket
//! state, so pushing it twice is harmless. The follower starts at the
//! feed's head: what came before is the catch-up's.

use super::agent_link::{self, AGENT_REPLY_TIMEOUT};
use super::Shared;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tracing::{debug, warn};
use triage_shared::news::{TicketNews, MAX_NEWS_TICKETS};
use triage_shared::queue::{QueueEvent, QueueEventKind};
use triage_shared::remote::{AgentCommand, AgentReply};
use triage_shared::{AgentId, TicketId};

/// How often the feed is read without a wake-up, for changes committed by
/// another relay on the same database.
pub const NEWS_POLL: Duration = Duration::from_secs(5);
/// Feed events read at a time.
const NEWS_BATCH: usize = crate::store::MAX_FEED_BATCH;

/// **Pure**: the ticket an event is news for, if the employee should hear
/// of it: a public comment by a technician (no internal note, nothing the
/// agent or the employee wrote themselves), or a status change.
pub fn news_worthy(event: &QueueEvent) -> Option<TicketId> {
    event.ticket.agent_id?;
    let worthy = match &event.kind {
        QueueEventKind::Commented { internal, .. } => !internal && !event.actor.contains(':'),
        QueueEventKind::StatusChanged { .. } => true,
        _ => false,
    };
    worthy.then_some(event.ticket.id)
}

/// Follows the feed until `stop` changes.
pub(super) async fn follow(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut wake = shared.store.subscribe_feed();
    let mut after = match shared.store.newest_feed_seq().await {
        Ok(seq) => seq,
        Err(e) => {
            warn!(error = %e, "cannot read the event feed; endpoints learn of changes only when they reconnect");
            return;
        }
    };
    loop {
        match shared.store.feed_after(after, NEWS_BATCH).await {
            Ok(events) if !events.is_empty() => {
                after = events.last().map_or(after, |e| e.seq);
                let tickets: BTreeSet<TicketId> = events.iter().filter_map(news_worthy).collect();
                push_all(&shared, tickets).await;
                if events.len() == NEWS_BATCH {
                    continue;
                }
            }
            Ok(_) => {}
            Err(e) => warn!(error = %e, "cannot read the event feed"),
        }
        tokio::select! {
            _ = stop.changed() => return,
            _ = wake.changed() => {}
            _ = tokio::time::sleep(NEWS_POLL) => {}
        }
    }
}

async fn push_all(shared: &Arc<Shared>, tickets: BTreeSet<TicketId>) {
    let mut by_agent: BTreeMap<AgentId, Vec<TicketNews>> = BTreeMap::new();
    for id in tickets {
        match shared.store.ticket_news(id).await {
            Ok(Some((agent, news))) if shared.registry.is_online(agent) => {
                by_agent.entry(agent).or_default().push(news);
            }
            Ok(_) => {}
            Err(e) => warn!(ticket_id = %id, error = %e, "cannot read a ticket for its endpoint"),
        }
    }
    for (agent, news) in by_agent {
        for batch in news.chunks(MAX_NEWS_TICKETS) {
            // Its own task: a slow agent never holds up the others' news.
            let shared = Arc::clone(shared);
            let command = AgentCommand::TicketNews(batch.to_vec());
            tokio::spawn(async move { push(&shared, agent, &command).await });
        }
    }
}

async fn push(shared: &Shared, agent: AgentId, command: &AgentCommand) {
    let mut stream = match agent_link::open(shared, agent, command).await {
        Ok(stream) => stream,
        Err(e) => {
            debug!(%agent, reason = %e, "ticket news not pushed; the agent catches up on connect");
            return;
        }
    };
    match stream.next(AGENT_REPLY_TIMEOUT).await {
        Ok(Some(AgentReply::NewsTaken { count })) => {
            debug!(%agent, count, "agent took ticket news")
        }
        Ok(other) => {
            debug!(%agent, reply = ?other.as_ref().map(<&str>::from), "agent did not take the ticket news")
        }
        Err(e) => debug!(%agent, error = %e, "no answer to ticket news"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_shared::ticket::{Category, Priority, Source, Status, Ticket, Tier};
    use triage_shared::time::Timestamp;

    fn event(actor: &str, kind: QueueEventKind, agent: Option<AgentId>) -> QueueEvent {
        QueueEvent {
            seq: 1,
            at: Timestamp(1),
            actor: actor.into(),
            kind,
            ticket: Ticket {
                id: TicketId::new_random(),
                title: "t".into(),
                description: String::new(),
                category: Category::Other,
                priority: Priority::Normal,
                status: Status::Open,
                tier: Tier::L1,
                source: Source::Employee,
                agent_id: agent,
                hostname: None,
                requester: "alice".into(),
                assignee: None,
                created_at: Timestamp(0),
                updated_at: Timestamp(0),
                sla_due_at: Timestamp(0),
                sla: None,
            },
        }
    }

    fn comment(internal: bool) -> QueueEventKind {
        QueueEventKind::Commented {
            internal,
            excerpt: "x".into(),
        }
    }

    #[test]
    fn public_technician_comments_and_status_changes_are_news_and_notes_are_not() {
        let agent = Some(AgentId::new_random());
        assert!(news_worthy(&event("bob", comment(false), agent)).is_some());
        assert!(news_worthy(&event("bob", comment(true), agent)).is_none());
        assert!(news_worthy(&event("agent:pc", comment(false), agent)).is_none());
        assert!(news_worthy(&event("employee:alice", comment(false), agent)).is_none());
        let resolved = QueueEventKind::StatusChanged {
            from: Status::InProgress,
            to: Status::Resolved,
        };
        assert!(news_worthy(&event("bob", resolved.clone(), agent)).is_some());
        assert!(
            news_worthy(&event("bob", resolved, None)).is_none(),
            "no endpoint to tell"
        );
        let assigned = QueueEventKind::Assigned {
            assignee: "bob".into(),
        };
        assert!(news_worthy(&event("bob", assigned, agent)).is_none());
    }
}
