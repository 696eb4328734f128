//! `triage script run`: what the technician sees while a script runs. A
//! small state machine over the relay's frames, so every ending (finished,
//! failed, timed out, truncated, refused, relay error, disconnect) is a pure
//! function of the frames and is tested without a network.
//!
//! Output is shown as it arrives, cleaned of control characters (it comes
//! from an endpoint). The script's stdout goes to `out`. Its stderr goes to
//! the separate `err` writer when there is one (the binary passes the real
//! stderr), else to `out` as well, unchanged and in arrival order. After the
//! script ends, a summary goes to `out`: `exit code N in X.Ys`, preceded by
//! `output truncated after N bytes (M produced)` and `timed out after X.Ys`
//! when those happened. Anything but exit code 0 is an error, returned after
//! the output was shown.

use crate::commands::Out;
use crate::error::CliError;
use crate::text::TextCleaner;
use std::io::Write;
use triage_shared::protocol::Response;
use triage_shared::remote::{OutputStream, RunEvent, RunOutcome, MAX_SCRIPT_OUTPUT};
use triage_shared::text::clean;

/// Where a run's output goes.
pub struct RunWriters<'a> {
    pub out: Out<'a>,
    /// The script's stderr, when it should not go to `out`.
    pub err: Option<Out<'a>>,
}

/// What the caller does after a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Read the next frame.
    More,
    /// The script finished with exit code 0; stop reading.
    Done,
}

#[derive(Debug)]
pub struct RunView {
    stdout: TextCleaner,
    stderr: TextCleaner,
    /// Whether `out` is at the start of a line, so the summary starts on its own.
    at_line_start: bool,
}

impl Default for RunView {
    fn default() -> Self {
        RunView {
            stdout: TextCleaner::default(),
            stderr: TextCleaner::default(),
            at_line_start: true,
        }
    }
}

impl RunView {
    /// Handles one frame of the `RunScript` stream.
    pub fn frame(&mut self, frame: Response, w: &mut RunWriters<'_>) -> Result<Step, CliError> {
        match frame {
            Response::Run(RunEvent::Started) => Ok(Step::More),
            Response::Run(RunEvent::Output { stream, data }) => {
                let text = match stream {
                    OutputStream::Stdout => self.stdout.push(&data),
                    OutputStream::Stderr => self.stderr.push(&data),
                };
                self.show(stream, &text, w)?;
                Ok(Step::More)
            }
            Response::Run(RunEvent::Finished(outcome)) => {
                self.flush(w)?;
                if !self.at_line_start {
                    writeln!(w.out)?;
                }
                for line in summary(&outcome) {
                    writeln!(w.out, "{line}")?;
                }
                w.out.flush()?;
                outcome_result(&outcome).map(|()| Step::Done)
            }
            Response::Run(RunEvent::Refused(reason)) => {
                self.flush(w)?;
                Err(CliError::ScriptRefused(clean(&reason.to_string())))
            }
            Response::Error(e) => {
                self.flush(w)?;
                Err(e.into())
            }
            _ => Err(CliError::UnexpectedResponse {
                request: "run_script",
            }),
        }
    }

    /// The stream ended (or broke) before `Finished` or `Refused`.
    pub fn ended(&mut self, w: &mut RunWriters<'_>) -> CliError {
        match self.flush(w) {
            Ok(()) => CliError::AgentDisconnected,
            Err(e) => e,
        }
    }

    /// Shows what the cleaners still hold (a UTF-8 sequence cut at the end).
    pub fn flush(&mut self, w: &mut RunWriters<'_>) -> Result<(), CliError> {
        let rest = self.stdout.finish();
        self.show(OutputStream::Stdout, &rest, w)?;
        let rest = self.stderr.finish();
        self.show(OutputStream::Stderr, &rest, w)
    }

    fn show(
        &mut self,
        stream: OutputStream,
        text: &str,
        w: &mut RunWriters<'_>,
    ) -> Result<(), CliError> {
        if text.is_empty() {
            return Ok(());
        }
        let target: &mut (dyn Write + Send) = match (stream, w.err.as_deref_mut()) {
            (OutputStream::Stderr, Some(err)) => err,
            _ => {
                self.at_line_start = text.ends_with('\n');
                &mut *w.out
            }
        };
        target.write_all(text.as_bytes())?;
        // Show output as it comes, even a progress line without a newline.
        target.flush()?;
        Ok(())
    }
}

