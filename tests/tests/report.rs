//! `triage report` end to end: a real relay holding tickets with known
//! timings, and the real `triage` binary printing the report as text, as
//! JSON and as an HTML file, which headless Chromium then opens (its
//! screenshot is kept under `target/report-artifacts/`).

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;
use triage_e2e::{cli_binary, Deployment};
use triage_relay::store::{Store, TicketUpdate};
use triage_relay::workflow;
use triage_shared::roles::Role;
use triage_shared::ticket::{
    Category, Priority, Source, Status, StatusAction, Ticket, TicketEvent, TicketEventKind, Tier,
};
use triage_shared::time::Timestamp;
use triage_shared::TicketId;

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;

async fn file(store: &Store, source: Source, host: &str, description: &str, at: i64) -> TicketId {
    let ticket = Ticket {
        id: TicketId::new_random(),
        title: "report fixture".into(),
        description: description.into(),
        category: Category::Hardware,
        priority: Priority::Normal,
        status: Status::Open,
        tier: Tier::L1,
        source,
        agent_id: None,
        hostname: Some(host.into()),
        requester: "alice".into(),
        assignee: None,
        created_at: Timestamp(at),
        updated_at: Timestamp(at),
        sla_due_at: Timestamp(at),
        sla: None,
    };
    let filed = TicketEvent {
        actor: "alice".into(),
        at: Timestamp(at),
        event: TicketEventKind::Created,
    };
    assert!(store.create_ticket(&ticket, &filed, None).await.unwrap());
    ticket.id
}

async fn status(store: &Store, id: TicketId, action: StatusAction, at: i64) {
    store
        .update_ticket(id, |t| {
            workflow::change_status(t, action, "admin", None, Timestamp(at))
        })
        .await
        .unwrap();
}

/// Normal priority (24 h to resolve) throughout:
/// - P, pc-7, 3 days ago: a reply at 30m, resolved at 2h (met), rated 4;
/// - Q, pc-8, 2 days ago: started at 1h, escalated at 2h, resolved at 26h
///   (missed);
/// - R, a `disk` health alert on a host named `<script>`, an hour ago, open.
async fn fixture(store: &Store, now: i64) {
    let p_at = now - 3 * DAY;
    let p = file(store, Source::Employee, "pc-7", "", p_at).await;
    store
        .update_ticket(p, |t| {
            workflow::comment(t, "admin", "try this", Timestamp(p_at + 30 * MIN))
        })
        .await
        .unwrap();
    status(store, p, StatusAction::Resolve, p_at + 2 * HOUR).await;
    store
        .update_ticket(p, |t| {
            let mut ticket = t.clone();
            ticket.updated_at = Timestamp(p_at + 3 * HOUR);
            Ok(TicketUpdate {
                ticket,
                events: vec![TicketEvent {
                    actor: "employee:alice".into(),
                    at: Timestamp(p_at + 3 * HOUR),
                    event: TicketEventKind::Rated { score: 4 },
                }],
                comments: Vec::new(),
                attachments: Vec::new(),
                resolution: None,
            })
        })
        .await
        .unwrap();

    let q_at = now - 2 * DAY;
    let q = file(store, Source::Employee, "pc-8", "", q_at).await;
    status(store, q, StatusAction::Start, q_at + HOUR).await;
    store
        .update_ticket(q, |t| {
            workflow::escalate(t, "admin", None, Timestamp(q_at + 2 * HOUR))
        })
        .await
        .unwrap();
    status(store, q, StatusAction::Resolve, q_at + 26 * HOUR).await;

    let alert = "The health monitor on <script> raised the `disk` alert for /var.";
    file(store, Source::HealthAlert, "<script>", alert, now - HOUR).await;
}

async fn triage(home: &Path, args: &[&str]) -> Output {
    let run = tokio::process::Command::new(cli_binary())
        .arg("--home")
        .arg(home)
        .args(args)
        .output();
    tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("triage answers within a minute")
        .expect("triage runs")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "triage failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).expect("UTF-8")
}

/// The value printed after `figure` on its line.
fn figure<'a>(text: &'a str, figure: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(figure))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {figure:?} in\n{text}"))
}

