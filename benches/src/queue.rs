//! Measurement 6 — The queue at scale: a store filled with 1,000,000
//! tickets (a mix of lengths, with comments, internal notes and
//! resolutions) and 100,000 endpoints, served by the real `triage-relay`
//! binary in its own process; then, over real QUIC from one technician:
//! filtered first pages of `tickets list`, full-text searches, tickets
//! filed by agents with the search index maintained, and the relay's RSS
//! throughout. Once on SQLite, once on PostgreSQL when a URL is given.
//!
//! The fill goes straight into the database with multi-row inserts (the
//! relay's schema, run by `Store::open`); the search index is kept by the
//! schema itself (FTS5 triggers, generated `tsvector` columns), so bulk
//! rows are indexed as the relay's own writes are.

use crate::fixture::enroll_key;
use crate::report::{Row, Target};
use crate::stats::{ms, rss_bytes, summarize};
use anyhow::{anyhow, bail, Context, Result};
use sqlx::AnyPool;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use triage_relay::store::Store;
use triage_shared::client::Session;
use triage_shared::identity::KeyPair;
use triage_shared::protocol::{PeerKind, Request, Response};
use triage_shared::queue::{priority_rank, AssigneeFilter, SearchQuery, TicketFilter, TicketSort};
use triage_shared::roles::Role;
use triage_shared::selector::AgentSelector;
use triage_shared::ticket::{Category, NewTicket, Priority, Source, Status, Tier};
use triage_shared::time::Timestamp;
use triage_shared::token::EnrollmentToken;
use triage_shared::TicketId;

const M: &str = "6 queue at scale";
/// Rows per INSERT statement: well under SQLite's 32,766 placeholders.
const ROWS_PER_INSERT: usize = 400;
/// Rows per transaction while filling.
const ROWS_PER_COMMIT: usize = 20_000;
const TECHNICIANS: usize = 40;
const REQUESTERS: usize = 20_000;
/// Tickets on the first page a technician looks at.
const SCREEN_PAGE: u32 = 50;

#[derive(Debug, Clone, Copy)]
pub struct Size {
    pub tickets: usize,
    pub agents: usize,
    pub requests: usize,
    pub insert_secs: u64,
}

pub async fn run(relay_bin: &Path, size: Size, postgres: Option<&str>) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    let dir = tempfile::tempdir()?;
    let sqlite = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("queue.db").display()
    );
    match one(relay_bin, "SQLite", &sqlite, size, dir.path()).await {
        Ok(mut r) => rows.append(&mut r),
        Err(e) => rows.push(Row::skipped(M, "SQLite", &format!("{e:#}"))),
    }
    match postgres {
        Some(url) => match fresh_postgres(url).await {
            Ok(url) => match one(relay_bin, "PostgreSQL", &url, size, dir.path()).await {
                Ok(mut r) => rows.append(&mut r),
                Err(e) => rows.push(Row::skipped(M, "PostgreSQL", &format!("{e:#}"))),
            },
            Err(e) => rows.push(Row::skipped(M, "PostgreSQL", &format!("{e:#}"))),
        },
        None => rows.push(Row::skipped(M, "PostgreSQL", "no --postgres-url given")),
    }
    Ok(rows)
}

/// An empty database `triage_bench_queue` beside the one `url` names.
async fn fresh_postgres(url: &str) -> Result<String> {
    sqlx::any::install_default_drivers();
    let admin = AnyPool::connect(url)
        .await
        .context("connecting to PostgreSQL")?;
    sqlx::query("DROP DATABASE IF EXISTS triage_bench_queue")
        .execute(&admin)
        .await?;
    sqlx::query("CREATE DATABASE triage_bench_queue")
        .execute(&admin)
        .await?;
    admin.close().await;
    let base = url.rsplit_once('/').map_or(url, |(base, _)| base);
    Ok(format!("{base}/triage_bench_queue"))
}

