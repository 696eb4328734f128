//! The durable notification queue: deliveries made once from the feed,
//! claimed with a lease, retried and abandoned; webhooks and mailboxes.

use super::*;
use crate::notify::plan;
use crate::store::{Channel, Mailbox, Outcome, Targets, WebhookRow};
use triage_shared::notify::{NotifyEvent, MAX_WEBHOOKS};
use triage_shared::ticket::Ticket;

fn hook(events: &[NotifyEvent]) -> WebhookRow {
    WebhookRow {
        id: uuid::Uuid::new_v4().to_string(),
        url: "http://127.0.0.1:9/hook".into(),
        events: events.to_vec(),
        secret: Some("0123456789abcdef".into()),
        created_at: Timestamp(0),
    }
}

async fn enqueue_all(store: &Store, mail: bool) -> usize {
    let mut total = 0;
    loop {
        let n = store
            .enqueue_notifications(MAX_FEED_BATCH, NOW, |e, t| plan::plan(e, t, mail, NOW))
            .await
            .unwrap();
        total += n;
        if n == 0 {
            return total;
        }
    }
}

async fn technician(store: &Store, name: &str) {
    store
        .add_technician(&TechnicianSummary {
            name: name.into(),
            roles: vec![Role::L2],
            public_key: KeyPair::generate().public_key(),
            created_at: NOW,
        })
        .await
        .unwrap();
}

store_test!(feed_events_become_deliveries_once_even_with_two_enqueuers);
async fn feed_events_become_deliveries_once_even_with_two_enqueuers(store: Store) {
    let all = hook(&NotifyEvent::SUBSCRIBABLE);
    store.add_webhook(&all, "admin").await.unwrap();
    let agent = enrolled_agent(&store, "pc-1").await;
    let id = file_ticket(&store, &agent, NOW).await;
    store
        .update_ticket(id, |t: &Ticket| {
            workflow::comment(t, "bob", "on my way", NOW)
        })
        .await
        .unwrap();
    store
        .update_ticket(id, |t: &Ticket| {
            workflow::note(t, "bob", "the user is rude", NOW)
        })
        .await
        .unwrap();
    store
        .update_ticket(id, |t: &Ticket| {
            workflow::change_status(t, StatusAction::Resolve, "bob", None, NOW)
        })
        .await
        .unwrap();
    // Two relays on one store plan at the same time: the cursor row
    // orders them and the derived ids make a repeat a no-op.
    let (a, b) = tokio::join!(enqueue_all(&store, false), enqueue_all(&store, false));
    assert_eq!(a + b, store.newest_feed_seq().await.unwrap() as usize);
    let deliveries = store.deliveries_to(&all.id).await.unwrap();
    let mut events: Vec<NotifyEvent> = deliveries.iter().map(|d| d.event).collect();
    events.sort();
    // The internal note made nothing.
    assert_eq!(
        events,
        vec![
            NotifyEvent::New,
            NotifyEvent::Commented,
            NotifyEvent::Status,
            NotifyEvent::Resolved
        ]
    );
    assert!(deliveries
        .iter()
        .all(|d| d.state == "pending" && d.attempts == 0));
    assert_eq!(
        enqueue_all(&store, false).await,
        0,
        "the cursor moved past them"
    );
    let listed = store.webhooks().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].pending, 4);
    assert!(listed[0].has_secret);
}

