//! Measurement 2 — Round trip of a tiny request at a fixed offered rate:
//! - technician → relay → agent → relay → technician: a real technician
//!   `Session` sends `Request::PingAgent` (a new stream per request), the
//!   cheapest request that reaches the agent: role check, agent lookup, a
//!   command slot and the agent's `Pong`, nothing stored or audited;
//! - relay → agent → relay (`RelayHandle::send_agent_command(agent, Ping)`),
//!   the agent hop alone;
//! - a request/response on a fresh raw quinn stream per request.
//!
//! Latency is measured from when each request was *scheduled*, so a
//! stall shows up in later requests too (no coordinated omission).
//!
//! With `--metrics` the relay also serves `/metrics` and a scraper reads
//! it once a second throughout (docs/performance.md compares the p99).

use crate::fixture::{Deployment, RawPair};
use crate::report::{Row, Target};
use crate::stats::{ms, summarize, Latency};
use anyhow::{anyhow, Result};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{Instant, MissedTickBehavior};
use triage_shared::client::Session;
use triage_shared::identity::KeyPair;
use triage_shared::protocol::{PeerKind, Request, Response};
use triage_shared::remote::AgentCommand;

const M: &str = "2 round trip";

pub async fn run(rate: u32, tech_rate: u32, secs: u64, metrics: bool) -> Result<Vec<Row>> {
    let d = Deployment::start_with_metrics(metrics).await?;
    let scraper = d.relay().metrics_addr().map(Scraper::start);
    let (agent, state) = d.enroll_agent("pinger", "").await?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let daemon = tokio::spawn(async move {
        triage_agent::run_daemon(&state, async {
            let _ = stopped.await;
        })
        .await
    });
    d.wait_online(agent).await?;
    let home = d.technician("rtt").await?;
    let key_text = std::fs::read_to_string(home.join("identity.key"))?;
    let key = KeyPair::from_file_text(&key_text).map_err(|e| anyhow!("technician key: {e}"))?;
    let session =
        Arc::new(Session::connect(&d.relay().locator(), &key, PeerKind::Technician).await?);
    let request = Arc::new(Request::PingAgent { agent });
    let technician_side = {
        let session = session.clone();
        paced(tech_rate, secs, move || {
            let (session, request) = (session.clone(), request.clone());
            async move { ping_agent(&session, &request).await }
        })
        .await?
    };
    if let Ok(session) = Arc::try_unwrap(session) {
        session.close().await;
    }
    let d = Arc::new(d);
    let relay_side = {
        let d = d.clone();
        paced(rate, secs, move || {
            let d = d.clone();
            async move {
                d.relay()
                    .send_agent_command(agent, AgentCommand::Ping)
                    .await
                    .map(|_| ())
                    .map_err(|e| anyhow!("{e}"))
            }
        })
        .await?
    };
    let scrapes = match scraper {
        Some(scraper) => Some(scraper.stop().await),
        None => None,
    };
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), daemon).await;
    if let Ok(d) = Arc::try_unwrap(d) {
        d.shutdown().await;
    }

    let pair = RawPair::new()?;
    let (client, server) = pair.connect().await?;
    let echo = tokio::spawn(async move {
        while let Ok((mut send, mut recv)) = server.accept_bi().await {
            tokio::spawn(async move {
                let req = recv.read_to_end(64).await?;
                send.write_all(&req).await?;
                send.finish()?;
                Ok::<_, anyhow::Error>(())
            });
        }
    });
    let raw_side = paced(rate, secs, move || {
        let client = client.clone();
        async move {
            let (mut send, mut recv) = client.open_bi().await?;
            send.write_all(b"ping").await?;
            send.finish()?;
            let _ = recv.read_to_end(64).await?;
            Ok(())
        }
    })
    .await?;
    echo.abort();

    let mut rows = Vec::new();
    for (name, (lat, errors), offered) in [
        ("technician→relay→agent→back", technician_side, tech_rate),
        ("relay→agent Ping", relay_side, rate),
        ("raw quinn stream", raw_side, rate),
    ] {
        let target = if name.starts_with("raw") {
            Target::None
        } else {
            Target::Below(2.0)
        };
        let mut note = format!("{offered} req/s offered for {secs} s");
        if name.starts_with("technician") {
            note.push_str("; PingAgent on one technician session, neither stored nor audited");
        }
        if let (false, Some((ok, failed))) = (name.starts_with("raw"), scrapes) {
            note.push_str(&format!(
                "; /metrics on, scraped once a second ({ok} ok, {failed} failed)"
            ));
        }
        rows.push(Row::new(M, &format!("{name} p50"), ms(lat.p50), "ms", Target::None).note(note));
        rows.push(
            Row::new(M, &format!("{name} p99"), ms(lat.p99), "ms", target)
                .note(format!("{} ok, {errors} failed", lat.count)),
        );
        rows.push(Row::new(
            M,
            &format!("{name} max"),
            ms(lat.max),
            "ms",
            Target::None,
        ));
    }
    Ok(rows)
}

