//! `triage script ...`: the clap types for remediation scripts.

use crate::approve::{parse_approval_ttl, DEFAULT_APPROVAL_TTL};
use crate::attach::{parse_script_timeout, DEFAULT_SCRIPT_TIMEOUT};
use clap::Subcommand;
use std::path::PathBuf;
use std::time::Duration;
use triage_shared::approval::{Interpreter, ScriptDigest};

#[derive(Debug, Subcommand)]
pub enum ScriptCommand {
    /// Sign a script with your key and attach it to a ticket.
    Attach {
        /// Ticket id, or a unique prefix of at least 8 hex digits.
        ticket: String,
        /// The script file (at most 256 KiB).
        file: PathBuf,
        /// sh, bash, powershell or python (default: from the file's
        /// extension, .sh .bash .ps1 .py, else sh).
        #[arg(long, value_parser = parse_interpreter)]
        interpreter: Option<Interpreter>,
        /// How long the script may run before it is killed: 1s to 6h.
        #[arg(long, default_value = DEFAULT_SCRIPT_TIMEOUT, value_parser = parse_script_timeout)]
        timeout: Duration,
        /// One line saying what the script does.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List the scripts on a ticket.
    List {
        ticket: String,
        #[arg(long)]
        json: bool,
    },
    /// Show a script: what it is, who approved it, its runs, and its text.
    Show {
        ticket: String,
        /// Script id, or a unique prefix of at least 8 hex digits.
        script: String,
        #[arg(long)]
        json: bool,
    },
    /// Approve someone else's script to run once on the endpoint it was
    /// signed for: checks the author against the organisation's roster,
    /// shows the whole script and asks before signing.
    Approve {
        ticket: String,
        script: String,
        /// How long the approval stays valid: up to 7d.
        #[arg(long, default_value = DEFAULT_APPROVAL_TTL, value_parser = parse_approval_ttl)]
        expires: Duration,
        /// The digest you reviewed (`sha256:...` from `triage script show`);
        /// refuse to approve if the script is not that one.
        #[arg(long, value_parser = parse_digest)]
        digest: Option<ScriptDigest>,
        /// Sign without asking (needs --digest, so you still name what you read).
        #[arg(long, requires = "digest")]
        yes: bool,
    },
    /// Run an approved script on the ticket's endpoint and stream its output.
    Run { ticket: String, script: String },
}

fn parse_interpreter(s: &str) -> Result<Interpreter, String> {
    s.parse()
}

fn parse_digest(s: &str) -> Result<ScriptDigest, String> {
    ScriptDigest::try_from(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command};
    use clap::Parser;

    fn script(args: &[&str]) -> Result<ScriptCommand, clap::Error> {
        let cli = Cli::try_parse_from(["triage", "script"].iter().chain(args))?;
        match cli.command {
            Command::Script(s) => Ok(s),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn attach_has_defaults_and_takes_every_flag() {
        match script(&["attach", "1234abcd", "fix.py"]).unwrap() {
            ScriptCommand::Attach {
                ticket,
                file,
                interpreter,
                timeout,
                description,
            } => {
                assert_eq!(
                    (ticket.as_str(), file),
                    ("1234abcd", PathBuf::from("fix.py"))
                );
                assert_eq!(interpreter, None, "chosen later from the extension");
                assert_eq!(timeout, Duration::from_secs(300));
                assert_eq!(description, "");
            }
            other => panic!("{other:?}"),
        }
        let args = [
            "attach",
            "t",
            "f",
            "--interpreter",
            "PowerShell",
            "--timeout",
            "90s",
            "--description",
            "fix it",
        ];
        match script(&args).unwrap() {
            ScriptCommand::Attach {
                interpreter,
                timeout,
                description,
                ..
            } => {
                assert_eq!(interpreter, Some(Interpreter::Powershell));
                assert_eq!((timeout.as_secs(), description.as_str()), (90, "fix it"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn attach_refuses_unknown_interpreters_and_timeouts_out_of_range() {
        let err = script(&["attach", "t", "f", "--interpreter", "perl"]).unwrap_err();
        assert!(err.to_string().contains("not allowed"), "{err}");
        assert!(script(&["attach", "t", "f", "--timeout", "0s"]).is_err());
        assert!(script(&["attach", "t", "f", "--timeout", "7h"]).is_err());
        assert!(script(&["attach", "t", "f", "--timeout", "6h"]).is_ok());
        assert!(script(&["attach", "t"]).is_err(), "a file is needed");
    }

    #[test]
    fn list_show_and_run_parse() {
        assert!(matches!(
            script(&["list", "t", "--json"]).unwrap(),
            ScriptCommand::List { json: true, .. }
        ));
        match script(&["show", "t", "abcd1234"]).unwrap() {
            ScriptCommand::Show {
                ticket,
                script,
                json,
            } => {
                assert_eq!(
                    (ticket.as_str(), script.as_str(), json),
                    ("t", "abcd1234", false)
                )
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            script(&["run", "t", "s"]).unwrap(),
            ScriptCommand::Run { .. }
        ));
        assert!(script(&["run", "t"]).is_err(), "a script is needed");
    }

    #[test]
    fn approve_defaults_to_a_day_and_bounds_the_expiry() {
        match script(&["approve", "t", "s"]).unwrap() {
            ScriptCommand::Approve {
                expires, digest, ..
            } => {
                assert_eq!((expires.as_secs(), digest), (86_400, None));
            }
            other => panic!("{other:?}"),
        }
        let digest = format!("sha256:{}", "ab".repeat(32));
        match script(&["approve", "t", "s", "--expires", "1h", "--digest", &digest]).unwrap() {
            ScriptCommand::Approve {
                expires, digest, ..
            } => {
                assert_eq!(expires.as_secs(), 3600);
                assert_eq!(digest, Some(ScriptDigest([0xab; 32])));
            }
            other => panic!("{other:?}"),
        }
        assert!(script(&["approve", "t", "s", "--expires", "8d"]).is_err());
        assert!(script(&["approve", "t", "s", "--expires", "0s"]).is_err());
        assert!(script(&["approve", "t", "s", "--digest", "sha256:12"]).is_err());
    }
}