store_test!(a_claim_is_leased_then_retried_then_abandoned_and_stays_visible);
async fn a_claim_is_leased_then_retried_then_abandoned_and_stays_visible(store: Store) {
    let h = hook(&[NotifyEvent::New]);
    store.add_webhook(&h, "admin").await.unwrap();
    let agent = enrolled_agent(&store, "pc-1").await;
    file_ticket(&store, &agent, NOW).await;
    enqueue_all(&store, false).await;
    let lease = Timestamp(NOW.0 + 60_000);
    let claimed = store.claim_deliveries(NOW, lease, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let d = &claimed[0];
    assert_eq!((d.channel, d.attempts), (Channel::Webhook, 1));
    assert_eq!(
        d.webhook,
        Some((h.url.clone(), h.secret.clone())),
        "the sender gets the URL and secret"
    );
    // Another relay finds nothing while the lease runs …
    assert!(store
        .claim_deliveries(NOW, lease, 10)
        .await
        .unwrap()
        .is_empty());
    // … and takes it over once it ran out (the first relay died).
    let again = store
        .claim_deliveries(lease, Timestamp(lease.0 + 1), 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, d.id, "the same delivery, the same id");
    assert_eq!(again[0].attempts, 2);
    let retry_at = Timestamp(lease.0 + 5_000);
    store
        .settle_delivery(
            &d.id,
            &Outcome::Retry {
                at: retry_at,
                error: "HTTP 500".into(),
            },
            lease,
        )
        .await
        .unwrap();
    assert!(store
        .claim_deliveries(
            Timestamp(retry_at.0 - 1),
            Timestamp(retry_at.0 + 60_000),
            10
        )
        .await
        .unwrap()
        .is_empty());
    let third = store
        .claim_deliveries(retry_at, Timestamp(retry_at.0 + 60_000), 10)
        .await
        .unwrap();
    assert_eq!(third.len(), 1);
    store
        .settle_delivery(
            &d.id,
            &Outcome::Abandon {
                error: "gave up after 3 attempts: HTTP 500".into(),
            },
            retry_at,
        )
        .await
        .unwrap();
    assert!(store
        .claim_deliveries(Timestamp(i64::MAX / 2), Timestamp(i64::MAX / 2), 10)
        .await
        .unwrap()
        .is_empty());
    let listed = store.webhooks().await.unwrap();
    assert_eq!((listed[0].pending, listed[0].abandoned), (0, 1));
    assert_eq!(
        listed[0].last_error.as_deref(),
        Some("gave up after 3 attempts: HTTP 500")
    );
}

store_test!(webhooks_are_bounded_found_by_prefix_and_removed_with_what_was_pending);
async fn webhooks_are_bounded_found_by_prefix_and_removed_with_what_was_pending(store: Store) {
    let mut ids = Vec::new();
    for _ in 0..MAX_WEBHOOKS {
        let h = hook(&[NotifyEvent::New]);
        store.add_webhook(&h, "admin").await.unwrap();
        ids.push(h.id);
    }
    let (kind, message) =
        refused_kind(store.add_webhook(&hook(&[NotifyEvent::New]), "admin").await);
    assert_eq!(kind, ErrorKind::Conflict);
    assert!(message.contains("remove one first"), "{message}");
    assert_eq!(store.webhooks().await.unwrap().len(), MAX_WEBHOOKS);

    let first = &ids[0];
    assert_eq!(&store.find_webhook(&first[..13]).await.unwrap().id, first);
    assert_eq!(
        &store.find_webhook(&first.to_uppercase()).await.unwrap().id,
        first
    );
    assert_eq!(
        refused_kind(store.find_webhook("%").await).0,
        ErrorKind::NotFound
    );
    assert_eq!(
        refused_kind(store.find_webhook("").await).0,
        ErrorKind::NotFound
    );

    let agent = enrolled_agent(&store, "pc-1").await;
    file_ticket(&store, &agent, NOW).await;
    enqueue_all(&store, false).await;
    store.remove_webhook(first, NOW).await.unwrap();
    let left = store.deliveries_to(first).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].state, "abandoned");
    assert_eq!(
        refused_kind(store.find_webhook(first).await).0,
        ErrorKind::NotFound
    );
    assert_eq!(store.webhooks().await.unwrap().len(), MAX_WEBHOOKS - 1);
    // There is room again.
    store
        .add_webhook(&hook(&[NotifyEvent::New]), "admin")
        .await
        .unwrap();
}

