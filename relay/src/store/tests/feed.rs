//! The live queue's event feed: one numbered row per event, written with
//! the change, pruned to the newest.

use super::*;
use crate::store::{FEED_PRUNE_EVERY, FEED_RETAINED, MAX_FEED_BATCH};
use triage_shared::agent_update::{AgentUpdate, PNG_SIGNATURE};
use triage_shared::ids::UpdateId;
use triage_shared::queue::{QueueEvent, QueueEventKind, EXCERPT_LEN};
use triage_shared::ticket::Ticket;

fn at(n: i64) -> Timestamp {
    Timestamp(NOW.0 + n)
}

async fn whole_feed(store: &Store) -> Vec<QueueEvent> {
    let mut all = Vec::new();
    loop {
        let after = all.last().map_or(0, |e: &QueueEvent| e.seq);
        let batch = store.feed_after(after, MAX_FEED_BATCH).await.unwrap();
        if batch.is_empty() {
            return all;
        }
        all.extend(batch);
    }
}

/// One workflow step, to apply with `update_ticket`.
type Step = Box<dyn FnOnce(&Ticket) -> Result<TicketUpdate, RemoteError> + Send>;

fn seqs(events: &[QueueEvent]) -> Vec<u64> {
    events.iter().map(|e| e.seq).collect()
}

store_test!(every_ticket_write_appends_its_events_in_order);
async fn every_ticket_write_appends_its_events_in_order(store: Store) {
    let mut moved = store.subscribe_feed();
    let agent = enrolled_agent(&store, "pc-1").await;
    let id = file_ticket(&store, &agent, NOW).await;
    assert!(moved.has_changed().unwrap(), "a new ticket wakes watchers");
    assert_eq!(*moved.borrow_and_update(), 1);
    let long = "é".repeat(200);
    let steps: Vec<Step> = vec![
        Box::new(|t: &Ticket| workflow::assign(t, "bob", "carol", at(1))),
        Box::new(|t: &Ticket| workflow::escalate(t, "carol", Some("over to L2"), at(2))),
        Box::new(|t: &Ticket| workflow::comment(t, "bob", "on my way", at(3))),
        Box::new(move |t: &Ticket| workflow::note(t, "bob", &long, at(4))),
    ];
    for step in steps {
        store.update_ticket(id, step).await.unwrap();
    }
    let mut png = PNG_SIGNATURE.to_vec();
    png.extend([7u8; 100]);
    store
        .apply_agent_update(
            agent.id,
            "agent:pc-1",
            UpdateId::new_random(),
            id,
            &AgentUpdate::Screenshot(png),
            at(5),
        )
        .await
        .unwrap();

    let feed = whole_feed(&store).await;
    let told: Vec<(&str, &QueueEventKind)> =
        feed.iter().map(|e| (e.actor.as_str(), &e.kind)).collect();
    let excerpt = "é".repeat(EXCERPT_LEN / 2);
    assert_eq!(
        told,
        vec![
            ("alice", &QueueEventKind::Created),
            (
                "carol",
                &QueueEventKind::Assigned {
                    assignee: "bob".into()
                }
            ),
            (
                "carol",
                &QueueEventKind::StatusChanged {
                    from: Status::Open,
                    to: Status::InProgress
                }
            ),
            (
                "carol",
                &QueueEventKind::Escalated {
                    from: Tier::L1,
                    to: Tier::L2
                }
            ),
            (
                "carol",
                &QueueEventKind::Commented {
                    internal: false,
                    excerpt: "over to L2".into()
                }
            ),
            (
                "bob",
                &QueueEventKind::Commented {
                    internal: false,
                    excerpt: "on my way".into()
                }
            ),
            (
                "bob",
                &QueueEventKind::Commented {
                    internal: true,
                    excerpt
                }
            ),
            (
                "employee:alice",
                &QueueEventKind::Attached {
                    name: "screenshot.png".into()
                }
            ),
        ]
    );
    assert_eq!(
        seqs(&feed),
        (1..=8).collect::<Vec<_>>(),
        "no gaps, in order"
    );
    assert_eq!(feed[1].at, at(1));
    // Each event carries the ticket as it is now, not as it was then.
    let now = store.ticket(id).await.unwrap().unwrap();
    assert!(feed.iter().all(|e| e.ticket == now));
    assert_eq!(store.newest_feed_seq().await.unwrap(), 8);
    assert_eq!(store.oldest_feed_seq().await.unwrap(), Some(1));
    assert_eq!(*moved.borrow_and_update(), 8);
    // Reading resumes exactly after the number given.
    assert_eq!(seqs(&store.feed_after(5, 2).await.unwrap()), [6, 7]);
    assert!(store.feed_after(8, 10).await.unwrap().is_empty());
}

