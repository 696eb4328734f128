//! A fleet larger than one page of any list: the relay resolves names
//! against every enrolled endpoint, and `agents list` pages through all of
//! them. Before, the CLI matched names against the first 1,000 by
//! hostname, so the rest could not be reached even by full id.

use std::time::Duration;
use triage_e2e::{eventually, Deployment};
use triage_shared::identity::KeyPair;
use triage_shared::roles::Role;
use triage_shared::time::Timestamp;

/// More than `MAX_LIST_ITEMS` (1,000) and than two relay pages (500 each).
const FLEET: usize = 1_100;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_of_1100_endpoints_is_listed_and_reached_by_id_and_prefix() {
    let d = Deployment::start().await;
    let mut last = d.enroll_agent("last").await;
    let store = d.relay().store();
    let real_hostname = store.agent(last.id).await.unwrap().unwrap().hostname;
    // Enrolled straight in the store, under hostnames that sort before the
    // real agent's, so it is the last by hostname.
    assert!(
        real_hostname.as_str() > "0-filler",
        "this machine's hostname `{real_hostname}` must sort after the fillers' for this test"
    );
    let token = d
        .relay()
        .create_token(FLEET as u32, Duration::from_secs(600))
        .await
        .unwrap();
    for n in 1..FLEET {
        store
            .enroll(
                &token.secret.hash_hex(),
                &KeyPair::generate().public_key(),
                &format!("0-filler-{n:04}"),
                "Debian 12",
                Timestamp::now(),
            )
            .await
            .unwrap();
    }
    let ana = d.technician("ana", &[Role::L1]).await;

    let listed = ana.json(&["agents", "list", "--json"]).await;
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), FLEET);
    assert_eq!(listed[FLEET - 1]["id"], last.id.to_string().as_str());
    let limited = ana
        .json(&["agents", "list", "--json", "--limit", "10"])
        .await;
    assert_eq!(limited.as_array().unwrap().len(), 10);
    let table = ana.run(&["agents", "list"]).await.unwrap();
    assert!(
        table.contains(&last.id.to_string()),
        "the table holds the last one too"
    );

    // Offline: found, and the reason is that it is offline.
    let id = last.id.to_string();
    let prefix = &id[..8];
    for name in [id.as_str(), prefix] {
        let (printed, outcome) = ana
            .printed(&["agents", "ping", name, "--count", "1", "--json"])
            .await;
        let err = outcome.unwrap_err().to_string();
        assert!(err.contains("answered none of 1 pings"), "{name}: {err}");
        let report: serde_json::Value = serde_json::from_str(&printed).unwrap();
        assert_eq!(report["agent"], id.as_str(), "{name}");
        assert_eq!(report["summary"]["answered"], 0, "{name}");
        let error = report["samples"][0]["error"].as_str().unwrap_or_default();
        assert!(error.contains("offline"), "{name}: {report}");
    }

    last.start_daemon();
    last.wait_online(d.relay()).await;
    for name in [id.as_str(), prefix] {
        let answered = eventually(Duration::from_secs(10), || async {
            let report = ana
                .json(&["agents", "ping", name, "--count", "1", "--json"])
                .await;
            report["summary"]["answered"] == 1
        })
        .await;
        assert!(answered, "a pong from the last endpoint by `{name}`");
    }
    last.stop_daemon().await;
}
