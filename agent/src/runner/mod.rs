//! Running one approved script: thin tokio code around the pure helpers in
//! [`plan`]. By the time [`execute`] is called the approval was verified and
//! its nonce recorded; this module only has to run the script safely:
//!
//! - the script is written to a file in a fresh private temporary directory,
//!   which is also its working directory and is removed afterwards;
//! - the interpreter gets fixed flags and that file's path, nothing else:
//!   no shell string is ever built from the script or its metadata;
//! - the environment is cleared: the script sees only a fixed `PATH`,
//!   `HOME` (its temporary directory) and `LANG=C.UTF-8`
//!   ([`plan::script_env`]), none of the agent's own variables;
//! - stdin is null; the process leads its own process group, and the whole
//!   group is killed on timeout and again after a normal exit, so no
//!   background process outlives the run;
//! - stdout and stderr are streamed as they arrive, in chunks of at most
//!   [`OUTPUT_CHUNK`] bytes, up to [`MAX_SCRIPT_OUTPUT`] in total; past that
//!   they are drained and counted but not sent, and the outcome says so.

mod group;
pub mod plan;

pub(crate) use group::Group;
use plan::OutputBudget;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc::UnboundedSender;
use tracing::{debug, warn};
use triage_shared::approval::Interpreter;
use triage_shared::remote::{OutputStream, RunEvent, RunOutcome, MAX_SCRIPT_OUTPUT, OUTPUT_CHUNK};

/// How long output is still read after the script ended (and its group was
/// killed), for a process that escaped the group and holds the pipes open.
pub const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// A script the endpoint decided to run.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub interpreter: Interpreter,
    /// The interpreter's program, as resolved by [`resolve`].
    pub program: PathBuf,
    pub content: Vec<u8>,
    pub timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error(
        "interpreter {interpreter} is allowed on this endpoint but `{program}` is not installed (not found on PATH); install it, or remove {interpreter} from allowed_interpreters in agent.toml"
    )]
    InterpreterMissing {
        interpreter: Interpreter,
        program: &'static str,
    },
    #[error("cannot prepare a working directory for the script: {0}")]
    Workdir(std::io::Error),
    #[error("cannot start `{}`: {error}", program.display())]
    Spawn {
        program: PathBuf,
        error: std::io::Error,
    },
}

/// Finds the program for `interpreter` on this process's `PATH`.
pub fn resolve(interpreter: Interpreter) -> Result<PathBuf, RunnerError> {
    let program = plan::program_name(interpreter);
    plan::find_on_path(program, std::env::var_os("PATH").as_deref()).ok_or(
        RunnerError::InterpreterMissing {
            interpreter,
            program,
        },
    )
}

/// Runs `spec`, sending `Started`, `Output`… and `Finished` on `events`.
/// An error means the script never started (and nothing was sent).
///
/// `events` is unbounded on purpose: what is queued is bounded by
/// [`MAX_SCRIPT_OUTPUT`], and a stalled receiver must not hold up the
/// timeout. A receiver that went away does not stop the run.
pub async fn execute(
    spec: RunSpec,
    events: UnboundedSender<RunEvent>,
) -> Result<RunOutcome, RunnerError> {
    let mut builder = tempfile::Builder::new();
    builder.prefix("triage-run-");
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700));
    let workdir = builder.tempdir().map_err(RunnerError::Workdir)?;
    let script = workdir
        .path()
        .join(plan::script_file_name(spec.interpreter));
    tokio::fs::write(&script, &spec.content)
        .await
        .map_err(RunnerError::Workdir)?;

    let mut command = tokio::process::Command::new(&spec.program);
    command
        .args(plan::leading_args(spec.interpreter))
        .arg(&script)
        .current_dir(workdir.path())
        .env_clear()
        .envs(plan::script_env(workdir.path()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    #[cfg(unix)]
    command.process_group(0);

    let started = Instant::now();
    let mut child = command.spawn().map_err(|error| RunnerError::Spawn {
        program: spec.program.clone(),
        error,
    })?;
    let mut group = Group::new(child.id());
    let _ = events.send(RunEvent::Started);

    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let (mut out_buf, mut err_buf) = (vec![0u8; OUTPUT_CHUNK], vec![0u8; OUTPUT_CHUNK]);
    let mut budget = OutputBudget::new(MAX_SCRIPT_OUTPUT);
    let deadline = tokio::time::sleep(spec.timeout);
    tokio::pin!(deadline);
    let drain = tokio::time::sleep(Duration::MAX);
    tokio::pin!(drain);
    let mut exited: Option<Option<i32>> = None;
    let mut timed_out = false;

    while exited.is_none() || stdout.is_some() || stderr.is_some() {
        tokio::select! {
            read = read_some(&mut stdout, &mut out_buf) => {
                forward(read, &mut stdout, &out_buf, OutputStream::Stdout, &mut budget, &events);
            }
            read = read_some(&mut stderr, &mut err_buf) => {
                forward(read, &mut stderr, &err_buf, OutputStream::Stderr, &mut budget, &events);
            }
            status = child.wait(), if exited.is_none() => {
                let code = match status {
                    Ok(status) => status.code(),
                    Err(e) => {
                        warn!(error = %e, "could not learn how the script ended");
                        None
                    }
                };
                exited = Some(code);
                // Background processes die with it, and their pipe ends close.
                group.kill_and_forget();
                drain.as_mut().reset(tokio::time::Instant::now() + DRAIN_GRACE);
            }
            _ = &mut deadline, if !timed_out && exited.is_none() => {
                timed_out = true;
                debug!(timeout = ?spec.timeout, "script timed out; killing its process group");
                group.kill();
                let _ = child.start_kill();
            }
            _ = &mut drain => {
                warn!("a process that left the script's group still holds its output open; no longer reading it");
                break;
            }
        }
    }

    let outcome = RunOutcome {
        exit_code: if timed_out { None } else { exited.flatten() },
        timed_out,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        output_bytes: budget.produced(),
        truncated: budget.truncated(),
    };
    let _ = events.send(RunEvent::Finished(outcome.clone()));
    drop(workdir);
    Ok(outcome)
}

/// Reads from `pipe` while it is open; a closed pipe never completes, so its
/// `select!` branch simply stays quiet.
async fn read_some<R: AsyncRead + Unpin>(
    pipe: &mut Option<R>,
    buf: &mut [u8],
) -> std::io::Result<usize> {
    match pipe {
        Some(p) => p.read(buf).await,
        None => std::future::pending().await,
    }
}

/// Sends what the budget admits of one read; closes the pipe at its end.
fn forward<R>(
    read: std::io::Result<usize>,
    pipe: &mut Option<R>,
    buf: &[u8],
    stream: OutputStream,
    budget: &mut OutputBudget,
    events: &UnboundedSender<RunEvent>,
) {
    match read {
        Ok(0) => *pipe = None,
        Ok(n) => {
            let keep = budget.admit(n);
            if keep > 0 {
                let _ = events.send(RunEvent::Output {
                    stream,
                    data: buf[..keep].to_vec(),
                });
            }
        }
        Err(e) => {
            warn!(error = %e, ?stream, "reading the script's output failed");
            *pipe = None;
        }
    }
}

#[cfg(all(test, unix))]
mod tests;
