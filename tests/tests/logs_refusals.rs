//! Bad log pulls and screenshots without consent are refused clearly,
//! change nothing, and are audited.

use std::path::Path;
use std::time::{Duration, Instant};
use triage_e2e::logs::*;
use triage_e2e::Deployment;
use triage_shared::roles::Role;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_clear_and_change_nothing() {
    use std::os::unix::fs::{symlink, FileTypeExt};

    let d = Deployment::start().await;
    let (mut agent, logs) = agent_with_log_dir(&d, "laptop", "").await;
    agent.start_daemon();
    agent.wait_online(d.relay()).await;
    let lina = d.technician("lina", &[Role::L2]).await;
    let id = agent.id.to_string();

    std::fs::write(logs.join("app.log"), "fine\n").unwrap();
    let traversal = format!("{}/../../../../../../etc/passwd", logs.display());
    let escape = logs.join("escape.log");
    symlink("/etc/passwd", &escape).unwrap();
    let fifo = logs.join("pipe.log");
    mkfifo(&fifo);
    let null = logs.join("null.log");
    symlink("/dev/null", &null).unwrap();
    let missing = logs.join("missing.log");
    let out = d.dir.path().join("pulled.log");
    let out_s = out.to_str().unwrap();

    let shadow = format!("{}/../../etc/shadow", logs.display());
    let cases: Vec<(&str, String, &[&str])> = vec![
        ("traversal", traversal.clone(), &["outside", "allow-list"]),
        (
            "traversal to a file that may not exist",
            shadow,
            &["outside", "allow-list"],
        ),
        (
            "symlink out of the allow-list",
            escape.display().to_string(),
            &["outside", "allow-list"],
        ),
        (
            "FIFO",
            fifo.display().to_string(),
            &["FIFO", "not a regular file"],
        ),
        (
            "/dev/null through a symlink",
            null.display().to_string(),
            &["outside", "allow-list"],
        ),
        (
            "missing file",
            missing.display().to_string(),
            &["does not exist"],
        ),
    ];
    for (what, path, words) in &cases {
        let started = Instant::now();
        let err = lina.refused(&["logs", &id, path, "-o", out_s]).await;
        for word in *words {
            assert!(err.contains(word), "{what}: {word:?} missing from: {err}");
        }
        assert!(
            !err.contains("root:"),
            "{what}: the refusal leaks file content: {err}"
        );
        assert!(!out.exists(), "{what}: {out_s} was created");
        assert!(!partial_of(&out).exists(), "{what}: a .partial was left");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{what}: took {:?}",
            started.elapsed()
        );
    }
    // Nothing on the endpoint changed.
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());
    assert_eq!(
        std::fs::read_link(&escape).unwrap(),
        Path::new("/etc/passwd")
    );
    assert_eq!(std::fs::read_link(&null).unwrap(), Path::new("/dev/null"));
    assert!(!missing.exists());

    // Every refusal the agent gave is on record, with no bytes sent.
    let transfers = d.relay().store().transfers(50).await.unwrap();
    assert_eq!(transfers.len(), cases.len(), "{transfers:?}");
    for t in &transfers {
        assert!(t.result.starts_with("refused"), "{t:?}");
        assert_eq!(t.bytes, 0, "{t:?}");
        assert_eq!(t.sha256, None, "{t:?}");
    }

    // An unknown agent.
    let unknown = triage_shared::AgentId::new_random().to_string();
    let err = lina
        .refused(&["logs", &unknown, "/var/log/syslog", "-o", out_s])
        .await;
    assert!(err.contains("no agent") && err.contains(&unknown), "{err}");
    assert!(!out.exists() && !partial_of(&out).exists());

    // An l1 technician: log pulls need l2.
    let leo = d.technician("leo", &[Role::L1]).await;
    let app = logs.join("app.log");
    let err = leo
        .refused(&["logs", &id, app.to_str().unwrap(), "-o", out_s])
        .await;
    assert!(err.contains("not allowed") && err.contains("l2"), "{err}");
    assert!(!out.exists() && !partial_of(&out).exists());

    // The same pull works for lina, so the refusals above were about the request.
    let said = lina
        .run(&["logs", &id, app.to_str().unwrap(), "-o", out_s])
        .await
        .expect("an allowed pull succeeds");
    assert!(said.starts_with("Saved 5 bytes"), "{said}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "fine\n");
    std::fs::remove_file(&out).unwrap();

    // An offline agent: refused at once, not after a timeout.
    agent.stop_daemon().await;
    agent.wait_offline(d.relay()).await;
    let started = Instant::now();
    let err = lina
        .refused(&["logs", &id, app.to_str().unwrap(), "-o", out_s])
        .await;
    assert!(err.contains("offline"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "an offline agent took {:?} to refuse",
        started.elapsed()
    );
    assert!(!out.exists() && !partial_of(&out).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screenshot_requests_are_refused_without_consent_and_audited() {
    let d = Deployment::start().await;
    let mut agent = d.enroll_agent("reception").await;
    agent.start_daemon();
    agent.wait_online(d.relay()).await;
    let lina = d.technician("lina", &[Role::L2]).await;
    let id = agent.id.to_string();
    let out = d.dir.path().join("screen.png");
    let out_s = out.to_str().unwrap();

    // Default policy: only with the user's consent, which nobody gave.
    let err = lina.refused(&["screenshot", &id, "-o", out_s]).await;
    assert!(err.contains("consent"), "{err}");
    assert!(!out.exists() && !partial_of(&out).exists());
    let err = lina.refused(&["screenshot", &id]).await;
    assert!(err.contains("consent"), "{err}");

    // l1 may not ask at all.
    let leo = d.technician("leo", &[Role::L1]).await;
    let err = leo.refused(&["screenshot", &id]).await;
    assert!(err.contains("not allowed") && err.contains("l2"), "{err}");

    // Policy "never": refused before anyone is asked, naming the policy.
    agent.stop_daemon().await;
    agent.wait_offline(d.relay()).await;
    write_agent_toml(&agent, "screenshots = \"never\"\n");
    agent.start_daemon();
    agent.wait_online(d.relay()).await;
    let err = lina.refused(&["screenshot", &id, "-o", out_s]).await;
    assert!(
        err.contains("policy") && err.contains("screenshots = \"never\""),
        "{err}"
    );
    assert!(!out.exists() && !partial_of(&out).exists());

    let audit = d.admin.json(&["audit", "--json"]).await;
    let shots = |who: &str| -> Vec<serde_json::Value> {
        audit
            .as_array()
            .expect("audit --json is an array")
            .iter()
            .filter(|e| e["action"] == "screenshot")
            // Outcomes only; each act also has its intent entry before it.
            .filter(|e| e["outcome"] != "started")
            .filter(|e| e["actor"].as_str().is_some_and(|a| a.contains(who)))
            .cloned()
            .collect()
    };
    let outcome = |e: &serde_json::Value| e["outcome"].as_str().unwrap_or_default().to_string();
    let by_lina = shots("lina");
    assert_eq!(by_lina.len(), 3, "{by_lina:#?}");
    for e in &by_lina {
        assert!(
            e["target"].as_str().unwrap_or_default().contains(&id),
            "{e}"
        );
        assert!(outcome(e).starts_with("refused"), "{e}");
    }
    assert!(outcome(&by_lina[0]).contains("consent"), "{}", by_lina[0]);
    assert!(outcome(&by_lina[1]).contains("consent"), "{}", by_lina[1]);
    assert!(outcome(&by_lina[2]).contains("policy"), "{}", by_lina[2]);
    let by_leo = shots("leo");
    assert_eq!(by_leo.len(), 1, "{by_leo:#?}");
    assert!(outcome(&by_leo[0]).starts_with("refused"), "{}", by_leo[0]);

    let transfers = d.relay().store().transfers(10).await.unwrap();
    assert_eq!(transfers.len(), 3, "{transfers:?}");
    assert!(transfers
        .iter()
        .all(|t| t.kind == "screenshot" && t.bytes == 0 && t.result.starts_with("refused")));
    agent.stop_daemon().await;
}
