//! Log pull records and ticket attachments.

use super::*;
use crate::store::TransferRecord;
use triage_shared::transfer::{AttachmentId, AttachmentKind, AttachmentSummary, ContentDigest};

async fn transfers_are_recorded_newest_first(store: Store) {
    let agent = enrolled_agent(&store, "pc-1").await;
    for (i, result) in ["ok", "failed: agent disconnected"].iter().enumerate() {
        store
            .record_transfer(&TransferRecord {
                id: uuid::Uuid::new_v4(),
                kind: "log".into(),
                technician: "lina".into(),
                agent_id: agent.id,
                path: "/var/log/syslog".into(),
                started_at: Timestamp(NOW.0 + i as i64),
                duration_ms: 5,
                bytes: u64::MAX,
                sha256: (i == 0).then(|| ContentDigest::of(b"x")),
                result: result.to_string(),
                ticket_id: None,
            })
            .await
            .unwrap();
    }
    let all = store.transfers(10).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].result, "failed: agent disconnected");
    assert_eq!(all[0].sha256, None);
    assert_eq!(all[1].sha256, Some(ContentDigest::of(b"x")));
    assert_eq!(all[1].bytes, i64::MAX as u64, "saturated, not wrapped");
    assert_eq!(store.transfers(1).await.unwrap().len(), 1);
}
store_test!(transfers_are_recorded_newest_first);

async fn attachments_keep_their_exact_bytes_and_show_on_the_ticket(store: Store) {
    let agent = enrolled_agent(&store, "pc-1").await;
    let ticket = file_ticket(&store, &agent, NOW).await;
    let content = vec![0u8, 255, 10, 13];
    let a = AttachmentSummary {
        id: AttachmentId::new_random(),
        ticket_id: ticket,
        kind: AttachmentKind::Log,
        name: "/var/log/syslog".into(),
        agent_id: agent.id,
        taken_by: "lina".into(),
        taken_at: NOW,
        bytes: content.len() as u64,
        sha256: ContentDigest::of(&content),
    };
    store.attach_file(&a, &content).await.unwrap();
    assert_eq!(
        store.attachments(ticket, 10).await.unwrap(),
        std::slice::from_ref(&a)
    );
    assert_eq!(
        store.attachment(ticket, a.id).await.unwrap(),
        Some((a.clone(), content))
    );
    let other = TicketId::new_random();
    assert_eq!(store.attachment(other, a.id).await.unwrap(), None);
    let detail = store.ticket_detail(ticket).await.unwrap().unwrap();
    assert_eq!(detail.attachments, [a]);
}
store_test!(attachments_keep_their_exact_bytes_and_show_on_the_ticket);
