//! An employee files a ticket through the agent; a technician works it
//! through the CLI from open to closed and back.

use serde_json::Value;
use std::time::Duration;
use triage_agent::HelpRequest;
use triage_e2e::{eventually, Deployment};
use triage_shared::roles::Role;
use triage_shared::ticket::{Category, Priority};

fn help(title: &str) -> HelpRequest {
    HelpRequest {
        title: title.into(),
        description: "It closes as soon as I open the calendar.".into(),
        category: Category::Software,
        priority: Priority::High,
        requester: "alice".into(),
        screenshot: None,
    }
}

fn events(detail: &Value) -> Vec<String> {
    detail["events"]
        .as_array()
        .expect("events array")
        .iter()
        .map(|e| e["event"].to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn employee_ticket_is_worked_from_open_to_closed_and_reopened() {
    let d = Deployment::start().await;
    let mut agent = d.enroll_agent("laptop").await;
    agent.start_daemon();

    // The enrolled agent shows up online.
    let admin = d.admin.clone();
    let online = eventually(Duration::from_secs(10), || {
        let admin = admin.clone();
        let id = agent.id.to_string();
        async move {
            let agents = admin.json(&["agents", "list", "--json"]).await;
            agents
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["id"] == id.as_str() && a["online"] == true)
        }
    })
    .await;
    assert!(online, "agent never showed as online");

    let id = triage_agent::file_ticket(&agent.state_dir, help("Outlook keeps crashing"))
        .await
        .expect("ticket filed")
        .to_string();

    // Listed, with the fields scripts rely on.
    let list = admin.json(&["tickets", "list", "--json"]).await;
    let row = list
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == id.as_str())
        .expect("ticket listed");
    assert_eq!(row["title"], "Outlook keeps crashing");
    assert_eq!(row["status"], "open");
    assert_eq!(row["tier"], "l1");
    assert_eq!(row["priority"], "high");
    assert_eq!(row["category"], "software");
    assert_eq!(row["source"], "employee");
    assert_eq!(row["agent_id"], agent.id.to_string().as_str());

    // The snapshot is real: it names this machine.
    let detail = admin.json(&["tickets", "show", &id, "--json"]).await;
    let hostname = sysinfo::System::host_name().unwrap_or_default();
    assert_eq!(detail["snapshot"]["os"]["hostname"], hostname.as_str());
    assert!(
        detail["snapshot"]["memory"]["total_bytes"]
            .as_u64()
            .unwrap()
            > 0
    );
    let human = admin.run(&["tickets", "show", &id]).await.unwrap();
    assert!(human.contains("Outlook keeps crashing"), "{human}");
    assert!(human.contains(&hostname), "snapshot not rendered: {human}");

    // A short id prefix works like the full id.
    admin
        .run(&["tickets", "comment", &id[..8], "Looking into it"])
        .await
        .unwrap();

    let bob = d.technician("bob", &[Role::L2]).await;
    admin.run(&["tickets", "assign", &id, "bob"]).await.unwrap();
    admin.run(&["tickets", "escalate", &id]).await.unwrap();
    bob.run(&["tickets", "escalate", &id, "--note", "needs L3"])
        .await
        .unwrap();
    let refused = admin.refused(&["tickets", "escalate", &id]).await;
    assert!(
        refused.contains("L3") || refused.contains("l3"),
        "{refused}"
    );

    bob.run(&["tickets", "resolve", &id, "Repaired the Office install"])
        .await
        .unwrap();
    admin.run(&["tickets", "close", &id]).await.unwrap();

    // Closed tickets go back to work only through reopen.
    let refused = admin.refused(&["tickets", "start", &id]).await;
    assert!(refused.contains("reopen"), "{refused}");
    admin
        .run(&["tickets", "reopen", &id, "--note", "crashed again"])
        .await
        .unwrap();

    let detail = admin.json(&["tickets", "show", &id, "--json"]).await;
    let t = &detail["ticket"];
    assert_eq!(t["status"], "open");
    assert_eq!(t["tier"], "l3");
    assert_eq!(t["assignee"], "bob");
    let texts: Vec<&str> = detail["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["text"].as_str().unwrap())
        .collect();
    for expected in [
        "Looking into it",
        "needs L3",
        "Repaired the Office install",
        "crashed again",
    ] {
        assert!(
            texts.contains(&expected),
            "comment {expected:?} missing from {texts:?}"
        );
    }
    let history = events(&detail).join("\n");
    for expected in [
        "created",
        "assigned",
        "escalated",
        "\"l3\"",
        "resolved",
        "closed",
    ] {
        assert!(
            history.contains(expected),
            "history lacks {expected}: {history}"
        );
    }

    // Status filter.
    let open = admin
        .json(&["tickets", "list", "--status", "open", "--json"])
        .await;
    assert_eq!(open.as_array().unwrap().len(), 1);
    let closed = admin
        .json(&["tickets", "list", "--status", "closed", "--json"])
        .await;
    assert!(closed.as_array().unwrap().is_empty());

    agent.stop_daemon().await;
    let offline = eventually(Duration::from_secs(30), || {
        let admin = admin.clone();
        let id = agent.id.to_string();
        async move {
            let agents = admin.json(&["agents", "list", "--json"]).await;
            agents.as_array().unwrap().iter().any(|a| {
                a["id"] == id.as_str() && a["online"] == false && !a["last_seen"].is_null()
            })
        }
    })
    .await;
    assert!(offline, "stopped agent still shows online");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retried_submission_stores_one_ticket() {
    use triage_shared::client::Session;
    use triage_shared::protocol::{PeerKind, Request, Response};
    use triage_shared::ticket::{NewTicket, Source};
    use triage_shared::TicketId;

    let d = Deployment::start().await;
    let agent = d.enroll_agent("desk").await;
    let key = triage_shared::identity::KeyPair::from_file_text(
        &std::fs::read_to_string(agent.state_dir.join("agent.key")).unwrap(),
    )
    .unwrap();
    let ticket = NewTicket {
        id: TicketId::new_random(),
        title: "Printer jammed".into(),
        description: String::new(),
        category: Category::Hardware,
        priority: Priority::Low,
        source: Source::Employee,
        requester: "carol".into(),
    };
    let session = Session::connect(&d.relay().locator(), &key, PeerKind::Agent)
        .await
        .unwrap();
    let submit = Request::SubmitTicket {
        ticket: ticket.clone(),
        snapshot: None,
    };
    let first = session.request(&submit).await.unwrap();
    let second = session.request(&submit).await.unwrap();
    assert_eq!(
        first,
        Response::TicketStored {
            id: ticket.id,
            created: true
        }
    );
    assert_eq!(
        second,
        Response::TicketStored {
            id: ticket.id,
            created: false
        }
    );
    let list = d.admin.json(&["tickets", "list", "--json"]).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
}
