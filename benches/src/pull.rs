//! Measurement 1 — Log-pull throughput: agent → relay → CLI, vs a raw quinn stream with
//! the same TLS, vs `scp` from a throwaway sshd on loopback (when OpenSSH is installed).

use crate::fixture::{cli, Deployment, RawPair};
use crate::report::{Row, Target};
use crate::stats::{cpu_percent, cpu_time, mb_per_s};
use anyhow::{anyhow, Context, Result};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use triage_shared::client::{next_frame, Session};
use triage_shared::identity::KeyPair;
use triage_shared::protocol::{PeerKind, Request, Response};
use triage_shared::transfer::{LogQuery, TransferCheck, TransferFrame};

const M: &str = "1 log pull";
/// Read and write size for the raw stream, the same as Triage's chunks.
const RAW_CHUNK: usize = triage_shared::transfer::TRANSFER_CHUNK_LEN;

pub async fn run(size: u64) -> Result<Vec<Row>> {
    let d = Deployment::start().await?;
    let logs = d.dir.path().join("logs");
    std::fs::create_dir_all(&logs)?;
    let file = logs.join("big.log");
    generate(&file, size)?;
    let toml = format!(
        "log_paths = [{:?}]\nmax_log_bytes = {}\n",
        logs.display().to_string(),
        size.max(1 << 20) * 2
    );
    let (agent, state) = d.enroll_agent("puller", &toml).await?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let daemon = tokio::spawn(async move {
        triage_agent::run_daemon(&state, async {
            let _ = stopped.await;
        })
        .await
    });
    d.wait_online(agent).await?;
    let home = d.technician("bench").await?;
    let out = d.dir.path().join("pulled.log");
    let me = std::process::id();
    let cpu0 = cpu_time(me).unwrap_or_default();
    let started = Instant::now();
    cli(
        &home,
        &[
            "logs",
            &agent.to_string(),
            &file.display().to_string(),
            "-o",
            &out.display().to_string(),
        ],
    )
    .await?;
    let triage_took = started.elapsed();
    let triage_cpu = cpu_time(me).unwrap_or_default().saturating_sub(cpu0);
    let got = std::fs::metadata(&out)?.len();
    if got != size {
        return Err(anyhow!("pulled {got} bytes, expected {size}"));
    }
    std::fs::remove_file(&out)?;
    let key_text = std::fs::read_to_string(home.join("identity.key"))?;
    let key = KeyPair::from_file_text(&key_text).map_err(|e| anyhow!("technician key: {e}"))?;
    let cpu1 = cpu_time(me).unwrap_or_default();
    let proto_took = protocol_client(&d, &key, agent, &file.display().to_string(), size).await?;
    let proto_cpu = cpu_time(me).unwrap_or_default().saturating_sub(cpu1);
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), daemon).await;

    let cpu2 = cpu_time(me).unwrap_or_default();
    let raw_took = raw_quinn(&file, &d.dir.path().join("raw.out")).await?;
    let raw_cpu = cpu_time(me).unwrap_or_default().saturating_sub(cpu2);
    let busy = |cpu: Duration, took: Duration| {
        format!(
            "process CPU {:.0} % of one core, {:.1} CPU-s per GiB",
            cpu_percent(cpu, took),
            cpu.as_secs_f64() * (1u64 << 30) as f64 / size.max(1) as f64
        )
    };
    let triage = mb_per_s(size, triage_took);
    let raw = mb_per_s(size, raw_took);
    let mut rows = vec![
        Row::new(M, "triage agent→relay→CLI", triage, "MB/s", Target::None).note(format!(
            "{} MiB, CLI writes FILE.partial and verifies SHA-256; {}",
            size >> 20,
            busy(triage_cpu, triage_took)
        )),
        Row::new(
            M,
            "triage agent→relay→client",
            mb_per_s(size, proto_took),
            "MB/s",
            Target::None,
        )
        .note(format!(
            "protocol client, TransferCheck, no file; {}",
            busy(proto_cpu, proto_took)
        )),
        Row::new(M, "raw quinn, same TLS", raw, "MB/s", Target::None).note(format!(
            "one stream, file→stream→file, no relay, no hashing; {}",
            busy(raw_cpu, raw_took)
        )),
        Row::new(
            M,
            "triage / raw quinn",
            triage / raw,
            "x",
            Target::AtLeast(0.9),
        ),
    ];
    match scp(&file, &d.dir.path().join("scp.out")).await {
        Ok(took) => {
            let s = mb_per_s(size, took);
            rows.push(
                Row::new(M, "scp over loopback", s, "MB/s", Target::None).note(
                    "OpenSSH scp from the bench's own sshd on a loopback port, default cipher; file→file",
                ),
            );
            rows.push(Row::new(
                M,
                "triage / scp",
                triage / s,
                "x",
                Target::AtLeast(1.0),
            ));
        }
        Err(why) => rows.push(Row::skipped(
            M,
            "scp over loopback",
            &format!("{why:#}; not measured"),
        )),
    }
    d.shutdown().await;
    Ok(rows)
}

