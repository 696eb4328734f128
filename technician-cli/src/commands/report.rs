//! `triage report [--since 30d] [--by FIELD] [--json | --html FILE [--force]]`:
//! help desk metrics the relay computes, as tables, one JSON object or a
//! self-contained HTML file with charts.

use super::{connect, print_json, unexpected, Out};
use crate::args::ReportArgs;
use crate::error::CliError;
use crate::home::Home;
use crate::render;
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use triage_shared::desk_report::{check_window, DeskReport, ReportBy};
use triage_shared::protocol::{Request, Response};
use triage_shared::time::Timestamp;

/// How the report is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportOutput {
    Text,
    Json,
    Html { path: PathBuf, replace: bool },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportPlan {
    pub window_ms: u64,
    pub by: Option<ReportBy>,
    pub output: ReportOutput,
}

/// Checks the arguments before connecting: the window within range, and
/// an HTML file that would not replace one without `--force`.
pub fn plan_report(args: &ReportArgs) -> Result<ReportPlan, CliError> {
    let window_ms = u64::try_from(args.since.as_millis()).unwrap_or(u64::MAX);
    check_window(window_ms).map_err(|e| {
        CliError::InvalidInput(format!(
            "--since {}: {}",
            triage_shared::time::human_duration(args.since),
            e.problem
        ))
    })?;
    let output = match &args.html {
        Some(path) => {
            if !args.force && path.exists() {
                return Err(CliError::InvalidInput(format!(
                    "{} already exists; pass --force to replace it, or name another file",
                    path.display()
                )));
            }
            ReportOutput::Html {
                path: path.clone(),
                replace: args.force,
            }
        }
        None if args.json => ReportOutput::Json,
        None => ReportOutput::Text,
    };
    Ok(ReportPlan {
        window_ms,
        by: args.by,
        output,
    })
}

/// `report --json`: the report, and the shares it implies in percent
/// (`null` where there was nothing to divide).
#[derive(Debug, Serialize)]
struct ReportJson<'a> {
    #[serde(flatten)]
    report: &'a DeskReport,
    percent: Percent,
    satisfaction_mean: Option<f64>,
}

#[derive(Debug, Serialize)]
struct Percent {
    sla_compliance: Option<f64>,
    first_contact_resolution: Option<f64>,
    reopen_rate: Option<f64>,
    deflection_rate: Option<f64>,
}

pub async fn run(home: &Home, args: ReportArgs, out: Out<'_>) -> Result<(), CliError> {
    let plan = plan_report(&args)?;
    let request = Request::DeskReport {
        window_ms: plan.window_ms,
        by: plan.by,
    };
    let conn = connect(home).await?;
    let result = conn.ask(&request).await;
    conn.close().await;
    let report = match result? {
        Response::DeskReport(report) => report,
        _ => return Err(unexpected(&request)),
    };
    report
        .validate()
        .map_err(|e| CliError::InvalidInput(format!("the relay's report is malformed: {e}")))?;
    match plan.output {
        ReportOutput::Json => print_json(
            out,
            &ReportJson {
                report: &report,
                percent: Percent {
                    sla_compliance: report.overall.sla_compliance.percent(),
                    first_contact_resolution: report.overall.first_contact_resolution.percent(),
                    reopen_rate: report.reopen_rate.percent(),
                    deflection_rate: report.deflection.rate().percent(),
                },
                satisfaction_mean: report.satisfaction.mean(),
            },
        ),
        ReportOutput::Text => {
            let width = super::terminal_width();
            write!(out, "{}", render::desk_report_text(&report, width))?;
            Ok(())
        }
        ReportOutput::Html { path, replace } => {
            let html = render::report_html::page(&report, Timestamp::now());
            write_aside(&path, html.as_bytes(), replace)?;
            writeln!(out, "Wrote {} ({} bytes).", path.display(), html.len())?;
            Ok(())
        }
    }
}

/// Writes `bytes` to a new file beside `path`, then renames it into place,
/// so a reader never sees half a report. Without `replace`, an existing
/// file (made since the check) is left alone.
pub fn write_aside(path: &Path, bytes: &[u8], replace: bool) -> Result<(), CliError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| CliError::InvalidInput(format!("{} names no file", path.display())))?;
    let cannot =
        |e: std::io::Error| CliError::InvalidInput(format!("cannot write {}: {e}", path.display()));
    let aside = dir.join(format!(
        ".{}.{}.part",
        name.to_string_lossy(),
        uuid::Uuid::new_v4().simple()
    ));
    let written = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&aside)?;
        file.write_all(bytes)?;
        file.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&aside);
        return Err(cannot(e));
    }
    let placed = if replace {
        std::fs::rename(&aside, path)
    } else {
        // A hard link fails if the name was taken meanwhile.
        std::fs::hard_link(&aside, path).and_then(|()| std::fs::remove_file(&aside))
    };
    if let Err(e) = placed {
        let _ = std::fs::remove_file(&aside);
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            return Err(CliError::InvalidInput(format!(
                "{} already exists; pass --force to replace it, or name another file",
                path.display()
            )));
        }
        return Err(cannot(e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command};
    use clap::Parser;

    fn args(line: &[&str]) -> ReportArgs {
        let cli = Cli::try_parse_from([&["triage", "report"][..], line].concat()).unwrap();
        match cli.command {
            Command::Report(a) => a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_report_input_is_refused_before_connecting() {
        let plan = plan_report(&args(&[])).unwrap();
        assert_eq!(plan.window_ms, 30 * 86_400_000);
        assert_eq!(plan.output, ReportOutput::Text);
        let plan = plan_report(&args(&["--since", "7d", "--by", "host", "--json"])).unwrap();
        assert_eq!(
            (plan.by, plan.output),
            (Some(ReportBy::Host), ReportOutput::Json)
        );

        let err = plan_report(&args(&["--since", "3h"]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--since 3h") && err.contains("1d to 730d"),
            "{err}"
        );
        assert!(plan_report(&args(&["--since", "731d"])).is_err());
        assert!(Cli::try_parse_from(["triage", "report", "--by", "hosts"]).is_err());
        assert!(Cli::try_parse_from(["triage", "report", "--json", "--html", "r.html"]).is_err());
        assert!(Cli::try_parse_from(["triage", "report", "--force"]).is_err());

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("report.html");
        std::fs::write(&file, "mine").unwrap();
        let path = file.to_str().unwrap();
        let err = plan_report(&args(&["--html", path]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("already exists") && err.contains("--force"),
            "{err}"
        );
        let plan = plan_report(&args(&["--html", path, "--force"])).unwrap();
        assert_eq!(
            plan.output,
            ReportOutput::Html {
                path: file.clone(),
                replace: true
            }
        );
    }

    #[test]
    fn the_file_is_written_aside_and_moved_into_place() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("r.html");
        write_aside(&file, b"one", false).unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), b"one");
        let err = write_aside(&file, b"two", false).unwrap_err().to_string();
        assert!(err.contains("already exists"), "{err}");
        assert_eq!(std::fs::read(&file).unwrap(), b"one");
        write_aside(&file, b"three", true).unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), b"three");
        // Nothing is left beside it.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
