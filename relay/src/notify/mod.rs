//! Notifications that leave the relay: signed webhooks and SMTP mail.
//!
//! ```text
//! queue feed ─► plan (pure: who hears what, ids, bodies) ─► notify_deliveries
//!     (store, durable) ─► worker: claim due rows with a lease ─► send
//!     (reqwest / lettre) ─► settle: delivered, retry after backoff, abandoned
//! ```
//!
//! Everything a delivery needs is in the store, so a restarted relay (or
//! another relay on the same PostgreSQL) picks up where this one stopped.

pub mod args;
pub mod mail;
pub mod plan;
pub mod send;
pub mod worker;

pub use plan::Backoff;
pub use send::{signature, Senders};

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// How long one webhook POST or SMTP session may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the worker looks for due deliveries when nothing wakes it.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);
/// The first retry's delay; it doubles with each failed attempt …
pub const RETRY_BASE: Duration = Duration::from_secs(10);
/// … up to this.
pub const RETRY_CAP: Duration = Duration::from_secs(3600);
/// Attempts before a delivery is abandoned (about a day with the above).
pub const MAX_ATTEMPTS: u32 = 30;
/// How long a claimed attempt is this relay's alone; past it, another
/// relay may take it (this one died mid-send). Longer than a request.
pub const CLAIM_LEASE: Duration = Duration::from_secs(60);
/// Deliveries sent at once, per round.
pub const DELIVERY_BATCH: usize = 16;

/// The notification settings in `RelayConfig`.
#[derive(Debug, Clone)]
pub struct NotifyConfig {
    pub poll_interval: Duration,
    pub request_timeout: Duration,
    pub backoff: Backoff,
    pub lease: Duration,
    pub batch: usize,
    /// `None`: no mail is sent (or queued).
    pub smtp: Option<SmtpConfig>,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            poll_interval: POLL_INTERVAL,
            request_timeout: REQUEST_TIMEOUT,
            backoff: Backoff {
                base: RETRY_BASE,
                cap: RETRY_CAP,
                max_attempts: MAX_ATTEMPTS,
            },
            lease: CLAIM_LEASE,
            batch: DELIVERY_BATCH,
            smtp: None,
        }
    }
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS (refused if the server
    /// does not offer it); usually port 587.
    #[default]
    Starttls,
    /// TLS from the first byte; usually port 465.
    Tls,
    /// No TLS at all: only for a relay on the same host or in tests.
    None,
}

impl SmtpSecurity {
    pub fn default_port(self) -> u16 {
        match self {
            SmtpSecurity::Starttls => 587,
            SmtpSecurity::Tls => 465,
            SmtpSecurity::None => 25,
        }
    }
}

impl FromStr for SmtpSecurity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "starttls" => Ok(SmtpSecurity::Starttls),
            "tls" => Ok(SmtpSecurity::Tls),
            "none" => Ok(SmtpSecurity::None),
            other => Err(format!(
                "unknown SMTP security `{other}`; use starttls, tls or none"
            )),
        }
    }
}

/// Where mail is handed over.
#[derive(Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    /// User name and password, when the server wants a login.
    pub credentials: Option<(String, String)>,
    /// The From address of every mail.
    pub from: String,
}

/// Never prints the password.
impl fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("user", &self.credentials.as_ref().map(|(u, _)| u))
            .field("from", &self.from)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_settings_parse_and_never_print_the_password() {
        assert_eq!(
            "STARTTLS".parse::<SmtpSecurity>(),
            Ok(SmtpSecurity::Starttls)
        );
        assert!("ssl"
            .parse::<SmtpSecurity>()
            .unwrap_err()
            .contains("starttls, tls or none"));
        let smtp = SmtpConfig {
            host: "mail.example.com".into(),
            port: 587,
            security: SmtpSecurity::Starttls,
            credentials: Some(("relay".into(), "hunter2".into())),
            from: "triage@example.com".into(),
        };
        let shown = format!("{smtp:?}");
        assert!(
            shown.contains("relay") && !shown.contains("hunter2"),
            "{shown}"
        );
    }
}
