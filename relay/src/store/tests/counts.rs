//! The counts a `/metrics` scrape reads.

use super::*;

store_test!(counts_group_tickets_by_status_and_tier_and_skip_removed_agents);
async fn counts_group_tickets_by_status_and_tier_and_skip_removed_agents(store: Store) {
    assert_eq!(
        store.metric_counts().await.unwrap(),
        crate::metrics::StoreCounts::default()
    );
    let pc1 = enrolled_agent(&store, "pc-1").await;
    let pc2 = enrolled_agent(&store, "pc-2").await;
    file_ticket(&store, &pc1, NOW).await;
    file_ticket(&store, &pc1, NOW).await;
    let moved = file_ticket(&store, &pc2, NOW).await;
    sqlx::query("UPDATE tickets SET status = 'in_progress', tier = 'l2' WHERE id = $1")
        .bind(moved.to_string())
        .execute(&store.pool)
        .await
        .unwrap();
    store.remove_agent(pc2.id, NOW).await.unwrap();

    let mut counts = store.metric_counts().await.unwrap();
    counts
        .tickets
        .sort_by_key(|(s, t, _)| (s.as_str(), t.as_str()));
    assert_eq!(counts.agents_enrolled, 1, "a removed agent is not counted");
    assert_eq!(
        counts.tickets,
        [
            (Status::InProgress, Tier::L2, 1),
            (Status::Open, Tier::L1, 2)
        ]
    );
}
