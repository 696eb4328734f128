//! The live queue's event feed: every ticket event and comment under one
//! relay-wide sequence number, written in the transaction of the change.
//!
//! Numbers come from the single `queue_feed_counter` row. Updating it takes
//! that row's lock on PostgreSQL (and the write lock on SQLite), so two
//! writers number their events in the order they commit: a reader that has
//! seen `seq` N never later finds an event below N. The counter is taken
//! last in each transaction, after the ticket row, so the lock is held
//! briefly and always in the same order.
//!
//! The store also keeps a `watch` of the newest number this process has
//! committed. It carries no events, only "the feed moved", so a watcher
//! costs nothing while it waits and nothing is queued for a slow one.

use super::rows::{self, json, text, timestamp, to_json, TICKET_COLUMNS};
use super::tickets::TicketUpdate;
use super::{Store, StoreError};
use sqlx::{Any, Transaction};
use tokio::sync::watch;
use triage_shared::queue::{QueueEvent, QueueEventKind, EXCERPT_LEN};
use triage_shared::text::shortened;
use triage_shared::ticket::{Comment, TicketEvent, TicketEventKind};
use triage_shared::time::Timestamp;
use triage_shared::TicketId;

/// Events the feed keeps; older ones are pruned as new ones arrive.
pub const FEED_RETAINED: u64 = 100_000;
/// The feed is pruned when its numbers pass a multiple of this, so the
/// delete runs once per this many events, not on every write.
pub const FEED_PRUNE_EVERY: u64 = 1_000;
/// Most events one [`Store::feed_after`] call reads.
pub const MAX_FEED_BATCH: usize = 256;

/// One feed row before it has its number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FeedEntry {
    pub actor: String,
    pub at: Timestamp,
    pub kind: QueueEventKind,
}

/// What the live queue says about a ticket history event.
pub(super) fn event_entry(event: &TicketEvent) -> FeedEntry {
    let kind = match &event.event {
        TicketEventKind::Created => QueueEventKind::Created,
        TicketEventKind::Assigned { assignee } => QueueEventKind::Assigned {
            assignee: assignee.clone(),
        },
        TicketEventKind::Escalated { from, to } => QueueEventKind::Escalated {
            from: *from,
            to: *to,
        },
        TicketEventKind::StatusChanged { from, to } => QueueEventKind::StatusChanged {
            from: *from,
            to: *to,
        },
        TicketEventKind::Attached { name, .. } => QueueEventKind::Attached { name: name.clone() },
        TicketEventKind::SlaWarning { clock, .. } => QueueEventKind::SlaWarning { clock: *clock },
        TicketEventKind::SlaBreached { clock, .. } => QueueEventKind::SlaBreached { clock: *clock },
        TicketEventKind::Rated { score } => QueueEventKind::Rated { score: *score },
        TicketEventKind::PriorityChanged { from, to } => QueueEventKind::PriorityChanged {
            from: *from,
            to: *to,
        },
    };
    FeedEntry {
        actor: event.actor.clone(),
        at: event.at,
        kind,
    }
}

/// A comment or note, carried as its first [`EXCERPT_LEN`] bytes: enough
/// to tell what it is about, and an event stays small however long it is.
pub(super) fn comment_entry(comment: &Comment) -> FeedEntry {
    FeedEntry {
        actor: comment.author.clone(),
        at: comment.created_at,
        kind: QueueEventKind::Commented {
            internal: comment.internal,
            excerpt: shortened(&comment.text, EXCERPT_LEN).to_string(),
        },
    }
}

/// The feed rows of one workflow step, in the order its history has them:
/// events, then comments.
pub(super) fn update_entries(update: &TicketUpdate) -> Vec<FeedEntry> {
    update
        .events
        .iter()
        .map(event_entry)
        .chain(update.comments.iter().map(comment_entry))
        .collect()
}

/// The highest `seq` to delete after numbers `first..=last` were handed
/// out, if that run passed a multiple of `every` and more than `keep`
/// events exist.
pub fn prune_through(first: u64, last: u64, keep: u64, every: u64) -> Option<u64> {
    let passed = first.saturating_sub(1) / every != last / every;
    (passed && last > keep).then(|| last - keep)
}

/// Appends the `Created` event of a new ticket, in its transaction.
pub(super) async fn append_created(
    tx: &mut Transaction<'static, Any>,
    ticket: TicketId,
    created: &TicketEvent,
) -> Result<(), StoreError> {
    append(tx, ticket, &[event_entry(created)]).await
}

/// Appends what a workflow step added to ticket `ticket`, in its transaction.
pub(super) async fn append_update(
    tx: &mut Transaction<'static, Any>,
    ticket: TicketId,
    update: &TicketUpdate,
) -> Result<(), StoreError> {
    append(tx, ticket, &update_entries(update)).await
}

