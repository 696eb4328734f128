//! Measurement 3 — Agents per relay: the real `triage-relay` binary in its own process
//! (so `/proc/PID/status` shows its RSS), N simulated agents in this
//! process — enrolled keys, real QUIC + mTLS connections, the real hello,
//! heartbeats every `HEARTBEAT_INTERVAL` spread over the interval.

use crate::fixture::enroll_key;
use crate::report::{Row, Target};
use crate::stats::{cpu_percent, cpu_time, rss_bytes};
use anyhow::{anyhow, Context, Result};
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use triage_shared::codec::{expect_frame, write_frame};
use triage_shared::identity::KeyPair;
use triage_shared::protocol::{Hello, PeerKind, Request, Welcome};
use triage_shared::tls;
use triage_shared::token::EnrollmentToken;

const M: &str = "3 agents per relay";
/// Simulated agents sharing one client UDP socket.
const AGENTS_PER_ENDPOINT: usize = 500;
/// Handshakes and enrollments in flight at once.
const CONCURRENCY: usize = 64;

pub async fn run(relay_bin: &Path, counts: &[usize], idle_secs: u64) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for &n in counts {
        match one(relay_bin, n, idle_secs).await {
            Ok(mut r) => rows.append(&mut r),
            Err(e) => rows.push(Row::skipped(M, &format!("{n} agents"), &format!("{e:#}"))),
        }
    }
    Ok(rows)
}

async fn one(relay_bin: &Path, n: usize, idle_secs: u64) -> Result<Vec<Row>> {
    let dir = tempfile::tempdir()?;
    let port = free_udp_port()?;
    let addr = format!("127.0.0.1:{port}");
    let data = dir.path().join("relay");
    let mut relay = spawn_relay(relay_bin, &addr, &data, &[])?;
    let pid = relay.id().ok_or_else(|| anyhow!("relay exited at once"))?;
    let result = drive(relay_bin, &data, &addr, pid, n, idle_secs).await;
    // SAFETY: signalling the child we started, by its pid.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let _ = tokio::time::timeout(Duration::from_secs(10), relay.wait()).await;
    result
}

async fn drive(
    relay_bin: &Path,
    data: &Path,
    addr: &str,
    pid: u32,
    n: usize,
    idle_secs: u64,
) -> Result<Vec<Row>> {
    let token = token(relay_bin, data, addr, n).await?;
    // Enrolment (not timed): a key per agent, as `triage-agent enroll` does.
    let gate = Arc::new(Semaphore::new(CONCURRENCY));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (gate, token) = (gate.clone(), token.clone());
        set.spawn(async move {
            let _p = gate.acquire_owned().await?;
            enroll_key(&token.relay, &token).await
        });
    }
    let mut keys = Vec::with_capacity(n);
    while let Some(r) = set.join_next().await {
        keys.push(r??.0);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_before = rss_bytes(pid).ok_or_else(|| anyhow!("relay gone"))?;

    let server: std::net::SocketAddr = addr.parse()?;
    let endpoints: Vec<quinn::Endpoint> = (0..n.div_ceil(AGENTS_PER_ENDPOINT))
        .map(|_| quinn::Endpoint::client(triage_e2e::loopback()))
        .collect::<std::io::Result<_>>()?;
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for (i, key) in keys.into_iter().enumerate() {
        let endpoint = endpoints[i / AGENTS_PER_ENDPOINT].clone();
        let gate = gate.clone();
        let fp = token.relay.fingerprint;
        set.spawn(async move {
            let p = gate.acquire_owned().await?;
            let conn = connect_agent(&endpoint, server, &key, fp).await?;
            drop(p);
            Ok::<_, anyhow::Error>(conn)
        });
    }
    let mut conns = Vec::with_capacity(n);
    let mut failed = 0usize;
    let mut first_error = String::new();
    while let Some(r) = set.join_next().await {
        match r? {
            Ok(c) => conns.push(c),
            Err(e) => {
                failed += 1;
                if first_error.is_empty() {
                    first_error = format!("{e:#}");
                }
            }
        }
    }
    let connect_took = started.elapsed();
    let connected = conns.len();
    let heartbeats: Vec<_> = conns
        .iter()
        .enumerate()
        .map(|(i, c)| tokio::spawn(heartbeat(c.clone(), i, connected)))
        .collect();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let cpu0 = cpu_time(pid).ok_or_else(|| anyhow!("relay gone"))?;
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(idle_secs)).await;
    let cpu = cpu_time(pid).ok_or_else(|| anyhow!("relay gone"))? - cpu0;
    let wall = t0.elapsed();
    let rss_after = rss_bytes(pid).ok_or_else(|| anyhow!("relay gone"))?;
    for h in heartbeats {
        h.abort();
    }
    for c in &conns {
        c.close(0u32.into(), b"bench done");
    }
    let label = format!("{n} agents");
    let per = rss_after.saturating_sub(rss_before) as f64 / connected.max(1) as f64 / 1024.0;
    let mut note = format!("{connected} connected");
    if failed > 0 {
        note.push_str(&format!(", {failed} failed: {first_error}"));
    }
    Ok(vec![
        Row::new(
            M,
            &format!("{label}: time to connect all"),
            connect_took.as_secs_f64(),
            "s",
            Target::None,
        )
        .note(note),
        Row::new(
            M,
            &format!("{label}: relay RSS per agent"),
            per,
            "KiB",
            Target::Below(40.0),
        )
        .note(format!(
            "RSS {} → {} MiB (after enrolment → all connected)",
            rss_before >> 20,
            rss_after >> 20
        )),
        Row::new(
            M,
            &format!("{label}: relay CPU idle"),
            cpu_percent(cpu, wall),
            "% core",
            Target::None,
        )
        .note(format!("over {idle_secs} s with heartbeats")),
    ])
}

