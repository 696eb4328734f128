//! `triage webhooks add|list|remove|test` and `technicians email`,
//! `tiers email`, `tickets follow` through the real CLI.

use triage_e2e::Deployment;
use triage_shared::roles::Role;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_adds_lists_and_removes_webhooks_and_the_secret_is_never_shown() {
    let d = Deployment::start().await;
    let secret = d.dir.path().join("hook.key");
    std::fs::write(&secret, "a-secret-nobody-should-read-again\n").unwrap();
    let added = d
        .admin
        .json(&[
            "webhooks",
            "add",
            "https://hooks.example.com/triage",
            "--events",
            "new,sla_breach",
            "--secret-file",
            secret.to_str().unwrap(),
            "--json",
        ])
        .await;
    let id = added["id"].as_str().unwrap().to_string();
    assert_eq!(added["has_secret"], true);
    assert_eq!(added["events"], serde_json::json!(["new", "sla_breach"]));

    let listed = d.admin.json(&["webhooks", "list", "--json"]).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(listed[0]["url"], "https://hooks.example.com/triage");
    assert_eq!(listed[0]["pending"], 0);
    let table = d.admin.run(&["webhooks", "list"]).await.unwrap();
    assert!(
        table.contains(&id[..8]) && table.contains("new,sla_breach"),
        "{table}"
    );
    for shown in [listed.to_string(), table] {
        assert!(
            !shown.contains("a-secret-nobody"),
            "the secret is never shown: {shown}"
        );
    }

    // A bad scheme is refused before anything is sent.
    let refused = d
        .admin
        .refused(&["webhooks", "add", "ftp://example.com/x", "--events", "new"])
        .await;
    assert!(refused.contains("http:// or https://"), "{refused}");
    // Non-admins may not manage webhooks.
    let l2 = d.technician("lee", &[Role::L1, Role::L2]).await;
    let forbidden = l2.refused(&["webhooks", "list"]).await;
    assert!(forbidden.contains("not allowed"), "{forbidden}");

    // Email addresses: a technician's, a tier queue's; following a ticket.
    d.admin
        .run(&[
            "technicians",
            "email",
            "lee",
            "lee@example.com",
            "--events",
            "assigned",
        ])
        .await
        .unwrap();
    d.admin
        .run(&["tiers", "email", "l2", "l2-queue@example.com"])
        .await
        .unwrap();
    let bad = d
        .admin
        .refused(&["tiers", "email", "l2", "not-an-address"])
        .await;
    assert!(bad.contains("not an email address"), "{bad}");
    d.admin
        .run(&["tiers", "email", "l2", "none"])
        .await
        .unwrap();

    let removed = d
        .admin
        .run(&["webhooks", "remove", &id[..8]])
        .await
        .unwrap();
    assert!(removed.contains("removed"), "{removed}");
    let listed = d.admin.json(&["webhooks", "list", "--json"]).await;
    assert_eq!(listed, serde_json::json!([]));
    let gone = d.admin.refused(&["webhooks", "test", &id[..8]]).await;
    assert!(gone.contains("no webhook"), "{gone}");
}
