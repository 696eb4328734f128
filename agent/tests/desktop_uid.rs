//! The Get help socket refuses other users' processes. As root (as CI
//! runs), a real `triage-agent tickets` is started as uid 65534 against a
//! socket served in-process; without root the process cannot change uid,
//! so only the check function is tested (the test says so when it runs).
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;
use triage_agent::desktop::connection::DesktopService;
use triage_agent::desktop::consent::ConsentRegistry;
use triage_agent::desktop::peer::{check_peer, AllowedPeers};
use triage_agent::desktop::server::DesktopListener;
use triage_agent::AgentConfig;

/// nobody: an account that is neither root nor the test's own.
const OTHER_UID: u32 = 65534;

/// Serves `<dir>/<name>.sock` for a (not enrolled) state dir with `agent_toml`.
async fn serve(
    dir: &Path,
    name: &str,
    agent_toml: &str,
) -> (PathBuf, tokio::sync::oneshot::Sender<()>) {
    let config = AgentConfig::parse(agent_toml, Path::new("agent.toml")).unwrap();
    let service = DesktopService::new(
        &dir.join("state"),
        &config,
        ConsentRegistry::new(Duration::from_secs(60)),
    );
    let path = dir.join(format!("{name}.sock"));
    let listener = DesktopListener::bind(&path).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(listener.serve(Arc::new(service), async {
        let _ = stopped.await;
    }));
    (path, stop)
}

/// Runs `triage-agent tickets --socket SOCKET` as `uid`: exit success, and
/// what it printed (stdout, then stderr).
async fn tickets_as(binary: &Path, socket: &Path, uid: u32) -> (bool, String) {
    let mut command = Command::new(binary);
    command
        .args(["tickets", "--socket"])
        .arg(socket)
        .env_clear()
        .env("HOME", "/")
        .current_dir("/");
    if uid != 0 {
        command.uid(uid).gid(uid);
    }
    let out = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("triage-agent starts");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_uids_process_is_refused_when_root_else_the_check_function_refuses_it() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    let allowed = AllowedPeers {
        daemon_uid: euid,
        listed: vec![],
    };
    let refused = check_peer(OTHER_UID, &allowed).unwrap_err().to_string();
    assert!(refused.contains("uid 65534"), "{refused}");
    if euid != 0 {
        eprintln!("not root: only the check function was tested; run as root to switch uid");
        return;
    }

    // Directories the other user can pass through, and a copy of the
    // binary it can run wherever the build tree lives.
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let binary = tmp.path().join("triage-agent");
    std::fs::copy(env!("CARGO_BIN_EXE_triage-agent"), &binary).unwrap();
    std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();

    let (closed, _stop_closed) = serve(tmp.path(), "closed", "").await;
    let (ok, stderr) = tickets_as(&binary, &closed, OTHER_UID).await;
    assert!(!ok, "uid {OTHER_UID} must be refused");
    assert!(
        stderr.contains("does not serve uid 65534") && stderr.contains("desktop_users"),
        "{stderr}"
    );

    // Root is served: it is shown its tickets as the daemon keeps them
    // (none here).
    let (ok, stderr) = tickets_as(&binary, &closed, 0).await;
    assert!(ok, "{stderr}");
    assert!(stderr.contains("You have no tickets"), "{stderr}");

    // Listed in desktop_users, the same uid is let in.
    let (open, _stop_open) = serve(tmp.path(), "open", "desktop_users = [\"65534\"]\n").await;
    let (ok, stderr) = tickets_as(&binary, &open, OTHER_UID).await;
    assert!(ok, "{stderr}");
    assert!(stderr.contains("You have no tickets"), "{stderr}");
    assert!(!stderr.contains("does not serve"), "{stderr}");
}
