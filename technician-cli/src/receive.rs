//! Receiving a streamed body (a log, a screenshot, an attachment): each
//! frame checked ([`TransferCheck`]: order, sizes, byte count, SHA-256),
//! written as it arrives, never held whole.
//!
//! To stdout, bytes go out as they come; a body that then fails its check
//! or stops early is reported as an error after them. To a terminal
//! ([`Output::Terminal`]) they are cleaned first ([`TerminalText`]:
//! control characters shown as escapes, invalid UTF-8 as U+FFFD); the
//! check always covers the raw bytes. To a file (`-o FILE`)
//! they go to `FILE.partial`, which is renamed to `FILE` only once the
//! agent's SHA-256 matches what arrived. On any failure the `.partial` file
//! is **removed**, so no file is ever left named as if it were complete.

use crate::error::CliError;
use crate::terminal_text::TerminalText;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use triage_shared::error::RemoteError;
use triage_shared::text::clean;
use triage_shared::transfer::{
    ContentDigest, EndReason, Step, TransferCheck, TransferFrame, TransferStart,
};

/// Appended to `-o FILE` while the body is arriving.
pub const PARTIAL_SUFFIX: &str = ".partial";

/// `FILE.partial` until the body is verified, then renamed to `FILE`;
/// removed when dropped before that.
pub struct PartialFile {
    target: PathBuf,
    partial: PathBuf,
    file: Option<File>,
}

impl PartialFile {
    pub fn partial_path(target: &Path) -> PathBuf {
        let mut name = target.as_os_str().to_os_string();
        name.push(PARTIAL_SUFFIX);
        PathBuf::from(name)
    }

    /// Starts `target.partial` (replacing an old one).
    pub fn create(target: &Path) -> Result<PartialFile, CliError> {
        if target.is_dir() {
            return Err(CliError::InvalidInput(format!(
                "{} is a directory; give -o a file name",
                target.display()
            )));
        }
        let partial = Self::partial_path(target);
        let file = File::create(&partial).map_err(|source| CliError::File {
            action: "create",
            path: partial.clone(),
            source,
        })?;
        Ok(PartialFile {
            target: target.to_path_buf(),
            partial,
            file: Some(file),
        })
    }

    pub fn target(&self) -> &Path {
        &self.target
    }

    pub(crate) fn write(&mut self, data: &[u8]) -> Result<(), CliError> {
        let partial = &self.partial;
        let file = self.file.as_mut().ok_or_else(|| CliError::File {
            action: "write",
            path: partial.clone(),
            source: std::io::Error::other("already closed"),
        })?;
        file.write_all(data).map_err(|source| CliError::File {
            action: "write",
            path: partial.clone(),
            source,
        })
    }

    /// Flushes, syncs and renames `FILE.partial` to `FILE`.
    pub(crate) fn commit(mut self) -> Result<PathBuf, CliError> {
        let fail = |action, path: &Path, source| CliError::File {
            action,
            path: path.to_path_buf(),
            source,
        };
        if let Some(file) = self.file.take() {
            file.sync_all()
                .map_err(|e| fail("write", &self.partial, e))?;
        }
        std::fs::rename(&self.partial, &self.target)
            .map_err(|e| fail("rename", &self.partial, e))?;
        // Renamed: nothing left for Drop to remove.
        self.partial = PathBuf::new();
        Ok(self.target.clone())
    }
}

impl Drop for PartialFile {
    fn drop(&mut self) {
        self.file.take();
        if !self.partial.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.partial);
        }
    }
}

/// Where a body goes.
pub enum Output<'a> {
    /// Raw bytes (stdout that is a pipe or a file).
    Stdout(&'a mut (dyn Write + Send)),
    /// Stdout that is a terminal: text with its control characters made visible.
    Terminal(&'a mut (dyn Write + Send), TerminalText),
    File(PartialFile),
}

impl<'a> Output<'a> {
    /// Stdout, cleaned when `terminal` says a person reads it there.
    pub fn stdout(out: &'a mut (dyn Write + Send), terminal: bool) -> Output<'a> {
        if terminal {
            Output::Terminal(out, TerminalText::new())
        } else {
            Output::Stdout(out)
        }
    }

    fn aftermath(&self) -> String {
        match self {
            Output::Stdout(_) | Output::Terminal(..) => "what was printed is incomplete".into(),
            Output::File(f) => format!(
                "nothing was saved to {} (the partial download was removed)",
                f.target().display()
            ),
        }
    }
}

/// How a verified body ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub bytes: u64,
    pub sha256: ContentDigest,
    pub reason: EndReason,
    /// The file it was saved to, for `-o`.
    pub saved: Option<PathBuf>,
    pub name: Option<String>,
}

pub struct Receiver<'a> {
    check: TransferCheck,
    output: Output<'a>,
    progress: Option<ProgressBar>,
    last: Option<(u64, ContentDigest)>,
}

