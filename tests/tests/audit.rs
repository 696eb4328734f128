//! The audit log from the technician's side: each CLI remembers the newest
//! entry it saw, so a relay that cuts the end off its log (or rewrites it)
//! is caught by `triage audit verify`; `triage audit export` writes every
//! entry as JSON lines.

use std::time::Duration;
use triage_e2e::{CliError, Deployment};
use triage_shared::audit::AuditEntry;

/// What an attacker holding the relay host does: removes the newest
/// `n` entries straight from the relay's SQLite database.
async fn delete_newest_entries(d: &Deployment, n: i64) -> (u64, u64) {
    let db = d.dir.path().join("relay").join("relay.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let (max,): (i64,) = sqlx::query_as("SELECT MAX(seq) FROM audit_log")
        .fetch_one(&pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM audit_log WHERE seq > $1")
        .bind(max - n)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    (max as u64, (max - n) as u64)
}

fn remembered_seq(d: &Deployment) -> u64 {
    let text = std::fs::read_to_string(d.admin.home.join("audit-head")).unwrap();
    let head: serde_json::Value = serde_json::from_str(&text).unwrap();
    head["seq"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_tail_fails_verification_naming_the_entry_last_seen() {
    let d = Deployment::start().await;
    d.enroll_agent("pc-1").await;
    let first = d.admin.run(&["audit", "verify"]).await.unwrap();
    assert!(first.starts_with("audit log intact"), "{first}");
    let seen = remembered_seq(&d);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d.admin.home.join("audit-head"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // More happens; an intact chain that grew still verifies, and the
    // listing moves the remembered head on.
    for _ in 0..3 {
        d.relay()
            .create_token(1, Duration::from_secs(60))
            .await
            .unwrap();
    }
    let again = d.admin.run(&["audit", "verify"]).await.unwrap();
    assert!(again.starts_with("audit log intact"), "{again}");
    d.admin.run(&["audit", "--limit", "5"]).await.unwrap();
    let newest = remembered_seq(&d);
    assert!(newest > seen + 3, "{newest} after {seen}");

    // The attacker removes the newest entries; the chain left is intact by
    // itself, so only the remembered head shows what happened.
    let (max, kept) = delete_newest_entries(&d, 4).await;
    assert_eq!(max, newest);
    assert!(d.relay().verify_audit().await.is_ok());
    for _ in 0..2 {
        let err = d.admin.run(&["audit", "verify"]).await.unwrap_err();
        assert!(
            matches!(err, CliError::AuditRewound { seq, .. } if seq == newest),
            "{err}"
        );
        let text = err.to_string();
        assert!(text.contains(&format!("entry {newest} had hash")), "{text}");
        // The relay now ends a little after what was kept: this run's own
        // login is appended before the log is read.
        assert!(text.contains("the relay's log now ends at entry"), "{text}");
        assert!(text.contains("cut off its end or rewritten"), "{text}");
        // A failed check leaves the remembered head as it was.
        assert_eq!(remembered_seq(&d), newest);
    }
    assert!(kept < newest);
    // The listing reports it too.
    let err = d.admin.run(&["audit"]).await.unwrap_err();
    assert!(matches!(err, CliError::AuditRewound { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tail_replaced_by_new_entries_is_caught_as_rewritten() {
    let d = Deployment::start().await;
    d.admin.run(&["audit", "verify"]).await.unwrap();
    let seen = remembered_seq(&d);
    // Removing only the newest entry lets the next login take its seq with
    // another hash: the log is as long as before, but not the same.
    delete_newest_entries(&d, 1).await;
    let err = d.admin.run(&["audit", "verify"]).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&format!("the relay's entry {seen} now has hash")),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_writes_every_entry_as_one_json_line() {
    let d = Deployment::start().await;
    d.enroll_agent("pc-1").await;
    d.enroll_agent("pc-2").await;
    let file = d.dir.path().join("audit.jsonl");
    let path = file.display().to_string();
    let printed = d
        .admin
        .run(&["audit", "export", "--since", "1h", "-o", &path])
        .await
        .unwrap();
    assert!(printed.is_empty(), "{printed}");
    let stored = d
        .relay()
        .store()
        .audit_entries(0, None, 100_000)
        .await
        .unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<AuditEntry> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines, stored);
    assert!(lines.iter().any(|e| e.action == "enroll"));
    assert!(!d.dir.path().join("audit.jsonl.partial").exists());
    // To stdout too, every entry from the first, in order.
    let out = d.admin.run(&["audit", "export"]).await.unwrap();
    let seqs: Vec<u64> = out
        .lines()
        .map(|l| serde_json::from_str::<AuditEntry>(l).unwrap().seq)
        .collect();
    assert_eq!(seqs, (1..=stored.len() as u64 + 1).collect::<Vec<_>>());
}