/// `<target>` of the running test binary (`<target>/debug/deps/report-…`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    exe.ancestors()
        .nth(3)
        .expect("the test runs from <target>/<profile>/deps")
        .to_path_buf()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_is_printed_as_text_json_and_a_self_contained_html_file() {
    let d = Deployment::start().await;
    let now = Timestamp::now().millis();
    fixture(d.relay().store(), now).await;
    // Any technician who may list tickets may read the report.
    let l1 = d.technician("lee", &[Role::L1]).await;

    let text = stdout(&triage(&l1.home, &["report", "--since", "7d"]).await);
    assert!(text.starts_with("Help desk report, "), "{text}");
    assert_eq!(figure(&text, "Tickets filed"), "3");
    // Responses 30m (P) and 1h (Q); resolutions 2h (P) and 26h (Q).
    assert_eq!(
        figure(&text, "First response p50 / p90"),
        "30m / 1h (2 tickets)"
    );
    assert_eq!(
        figure(&text, "Time to resolve p50 / p90"),
        "2h / 1day 2h (2 tickets)"
    );
    assert_eq!(figure(&text, "SLA compliance"), "50.0% (1 of 2)");
    // Q was escalated.
    assert_eq!(figure(&text, "First-contact resolution"), "50.0% (1 of 2)");
    assert_eq!(figure(&text, "Reopen rate"), "0.0% (0 of 2)");
    assert_eq!(figure(&text, "Satisfaction"), "4.00 of 5 (1 ratings)");
    assert_eq!(figure(&text, "Self-service deflection"), "0.0% (0 of 2)");
    assert_eq!(figure(&text, "Health alerts"), "1");
    assert!(
        text.lines()
            .any(|l| l.starts_with("<script>") && l.trim_end().ends_with(" 1")),
        "{text}"
    );

    let out = triage(
        &l1.home,
        &["report", "--since", "7d", "--by", "host", "--json"],
    )
    .await;
    let json: Value = serde_json::from_str(&stdout(&out)).expect("one JSON object");
    assert_eq!(json["overall"]["volume"], 3);
    assert_eq!(json["overall"]["first_response"]["p50_ms"], 30 * MIN);
    assert_eq!(json["overall"]["resolution"]["p90_ms"], 26 * HOUR);
    assert_eq!(json["percent"]["sla_compliance"], 50.0);
    assert_eq!(json["satisfaction_mean"], 4.0);
    assert_eq!(
        json["backlog"][0]["by_age"],
        serde_json::json!([1, 0, 0, 0])
    );
    assert_eq!(json["alerts_by_rule"][0]["label"], "disk");
    let hosts: Vec<&str> = json["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["label"].as_str().unwrap())
        .collect();
    assert_eq!(hosts, ["<script>", "pc-7", "pc-8"]);

    let refused = triage(&l1.home, &["report", "--since", "1h"]).await;
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("1d to 730d"), "{err}");

    let html_path = d.dir.path().join("report.html");
    let html_arg = html_path.to_str().unwrap();
    let wrote = stdout(&triage(&l1.home, &["report", "--html", html_arg]).await);
    assert!(wrote.starts_with("Wrote "), "{wrote}");
    let again = triage(&l1.home, &["report", "--html", html_arg]).await;
    assert!(!again.status.success(), "an existing file is not replaced");
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    stdout(&triage(&l1.home, &["report", "--html", html_arg, "--force"]).await);
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert_eq!(html.matches("<svg").count(), 5, "five charts");
    assert!(!html.contains("<script"), "the hostname came out as markup");
    assert!(html.contains("&lt;script&gt;"));
    for outside in ["http://", "https://", "src="] {
        assert!(!html.contains(outside), "the page names {outside}");
    }

    open_in_chromium(&html_path).await;
}

/// Opens the page in headless Chromium: its DOM holds the five charts and
/// its screenshot is a real picture, kept as an artifact.
async fn open_in_chromium(page: &Path) {
    let chromium = ["chromium", "chromium-browser"].into_iter().find(|name| {
        std::process::Command::new("sh")
            .args(["-c", &format!("command -v {name}")])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    let Some(chromium) = chromium else {
        eprintln!(
            "note: chromium is not installed (`apt-get install chromium`); \
             skipping the check that the report opens in a browser"
        );
        return;
    };
    let artifacts = target_dir().join("report-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let screenshot = artifacts.join("report.png");
    let _ = std::fs::remove_file(&screenshot);
    let profile = tempfile::tempdir().unwrap();
    let url = format!("file://{}", page.display());
    let run = |extra: Vec<String>| {
        let mut command = tokio::process::Command::new(chromium);
        command
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(extra)
            .arg(&url)
            .kill_on_drop(true);
        async move {
            tokio::time::timeout(Duration::from_secs(120), command.output())
                .await
                .expect("chromium finishes within two minutes")
                .expect("chromium runs")
        }
    };
    let dom = run(vec!["--dump-dom".into()]).await;
    let dom_text = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.status.success(),
        "chromium --dump-dom failed: {}",
        String::from_utf8_lossy(&dom.stderr)
    );
    for id in [
        "chart-tickets-per-day",
        "chart-resolution-time",
        "chart-sla-compliance",
        "chart-backlog",
        "chart-alerting-hosts",
    ] {
        assert!(
            dom_text.contains(&format!("<figure id=\"{id}\"><svg")),
            "{id} not in the DOM"
        );
    }
    assert_eq!(dom_text.matches("<svg").count(), 5);
    assert!(!dom_text.contains("<script"), "markup from a hostname");

    let shot = run(vec![
        format!("--screenshot={}", screenshot.display()),
        "--window-size=1280,2400".into(),
        "--hide-scrollbars".into(),
    ])
    .await;
    assert!(
        shot.status.success(),
        "chromium --screenshot failed: {}",
        String::from_utf8_lossy(&shot.stderr)
    );
    let png = std::fs::read(&screenshot).expect("chromium wrote the screenshot");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((width, height), (1280, 2400));
    // A blank page of that size compresses to a few kilobytes; charts,
    // tables and text take far more.
    assert!(
        png.len() > 40_000,
        "a nearly empty screenshot: {} bytes",
        png.len()
    );
    eprintln!("screenshot kept at {}", screenshot.display());
}