store_test!(a_refused_or_repeated_write_appends_nothing);
async fn a_refused_or_repeated_write_appends_nothing(store: Store) {
    assert_eq!(store.newest_feed_seq().await.unwrap(), 0);
    assert_eq!(store.oldest_feed_seq().await.unwrap(), None);
    let agent = enrolled_agent(&store, "pc-1").await;
    let (ticket, event) = workflow::new_ticket_from_agent(&submission(), &agent, NOW).unwrap();
    assert!(store.create_ticket(&ticket, &event, None).await.unwrap());
    let mut moved = store.subscribe_feed();
    // A redelivered ticket changes nothing.
    assert!(!store.create_ticket(&ticket, &event, None).await.unwrap());
    // Closed tickets cannot be started: the whole step is refused.
    store
        .update_ticket(ticket.id, |t| {
            workflow::change_status(t, StatusAction::Close, "bob", None, at(1))
        })
        .await
        .unwrap();
    let before = store.newest_feed_seq().await.unwrap();
    let refused = store
        .update_ticket(ticket.id, |t| {
            workflow::change_status(t, StatusAction::Start, "bob", Some("again"), at(2))
        })
        .await;
    assert_eq!(refused_kind(refused).0, ErrorKind::InvalidTransition);
    assert_eq!(store.newest_feed_seq().await.unwrap(), before);
    assert_eq!(seqs(&whole_feed(&store).await), [1, 2]);
    assert_eq!(*moved.borrow_and_update(), 2);
    // A refusal does not wake anyone for nothing.
    assert!(!moved.has_changed().unwrap());
}

store_test!(concurrent_writers_get_numbers_without_gaps);
async fn concurrent_writers_get_numbers_without_gaps(store: Store) {
    let agent = enrolled_agent(&store, "pc-1").await;
    let mut tickets = Vec::new();
    for i in 0..4 {
        tickets.push(file_ticket(&store, &agent, at(i)).await);
    }
    let mut writers = tokio::task::JoinSet::new();
    for (i, id) in tickets.iter().copied().enumerate() {
        for n in 0..5 {
            let store = store.clone();
            writers.spawn(async move {
                let text = format!("writer {i} comment {n}");
                store
                    .update_ticket(id, |t| workflow::comment(t, "bob", &text, at(10)))
                    .await
                    .unwrap();
            });
        }
    }
    while let Some(done) = writers.join_next().await {
        done.unwrap();
    }
    let feed = whole_feed(&store).await;
    assert_eq!(seqs(&feed), (1..=24).collect::<Vec<_>>());
    assert_eq!(store.newest_feed_seq().await.unwrap(), 24);
}

store_test!(pruning_keeps_the_newest_events);
async fn pruning_keeps_the_newest_events(store: Store) {
    let agent = enrolled_agent(&store, "pc-1").await;
    let id = file_ticket(&store, &agent, NOW).await;
    // Stand-in history up to one event before a prune is due, written in
    // one statement rather than a hundred thousand ticket changes.
    let filled = FEED_RETAINED + FEED_PRUNE_EVERY - 1;
    sqlx::query(
        "WITH RECURSIVE n(s) AS (SELECT CAST(2 AS BIGINT) UNION ALL SELECT s + 1 FROM n WHERE s < $1) \
         INSERT INTO queue_feed (seq, ticket_id, occurred_at, actor, kind_json) \
         SELECT s, $2, 0, 'filler', '\"created\"' FROM n",
    )
    .bind(filled as i64)
    .bind(id.to_string())
    .execute(&store.pool)
    .await
    .unwrap();
    sqlx::query("UPDATE queue_feed_counter SET last_seq = $1")
        .bind(filled as i64)
        .execute(&store.pool)
        .await
        .unwrap();
    assert_eq!(store.oldest_feed_seq().await.unwrap(), Some(1));
    store
        .update_ticket(id, |t| workflow::comment(t, "bob", "the last word", at(1)))
        .await
        .unwrap();
    let newest = filled + 1;
    assert_eq!(store.newest_feed_seq().await.unwrap(), newest);
    assert_eq!(
        store.oldest_feed_seq().await.unwrap(),
        Some(newest - FEED_RETAINED + 1),
        "exactly the newest {FEED_RETAINED} are kept"
    );
    let last = store.feed_after(newest - 1, 10).await.unwrap();
    assert_eq!(seqs(&last), [newest]);
    assert!(matches!(last[0].kind, QueueEventKind::Commented { .. }));
    // The next few writes do not prune again.
    store
        .update_ticket(id, |t| workflow::comment(t, "bob", "one more", at(2)))
        .await
        .unwrap();
    assert_eq!(
        store.oldest_feed_seq().await.unwrap(),
        Some(newest - FEED_RETAINED + 1)
    );
}
