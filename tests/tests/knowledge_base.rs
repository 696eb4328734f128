//! The knowledge base end to end: a real relay, the technicians' real
//! `triage` CLI, a real agent daemon, and `DesktopClient` over the
//! daemon's socket as the Get help window.
//!
//! - Articles are written, edited (the old text kept), searched, listed
//!   and retired through the CLI; retiring is for l2 and up.
//! - The window is offered only public, active articles as the employee
//!   types; opening an internal or retired one fails; "This solved it" is
//!   counted on the article with no ticket filed.
//! - "I still need help" files the ticket, and `tickets show` lists what
//!   the employee read; `tickets resolve --kb` counts on the article.
//! - Without a relay the window gets no suggestions and no error.
#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::time::Duration;
use triage_agent::desktop::client::{DesktopClient, DesktopError};
use triage_agent::desktop::protocol::HelpForm;
use triage_e2e::{eventually, Agent, Deployment, Technician};
use triage_shared::kb::ArticleId;
use triage_shared::roles::Role;
use triage_shared::ticket::{Category, Priority};

const WAIT: Duration = Duration::from_secs(30);

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// `kb add` of a file with these words; the article's number.
async fn add(tech: &Technician, dir: &Path, title: &str, body: &str, extra: &[&str]) -> u64 {
    let file = write(dir, &format!("{}.md", title.replace(' ', "-")), body);
    let mut args = vec![
        "kb",
        "add",
        "--title",
        title,
        "--body",
        file.to_str().unwrap(),
        "--json",
    ];
    args.extend_from_slice(extra);
    tech.json(&args).await["id"]
        .as_u64()
        .expect("an article number")
}

async fn running_agent(d: &Deployment, name: &str) -> Agent {
    let mut agent = d.enroll_agent(name).await;
    agent.start_daemon();
    agent.wait_online(d.relay()).await;
    agent
}

