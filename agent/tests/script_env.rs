//! A script's environment, from the inside: nothing of the agent's own
//! environment reaches it.
//!
//! A file of its own with one test, because it sets a variable in this
//! process (`set_var` is only sound while no other thread reads the
//! environment).

#![cfg(unix)]

use std::collections::BTreeMap;
use std::time::Duration;
use triage_agent::runner::plan::{SCRIPT_LANG, SCRIPT_PATH};
use triage_agent::runner::{execute, resolve, RunSpec};
use triage_shared::approval::Interpreter;
use triage_shared::remote::{OutputStream, RunEvent};

/// What `/bin/sh` itself may add to its environment.
const SET_BY_THE_SHELL: [&str; 4] = ["PWD", "OLDPWD", "SHLVL", "_"];

#[test]
fn a_script_sees_a_cleared_environment_with_a_fixed_path_home_and_lang() {
    // Before the runtime starts: no other thread exists yet.
    std::env::set_var("TRIAGE_SECRET_TEST", "1");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (stdout, outcome) = runtime.block_on(async {
        let spec = RunSpec {
            interpreter: Interpreter::Sh,
            program: resolve(Interpreter::Sh).expect("/bin/sh exists"),
            // The working directory (the fresh one) and HOME, resolved
            // alike (the temporary directory may sit behind a symlink).
            content: b"pwd -P\n(cd \"$HOME\" && pwd -P)\nenv\n".to_vec(),
            timeout: Duration::from_secs(30),
        };
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let outcome = execute(spec, tx).await.expect("the script starts");
        let mut stdout = Vec::new();
        while let Ok(event) = rx.try_recv() {
            if let RunEvent::Output {
                stream: OutputStream::Stdout,
                data,
            } = event
            {
                stdout.extend(data);
            }
        }
        (String::from_utf8(stdout).unwrap(), outcome)
    });
    assert_eq!(outcome.exit_code, Some(0), "{stdout}");
    let mut lines = stdout.lines();
    let workdir = lines.next().expect("pwd").to_string();
    assert!(workdir.contains("triage-run-"), "{workdir}");
    assert_eq!(
        lines.next(),
        Some(workdir.as_str()),
        "HOME is the run's directory"
    );
    let env: BTreeMap<&str, &str> = lines.filter_map(|l| l.split_once('=')).collect();

    assert!(
        std::env::var_os("TRIAGE_SECRET_TEST").is_some(),
        "the agent's process has the variable"
    );
    assert_eq!(env.get("TRIAGE_SECRET_TEST"), None, "{stdout}");
    assert_eq!(env.get("PATH"), Some(&SCRIPT_PATH), "{stdout}");
    let home = env.get("HOME").expect("HOME is set");
    assert!(home.contains("triage-run-"), "{stdout}");
    assert_eq!(env.get("LANG"), Some(&SCRIPT_LANG), "{stdout}");
    let unexpected: Vec<&&str> = env
        .keys()
        .filter(|k| !["PATH", "HOME", "LANG"].contains(k) && !SET_BY_THE_SHELL.contains(k))
        .collect();
    assert!(unexpected.is_empty(), "{unexpected:?} in {stdout}");
}
