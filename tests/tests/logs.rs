//! Log pulls and screenshots streamed from an endpoint through the relay:
//! a large file arrives byte-identical without anyone buffering it, the
//! line filters pick the right lines, a follow streams until stopped, bad
//! requests are refused clearly, a dying agent leaves no file named as
//! complete, and screenshots need the user's consent.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use triage_e2e::{eventually, Agent, Deployment};
use triage_relay::RelayHandle;
use triage_shared::roles::Role;
use triage_shared::transfer::{ContentDigest, ContentHasher};

const MIB: u64 = 1024 * 1024;

/// Writes `<state>/agent.toml`; the daemon reads it when it starts.
fn write_agent_toml(agent: &Agent, text: &str) {
    std::fs::write(agent.state_dir.join("agent.toml"), text).expect("agent.toml written");
}

/// An agent whose only allow-listed log directory is a fresh temp dir.
async fn agent_with_log_dir(d: &Deployment, name: &str, extra: &str) -> (Agent, PathBuf) {
    let agent = d.enroll_agent(name).await;
    let logs = d.dir.path().join(format!("logs-{name}"));
    std::fs::create_dir_all(&logs).expect("log dir");
    // Canonical, so messages and the agent's resolved names match what we expect.
    let logs = std::fs::canonicalize(&logs).expect("log dir resolves");
    write_agent_toml(
        &agent,
        &format!("log_paths = [\"{}\"]\n{extra}", logs.display()),
    );
    (agent, logs)
}

async fn wait_online(relay: &RelayHandle, agent: &Agent) {
    assert!(
        eventually(Duration::from_secs(20), || async {
            relay.is_agent_online(agent.id)
        })
        .await,
        "agent {} never came online",
        agent.id
    );
}

async fn wait_offline(relay: &RelayHandle, agent: &Agent) {
    assert!(
        eventually(Duration::from_secs(40), || async {
            !relay.is_agent_online(agent.id)
        })
        .await,
        "agent {} never went offline",
        agent.id
    );
}

fn partial_of(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(".partial");
    PathBuf::from(name)
}

/// SHA-256 of a file, read in pieces.
fn digest_of_file(path: &Path) -> (u64, ContentDigest) {
    use std::io::Read;
    let mut file = std::fs::File::open(path).expect("file to hash");
    let mut hasher = ContentHasher::default();
    let mut buf = vec![0u8; MIB as usize];
    loop {
        let n = file.read(&mut buf).expect("read file to hash");
        if n == 0 {
            return hasher.finish();
        }
        hasher.update(&buf[..n]);
    }
}

/// Writes `mib` MiB of pseudo-random bytes (one random MiB, each copy
/// stamped with its index so no two MiB are alike) and returns its digest.
fn write_pseudo_random(path: &Path, mib: u64) -> ContentDigest {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut block = vec![0u8; MIB as usize];
    for word in block.chunks_exact_mut(8) {
        // xorshift64*
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        word.copy_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).expect("create big log"));
    let mut hasher = ContentHasher::default();
    for i in 0..mib {
        block[..8].copy_from_slice(&i.to_le_bytes());
        block[MIB as usize - 8..].copy_from_slice(&(!i).to_le_bytes());
        file.write_all(&block).expect("write big log");
        hasher.update(&block);
    }
    file.flush().expect("flush big log");
    hasher.finish().1
}

/// A field of /proc/self/status, in bytes.
fn proc_status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"));
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("unreadable {line}"));
    kib * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_mib_log_arrives_byte_identical_through_the_relay_with_bounded_memory() {
    let d = Deployment::start().await;
    let (mut agent, logs) = agent_with_log_dir(&d, "fileserver", "").await;
    agent.start_daemon();
    wait_online(d.relay(), &agent).await;
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

/// A local syslog stamp (`Mar  5 09:04:01`) `ago` before now.
fn syslog_stamp(ago: chrono::Duration) -> String {
    (chrono::Local::now() - ago)
        .format("%b %e %H:%M:%S")
        .to_string()
}

/// An ISO-8601 UTC stamp `ago` before now.
fn iso_stamp(ago: chrono::Duration) -> String {
    (chrono::Utc::now() - ago)
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_since_and_grep_select_the_right_lines() {
    let d = Deployment::start().await;
    let (mut agent, logs) = agent_with_log_dir(&d, "webhost", "").await;
    agent.start_daemon();
    wait_online(d.relay(), &agent).await;
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

/// A writer whose bytes a test can watch while a command is still running.
#[derive(Clone, Default)]
struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl SharedBuf {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for SharedBuf {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn parse_cli(home: &Path, args: &[&str]) -> triage_cli::Cli {
    use clap::Parser;
    let mut argv = vec![
        "triage".to_string(),
        "--home".into(),
        home.display().to_string(),
    ];
    argv.extend(args.iter().map(|a| a.to_string()));
    triage_cli::Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("bad arguments {argv:?}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_streams_appended_lines_until_stopped() {
    let d = Deployment::start().await;
    let (mut agent, logs) = agent_with_log_dir(&d, "kiosk", "").await;
    agent.start_daemon();
    wait_online(d.relay(), &agent).await;
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

fn mkfifo(path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path that outlives the call.
    let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o644) };
    assert_eq!(rc, 0, "mkfifo {}", path.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_clear_and_change_nothing() {
    use std::os::unix::fs::{symlink, FileTypeExt};

    let d = Deployment::start().await;
    let (mut agent, logs) = agent_with_log_dir(&d, "laptop", "").await;
    agent.start_daemon();
    wait_online(d.relay(), &agent).await;
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
    wait_offline(d.relay(), &agent).await;
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

/// The real `triage-agent` binary, next to this test's executable.
fn agent_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let debug = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable lives in target/<profile>/deps");
    let bin = debug.join(format!("triage-agent{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} is missing; build it with `cargo build -p triage-agent` (CI builds it with --all-targets)",
        bin.display()
    );
    bin
}

/// A child process killed when the test ends, however it ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
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
        std::process::Command::new(agent_binary())
            .arg("run")
            .arg("--state-dir")
            .arg(&agent.state_dir)
            .stdin(std::process::Stdio::null())
            .stdout(agent_log.try_clone().unwrap())
            .stderr(agent_log)
            .spawn()
            .expect("triage-agent starts"),
    );
    wait_online(d.relay(), &agent).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screenshot_requests_are_refused_without_consent_and_audited() {
    let d = Deployment::start().await;
    let mut agent = d.enroll_agent("reception").await;
    agent.start_daemon();
    wait_online(d.relay(), &agent).await;
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
    wait_offline(d.relay(), &agent).await;
    write_agent_toml(&agent, "screenshots = \"never\"\n");
    agent.start_daemon();
    wait_online(d.relay(), &agent).await;
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
