//! `triage roster ...`: the clap types for the organisation's roster.

use clap::Subcommand;
use std::path::PathBuf;
use std::time::Duration;
use triage_shared::time::parse_duration;

/// How long an exported roster stays valid when `--valid-for` is not given.
pub const DEFAULT_ROSTER_VALIDITY: &str = "90d";

#[derive(Debug, Subcommand)]
pub enum RosterCommand {
    /// The roster to sign next, built by the relay from its technicians
    /// (admin only). Unsigned: carry it to where the org key lives.
    Export {
        /// How long the roster will be valid once signed (at most 400d).
        #[arg(long, default_value = DEFAULT_ROSTER_VALIDITY, value_parser = parse_duration)]
        valid_for: Duration,
        /// Write it here instead of standard output.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Sign an exported roster with the org key, offline, after reading what
    /// changed since the previous signed roster.
    Sign {
        /// The exported roster (JSON).
        roster: PathBuf,
        /// The organisation's private key file (`triage-relay org init --out`).
        #[arg(long, value_name = "FILE")]
        org_key: PathBuf,
        /// The roster signed last time, to show what changes (recommended).
        #[arg(long, value_name = "FILE")]
        previous: Option<PathBuf>,
        /// Where to write the signed roster.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: PathBuf,
        /// Sign without asking.
        #[arg(long)]
        yes: bool,
    },
    /// Publish a signed roster on the relay, which pushes it to endpoints
    /// within seconds (admin only).
    Publish {
        /// The signed roster (`triage roster sign --output`).
        signed: PathBuf,
    },
    /// The relay's current roster, verified with the org key pinned at login.
    Show {
        #[arg(long)]
        json: bool,
    },
    /// Sign, offline with the current org key, a statement handing trust to
    /// a new org key; endpoints follow only such a statement.
    Rotate {
        /// The current organisation's private key file.
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
        /// The new organisation's private key file (`triage-relay org init --out` on a fresh relay, or any Ed25519 key file).
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: PathBuf,
    },
    /// Publish a signed rotation on the relay, which hands it to endpoints
    /// with the next roster (admin only). Sign a roster with the new key next.
    PublishRotation { rotation: PathBuf },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command};
    use clap::Parser;

    fn roster(args: &[&str]) -> Result<RosterCommand, clap::Error> {
        let cli = Cli::try_parse_from(["triage", "roster"].iter().chain(args))?;
        match cli.command {
            Command::Roster(c) => Ok(c),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn export_defaults_to_ninety_days_on_standard_output() {
        match roster(&["export"]).unwrap() {
            RosterCommand::Export { valid_for, output } => {
                assert_eq!((valid_for.as_secs(), output), (90 * 86_400, None));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn sign_needs_the_key_file_and_an_output() {
        assert!(roster(&["sign", "r.json", "--org-key", "org.key"]).is_err());
        assert!(roster(&["sign", "r.json", "-o", "s.json"]).is_err());
        match roster(&["sign", "r.json", "--org-key", "k", "-o", "s.json", "--yes"]).unwrap() {
            RosterCommand::Sign { yes, previous, .. } => assert!(yes && previous.is_none()),
            other => panic!("{other:?}"),
        }
    }
}
