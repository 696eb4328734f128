//! `triage-relay quickstart`: a whole local deployment in one command.
//!
//! The relay runs in this process; the technician CLI (`triage`) and the
//! agent (`triage-agent`) are the sibling binaries next to this one. Each
//! step is skipped when an earlier run already did it, so re-running in the
//! same directory picks up where it left off:
//!
//! 1. the organisation key in `DIR/org.key` (made once; in a real
//!    deployment it lives off the relay host)
//! 2. `triage --home DIR/technician keygen` (skipped if `DIR/technician.pub` exists),
//!    registered as technician `admin` with every role; the same for
//!    `DIR/approver` as `approver` with the approver role, so that one person
//!    can try the two-person script flow
//! 3. `triage --home … login LOCATOR --org-key KEY` for both (every run: the
//!    address may change)
//! 4. a roster naming both, signed with the org key and published
//! 5. `triage-agent enroll TOKEN --state-dir DIR/agent` with a one-use token
//!    carrying the org key (skipped if `DIR/agent-enrolled` names this relay's
//!    current locator; an agent enrolled under another address is removed and
//!    enrolled afresh)
//! 6. spawn `triage-agent run --state-dir DIR/agent`, logging to `DIR/agent.log`

use crate::error::RelayError;
use crate::RelayHandle;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use triage_shared::identity::{KeyPair, PublicKey};
use triage_shared::roles::Role;
use triage_shared::token::RelayLocator;

mod tools;

pub use tools::Binaries;
use tools::{describe, run_tool};

pub const TECHNICIAN_NAME: &str = "admin";
pub const TECHNICIAN_DIR: &str = "technician";
/// The second person of the two-person script flow.
pub const APPROVER_NAME: &str = "approver";
pub const APPROVER_DIR: &str = "approver";
pub const APPROVER_KEY_FILE: &str = "approver.pub";
/// The organisation's private key, for local use only.
pub const ORG_KEY_FILE: &str = "org.key";
/// How long the roster the quickstart signs stays valid.
pub const ROSTER_VALIDITY: Duration = Duration::from_secs(90 * 24 * 3600);
pub const AGENT_DIR: &str = "agent";
/// The technician's public key, saved after keygen.
pub const TECHNICIAN_KEY_FILE: &str = "technician.pub";
/// Written once the agent enrolled; holds the relay locator it enrolled with.
pub const AGENT_ENROLLED_FILE: &str = "agent-enrolled";
pub const AGENT_LOG_FILE: &str = "agent.log";
/// Lifetime of the one-use token made for the local agent.
pub const AGENT_TOKEN_TTL: Duration = Duration::from_secs(600);

#[derive(Debug, thiserror::Error)]
pub enum QuickstartError {
    #[error("cannot find `{name}` in {}; run `cargo build --workspace` first", dir.display())]
    MissingBinary { name: String, dir: PathBuf },
    #[error("cannot run {command}: {source}")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
    #[error("{command} failed ({status}):\n{stderr}")]
    Failed {
        command: String,
        status: String,
        stderr: String,
    },
    #[error("`triage keygen` printed no public key (expected a last line `ed25519:<64 hex>`), got:\n{0}")]
    NoPublicKey(String),
    #[error("{0}")]
    Mismatch(String),
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Relay(#[from] RelayError),
}

/// The public key `triage keygen` printed: its last non-empty line.
pub fn parse_keygen_output(stdout: &str) -> Result<PublicKey, QuickstartError> {
    stdout
        .lines()
        .rev()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .and_then(|line| line.parse().ok())
        .ok_or_else(|| QuickstartError::NoPublicKey(stdout.chars().take(500).collect()))
}

/// What an earlier quickstart run left in the directory.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Progress {
    pub technician_key: Option<PublicKey>,
    /// The relay the agent enrolled with, if its state is still there.
    pub agent_enrolled_with: Option<String>,
}

impl Progress {
    pub fn detect(dir: &Path) -> Progress {
        let technician_key = fs::read_to_string(dir.join(TECHNICIAN_KEY_FILE))
            .ok()
            .and_then(|text| parse_keygen_output(&text).ok());
        let agent_enrolled_with = fs::read_to_string(dir.join(AGENT_ENROLLED_FILE))
            .ok()
            .map(|text| text.trim().to_string())
            .filter(|_| dir.join(AGENT_DIR).is_dir());
        Progress {
            technician_key,
            agent_enrolled_with,
        }
    }

    /// Whether the agent is enrolled with the relay at `locator`. An agent
    /// enrolled with the same relay at another address (say, a different
    /// `--listen` port) would never find it, so it is enrolled again.
    pub fn agent_enrolled_with(&self, locator: &RelayLocator) -> bool {
        self.agent_enrolled_with.as_deref() == Some(locator.to_string().as_str())
    }
}

/// A running local deployment.
pub struct Deployment {
    pub agent: tokio::process::Child,
    pub technician_key: PublicKey,
    /// What to type next, for the developer.
    pub instructions: String,
}