impl<'a> Receiver<'a> {
    /// `progress`: draw a progress bar on stderr (it stays hidden when
    /// stderr is not a terminal).
    pub fn new(output: Output<'a>, progress: bool) -> Receiver<'a> {
        Receiver {
            check: TransferCheck::default(),
            output,
            progress: progress
                .then(|| ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())),
            last: None,
        }
    }

    pub fn started(&self) -> bool {
        self.check.start().is_some()
    }

    pub fn bytes(&self) -> u64 {
        self.check.bytes()
    }

    /// Takes one frame; `Some(reason)` once the body ended and verified.
    pub fn accept(&mut self, frame: TransferFrame) -> Result<Option<EndReason>, CliError> {
        let step = match self.check.accept(&frame) {
            Ok(step) => step,
            Err(e) => {
                let reason = format!("the body did not arrive intact ({e})");
                return Err(self.failure(reason));
            }
        };
        match (step, frame) {
            (Step::Started, TransferFrame::Start(start)) => self.begin(&start),
            (Step::Data(_), TransferFrame::Chunk(data)) => {
                // Each chunk is written (and stdout flushed) as it comes, so a
                // followed log shows up at once.
                let written = match &mut self.output {
                    Output::Stdout(out) => out
                        .write_all(&data)
                        .and_then(|()| out.flush())
                        .map_err(CliError::from),
                    Output::Terminal(out, text) => {
                        let mut shown = String::with_capacity(data.len());
                        text.push(&data, &mut shown);
                        out.write_all(shown.as_bytes())
                            .and_then(|()| out.flush())
                            .map_err(CliError::from)
                    }
                    Output::File(f) => f.write(&data),
                };
                if let Err(e) = written {
                    return Err(self.failure(e.to_string()));
                }
                if let Some(p) = &self.progress {
                    p.inc(data.len() as u64);
                }
            }
            (Step::Ended(reason), TransferFrame::End(end)) => {
                self.last = Some((end.bytes, end.sha256));
                return Ok(Some(reason));
            }
            _ => {}
        }
        Ok(None)
    }

    fn begin(&mut self, start: &TransferStart) {
        let Some(p) = &self.progress else { return };
        let template = match start.upper_bound {
            Some(len) => {
                p.set_length(len);
                "{msg} {bytes}/{total_bytes} [{bar:30}] {bytes_per_sec} {eta}"
            }
            None => "{msg} {bytes} {bytes_per_sec} {spinner}",
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            p.set_style(style.progress_chars("=> "));
        }
        p.set_message(clean(&start.name));
    }

    fn failure(&mut self, reason: String) -> CliError {
        if let Some(p) = self.progress.take() {
            p.abandon();
        }
        CliError::TransferFailed {
            reason,
            aftermath: self.output.aftermath(),
        }
    }

    /// The body failed with `reason`; any partial file is removed.
    pub fn fail(mut self, reason: String) -> CliError {
        self.failure(reason)
    }

    /// An error the relay sent: before the body began it is a plain
    /// refusal; after, the body is incomplete.
    pub fn remote_error(self, e: RemoteError) -> CliError {
        if self.started() {
            let reason = clean(&e.message);
            self.fail(reason)
        } else {
            e.into()
        }
    }

    /// Ends a verified body: a complete (or, when following, stopped) one
    /// is kept; a body cut at the endpoint's limit is not.
    pub fn finish(mut self, reason: EndReason) -> Result<Received, CliError> {
        let name = self.check.start().map(|s| clean(&s.name));
        let Some((bytes, sha256)) = self.last else {
            return Err(self.failure("the body has not ended".into()));
        };
        if let EndReason::LimitReached { limit } = reason {
            if let Some(p) = self.progress.take() {
                p.abandon();
            }
            return Err(CliError::LimitReached {
                limit,
                aftermath: self.output.aftermath(),
            });
        }
        if let Some(p) = self.progress.take() {
            p.finish();
        }
        let saved = match self.output {
            Output::Stdout(out) => {
                out.flush()?;
                None
            }
            Output::Terminal(out, mut text) => {
                let mut shown = String::new();
                text.finish(&mut shown);
                out.write_all(shown.as_bytes())?;
                out.flush()?;
                None
            }
            Output::File(f) => Some(f.commit()?),
        };
        Ok(Received {
            bytes,
            sha256,
            reason,
            saved,
            name,
        })
    }
}

#[cfg(test)]
#[path = "receive_tests.rs"]
mod tests;
