//! Tickets: creation, history and listing.

use super::*;
use triage_shared::ticket::Ticket;

store_test!(ticket_create_is_idempotent_for_its_creator);
async fn ticket_create_is_idempotent_for_its_creator(store: Store) {
    let agent = enrolled_agent(&store, "pc-1").await;
    let (ticket, event) = workflow::new_ticket_from_agent(&submission(), &agent, NOW).unwrap();
    let snapshot = sample_snapshot();
    assert!(store
        .create_ticket(&ticket, &event, Some(&snapshot))
        .await
        .unwrap());
    assert!(!store
        .create_ticket(&ticket, &event, Some(&snapshot))
        .await
        .unwrap());
    assert_eq!(store.list_tickets(None, 100).await.unwrap().len(), 1);
    let detail = store.ticket_detail(ticket.id).await.unwrap().unwrap();
    let stored = detail.ticket.clone();
    assert!(stored.sla.is_some(), "clocks computed on filing");
    assert_eq!(
        Ticket {
            sla: None,
            sla_due_at: ticket.sla_due_at,
            ..stored
        },
        ticket
    );
    assert_eq!(detail.events.len(), 1, "a retry must not add history");
    assert_eq!(detail.events[0].event, TicketEventKind::Created);
    assert_eq!(detail.snapshot, Some(snapshot));
}

store_test!(same_ticket_id_from_another_agent_conflicts);
async fn same_ticket_id_from_another_agent_conflicts(store: Store) {
    let first = enrolled_agent(&store, "pc-1").await;
    let second = enrolled_agent(&store, "pc-2").await;
    let new = submission();
    let (ticket, event) = workflow::new_ticket_from_agent(&new, &first, NOW).unwrap();
    assert!(store.create_ticket(&ticket, &event, None).await.unwrap());
    let (theirs, event) = workflow::new_ticket_from_agent(&new, &second, NOW).unwrap();
    let (kind, _) = refused_kind(store.create_ticket(&theirs, &event, None).await);
    assert_eq!(kind, ErrorKind::Conflict);
    let stored = store.ticket(ticket.id).await.unwrap().unwrap();
    assert_eq!(stored.agent_id, Some(first.id));
}

store_test!(transitions_are_persisted_with_their_events);
async fn transitions_are_persisted_with_their_events(store: Store) {
    let agent = enrolled_agent(&store, "pc-1").await;
    let id = file_ticket(&store, &agent, NOW).await;
    let at = |n: i64| Timestamp(NOW.0 + n);
    store
        .update_ticket(id, |t| workflow::assign(t, "bob", "carol", at(1)))
        .await
        .unwrap();
    store
        .update_ticket(id, |t| {
            workflow::escalate(t, "carol", Some("over to L2"), at(2))
        })
        .await
        .unwrap();
    store
        .update_ticket(id, |t| {
            workflow::change_status(t, StatusAction::Resolve, "bob", Some("fixed"), at(3))
        })
        .await
        .unwrap();
    let before = store.ticket_detail(id).await.unwrap().unwrap();
    assert_eq!(before.ticket.status, Status::Resolved);
    assert_eq!(before.ticket.tier, Tier::L2);
    assert_eq!(before.ticket.assignee.as_deref(), Some("bob"));
    assert_eq!(before.ticket.updated_at, at(3));
    let kinds: Vec<_> = before.events.iter().map(|e| e.event.clone()).collect();
    assert_eq!(
        kinds,
        vec![
            TicketEventKind::Created,
            TicketEventKind::Assigned {
                assignee: "bob".into()
            },
            TicketEventKind::StatusChanged {
                from: Status::Open,
                to: Status::InProgress
            },
            TicketEventKind::Escalated {
                from: Tier::L1,
                to: Tier::L2
            },
            TicketEventKind::StatusChanged {
                from: Status::InProgress,
                to: Status::Resolved
            },
        ]
    );
    let texts: Vec<_> = before.comments.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(texts, ["over to L2", "fixed"]);

    // A refused transition changes nothing at all.
    let (kind, _) = refused_kind(
        store
            .update_ticket(id, |t| {
                workflow::change_status(t, StatusAction::Start, "bob", Some("again"), at(4))
            })
            .await,
    );
    assert_eq!(kind, ErrorKind::InvalidTransition);
    assert_eq!(store.ticket_detail(id).await.unwrap().unwrap(), before);
}

store_test!(updating_a_missing_ticket_names_its_id);
async fn updating_a_missing_ticket_names_its_id(store: Store) {
    let id = TicketId::new_random();
    let (kind, message) = refused_kind(
        store
            .update_ticket(id, |t| workflow::comment(t, "bob", "hi", NOW))
            .await,
    );
    assert_eq!(kind, ErrorKind::NotFound);
    assert!(message.contains(&id.to_string()), "{message}");
    assert!(store.ticket_detail(id).await.unwrap().is_none());
}

store_test!(ticket_list_is_newest_first_filtered_and_limited);
async fn ticket_list_is_newest_first_filtered_and_limited(store: Store) {
    let agent = enrolled_agent(&store, "pc-1").await;
    let old = file_ticket(&store, &agent, NOW).await;
    let mid = file_ticket(&store, &agent, Timestamp(NOW.0 + 10)).await;
    let new = file_ticket(&store, &agent, Timestamp(NOW.0 + 20)).await;
    store
        .update_ticket(mid, |t| {
            workflow::change_status(t, StatusAction::Wait, "bob", None, NOW)
        })
        .await
        .unwrap();
    let ids = |tickets: Vec<triage_shared::ticket::Ticket>| {
        tickets.into_iter().map(|t| t.id).collect::<Vec<_>>()
    };
    assert_eq!(
        ids(store.list_tickets(None, 100).await.unwrap()),
        vec![new, mid, old]
    );
    assert_eq!(
        ids(store.list_tickets(None, 2).await.unwrap()),
        vec![new, mid]
    );
    assert_eq!(
        ids(store.list_tickets(Some(Status::Open), 100).await.unwrap()),
        vec![new, old]
    );
    assert_eq!(
        ids(store
            .list_tickets(Some(Status::Waiting), 100)
            .await
            .unwrap()),
        vec![mid]
    );
}
