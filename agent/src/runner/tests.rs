//! Real scripts through `/bin/sh`.

use super::*;
use crate::test_support::gone;
use tokio::sync::mpsc;

/// A guard against a regression hanging the suite, not a timing assertion.
const GUARD: Duration = Duration::from_secs(60);

fn sh(script: &str, timeout: Duration) -> RunSpec {
    RunSpec {
        interpreter: Interpreter::Sh,
        program: resolve(Interpreter::Sh).expect("/bin/sh exists"),
        content: script.as_bytes().to_vec(),
        timeout,
    }
}

struct Ran {
    outcome: RunOutcome,
    events: Vec<RunEvent>,
}

impl Ran {
    fn output(&self, which: OutputStream) -> String {
        let bytes: Vec<u8> = self
            .events
            .iter()
            .filter_map(|e| match e {
                RunEvent::Output { stream, data } if *stream == which => Some(data.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

async fn run(spec: RunSpec) -> Ran {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let outcome = tokio::time::timeout(GUARD, execute(spec, tx))
        .await
        .expect("the run ends")
        .expect("the script starts");
    let mut events = Vec::new();
    while let Ok(e) = rx.try_recv() {
        events.push(e);
    }
    Ran { outcome, events }
}

fn first_line_pid(text: &str) -> u32 {
    text.lines()
        .next()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("no pid in {text:?}"))
}

#[tokio::test]
async fn exit_code_and_both_streams_are_reported_in_order() {
    let ran = run(sh(
        "echo out\necho err >&2\nexit 3\n",
        Duration::from_secs(30),
    ))
    .await;
    assert_eq!(ran.events.first(), Some(&RunEvent::Started));
    assert_eq!(
        ran.events.last(),
        Some(&RunEvent::Finished(ran.outcome.clone()))
    );
    assert_eq!(ran.output(OutputStream::Stdout), "out\n");
    assert_eq!(ran.output(OutputStream::Stderr), "err\n");
    assert_eq!(ran.outcome.exit_code, Some(3));
    assert!(!ran.outcome.timed_out && !ran.outcome.truncated);
    assert_eq!(ran.outcome.output_bytes, 8);
}

#[tokio::test]
async fn output_past_the_cap_is_counted_but_not_sent() {
    let produced = MAX_SCRIPT_OUTPUT + 50_000;
    let ran = run(sh(
        &format!("head -c {produced} /dev/zero\necho done >&2\n"),
        Duration::from_secs(60),
    ))
    .await;
    let sent: usize = ran
        .events
        .iter()
        .map(|e| match e {
            RunEvent::Output { data, .. } => {
                assert!(!data.is_empty() && data.len() <= OUTPUT_CHUNK);
                data.len()
            }
            _ => 0,
        })
        .sum();
    assert_eq!(sent, MAX_SCRIPT_OUTPUT);
    assert!(ran.outcome.truncated);
    assert_eq!(ran.outcome.output_bytes, produced as u64 + 5);
    assert_eq!(ran.outcome.exit_code, Some(0));
}

#[tokio::test]
async fn output_exactly_at_the_cap_is_not_truncated() {
    let ran = run(sh(
        &format!("head -c {MAX_SCRIPT_OUTPUT} /dev/zero\n"),
        Duration::from_secs(60),
    ))
    .await;
    assert_eq!(ran.outcome.output_bytes, MAX_SCRIPT_OUTPUT as u64);
    assert!(!ran.outcome.truncated);
}

#[tokio::test]
async fn a_timeout_kills_the_script_and_its_children() {
    let ran = run(sh(
        "sleep 300 &\necho $!\nwait\n",
        // Ample time for the shell to start its child and say so; the kill is what is tested.
        Duration::from_secs(3),
    ))
    .await;
    assert!(ran.outcome.timed_out);
    assert_eq!(ran.outcome.exit_code, None);
    let child = first_line_pid(&ran.output(OutputStream::Stdout));
    assert!(
        gone(child).await,
        "background child {child} survived the timeout"
    );
}

#[tokio::test]
async fn background_processes_do_not_outlive_a_normal_exit() {
    let ran = run(sh(
        "sleep 300 &\necho $!\nexit 0\n",
        Duration::from_secs(120),
    ))
    .await;
    assert!(!ran.outcome.timed_out);
    assert_eq!(ran.outcome.exit_code, Some(0));
    let child = first_line_pid(&ran.output(OutputStream::Stdout));
    assert!(
        gone(child).await,
        "background child {child} survived the run"
    );
}

#[tokio::test]
async fn the_working_directory_is_fresh_private_and_removed_afterwards() {
    let ran = run(sh(
        "pwd\nls -A | wc -l\nstat -c %a .\n",
        Duration::from_secs(30),
    ))
    .await;
    let out = ran.output(OutputStream::Stdout);
    let mut lines = out.lines();
    let dir = PathBuf::from(lines.next().expect("pwd"));
    assert!(
        dir.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("triage-run-")),
        "{out}"
    );
    assert_eq!(
        lines.next().map(str::trim),
        Some("1"),
        "only the script: {out}"
    );
    assert_eq!(lines.next(), Some("700"), "{out}");
    assert!(!dir.exists(), "{} was left behind", dir.display());
}

#[tokio::test]
async fn the_script_gets_no_arguments_and_no_stdin() {
    let ran = run(sh(
        "echo \"args=$#\"\nif read line; then echo got-input; else echo no-input; fi\n",
        Duration::from_secs(30),
    ))
    .await;
    assert_eq!(ran.output(OutputStream::Stdout), "args=0\nno-input\n");
}

#[tokio::test]
async fn metadata_never_reaches_a_shell() {
    // The content is data in a file: quotes and substitutions in it are the
    // script's own business, and nothing else is interpolated anywhere.
    let ran = run(sh(
        "printf '%s\\n' '$(touch /tmp/should-not-exist)' \"; echo injected\"\n",
        Duration::from_secs(30),
    ))
    .await;
    assert_eq!(
        ran.output(OutputStream::Stdout),
        "$(touch /tmp/should-not-exist)\n; echo injected\n"
    );
}

#[tokio::test]
async fn a_missing_program_is_an_error_before_anything_is_sent() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut spec = sh("true\n", Duration::from_secs(5));
    spec.program = PathBuf::from("/nonexistent/bin/python3");
    let err = execute(spec, tx).await.unwrap_err();
    assert!(matches!(err, RunnerError::Spawn { .. }), "{err}");
    assert!(rx.try_recv().is_err());
}

#[test]
fn a_missing_interpreter_says_what_to_do() {
    let err = RunnerError::InterpreterMissing {
        interpreter: Interpreter::Python,
        program: "python3",
    };
    let text = err.to_string();
    assert!(
        text.contains("python3") && text.contains("allowed_interpreters in agent.toml"),
        "{text}"
    );
}