/// The lines printed after a script ends.
pub fn summary(o: &RunOutcome) -> Vec<String> {
    let took = seconds(o.duration_ms);
    let mut lines = Vec::new();
    if o.truncated {
        lines.push(format!(
            "output truncated after {MAX_SCRIPT_OUTPUT} bytes ({} produced)",
            o.output_bytes
        ));
    }
    if o.timed_out {
        lines.push(format!("timed out after {took}"));
    }
    lines.push(match o.exit_code {
        Some(code) => format!("exit code {code} in {took}"),
        None => format!("no exit code (killed) in {took}"),
    });
    lines
}

/// Success only for exit code 0 within the timeout.
pub fn outcome_result(o: &RunOutcome) -> Result<(), CliError> {
    if o.timed_out {
        return Err(CliError::ScriptTimedOut(seconds(o.duration_ms)));
    }
    match o.exit_code {
        Some(0) => Ok(()),
        Some(code) => Err(CliError::ScriptFailed(code)),
        None => Err(CliError::ScriptKilled),
    }
}

/// `1.5s`: milliseconds as seconds with one decimal.
pub fn seconds(ms: u64) -> String {
    format!("{}.{}s", ms / 1000, (ms % 1000) / 100)
}

/// Feeds a whole stream through a [`RunView`], as the command does live; a
/// `None` frame is the stream's end.
pub fn replay(
    frames: impl IntoIterator<Item = Response>,
    w: &mut RunWriters<'_>,
) -> Result<(), CliError> {
    let mut view = RunView::default();
    for frame in frames {
        if view.frame(frame, w)? == Step::Done {
            return Ok(());
        }
    }
    Err(view.ended(w))
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_shared::approval::Refusal;
    use triage_shared::error::{ErrorKind, RemoteError};
    use triage_shared::time::Timestamp;

    fn out(data: &[u8]) -> Response {
        Response::Run(RunEvent::Output {
            stream: OutputStream::Stdout,
            data: data.to_vec(),
        })
    }

    fn err(data: &[u8]) -> Response {
        Response::Run(RunEvent::Output {
            stream: OutputStream::Stderr,
            data: data.to_vec(),
        })
    }

    fn finished(exit_code: Option<i32>, edit: impl FnOnce(&mut RunOutcome)) -> Response {
        let mut o = RunOutcome {
            exit_code,
            timed_out: false,
            duration_ms: 1_234,
            output_bytes: 10,
            truncated: false,
        };
        edit(&mut o);
        Response::Run(RunEvent::Finished(o))
    }

    /// Replays `frames` with stderr merged into `out`.
    fn merged(frames: Vec<Response>) -> (String, Result<(), CliError>) {
        let mut buf = Vec::new();
        let result = replay(
            frames,
            &mut RunWriters {
                out: &mut buf,
                err: None,
            },
        );
        (String::from_utf8(buf).unwrap(), result)
    }

    #[test]
    fn output_then_exit_code_zero_succeeds() {
        let (text, result) = merged(vec![
            Response::Run(RunEvent::Started),
            out(b"fixed\n"),
            err(b"warning\n"),
            finished(Some(0), |_| {}),
        ]);
        result.unwrap();
        assert_eq!(text, "fixed\nwarning\nexit code 0 in 1.2s\n");
    }

    #[test]
    fn stderr_goes_to_its_own_writer_when_given() {
        let (mut o, mut e) = (Vec::new(), Vec::new());
        let frames = vec![err(b"oops"), out(b"partial"), finished(Some(0), |_| {})];
        replay(
            frames,
            &mut RunWriters {
                out: &mut o,
                err: Some(&mut e),
            },
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(o).unwrap(),
            "partial\nexit code 0 in 1.2s\n"
        );
        assert_eq!(String::from_utf8(e).unwrap(), "oops");
    }

    #[test]
    fn a_non_zero_exit_is_an_error_after_the_output_was_shown() {
        let (text, result) = merged(vec![out(b"trying\n"), finished(Some(3), |_| {})]);
        assert_eq!(text, "trying\nexit code 3 in 1.2s\n");
        let e = result.unwrap_err();
        assert!(matches!(e, CliError::ScriptFailed(3)));
        assert_eq!(e.to_string(), "script exited with code 3");
    }

    #[test]
    fn truncated_output_is_reported_with_how_much_was_produced() {
        let (text, result) = merged(vec![
            out(b"xxxx"),
            finished(Some(0), |o| {
                o.truncated = true;
                o.output_bytes = 2_000_000;
            }),
        ]);
        result.unwrap();
        assert_eq!(
            text,
            format!("xxxx\noutput truncated after {MAX_SCRIPT_OUTPUT} bytes (2000000 produced)\nexit code 0 in 1.2s\n")
        );
    }

    #[test]
    fn a_timeout_is_reported_and_is_an_error() {
        let (text, result) = merged(vec![
            out(b"waiting\n"),
            finished(None, |o| {
                o.timed_out = true;
                o.duration_ms = 5_000;
            }),
        ]);
        assert_eq!(
            text,
            "waiting\ntimed out after 5.0s\nno exit code (killed) in 5.0s\n"
        );
        let e = result.unwrap_err();
        assert!(matches!(e, CliError::ScriptTimedOut(_)));
        assert!(e.to_string().contains("timed out after 5.0s"), "{e}");
    }

    #[test]
    fn a_kill_without_timeout_is_an_error() {
        let (_, result) = merged(vec![finished(None, |_| {})]);
        assert!(matches!(result, Err(CliError::ScriptKilled)));
    }

    #[test]
    fn a_refusal_carries_the_agents_exact_reason() {
        let (text, result) = merged(vec![Response::Run(RunEvent::Refused(Refusal::Expired(
            Timestamp(0),
        )))]);
        assert_eq!(text, "");
        assert_eq!(
            result.unwrap_err().to_string(),
            "the agent refused to run the script: the approval expired at 1970-01-01T00:00:00Z"
        );
    }

    #[test]
    fn a_relay_error_is_shown_in_the_relays_words() {
        let (_, result) = merged(vec![Response::Error(RemoteError::new(
            ErrorKind::Forbidden,
            "script 1234 has no live approval; ask an approver",
        ))]);
        let e = result.unwrap_err();
        assert!(matches!(e, CliError::Forbidden(_)), "{e}");
        assert!(e.to_string().contains("no live approval"), "{e}");
    }

    #[test]
    fn a_stream_that_ends_early_says_the_agent_disconnected() {
        let (text, result) = merged(vec![Response::Run(RunEvent::Started), out(b"half\xe2\x82")]);
        assert_eq!(text, "half\u{fffd}", "output so far is still shown");
        assert_eq!(
            result.unwrap_err().to_string().split(';').next().unwrap(),
            "the agent disconnected before the script finished"
        );
        let (_, result) = merged(vec![]);
        assert!(matches!(result, Err(CliError::AgentDisconnected)));
    }

    #[test]
    fn hostile_output_cannot_drive_the_terminal() {
        let (text, result) = merged(vec![
            out(b"\x1b]0;pwned\x07ok\r\n"),
            err("\u{9b}2J".as_bytes()),
            finished(Some(0), |_| {}),
        ]);
        result.unwrap();
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "{text:?}"
        );
    }

    #[test]
    fn frames_after_the_end_are_not_read_and_odd_frames_are_refused() {
        let (text, result) = merged(vec![finished(Some(0), |_| {}), out(b"late")]);
        result.unwrap();
        assert!(!text.contains("late"));
        let (_, result) = merged(vec![Response::Ok]);
        assert!(matches!(result, Err(CliError::UnexpectedResponse { .. })));
    }

    #[test]
    fn seconds_have_one_decimal() {
        assert_eq!(seconds(0), "0.0s");
        assert_eq!(seconds(1_999), "1.9s");
        assert_eq!(seconds(312_400), "312.4s");
    }
}
