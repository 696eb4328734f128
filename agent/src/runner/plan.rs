//! The pure half of running a script: which program runs it, how it is
//! found, and how much of its output is kept.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use triage_shared::approval::Interpreter;

/// The program that runs `interpreter`'s scripts, as looked up on `PATH`
/// (or an absolute path, used as it is).
pub fn program_name(interpreter: Interpreter) -> &'static str {
    match interpreter {
        Interpreter::Sh => "/bin/sh",
        Interpreter::Bash => "bash",
        Interpreter::Python => "python3",
        #[cfg(windows)]
        Interpreter::Powershell => "powershell.exe",
        #[cfg(not(windows))]
        Interpreter::Powershell => "pwsh",
    }
}

/// Fixed arguments before the script's path. Nothing from the script or its
/// metadata is ever placed on the command line except that one path.
pub fn leading_args(interpreter: Interpreter) -> &'static [&'static str] {
    match interpreter {
        Interpreter::Sh | Interpreter::Bash | Interpreter::Python => &[],
        #[cfg(windows)]
        Interpreter::Powershell => &[
            "-NoProfile",
            "-NonInteractive",
            "-ExecutionPolicy",
            "Bypass",
            "-File",
        ],
        #[cfg(not(windows))]
        Interpreter::Powershell => &["-NoProfile", "-NonInteractive", "-File"],
    }
}

/// The script's file name in its working directory (PowerShell insists on `.ps1`).
pub fn script_file_name(interpreter: Interpreter) -> &'static str {
    match interpreter {
        Interpreter::Sh | Interpreter::Bash => "script.sh",
        Interpreter::Python => "script.py",
        Interpreter::Powershell => "script.ps1",
    }
}

/// The `PATH` every script runs with, whatever the agent's own was.
pub const SCRIPT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// The locale every script runs with: UTF-8 text, no translated messages.
pub const SCRIPT_LANG: &str = "C.UTF-8";

/// The whole environment of a script whose fresh directory is `workdir`:
/// nothing of the agent's own environment (which may hold secrets, a
/// proxy, `LD_PRELOAD`…) reaches it, only these.
pub fn script_env(workdir: &Path) -> [(&'static str, std::ffi::OsString); 3] {
    [
        ("PATH", SCRIPT_PATH.into()),
        ("HOME", workdir.as_os_str().to_os_string()),
        ("LANG", SCRIPT_LANG.into()),
    ]
}

/// Finds `name` the way a shell would, except that relative `PATH` entries
/// (such as `.`) are skipped: a script run must not pick up a program from
/// whatever directory the agent happens to be in.
pub fn find_on_path(name: &str, path_var: Option<&OsStr>) -> Option<PathBuf> {
    let name_path = Path::new(name);
    if name_path.is_absolute() {
        return is_executable(name_path).then(|| name_path.to_path_buf());
    }
    let path_var = path_var?;
    std::env::split_paths(path_var)
        .filter(|dir| dir.is_absolute())
        .flat_map(|dir| candidates(&dir, name))
        .find(|candidate| is_executable(candidate))
}

#[cfg(windows)]
fn candidates(dir: &Path, name: &str) -> Vec<PathBuf> {
    if name.contains('.') {
        vec![dir.join(name)]
    } else {
        vec![dir.join(format!("{name}.exe")), dir.join(name)]
    }
}

#[cfg(not(windows))]
fn candidates(dir: &Path, name: &str) -> Vec<PathBuf> {
    vec![dir.join(name)]
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// Accounts for output against a cap: everything produced is counted, only
/// what fits under the cap is kept (and sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputBudget {
    cap: usize,
    kept: usize,
    produced: u64,
}

impl OutputBudget {
    pub fn new(cap: usize) -> Self {
        OutputBudget {
            cap,
            kept: 0,
            produced: 0,
        }
    }

    /// Counts `n` new bytes; returns how many of them may be kept.
    pub fn admit(&mut self, n: usize) -> usize {
        self.produced = self.produced.saturating_add(n as u64);
        let take = n.min(self.cap - self.kept);
        self.kept += take;
        take
    }

    pub fn produced(&self) -> u64 {
        self.produced
    }

    pub fn truncated(&self) -> bool {
        self.produced > self.kept as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_up_to_the_cap_is_kept_and_the_rest_counted() {
        let mut b = OutputBudget::new(10);
        assert_eq!(b.admit(4), 4);
        assert_eq!(b.admit(6), 6);
        assert!(!b.truncated(), "exactly at the cap is not truncated");
        assert_eq!(b.admit(1), 0);
        assert_eq!(b.admit(100), 0);
        assert_eq!(b.produced(), 111);
        assert!(b.truncated());

        let mut b = OutputBudget::new(10);
        assert_eq!(b.admit(7), 7);
        assert_eq!(b.admit(7), 3);
        assert_eq!(b.produced(), 14);
        assert!(b.truncated());
    }

    #[cfg(unix)]
    #[test]
    fn programs_are_found_on_absolute_path_entries_only() {
        let tmp = tempfile::tempdir().unwrap();
        let bin = tmp.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let tool = bin.join("tool");
        std::fs::write(&tool, "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = std::env::join_paths([Path::new("/nonexistent"), &bin]).unwrap();
        assert_eq!(find_on_path("tool", Some(&path)), Some(tool.clone()));
        assert_eq!(find_on_path("missing-tool", Some(&path)), None);
        assert_eq!(find_on_path("tool", None), None);
        // A relative entry is never searched, even when it leads to the program.
        let cwd = std::env::current_dir().unwrap();
        let up: PathBuf = cwd.components().skip(1).map(|_| "..").collect();
        let relative = up.join(bin.strip_prefix("/").unwrap());
        assert!(relative.is_relative() && relative.join("tool").is_file());
        let relative = std::env::join_paths([relative]).unwrap();
        assert_eq!(find_on_path("tool", Some(&relative)), None);
        // A file without an execute bit is not a program.
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(find_on_path("tool", Some(&path)), None);
    }

    #[cfg(unix)]
    #[test]
    fn sh_is_the_system_shell_by_absolute_path() {
        assert_eq!(program_name(Interpreter::Sh), "/bin/sh");
        assert_eq!(
            find_on_path(program_name(Interpreter::Sh), None),
            Some(PathBuf::from("/bin/sh"))
        );
        assert_eq!(program_name(Interpreter::Python), "python3");
        assert_eq!(program_name(Interpreter::Powershell), "pwsh");
    }

    #[test]
    fn a_script_gets_a_fixed_path_its_own_home_and_a_utf8_locale() {
        let env = script_env(Path::new("/tmp/triage-run-x"));
        let names: Vec<&str> = env.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["PATH", "HOME", "LANG"]);
        assert_eq!(env[0].1, SCRIPT_PATH);
        assert_eq!(env[1].1, "/tmp/triage-run-x");
        assert_eq!(env[2].1, "C.UTF-8");
        // Every PATH entry is absolute: nothing is found relative to the run.
        assert!(std::env::split_paths(SCRIPT_PATH).all(|p| p.is_absolute()));
    }

    #[test]
    fn the_script_path_is_the_only_variable_argument() {
        for i in Interpreter::ALL {
            assert!(leading_args(i).iter().all(|a| a.starts_with('-')));
        }
        assert_eq!(script_file_name(Interpreter::Powershell), "script.ps1");
    }
}
