//! The "Get help" window against a real relay and agent daemon: the window
//! is played by `DesktopClient` over the daemon's real Unix socket, the
//! technician by the real `triage` CLI.
//!
//! - A ticket filed from the window carries the account name the daemon
//!   read from the socket (not anything the window claims) and the
//!   screenshot the user chose to attach.
//! - `triage screenshot --attach TICKET` asks the window of the user who
//!   filed that ticket.
//! - `triage screenshot` reaches the user's window: Allow delivers the
//!   window's PNG, Deny refuses the technician and is audited.
//! - My tickets shows the technician's public reply, never an internal
//!   note (needs `triage tickets comment --internal` and the relay's
//!   My tickets).
#![cfg(unix)]

use std::path::Path;
use std::time::Duration;
use triage_agent::desktop::client::{ConsentChannel, DesktopClient};
use triage_agent::desktop::protocol::{ConsentAnswer, HelpForm};
use triage_e2e::{eventually, Agent, Deployment};
use triage_shared::roles::Role;
use triage_shared::ticket::{Category, Priority};

// Who gives up waiting for a screenshot, in order: the employee's prompt
// (the agent's refusal), then the relay, then the CLI. Otherwise the
// technician would see a timeout instead of "refused".
const _: () = assert!(
    triage_shared::limits::SCREENSHOT_CONSENT_TIMEOUT.as_secs()
        < triage_relay::SCREENSHOT_FIRST_FRAME_WAIT.as_secs()
);
const _: () = assert!(
    triage_relay::SCREENSHOT_FIRST_FRAME_WAIT.as_secs()
        < triage_cli::commands::stream::FIRST_FRAME_TIMEOUT.as_secs()
);

/// A real 1×1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53,
    0xde, 0x00, 0x00, 0x00, 0x0c, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0x00,
    0x00, 0x03, 0x01, 0x01, 0x00, 0xc9, 0xfe, 0x92, 0xef, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e,
    0x44, 0xae, 0x42, 0x60, 0x82,
];

async fn running_agent(d: &Deployment, name: &str) -> Agent {
    let mut agent = d.enroll_agent(name).await;
    agent.start_daemon();
    agent.wait_online(d.relay()).await;
    agent
}

fn form(text: &str, screenshot: Option<Vec<u8>>) -> HelpForm {
    HelpForm {
        text: text.into(),
        category: Category::Hardware,
        priority: Priority::High,
        screenshot,
        viewed_articles: Vec::new(),
    }
}

