//! The live queue: one long-lived stream of ticket events.
//!
//! ```text
//! check filter, resolve --agent / --assignee me ─► Head { newest seq }
//!     ─► [Lagged, when resuming from too far back] ─► loop:
//!        read ≤ MAX_FEED_BATCH events after the last one handled,
//!        send those the filter selects, one at a time;
//!        caught up: wait for the feed to move, the technician's half to
//!        finish, the connection to go, or FEED_POLL to pass
//! ```
//!
//! Nothing is buffered per watcher: the next batch is read only once the
//! last was written, so a slow reader is paced by QUIC flow control; one
//! that falls more than the backlog behind is moved up to the newest event
//! and told how many it missed. A write the reader does not take within
//! `RESPONSE_WRITE_TIMEOUT` ends the stream (`Responder`).

use crate::server::request::{to_remote, Peer, Responder};
use crate::server::transfer::technician_signal;
use crate::server::Shared;
use crate::store::{StoreError, MAX_FEED_BATCH};
use std::time::Duration;
use tracing::debug;
use triage_shared::protocol::{ErrorKind, RemoteError, Response};
use triage_shared::queue::{TicketFilter, WatchFrame};
use triage_shared::time::Timestamp;

/// How often a waiting watch looks at the store itself: events committed
/// by another relay sharing the database wake nobody here.
pub const FEED_POLL: Duration = Duration::from_secs(5);

/// Where a watch starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Start {
    /// Events after this one are sent.
    pub after: u64,
    /// Sent right after `Head` when the asked-for place could not be kept.
    pub lagged: Option<WatchFrame>,
}

/// Where to start, given what the watcher asked for (`after`), the newest
/// event (`head`) and the oldest still kept (`oldest`, `None` when none
/// is). A resume older than the feed keeps, or more than `backlog` behind,
/// starts from the newest with a `Lagged` saying how many were skipped.
pub(crate) fn start_point(
    after: Option<u64>,
    head: u64,
    oldest: Option<u64>,
    backlog: u64,
) -> Result<Start, RemoteError> {
    let Some(after) = after else {
        return Ok(Start {
            after: head,
            lagged: None,
        });
    };
    if after > head {
        return Err(RemoteError::new(
            ErrorKind::InvalidInput,
            format!(
                "cannot resume the watch after event {after}: the newest event on this relay is {head}; watch again without resuming"
            ),
        ));
    }
    let first_kept = oldest.unwrap_or(head + 1);
    let pruned = after + 1 < first_kept;
    match lag(after, head, backlog) {
        Some(lagged) => Ok(Start {
            after: head,
            lagged: Some(lagged),
        }),
        None if pruned => Ok(Start {
            after: head,
            lagged: Some(WatchFrame::Lagged {
                skipped: head - after,
                resume_after: head,
            }),
        }),
        None => Ok(Start {
            after,
            lagged: None,
        }),
    }
}

/// The `Lagged` frame for a watcher that has handled events up to `last`
/// while the newest is `head`, if it is more than `backlog` behind.
pub(crate) fn lag(last: u64, head: u64, backlog: u64) -> Option<WatchFrame> {
    let behind = head.saturating_sub(last);
    (behind > backlog).then_some(WatchFrame::Lagged {
        skipped: behind,
        resume_after: head,
    })
}