fn form(text: &str, viewed: Vec<ArticleId>) -> HelpForm {
    HelpForm {
        text: text.into(),
        category: Category::Network,
        priority: Priority::Normal,
        screenshot: None,
        viewed_articles: viewed,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn articles_are_written_edited_searched_and_retired_through_the_cli() {
    let d = Deployment::start().await;
    let dir = tempfile::tempdir().unwrap();
    let l1 = d.technician("lena", &[Role::L1]).await;
    let id = add(
        &l1,
        dir.path(),
        "VPN drops every hour",
        "# Fix\nRenew the certificate in the VPN client.",
        &["--tags", "vpn,Remote", "--category", "network"],
    )
    .await;
    assert_eq!(id, 1);
    let kb = format!("KB-{id}");

    let edited = write(
        dir.path(),
        "v2.md",
        "Reinstall the VPN profile from the portal.",
    );
    let out = l1
        .run(&["kb", "edit", &kb, "--body", edited.to_str().unwrap()])
        .await
        .unwrap();
    assert!(out.contains("version 2"), "{out}");
    // Editing version 1 again would overwrite that edit unseen.
    let stale = l1
        .refused(&["kb", "edit", &kb, "--title", "VPN", "--base", "1"])
        .await;
    assert!(stale.contains("version 2"), "{stale}");

    let old = l1
        .json(&["kb", "show", &kb, "--version", "1", "--json"])
        .await;
    assert_eq!(
        old["content"]["body"],
        "# Fix\nRenew the certificate in the VPN client."
    );
    assert_eq!(old["current_version"], 2);
    let shown = l1.run(&["kb", "show", &kb]).await.unwrap();
    assert!(shown.contains("version 2 (current)"), "{shown}");
    assert!(shown.contains("v1") && shown.contains("lena"), "{shown}");
    assert_eq!(
        l1.json(&["kb", "show", &kb, "--json"]).await["content"]["tags"],
        serde_json::json!(["remote", "vpn"])
    );

    let hits = l1.json(&["kb", "search", "portal", "--json"]).await;
    assert_eq!(hits[0]["article"]["id"], id);
    assert_eq!(
        l1.json(&["kb", "search", "certificate", "--json"]).await,
        serde_json::json!([])
    );
    let bad = l1.refused(&["kb", "search", "-vpn"]).await;
    assert!(bad.contains("give a word to find"), "{bad}");
    let listed = l1.run(&["kb", "list"]).await.unwrap();
    assert!(
        listed.contains("KB-1") && listed.contains("public"),
        "{listed}"
    );

    // Retiring takes an article out of sight for good: l2 and up.
    let refused = l1.refused(&["kb", "retire", &kb]).await;
    assert!(
        refused.contains("not allowed") || refused.contains("role"),
        "{refused}"
    );
    d.admin.run(&["kb", "retire", &kb]).await.unwrap();
    assert_eq!(
        l1.json(&["kb", "search", "portal", "--json"]).await,
        serde_json::json!([])
    );
    assert_eq!(
        l1.json(&["kb", "list", "--json"]).await,
        serde_json::json!([])
    );
    assert_eq!(
        l1.json(&["kb", "list", "--retired", "--json"]).await[0]["retired"],
        true
    );
    let no_body = l1.refused(&["kb", "add", "--title", "Empty"]).await;
    assert!(no_body.contains("--body"), "{no_body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_window_is_offered_public_articles_and_this_solved_it_is_counted() {
    let d = Deployment::start().await;
    let dir = tempfile::tempdir().unwrap();
    let public = add(
        &d.admin,
        dir.path(),
        "VPN keeps disconnecting",
        "Open the VPN app and sign in again.",
        &[],
    )
    .await;
    let internal = add(
        &d.admin,
        dir.path(),
        "VPN gateway disconnecting",
        "Restart the tunnels on vpn-gw-1.",
        &["--visibility", "internal"],
    )
    .await;
    let retired = add(
        &d.admin,
        dir.path(),
        "Old VPN client disconnecting",
        "Install client 1.0.",
        &[],
    )
    .await;
    d.admin
        .run(&["kb", "retire", &retired.to_string()])
        .await
        .unwrap();

    let agent = running_agent(&d, "sales-3").await;
    let socket = agent.desktop_socket().await;
    let (mut window, _) = DesktopClient::connect(&socket).await.unwrap();
    let offered = window
        .suggest_articles("my vpn keeps disconnecting since monday".into())
        .await
        .unwrap();
    assert_eq!(
        offered.iter().map(|s| s.id.0).collect::<Vec<_>>(),
        [public],
        "{offered:?}"
    );
    assert_eq!(offered[0].excerpt, "Open the VPN app and sign in again.");
    assert!(window
        .suggest_articles("vpn disconnecting".into())
        .await
        .unwrap()
        .is_empty());

    let read = window.open_article(ArticleId(public)).await.unwrap();
    assert_eq!(read.body, "Open the VPN app and sign in again.");
    for hidden in [internal, retired] {
        match window.open_article(ArticleId(hidden)).await {
            Err(DesktopError::Refused(why)) => assert!(why.contains("not available"), "{why}"),
            other => panic!("KB-{hidden} reached the window: {other:?}"),
        }
    }

    let tickets_before = d.admin.json(&["tickets", "list", "--json"]).await;
    window
        .solved(ArticleId(public), "my vpn keeps disconnecting".into())
        .await
        .unwrap();
    let counted = eventually(WAIT, || async {
        d.admin
            .json(&["kb", "show", &public.to_string(), "--json"])
            .await["deflections"]
            == 1
    })
    .await;
    assert!(counted, "the deflection never reached the relay");
    // The report counts it against the tickets employees filed (none).
    let report = d.admin.json(&["report", "--since", "1d", "--json"]).await;
    assert_eq!(report["deflection"]["deflections"], 1, "{report}");
    assert_eq!(report["percent"]["deflection_rate"], 100.0, "{report}");
    assert_eq!(
        d.admin.json(&["tickets", "list", "--json"]).await,
        tickets_before,
        "no ticket was filed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn still_need_help_files_the_ticket_with_what_was_read_and_resolve_kb_counts() {
    let d = Deployment::start().await;
    let dir = tempfile::tempdir().unwrap();
    let article = add(
        &d.admin,
        dir.path(),
        "Printer jams on tray 2",
        "Open tray 2 and take out the torn sheet.",
        &[],
    )
    .await;
    let agent = running_agent(&d, "floor-2").await;
    let socket = agent.desktop_socket().await;
    let (mut window, _) = DesktopClient::connect(&socket).await.unwrap();
    let (ticket, _) = window
        .file_ticket(form(
            "The printer jams on tray 2 every morning",
            vec![ArticleId(article)],
        ))
        .await
        .unwrap();
    let id = ticket.to_string();
    let read = eventually(WAIT, || async {
        d.admin.json(&["tickets", "show", &id, "--json"]).await["articles"]["viewed"][0]["id"]
            == article
    })
    .await;
    assert!(read, "the articles read never reached the ticket");
    let shown = d.admin.run(&["tickets", "show", &id]).await.unwrap();
    assert!(
        shown.contains("Read by the employee before filing:\n  KB-1"),
        "{shown}"
    );
    assert!(
        shown.contains("Knowledge base articles that may fit:\n  KB-1"),
        "{shown}"
    );

    let out = d
        .admin
        .run(&["tickets", "resolve", &id, "Cleared tray 2", "--kb", "KB-1"])
        .await
        .unwrap();
    assert!(out.contains("KB-1 counted as its fix"), "{out}");
    assert_eq!(
        d.admin.json(&["kb", "show", "KB-1", "--json"]).await["solved"],
        1
    );
    let shown = d.admin.run(&["tickets", "show", &id]).await.unwrap();
    assert!(shown.contains("Solved by:\n  KB-1"), "{shown}");

    // An article drafted from the resolved ticket: its words, internal at
    // first, and the ticket counted as solved by it too.
    let drafted = d
        .admin
        .json(&["kb", "add", "--from-ticket", &id, "--json"])
        .await;
    assert_eq!(drafted["content"]["visibility"], "internal");
    let body = drafted["content"]["body"].as_str().unwrap();
    assert!(
        body.contains("every morning") && body.contains("Cleared tray 2"),
        "{body}"
    );
    assert_eq!(drafted["from_ticket"], id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_relay_the_window_gets_no_suggestions_and_no_error() {
    let mut d = Deployment::start().await;
    let dir = tempfile::tempdir().unwrap();
    add(&d.admin, dir.path(), "VPN drops", "Sign in again.", &[]).await;
    let mut agent = running_agent(&d, "laptop-9").await;
    let socket = agent.desktop_socket().await;
    d.stop_relay().await;
    let (mut window, _) = DesktopClient::connect(&socket).await.unwrap();
    let offered = tokio::time::timeout(
        WAIT,
        window.suggest_articles("my vpn drops every hour".into()),
    )
    .await
    .expect("the daemon answers without the relay")
    .expect("and says nothing is wrong");
    assert!(offered.is_empty());
    agent.stop_daemon().await;
}
