//! agent.toml keys for log pulls:
//!
//! ```toml
//! # Directories (or single files) a technician may pull logs from.
//! # Default: ["/var/log"] on Unix, nothing elsewhere. [] allows nothing.
//! log_paths = ["/var/log", "/opt/app/logs"]
//! # Bytes one pull sends at most (default 1 GiB); a pull that reaches it
//! # ends with "limit reached".
//! max_log_bytes = 1073741824
//! ```

use super::LogPolicy;
use std::path::PathBuf;
use triage_shared::transfer::DEFAULT_MAX_LOG_BYTES;

/// The allow-list when agent.toml does not set `log_paths`.
pub fn default_log_paths() -> Vec<PathBuf> {
    if cfg!(unix) {
        vec![PathBuf::from("/var/log")]
    } else {
        Vec::new()
    }
}

impl Default for LogPolicy {
    fn default() -> Self {
        LogPolicy {
            allow: default_log_paths(),
            max_bytes: DEFAULT_MAX_LOG_BYTES,
        }
    }
}

/// The policy from the raw keys; an error names the key.
pub fn build(log_paths: Option<Vec<String>>, max_bytes: Option<u64>) -> Result<LogPolicy, String> {
    let mut policy = LogPolicy::default();
    if let Some(paths) = log_paths {
        let mut allow: Vec<PathBuf> = Vec::with_capacity(paths.len());
        for p in paths {
            let path = PathBuf::from(&p);
            if !path.is_absolute() {
                return Err(format!("key `log_paths`: `{p}` is not an absolute path"));
            }
            if !allow.contains(&path) {
                allow.push(path);
            }
        }
        policy.allow = allow;
    }
    if let Some(max) = max_bytes {
        if max == 0 {
            return Err("key `max_log_bytes`: must be at least 1".into());
        }
        policy.max_bytes = max;
    }
    Ok(policy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AgentConfig;
    use crate::screenshot::ScreenshotPolicy;
    use std::path::Path;

    fn parse(text: &str) -> Result<AgentConfig, String> {
        AgentConfig::parse(text, Path::new("/state/agent.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_are_var_log_one_gib_and_consent() {
        let c = parse("").unwrap();
        assert_eq!(c.logs.max_bytes, DEFAULT_MAX_LOG_BYTES);
        assert_eq!(c.logs.max_bytes, 1024 * 1024 * 1024);
        #[cfg(unix)]
        assert_eq!(c.logs.allow, [PathBuf::from("/var/log")]);
        assert_eq!(c.screenshots, ScreenshotPolicy::WithConsent);
    }

    #[test]
    fn log_keys_are_read() {
        let c = parse(
            "log_paths = [\"/tmp/a\", \"/srv/logs\", \"/tmp/a\"]\nmax_log_bytes = 1\nscreenshots = \"never\"\n",
        )
        .unwrap();
        assert_eq!(
            c.logs.allow,
            [PathBuf::from("/tmp/a"), PathBuf::from("/srv/logs")]
        );
        assert_eq!(c.logs.max_bytes, 1);
        assert_eq!(c.screenshots, ScreenshotPolicy::Never);
        assert!(parse("log_paths = []\n").unwrap().logs.allow.is_empty());
    }

    #[test]
    fn bad_log_keys_name_the_key() {
        for (text, key) in [
            ("log_paths = [\"var/log\"]\n", "log_paths"),
            ("max_log_bytes = 0\n", "max_log_bytes"),
            ("max_log_bytes = -5\n", "max_log_bytes"),
            ("screenshots = \"always\"\n", "screenshots"),
        ] {
            let err = parse(text).unwrap_err();
            assert!(
                err.contains(key) && err.contains("/state/agent.toml"),
                "{text}: {err}"
            );
        }
    }
}
