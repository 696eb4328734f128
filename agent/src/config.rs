//! `agent.toml` in the state directory: settings an administrator chooses for
//! this endpoint. The file is optional; every key has a default.
//!
//! ```toml
//! # Interpreters approved scripts may use (default: sh, bash, python on
//! # Unix; powershell on Windows). An empty list runs no scripts at all.
//! allowed_interpreters = ["sh", "bash"]
//! ```
//!
//! `[health]` holds the health monitor's rules (see [`crate::health::config`]);
//! `[outbox] max_messages` bounds the offline outbox (default
//! [`MAX_OUTBOX_MESSAGES`]).
//!
//! `log_paths` (default `["/var/log"]` on Unix) and `max_log_bytes`
//! (default 1 GiB) bound log pulls, and `screenshots = "never" |
//! "with_consent"` (default `with_consent`) says whether screenshots may be
//! taken at all (see [`crate::logs::settings`]).
//!
//! The "Get help" window's local socket ([`crate::desktop`]):
//! `desktop_socket = "/run/triage-agent/desktop.sock"` (an absolute path;
//! default `<state dir>/desktop.sock`) and `desktop_users = ["alice",
//! "1000"]`, the accounts (names or uids) besides the daemon's own and
//! root that may use it. A daemon running as root keeps its state in a
//! directory only root can enter, so for other users' windows to reach it,
//! point `desktop_socket` somewhere they can (`/run/triage-agent/…`, which
//! the window also looks for) and list those users.
//!
//! Unknown keys and bad values are errors that name the file and the key:
//! a typo in a security setting must not silently mean "the default".
//! New settings (health rules, log allow-lists) become new fields of
//! [`RawConfig`] and [`AgentConfig`].

use crate::error::AgentError;
use crate::health::config::HealthConfig;
use crate::health::raw::RawHealth;
use crate::outbox::{MAX_OUTBOX_MESSAGES, OUTBOX_MESSAGES_CEILING};
use crate::state::{read_capped, StateDir};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use triage_shared::approval::Interpreter;

pub const CONFIG_FILE: &str = "agent.toml";
/// Largest `agent.toml` read.
pub const MAX_CONFIG_FILE_LEN: u64 = 64 * 1024;

/// The settings in force.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentConfig {
    pub allowed_interpreters: Vec<Interpreter>,
    /// `[health]`: the health monitor's rules ([`crate::health::config`]).
    pub health: HealthConfig,
    /// `[outbox] max_messages`: messages the offline outbox holds at most.
    pub max_outbox_messages: usize,
    /// `log_paths`, `max_log_bytes`: which files a log pull may read, and how much.
    pub logs: crate::logs::LogPolicy,
    /// `screenshots`: whether a screenshot may be taken (after consent).
    pub screenshots: crate::screenshot::ScreenshotPolicy,
    /// `desktop_socket`: where the Get help window's socket is, if not in the state dir.
    pub desktop_socket: Option<PathBuf>,
    /// `desktop_users`, resolved to uids: who besides the daemon's own
    /// user and root may use that socket.
    pub desktop_users: Vec<u32>,
}

/// The interpreters allowed when `agent.toml` does not say.
pub fn default_interpreters() -> Vec<Interpreter> {
    if cfg!(windows) {
        vec![Interpreter::Powershell]
    } else {
        vec![Interpreter::Sh, Interpreter::Bash, Interpreter::Python]
    }
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            allowed_interpreters: default_interpreters(),
            health: HealthConfig::default(),
            max_outbox_messages: MAX_OUTBOX_MESSAGES,
            logs: crate::logs::LogPolicy::default(),
            screenshots: crate::screenshot::ScreenshotPolicy::default(),
            desktop_socket: None,
            desktop_users: Vec::new(),
        }
    }
}

/// The file as written; values are checked one key at a time in
/// [`AgentConfig::from_raw`] so each error can name its key.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    allowed_interpreters: Option<Vec<String>>,
    health: Option<RawHealth>,
    outbox: Option<RawOutbox>,
    log_paths: Option<Vec<String>>,
    max_log_bytes: Option<u64>,
    screenshots: Option<String>,
    desktop_socket: Option<String>,
    desktop_users: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutbox {
    max_messages: Option<usize>,
}

