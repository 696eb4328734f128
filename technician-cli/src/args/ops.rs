//! `triage audit`, `triage diag` and `triage agents ping`: the clap types.

use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::time::Duration;
use triage_shared::remote::Section;
use triage_shared::time::parse_duration;

/// Entries `triage audit` shows when `--limit` is not given.
pub const DEFAULT_AUDIT_LIMIT: u32 = 100;
/// The most entries `triage audit` shows at once.
pub const MAX_AUDIT_SHOWN: u32 = 100_000;
/// Pings `triage agents ping` sends when `--count` is not given.
pub const DEFAULT_PING_COUNT: u32 = 4;
/// The most pings one `triage agents ping` sends.
pub const MAX_PING_COUNT: u32 = 1000;
/// Milliseconds between pings when `--interval-ms` is not given.
pub const DEFAULT_PING_INTERVAL_MS: u64 = 1000;
/// The longest `--interval-ms`: one minute.
pub const MAX_PING_INTERVAL_MS: u64 = 60_000;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: Option<AuditCommand>,
    #[arg(long)]
    pub json: bool,
    /// Only entries from this long ago onwards: e.g. 30m, 1h, 7d.
    #[arg(long, value_parser = parse_duration)]
    pub since: Option<Duration>,
    /// Show the newest N entries (oldest first).
    #[arg(long, default_value_t = DEFAULT_AUDIT_LIMIT,
          value_parser = clap::value_parser!(u32).range(1..=MAX_AUDIT_SHOWN as i64))]
    pub limit: u32,
    /// Same as `triage audit verify`.
    #[arg(long, conflicts_with_all = ["json", "since", "limit"])]
    pub verify: bool,
}

impl AuditArgs {
    pub fn wants_verify(&self) -> bool {
        self.verify || matches!(self.command, Some(AuditCommand::Verify))
    }
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the whole hash chain and name the first entry that was
    /// changed; also fails when the log no longer extends the newest entry
    /// this CLI saw before (a cut tail or a rewritten chain).
    Verify,
    /// Every entry (from --since on) as JSON lines, one entry a line, for a SIEM.
    Export(AuditExportArgs),
}

#[derive(Debug, Args)]
pub struct AuditExportArgs {
    /// Only entries from this long ago onwards: e.g. 30m, 1h, 7d. Default: all.
    #[arg(long, value_parser = parse_duration)]
    pub since: Option<Duration>,
    /// Write to FILE (through FILE.partial, renamed once complete) instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DiagArgs {
    /// Agent id, a unique id prefix (8+ hex digits), or its hostname.
    pub agent: String,
    #[arg(long)]
    pub json: bool,
    /// Only these sections (repeat or separate with commas): os, cpu,
    /// memory, disks, network, processes, components, users, software,
    /// services. Default: all.
    #[arg(long = "section", value_delimiter = ',', value_parser = parse_section)]
    pub sections: Vec<Section>,
    /// Also store the report on this ticket (id or unique prefix).
    #[arg(long, value_name = "TICKET")]
    pub attach: Option<String>,
}

#[derive(Debug, Args)]
pub struct PingArgs {
    /// Agent id, a unique id prefix (8+ hex digits), or its hostname.
    pub agent: String,
    /// How many pings to send (1 to 1000).
    #[arg(long, default_value_t = DEFAULT_PING_COUNT,
          value_parser = clap::value_parser!(u32).range(1..=MAX_PING_COUNT as i64))]
    pub count: u32,
    /// Milliseconds from the start of one ping to the next (0 to 60000).
    #[arg(long, value_name = "MS", default_value_t = DEFAULT_PING_INTERVAL_MS,
          value_parser = clap::value_parser!(u64).range(0..=MAX_PING_INTERVAL_MS))]
    pub interval_ms: u64,
    /// Print one JSON object (every sample and the summary) at the end.
    #[arg(long)]
    pub json: bool,
}

