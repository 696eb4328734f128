//! Finding and running the sibling programs quickstart drives.

use super::QuickstartError;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// Lines of a failed tool's stderr quoted in the error.
const STDERR_LINES: usize = 20;

/// The sibling programs quickstart drives.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub triage: PathBuf,
    pub agent: PathBuf,
}

impl Binaries {
    /// Finds `triage` and `triage-agent` in `dir`.
    pub fn in_dir(dir: &Path) -> Result<Binaries, QuickstartError> {
        let find = |name: &str| {
            let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
            if path.is_file() {
                Ok(path)
            } else {
                Err(QuickstartError::MissingBinary {
                    name: name.into(),
                    dir: dir.to_path_buf(),
                })
            }
        };
        Ok(Binaries {
            triage: find("triage")?,
            agent: find("triage-agent")?,
        })
    }

    /// Finds them next to the running executable.
    pub fn next_to_current_exe() -> Result<Binaries, QuickstartError> {
        let exe = std::env::current_exe().map_err(|source| QuickstartError::Io {
            action: "locate",
            path: "the running program".into(),
            source,
        })?;
        let dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
        Binaries::in_dir(&dir)
    }
}

/// A command line for messages: `` `triage --home DIR keygen` ``, with any
/// token secret left out.
pub(super) fn describe(program: &Path, args: &[OsString]) -> String {
    let mut text = program
        .file_name()
        .unwrap_or(program.as_os_str())
        .to_string_lossy()
        .into_owned();
    for arg in args {
        text.push(' ');
        let arg = arg.to_string_lossy();
        // Never write a token's secret into logs or error messages.
        match arg.split_once("&token=") {
            Some((locator, _)) => text.push_str(&format!("{locator}&token=…")),
            None => text.push_str(&arg),
        }
    }
    format!("`{text}`")
}

/// Runs a tool to completion and returns its stdout. Async, so the relay in
/// this process keeps serving the tool while it runs.
pub(super) async fn run_tool(program: &Path, args: &[OsString]) -> Result<String, QuickstartError> {
    let command = describe(program, args);
    tracing::info!(%command, "running");
    let output = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|source| QuickstartError::Spawn {
            command: command.clone(),
            source,
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        let tail = lines[lines.len().saturating_sub(STDERR_LINES)..].join("\n");
        return Err(QuickstartError::Failed {
            command,
            status: output.status.to_string(),
            stderr: tail,
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn described_commands_leave_token_secrets_out() {
        let args = [
            OsString::from("enroll"),
            "triage://h:1?fp=ab&token=5ec2e7".into(),
        ];
        let text = describe(Path::new("/bin/triage-agent"), &args);
        assert_eq!(text, "`triage-agent enroll triage://h:1?fp=ab&token=…`");
    }

    #[test]
    fn missing_siblings_say_to_build_the_workspace() {
        let dir = tempfile::tempdir().unwrap();
        let err = Binaries::in_dir(dir.path()).unwrap_err();
        assert!(err.to_string().contains("cargo build --workspace"), "{err}");
        for name in ["triage", "triage-agent"] {
            fs::write(
                dir.path()
                    .join(format!("{name}{}", std::env::consts::EXE_SUFFIX)),
                "",
            )
            .unwrap();
        }
        let bins = Binaries::in_dir(dir.path()).unwrap();
        assert!(bins
            .agent
            .ends_with(format!("triage-agent{}", std::env::consts::EXE_SUFFIX)));
    }

    #[tokio::test]
    async fn a_failing_tool_reports_its_stderr() {
        let err = run_tool(
            Path::new("sh"),
            &["-c".into(), "echo oops >&2; exit 3".into()],
        )
        .await
        .unwrap_err();
        let QuickstartError::Failed { stderr, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(stderr, "oops");
        let out = run_tool(Path::new("sh"), &["-c".into(), "echo fine".into()])
            .await
            .unwrap();
        assert_eq!(out, "fine\n");
    }
}
