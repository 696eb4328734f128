//! The employee kept in the loop, end to end: a real relay, a real agent
//! daemon, the technician's real `triage` CLI, the real `triage-agent`
//! binary as the employee's terminal, and `DesktopClient` over the
//! daemon's socket as the Get help window.
//!
//! - A public technician comment reaches the daemon (pushed), shows in
//!   `triage-agent tickets` and on the window's inbox channel; an internal
//!   note never does.
//! - What changed while the daemon was offline arrives when it reconnects.
//! - The employee's reply lands on the ticket as `employee:NAME`; "No"
//!   with words reopens it with that comment; "Yes" with a score closes it
//!   and the score is in `triage tickets show --json`.
//! - A resolved ticket nobody answers is closed by the relay's sweeper
//!   after `--auto-close-after`.
#![cfg(unix)]

use std::path::Path;
use std::time::Duration;
use triage_agent::desktop::client::DesktopClient;
use triage_agent::desktop::protocol::HelpForm;
use triage_agent::inbox::{FixQuestion, InboxView};
use triage_e2e::{agent_binary, eventually, Agent, Deployment, Technician};
use triage_shared::ticket::{Category, Priority};
use triage_shared::TicketId;

/// Generous bounds for things that happen in well under a second; only
/// there so that a regression fails instead of hanging.
const WAIT: Duration = Duration::from_secs(30);

fn form(text: &str) -> HelpForm {
    HelpForm {
        text: text.into(),
        category: Category::Software,
        priority: Priority::High,
        screenshot: None,
        viewed_articles: Vec::new(),
    }
}

