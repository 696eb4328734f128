//! SLA clocks end to end: a policy set through the CLI or by editing
//! `sla.toml`, and an urgent ticket with one-minute targets that is
//! warned about, breached and escalated by the relay on its own.

use serde_json::Value;
use std::time::Duration;
use triage_agent::HelpRequest;
use triage_e2e::{eventually, Deployment};
use triage_shared::roles::Role;
use triage_shared::ticket::{Category, Priority, SlaClock};

const ONE_MINUTE_POLICY: &str = r#"
[targets.urgent]
first_response = "1m"
resolution = "1m"

[breach]
escalate = true
"#;

fn urgent(title: &str) -> HelpRequest {
    HelpRequest {
        title: title.into(),
        description: "The whole floor is down.".into(),
        category: Category::Network,
        priority: Priority::Urgent,
        requester: "alice".into(),
        screenshot: None,
    }
}

/// The history's event names with their clock, oldest first:
/// `sla_warning:resolution`, `escalated`, ...
fn history(detail: &Value) -> Vec<String> {
    detail["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            let event = &e["event"];
            match event.as_object() {
                Some(o) => {
                    let (name, body) = o.iter().next().unwrap();
                    match body["clock"].as_str() {
                        Some(clock) => format!("{name}:{clock}"),
                        None => name.clone(),
                    }
                }
                None => event.as_str().unwrap_or_default().to_string(),
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_urgent_ticket_is_warned_breached_and_escalated_on_time() {
    let d = Deployment::start_with(|c| c.sla_check_every = Duration::from_secs(1)).await;
    let admin = d.admin.clone();
    let policy = d.relay_data_dir().join("policy-draft.toml");
    std::fs::write(&policy, ONE_MINUTE_POLICY).unwrap();
    let set = admin
        .run(&["sla", "set", policy.to_str().unwrap()])
        .await
        .expect("admin sets the policy");
    assert!(set.contains("resolution = \"1m\""), "{set}");

    let agent = d.enroll_agent("floor-3").await;
    let id = triage_agent::file_ticket(&agent.state_dir, urgent("Network down on floor 3"))
        .await
        .expect("ticket filed")
        .to_string();
    let shown = admin.run(&["tickets", "show", &id]).await.unwrap();
    assert!(
        shown.contains("Response   due ") && shown.contains("target 1m"),
        "{shown}"
    );

    // Warned at 80 % (48 s), breached at 60 s, escalated with the breach.
    let escalated = eventually(Duration::from_secs(90), || {
        let admin = admin.clone();
        let id = id.clone();
        async move {
            let detail = admin.json(&["tickets", "show", &id, "--json"]).await;
            history(&detail).iter().any(|e| e == "escalated")
        }
    })
    .await;
    assert!(escalated, "the relay never escalated the breached ticket");
    let detail = admin.json(&["tickets", "show", &id, "--json"]).await;
    let events = history(&detail);
    let place = |name: &str| {
        events
            .iter()
            .position(|e| e == name)
            .unwrap_or_else(|| panic!("no {name} in {events:?}"))
    };
    assert!(place("sla_warning:resolution") < place("sla_breached:resolution"));
    assert!(place("sla_breached:resolution") < place("escalated"));
    assert_eq!(
        events
            .iter()
            .filter(|e| e.starts_with("sla_breached:resolution"))
            .count(),
        1,
        "one breach event: {events:?}"
    );
    assert_eq!(detail["ticket"]["tier"], "l2");
    let actors: Vec<&str> = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"].get("sla_breached").is_some())
        .map(|e| e["actor"].as_str().unwrap())
        .collect();
    assert_eq!(
        actors,
        ["relay:sla", "relay:sla"],
        "both clocks, by the relay"
    );
    // `/metrics` counted them where they were recorded.
    let metrics = d.relay().metrics();
    assert_eq!(metrics.sla(SlaClock::Resolution), (1, 1));
    assert_eq!(metrics.sla(SlaClock::FirstResponse).1, 1);

    // The queue agrees: breaching, late, both clocks shown as breached.
    let breaching = admin
        .json(&["tickets", "list", "--breaching", "--json"])
        .await;
    assert!(breaching
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["id"] == id.as_str()));
    let list = admin.run(&["tickets", "list"]).await.unwrap();
    assert!(list.contains("DUE") && list.contains("late "), "{list}");
    let shown = admin.run(&["tickets", "show", &id]).await.unwrap();
    assert!(shown.contains("SLA breached: resolution"), "{shown}");
    assert!(shown.contains("Resolution BREACHED: was due"), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_file_is_reloaded_and_bad_policies_are_refused() {
    let mut d = Deployment::start_with(|c| c.sla_check_every = Duration::from_secs(1)).await;
    let admin = d.admin.clone();
    let shown = admin.json(&["sla", "show", "--json"]).await;
    assert_eq!(shown["from_file"], false);
    assert!(shown["policy"]
        .as_str()
        .unwrap()
        .contains("resolution = \"4h\""));

    // An edit of sla.toml is put in force by itself.
    let file = d.relay_data_dir().join("sla.toml");
    std::fs::write(&file, "warning_percent = 60\n").unwrap();
    let reloaded = eventually(Duration::from_secs(10), || {
        let admin = admin.clone();
        async move {
            let shown = admin.json(&["sla", "show", "--json"]).await;
            shown["policy"]
                .as_str()
                .unwrap()
                .contains("warning_percent = 60")
        }
    })
    .await;
    assert!(reloaded, "the relay did not pick up the edited sla.toml");

    // A bad edit leaves the policy in force alone.
    std::fs::write(&file, "warning_percent = 600\n").unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let shown = admin.json(&["sla", "show", "--json"]).await;
    assert!(shown["policy"]
        .as_str()
        .unwrap()
        .contains("warning_percent = 60"));

    // `sla set` checks before sending, and the relay checks again.
    let draft = d.relay_data_dir().join("draft.toml");
    std::fs::write(
        &draft,
        "[calendar]\ntime_zone = \"Mars/Olympus\"\nmonday = \"09:00-17:00\"\n",
    )
    .unwrap();
    let err = admin
        .refused(&["sla", "set", draft.to_str().unwrap()])
        .await;
    assert!(
        err.contains("Mars/Olympus") && err.contains("IANA"),
        "{err}"
    );

    // Only an admin may set it; every technician may read it.
    let l1 = d.technician("lina", &[Role::L1]).await;
    std::fs::write(&draft, "warning_percent = 70\n").unwrap();
    let err = l1.refused(&["sla", "set", draft.to_str().unwrap()]).await;
    assert!(err.contains("admin"), "{err}");
    assert!(l1
        .run(&["sla", "show"])
        .await
        .unwrap()
        .contains("warning_percent = 60"));

    // Edited while no relay runs: the next start recomputes open tickets.
    let agent = d.enroll_agent("desk-1").await;
    let id = triage_agent::file_ticket(&agent.state_dir, urgent("Phone system down"))
        .await
        .expect("ticket filed")
        .to_string();
    let resolution_due = |detail: &Value| detail["ticket"]["sla"]["resolution"]["due_at"].as_i64();
    let before = admin.json(&["tickets", "show", &id, "--json"]).await;
    let created = before["ticket"]["created_at"].as_i64().unwrap();
    assert_eq!(resolution_due(&before), Some(created + 4 * 3_600_000));
    let addr = d.stop_relay().await;
    std::fs::write(&file, "[targets.urgent]\nresolution = \"2h\"\n").unwrap();
    d.restart_relay(addr).await;
    let moved = eventually(Duration::from_secs(10), || {
        let admin = admin.clone();
        let id = id.clone();
        async move {
            let detail = admin.json(&["tickets", "show", &id, "--json"]).await;
            resolution_due(&detail) == Some(created + 2 * 3_600_000)
        }
    })
    .await;
    assert!(moved, "the restarted relay kept clocks from the old policy");
}