async fn append(
    tx: &mut Transaction<'static, Any>,
    ticket: TicketId,
    entries: &[FeedEntry],
) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    let count = entries.len() as i64;
    let row = sqlx::query(
        "UPDATE queue_feed_counter SET last_seq = last_seq + $1 WHERE id = 1 RETURNING last_seq",
    )
    .bind(count)
    .fetch_one(&mut **tx)
    .await?;
    let last = rows::int(&row, "last_seq")?;
    let first = last - count + 1;
    for (seq, entry) in (first..=last).zip(entries) {
        sqlx::query(
            "INSERT INTO queue_feed (seq, ticket_id, occurred_at, actor, kind_json) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(seq)
        .bind(ticket.to_string())
        .bind(entry.at.millis())
        .bind(&entry.actor)
        .bind(to_json(&entry.kind)?)
        .execute(&mut **tx)
        .await?;
    }
    let (first, last) = (seq_of(first)?, seq_of(last)?);
    if let Some(through) = prune_through(first, last, FEED_RETAINED, FEED_PRUNE_EVERY) {
        sqlx::query("DELETE FROM queue_feed WHERE seq <= $1")
            .bind(through as i64)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

fn seq_of(value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("feed sequence {value}")))
}

/// The newest committed sequence number this process knows of.
#[derive(Debug)]
pub(super) struct FeedClock(watch::Sender<u64>);

impl FeedClock {
    pub(super) fn new(newest: u64) -> FeedClock {
        FeedClock(watch::Sender::new(newest))
    }

    /// Moves the clock forward only: commits are announced in any order.
    fn advance(&self, newest: u64) {
        self.0.send_if_modified(|seen| {
            let moved = newest > *seen;
            if moved {
                *seen = newest;
            }
            moved
        });
    }
}

impl Store {
    /// The newest sequence number handed out (0 before the first event).
    pub async fn newest_feed_seq(&self) -> Result<u64, StoreError> {
        let row = sqlx::query("SELECT last_seq FROM queue_feed_counter WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        seq_of(rows::int(&row, "last_seq")?)
    }

    /// The oldest event still kept, `None` when the feed is empty.
    pub async fn oldest_feed_seq(&self) -> Result<Option<u64>, StoreError> {
        let row = sqlx::query("SELECT MIN(seq) AS oldest FROM queue_feed")
            .fetch_one(&self.pool)
            .await?;
        rows::opt_int(&row, "oldest")?.map(seq_of).transpose()
    }

    /// Up to `limit` (at most [`MAX_FEED_BATCH`]) events after `after`,
    /// oldest first, each with its ticket as it is now.
    pub async fn feed_after(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<QueueEvent>, StoreError> {
        let limit = limit.min(MAX_FEED_BATCH) as i64;
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        sqlx::query(&format!(
            "SELECT f.seq, f.occurred_at, f.actor, f.kind_json, {TICKET_COLUMNS} \
             FROM queue_feed f JOIN tickets t ON t.id = f.ticket_id \
             WHERE f.seq > $1 ORDER BY f.seq LIMIT $2"
        ))
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(QueueEvent {
                seq: seq_of(rows::int(r, "seq")?)?,
                at: timestamp(r, "occurred_at")?,
                actor: text(r, "actor")?,
                kind: json(r, "kind_json")?,
                ticket: rows::ticket(r)?,
            })
        })
        .collect()
    }

    /// Wakes when this process commits new feed events; holds the newest
    /// sequence number it committed.
    pub fn subscribe_feed(&self) -> watch::Receiver<u64> {
        self.feed.0.subscribe()
    }

    /// Passes `result` through; when it is a success, first tells watchers
    /// that the feed may have moved. Called after a ticket write commits.
    pub(super) async fn announced<T>(
        &self,
        result: Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if result.is_ok() {
            match self.newest_feed_seq().await {
                Ok(newest) => self.feed.advance(newest),
                // Watchers also look again on their own from time to time.
                Err(e) => tracing::warn!(error = %e, "cannot read the queue feed's newest number"),
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_feed_is_pruned_once_per_multiple_passed() {
        let every = FEED_PRUNE_EVERY;
        let keep = FEED_RETAINED;
        // Not past a multiple: nothing to do, however long the feed is.
        assert_eq!(prune_through(keep + 2, keep + 5, keep, every), None);
        // Reaching a multiple exactly, or passing one in a batch.
        assert_eq!(
            prune_through(keep + every, keep + every, keep, every),
            Some(every)
        );
        assert_eq!(
            prune_through(keep + every - 1, keep + every + 2, keep, every),
            Some(every + 2)
        );
        // Short feeds are never pruned.
        assert_eq!(prune_through(every, every, keep, every), None);
        assert_eq!(prune_through(1, 1, keep, every), None);
    }

    #[test]
    fn comments_are_carried_as_an_excerpt_cut_on_a_character() {
        let comment = Comment {
            id: triage_shared::ids::CommentId::new_random(),
            author: "alice".into(),
            text: format!("{}é and more", "x".repeat(EXCERPT_LEN - 1)),
            created_at: Timestamp(5),
            internal: true,
        };
        let entry = comment_entry(&comment);
        assert_eq!(entry.actor, "alice");
        assert_eq!(entry.at, Timestamp(5));
        // `é` is two bytes and would end past the limit: it is left out whole.
        assert_eq!(
            entry.kind,
            QueueEventKind::Commented {
                internal: true,
                excerpt: "x".repeat(EXCERPT_LEN - 1)
            }
        );
    }
}