fn parse_section(s: &str) -> Result<Section, String> {
    s.parse()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command};
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<Command, clap::Error> {
        Cli::try_parse_from(std::iter::once(&"triage").chain(args)).map(|c| c.command)
    }

    fn audit(args: &[&str]) -> AuditArgs {
        match parse(&[&["audit"][..], args].concat()).unwrap() {
            Command::Audit(a) => a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn audit_lists_by_default() {
        let a = audit(&[]);
        assert!(!a.wants_verify() && !a.json);
        assert_eq!((a.since, a.limit), (None, DEFAULT_AUDIT_LIMIT));
        let a = audit(&["--json", "--since", "2h", "--limit", "5"]);
        assert!(a.json && !a.wants_verify());
        assert_eq!((a.since, a.limit), (Some(Duration::from_secs(7200)), 5));
    }

    #[test]
    fn audit_verify_is_a_subcommand_or_a_flag() {
        assert!(audit(&["verify"]).wants_verify());
        assert!(audit(&["--verify"]).wants_verify());
        assert!(parse(&["audit", "--verify", "--since", "1h"]).is_err());
        assert!(parse(&["audit", "--json", "verify"]).is_err());
    }

    #[test]
    fn audit_export_takes_since_and_output() {
        let a = audit(&["export", "--since", "7d", "-o", "audit.jsonl"]);
        assert!(!a.wants_verify());
        let Some(AuditCommand::Export(e)) = a.command else {
            panic!("{a:?}")
        };
        assert_eq!(e.since, Some(Duration::from_secs(7 * 86_400)));
        assert_eq!(e.output, Some(PathBuf::from("audit.jsonl")));
        let a = audit(&["export"]);
        assert!(matches!(
            a.command,
            Some(AuditCommand::Export(AuditExportArgs {
                since: None,
                output: None
            }))
        ));
        assert!(parse(&["audit", "export", "--since", "soon"]).is_err());
    }

    #[test]
    fn audit_refuses_bad_limits_and_durations() {
        assert!(parse(&["audit", "--limit", "0"]).is_err());
        let over = (MAX_AUDIT_SHOWN + 1).to_string();
        assert!(parse(&["audit", "--limit", &over]).is_err());
        assert!(parse(&["audit", "--since", "yesterday"]).is_err());
    }

    #[test]
    fn diag_takes_sections_attach_and_json() {
        match parse(&["diag", "laptop-7"]).unwrap() {
            Command::Diag(d) => {
                assert_eq!(d.agent, "laptop-7");
                assert!(d.sections.is_empty() && d.attach.is_none() && !d.json);
            }
            other => panic!("{other:?}"),
        }
        let args = [
            "diag",
            "1234abcd",
            "--json",
            "--section",
            "cpu,Memory",
            "--section",
            "software",
            "--attach",
            "9999ffff",
        ];
        match parse(&args).unwrap() {
            Command::Diag(d) => {
                assert_eq!(
                    d.sections,
                    vec![Section::Cpu, Section::Memory, Section::Software]
                );
                assert_eq!(d.attach.as_deref(), Some("9999ffff"));
                assert!(d.json);
            }
            other => panic!("{other:?}"),
        }
    }

    fn ping(args: &[&str]) -> Result<PingArgs, clap::Error> {
        match parse(&[&["agents", "ping"][..], args].concat())? {
            Command::Agents(crate::args::AgentsCommand::Ping(p)) => Ok(p),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn agents_ping_defaults_to_four_pings_a_second_apart() {
        let p = ping(&["vm"]).unwrap();
        assert_eq!(p.agent, "vm");
        assert_eq!(
            (p.count, p.interval_ms, p.json),
            (DEFAULT_PING_COUNT, DEFAULT_PING_INTERVAL_MS, false)
        );
        let p = ping(&["cf158fe6", "--count", "2", "--interval-ms", "10", "--json"]).unwrap();
        assert_eq!((p.count, p.interval_ms, p.json), (2, 10, true));
        assert!(parse(&["agents", "ping"]).is_err(), "needs an agent");
    }

    #[test]
    fn agents_ping_bounds_are_usage_errors_at_the_edges() {
        let max = MAX_PING_COUNT.to_string();
        assert_eq!(
            ping(&["vm", "--count", &max]).unwrap().count,
            MAX_PING_COUNT
        );
        assert_eq!(ping(&["vm", "--count", "1"]).unwrap().count, 1);
        for bad in ["0", &(MAX_PING_COUNT + 1).to_string(), "-1", "many"] {
            let err = ping(&["vm", &format!("--count={bad}")]).unwrap_err();
            assert!(err.to_string().contains("--count"), "{bad}: {err}");
        }
        let err = ping(&["vm", "--count", "1001"]).unwrap_err();
        assert!(err.to_string().contains("1..=1000"), "{err}");
        let max = MAX_PING_INTERVAL_MS.to_string();
        assert_eq!(
            ping(&["vm", "--interval-ms", &max]).unwrap().interval_ms,
            MAX_PING_INTERVAL_MS
        );
        assert_eq!(ping(&["vm", "--interval-ms", "0"]).unwrap().interval_ms, 0);
        for bad in ["60001", "-5", "1s"] {
            let err = ping(&["vm", &format!("--interval-ms={bad}")]).unwrap_err();
            assert!(err.to_string().contains("--interval-ms"), "{bad}: {err}");
        }
    }

    #[test]
    fn diag_refuses_unknown_sections_and_needs_an_agent() {
        let err = parse(&["diag", "x", "--section", "gpu"]).unwrap_err();
        assert!(err.to_string().contains("unknown section"), "{err}");
        assert!(parse(&["diag"]).is_err());
    }
}
