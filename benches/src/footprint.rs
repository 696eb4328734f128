//! Measurement 4 — Agent footprint: idle RSS and CPU of the real `triage-agent run`
//! binary connected to a relay, and the time for a full diagnostics
//! snapshot (`triage_agent::diagnostics::collect`, median of 20).

use crate::fixture::Deployment;
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
        Ok::<_, anyhow::Error>((peak, cpu_percent(cpu, t0.elapsed())))
    }
    .await;
    // SAFETY: signalling the child we started, by its pid.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
    d.shutdown().await;
    let (rss, cpu) = measured?;

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
            "diagnostics snapshot",
            ms(snap),
            "ms",
            Target::Below(150.0),
        )
        .note(format!("median of {SNAPSHOTS}, diagnostics::collect")),
        Row::new(M, "snapshot CPU time", ms(snap_cpu), "ms", Target::None).note(format!(
            "mean of {SNAPSHOTS}; the wall time includes sysinfo's {} ms CPU-usage sampling sleep",
            sysinfo_interval_ms()
        )),
    ])
}

/// The pause sysinfo needs between two CPU readings, which `collect` sleeps.
fn sysinfo_interval_ms() -> u128 {
    sysinfo::MINIMUM_CPU_UPDATE_INTERVAL.as_millis()
}