store_test!(mail_goes_to_assignee_tier_queue_and_followers_for_their_events);
async fn mail_goes_to_assignee_tier_queue_and_followers_for_their_events(store: Store) {
    for name in ["bob", "dave", "carol"] {
        technician(&store, name).await;
    }
    let mailbox = |address: &str, events: &[NotifyEvent]| Mailbox {
        address: address.into(),
        events: events.to_vec(),
    };
    store
        .set_technician_email(
            "bob",
            Some(&mailbox(
                "bob@example.com",
                &[NotifyEvent::Assigned, NotifyEvent::Commented],
            )),
        )
        .await
        .unwrap();
    store
        .set_technician_email(
            "dave",
            Some(&mailbox("dave@example.com", &[NotifyEvent::Commented])),
        )
        .await
        .unwrap();
    assert_eq!(
        refused_kind(store.set_technician_email("nobody", None).await).0,
        ErrorKind::NotFound
    );
    store
        .set_tier_email(
            Tier::L1,
            Some(&mailbox("l1@example.com", &[NotifyEvent::New])),
        )
        .await
        .unwrap();
    store
        .set_tier_email(
            Tier::L2,
            Some(&mailbox("l2@example.com", &[NotifyEvent::New])),
        )
        .await
        .unwrap();
    let agent = enrolled_agent(&store, "pc-1").await;
    let id = file_ticket(&store, &agent, NOW).await;
    assert!(store.follow_ticket(id, "dave", true, NOW).await.unwrap());
    assert!(
        !store.follow_ticket(id, "dave", true, NOW).await.unwrap(),
        "once"
    );
    assert!(store.follow_ticket(id, "carol", true, NOW).await.unwrap());
    assert!(store.follow_ticket(id, "carol", false, NOW).await.unwrap());
    let missing = TicketId::new_random();
    assert_eq!(
        refused_kind(store.follow_ticket(missing, "dave", true, NOW).await).0,
        ErrorKind::NotFound
    );
    store
        .update_ticket(id, |t: &Ticket| workflow::assign(t, "bob", "carol", NOW))
        .await
        .unwrap();
    store
        .update_ticket(id, |t: &Ticket| {
            workflow::comment(t, "carol", "looking", NOW)
        })
        .await
        .unwrap();
    let mut seen: Vec<Targets> = Vec::new();
    store
        .enqueue_notifications(MAX_FEED_BATCH, NOW, |e, t| {
            seen.push(t.clone());
            plan::plan(e, t, true, NOW)
        })
        .await
        .unwrap();
    assert_eq!(seen[0].watchers, vec!["dave".to_string()]);
    // Filed in L1: only L1's queue hears of the new ticket.
    assert_eq!(
        store.deliveries_to("l1@example.com").await.unwrap().len(),
        1
    );
    assert!(store
        .deliveries_to("l2@example.com")
        .await
        .unwrap()
        .is_empty());
    let bob: Vec<NotifyEvent> = store
        .deliveries_to("bob@example.com")
        .await
        .unwrap()
        .iter()
        .map(|d| d.event)
        .collect();
    assert_eq!(bob, vec![NotifyEvent::Assigned, NotifyEvent::Commented]);
    let dave = store.deliveries_to("dave@example.com").await.unwrap();
    assert_eq!(dave.len(), 1);
    assert_eq!(
        (dave[0].event, dave[0].channel),
        (NotifyEvent::Commented, Channel::Email)
    );
    // Clearing an address stops its mail from the next event on.
    store.set_technician_email("dave", None).await.unwrap();
    store
        .update_ticket(id, |t: &Ticket| {
            workflow::comment(t, "carol", "still looking", NOW)
        })
        .await
        .unwrap();
    enqueue_all(&store, true).await;
    assert_eq!(
        store.deliveries_to("dave@example.com").await.unwrap().len(),
        1
    );
    assert_eq!(
        store.deliveries_to("bob@example.com").await.unwrap().len(),
        3
    );
}