/// Sets everything up around a relay already running with data dir `dir`.
pub async fn set_up(
    relay: &RelayHandle,
    dir: &Path,
    bins: &Binaries,
) -> Result<Deployment, QuickstartError> {
    let progress = Progress::detect(dir);
    let org = org_key(relay, &dir.join(ORG_KEY_FILE)).await?;
    let org_public = org.public_key();
    let locator = relay.locator();
    let technician_key = technician(
        relay,
        bins,
        &dir.join(TECHNICIAN_DIR),
        &dir.join(TECHNICIAN_KEY_FILE),
        (TECHNICIAN_NAME, &Role::ALL),
        &org_public,
    )
    .await?;
    technician(
        relay,
        bins,
        &dir.join(APPROVER_DIR),
        &dir.join(APPROVER_KEY_FILE),
        (APPROVER_NAME, &[Role::Approver]),
        &org_public,
    )
    .await?;
    crate::org::sign_and_publish_roster(
        relay.store(),
        &org,
        ROSTER_VALIDITY,
        triage_shared::time::Timestamp::now(),
    )
    .await
    .map_err(RelayError::from)?;
    let agent_dir = dir.join(AGENT_DIR);
    if !progress.agent_enrolled_with(&locator) {
        if agent_dir.exists() {
            tracing::info!(dir = %agent_dir.display(), "the agent was enrolled with another relay address; enrolling it afresh");
            fs::remove_dir_all(&agent_dir).map_err(|source| QuickstartError::Io {
                action: "remove",
                path: agent_dir.clone(),
                source,
            })?;
        }
        let pinned = crate::admin::PinnedOrg {
            key: org_public,
            min_roster: relay
                .store()
                .latest_roster_version()
                .await
                .map_err(RelayError::from)?,
        };
        let token = relay
            .create_token_for_org(1, AGENT_TOKEN_TTL, pinned)
            .await?;
        let args = [
            OsString::from("enroll"),
            token.to_string().into(),
            "--state-dir".into(),
            agent_dir.clone().into_os_string(),
        ];
        run_tool(&bins.agent, &args).await?;
        write(&dir.join(AGENT_ENROLLED_FILE), &format!("{locator}\n"))?;
    }

    let log_path = dir.join(AGENT_LOG_FILE);
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|source| QuickstartError::Io {
            action: "open",
            path: log_path.clone(),
            source,
        })?;
    let log_err = log.try_clone().map_err(|source| QuickstartError::Io {
        action: "open",
        path: log_path.clone(),
        source,
    })?;
    let agent = tokio::process::Command::new(&bins.agent)
        .arg("run")
        .arg("--state-dir")
        .arg(&agent_dir)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| QuickstartError::Spawn {
            command: describe(&bins.agent, &["run".into()]),
            source,
        })?;

    let instructions = next_steps(dir, &locator, &log_path);
    Ok(Deployment {
        agent,
        technician_key,
        instructions,
    })
}

/// The org key in `path`, made and recorded on the first run.
async fn org_key(relay: &RelayHandle, path: &Path) -> Result<KeyPair, QuickstartError> {
    if path.exists() {
        let key = crate::org::read_key_file(path)?;
        crate::org::check_org_key(
            relay.store().org_key().await.map_err(RelayError::from)?,
            &key.public_key(),
        )
        .map_err(|e| QuickstartError::Mismatch(format!("{}: {}", path.display(), e.message)))?;
        return Ok(key);
    }
    crate::org::init_to_file(relay.store(), path, triage_shared::time::Timestamp::now())
        .await
        .map_err(QuickstartError::Relay)?;
    Ok(crate::org::read_key_file(path)?)
}

/// A technician home with its own key, registered with `roles` and logged
/// in with the org key pinned. Returns its public key.
async fn technician(
    relay: &RelayHandle,
    bins: &Binaries,
    home: &Path,
    key_file: &Path,
    (name, roles): (&str, &[Role]),
    org: &PublicKey,
) -> Result<PublicKey, QuickstartError> {
    let home_args = |rest: &[OsString]| -> Vec<OsString> {
        let mut args = vec![OsString::from("--home"), home.as_os_str().to_owned()];
        args.extend_from_slice(rest);
        args
    };
    let saved = fs::read_to_string(key_file)
        .ok()
        .and_then(|text| parse_keygen_output(&text).ok());
    let key = match saved {
        Some(key) => key,
        None => {
            let key = match run_tool(&bins.triage, &home_args(&["keygen".into()])).await {
                Ok(stdout) => parse_keygen_output(&stdout)?,
                // A key made by an interrupted earlier run: ask for it instead.
                Err(QuickstartError::Failed { .. }) if home.is_dir() => parse_keygen_output(
                    &run_tool(&bins.triage, &home_args(&["pubkey".into()])).await?,
                )?,
                Err(e) => return Err(e),
            };
            write(key_file, &format!("{key}\n"))?;
            key
        }
    };
    match relay.technician(name).await? {
        Some(existing) if existing.public_key == key => {}
        Some(_) => {
            return Err(QuickstartError::Mismatch(format!(
                "the relay already has a technician `{name}` with another key; remove {} to start afresh",
                home.parent().unwrap_or(home).display()
            )))
        }
        None => relay.add_technician(name, roles, key).await?,
    }
    let login = [
        OsString::from("login"),
        relay.locator().to_string().into(),
        "--org-key".into(),
        org.to_string().into(),
    ];
    run_tool(&bins.triage, &home_args(&login)).await?;
    Ok(key)
}