/// `triage-agent tickets ARGS --socket S` as the employee runs it.
async fn employee(socket: &Path, args: &[&str]) -> (bool, String) {
    let out = tokio::process::Command::new(agent_binary())
        .arg("tickets")
        .args(args)
        .arg("--socket")
        .arg(socket)
        .output()
        .await
        .expect("triage-agent runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

async fn inbox(socket: &Path) -> InboxView {
    let (mut window, _) = DesktopClient::connect(socket).await.expect("connects");
    window.inbox().await.expect("inbox")
}

async fn wait_for_inbox(socket: &Path, what: &str, check: impl Fn(&InboxView) -> bool) {
    let ok = eventually(WAIT, || async { check(&inbox(socket).await) }).await;
    assert!(
        ok,
        "the daemon's inbox never showed {what}: {:?}",
        inbox(socket).await
    );
}

async fn show(tech: &Technician, id: TicketId) -> serde_json::Value {
    tech.json(&["tickets", "show", &id.to_string(), "--json"])
        .await
}

async fn wait_for_status(tech: &Technician, id: TicketId, status: &str) -> serde_json::Value {
    let ok = eventually(WAIT, || async {
        show(tech, id).await["ticket"]["status"] == status
    })
    .await;
    let shown = show(tech, id).await;
    assert!(ok, "ticket never became {status}: {shown}");
    shown
}

fn question(view: &InboxView, id: TicketId) -> Option<FixQuestion> {
    view.tickets.iter().find(|t| t.id == id).map(|t| t.question)
}

async fn running_agent(d: &Deployment, name: &str) -> Agent {
    let mut agent = d.enroll_agent(name).await;
    agent.start_daemon();
    agent.wait_online(d.relay()).await;
    agent
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reply_no_reopens_with_the_words_and_yes_closes_with_the_score() {
    let d = Deployment::start().await;
    let mut agent = running_agent(&d, "finance-7").await;
    let socket = agent.desktop_socket().await;
    let (mut window, welcome) = DesktopClient::connect(&socket).await.unwrap();
    let me = welcome.user.clone();
    let (id, delivered) = window
        .file_ticket(form("Excel crashes on open"))
        .await
        .unwrap();
    assert!(delivered);
    let id_s = id.to_string();
    // The window's live channel: the first frame is the inbox as it is.
    let (watcher, _) = DesktopClient::connect(&socket).await.unwrap();
    let mut live = watcher.watch_inbox().await.unwrap();
    live.next().await.unwrap().expect("the inbox now");

    d.admin
        .run(&[
            "tickets",
            "comment",
            &id_s,
            "user has an old add-in",
            "--internal",
        ])
        .await
        .unwrap();
    d.admin
        .run(&["tickets", "comment", &id_s, "Please disable the PDF add-in"])
        .await
        .unwrap();
    // Pushed over the agent's connection, told to the open window at once.
    let told = tokio::time::timeout(WAIT, async {
        loop {
            let view = live.next().await.unwrap().expect("the channel stays open");
            if view.unseen().any(|n| n.ticket == id) {
                return view;
            }
        }
    })
    .await
    .expect("the window is told of the reply");
    let everything = serde_json::to_string(&told).unwrap();
    assert!(
        everything.contains("Please disable the PDF add-in"),
        "{everything}"
    );
    assert!(
        !everything.contains("old add-in"),
        "an internal note leaked: {everything}"
    );

    // The same text in the terminal.
    let (ok, text) = employee(&socket, &[]).await;
    assert!(ok, "{text}");
    assert!(text.contains("Please disable the PDF add-in"), "{text}");
    assert!(text.contains("admin replied"), "{text}");
    assert!(!text.contains("old add-in"), "{text}");

    // The employee replies, naming the ticket by its short id.
    let (ok, text) = employee(
        &socket,
        &["reply", &id.short(), "Disabled it, still crashes"],
    )
    .await;
    assert!(ok, "{text}");
    let replied = eventually(WAIT, || async {
        show(&d.admin, id).await["comments"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| {
                c["text"] == "Disabled it, still crashes" && c["author"] == format!("employee:{me}")
            })
    })
    .await;
    assert!(replied, "{}", show(&d.admin, id).await);

    // Resolved: "Did this fix it?" is pending, in the inbox and the terminal.
    d.admin
        .run(&["tickets", "resolve", &id_s, "Reinstalled Office"])
        .await
        .unwrap();
    wait_for_inbox(&socket, "the resolution", |v| {
        question(v, id) == Some(FixQuestion::Pending)
    })
    .await;
    let (_, text) = employee(&socket, &[]).await;
    assert!(text.contains("Did this fix it?"), "{text}");

    // No, with words: reopened, with them as a comment.
    let (ok, text) = employee(
        &socket,
        &["fixed", &id_s, "--no", "It crashes again after reboot"],
    )
    .await;
    assert!(ok, "{text}");
    let shown = wait_for_status(&d.admin, id, "open").await;
    let last = shown["comments"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["text"], "It crashes again after reboot", "{shown}");
    assert_eq!(last["author"], format!("employee:{me}"));
    wait_for_inbox(&socket, "the reopen", |v| {
        question(v, id) == Some(FixQuestion::NotAsked)
    })
    .await;

    // Resolved again; Yes with a score closes it and the score is shown.
    d.admin
        .run(&["tickets", "resolve", &id_s, "Removed the add-in for good"])
        .await
        .unwrap();
    wait_for_inbox(&socket, "the second resolution", |v| {
        question(v, id) == Some(FixQuestion::Pending)
    })
    .await;
    let (ok, text) = employee(&socket, &["fixed", &id_s, "--yes", "--score", "4"]).await;
    assert!(ok, "{text}");
    let shown = wait_for_status(&d.admin, id, "closed").await;
    assert_eq!(shown["rating"], 4, "{shown}");
    let rated = shown["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["event"]["rated"]["score"] == 4);
    assert!(rated, "{shown}");
    let text = d.admin.run(&["tickets", "show", &id_s]).await.unwrap();
    assert!(text.contains("Rating     4/5"), "{text}");
    assert!(text.contains("rated the resolution 4/5"), "{text}");

    // Someone else's ticket cannot be answered from this account.
    let (ok, text) = employee(&socket, &["fixed", "00000000", "--yes"]).await;
    assert!(!ok && text.contains("no ticket of yours"), "{text}");
    drop(live);
    agent.stop_daemon().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_changed_while_the_daemon_was_offline_arrives_on_reconnect() {
    let d = Deployment::start().await;
    let mut agent = running_agent(&d, "sales-2").await;
    let socket = agent.desktop_socket().await;
    let (mut window, _) = DesktopClient::connect(&socket).await.unwrap();
    let (id, delivered) = window
        .file_ticket(form("No sound in meetings"))
        .await
        .unwrap();
    assert!(delivered);
    drop(window);
    agent.stop_daemon().await;
    agent.wait_offline(d.relay()).await;

    let id_s = id.to_string();
    d.admin
        .run(&["tickets", "comment", &id_s, "Headset firmware updated"])
        .await
        .unwrap();
    d.admin
        .run(&["tickets", "resolve", &id_s, "Firmware 2.1"])
        .await
        .unwrap();

    agent.start_daemon();
    let socket = agent.desktop_socket().await;
    wait_for_inbox(&socket, "the missed reply and resolution", |v| {
        question(v, id) == Some(FixQuestion::Pending)
            && v.unseen().any(|n| n.ticket == id)
            && v.tickets[0]
                .replies
                .iter()
                .any(|r| r.text == "Headset firmware updated")
    })
    .await;
    // Kept across a daemon restart, with what the window has not shown.
    agent.stop_daemon().await;
    agent.start_daemon();
    let socket = agent.desktop_socket().await;
    let (mut window, _) = DesktopClient::connect(&socket).await.unwrap();
    let view = window.inbox().await.unwrap();
    assert_eq!(question(&view, id), Some(FixQuestion::Pending), "{view:?}");
    let up_to = view.notices.last().expect("notices").seq;
    let seen = window.notices_seen(up_to).await.unwrap();
    assert_eq!(seen.unseen().count(), 0);
    agent.stop_daemon().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolved_ticket_nobody_answers_is_closed_after_the_configured_time() {
    let d = Deployment::start_with(|c| c.auto_close_after = Duration::from_millis(400)).await;
    let mut agent = running_agent(&d, "hr-1").await;
    let socket = agent.desktop_socket().await;
    let (mut window, _) = DesktopClient::connect(&socket).await.unwrap();
    let (resolved, _) = window.file_ticket(form("Printer offline")).await.unwrap();
    let (open, _) = window.file_ticket(form("Mouse is slow")).await.unwrap();
    d.admin
        .run(&["tickets", "resolve", &resolved.to_string(), "Power cycled"])
        .await
        .unwrap();
    let shown = wait_for_status(&d.admin, resolved, "closed").await;
    let closer = shown["events"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|e| e["event"]["status_changed"]["to"] == "closed")
        .map(|e| e["actor"].clone());
    assert_eq!(
        closer,
        Some(triage_relay::AUTO_CLOSE_ACTOR.into()),
        "{shown}"
    );
    // Only resolved tickets are closed.
    assert_eq!(show(&d.admin, open).await["ticket"]["status"], "open");
    agent.stop_daemon().await;
}
