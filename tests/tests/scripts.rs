//! Remediation scripts: signed by their author, approved by a different
//! person, verified by the endpoint itself, run with output and exit code
//! recorded on the ticket; every refusal reaches the technician and the audit log.
//! What a hostile relay tries is in `hostile_relay.rs`.

use std::time::Duration;
use triage_e2e::scripts::{finished, refusal, setup, Setup};
use triage_shared::approval::{Interpreter, Nonce};

fn script_id_from(out: &str) -> String {
    out.split_whitespace()
        .find(|w| w.len() == 36 && w.chars().filter(|c| *c == '-').count() == 4)
        .unwrap_or_else(|| panic!("no script id in {out}"))
        .to_string()
}

async fn attach(s: &Setup, body: &str, extra: &[&str]) -> String {
    let file =
        s.d.dir
            .path()
            .join(format!("script-{}.sh", Nonce::generate()));
    std::fs::write(&file, body).unwrap();
    let path = file.display().to_string();
    let mut args = vec!["script", "attach", &s.ticket, &path];
    args.extend_from_slice(extra);
    script_id_from(&s.alice.run(&args).await.expect("attach"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approved_script_runs_and_its_output_and_exit_code_land_on_the_ticket() {
    let s = setup().await;
    let script = attach(
        &s,
        "echo fixed\necho 'spooler warning' >&2\n",
        &["--timeout", "30s", "--description", "restart spooler"],
    )
    .await;

    // Not approved yet: the relay will not even send it.
    let err = s
        .alice
        .refused(&["script", "run", &s.ticket, &script])
        .await;
    assert!(err.contains("approv"), "{err}");

    // The author cannot approve their own script.
    let digest = s.reviewed_digest(&s.alice, &script).await;
    let err = s
        .alice
        .refused(&[
            "script", "approve", &s.ticket, &script, "--digest", &digest, "--yes",
        ])
        .await;
    assert!(err.contains("approv"), "{err}");

    s.approve(&script, &["--expires", "1h"])
        .await
        .expect("approve");
    let out = s
        .alice
        .run(&["script", "run", &s.ticket, &script])
        .await
        .expect("run");
    assert!(out.contains("fixed"), "{out}");
    assert!(out.contains("spooler warning"), "{out}");
    assert!(out.contains("exit code 0"), "{out}");

    // The approval was single-use.
    let err = s
        .alice
        .refused(&["script", "run", &s.ticket, &script])
        .await;
    assert!(err.contains("approv"), "{err}");

    // A failing script reports its exit code.
    let failing = attach(&s, "echo trying\nexit 3\n", &[]).await;
    s.approve(&failing, &[]).await.unwrap();
    let err = s
        .alice
        .refused(&["script", "run", &s.ticket, &failing])
        .await;
    assert!(err.contains('3'), "{err}");

    let detail =
        s.d.admin
            .json(&["tickets", "show", &s.ticket, "--json"])
            .await;
    let runs = detail["script_runs"]
        .as_array()
        .expect("script runs on the ticket");
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(runs[0]["outcome"]["exit_code"], 0);
    assert!(runs[0]["output"].as_str().unwrap().contains("fixed"));
    assert_eq!(runs[1]["outcome"]["exit_code"], 3);

    // Every step is in the audit log, and the chain verifies.
    let audit = s.d.admin.json(&["audit", "--json"]).await.to_string();
    for action in ["enroll", "attach", "approve", "run"] {
        assert!(audit.contains(action), "audit lacks {action}: {audit}");
    }
    let verified =
        s.d.admin
            .run(&["audit", "verify"])
            .await
            .expect("audit verifies");
    assert!(verified.contains("intact"), "{verified}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_are_bounded_in_time_output_and_interpreter() {
    let mut s = setup().await;

    // Timeout: the script and the child it started are both killed.
    let pidfile = s.d.dir.path().join("child.pid");
    let sleeper = format!("sleep 120 &\necho $! > {}\nsleep 120\n", pidfile.display());
    let one_second = s.signed_script(sleeper.as_bytes(), Interpreter::Sh, 1);
    let o = s.approved(one_second, sleeper.as_bytes(), &s.carol.key(), |_| {});
    let (outcome, _) = finished(&s.send(o).await);
    assert!(outcome.timed_out, "{outcome:?}");
    assert_eq!(outcome.exit_code, None);
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let alive = triage_e2e::eventually(Duration::from_secs(5), || async move {
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|st| st.contains(") Z "))
    })
    .await;
    assert!(alive, "the script's child {pid} survived the timeout");

    // Output beyond the cap is counted and reported, not silently dropped.
    let produced = triage_shared::remote::MAX_SCRIPT_OUTPUT + 500_000;
    let flood = format!("head -c {produced} /dev/zero | tr '\\0' x\n");
    let (outcome, out) = finished(&s.send(s.valid_order(flood.as_bytes())).await);
    assert!(outcome.truncated, "{outcome:?}");
    assert_eq!(outcome.output_bytes, produced as u64);
    assert_eq!(out.len(), triage_shared::remote::MAX_SCRIPT_OUTPUT);

    // An interpreter the endpoint's config does not allow.
    std::fs::write(
        s.agent.state_dir.join(triage_agent::CONFIG_FILE),
        "allowed_interpreters = [\"bash\"]\n",
    )
    .unwrap();
    s.restart_agent().await;
    let r = s.send(s.valid_order(b"echo hi\n")).await;
    assert!(
        refusal(&r).contains("interpreter sh is not allowed"),
        "{r:?}"
    );
    s.agent.stop_daemon().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_audit_entry_is_found_and_named() {
    let s = setup().await;
    s.d.admin
        .run(&["audit", "verify"])
        .await
        .expect("intact at first");
    let db = s.d.dir.path().join("relay").join("relay.db");
    let url = format!("sqlite://{}", db.display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("UPDATE audit_log SET outcome = 'ok (edited)' WHERE seq = 2")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let err = s.d.admin.refused(&["audit", "verify"]).await;
    assert!(err.contains("entry 2"), "{err}");
}
