//! The `triage` binary: parse arguments, run, report. All logic is in the
//! library so tests can drive it.

use clap::Parser;
use std::io::IsTerminal;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    // Usage errors exit 2 through clap, before anything else happens.
    let mut cli = triage_cli::Cli::parse();
    // A log shown on a terminal is cleaned of control characters; piped
    // or redirected, it stays byte for byte what the endpoint sent.
    if let triage_cli::Command::Logs(args) = &mut cli.command {
        args.stdout_is_terminal = std::io::stdout().is_terminal();
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: triage_cli::Cli) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))?;
    let mut out = std::io::stdout();
    // A script's own stderr goes to our stderr, so redirecting stdout keeps
    // only what the script printed there (and the summary line).
    let mut err = std::io::stderr();
    runtime.block_on(triage_cli::run_with_stderr(cli, &mut out, &mut err))?;
    Ok(())
}