pub(in crate::server) async fn watch(
    shared: &Shared,
    peer: &Peer,
    filter: TicketFilter,
    after: Option<u64>,
    recv: quinn::RecvStream,
    out: &mut Responder,
) {
    let backlog = shared.admission.limits().watch_backlog;
    // Subscribed before the head is read, so no commit falls in between.
    let mut moved = shared.store.subscribe_feed();
    let begun = async {
        filter.check()?;
        let context = super::queue::context(shared, peer, &filter, Timestamp::now()).await?;
        let head = shared.store.newest_feed_seq().await?;
        let oldest = shared.store.oldest_feed_seq().await?;
        let start = start_point(after, head, oldest, backlog)?;
        Ok::<_, StoreError>((context, head, start))
    }
    .await;
    let (mut context, head, start) = match begun {
        Ok(begun) => begun,
        Err(e) => {
            out.send(&Response::Error(to_remote(e))).await;
            return;
        }
    };
    if !out
        .send(&Response::Watch(WatchFrame::Head { seq: head }))
        .await
    {
        return;
    }
    if let Some(lagged) = start.lagged {
        if !out.send(&Response::Watch(lagged)).await {
            return;
        }
    }
    let signal = technician_signal(recv);
    tokio::pin!(signal);
    let mut last = start.after;
    loop {
        let known = (*moved.borrow_and_update()).max(last);
        if let Some(lagged) = lag(last, known, backlog) {
            debug!(last, newest = known, "watcher fell behind; moving it up");
            last = known;
            if !out.send(&Response::Watch(lagged)).await {
                return;
            }
        }
        let batch = match shared.store.feed_after(last, MAX_FEED_BATCH).await {
            Ok(batch) => batch,
            Err(e) => {
                out.send(&Response::Error(to_remote(e))).await;
                return;
            }
        };
        let full = batch.len() == MAX_FEED_BATCH;
        context.now = Timestamp::now();
        for event in batch {
            last = event.seq;
            if filter.matches(&event.ticket, &context)
                && !out
                    .send(&Response::Watch(WatchFrame::Event(Box::new(event))))
                    .await
            {
                return;
            }
        }
        if full {
            continue;
        }
        tokio::select! {
            changed = moved.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            // Finished or broken: either way nobody is listening any more.
            _ = &mut signal => {
                debug!("the technician ended the watch");
                return;
            }
            _ = tokio::time::sleep(FEED_POLL) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lagged(skipped: u64, resume_after: u64) -> Option<WatchFrame> {
        Some(WatchFrame::Lagged {
            skipped,
            resume_after,
        })
    }

    #[test]
    fn a_new_watch_starts_at_the_newest_event() {
        let start = start_point(None, 42, Some(1), 10).unwrap();
        assert_eq!(
            start,
            Start {
                after: 42,
                lagged: None
            }
        );
        let empty = start_point(None, 0, None, 10).unwrap();
        assert_eq!(empty.after, 0);
    }

    #[test]
    fn a_resume_within_the_backlog_starts_where_it_left_off() {
        assert_eq!(start_point(Some(32), 42, Some(1), 10).unwrap().after, 32);
        assert_eq!(start_point(Some(42), 42, Some(1), 10).unwrap().lagged, None);
        // The oldest kept event is the next one: nothing was lost.
        assert_eq!(start_point(Some(40), 42, Some(41), 10).unwrap().after, 40);
    }

    #[test]
    fn a_resume_too_far_back_skips_to_the_newest() {
        let start = start_point(Some(31), 42, Some(1), 10).unwrap();
        assert_eq!(start.after, 42);
        assert_eq!(start.lagged, lagged(11, 42));
        // Within the backlog, but events after it were pruned.
        let start = start_point(Some(39), 42, Some(41), 10).unwrap();
        assert_eq!(start.after, 42);
        assert_eq!(start.lagged, lagged(3, 42));
    }

    #[test]
    fn a_resume_past_the_newest_event_is_refused() {
        let e = start_point(Some(50), 42, Some(1), 10).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidInput);
        assert!(e.message.contains("after event 50"), "{e}");
        assert!(
            e.message.contains("newest event on this relay is 42"),
            "{e}"
        );
    }

    #[test]
    fn a_watcher_lags_only_beyond_the_backlog() {
        assert_eq!(lag(90, 100, 10), None);
        assert_eq!(lag(89, 100, 10), lagged(11, 100));
        assert_eq!(lag(100, 100, 10), None);
        // A head read before the last batch may be behind it.
        assert_eq!(lag(120, 100, 10), None);
        assert_eq!(lag(0, 5, 0), lagged(5, 5));
    }
}
