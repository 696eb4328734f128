//! `triage-bench`: measures Triage side by side with what a user would use
//! instead, prints a table and writes it as JSON. Everything runs on
//! loopback, bounded in count and time. See docs/performance.md.

mod fixture;
mod fleet;
mod footprint;
mod ingest;
mod pull;
mod queue;
mod report;
mod rtt;
mod stats;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use report::Row;
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(
    name = "triage-bench",
    about = "Benchmarks for the Triage relay and agent"
)]
struct Cli {
    /// Where to write the results as JSON.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "target/bench-results.json",
        global = true
    )]
    json_out: PathBuf,
    #[command(subcommand)]
    what: What,
}

#[derive(clap::Args, Clone)]
struct PullArgs {
    /// Bytes of generated log to pull (e.g. 268435456 for 256 MiB).
    #[arg(long, default_value_t = 1 << 30)]
    size: u64,
}

#[derive(clap::Args, Clone)]
struct RttArgs {
    /// Requests offered per second.
    #[arg(long, default_value_t = 1000)]
    rate: u32,
    /// For how many seconds.
    #[arg(long, default_value_t = 10)]
    secs: u64,
    /// Requests per second offered on the technician path (`PingAgent`,
    /// bounded by the relay at 8 commands per agent at once).
    #[arg(long, default_value_t = 1000)]
    tech_rate: u32,
    /// Serve the relay's `/metrics` during the run and scrape it once a
    /// second (to compare the p99 with and without).
    #[arg(long)]
    metrics: bool,
}

#[derive(clap::Args, Clone)]
struct FleetArgs {
    /// Simulated agent counts, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [1000usize, 5000, 10000])]
    agents: Vec<usize>,
    /// Seconds of idle measured once all are connected.
    #[arg(long, default_value_t = 10)]
    fleet_idle_secs: u64,
    /// The relay binary [default: triage-relay next to this binary].
    #[arg(long)]
    relay_bin: Option<PathBuf>,
}

#[derive(clap::Args, Clone)]
struct FootprintArgs {
    /// Seconds the idle agent is watched.
    #[arg(long, default_value_t = 60)]
    idle_secs: u64,
    /// The agent binary [default: triage-agent next to this binary].
    #[arg(long)]
    agent_bin: Option<PathBuf>,
}

#[derive(clap::Args, Clone)]
struct IngestArgs {
    /// Concurrent agents filing tickets.
    #[arg(long, default_value_t = 100)]
    ingest_agents: usize,
    /// Seconds of filing.
    #[arg(long, default_value_t = 10)]
    ingest_secs: u64,
}

#[derive(clap::Args, Clone)]
struct QueueArgs {
    /// Tickets in the store (each with 0–2 comments, and a resolution
    /// note when resolved).
    #[arg(long, default_value_t = 1_000_000)]
    queue_tickets: usize,
    /// Endpoints in the store.
    #[arg(long, default_value_t = 100_000)]
    queue_agents: usize,
    /// Lists and searches timed, each.
    #[arg(long, default_value_t = 400)]
    queue_requests: usize,
    /// Seconds agents file tickets onto the full store.
    #[arg(long, default_value_t = 10)]
    queue_insert_secs: u64,
    /// Also measure on PostgreSQL: a server URL (the bench makes and
    /// drops its own database `triage_bench_queue` there).
    #[arg(long, value_name = "URL")]
    postgres_url: Option<String>,
    /// The relay binary [default: triage-relay next to this binary].
    #[arg(long)]
    queue_relay_bin: Option<PathBuf>,
}

#[derive(Subcommand)]
enum What {
    /// 1: log-pull throughput, relay vs raw quinn vs scp
    Pull(PullArgs),
    /// 2: round trip at a fixed offered rate, relay vs raw quinn
    Rtt(RttArgs),
    /// 3: N simulated agents against one relay process
    Fleet(FleetArgs),
    /// 4: idle RSS/CPU of `triage-agent run`, snapshot time
    Footprint(FootprintArgs),
    /// 5: tickets/s with snapshots from concurrent agents
    Ingest(IngestArgs),
    /// 6: filtered lists, searches, filing and RSS over a million tickets
    Queue(QueueArgs),
    /// Everything, in order
    All {
        #[command(flatten)]
        pull: PullArgs,
        #[command(flatten)]
        rtt: RttArgs,
        #[command(flatten)]
        fleet: FleetArgs,
        #[command(flatten)]
        footprint: FootprintArgs,
        #[command(flatten)]
        ingest: IngestArgs,
        #[command(flatten)]
        queue: QueueArgs,
    },
}

