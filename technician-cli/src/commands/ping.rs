//! `triage agents ping AGENT`: does the endpoint answer through the relay,
//! and how fast? Like ping(8): one line per attempt, then a summary. One
//! session is opened and reused, so each line is one request's round trip
//! (technician → relay → agent → back), not a connection set-up.
//!
//! An attempt the relay could not complete (the agent is offline, busy or
//! slow) is printed and counted, and the next one is sent on schedule; a
//! refusal that no retry can change (no such agent, not allowed) or a lost
//! session ends the command at once.

use super::{connect, print_json, unexpected, Connected, Out};
use crate::args::PingArgs;
use crate::error::CliError;
use crate::home::Home;
use crate::selector::AgentSelector;
use crate::ticket_ref::short_uuid;
use serde::Serialize;
use std::time::{Duration, Instant};
use triage_shared::error::ErrorKind;
use triage_shared::protocol::{Request, Response};
use triage_shared::text::clean;
use triage_shared::AgentId;

/// How long the CLI waits for one ping. Longer than the relay's own limit
/// on the agent hop, so a slow agent is reported by the relay, which knows
/// why.
pub const PING_WAIT: Duration = Duration::from_secs(10);

/// A ping command with its input checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub agent: AgentSelector,
    pub count: u32,
    pub interval: Duration,
    pub json: bool,
}

pub fn plan(args: PingArgs) -> Result<Plan, CliError> {
    Ok(Plan {
        agent: crate::selector::parse_agent(&args.agent)?,
        count: args.count,
        interval: Duration::from_millis(args.interval_ms),
        json: args.json,
    })
}

/// One attempt: answered, with both times, or why not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sample {
    /// 1 for the first ping.
    pub seq: u32,
    /// Technician → relay → agent → back, as this CLI timed it.
    pub rtt_micros: Option<u64>,
    /// The relay → agent → relay part, as the relay timed it.
    pub agent_micros: Option<u64>,
    /// Why there was no reply (the relay's words).
    pub error: Option<String>,
}

/// The round trips of the answered pings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub sent: u32,
    pub answered: u32,
    pub min_micros: Option<u64>,
    pub avg_micros: Option<u64>,
    pub max_micros: Option<u64>,
}

/// The `--json` shape: the agent pinged, every attempt, the summary.
#[derive(Debug, Clone, Serialize)]
pub struct PingReport {
    pub agent: AgentId,
    pub hostname: String,
    pub samples: Vec<Sample>,
    pub summary: Summary,
}

pub fn summarize(samples: &[Sample]) -> Summary {
    let rtts: Vec<u64> = samples.iter().filter_map(|s| s.rtt_micros).collect();
    let total: u128 = rtts.iter().map(|&r| u128::from(r)).sum();
    let avg = (!rtts.is_empty()).then(|| (total / rtts.len() as u128) as u64);
    Summary {
        sent: samples.len() as u32,
        answered: rtts.len() as u32,
        min_micros: rtts.iter().copied().min(),
        avg_micros: avg,
        max_micros: rtts.iter().copied().max(),
    }
}

fn ms(micros: u64) -> String {
    format!("{:.2}", micros as f64 / 1000.0)
}

/// `reply from vm (cf158fe6): 1.42 ms (relay→agent 0.81 ms)`, or
/// `no reply from vm (cf158fe6): WHY`. `target` is already clean.
pub fn reply_line(target: &str, sample: &Sample) -> String {
    match (sample.rtt_micros, sample.agent_micros) {
        (Some(rtt), Some(hop)) => {
            format!(
                "reply from {target}: {} ms (relay→agent {} ms)",
                ms(rtt),
                ms(hop)
            )
        }
        _ => format!(
            "no reply from {target}: {}",
            sample.error.as_deref().unwrap_or("no answer")
        ),
    }
}