/// Connects with `key`'s certificate and says hello as the agent daemon.
async fn connect_agent(
    endpoint: &quinn::Endpoint,
    server: std::net::SocketAddr,
    key: &KeyPair,
    fp: triage_shared::identity::CertFingerprint,
) -> Result<quinn::Connection> {
    let config = tls::client_config(key, fp)?;
    let conn = endpoint
        .connect_with(config, server, tls::SERVER_NAME)?
        .await?;
    let (mut send, mut recv) = conn.open_bi().await?;
    write_frame(&mut send, &Hello::new(PeerKind::Agent)).await?;
    let _ = send.finish();
    match expect_frame::<_, Welcome>(&mut recv).await? {
        Welcome::Accepted { .. } => Ok(conn),
        Welcome::Refused(e) => Err(anyhow!("refused: {e:?}")),
    }
}

/// Heartbeats like the daemon, the first one spread over the interval.
async fn heartbeat(conn: quinn::Connection, i: usize, n: usize) -> Result<()> {
    let interval = triage_agent::HEARTBEAT_INTERVAL;
    tokio::time::sleep(interval.mul_f64(i as f64 / n.max(1) as f64)).await;
    let mut ticker = tokio::time::interval(interval);
    loop {
        ticker.tick().await;
        let (mut send, mut recv) = conn.open_bi().await?;
        write_frame(&mut send, &Request::Heartbeat).await?;
        let _ = send.finish();
        let _: triage_shared::protocol::Response = expect_frame(&mut recv).await?;
    }
}

/// `triage-relay token --uses n`, once the relay has recorded its address.
async fn token(relay_bin: &Path, data: &Path, addr: &str, n: usize) -> Result<EnrollmentToken> {
    let uses = n
        .min(triage_shared::limits::MAX_TOKEN_USES as usize)
        .to_string();
    let mut last = String::new();
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if !data.join("public-addr").exists() {
            continue;
        }
        let out = tokio::process::Command::new(relay_bin)
            .args([
                "token",
                "--uses",
                &uses,
                "--ttl",
                "1h",
                "--public-addr",
                addr,
                "--data-dir",
            ])
            .arg(data)
            .output()
            .await?;
        let text = String::from_utf8_lossy(&out.stdout);
        if let Some(line) = text.lines().find(|l| l.trim().starts_with("triage://")) {
            return line.trim().parse().map_err(|e| anyhow!("token: {e}"));
        }
        last = String::from_utf8_lossy(&out.stderr).into_owned();
    }
    Err(anyhow!("no token from triage-relay token: {last}"))
}

/// The real `triage-relay serve` in a process of its own, on `addr`, with
/// `extra` arguments (e.g. `--database-url`), quiet, killed when dropped.
pub(crate) fn spawn_relay(
    relay_bin: &Path,
    addr: &str,
    data: &Path,
    extra: &[&str],
) -> Result<tokio::process::Child> {
    tokio::process::Command::new(relay_bin)
        .args(["serve", "--listen", addr, "--public-addr", addr])
        .args(extra)
        .arg("--data-dir")
        .arg(data)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", relay_bin.display()))
}

pub(crate) fn free_udp_port() -> Result<u16> {
    let s = std::net::UdpSocket::bind("127.0.0.1:0")?;
    Ok(s.local_addr()?.port())
}