impl AgentConfig {
    /// Parses the text of `agent.toml`; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<AgentConfig, AgentError> {
        let bad = |problem: String| AgentError::Config {
            path: path.to_path_buf(),
            problem,
        };
        let raw: RawConfig = toml::from_str(text).map_err(|e| bad(describe(text, &e)))?;
        AgentConfig::from_raw(raw).map_err(bad)
    }

    fn from_raw(raw: RawConfig) -> Result<AgentConfig, String> {
        let mut config = AgentConfig::default();
        if let Some(names) = raw.allowed_interpreters {
            let mut allowed = Vec::with_capacity(names.len());
            for name in &names {
                let interpreter = name
                    .parse::<Interpreter>()
                    .map_err(|e| format!("key `allowed_interpreters`: {e}"))?;
                if !allowed.contains(&interpreter) {
                    allowed.push(interpreter);
                }
            }
            config.allowed_interpreters = allowed;
        }
        config.health = crate::health::raw::build(raw.health)?;
        config.logs = crate::logs::settings::build(raw.log_paths, raw.max_log_bytes)?;
        if let Some(policy) = raw.screenshots {
            config.screenshots = policy
                .parse()
                .map_err(|e| format!("key `screenshots`: {e}"))?;
        }
        if let Some(path) = raw.desktop_socket {
            config.desktop_socket = Some(
                crate::desktop::check_socket_path(&path)
                    .map_err(|e| format!("key `desktop_socket`: {e}"))?,
            );
        }
        for entry in raw.desktop_users.unwrap_or_default() {
            let uid = crate::desktop::peer::resolve_user(&entry)
                .map_err(|e| format!("key `desktop_users`: {e}"))?;
            if !config.desktop_users.contains(&uid) {
                config.desktop_users.push(uid);
            }
        }
        if let Some(max) = raw.outbox.and_then(|o| o.max_messages) {
            if !(1..=OUTBOX_MESSAGES_CEILING).contains(&max) {
                return Err(format!(
                    "key `outbox.max_messages`: must be from 1 to {OUTBOX_MESSAGES_CEILING}"
                ));
            }
            config.max_outbox_messages = max;
        }
        Ok(config)
    }

    /// Loads `agent.toml` from `dir`; a missing file means the defaults.
    pub fn load(dir: &StateDir) -> Result<AgentConfig, AgentError> {
        let path = dir.path().join(CONFIG_FILE);
        let text = read_capped(&path, MAX_CONFIG_FILE_LEN).map_err(|e| match e {
            AgentError::CorruptState { path, problem } => AgentError::Config { path, problem },
            other => other,
        })?;
        match text {
            None => Ok(AgentConfig::default()),
            Some(text) => AgentConfig::parse(&text, &path),
        }
    }
}

/// toml's message on one line, with the line it is about and the key being
/// set there (the nearest `key =` at or above it, so a value in a multi-line
/// array is blamed on its key).
fn describe(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim().replace('\n', " ");
    let Some(span) = e.span() else {
        return message;
    };
    let before = text.get(..span.start).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let key = text
        .lines()
        .take(line)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .find_map(assigned_key);
    match key {
        Some(key) if !message.contains(&format!("`{key}`")) => {
            format!("line {line}, key `{key}`: {message}")
        }
        _ => format!("line {line}: {message}"),
    }
}