/// The same pull through the relay with a bare protocol client that
/// checks frames (order, count, SHA-256) and drops the bytes: the CLI's
/// file handling taken out.
async fn protocol_client(
    d: &Deployment,
    key: &KeyPair,
    agent: triage_shared::AgentId,
    path: &str,
    size: u64,
) -> Result<Duration> {
    let session = Session::connect(&d.relay().locator(), key, PeerKind::Technician).await?;
    let request = Request::PullLogs {
        agent,
        query: LogQuery::whole(path),
        attach: None,
    };
    let started = Instant::now();
    let mut recv = session.open_stream(&request).await?;
    let mut check = TransferCheck::default();
    while let Some(response) = next_frame::<Response>(&mut recv).await? {
        match response {
            Response::Transfer(frame) => {
                let end = matches!(frame, TransferFrame::End(_));
                check
                    .accept(&frame)
                    .map_err(|e| anyhow!("bad transfer: {e}"))?;
                if end {
                    break;
                }
            }
            other => return Err(anyhow!("pull answered {other:?}")),
        }
    }
    let took = started.elapsed();
    session.close().await;
    if check.bytes() != size {
        return Err(anyhow!(
            "client got {} bytes, expected {size}",
            check.bytes()
        ));
    }
    Ok(took)
}

/// Writes `size` bytes of log-like text (not all zeros, so nothing can
/// cheat by compressing).
fn generate(path: &Path, size: u64) -> Result<()> {
    let mut f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut written = 0u64;
    let mut n = 0u64;
    while written < size {
        let line = format!(
            "2026-11-26T15:{:02}:{:02}Z host bench[{}]: event {} value={:x}\n",
            (n / 60) % 60,
            n % 60,
            n % 9973,
            n,
            n.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        );
        let take = (size - written).min(line.len() as u64) as usize;
        f.write_all(&line.as_bytes()[..take])?;
        written += take as u64;
        n += 1;
    }
    f.flush()?;
    Ok(())
}

/// The same bytes over one raw quinn stream: server reads the file and
/// sends, client receives into a file.
async fn raw_quinn(file: &Path, out: &Path) -> Result<Duration> {
    let pair = RawPair::new()?;
    let (client, server) = pair.connect().await?;
    let src = file.to_path_buf();
    let sender = tokio::spawn(async move {
        let (mut send, _recv) = server.accept_bi().await?;
        let mut f = tokio::fs::File::open(&src).await?;
        let mut buf = vec![0u8; RAW_CHUNK];
        loop {
            let n = f.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            send.write_all(&buf[..n]).await?;
        }
        send.finish()?;
        let _ = send.stopped().await;
        Ok::<_, anyhow::Error>(())
    });
    let started = Instant::now();
    let (mut send, mut recv) = client.open_bi().await?;
    send.write_all(b"go").await?;
    // Buffered like the CLI's receiver: the stream hands out packet-sized
    // pieces, and a file write per piece would measure the file system.
    let mut f = tokio::io::BufWriter::with_capacity(1 << 20, tokio::fs::File::create(out).await?);
    let mut buf = vec![0u8; RAW_CHUNK];
    while let Some(n) = recv.read(&mut buf).await? {
        f.write_all(&buf[..n]).await?;
    }
    f.flush().await?;
    let took = started.elapsed();
    sender.await??;
    drop(f);
    std::fs::remove_file(out)?;
    client.close(0u32.into(), b"done");
    Ok(took)
}

/// `scp` of the same file from a throwaway sshd of the bench's own on a
/// free loopback port (own host key and authorized key in a temp dir,
/// no PAM, no pid file), when `sshd`, `scp` and `ssh-keygen` exist.
async fn scp(file: &Path, out: &Path) -> Result<Duration> {
    let sshd = ["/usr/sbin/sshd", "/usr/bin/sshd"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.exists())
        .ok_or_else(|| anyhow!("no sshd on this machine (openssh-server not installed)"))?;
    let dir = tempfile::tempdir()?;
    let key = |name: &str| dir.path().join(name);
    for name in ["host_key", "user_key"] {
        let status = tokio::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(key(name))
            .status()
            .await
            .context("running ssh-keygen (openssh-client)")?;
        anyhow::ensure!(status.success(), "ssh-keygen failed ({status})");
    }
    std::fs::copy(key("user_key.pub"), key("authorized_keys"))?;
    // A free port: bound and released (nothing else binds loopback here).
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let config = format!(
        "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\n\
         PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
         PermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\nPidFile none\n\
         Subsystem sftp internal-sftp\n",
        key("host_key").display(),
        key("authorized_keys").display()
    );
    std::fs::write(key("sshd_config"), config)?;
    // Run as root, sshd wants its privilege-separation directory.
    let _ = std::fs::create_dir_all("/run/sshd");
    let mut server = tokio::process::Command::new(sshd)
        .args(["-D", "-e", "-f"])
        .arg(key("sshd_config"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting sshd")?;
    let mut up = false;
    for _ in 0..50 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            up = true;
            break;
        }
        if let Ok(Some(status)) = server.try_wait() {
            return Err(anyhow!("sshd exited at once ({status})"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::ensure!(up, "sshd did not listen on 127.0.0.1:{port} within 5 s");
    let started = Instant::now();
    let status = tokio::process::Command::new("scp")
        .args(["-q", "-P", &port.to_string(), "-i"])
        .arg(key("user_key"))
        .args([
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
        ])
        .arg(format!("127.0.0.1:{}", file.display()))
        .arg(out)
        .status()
        .await
        .context("running scp")?;
    let took = started.elapsed();
    let _ = server.kill().await;
    let got = std::fs::metadata(out).map(|m| m.len()).ok();
    let _ = std::fs::remove_file(out);
    anyhow::ensure!(status.success(), "scp failed ({status})");
    let want = std::fs::metadata(file)?.len();
    anyhow::ensure!(got == Some(want), "scp copied {got:?} bytes of {want}");
    Ok(took)
}
