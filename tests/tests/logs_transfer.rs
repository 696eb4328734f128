//! Log pulls that move a lot: a 200 MiB file arrives byte-identical
//! without anyone buffering it, and an agent killed mid-transfer leaves no
//! file named as complete.

use std::path::Path;
use std::time::{Duration, Instant};
use triage_e2e::logs::*;
use triage_e2e::{eventually, Deployment};
use triage_shared::roles::Role;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_mib_log_arrives_byte_identical_through_the_relay_with_bounded_memory() {
    let d = Deployment::start().await;
    let (mut agent, logs) = agent_with_log_dir(&d, "fileserver", "").await;
    agent.start_daemon();
    agent.wait_online(d.relay()).await;
    let lina = d.technician("lina", &[Role::L2]).await;

    let source = logs.join("big.log");
    let size = 200 * MIB;
    let expected = write_pseudo_random(&source, size / MIB);
    let out = d.dir.path().join("big-copy.log");

    // Reset the peak (Linux: "5" clears VmHWM) so it measures this pull only;
    // where that is refused, the peak so far is the baseline.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let peak_before = proc_status_bytes("VmHWM:");
    let rss_before = proc_status_bytes("VmRSS:");

    let id = agent.id.to_string();
    let started = Instant::now();
    let said = lina
        .run(&[
            "logs",
            &id,
            source.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ])
        .await
        .expect("the pull succeeds");
    let took = started.elapsed();

    let peak_after = proc_status_bytes("VmHWM:");
    let grew = peak_after.saturating_sub(peak_before.max(rss_before));
    assert!(
        grew < 100 * MIB,
        "peak memory grew by {} MiB while pulling a {} MiB log (before: {} MiB, after: {} MiB): something buffered the body",
        grew / MIB,
        size / MIB,
        peak_before / MIB,
        peak_after / MIB
    );

    assert!(
        said.starts_with(&format!("Saved {size} bytes to {}", out.display())),
        "{said}"
    );
    assert!(said.contains(&expected.to_string()), "{said}");
    assert!(said.trim_end().ends_with("verified)."), "{said}");
    let (bytes, got) = digest_of_file(&out);
    assert_eq!(bytes, size);
    assert_eq!(got, expected, "the copy differs from the source");
    assert!(
        !partial_of(&out).exists(),
        "a .partial file was left behind"
    );

    let transfers = d.relay().store().transfers(10).await.unwrap();
    assert_eq!(transfers.len(), 1, "{transfers:?}");
    let row = &transfers[0];
    assert_eq!(row.kind, "log");
    assert_eq!(row.technician, "lina");
    assert_eq!(row.agent_id, agent.id);
    assert_eq!(row.path, source.to_str().unwrap());
    assert_eq!(row.bytes, size);
    assert_eq!(row.sha256, Some(expected));
    assert_eq!(row.result, "ok");
    eprintln!(
        "200 MiB pulled in {took:?}; peak memory grew by {} MiB",
        grew / MIB
    );
    agent.stop_daemon().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_killed_mid_transfer_leaves_no_complete_file() {
    let d = Deployment::start().await;
    // A body larger than the default 1 GiB limit, so only the kill ends it.
    let (agent, logs) = agent_with_log_dir(&d, "dying", "max_log_bytes = 8589934592\n").await;
    let source = logs.join("huge.log");
    // Sparse: 4 GiB that take no disk and read as fast as the pipe allows.
    std::fs::File::create(&source)
        .unwrap()
        .set_len(4 * 1024 * MIB)
        .unwrap();

    let agent_log = std::fs::File::create(d.dir.path().join("agent-process.log")).unwrap();
    let mut process = KillOnDrop(
        std::process::Command::new(triage_e2e::agent_binary())
            .arg("run")
            .arg("--state-dir")
            .arg(&agent.state_dir)
            .stdin(std::process::Stdio::null())
            .stdout(agent_log.try_clone().unwrap())
            .stderr(agent_log)
            .spawn()
            .expect("triage-agent starts"),
    );
    agent.wait_online(d.relay()).await;
    let lina = d.technician("lina", &[Role::L2]).await;

    let out = d.dir.path().join("huge-copy.log");
    let partial = partial_of(&out);
    let pull = tokio::spawn({
        let lina = lina.clone();
        let id = agent.id.to_string();
        let (source, out) = (source.clone(), out.clone());
        async move {
            lina.run(&[
                "logs",
                &id,
                source.to_str().unwrap(),
                "-o",
                out.to_str().unwrap(),
            ])
            .await
        }
    });

    // Wait until the body is flowing into OUT.partial...
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    assert!(
        eventually(Duration::from_secs(30), || async {
            size(&partial) > 4 * MIB
        })
        .await,
        "{} never grew (pull finished: {})",
        partial.display(),
        pull.is_finished()
    );
    // ...then kill the agent outright: no goodbye, no End frame.
    process.0.kill().expect("SIGKILL the agent");
    process.0.wait().expect("the agent is reaped");
    let received = size(&partial);
    let killed = Instant::now();

    // The relay notices once QUIC's idle timeout passes (20 s).
    let err = tokio::time::timeout(Duration::from_secs(50), pull)
        .await
        .expect("the CLI gives up on a dead agent")
        .expect("the pull task did not panic")
        .expect_err("a pull cut short must fail");
    eprintln!(
        "the CLI reported the dead agent {:?} after the kill",
        killed.elapsed()
    );
    let err = err.to_string();
    assert!(
        err.contains("disconnected") && err.contains("incomplete"),
        "the message should say the agent disconnected and the transfer is incomplete: {err}"
    );
    assert!(err.contains("nothing was saved"), "{err}");
    assert!(
        !out.exists(),
        "{} exists after a failed pull",
        out.display()
    );
    assert!(!partial.exists(), "{} was left behind", partial.display());

    let transfers = d.relay().store().transfers(10).await.unwrap();
    assert_eq!(transfers.len(), 1, "{transfers:?}");
    let row = &transfers[0];
    assert!(row.result.starts_with("failed:"), "{row:?}");
    assert!(row.result.contains("disconnected"), "{row:?}");
    assert_eq!(row.sha256, None, "an incomplete body has no digest");
    assert!(
        row.bytes >= received && row.bytes < 4 * 1024 * MIB,
        "recorded {} bytes; the CLI had {received}",
        row.bytes
    );
}
