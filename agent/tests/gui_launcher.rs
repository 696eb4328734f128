//! The desktop launcher in `packaging/` and the `gui` command it runs.

use std::path::Path;
use std::process::Command;

fn packaging(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("packaging")
        .join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `key=value` lines of the desktop entry's main group.
fn entry() -> Vec<(String, String)> {
    let text = packaging("triage-get-help.desktop");
    let mut lines = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'));
    assert_eq!(lines.next(), Some("[Desktop Entry]"));
    lines
        .take_while(|l| !l.starts_with('['))
        .map(|l| {
            let (key, value) = l
                .split_once('=')
                .unwrap_or_else(|| panic!("not key=value: {l}"));
            (key.to_string(), value.to_string())
        })
        .collect()
}

fn value(entry: &[(String, String)], key: &str) -> String {
    let found: Vec<_> = entry.iter().filter(|(k, _)| k == key).collect();
    assert_eq!(found.len(), 1, "{key} must be set once");
    found[0].1.clone()
}

#[test]
fn the_desktop_entry_launches_the_window_with_its_icon() {
    let entry = entry();
    assert_eq!(value(&entry, "Type"), "Application");
    assert_eq!(value(&entry, "Name"), "Get help");
    assert_eq!(value(&entry, "Exec"), "triage-agent gui");
    assert_eq!(value(&entry, "Terminal"), "false");
    assert!(value(&entry, "Categories").ends_with(';'));
    let icon = value(&entry, "Icon");
    assert!(packaging(&format!("{icon}.svg"))
        .trim_start()
        .starts_with("<svg"));
    // Desktops match the window's app id (Wayland) to the entry's file
    // name, and its class (X11) to StartupWMClass.
    #[cfg(feature = "gui")]
    {
        let app_id = triage_agent::gui::APP_ID;
        assert_eq!(value(&entry, "StartupWMClass"), app_id);
        packaging(&format!("{app_id}.desktop"));
    }
}

#[test]
fn the_command_the_launcher_runs_exists() {
    let out = Command::new(env!("CARGO_BIN_EXE_triage-agent"))
        .args(["gui", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("Get help"));
}

#[test]
fn without_a_desktop_session_gui_says_so_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_triage-agent"))
        .args(["gui", "--socket"])
        .arg(dir.path().join("none.sock"))
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expected = if cfg!(feature = "gui") {
        "no desktop session: DISPLAY/WAYLAND_DISPLAY is not set"
    } else {
        "built without the window"
    };
    assert!(stderr.contains(expected), "{stderr}");
}