/// The key of a `key = value` line.
fn assigned_key(line: &str) -> Option<&str> {
    let (key, _) = line.split_once('=')?;
    let key = key.trim();
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
    bare.then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<AgentConfig, String> {
        AgentConfig::parse(text, Path::new("/state/agent.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn an_empty_file_means_the_defaults() {
        assert_eq!(parse("").unwrap(), AgentConfig::default());
        assert_eq!(parse("# nothing here\n").unwrap(), AgentConfig::default());
    }

    #[cfg(unix)]
    #[test]
    fn unix_defaults_are_sh_bash_and_python() {
        assert_eq!(
            AgentConfig::default().allowed_interpreters,
            [Interpreter::Sh, Interpreter::Bash, Interpreter::Python]
        );
    }

    #[test]
    fn the_allow_list_is_read_and_deduplicated() {
        let config = parse("allowed_interpreters = [\"sh\", \"Python\", \"sh\"]\n").unwrap();
        assert_eq!(
            config.allowed_interpreters,
            [Interpreter::Sh, Interpreter::Python]
        );
        assert!(parse("allowed_interpreters = []\n")
            .unwrap()
            .allowed_interpreters
            .is_empty());
    }

    #[test]
    fn an_unknown_interpreter_names_the_file_and_the_key() {
        let err = parse("allowed_interpreters = [\"perl\"]\n").unwrap_err();
        assert!(err.contains("/state/agent.toml"), "{err}");
        assert!(err.contains("allowed_interpreters"), "{err}");
        assert!(err.contains("perl"), "{err}");
    }

    #[test]
    fn an_unknown_key_is_named() {
        let err = parse("allowed_interpreter = [\"sh\"]\n").unwrap_err();
        assert!(err.contains("/state/agent.toml"), "{err}");
        assert!(err.contains("`allowed_interpreter`"), "{err}");
    }

    #[test]
    fn a_value_of_the_wrong_type_names_the_line_and_the_key() {
        let err = parse("allowed_interpreters = \"sh\"\n").unwrap_err();
        assert!(err.contains("/state/agent.toml"), "{err}");
        assert!(
            err.contains("line 1, key `allowed_interpreters`: invalid type"),
            "{err}"
        );
        let err = parse("# settings\nallowed_interpreters = [\n  \"sh\",\n  1,\n]\n").unwrap_err();
        assert!(
            err.contains("line 4, key `allowed_interpreters`: invalid type"),
            "{err}"
        );
        let err = parse("allowed_interpreters = [\"sh\"\n").unwrap_err();
        assert!(
            err.contains("/state/agent.toml") && err.contains("line 1"),
            "{err}"
        );
    }

    #[test]
    fn desktop_users_are_names_or_uids() {
        let config = parse("desktop_users = [\"1000\", \"1000\", \"4242\"]\n").unwrap();
        assert_eq!(config.desktop_users, [1000, 4242]);
        assert!(AgentConfig::default().desktop_users.is_empty());
        #[cfg(unix)]
        assert_eq!(
            parse("desktop_users = [\"root\"]\n").unwrap().desktop_users,
            [0]
        );
    }

    #[test]
    fn an_unknown_desktop_user_names_the_key_and_the_account() {
        let err = parse("desktop_users = [\"no-such-user-triage-test\"]\n").unwrap_err();
        assert!(err.contains("/state/agent.toml"), "{err}");
        assert!(err.contains("key `desktop_users`"), "{err}");
        assert!(err.contains("no-such-user-triage-test"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn the_desktop_socket_must_be_an_absolute_path_that_fits() {
        let config = parse("desktop_socket = \"/run/triage-agent/desktop.sock\"\n").unwrap();
        assert_eq!(
            config.desktop_socket,
            Some(PathBuf::from("/run/triage-agent/desktop.sock"))
        );
        assert_eq!(AgentConfig::default().desktop_socket, None);
        let err = parse("desktop_socket = \"desktop.sock\"\n").unwrap_err();
        assert!(
            err.contains("key `desktop_socket`") && err.contains("absolute"),
            "{err}"
        );
        let long = format!("desktop_socket = \"/{}\"\n", "a".repeat(200));
        let err = parse(&long).unwrap_err();
        assert!(
            err.contains("key `desktop_socket`") && err.contains("bytes"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_file_is_the_defaults_and_a_present_one_is_read() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = StateDir::new(tmp.path());
        assert_eq!(AgentConfig::load(&dir).unwrap(), AgentConfig::default());
        std::fs::write(
            tmp.path().join(CONFIG_FILE),
            "allowed_interpreters = [\"bash\"]\n",
        )
        .unwrap();
        assert_eq!(
            AgentConfig::load(&dir).unwrap().allowed_interpreters,
            [Interpreter::Bash]
        );
        std::fs::write(tmp.path().join(CONFIG_FILE), "x".repeat(70_000)).unwrap();
        assert!(matches!(
            AgentConfig::load(&dir),
            Err(AgentError::Config { .. })
        ));
    }
}