async fn one(
    relay_bin: &Path,
    backend: &str,
    url: &str,
    size: Size,
    tmp: &Path,
) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    let store = Store::open(url).await.context("opening the store")?;
    let technician = KeyPair::generate();
    triage_relay::admin::register_technician(
        &store,
        "bench-tech",
        &[Role::L1, Role::L2, Role::L3, Role::Admin],
        technician.public_key(),
        "bench",
        Timestamp::now(),
    )
    .await?;
    store.close().await;
    eprintln!(
        "triage-bench: filling {backend} with {} tickets …",
        size.tickets
    );
    let fill = fill(url, size).await?;
    rows.push(
        Row::new(
            M,
            &format!("{backend}: bulk fill"),
            fill.rows as f64 / fill.took.as_secs_f64(),
            "rows/s",
            Target::None,
        )
        .note(format!(
            "{} tickets, {} comments, {} endpoints in {:.0} s, indexed as written",
            fill.tickets,
            fill.comments,
            size.agents,
            fill.took.as_secs_f64()
        )),
    );

    let data = tmp.join(format!("relay-{backend}"));
    std::fs::create_dir_all(&data)?;
    let port = crate::fleet::free_udp_port()?;
    let addr = format!("127.0.0.1:{port}");
    let mut relay = crate::fleet::spawn_relay(relay_bin, &addr, &data, &["--database-url", url])?;
    let pid = relay.id().ok_or_else(|| anyhow!("relay exited at once"))?;
    let result = drive(
        relay_bin,
        &data,
        url,
        &addr,
        pid,
        &technician,
        backend,
        size,
        &fill,
    )
    .await;
    // SAFETY: signalling the child we started, by its pid.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let _ = tokio::time::timeout(Duration::from_secs(10), relay.wait()).await;
    rows.extend(result?);
    Ok(rows)
}

