//! Revocation through the technician CLI's entry point: a removed
//! technician's next command fails saying so, a revoked token no longer
//! enrolls an endpoint, and a removed agent leaves `agents list`.

use triage_e2e::Deployment;
use triage_shared::roles::Role;
use triage_shared::token::EnrollmentToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_technician_can_no_longer_list_tickets() {
    let d = Deployment::start().await;
    let bob = d.technician("bob", &[Role::L1]).await;
    bob.run(&["tickets", "list"])
        .await
        .expect("bob works tickets");
    let out = d
        .admin
        .run(&["technicians", "remove", "bob"])
        .await
        .unwrap();
    assert!(out.contains("Technician bob removed"), "{out}");
    let err = bob.refused(&["tickets", "list"]).await;
    assert!(err.contains("technician bob was removed"), "{err}");
    let listed = d.admin.json(&["technicians", "list", "--json"]).await;
    let names: Vec<_> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["admin"]);
    let err = d.admin.refused(&["technicians", "remove", "admin"]).await;
    assert!(err.contains("would leave no admin"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_no_longer_enrolls_an_endpoint() {
    let d = Deployment::start().await;
    let issued = d
        .admin
        .json(&["tokens", "create", "--uses", "2", "--json"])
        .await;
    let id = issued["id"].as_str().unwrap().to_string();
    let token: EnrollmentToken = issued["token"].as_str().unwrap().parse().unwrap();
    let listed = d.admin.json(&["tokens", "list", "--json"]).await;
    let row = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == id.as_str())
        .expect("the new token is listed by its id");
    assert_eq!(row["uses_left"], 2);
    assert_eq!(row["revoked_at"], serde_json::Value::Null);
    let out = d.admin.run(&["tokens", "revoke", &id[..8]]).await.unwrap();
    assert!(out.contains("revoked"), "{out}");
    let err = triage_agent::enroll(&d.dir.path().join("agent-late"), &token)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("revoked"), "{err}");
    let listed = d.admin.json(&["tokens", "list", "--json"]).await;
    assert!(listed[0]["revoked_at"].is_number(), "{listed}");
    assert_eq!(listed[0]["revoked_by"], "technician:admin");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_agent_leaves_the_list() {
    let d = Deployment::start().await;
    let agent = d.enroll_agent("pc").await;
    let id = agent.id.to_string();
    let out = d.admin.run(&["agents", "remove", &id[..8]]).await.unwrap();
    assert!(out.contains("removed") && out.contains(&id), "{out}");
    let listed = d.admin.json(&["agents", "list", "--json"]).await;
    assert_eq!(listed, serde_json::json!([]));
    let err = d.admin.refused(&["agents", "remove", &id]).await;
    assert!(err.contains("no agent"), "{err}");
}