/// The text shown once everything runs.
pub fn next_steps(dir: &Path, locator: &RelayLocator, agent_log: &Path) -> String {
    let tech = shell_quote(&dir.join(TECHNICIAN_DIR).display().to_string());
    let approver = shell_quote(&dir.join(APPROVER_DIR).display().to_string());
    let agent = shell_quote(&dir.join(AGENT_DIR).display().to_string());
    format!(
        "Triage is running locally.\n\
         \n  relay       {locator}\
         \n  technician  `{TECHNICIAN_NAME}` (all roles), home {tech}\
         \n  agent       {agent} (log: {log})\
         \n\nIn another terminal:\
         \n  export TRIAGE_HOME={tech}\
         \n  triage-agent help \"my screen is black\" --state-dir {agent}\
         \n  triage-agent gui --state-dir {agent}    # the Get help window, in a desktop session\
         \n  triage tickets list\
         \n  triage agents list\
         \n\nA script, two people (the approver has its own home):\
         \n  echo 'echo hello from a script' > fix.sh\
         \n  triage script attach TICKET fix.sh\
         \n  triage --home {approver} script approve TICKET SCRIPT\
         \n  triage script run TICKET SCRIPT\
         \n\nThe organisation key is in {org}; in a real deployment it lives off the relay host.\
         \nPress Ctrl-C to stop the agent and the relay.",
        org = shell_quote(&dir.join(ORG_KEY_FILE).display().to_string()),
        log = shell_quote(&agent_log.display().to_string()),
    )
}

/// Quotes `s` for a POSIX shell when it holds anything but safe characters.
fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:@=,".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

fn write(path: &Path, text: &str) -> Result<(), QuickstartError> {
    fs::write(path, text).map_err(|source| QuickstartError::Io {
        action: "write",
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_shared::identity::CertFingerprint;

    #[test]
    fn keygen_output_is_read_from_its_last_line() {
        let key = KeyPair::generate().public_key();
        let out = format!("Made a key in /tmp/x.\nGive this to your admin:\n{key}\n\n");
        assert_eq!(parse_keygen_output(&out).unwrap(), key);
        assert!(matches!(
            parse_keygen_output("no key here\n"),
            Err(QuickstartError::NoPublicKey(_))
        ));
        assert!(parse_keygen_output("").is_err());
    }

    #[test]
    fn earlier_progress_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let here = RelayLocator {
            addr: "127.0.0.1:4433".into(),
            fingerprint: CertFingerprint([1; 32]),
        };
        let elsewhere = RelayLocator {
            addr: "127.0.0.1:5555".into(),
            ..here.clone()
        };
        assert_eq!(Progress::detect(dir.path()), Progress::default());
        let key = KeyPair::generate().public_key();
        fs::write(dir.path().join(TECHNICIAN_KEY_FILE), format!("{key}\n")).unwrap();
        fs::write(dir.path().join(AGENT_ENROLLED_FILE), format!("{here}\n")).unwrap();
        // The marker alone is not enough: the agent's state must still be there.
        let progress = Progress::detect(dir.path());
        assert_eq!(progress.technician_key, Some(key));
        assert!(!progress.agent_enrolled_with(&here));
        fs::create_dir(dir.path().join(AGENT_DIR)).unwrap();
        let progress = Progress::detect(dir.path());
        assert!(progress.agent_enrolled_with(&here));
        assert!(!progress.agent_enrolled_with(&elsewhere));
        fs::write(dir.path().join(TECHNICIAN_KEY_FILE), "damaged").unwrap();
        assert_eq!(Progress::detect(dir.path()).technician_key, None);
    }

    #[test]
    fn next_steps_name_the_directories_and_quote_odd_paths() {
        let locator = RelayLocator {
            addr: "127.0.0.1:4433".into(),
            fingerprint: CertFingerprint([1; 32]),
        };
        let text = next_steps(
            Path::new("/tmp/my dir"),
            &locator,
            Path::new("/tmp/my dir/agent.log"),
        );
        assert!(
            text.contains("export TRIAGE_HOME='/tmp/my dir/technician'"),
            "{text}"
        );
        assert!(text.contains("--state-dir '/tmp/my dir/agent'"), "{text}");
        assert!(
            text.contains("triage tickets list") && text.contains("triage agents list"),
            "{text}"
        );
        assert!(text.contains(&locator.to_string()), "{text}");
        assert!(
            text.contains("triage --home '/tmp/my dir/approver' script approve TICKET SCRIPT"),
            "{text}"
        );
        assert_eq!(shell_quote("/plain/path"), "/plain/path");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
