//! The agent daemon rides out a relay restart, and the relay keeps its
//! identity and data across one.

use std::time::Duration;
use triage_e2e::{eventually, Deployment};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_reconnects_after_the_relay_restarts_with_the_same_identity() {
    let mut d = Deployment::start().await;
    let fingerprint = d.relay().locator().fingerprint;
    let mut agent = d.enroll_agent("kiosk").await;
    agent.start_daemon();

    let is_online = |d: &Deployment| {
        let admin = d.admin.clone();
        let id = agent.id.to_string();
        move || {
            let admin = admin.clone();
            let id = id.clone();
            async move {
                match admin.run(&["agents", "list", "--json"]).await {
                    Ok(out) => {
                        let agents: serde_json::Value = serde_json::from_str(&out).unwrap();
                        agents
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|a| a["id"] == id.as_str() && a["online"] == true)
                    }
                    Err(_) => false,
                }
            }
        }
    };
    assert!(
        eventually(Duration::from_secs(10), is_online(&d)).await,
        "agent never came online"
    );

    let addr = d.stop_relay().await;
    d.restart_relay(addr).await;
    assert_eq!(
        d.relay().locator().fingerprint,
        fingerprint,
        "relay identity changed across restart"
    );
    // Backoff starts at half a second and the daemon notices a lost
    // connection within the idle timeout, so this comes well within a minute.
    assert!(
        eventually(Duration::from_secs(60), is_online(&d)).await,
        "agent did not reconnect"
    );

    // The agent's enrollment and the technician's registration survived.
    let id = triage_agent::file_ticket(
        &agent.state_dir,
        triage_agent::HelpRequest {
            title: "Screen flickers".into(),
            description: String::new(),
            category: triage_shared::ticket::Category::Hardware,
            priority: triage_shared::ticket::Priority::Low,
            requester: "erin".into(),
            screenshot: None,
        },
    )
    .await
    .expect("ticket filed after restart");
    let show = d
        .admin
        .json(&["tickets", "show", &id.to_string(), "--json"])
        .await;
    assert_eq!(show["ticket"]["title"], "Screen flickers");
    agent.stop_daemon().await;
}