#[allow(clippy::too_many_arguments)] // one measurement's whole set-up
async fn drive(
    relay_bin: &Path,
    data: &Path,
    url: &str,
    addr: &str,
    pid: u32,
    technician: &KeyPair,
    backend: &str,
    size: Size,
    fill: &Filled,
) -> Result<Vec<Row>> {
    let token = token(relay_bin, data, url, addr).await?;
    let session = connect_when_up(&token, technician).await?;
    let rss_start = rss_bytes(pid).ok_or_else(|| anyhow!("relay gone"))?;
    let peak = Arc::new(AtomicU64::new(rss_start));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (peak, sampling) = (peak.clone(), sampling.clone());
        tokio::spawn(async move {
            while sampling.load(Ordering::Relaxed) {
                if let Some(rss) = rss_bytes(pid) {
                    peak.fetch_max(rss, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };

    let lists = list_requests(fill);
    let mut list_times = Vec::with_capacity(size.requests);
    let mut listed = 0usize;
    for i in 0..size.requests {
        let request = &lists[i % lists.len()];
        let started = Instant::now();
        match session.request(request).await? {
            Response::TicketPage { tickets, .. } => listed += tickets.len(),
            Response::Error(e) => bail!("{} refused: {e}", request.name()),
            other => bail!("list answered {}", other.name()),
        }
        list_times.push(started.elapsed());
    }
    let rss_after_lists = rss_bytes(pid).unwrap_or(0);

    let searches = search_requests();
    let mut search_times = Vec::with_capacity(size.requests);
    let mut found = 0usize;
    for i in 0..size.requests {
        let request = &searches[i % searches.len()];
        let started = Instant::now();
        match session.request(request).await? {
            Response::SearchHits(hits) => found += hits.len(),
            Response::Error(e) => bail!("search refused: {e}"),
            other => bail!("search answered {}", other.name()),
        }
        search_times.push(started.elapsed());
    }
    session.close().await;

    let (filed, insert_took) = insert_rate(&token, size.insert_secs).await?;
    sampling.store(false, Ordering::Relaxed);
    let _ = sampler.await;
    let rss_end = rss_bytes(pid).unwrap_or(0);
    let peak = peak.load(Ordering::Relaxed);

    let list = summarize(list_times).ok_or_else(|| anyhow!("no list was timed"))?;
    let search = summarize(search_times).ok_or_else(|| anyhow!("no search was timed"))?;
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    let shapes = format!(
        "{} requests over {} filter shapes, first page of {SCREEN_PAGE}, {listed} tickets returned",
        list.count,
        lists.len()
    );
    Ok(vec![
        Row::new(M, &format!("{backend}: filtered list p50"), ms(list.p50), "ms", Target::None)
            .note(shapes.clone()),
        Row::new(M, &format!("{backend}: filtered list p99"), ms(list.p99), "ms", Target::Below(20.0))
            .note(shapes),
        Row::new(M, &format!("{backend}: search p50"), ms(search.p50), "ms", Target::None).note(
            format!(
                "{} searches over {} queries, {found} hits returned",
                search.count,
                searches.len()
            ),
        ),
        Row::new(M, &format!("{backend}: search p99"), ms(search.p99), "ms", Target::Below(50.0)),
        Row::new(
            M,
            &format!("{backend}: tickets filed with the index kept"),
            filed as f64 / insert_took.as_secs_f64(),
            "tickets/s",
            Target::None,
        )
        .note(format!(
            "{filed} from 16 agents in {:.1} s onto {} tickets",
            insert_took.as_secs_f64(),
            fill.tickets
        )),
        Row::new(M, &format!("{backend}: relay RSS peak"), mib(peak), "MiB", Target::None).note(format!(
            "{:.1} MiB when the first request was answered, {:.1} after the lists, {:.1} at the end",
            mib(rss_start),
            mib(rss_after_lists),
            mib(rss_end)
        )),
    ])
}

/// A token from `triage-relay token`, once the relay has written its
/// key and address (the token carries its fingerprint).
async fn token(relay_bin: &Path, data: &Path, url: &str, addr: &str) -> Result<EnrollmentToken> {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !data.join("public-addr").exists() {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the relay did not start in 120 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let out = tokio::process::Command::new(relay_bin)
        .args([
            "token",
            "--uses",
            "100",
            "--ttl",
            "1h",
            "--public-addr",
            addr,
            "--database-url",
            url,
            "--data-dir",
        ])
        .arg(data)
        .output()
        .await?;
    anyhow::ensure!(
        out.status.success(),
        "triage-relay token failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)?
        .trim()
        .parse()
        .map_err(|e| anyhow!("token: {e}"))
}

async fn connect_when_up(token: &EnrollmentToken, key: &KeyPair) -> Result<Session> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match Session::connect(&token.relay, key, PeerKind::Technician).await {
            Ok(s) => return Ok(s),
            Err(e) if Instant::now() > deadline => {
                return Err(anyhow!("relay did not come up: {e}"))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// What a technician asks of the queue through a day.
fn list_requests(fill: &Filled) -> Vec<Request> {
    let page = |filter: TicketFilter, sort: TicketSort| Request::ListTicketsPage {
        filter,
        sort,
        after: None,
        limit: SCREEN_PAGE,
    };
    let week_ago = Timestamp(fill.newest.millis() - 7 * 86_400_000);
    vec![
        page(TicketFilter::default(), TicketSort::Created),
        page(
            TicketFilter {
                tiers: vec![Tier::L2],
                assignee: AssigneeFilter::Unassigned,
                ..TicketFilter::default()
            },
            TicketSort::Created,
        ),
        page(
            TicketFilter {
                statuses: vec![Status::Open, Status::InProgress, Status::Waiting],
                ..TicketFilter::default()
            },
            TicketSort::Priority,
        ),
        page(
            TicketFilter {
                assignee: AssigneeFilter::Named(tech_name(3)),
                statuses: vec![Status::InProgress],
                ..TicketFilter::default()
            },
            TicketSort::Due,
        ),
        page(
            TicketFilter {
                breaching: true,
                ..TicketFilter::default()
            },
            TicketSort::Due,
        ),
        page(
            TicketFilter {
                requester: Some(requester_name(17)),
                ..TicketFilter::default()
            },
            TicketSort::Created,
        ),
        page(
            TicketFilter {
                agent: Some(AgentSelector::Name(hostname(fill.agents * 3 / 7))),
                ..TicketFilter::default()
            },
            TicketSort::Created,
        ),
        page(
            TicketFilter {
                categories: vec![Category::Network],
                priorities: vec![Priority::Urgent, Priority::High],
                updated_since: Some(week_ago),
                ..TicketFilter::default()
            },
            TicketSort::Updated,
        ),
    ]
}

fn search_requests() -> Vec<Request> {
    let search = |text: &str, filter: TicketFilter| Request::SearchTickets {
        query: SearchQuery::parse(text).expect("bench queries parse"),
        filter,
        limit: 20,
    };
    vec![
        search("vpn drops", TicketFilter::default()),
        search("\"blue screen\"", TicketFilter::default()),
        search("printer -toner", TicketFilter::default()),
        search(
            "outlook crashes",
            TicketFilter {
                statuses: vec![Status::Resolved, Status::Closed],
                ..TicketFilter::default()
            },
        ),
        search(&vocabulary_word(900), TicketFilter::default()),
        search(
            &format!("{} {}", vocabulary_word(40), vocabulary_word(2500)),
            TicketFilter::default(),
        ),
        search(
            "wifi",
            TicketFilter {
                tiers: vec![Tier::L2],
                ..TicketFilter::default()
            },
        ),
        search("disk smart", TicketFilter::default()),
    ]
}

/// Tickets filed by 16 agents at once for `secs`, through the relay.
async fn insert_rate(token: &EnrollmentToken, secs: u64) -> Result<(u64, Duration)> {
    let mut sessions = Vec::new();
    for _ in 0..16 {
        let (key, _) = enroll_key(&token.relay, token).await?;
        sessions.push(Session::connect(&token.relay, &key, PeerKind::AgentOneShot).await?);
    }
    let started = Instant::now();
    let deadline = started + Duration::from_secs(secs);
    let mut set = tokio::task::JoinSet::new();
    for (n, session) in sessions.into_iter().enumerate() {
        set.spawn(async move {
            let mut text = Text::new(n as u64 + 7);
            let mut filed = 0u64;
            while Instant::now() < deadline {
                let request = Request::SubmitTicket {
                    ticket: NewTicket {
                        id: TicketId::new_random(),
                        title: text.title(),
                        description: text.body(40, 600),
                        category: Category::Software,
                        priority: Priority::Normal,
                        source: Source::Employee,
                        requester: requester_name(n),
                    },
                    snapshot: None,
                };
                if let Ok(Response::TicketStored { .. }) = session.request(&request).await {
                    filed += 1;
                }
            }
            session.close().await;
            filed
        });
    }
    let mut filed = 0;
    while let Some(r) = set.join_next().await {
        filed += r?;
    }
    Ok((filed, started.elapsed()))
}

struct Filled {
    tickets: usize,
    agents: usize,
    comments: usize,
    rows: usize,
    took: Duration,
    newest: Timestamp,
}

async fn fill(url: &str, size: Size) -> Result<Filled> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await?;
    let started = Instant::now();
    let now = Timestamp::now();
    let mut rng = Text::new(42);

    let mut agent_rows = Vec::with_capacity(ROWS_PER_COMMIT);
    let mut agent_ids = Vec::with_capacity(size.agents);
    for i in 0..size.agents {
        let id = uuid::Uuid::new_v4().to_string();
        agent_ids.push(id.clone());
        agent_rows.push(vec![
            Value::Text(id),
            Value::Text(KeyPair::generate().public_key().to_string()),
            Value::Text(hostname(i)),
            Value::Text(["Debian 12", "Ubuntu 24.04", "Windows 11", "macOS 15"][i % 4].into()),
            Value::Int(now.millis() - 400 * 86_400_000),
            Value::Int(now.millis() - rng.below(30 * 86_400_000) as i64),
        ]);
        if agent_rows.len() == ROWS_PER_COMMIT {
            insert_rows(&pool, "agents", AGENTS, &mut agent_rows).await?;
        }
    }
    insert_rows(&pool, "agents", AGENTS, &mut agent_rows).await?;

    let span = 730 * 86_400_000i64;
    let mut tickets = Vec::with_capacity(ROWS_PER_COMMIT);
    let mut comments = Vec::with_capacity(ROWS_PER_COMMIT * 2);
    let mut comment_count = 0usize;
    for i in 0..size.tickets {
        // Oldest first, so the newest are the most recent two years.
        let created = now.millis() - span + (span / size.tickets as i64) * i as i64;
        let age_days = (now.millis() - created) / 86_400_000;
        let status = match (age_days, rng.below(100)) {
            (0..=2, 0..=39) => Status::Open,
            (0..=2, 40..=74) => Status::InProgress,
            (0..=2, 75..=89) => Status::Waiting,
            (0..=2, _) => Status::Resolved,
            (_, 0..=1) => Status::Waiting,
            (_, 2..=59) => Status::Closed,
            _ => Status::Resolved,
        };
        let priority = [
            Priority::Low,
            Priority::Normal,
            Priority::Normal,
            Priority::Normal,
            Priority::High,
            Priority::Urgent,
        ][rng.below(6) as usize];
        let tier =
            [Tier::L1, Tier::L1, Tier::L1, Tier::L2, Tier::L2, Tier::L3][rng.below(6) as usize];
        let assignee = (status != Status::Open || rng.below(3) == 0)
            .then(|| tech_name(rng.below(TECHNICIANS as u64) as usize));
        let updated = created + rng.below(5 * 86_400_000) as i64;
        let agent = rng.below(size.agents as u64) as usize;
        let id = uuid::Uuid::new_v4().to_string();
        // The clocks a relay would have stored: filed, then the status now.
        let sla_policy = triage_shared::sla::SlaPolicy::default();
        let mut facts = vec![triage_shared::sla::SlaFact::Created {
            at: Timestamp(created),
            priority,
            category: Category::Other,
        }];
        if status != Status::Open {
            facts.push(triage_shared::sla::SlaFact::StatusChanged {
                at: Timestamp(updated),
                to: status,
                by_technician: true,
            });
        }
        let clocks = triage_shared::sla::evaluate(&facts, &sla_policy, now);
        let resolved = matches!(status, Status::Resolved | Status::Closed);
        let resolution = resolved.then(|| rng.resolution());
        tickets.push(vec![
            Value::Text(id.clone()),
            Value::Text(rng.title()),
            Value::Text(rng.body(20, 1200)),
            Value::Text(Category::ALL[rng.below(5) as usize].as_str().into()),
            Value::Text(priority.as_str().into()),
            Value::Text(status.as_str().into()),
            Value::Text(tier.as_str().into()),
            Value::Text(
                ["employee", "employee", "employee", "health_alert"][rng.below(4) as usize].into(),
            ),
            Value::Text(agent_ids[agent].clone()),
            Value::Text(hostname(agent)),
            Value::Text(requester_name(rng.below(REQUESTERS as u64) as usize)),
            assignee.clone().map_or(Value::Null, Value::Text),
            Value::Int(created),
            Value::Int(updated),
            Value::Int(triage_relay::store::sla::due_sort_key(&clocks.sla).millis()),
            Value::Int(priority_rank(priority)),
            resolution.clone().map_or(Value::Null, Value::Text),
            Value::Text(serde_json::to_string(&clocks.sla)?),
            clocks
                .sla
                .attention_at()
                .map_or(Value::Null, |t| Value::Int(t.millis())),
            clocks
                .next_event_at
                .map_or(Value::Null, |t| Value::Int(t.millis())),
        ]);
        let mut seq = 0;
        for _ in 0..rng.below(3) {
            seq += 1;
            let internal = rng.below(5) == 0;
            comments.push(comment_row(
                &id,
                seq,
                assignee.as_deref().unwrap_or("alice"),
                rng.body(10, 400),
                created,
                internal,
            ));
        }
        if let Some(note) = resolution {
            seq += 1;
            comments.push(comment_row(
                &id,
                seq,
                assignee.as_deref().unwrap_or("alice"),
                note,
                updated,
                false,
            ));
        }
        if tickets.len() == ROWS_PER_COMMIT {
            comment_count += comments.len();
            insert_rows(&pool, "tickets", TICKETS, &mut tickets).await?;
            insert_rows(&pool, "ticket_comments", COMMENTS, &mut comments).await?;
            if (i + 1) % 200_000 == 0 {
                eprintln!(
                    "triage-bench: {} tickets in {:.0} s",
                    i + 1,
                    started.elapsed().as_secs_f64()
                );
            }
        }
    }
    comment_count += comments.len();
    insert_rows(&pool, "tickets", TICKETS, &mut tickets).await?;
    insert_rows(&pool, "ticket_comments", COMMENTS, &mut comments).await?;
    if url.starts_with("postgres") {
        sqlx::query("ANALYZE").execute(&pool).await?;
    } else {
        sqlx::query("ANALYZE").execute(&pool).await?;
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&pool)
            .await?;
    }
    pool.close().await;
    Ok(Filled {
        tickets: size.tickets,
        agents: size.agents,
        comments: comment_count,
        rows: size.tickets + comment_count + size.agents,
        took: started.elapsed(),
        newest: now,
    })
}

const AGENTS: &str = "id, public_key, hostname, os, enrolled_at, last_seen";
const TICKETS: &str =
    "id, title, description, category, priority, status, tier, source, agent_id, \
     hostname, requester, assignee, created_at, updated_at, sla_due_at, priority_rank, resolution, \
     sla_json, sla_attention_at, sla_next_event_at";
const COMMENTS: &str = "id, ticket_id, seq, author, body, created_at, internal";

fn comment_row(
    ticket: &str,
    seq: i64,
    author: &str,
    body: String,
    at: i64,
    internal: bool,
) -> Vec<Value> {
    vec![
        Value::Text(uuid::Uuid::new_v4().to_string()),
        Value::Text(ticket.into()),
        Value::Int(seq),
        Value::Text(author.into()),
        Value::Text(body),
        Value::Int(at),
        Value::Int(internal as i64),
    ]
}

enum Value {
    Text(String),
    Int(i64),
    Null,
}

/// Inserts and empties `rows`, several hundred a statement, in one transaction.
async fn insert_rows(
    pool: &AnyPool,
    table: &str,
    columns: &str,
    rows: &mut Vec<Vec<Value>>,
) -> Result<()> {
    let mut tx = pool.begin().await?;
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let width = chunk[0].len();
        let mut sql = format!("INSERT INTO {table} ({columns}) VALUES ");
        for r in 0..chunk.len() {
            if r > 0 {
                sql.push(',');
            }
            sql.push('(');
            for c in 0..width {
                if c > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!("${}", r * width + c + 1));
            }
            sql.push(')');
        }
        let mut query = sqlx::query(&sql);
        for row in chunk {
            for value in row {
                query = match value {
                    Value::Text(t) => query.bind(t.clone()),
                    Value::Int(i) => query.bind(*i),
                    Value::Null => query.bind(None::<String>),
                };
            }
        }
        query.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    rows.clear();
    Ok(())
}

fn tech_name(i: usize) -> String {
    format!("tech{i:02}")
}

fn requester_name(i: usize) -> String {
    format!("emp{i:05}")
}

fn hostname(i: usize) -> String {
    format!("pc-{i:06}")
}

/// IT words a help desk reads every day, most common first; the rest of
/// the vocabulary is made-up words, so the text has a long tail of rare
/// words as real tickets do.
const COMMON: &[&str] = &[
    "error",
    "login",
    "password",
    "printer",
    "vpn",
    "email",
    "outlook",
    "wifi",
    "network",
    "slow",
    "crashes",
    "screen",
    "laptop",
    "drops",
    "update",
    "install",
    "access",
    "account",
    "teams",
    "excel",
    "disk",
    "battery",
    "keyboard",
    "mouse",
    "monitor",
    "docking",
    "station",
    "blue",
    "toner",
    "paper",
    "jam",
    "license",
    "expired",
    "certificate",
    "browser",
    "chrome",
    "firefox",
    "calendar",
    "meeting",
    "audio",
    "microphone",
    "camera",
    "bluetooth",
    "driver",
    "reboot",
    "freeze",
    "memory",
    "cpu",
    "fan",
    "noise",
    "smart",
    "sector",
    "backup",
    "restore",
    "sync",
    "onedrive",
    "sharepoint",
    "permission",
    "denied",
    "locked",
    "mfa",
    "token",
    "phone",
    "mobile",
];

fn vocabulary_word(rank: usize) -> String {
    if rank < COMMON.len() {
        return COMMON[rank].to_string();
    }
    const SYLLABLES: [&str; 16] = [
        "ka", "lo", "mi", "ner", "tu", "vex", "sa", "ron", "di", "pel", "qua", "zor", "fi", "gan",
        "hu", "bre",
    ];
    let mut n = rank;
    let mut word = String::new();
    for _ in 0..3 {
        word.push_str(SYLLABLES[n % 16]);
        n /= 16;
    }
    word
}

/// A small deterministic generator of ticket text.
struct Text(u64);

impl Text {
    fn new(seed: u64) -> Text {
        Text(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// A word, skewed towards the common ones (about Zipf's law).
    fn word(&mut self) -> String {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        vocabulary_word((4000.0 * u.powi(4)) as usize)
    }

    fn title(&mut self) -> String {
        const SUBJECTS: &[&str] = &[
            "VPN",
            "Outlook",
            "Printer",
            "Wifi",
            "Laptop",
            "Teams",
            "Excel",
            "Monitor",
            "Disk",
            "Password",
            "Docking station",
            "Battery",
            "Browser",
        ];
        const PROBLEMS: &[&str] = &[
            "drops every hour",
            "crashes on start",
            "is very slow",
            "will not connect",
            "shows a blue screen",
            "asks for the password again",
            "is out of toner",
            "makes a noise",
            "does not sync",
            "access denied",
        ];
        format!(
            "{} {} {}",
            SUBJECTS[self.below(SUBJECTS.len() as u64) as usize],
            PROBLEMS[self.below(PROBLEMS.len() as u64) as usize],
            self.word()
        )
    }

    /// Between `min` and `max` bytes of words, skewed short.
    fn body(&mut self, min: usize, max: usize) -> String {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        let len = min + ((max - min) as f64 * u * u) as usize;
        let mut text = String::with_capacity(len + 16);
        while text.len() < len {
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(&self.word());
        }
        text
    }

    fn resolution(&mut self) -> String {
        const FIXES: &[&str] = &[
            "Reinstalled the driver",
            "Reset the password",
            "Replaced the toner",
            "Updated the VPN client",
            "Cleared the Outlook profile",
            "Replaced the battery",
            "Moved the user to the 5 GHz wifi",
            "Rebooted the docking station",
        ];
        format!(
            "{} and checked with the user; {}",
            FIXES[self.below(FIXES.len() as u64) as usize],
            self.body(10, 120)
        )
    }
}