/// A window that answers the next consent prompt with `answer`.
async fn window_answering(
    socket: &Path,
    answer: ConsentAnswer,
) -> tokio::task::JoinHandle<ConsentChannel> {
    let (client, _) = DesktopClient::connect(socket)
        .await
        .expect("the window connects");
    let mut channel = client.serve_consent().await.expect("consent channel");
    tokio::spawn(async move {
        let prompt = channel.next_request().await.unwrap().expect("a prompt");
        assert_eq!(prompt.technician, "lina");
        channel.answer(prompt.request, answer).await.unwrap();
        channel
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_from_the_window_carries_the_account_and_the_screenshot() {
    let d = Deployment::start().await;
    let mut agent = running_agent(&d, "reception").await;
    let socket = agent.desktop_socket().await;
    let (mut window, welcome) = DesktopClient::connect(&socket).await.unwrap();
    assert!(welcome.screenshots_allowed);

    let text = "Printer jammed\nThe paper tray is stuck half way.";
    let (id, delivered) = window
        .file_ticket(form(text, Some(PNG.to_vec())))
        .await
        .expect("ticket filed");
    assert!(
        delivered,
        "the relay is up, so the ticket is delivered at once"
    );

    let id = id.to_string();
    let detail = d.admin.json(&["tickets", "show", &id, "--json"]).await;
    let ticket = &detail["ticket"];
    assert_eq!(ticket["title"], "Printer jammed");
    assert_eq!(ticket["description"], text);
    assert_eq!(ticket["source"], "employee");
    // The daemon's word for who is at the socket, not the window's.
    assert_eq!(ticket["requester"], welcome.user.as_str());
    assert!(
        !detail["snapshot"].is_null(),
        "the daemon attaches a snapshot"
    );
    // The screenshot follows the ticket through the outbox.
    let has_screenshot = eventually(Duration::from_secs(20), || async {
        let detail = d.admin.json(&["tickets", "show", &id, "--json"]).await;
        detail["attachments"].as_array().is_some_and(|a| {
            a.iter()
                .any(|x| x["kind"] == "screenshot" && x["bytes"] == PNG.len())
        })
    })
    .await;
    assert!(
        has_screenshot,
        "the ticket never got its screenshot attachment"
    );
    agent.stop_daemon().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_technicians_screenshot_needs_a_yes_in_the_users_window() {
    let d = Deployment::start().await;
    let mut agent = running_agent(&d, "desk-7").await;
    let socket = agent.desktop_socket().await;
    let lina = d.technician("lina", &[Role::L2]).await;
    let id = agent.id.to_string();

    // Allow: the technician gets exactly the window's picture.
    let window = window_answering(&socket, ConsentAnswer::Allow { png: PNG.to_vec() }).await;
    let out = d.dir.path().join("screen.png");
    let saved = lina
        .run(&["screenshot", &id, "-o", out.to_str().unwrap()])
        .await
        .expect("the screenshot arrives");
    assert!(saved.contains("Saved"), "{saved}");
    assert_eq!(std::fs::read(&out).unwrap(), PNG);
    drop(window.await.unwrap());

    // Deny: the technician is refused, and the audit log says so.
    let window = window_answering(&socket, ConsentAnswer::Deny).await;
    let denied = d.dir.path().join("denied.png");
    let err = lina
        .refused(&["screenshot", &id, "-o", denied.to_str().unwrap()])
        .await;
    assert!(err.contains("the user declined"), "{err}");
    assert!(!denied.exists());
    drop(window.await.unwrap());

    let audit = d.admin.json(&["audit", "--json"]).await;
    let shots: Vec<&serde_json::Value> = audit
        .as_array()
        .expect("audit --json is an array")
        .iter()
        .filter(|e| e["action"] == "screenshot")
        // Outcomes only; each act also has its intent entry before it.
        .filter(|e| e["outcome"] != "started")
        .filter(|e| e["actor"].as_str().is_some_and(|a| a.contains("lina")))
        .collect();
    assert_eq!(shots.len(), 2, "{shots:#?}");
    let outcome = |e: &serde_json::Value| e["outcome"].as_str().unwrap_or_default().to_string();
    assert!(!outcome(shots[0]).starts_with("refused"), "{}", shots[0]);
    assert!(outcome(shots[1]).starts_with("refused"), "{}", shots[1]);
    assert!(outcome(shots[1]).contains("declined"), "{}", shots[1]);
    agent.stop_daemon().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_screenshot_for_a_ticket_asks_the_window_of_the_user_who_filed_it() {
    let d = Deployment::start().await;
    let mut agent = running_agent(&d, "desk-9").await;
    let socket = agent.desktop_socket().await;
    let lina = d.technician("lina", &[Role::L2]).await;
    let (mut window, _) = DesktopClient::connect(&socket).await.unwrap();
    let (ticket, delivered) = window
        .file_ticket(form("Screen flickers", None))
        .await
        .expect("ticket filed");
    assert!(delivered);
    // The ticket names the socket peer's account; the agent finds that
    // account's window from the name the relay passes on.
    let consent = window_answering(&socket, ConsentAnswer::Allow { png: PNG.to_vec() }).await;
    let out = d.dir.path().join("for-ticket.png");
    let ticket = ticket.to_string();
    let saved = lina
        .run(&[
            "screenshot",
            &agent.id.to_string(),
            "--attach",
            &ticket,
            "-o",
            out.to_str().unwrap(),
        ])
        .await
        .expect("the requester's window allowed it");
    assert!(saved.contains("Attached to ticket"), "{saved}");
    assert_eq!(std::fs::read(&out).unwrap(), PNG);
    drop(consent.await.unwrap());
    agent.stop_daemon().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn my_tickets_shows_the_public_reply_but_never_an_internal_note() {
    let d = Deployment::start().await;
    let mut agent = running_agent(&d, "accounts").await;
    let socket = agent.desktop_socket().await;
    let (mut window, _) = DesktopClient::connect(&socket).await.unwrap();
    let (id, delivered) = window
        .file_ticket(form("VPN drops every hour", None))
        .await
        .unwrap();
    assert!(delivered);
    let id_s = id.to_string();
    d.admin
        .run(&["tickets", "comment", &id_s, "Please restart the VPN client"])
        .await
        .expect("public comment");
    d.admin
        .run(&[
            "tickets",
            "comment",
            &id_s,
            "user is on the old client",
            "--internal",
        ])
        .await
        .expect("internal note");

    let tickets = window.my_tickets().await.expect("my tickets");
    let mine = tickets
        .iter()
        .find(|t| t.id == id)
        .expect("the ticket is listed");
    assert_eq!(mine.title, "VPN drops every hour");
    let reply = mine.latest_reply.as_ref().expect("a reply");
    assert_eq!(reply.text, "Please restart the VPN client");
    assert!(!reply.internal);
    let everything = serde_json::to_string(&tickets).unwrap();
    assert!(!everything.contains("old client"), "{everything}");

    // The terminal view of the same (the binary is not built by this
    // crate's tests, so the library's rendering stands in for it).
    let text = triage_agent::desktop::render::render_my_tickets(&tickets);
    assert!(text.contains("Please restart the VPN client"), "{text}");
    agent.stop_daemon().await;
}
