//! Log pulls and screenshots through the dispatcher, with the allow-list
//! and screenshot policy read from agent.toml in the state directory.

use super::*;
use crate::config::CONFIG_FILE;
use crate::logs::pump_tests::body;
use triage_shared::transfer::{EndReason, LogQuery};

fn configure(w: &World, toml: &str) {
    std::fs::write(w.tmp.path().join(CONFIG_FILE), toml).unwrap();
}

#[tokio::test]
async fn a_log_under_the_configured_allow_list_is_streamed() {
    let w = world();
    let logs = w.tmp.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    std::fs::write(logs.join("app.log"), b"one\ntwo\n").unwrap();
    configure(&w, &format!("log_paths = [\"{}\"]\n", logs.display()));
    let query = LogQuery::whole(logs.join("app.log").display().to_string());
    let replies = exchange(&w.endpoint(), &AgentCommand::PullLogs(query)).await;
    assert_eq!(
        body(&replies),
        (b"one\ntwo\n".to_vec(), EndReason::Complete)
    );
}

#[tokio::test]
async fn the_default_allow_list_refuses_other_places() {
    let w = world();
    let path = w.tmp.path().join("agent-id");
    let query = LogQuery::whole(path.display().to_string());
    let replies = exchange(&w.endpoint(), &AgentCommand::PullLogs(query)).await;
    let [AgentReply::Error(e)] = replies.as_slice() else {
        panic!("{replies:?}")
    };
    assert_eq!(e.kind, ErrorKind::Forbidden);
    assert!(e.message.contains("allow-list"), "{}", e.message);
}

#[tokio::test]
async fn screenshots_ask_for_consent_or_follow_the_policy() {
    let w = world();
    let ask = AgentCommand::Screenshot {
        requested_by: "lina".into(),
        ticket: None,
        requester: None,
    };
    let replies = exchange(&w.endpoint(), &ask).await;
    let [AgentReply::Error(e)] = replies.as_slice() else {
        panic!("{replies:?}")
    };
    assert_eq!(e.kind, ErrorKind::Forbidden);
    // No window is open: whoever is at the console (or nobody) is not asked.
    assert!(
        e.message
            .starts_with("the user did not consent to a screenshot: ")
            && e.message.contains("Get help window"),
        "{}",
        e.message
    );
    configure(&w, "screenshots = \"never\"\n");
    let replies = exchange(&w.endpoint(), &ask).await;
    let [AgentReply::Error(e)] = replies.as_slice() else {
        panic!("{replies:?}")
    };
    assert!(
        e.message.contains("does not allow screenshots"),
        "{}",
        e.message
    );
}
