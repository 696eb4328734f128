//! The audit log: appends chain, concurrent appends stay one chain, and
//! listing pages by sequence and time.

use super::*;
use triage_shared::audit::{verify_chain, AuditEntry};

fn entry(action: &str, at: Timestamp) -> AuditEntry {
    AuditEntry {
        seq: 0,
        at,
        actor: "technician:carol".into(),
        action: action.into(),
        target: "script:1".into(),
        outcome: "ok".into(),
        details: "{}".into(),
        prev_hash: String::new(),
        hash: String::new(),
    }
}

store_test!(appended_entries_form_a_chain_and_list_by_seq_and_time);
async fn appended_entries_form_a_chain_and_list_by_seq_and_time(store: Store) {
    for i in 0..5 {
        let stored = store
            .append_audit(entry(&format!("act{i}"), Timestamp(NOW.0 + i)))
            .await
            .unwrap();
        assert_eq!(stored.seq, i as u64 + 1);
    }
    let all = store.audit_entries(0, None, 100).await.unwrap();
    assert_eq!(all.len(), 5);
    assert_eq!(verify_chain(&all), Ok(()));
    let after = store.audit_entries(2, None, 100).await.unwrap();
    assert_eq!(after.iter().map(|e| e.seq).collect::<Vec<_>>(), [3, 4, 5]);
    let since = store
        .audit_entries(0, Some(Timestamp(NOW.0 + 3)), 100)
        .await
        .unwrap();
    assert_eq!(since.iter().map(|e| e.seq).collect::<Vec<_>>(), [4, 5]);
    assert_eq!(store.audit_entries(0, None, 2).await.unwrap().len(), 2);
    assert_eq!(crate::audit::verify(&store).await.unwrap(), 5);
}

store_test!(concurrent_appends_stay_one_chain);
async fn concurrent_appends_stay_one_chain(store: Store) {
    const WRITERS: usize = 16;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..WRITERS {
        let store = store.clone();
        tasks.spawn(async move {
            store
                .append_audit(entry(&format!("writer{i}"), NOW))
                .await
                .unwrap()
        });
    }
    let mut seqs = Vec::new();
    while let Some(done) = tasks.join_next().await {
        seqs.push(done.unwrap().seq);
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=WRITERS as u64).collect::<Vec<_>>());
    let all = store.audit_entries(0, None, 100).await.unwrap();
    assert_eq!(verify_chain(&all), Ok(()));
    assert_eq!(crate::audit::verify(&store).await.unwrap(), WRITERS as u64);
}

store_test!(a_tampered_row_is_named_by_verify);
async fn a_tampered_row_is_named_by_verify(store: Store) {
    for i in 0..4 {
        store
            .append_audit(entry(&format!("act{i}"), NOW))
            .await
            .unwrap();
    }
    // No code path edits the log; an attacker with the database does.
    sqlx::query("UPDATE audit_log SET outcome = 'ok (nothing happened)' WHERE seq = 3")
        .execute(&store.pool)
        .await
        .unwrap();
    match crate::audit::verify(&store).await {
        Err(crate::audit::VerifyError::Broken(b)) => assert_eq!(b.seq, 3),
        other => panic!("expected a broken chain, got {other:?}"),
    }
}
