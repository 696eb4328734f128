//! Measurement 4 — Agent footprint: idle RSS and CPU of the real `triage-agent run`
//! binary connected to a relay, and the time for a full diagnostics
//! snapshot, median of 20, three ways:
//! - warm, as the daemon takes it (`WarmCollector`, the previous snapshot
//!   as the CPU baseline; requests 0.5 s apart, like a technician's);
//! - `triage diag AGENT` end to end: the real CLI → relay → the running
//!   `triage-agent run` → back, which uses the daemon's warm collector;
//! - cold, as the one-shot `triage-agent diagnose` takes it
//!   (`diagnostics::collect`, which must sample and sleeps 200 ms).

use crate::fixture::{cli, Deployment};
use crate::report::{Row, Target};
use crate::stats::{cpu_percent, cpu_time, median, ms, rss_bytes};
use anyhow::{anyhow, Context, Result};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

const M: &str = "4 agent footprint";
const SNAPSHOTS: usize = 20;
/// Settling time after the agent is online, before the idle window.
const WARM_UP: Duration = Duration::from_secs(3);
/// Between warm snapshots: past sysinfo's 200 ms minimum, as a technician's
/// requests would be.
const SPACING: Duration = Duration::from_millis(500);

pub async fn run(agent_bin: &Path, idle_secs: u64) -> Result<Vec<Row>> {
    let d = Deployment::start().await?;
    let (agent, state) = d.enroll_agent("idle", "").await?;
    let mut child = tokio::process::Command::new(agent_bin)
        .args(["run", "--state-dir"])
        .arg(&state)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", agent_bin.display()))?;
    let pid = child.id().ok_or_else(|| anyhow!("agent exited at once"))?;
    let home = d.technician("bench").await?;
    let measured = async {
        d.wait_online(agent).await?;
        tokio::time::sleep(WARM_UP).await;
        let cpu0 = cpu_time(pid).ok_or_else(|| anyhow!("agent gone"))?;
        let t0 = Instant::now();
        let mut peak = 0u64;
        while t0.elapsed() < Duration::from_secs(idle_secs) {
            peak = peak.max(rss_bytes(pid).ok_or_else(|| anyhow!("agent gone"))?);
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let cpu = cpu_time(pid).ok_or_else(|| anyhow!("agent gone"))? - cpu0;
        let idle = (peak, cpu_percent(cpu, t0.elapsed()));
        // `triage diag`: the first finds no baseline in the daemon (cold), the rest do.
        let mut diag = Vec::with_capacity(SNAPSHOTS + 1);
        for _ in 0..=SNAPSHOTS {
            tokio::time::sleep(SPACING).await;
            let t = Instant::now();
            cli(&home, &["diag", &agent.to_string(), "--json"]).await?;
            diag.push(t.elapsed());
        }
        // The daemon now holds a warm reading (one sysinfo `System`).
        let rss_warm = rss_bytes(pid).ok_or_else(|| anyhow!("agent gone"))?;
        Ok::<_, anyhow::Error>((idle, diag, rss_warm))
    }
    .await;
    // SAFETY: signalling the child we started, by its pid.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
    d.shutdown().await;
    let ((rss, cpu), mut diag, rss_warm) = measured?;
    let first_diag = diag.remove(0);
    let diag = median(diag).ok_or_else(|| anyhow!("no diag"))?;

    let warm = triage_agent::diagnostics::warm::WarmCollector::new();
    let first = warm.collect();
    drop(first);
    let mut warm_times = Vec::with_capacity(SNAPSHOTS);
    for _ in 0..SNAPSHOTS {
        tokio::time::sleep(SPACING).await;
        let t = Instant::now();
        let snap = warm.snapshot().await.map_err(|e| anyhow!(e))?;
        warm_times.push(t.elapsed());
        drop(snap);
    }
    let warm_snap = median(warm_times).ok_or_else(|| anyhow!("no snapshots"))?;

    let me = std::process::id();
    let cpu0 = cpu_time(me).unwrap_or_default();
    let mut times = Vec::with_capacity(SNAPSHOTS);
    for _ in 0..SNAPSHOTS {
        let t = Instant::now();
        let snap = tokio::task::spawn_blocking(triage_agent::diagnostics::collect).await?;
        times.push(t.elapsed());
        drop(snap);
    }
    let snap_cpu = cpu_time(me).unwrap_or_default().saturating_sub(cpu0) / SNAPSHOTS as u32;
    let snap = median(times).ok_or_else(|| anyhow!("no snapshots"))?;
    let window = format!("peak over {idle_secs} s idle, connected");
    Ok(vec![
        Row::new(
            M,
            "agent idle RSS",
            rss as f64 / (1024.0 * 1024.0),
            "MiB",
            Target::Below(15.0),
        )
        .note(window.clone()),
        Row::new(M, "agent idle CPU", cpu, "% core", Target::Below(0.1)).note(window),
        Row::new(
            M,
            "agent RSS after snapshots",
            rss_warm as f64 / (1024.0 * 1024.0),
            "MiB",
            Target::Below(15.0),
        )
        .note(format!(
            "after {} `triage diag`, holding the warm collector's reading",
            SNAPSHOTS + 1
        )),
        Row::new(
            M,
            "snapshot, warm (daemon)",
            ms(warm_snap),
            "ms",
            Target::Below(150.0),
        )
        .note(format!(
            "median of {SNAPSHOTS}, WarmCollector in the bench process, {} ms apart; what the daemon does for `triage diag`",
            SPACING.as_millis()
        )),
        Row::new(
            M,
            "triage diag → relay → daemon",
            ms(diag),
            "ms",
            Target::Below(150.0),
        )
        .note(format!(
            "median of {SNAPSHOTS}, real CLI (connect + request) to `triage-agent run`, {} ms apart; the first, cold in the daemon: {:.0} ms",
            SPACING.as_millis(),
            ms(first_diag)
        )),
        Row::new(
            M,
            "snapshot, cold (one-shot)",
            ms(snap),
            "ms",
            Target::Below(150.0),
        )
        .note(format!(
            "median of {SNAPSHOTS}, diagnostics::collect as `triage-agent diagnose` runs it: no earlier reading, so it samples"
        )),
        Row::new(M, "snapshot CPU time (cold)", ms(snap_cpu), "ms", Target::None).note(format!(
            "mean of {SNAPSHOTS}; the cold wall time includes sysinfo's {} ms CPU-usage sampling sleep",
            sysinfo_interval_ms()
        )),
    ])
}

/// The pause sysinfo needs between two CPU readings, which `collect` sleeps.
fn sysinfo_interval_ms() -> u128 {
    sysinfo::MINIMUM_CPU_UPDATE_INTERVAL.as_millis()
}