/// `4 sent, 3 answered, min/avg/max 0.91/1.20/1.42 ms`.
pub fn summary_line(summary: &Summary) -> String {
    let mut line = format!("{} sent, {} answered", summary.sent, summary.answered);
    if let (Some(min), Some(avg), Some(max)) =
        (summary.min_micros, summary.avg_micros, summary.max_micros)
    {
        line.push_str(&format!(
            ", min/avg/max {}/{}/{} ms",
            ms(min),
            ms(avg),
            ms(max)
        ));
    }
    line
}

/// Why an attempt failed, and whether the next one is worth sending.
#[derive(Debug)]
enum Failure {
    /// The agent is offline, busy or slow right now: count it, go on.
    Counted(String),
    /// No retry can change this (no such agent, not allowed, session lost).
    Fatal(CliError),
}

/// Kinds the relay uses for an agent that cannot answer right now.
fn is_transient(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::Unavailable | ErrorKind::Timeout | ErrorKind::Internal
    )
}

pub async fn run(home: &Home, args: PingArgs, out: Out<'_>) -> Result<(), CliError> {
    let plan = plan(args)?;
    let conn = connect(home).await?;
    let result = execute(&conn, &plan, out).await;
    conn.close().await;
    result
}

async fn execute(conn: &Connected, plan: &Plan, out: Out<'_>) -> Result<(), CliError> {
    let agent = conn.resolve_agent(&plan.agent).await?;
    let target = format!("{} ({})", clean(&agent.hostname), short_uuid(&agent.id.0));
    let request = Request::PingAgent { agent: agent.id };
    let mut samples = Vec::with_capacity(plan.count as usize);
    for seq in 1..=plan.count {
        let started = Instant::now();
        let sample = match ping_once(conn, &request).await {
            Ok(agent_micros) => Sample {
                seq,
                rtt_micros: Some(micros(started.elapsed())),
                agent_micros: Some(agent_micros),
                error: None,
            },
            Err(Failure::Counted(why)) => Sample {
                seq,
                rtt_micros: None,
                agent_micros: None,
                error: Some(why),
            },
            Err(Failure::Fatal(e)) => return Err(e),
        };
        if !plan.json {
            writeln!(out, "{}", reply_line(&target, &sample))?;
            out.flush()?;
        }
        samples.push(sample);
        if seq < plan.count {
            // Like ping(8): the next one leaves an interval after this one
            // left, at once if this one took longer.
            tokio::time::sleep_until((started + plan.interval).into()).await;
        }
    }
    let summary = summarize(&samples);
    let answered = summary.answered;
    if plan.json {
        print_json(
            out,
            &PingReport {
                agent: agent.id,
                hostname: agent.hostname.clone(),
                samples,
                summary,
            },
        )?;
    } else {
        writeln!(out, "{}", summary_line(&summary))?;
    }
    if answered == 0 {
        return Err(CliError::NoPingReply {
            agent: target,
            sent: plan.count,
        });
    }
    Ok(())
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// One `PingAgent` on the open session; the relay's agent-hop time.
async fn ping_once(conn: &Connected, request: &Request) -> Result<u64, Failure> {
    match conn.first_answer(request, PING_WAIT).await {
        None => Err(Failure::Counted(format!(
            "the relay did not answer within {} s",
            PING_WAIT.as_secs()
        ))),
        Some(Err(e)) => Err(Failure::Fatal(e.into())),
        Some(Ok(Response::AgentPong { agent_micros })) => Ok(agent_micros),
        Some(Ok(Response::Error(e))) if is_transient(e.kind) => {
            Err(Failure::Counted(clean(&e.message)))
        }
        Some(Ok(Response::Error(e))) => Err(Failure::Fatal(e.into())),
        Some(Ok(_)) => Err(Failure::Fatal(unexpected(request))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command};
    use clap::Parser;

    fn answered(seq: u32, rtt: u64, hop: u64) -> Sample {
        Sample {
            seq,
            rtt_micros: Some(rtt),
            agent_micros: Some(hop),
            error: None,
        }
    }

    fn failed(seq: u32, why: &str) -> Sample {
        Sample {
            seq,
            rtt_micros: None,
            agent_micros: None,
            error: Some(why.into()),
        }
    }

    #[test]
    fn each_attempt_is_one_line_like_ping() {
        let target = "vm (cf158fe6)";
        assert_eq!(
            reply_line(target, &answered(1, 1_420, 810)),
            "reply from vm (cf158fe6): 1.42 ms (relay→agent 0.81 ms)"
        );
        assert_eq!(
            reply_line(target, &failed(2, "agent x (vm) is offline")),
            "no reply from vm (cf158fe6): agent x (vm) is offline"
        );
    }

    #[test]
    fn the_summary_counts_failures_and_times_only_replies() {
        let samples = [
            answered(1, 1_000, 500),
            failed(2, "busy"),
            answered(3, 3_001, 700),
        ];
        let s = summarize(&samples);
        assert_eq!(
            s,
            Summary {
                sent: 3,
                answered: 2,
                min_micros: Some(1_000),
                avg_micros: Some(2_000),
                max_micros: Some(3_001),
            }
        );
        assert_eq!(
            summary_line(&s),
            "3 sent, 2 answered, min/avg/max 1.00/2.00/3.00 ms"
        );
        let none = summarize(&[failed(1, "offline")]);
        assert_eq!((none.sent, none.answered, none.avg_micros), (1, 0, None));
        assert_eq!(summary_line(&none), "1 sent, 0 answered");
        // Huge times do not overflow the average.
        let big = summarize(&[answered(1, u64::MAX, 1), answered(2, u64::MAX, 1)]);
        assert_eq!(big.avg_micros, Some(u64::MAX));
    }

    #[test]
    fn only_a_passing_condition_is_worth_another_ping() {
        for kind in [
            ErrorKind::Unavailable,
            ErrorKind::Timeout,
            ErrorKind::Internal,
        ] {
            assert!(is_transient(kind), "{kind:?}");
        }
        for kind in [
            ErrorKind::NotFound,
            ErrorKind::Forbidden,
            ErrorKind::InvalidInput,
            ErrorKind::Unauthenticated,
        ] {
            assert!(!is_transient(kind), "{kind:?}");
        }
    }

    #[test]
    fn the_agent_is_checked_before_connecting() {
        let cli = Cli::try_parse_from(["triage", "agents", "ping", " ", "--count", "2"]).unwrap();
        let Command::Agents(crate::args::AgentsCommand::Ping(args)) = cli.command else {
            panic!("parsed as something else")
        };
        assert!(matches!(plan(args), Err(CliError::InvalidInput(_))));
        let cli = Cli::try_parse_from(["triage", "agents", "ping", "vm", "--interval-ms", "250"])
            .unwrap();
        let Command::Agents(crate::args::AgentsCommand::Ping(args)) = cli.command else {
            panic!("parsed as something else")
        };
        let p = plan(args).unwrap();
        assert_eq!(p.agent, AgentSelector::Name("vm".into()));
        assert_eq!(
            (p.count, p.interval, p.json),
            (4, Duration::from_millis(250), false)
        );
    }

    #[test]
    fn ping_json_has_stable_field_names() {
        let samples = vec![answered(1, 1_420, 810), failed(2, "offline")];
        let report = PingReport {
            agent: "cf158fe6-0000-4000-8000-000000000001".parse().unwrap(),
            hostname: "vm".into(),
            summary: summarize(&samples),
            samples,
        };
        assert_eq!(
            serde_json::to_value(&report).unwrap(),
            serde_json::json!({
                "agent": "cf158fe6-0000-4000-8000-000000000001",
                "hostname": "vm",
                "samples": [
                    {"seq": 1, "rtt_micros": 1420, "agent_micros": 810, "error": null},
                    {"seq": 2, "rtt_micros": null, "agent_micros": null, "error": "offline"},
                ],
                "summary": {"sent": 2, "answered": 1, "min_micros": 1420,
                            "avg_micros": 1420, "max_micros": 1420},
            })
        );
    }
}
