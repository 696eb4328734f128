//! The test hook `TRIAGE_RELAY_FAILPOINT=exit-after-ticket-commit`: the
//! relay process dies after committing a ticket and before acknowledging
//! it; the ticket is there after a restart, and resubmitting it stores
//! nothing new.

#![cfg(unix)]

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use triage_relay::failpoint::{EXIT_AFTER_TICKET_COMMIT, FAILPOINT_ENV};
use triage_shared::client::Session;
use triage_shared::identity::KeyPair;
use triage_shared::protocol::{PeerKind, Request, Response};
use triage_shared::ticket::{Category, NewTicket, Priority, Source};
use triage_shared::token::{EnrollmentToken, RelayLocator};
use triage_shared::TicketId;

const GUARD: Duration = Duration::from_secs(30);
/// `std::process::abort` ends the process with SIGABRT (6 on every Unix we run on).
const SIGABRT: i32 = 6;

/// Starts `triage-relay serve` on a fresh port and waits for its address.
async fn serve(dir: &Path, failpoint: Option<&str>) -> (tokio::process::Child, String) {
    let addr_file = dir.join("public-addr");
    let _ = std::fs::remove_file(&addr_file);
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_triage-relay"));
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .env_remove("TRIAGE_DATABASE_URL")
        .env_remove(FAILPOINT_ENV)
        .env("RUST_LOG", "error")
        .kill_on_drop(true);
    if let Some(value) = failpoint {
        command.env(FAILPOINT_ENV, value);
    }
    let child = command.spawn().unwrap();
    let deadline = tokio::time::Instant::now() + GUARD;
    loop {
        if let Ok(addr) = std::fs::read_to_string(&addr_file) {
            if !addr.trim().is_empty() {
                return (child, addr.trim().to_string());
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "serve did not start"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn token(dir: &Path) -> EnrollmentToken {
    let out = Command::new(env!("CARGO_BIN_EXE_triage-relay"))
        .args(["token", "--data-dir"])
        .arg(dir)
        .env_remove("TRIAGE_DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

fn ticket() -> NewTicket {
    NewTicket {
        id: TicketId::new_random(),
        title: "Printer on fire".into(),
        description: String::new(),
        category: Category::Hardware,
        priority: Priority::Urgent,
        source: Source::Employee,
        requester: "alice".into(),
    }
}

#[tokio::test]
async fn a_ticket_committed_before_a_crash_is_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, _) = serve(dir.path(), Some(EXIT_AFTER_TICKET_COMMIT)).await;
    let token = token(dir.path());
    let key = KeyPair::generate();
    let newcomer = Session::connect(&token.relay, &key, PeerKind::Agent)
        .await
        .unwrap();
    let enroll = Request::Enroll {
        token_secret: token.secret.to_hex(),
        hostname: "pc-1".into(),
        os: "x".into(),
    };
    assert!(matches!(
        newcomer.request(&enroll).await.unwrap(),
        Response::Enrolled { .. }
    ));
    newcomer.close().await;

    let agent = Session::connect(&token.relay, &key, PeerKind::AgentOneShot)
        .await
        .unwrap();
    let submit = Request::SubmitTicket {
        ticket: ticket(),
        snapshot: None,
    };
    let lost = agent.request(&submit).await;
    assert!(
        lost.is_err(),
        "the relay answered although it should have died: {lost:?}"
    );
    let status = tokio::time::timeout(GUARD, child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.signal(), Some(SIGABRT), "exited with {status}");

    // Restarted without the hook, the relay has the ticket: a resubmission
    // is recognised as one it already stored.
    let (mut child, addr) = serve(dir.path(), None).await;
    let relay = RelayLocator {
        addr,
        fingerprint: token.relay.fingerprint,
    };
    let agent = Session::connect(&relay, &key, PeerKind::AgentOneShot)
        .await
        .unwrap();
    match agent.request(&submit).await.unwrap() {
        Response::TicketStored { created, .. } => assert!(!created, "stored twice"),
        other => panic!("{other:?}"),
    }
    // Without the hook, new tickets are answered as usual.
    let another = Request::SubmitTicket {
        ticket: ticket(),
        snapshot: None,
    };
    assert!(matches!(
        agent.request(&another).await.unwrap(),
        Response::TicketStored { created: true, .. }
    ));
    agent.close().await;
    child.kill().await.unwrap();
}
