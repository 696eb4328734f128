//! `triage logs` and `triage screenshot`: the clap types.

use clap::Args;
use std::path::PathBuf;
use std::time::Duration;
use triage_shared::time::parse_duration;
use triage_shared::transfer::{MAX_GREP_LEN, MAX_SINCE_SECS, MAX_TAIL_LINES};

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Agent id, a unique id prefix (8+ hex digits), or its hostname.
    pub agent: String,
    /// Path of the log file on the endpoint (under its allow-list, e.g. /var/log/syslog).
    pub path: String,
    /// Only the last N lines (0 with --follow: only new lines).
    #[arg(long, value_name = "N",
          value_parser = clap::value_parser!(u32).range(0..=MAX_TAIL_LINES as i64))]
    pub tail: Option<u32>,
    /// Only lines stamped within this long before now on the endpoint: e.g. 30m, 2h, 7d.
    /// Lines without a timestamp go with the line before them.
    #[arg(long, value_name = "DURATION", value_parser = parse_since)]
    pub since: Option<Duration>,
    /// Keep sending new lines until Ctrl-C.
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// Only lines matching this regular expression (Rust regex syntax).
    #[arg(long, value_name = "REGEX", value_parser = parse_grep)]
    pub grep: Option<String>,
    /// Write to FILE (through FILE.partial, renamed once its SHA-256 is
    /// verified) with a progress bar on stderr, instead of to stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Also store the pulled log on this ticket (id or unique prefix).
    #[arg(long, value_name = "TICKET", conflicts_with = "follow")]
    pub attach: Option<String>,
    /// Not a flag: whether stdout is a terminal (set by `main`). Then, and
    /// without `-o`, control characters in the log are shown as escapes
    /// (`\x1b`) instead of reaching the terminal.
    #[arg(skip)]
    pub stdout_is_terminal: bool,
}

#[derive(Debug, Args)]
pub struct ScreenshotArgs {
    /// Agent id, a unique id prefix (8+ hex digits), or its hostname.
    pub agent: String,
    /// Write the PNG to FILE (through FILE.partial) instead of to stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Also store the screenshot on this ticket (id or unique prefix).
    #[arg(long, value_name = "TICKET")]
    pub attach: Option<String>,
}

/// `--since`: a shared duration, at most [`MAX_SINCE_SECS`].
pub fn parse_since(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d.as_secs() > MAX_SINCE_SECS {
        return Err("--since may reach back at most ten years".into());
    }
    Ok(d)
}

fn parse_grep(s: &str) -> Result<String, String> {
    if s.is_empty() || s.len() > MAX_GREP_LEN {
        return Err(format!("a --grep pattern is 1 to {MAX_GREP_LEN} bytes"));
    }
    Ok(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command};
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<Command, clap::Error> {
        Cli::try_parse_from(std::iter::once(&"triage").chain(args)).map(|c| c.command)
    }

    fn logs(args: &[&str]) -> LogsArgs {
        match parse(&[&["logs"][..], args].concat()).unwrap() {
            Command::Logs(l) => l,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn logs_takes_every_option() {
        let l = logs(&["laptop-7", "/var/log/syslog"]);
        assert_eq!(
            (l.agent.as_str(), l.path.as_str()),
            ("laptop-7", "/var/log/syslog")
        );
        assert!(l.tail.is_none() && l.since.is_none() && l.grep.is_none());
        assert!(!l.follow && l.output.is_none() && l.attach.is_none());
        let l = logs(&[
            "1234abcd",
            "/var/log/app.log",
            "--tail",
            "50",
            "--since",
            "2h",
            "--grep",
            "error|warn",
            "-o",
            "app.log",
            "--attach",
            "9999ffff",
        ]);
        assert_eq!(l.tail, Some(50));
        assert_eq!(l.since, Some(Duration::from_secs(7200)));
        assert_eq!(l.grep.as_deref(), Some("error|warn"));
        assert_eq!(l.output, Some(PathBuf::from("app.log")));
        assert_eq!(l.attach.as_deref(), Some("9999ffff"));
        assert!(logs(&["a", "/p", "--follow"]).follow);
        assert!(logs(&["a", "/p", "-f"]).follow);
    }

    #[test]
    fn tail_is_bounded_at_its_maximum() {
        let max = MAX_TAIL_LINES.to_string();
        assert_eq!(
            logs(&["a", "/p", "--tail", &max]).tail,
            Some(MAX_TAIL_LINES)
        );
        assert_eq!(logs(&["a", "/p", "--tail", "0"]).tail, Some(0));
        let over = (MAX_TAIL_LINES + 1).to_string();
        assert!(parse(&["logs", "a", "/p", "--tail", &over]).is_err());
        assert!(parse(&["logs", "a", "/p", "--tail", "-1"]).is_err());
    }

    #[test]
    fn bad_since_grep_and_combinations_are_usage_errors() {
        assert!(parse(&["logs", "a", "/p", "--since", "yesterday"]).is_err());
        assert!(parse(&["logs", "a", "/p", "--since", "3660d"]).is_ok());
        assert!(parse(&["logs", "a", "/p", "--since", "3661d"]).is_err());
        assert!(parse(&["logs", "a", "/p", "--grep", ""]).is_err());
        let long = "x".repeat(MAX_GREP_LEN + 1);
        assert!(parse(&["logs", "a", "/p", "--grep", &long]).is_err());
        let err = parse(&["logs", "a", "/p", "--follow", "--attach", "9999ffff"]).unwrap_err();
        assert!(err.to_string().contains("--attach"), "{err}");
        assert!(parse(&["logs", "a"]).is_err(), "a path is needed");
    }

    #[test]
    fn screenshot_takes_output_and_attach() {
        match parse(&[
            "screenshot",
            "laptop-7",
            "-o",
            "s.png",
            "--attach",
            "9999ffff",
        ])
        .unwrap()
        {
            Command::Screenshot(s) => {
                assert_eq!(s.agent, "laptop-7");
                assert_eq!(s.output, Some(PathBuf::from("s.png")));
                assert_eq!(s.attach.as_deref(), Some("9999ffff"));
            }
            other => panic!("{other:?}"),
        }
        assert!(parse(&["screenshot"]).is_err());
    }
}
