//! SLA clocks in the store: computed on every write, crossings recorded
//! once however many sweepers race, the breach action applied.

use super::*;
use crate::store::sla::SLA_ACTOR;
use triage_shared::queue::{FilterContext, TicketFilter, TicketSort};
use triage_shared::sla::{ClockState, SlaPolicy};
use triage_shared::ticket::SlaClock;

const MIN_MS: i64 = 60_000;

fn at(minutes: i64) -> Timestamp {
    Timestamp(NOW.0 + minutes * MIN_MS)
}

/// Urgent: respond in 10 minutes, resolve in 30; escalate and hand back
/// to the queue on a breach.
fn tight_policy() -> SlaPolicy {
    SlaPolicy::parse(
        r#"
[targets.urgent]
first_response = "10m"
resolution = "30m"
[breach]
escalate = true
return_to_queue = true
"#,
    )
    .unwrap()
}

async fn history_of(store: &Store, id: TicketId) -> Vec<TicketEvent> {
    store.ticket_detail(id).await.unwrap().unwrap().events
}

fn sla_events(events: &[TicketEvent]) -> Vec<(SlaClock, &'static str)> {
    events
        .iter()
        .filter_map(|e| match e.event {
            TicketEventKind::SlaWarning { clock, .. } => Some((clock, "warning")),
            TicketEventKind::SlaBreached { clock, .. } => Some((clock, "breach")),
            _ => None,
        })
        .collect()
}

store_test!(every_write_keeps_the_clocks_and_the_breaching_filter_reads_them);
async fn every_write_keeps_the_clocks_and_the_breaching_filter_reads_them(store: Store) {
    store.set_sla_policy(tight_policy());
    let agent = enrolled_agent(&store, "pc-1").await;
    let id = file_ticket(&store, &agent, NOW).await;
    let sla = store
        .ticket_sla(id)
        .await
        .unwrap()
        .expect("computed at filing");
    assert_eq!(sla.first_response.due_at, Some(at(10)));
    assert_eq!(sla.resolution.due_at, Some(at(30)));
    assert_eq!(store.ticket(id).await.unwrap().unwrap().sla_due_at, at(10));

    let breaching = TicketFilter {
        breaching: true,
        ..TicketFilter::default()
    };
    let context = |now| FilterContext {
        caller: "bob".into(),
        agent: None,
        now,
    };
    let listed = |now| {
        let store = store.clone();
        let breaching = breaching.clone();
        async move {
            store
                .list_tickets_page(&breaching, &context(now), TicketSort::Due, None, 50)
                .await
                .unwrap()
                .len()
        }
    };
    // Warned at 80 % of the first response: minute 8.
    assert_eq!(listed(at(7)).await, 0);
    assert_eq!(listed(at(8)).await, 1);

    // Waiting pauses both clocks: no due time, nothing heading for a crossing.
    store
        .update_ticket(id, |t| {
            workflow::change_status(t, StatusAction::Wait, "bob", None, at(5))
        })
        .await
        .unwrap();
    let paused = store.ticket_sla(id).await.unwrap().unwrap();
    assert_eq!(
        paused.first_response.state,
        ClockState::Stopped,
        "bob responded"
    );
    assert_eq!(paused.resolution.state, ClockState::Paused);
    assert_eq!(paused.resolution.left_ms(), 25 * MIN_MS);
    assert_eq!(
        listed(at(60)).await,
        0,
        "a paused clock short of its warning is no concern"
    );
    assert!(store.sla_due(at(600), 10).await.unwrap().is_empty());

    // Back to work at minute 45: 25 minutes left from there.
    let worked = store
        .update_ticket(id, |t| {
            workflow::change_status(t, StatusAction::Start, "bob", None, at(45))
        })
        .await
        .unwrap();
    assert_eq!(worked.sla.unwrap().resolution.due_at, Some(at(70)));
    assert_eq!(
        store.sla_due(at(65), 10).await.unwrap(),
        vec![id],
        "warning at 64"
    );
}

