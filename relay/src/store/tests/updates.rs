//! Agents' updates to their own tickets: once per id, owner only.

use super::*;
use triage_shared::agent_update::AgentUpdate;
use triage_shared::ids::UpdateId;

fn health_ticket() -> NewTicket {
    NewTicket {
        source: Source::HealthAlert,
        ..submission()
    }
}

async fn filed(store: &Store, agent: &AgentRecord) -> TicketId {
    let (ticket, event) = workflow::new_ticket_from_agent(&health_ticket(), agent, NOW).unwrap();
    assert!(store.create_ticket(&ticket, &event, None).await.unwrap());
    ticket.id
}

store_test!(a_redelivered_update_is_applied_once);
async fn a_redelivered_update_is_applied_once(store: Store) {
    let agent = enrolled_agent(&store, "pc-1").await;
    let ticket = filed(&store, &agent).await;
    let id = UpdateId::new_random();
    let update = AgentUpdate::Comment("Disk /var is at 97%".into());
    let at = Timestamp(NOW.0 + 1);
    assert!(store
        .apply_agent_update(agent.id, "agent:pc-1", id, ticket, &update, at)
        .await
        .unwrap());
    for _ in 0..3 {
        assert!(!store
            .apply_agent_update(agent.id, "agent:pc-1", id, ticket, &update, at)
            .await
            .unwrap());
    }
    let detail = store.ticket_detail(ticket).await.unwrap().unwrap();
    assert_eq!(detail.comments.len(), 1, "{:?}", detail.comments);
    assert_eq!(detail.comments[0].text, "Disk /var is at 97%");
    // A different update with the same text is a new comment.
    store
        .apply_agent_update(
            agent.id,
            "agent:pc-1",
            UpdateId::new_random(),
            ticket,
            &update,
            at,
        )
        .await
        .unwrap();
    let detail = store.ticket_detail(ticket).await.unwrap().unwrap();
    assert_eq!(detail.comments.len(), 2);
}

store_test!(a_resolve_update_resolves_once_with_its_note);
async fn a_resolve_update_resolves_once_with_its_note(store: Store) {
    let agent = enrolled_agent(&store, "pc-1").await;
    let ticket = filed(&store, &agent).await;
    let id = UpdateId::new_random();
    let update = AgentUpdate::Resolve("cleared: /var is at 70%".into());
    for _ in 0..2 {
        store
            .apply_agent_update(agent.id, "agent:pc-1", id, ticket, &update, NOW)
            .await
            .unwrap();
    }
    let detail = store.ticket_detail(ticket).await.unwrap().unwrap();
    assert_eq!(detail.ticket.status, Status::Resolved);
    let changes = detail
        .events
        .iter()
        .filter(|e| matches!(e.event, TicketEventKind::StatusChanged { .. }))
        .count();
    assert_eq!(changes, 1);
    assert_eq!(detail.comments.len(), 1);
}

store_test!(an_agent_cannot_update_another_agents_ticket);
async fn an_agent_cannot_update_another_agents_ticket(store: Store) {
    let owner = enrolled_agent(&store, "pc-1").await;
    let intruder = enrolled_agent(&store, "pc-2").await;
    let ticket = filed(&store, &owner).await;
    let id = UpdateId::new_random();
    for update in [
        AgentUpdate::Comment("mine now".into()),
        AgentUpdate::Resolve("closed by someone else".into()),
    ] {
        let (kind, message) = refused_kind(
            store
                .apply_agent_update(intruder.id, "agent:pc-2", id, ticket, &update, NOW)
                .await,
        );
        assert_eq!(kind, ErrorKind::Forbidden, "{message}");
    }
    let detail = store.ticket_detail(ticket).await.unwrap().unwrap();
    assert!(detail.comments.is_empty());
    assert_eq!(detail.ticket.status, Status::Open);
    // The refused id left no trace: the owner may still use it.
    assert!(store
        .apply_agent_update(
            owner.id,
            "agent:pc-1",
            id,
            ticket,
            &AgentUpdate::Comment("ok".into()),
            NOW
        )
        .await
        .unwrap());
}

store_test!(updates_to_missing_tickets_and_reused_ids_are_refused);
async fn updates_to_missing_tickets_and_reused_ids_are_refused(store: Store) {
    let agent = enrolled_agent(&store, "pc-1").await;
    let update = AgentUpdate::Comment("x".into());
    let (kind, _) = refused_kind(
        store
            .apply_agent_update(
                agent.id,
                "a",
                UpdateId::new_random(),
                TicketId::new_random(),
                &update,
                NOW,
            )
            .await,
    );
    assert_eq!(kind, ErrorKind::NotFound);
    let first = filed(&store, &agent).await;
    let second = filed(&store, &agent).await;
    let id = UpdateId::new_random();
    store
        .apply_agent_update(agent.id, "a", id, first, &update, NOW)
        .await
        .unwrap();
    let (kind, _) = refused_kind(
        store
            .apply_agent_update(agent.id, "a", id, second, &update, NOW)
            .await,
    );
    assert_eq!(kind, ErrorKind::Conflict);
    let blank = AgentUpdate::Comment(String::new());
    let (kind, _) = refused_kind(
        store
            .apply_agent_update(agent.id, "a", UpdateId::new_random(), first, &blank, NOW)
            .await,
    );
    assert_eq!(kind, ErrorKind::InvalidInput);
}
