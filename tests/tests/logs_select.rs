//! Which lines a log pull brings: `--tail`, `--since` and `--grep` pick
//! the right ones, and `--follow` streams appended lines until stopped.

use std::io::Write;
use std::time::Duration;
use triage_e2e::logs::*;
use triage_e2e::{eventually, Deployment};
use triage_shared::roles::Role;
use triage_shared::transfer::ContentDigest;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_since_and_grep_select_the_right_lines() {
    let d = Deployment::start().await;
    let (mut agent, logs) = agent_with_log_dir(&d, "webhost", "").await;
    agent.start_daemon();
    agent.wait_online(d.relay()).await;
    let lina = d.technician("lina", &[Role::L2]).await;
    let id = agent.id.to_string();

    let hours = chrono::Duration::hours;
    let minutes = chrono::Duration::minutes;
    let syslog_lines = [
        format!(
            "{} web1 sshd[100]: old login accepted\n",
            syslog_stamp(hours(5))
        ),
        format!(
            "{} web1 nginx[7]: old error: upstream timed out\n",
            syslog_stamp(hours(3))
        ),
        "    old continuation of the upstream error\n".to_string(),
        format!(
            "{} web1 cron[9]: recent job started\n",
            syslog_stamp(minutes(20))
        ),
        format!(
            "{} web1 nginx[7]: recent error: disk full\n",
            syslog_stamp(minutes(10))
        ),
        "    recent continuation of disk full\n".to_string(),
        format!(
            "{} web1 cron[9]: recent job finished\n",
            syslog_stamp(minutes(1))
        ),
    ];
    let syslog = logs.join("syslog");
    std::fs::write(&syslog, syslog_lines.concat()).unwrap();

    let iso_lines = [
        "preamble without a timestamp\n".to_string(),
        format!("{} INFO service starting\n", iso_stamp(hours(30))),
        format!("{} ERROR database unreachable\n", iso_stamp(hours(26))),
        format!("{} INFO retrying\n", iso_stamp(hours(2))),
        format!(
            "{} ERROR database unreachable again\n",
            iso_stamp(minutes(45))
        ),
        format!("{} INFO connected\n", iso_stamp(minutes(5))),
    ];
    let iso = logs.join("app.log");
    std::fs::write(&iso, iso_lines.concat()).unwrap();
    let syslog = syslog.to_str().unwrap();
    let iso = iso.to_str().unwrap();

    let pull = |args: Vec<&str>| {
        let lina = lina.clone();
        let args: Vec<String> = args.into_iter().map(str::to_string).collect();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            lina.run(&args)
                .await
                .unwrap_or_else(|e| panic!("triage {args:?} failed: {e}"))
        }
    };

    // No filter: the whole file, exactly.
    assert_eq!(pull(vec!["logs", &id, syslog]).await, syslog_lines.concat());
    // --tail N: the last N lines.
    assert_eq!(
        pull(vec!["logs", &id, syslog, "--tail", "2"]).await,
        syslog_lines[5..].concat()
    );
    assert_eq!(
        pull(vec!["logs", &id, iso, "--tail", "1"]).await,
        iso_lines[5]
    );
    // --since: lines stamped within the window, with their continuations.
    assert_eq!(
        pull(vec!["logs", &id, syslog, "--since", "1h"]).await,
        syslog_lines[3..].concat()
    );
    assert_eq!(
        pull(vec!["logs", &id, iso, "--since", "1h"]).await,
        iso_lines[4..].concat()
    );
    assert_eq!(
        pull(vec!["logs", &id, iso, "--since", "1d"]).await,
        iso_lines[3..].concat()
    );
    // --grep: matching lines only, anywhere in the line.
    assert_eq!(
        pull(vec!["logs", &id, syslog, "--grep", "error:"]).await,
        [syslog_lines[1].clone(), syslog_lines[4].clone()].concat()
    );
    assert_eq!(
        pull(vec!["logs", &id, iso, "--grep", "^\\S+ ERROR"]).await,
        [iso_lines[2].clone(), iso_lines[4].clone()].concat()
    );
    // Combined: both must hold; --tail picks the lines the filters then see.
    assert_eq!(
        pull(vec![
            "logs",
            &id,
            syslog,
            "--since",
            "1h",
            "--grep",
            "continuation|disk"
        ])
        .await,
        syslog_lines[4..6].concat()
    );
    assert_eq!(
        pull(vec!["logs", &id, iso, "--since", "1d", "--grep", "ERROR"]).await,
        iso_lines[4]
    );
    assert_eq!(
        pull(vec!["logs", &id, syslog, "--tail", "3", "--grep", "job"]).await,
        syslog_lines[6]
    );
    // Nothing matches: an empty, successful pull.
    assert_eq!(
        pull(vec!["logs", &id, iso, "--grep", "kernel panic"]).await,
        ""
    );
    // A bad pattern is refused by name.
    let err = lina
        .refused(&["logs", &id, iso, "--grep", "(unclosed"])
        .await;
    assert!(
        err.contains("(unclosed") && err.contains("regular expression"),
        "{err}"
    );

    let transfers = d.relay().store().transfers(50).await.unwrap();
    assert_eq!(
        transfers.iter().filter(|t| t.result == "ok").count(),
        12,
        "{transfers:?}"
    );
    agent.stop_daemon().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_streams_appended_lines_until_stopped() {
    let d = Deployment::start().await;
    let (mut agent, logs) = agent_with_log_dir(&d, "kiosk", "").await;
    agent.start_daemon();
    agent.wait_online(d.relay()).await;
    let lina = d.technician("lina", &[Role::L2]).await;

    let path = logs.join("service.log");
    std::fs::write(&path, "first line\nsecond line\n").unwrap();
    let cli = parse_cli(
        &lina.home,
        &[
            "logs",
            &agent.id.to_string(),
            path.to_str().unwrap(),
            "--follow",
        ],
    );
    let buf = SharedBuf::default();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let follow = tokio::spawn({
        let mut out = buf.clone();
        async move {
            let stop = async {
                let _ = stop_rx.await;
            };
            triage_cli::run_until(cli, &mut out, stop).await
        }
    });

    // What was there already comes first...
    assert!(
        eventually(Duration::from_secs(20), || async {
            buf.text() == "first line\nsecond line\n"
        })
        .await,
        "the existing lines never arrived: {:?}",
        buf.text()
    );
    // ...then each appended line, as it is written.
    for i in 1..=3 {
        let line = format!("appended line {i}\n");
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        file.write_all(line.as_bytes()).unwrap();
        drop(file);
        assert!(
            eventually(Duration::from_secs(20), || async {
                buf.text().ends_with(&line)
            })
            .await,
            "{line:?} never arrived: {:?}",
            buf.text()
        );
    }
    assert!(!follow.is_finished(), "the follow ended by itself");

    let _ = stop_tx.send(());
    let result = tokio::time::timeout(Duration::from_secs(30), follow)
        .await
        .expect("the follow ends once stopped")
        .expect("the follow task did not panic");
    result.expect("a stopped follow ends cleanly");
    assert_eq!(
        buf.text(),
        "first line\nsecond line\nappended line 1\nappended line 2\nappended line 3\n"
    );

    let transfers = d.relay().store().transfers(10).await.unwrap();
    assert_eq!(transfers.len(), 1, "{transfers:?}");
    assert_eq!(transfers[0].result, "stopped by the technician");
    let expected = "first line\nsecond line\nappended line 1\nappended line 2\nappended line 3\n";
    assert_eq!(transfers[0].bytes, expected.len() as u64);
    assert_eq!(
        transfers[0].sha256,
        Some(ContentDigest::of(expected.as_bytes()))
    );
    agent.stop_daemon().await;
}