/// Reads `/metrics` once a second, as a Prometheus server would, until stopped.
struct Scraper {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<(u64, u64)>,
}

impl Scraper {
    fn start(addr: std::net::SocketAddr) -> Scraper {
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let (mut ok, mut failed) = (0, 0);
            let mut every = tokio::time::interval(Duration::from_secs(1));
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = every.tick() => match scrape(addr).await {
                        Ok(()) => ok += 1,
                        Err(_) => failed += 1,
                    },
                }
            }
            (ok, failed)
        });
        Scraper { stop, task }
    }

    /// Stops scraping; returns how many scrapes succeeded and failed.
    async fn stop(self) -> (u64, u64) {
        let _ = self.stop.send(());
        self.task.await.unwrap_or((0, 0))
    }
}

/// One `GET /metrics` over a fresh connection (the relay closes it after
/// the answer), read to the end and checked for a known metric.
async fn scrape(addr: std::net::SocketAddr) -> Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let read = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        let head = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(head.as_bytes()).await?;
        let mut text = String::new();
        stream.read_to_string(&mut text).await?;
        Ok::<_, anyhow::Error>(text)
    };
    let text = tokio::time::timeout(Duration::from_secs(5), read).await??;
    if text.starts_with("HTTP/1.1 200") && text.contains("\ntriage_requests_total{") {
        Ok(())
    } else {
        Err(anyhow!("unexpected /metrics answer"))
    }
}

/// One `PingAgent`, answered by the agent's `Pong` through the relay.
async fn ping_agent(session: &Session, request: &Request) -> Result<()> {
    match session.request(request).await? {
        Response::AgentPong { .. } => Ok(()),
        other => Err(anyhow!("the ping answered {other:?}")),
    }
}

/// Starts one `call` every 1/rate seconds for `secs` and returns the
/// latency summary of those that succeeded, and how many failed.
async fn paced<F, Fut>(rate: u32, secs: u64, call: F) -> Result<(Latency, usize)>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<()>> + Send + 'static,
{
    let period = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let total = u64::from(rate) * secs;
    let mut ticker = tokio::time::interval(period);
    // Keep the schedule: late ticks fire at once, measured from their slot.
    ticker.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..total {
        ticker.tick().await;
        let scheduled = start + period.mul_f64(i as f64);
        let fut = call();
        tasks.spawn(async move {
            let r = tokio::time::timeout(Duration::from_secs(10), fut).await;
            (scheduled.elapsed(), matches!(r, Ok(Ok(()))))
        });
    }
    let mut ok = Vec::with_capacity(total as usize);
    let mut errors = 0;
    while let Some(r) = tasks.join_next().await {
        match r {
            Ok((took, true)) => ok.push(took),
            _ => errors += 1,
        }
    }
    let lat = summarize(ok).ok_or_else(|| anyhow!("every request failed ({errors})"))?;
    Ok((lat, errors))
}
