//! `triage agents ping`: technician → relay → agent daemon → back, with the
//! real CLI entry point, relay and daemon.

use std::time::{Duration, Instant};
use triage_e2e::{eventually, Deployment};
use triage_shared::roles::Role;

/// The two times of a `reply from HOST (ID): X ms (relay→agent Y ms)` line.
fn reply_times(line: &str, prefix: &str) -> (f64, f64) {
    let rest = line
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("`{line}` does not start with `{prefix}`"));
    let (rtt, rest) = rest
        .split_once(" ms (relay→agent ")
        .unwrap_or_else(|| panic!("no relay→agent time in `{line}`"));
    let hop = rest
        .strip_suffix(" ms)")
        .unwrap_or_else(|| panic!("`{line}` does not end in ` ms)`"));
    (rtt.parse().unwrap(), hop.parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_reaches_a_running_agent_and_prints_a_line_per_reply_and_a_summary() {
    let d = Deployment::start().await;
    let mut agent = d.enroll_agent("workstation").await;
    agent.start_daemon();
    agent.wait_online(d.relay()).await;
    // Seeing agents is enough to ping them.
    let ana = d.technician("ana", &[Role::Approver]).await;
    let listed = ana.json(&["agents", "list", "--json"]).await;
    let host = listed[0]["hostname"].as_str().unwrap().to_string();
    let id = agent.id.to_string();

    let out = ana
        .run(&[
            "agents",
            "ping",
            &host,
            "--count",
            "2",
            "--interval-ms",
            "10",
        ])
        .await
        .unwrap_or_else(|e| panic!("ping failed: {e}"));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    let prefix = format!("reply from {host} ({}): ", &id[..8]);
    for line in &lines[..2] {
        let (rtt, hop) = reply_times(line, &prefix);
        assert!(hop > 0.0 && rtt >= hop, "{line}");
        assert!(rtt < 2_000.0, "{line}");
    }
    assert!(
        lines[2].starts_with("2 sent, 2 answered, min/avg/max ") && lines[2].ends_with(" ms"),
        "{}",
        lines[2]
    );

    // By id prefix, as JSON.
    let report = ana
        .json(&[
            "agents",
            "ping",
            &id[..8],
            "--count",
            "3",
            "--interval-ms",
            "0",
            "--json",
        ])
        .await;
    assert_eq!(report["agent"], id.as_str());
    assert_eq!(report["summary"]["sent"], 3);
    assert_eq!(report["summary"]["answered"], 3);
    let samples = report["samples"].as_array().unwrap();
    assert_eq!(samples.len(), 3);
    for (i, s) in samples.iter().enumerate() {
        assert_eq!(s["seq"], i + 1);
        assert!(s["rtt_micros"].as_u64().unwrap() >= s["agent_micros"].as_u64().unwrap());
        assert!(s["error"].is_null());
    }
    agent.stop_daemon().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pinging_an_unknown_or_offline_agent_fails_with_the_reason() {
    let d = Deployment::start().await;
    let lena = d.technician("lena", &[Role::L1]).await;
    let err = lena
        .refused(&["agents", "ping", "no-such-host", "--count", "2"])
        .await;
    assert!(
        err.contains("no agent has the id or hostname `no-such-host`"),
        "{err}"
    );
    let unknown = triage_shared::AgentId::new_random().to_string();
    let err = lena.refused(&["agents", "ping", &unknown]).await;
    assert!(err.contains(&unknown), "{err}");

    // An enrolled agent whose daemon is not running: every ping is counted
    // as unanswered, quickly, and the command fails.
    let mut agent = d.enroll_agent("laptop").await;
    agent.start_daemon();
    agent.wait_online(d.relay()).await;
    agent.stop_daemon().await;
    let relay = d.relay();
    assert!(
        eventually(Duration::from_secs(30), || async {
            !relay.is_agent_online(agent.id)
        })
        .await
    );
    let id = agent.id.to_string();
    let started = Instant::now();
    let err = lena
        .refused(&["agents", "ping", &id, "--count", "2", "--interval-ms", "10"])
        .await;
    assert!(err.contains("answered none of 2 pings"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "offline agent took {:?}",
        started.elapsed()
    );
}