store_test!(crossings_are_recorded_once_with_the_breach_action);
async fn crossings_are_recorded_once_with_the_breach_action(store: Store) {
    store.set_sla_policy(tight_policy());
    let agent = enrolled_agent(&store, "pc-1").await;
    let id = file_ticket(&store, &agent, NOW).await;
    store
        .update_ticket(id, |t| workflow::assign(t, "bob", "carol", at(1)))
        .await
        .unwrap();
    // Nothing is due before the warning point.
    assert!(
        store.sla_due(at(20), 10).await.unwrap().is_empty(),
        "responded at 1"
    );
    let recorded = store.record_sla_crossings(id, at(20)).await.unwrap();
    assert!(recorded.events.is_empty());

    // Past the resolution target, from several sweepers at once.
    assert_eq!(store.sla_due(at(31), 10).await.unwrap(), vec![id]);
    let mut sweepers = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let store = store.clone();
        sweepers.spawn(async move { store.record_sla_crossings(id, at(31)).await.unwrap() });
    }
    let mut recorders = 0;
    while let Some(done) = sweepers.join_next().await {
        if !done.unwrap().events.is_empty() {
            recorders += 1;
        }
    }
    assert_eq!(recorders, 1, "exactly one sweeper records the crossings");
    let events = history_of(&store, id).await;
    assert_eq!(
        sla_events(&events),
        [
            (SlaClock::Resolution, "warning"),
            (SlaClock::Resolution, "breach")
        ]
    );
    assert!(events.iter().any(|e| e.actor == SLA_ACTOR
        && e.event
            == TicketEventKind::Escalated {
                from: Tier::L1,
                to: Tier::L2
            }));
    let ticket = store.ticket(id).await.unwrap().unwrap();
    assert_eq!(ticket.tier, Tier::L2);
    assert_eq!(ticket.assignee, None, "handed back to the L2 queue");
    let detail = store.ticket_detail(id).await.unwrap().unwrap();
    assert!(detail
        .comments
        .iter()
        .any(|c| c.internal && c.text.contains("returned to the l2 queue")));
    // The SLA events are no technician's response and nothing is due now.
    assert!(store.sla_due(at(600), 10).await.unwrap().is_empty());
    assert!(store
        .record_sla_crossings(id, at(90))
        .await
        .unwrap()
        .events
        .is_empty());
    // They reach the live queue too.
    let feed = store.feed_after(0, 256).await.unwrap();
    assert!(feed.iter().any(|e| matches!(
        e.kind,
        triage_shared::queue::QueueEventKind::SlaBreached {
            clock: SlaClock::Resolution
        }
    )));
}

store_test!(a_new_policy_moves_stored_clocks_when_recomputed);
async fn a_new_policy_moves_stored_clocks_when_recomputed(store: Store) {
    let agent = enrolled_agent(&store, "pc-1").await;
    let id = file_ticket(&store, &agent, NOW).await;
    // The defaults: urgent resolves within 4 h.
    let default = store.ticket_sla(id).await.unwrap().unwrap();
    assert_eq!(default.resolution.due_at, Some(at(240)));
    store.set_sla_policy(tight_policy());
    let mut after = None;
    while let Some(last) = store.recompute_sla(after, false, at(1)).await.unwrap() {
        after = Some(last);
    }
    let tight = store.ticket_sla(id).await.unwrap().unwrap();
    assert_eq!(tight.resolution.due_at, Some(at(30)));
}

store_test!(a_priority_change_keeps_the_time_used);
async fn a_priority_change_keeps_the_time_used(store: Store) {
    store.set_sla_policy(tight_policy());
    let agent = enrolled_agent(&store, "pc-1").await;
    let id = file_ticket(&store, &agent, NOW).await;
    let lowered = store
        .update_ticket(id, |t| {
            workflow::set_priority(t, Priority::Low, "bob", Some("not urgent"), at(20))
        })
        .await
        .unwrap();
    assert_eq!(lowered.priority, Priority::Low);
    // Low resolves within 72 h; 20 minutes of it are used.
    let sla = lowered.sla.clone().unwrap();
    assert_eq!(sla.resolution.due_at, Some(at(72 * 60)));
    let again = workflow::set_priority(&lowered, Priority::Low, "bob", None, at(21));
    assert_eq!(again.unwrap_err().kind, ErrorKind::InvalidTransition);
}
