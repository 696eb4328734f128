//! `triage audit` and `triage diag`: the clap types.

use clap::{Args, Subcommand};
use std::time::Duration;
use triage_shared::remote::Section;
use triage_shared::time::parse_duration;

/// Entries `triage audit` shows when `--limit` is not given.
pub const DEFAULT_AUDIT_LIMIT: u32 = 100;
/// The most entries `triage audit` shows at once.
pub const MAX_AUDIT_SHOWN: u32 = 100_000;

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
    /// Recompute the whole hash chain and name the first entry that was changed.
    Verify,
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

    #[test]
    fn diag_refuses_unknown_sections_and_needs_an_agent() {
        let err = parse(&["diag", "x", "--section", "gpu"]).unwrap_err();
        assert!(err.to_string().contains("unknown section"), "{err}");
        assert!(parse(&["diag"]).is_err());
    }
}