async fn queue(args: QueueArgs, rows: &mut Vec<Row>) -> Result<()> {
    let bin = sibling("triage-relay", args.queue_relay_bin)?;
    let size = queue::Size {
        tickets: args.queue_tickets,
        agents: args.queue_agents,
        requests: args.queue_requests,
        insert_secs: args.queue_insert_secs,
    };
    guarded(
        "6 queue at scale",
        rows,
        queue::run(&bin, size, args.postgres_url.as_deref()),
    )
    .await;
    Ok(())
}

fn sibling(name: &str, given: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(p) = given {
        return Ok(p);
    }
    let me = std::env::current_exe().context("finding this binary")?;
    let path = me.with_file_name(name);
    anyhow::ensure!(
        path.exists(),
        "{} not found; build it with `cargo build --release -p {name}` or pass its path",
        path.display()
    );
    Ok(path)
}

/// Raises the soft RLIMIT_NOFILE to the hard limit; returns (before, after, hard).
fn raise_nofile() -> (u64, u64, u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        let before = lim.rlim_cur;
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        (before, lim.rlim_cur, lim.rlim_max)
    }
}

async fn fleet(args: FleetArgs, rows: &mut Vec<Row>) -> Result<()> {
    eprintln!("triage-bench: running 3 agents per relay …");
    let (before, after, hard) = raise_nofile();
    let bin = sibling("triage-relay", args.relay_bin)?;
    rows.extend(fleet::run(&bin, &args.agents, args.fleet_idle_secs).await?);
    rows.push(
        Row::new(
            "3 agents per relay",
            "RLIMIT_NOFILE allowed",
            after as f64,
            "fds",
            report::Target::None,
        )
        .note(format!("soft {before} raised to {after} (hard {hard})")),
    );
    Ok(())
}

async fn footprint(args: FootprintArgs, rows: &mut Vec<Row>) -> Result<()> {
    eprintln!("triage-bench: running 4 agent footprint …");
    let bin = sibling("triage-agent", args.agent_bin)?;
    rows.extend(footprint::run(&bin, args.idle_secs).await?);
    Ok(())
}

/// Runs one measurement; a failure becomes a skipped row so `all` goes on.
async fn guarded(
    name: &str,
    rows: &mut Vec<Row>,
    f: impl std::future::Future<Output = Result<Vec<Row>>>,
) {
    eprintln!("triage-bench: running {name} …");
    match f.await {
        Ok(mut r) => rows.append(&mut r),
        Err(e) => rows.push(Row::skipped(name, "(failed)", &format!("{e:#}"))),
    }
}

fn write_json(path: &Path, rows: &[Row]) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let doc = serde_json::json!({
        "machine": {
            "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            "os": std::env::consts::OS,
        },
        "rows": rows,
    });
    std::fs::write(path, serde_json::to_string_pretty(&doc)?)
        .with_context(|| format!("writing {}", path.display()))
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    let mut rows = Vec::new();
    match cli.what {
        What::Pull(a) => guarded("1 log pull", &mut rows, pull::run(a.size)).await,
        What::Rtt(a) => {
            guarded(
                "2 round trip",
                &mut rows,
                rtt::run(a.rate, a.tech_rate, a.secs, a.metrics),
            )
            .await
        }
        What::Fleet(a) => fleet(a, &mut rows).await?,
        What::Footprint(a) => footprint(a, &mut rows).await?,
        What::Ingest(a) => {
            guarded(
                "5 ticket ingest",
                &mut rows,
                ingest::run(a.ingest_agents, a.ingest_secs),
            )
            .await
        }
        What::Queue(a) => queue(a, &mut rows).await?,
        What::All {
            pull,
            rtt,
            fleet: f,
            footprint: fp,
            ingest,
            queue: q,
        } => {
            guarded("1 log pull", &mut rows, pull::run(pull.size)).await;
            guarded(
                "2 round trip",
                &mut rows,
                rtt::run(rtt.rate, rtt.tech_rate, rtt.secs, rtt.metrics),
            )
            .await;
            if let Err(e) = footprint(fp, &mut rows).await {
                rows.push(Row::skipped(
                    "4 agent footprint",
                    "(failed)",
                    &format!("{e:#}"),
                ));
            }
            guarded(
                "5 ticket ingest",
                &mut rows,
                ingest::run(ingest.ingest_agents, ingest.ingest_secs),
            )
            .await;
            if let Err(e) = fleet(f, &mut rows).await {
                rows.push(Row::skipped(
                    "3 agents per relay",
                    "(failed)",
                    &format!("{e:#}"),
                ));
            }
            if let Err(e) = queue(q, &mut rows).await {
                rows.push(Row::skipped(
                    "6 queue at scale",
                    "(failed)",
                    &format!("{e:#}"),
                ));
            }
        }
    }
    print!("{}", report::render(&rows));
    write_json(&cli.json_out, &rows)?;
    eprintln!("triage-bench: wrote {}", cli.json_out.display());
    Ok(())
}
