//! Live diagnostics on an online endpoint, through the relay.

use std::time::{Duration, Instant};
use triage_e2e::{eventually, Deployment};
use triage_shared::roles::Role;
use triage_shared::ticket::{Category, Priority};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diag_returns_a_fresh_snapshot_and_can_attach_it_to_a_ticket() {
    let d = Deployment::start().await;
    let mut agent = d.enroll_agent("workstation").await;
    agent.start_daemon();
    let relay = d.relay();
    assert!(
        eventually(Duration::from_secs(10), || async {
            relay.is_agent_online(agent.id)
        })
        .await
    );

    // L1 may run diagnostics.
    let lina = d.technician("lina", &[Role::L1]).await;
    let id = agent.id.to_string();
    let report = lina
        .json(&["diag", &id, "--json", "--section", "os,services"])
        .await;
    let hostname = sysinfo::System::host_name().unwrap_or_default();
    assert_eq!(report["snapshot"]["os"]["hostname"], hostname.as_str());

    let human = lina
        .run(&["diag", &id[..8], "--section", "os,memory"])
        .await
        .unwrap();
    assert!(human.contains(&hostname), "{human}");

    let ticket = triage_agent::file_ticket(
        &agent.state_dir,
        triage_agent::HelpRequest {
            title: "Slow machine".into(),
            description: String::new(),
            category: Category::Hardware,
            priority: Priority::Normal,
            requester: "frank".into(),
            screenshot: None,
        },
    )
    .await
    .unwrap()
    .to_string();
    lina.run(&["diag", &id, "--attach", &ticket]).await.unwrap();
    let detail = d.admin.json(&["tickets", "show", &ticket, "--json"]).await;
    let attached = detail["attached_diagnostics"].as_array().unwrap();
    assert_eq!(attached.len(), 1);
    assert_eq!(attached[0]["taken_by"], "lina");

    // An unknown agent and an offline agent are refused at once.
    let unknown = triage_shared::AgentId::new_random().to_string();
    let err = lina.refused(&["diag", &unknown]).await;
    assert!(
        err.contains(&unknown[..8]) || err.contains("no agent"),
        "{err}"
    );
    agent.stop_daemon().await;
    assert!(
        eventually(Duration::from_secs(30), || async {
            !relay.is_agent_online(agent.id)
        })
        .await
    );
    let started = Instant::now();
    let err = lina.refused(&["diag", &id]).await;
    assert!(err.contains("offline"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "offline agent took {:?} to refuse",
        started.elapsed()
    );
}
