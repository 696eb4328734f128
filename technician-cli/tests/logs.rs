//! `triage logs` against a stand-in relay: what reaches stdout or the file,
//! and that a body that does not arrive whole leaves no file behind.

mod common;

use common::{keyed_home, resolve_agent_among, triage, FakeRelay, Known};
use std::path::Path;
use std::sync::Arc;
use triage_cli::CliError;
use triage_shared::error::{ErrorKind, RemoteError};
use triage_shared::protocol::{AgentSummary, Request, Response};
use triage_shared::roles::Role;
use triage_shared::time::Timestamp;
use triage_shared::transfer::{
    ContentDigest, EndReason, TransferEnd, TransferFrame, TransferStart,
};
use triage_shared::AgentId;

const AGENT: &str = "9999ffff-1111-4000-8000-000000000003";

fn start() -> Response {
    Response::Transfer(TransferFrame::Start(TransferStart {
        name: "/var/log/syslog".into(),
        upper_bound: None,
        exact: false,
    }))
}

fn chunk(data: &[u8]) -> Response {
    Response::Transfer(TransferFrame::Chunk(data.to_vec()))
}

fn end(data: &[u8], reason: EndReason) -> Response {
    Response::Transfer(TransferFrame::End(TransferEnd {
        bytes: data.len() as u64,
        sha256: ContentDigest::of(data),
        reason,
    }))
}

/// A logged-in l2 technician whose relay answers a pull with `pull`.
async fn world(pull: Vec<Response>) -> (tempfile::TempDir, FakeRelay) {
    let (dir, key) = keyed_home().await;
    let relay = FakeRelay::start(
        vec![Known {
            key,
            name: "lina".into(),
            roles: vec![Role::L2],
        }],
        Arc::new(move |r: &Request| match r {
            Request::ResolveAgent { selector } => vec![resolve_agent_among(
                &[AgentSummary {
                    id: AGENT.parse::<AgentId>().unwrap(),
                    hostname: "laptop-7".into(),
                    os: "Debian".into(),
                    enrolled_at: Timestamp(0),
                    last_seen: None,
                    online: true,
                }],
                selector,
            )],
            Request::PullLogs { .. } => pull.clone(),
            other => panic!("unexpected {other:?}"),
        }),
    );
    triage(dir.path(), &["login", &relay.locator.to_string()])
        .await
        .unwrap();
    (dir, relay)
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("out"))
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_pull_prints_the_body_and_nothing_else() {
    let (home, relay) = world(vec![
        start(),
        chunk(b"line 1\n"),
        chunk(b"line 2\n"),
        end(b"line 1\nline 2\n", EndReason::Complete),
    ])
    .await;
    let out = triage(
        home.path(),
        &["logs", "laptop-7", "/var/log/syslog", "--tail", "2"],
    )
    .await
    .unwrap();
    assert_eq!(out, "line 1\nline 2\n");
    let sent = relay.requests();
    let Some(Request::PullLogs {
        agent,
        query,
        attach,
    }) = sent.last()
    else {
        panic!("{sent:?}")
    };
    assert_eq!(agent.to_string(), AGENT);
    assert_eq!(
        (query.path.as_str(), query.tail, *attach),
        ("/var/log/syslog", Some(2), None)
    );
}

#[tokio::test]
async fn output_to_a_file_is_verified_then_renamed() {
    let (home, _relay) = world(vec![
        start(),
        chunk(b"abc"),
        end(b"abc", EndReason::Complete),
    ])
    .await;
    let target = home.path().join("out.log");
    let out = triage(
        home.path(),
        &[
            "logs",
            "laptop-7",
            "/var/log/syslog",
            "-o",
            target.to_str().unwrap(),
        ],
    )
    .await
    .unwrap();
    assert!(out.starts_with("Saved 3 bytes to "), "{out}");
    assert!(out.contains("verified"), "{out}");
    assert_eq!(std::fs::read(&target).unwrap(), b"abc");
    assert_eq!(files(home.path()), ["out.log"]);
}

#[tokio::test]
async fn a_digest_mismatch_leaves_no_file() {
    let (home, _relay) = world(vec![
        start(),
        chunk(b"abc"),
        end(b"abd", EndReason::Complete),
    ])
    .await;
    let target = home.path().join("out.log");
    let err = triage(
        home.path(),
        &[
            "logs",
            "laptop-7",
            "/var/log/syslog",
            "-o",
            target.to_str().unwrap(),
        ],
    )
    .await
    .unwrap_err();
    assert!(matches!(err, CliError::TransferFailed { .. }), "{err}");
    assert!(err.to_string().contains("did not arrive intact"), "{err}");
    assert!(files(home.path()).is_empty(), "{:?}", files(home.path()));
}

#[tokio::test]
async fn a_stream_that_stops_part_way_leaves_no_file() {
    // The relay finishes the stream after a chunk, without an end frame.
    let (home, _relay) = world(vec![start(), chunk(b"half")]).await;
    let target = home.path().join("out.log");
    let err = triage(
        home.path(),
        &[
            "logs",
            "laptop-7",
            "/var/log/syslog",
            "-o",
            target.to_str().unwrap(),
        ],
    )
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("after 4 bytes"), "{text}");
    assert!(text.contains("nothing was saved to"), "{text}");
    assert!(files(home.path()).is_empty(), "{:?}", files(home.path()));
}

#[tokio::test]
async fn an_error_part_way_is_reported_and_leaves_no_file() {
    let gone = RemoteError::new(
        ErrorKind::Unavailable,
        "agent 9999ffff (laptop-7) disconnected after sending 4 bytes; the transfer is incomplete",
    );
    let (home, _relay) = world(vec![start(), chunk(b"half"), Response::Error(gone)]).await;
    let target = home.path().join("out.log");
    let err = triage(
        home.path(),
        &[
            "logs",
            "laptop-7",
            "/var/log/syslog",
            "-o",
            target.to_str().unwrap(),
        ],
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("agent 9999ffff (laptop-7) disconnected after sending 4 bytes"),
        "{err}"
    );
    assert!(files(home.path()).is_empty());
}

#[tokio::test]
async fn a_refusal_is_shown_as_the_agent_worded_it() {
    let refusal = RemoteError::new(
        ErrorKind::Forbidden,
        "/etc/shadow is outside this endpoint's log allow-list (/var/log)",
    );
    let (home, _relay) = world(vec![Response::Error(refusal)]).await;
    let target = home.path().join("out.log");
    let err = triage(
        home.path(),
        &[
            "logs",
            "laptop-7",
            "/etc/shadow",
            "-o",
            target.to_str().unwrap(),
        ],
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "not allowed: /etc/shadow is outside this endpoint's log allow-list (/var/log)"
    );
    assert!(files(home.path()).is_empty());
}

#[tokio::test]
async fn the_endpoint_limit_is_an_error_and_nothing_is_saved() {
    let (home, _relay) = world(vec![
        start(),
        chunk(b"1234"),
        end(b"1234", EndReason::LimitReached { limit: 4 }),
    ])
    .await;
    let target = home.path().join("out.log");
    let err = triage(
        home.path(),
        &[
            "logs",
            "laptop-7",
            "/var/log/syslog",
            "-o",
            target.to_str().unwrap(),
        ],
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, CliError::LimitReached { limit: 4, .. }),
        "{err}"
    );
    assert!(files(home.path()).is_empty());
}
