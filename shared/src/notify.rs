//! Notifications that leave the relay: the events a webhook or an email
//! address subscribes to, the checks on what an admin gives (URL, secret,
//! address), and what `webhooks list` shows. Pure; the relay does the
//! sending (`relay/src/notify`).

use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Longest webhook URL accepted, in bytes.
pub const MAX_WEBHOOK_URL_LEN: usize = 2048;
/// Most webhooks one relay keeps (removed ones do not count).
pub const MAX_WEBHOOKS: usize = 32;
/// Longest signing secret, in bytes; a secret file past this is refused.
pub const MAX_WEBHOOK_SECRET_LEN: usize = 512;
/// Shortest signing secret: anything shorter is guessable.
pub const MIN_WEBHOOK_SECRET_LEN: usize = 16;
/// Longest email address (RFC 5321's path limit).
pub const MAX_EMAIL_LEN: usize = 254;

/// What a webhook or a mailbox can be told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyEvent {
    /// A ticket was filed.
    New,
    Assigned,
    /// A public comment (internal notes are never sent).
    Commented,
    /// Any status change (a resolution is also `Resolved`).
    Status,
    SlaWarning,
    SlaBreach,
    Resolved,
    /// Only from `triage webhooks test`; nobody subscribes to it.
    Test,
}

impl NotifyEvent {
    /// What can be subscribed to, in the order help texts list them.
    pub const SUBSCRIBABLE: [NotifyEvent; 7] = [
        NotifyEvent::New,
        NotifyEvent::Assigned,
        NotifyEvent::Commented,
        NotifyEvent::Status,
        NotifyEvent::SlaWarning,
        NotifyEvent::SlaBreach,
        NotifyEvent::Resolved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotifyEvent::New => "new",
            NotifyEvent::Assigned => "assigned",
            NotifyEvent::Commented => "commented",
            NotifyEvent::Status => "status",
            NotifyEvent::SlaWarning => "sla_warning",
            NotifyEvent::SlaBreach => "sla_breach",
            NotifyEvent::Resolved => "resolved",
            NotifyEvent::Test => "test",
        }
    }
}

impl fmt::Display for NotifyEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for NotifyEvent {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim().to_ascii_lowercase();
        NotifyEvent::SUBSCRIBABLE
            .into_iter()
            .find(|e| e.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown event `{s}`; use {}",
                    events_text(&NotifyEvent::SUBSCRIBABLE)
                )
            })
    }
}

/// `new,assigned,…`: how events are written in tables and in the store.
pub fn events_text(events: &[NotifyEvent]) -> String {
    events
        .iter()
        .map(|e| e.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// Parses `events_text` back; the empty text is no events.
pub fn parse_events(text: &str) -> Result<Vec<NotifyEvent>, String> {
    let mut events = text
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(str::parse)
        .collect::<Result<Vec<_>, _>>()?;
    events.sort();
    events.dedup();
    Ok(events)
}

/// A subscription list as given: at least one event, each once, sorted.
pub fn check_events(events: &[NotifyEvent]) -> Result<Vec<NotifyEvent>, String> {
    let mut events = events.to_vec();
    if events.contains(&NotifyEvent::Test) {
        return Err(
            "`test` is sent only by `triage webhooks test`; it cannot be subscribed to".into(),
        );
    }
    events.sort();
    events.dedup();
    if events.is_empty() {
        return Err(format!(
            "give at least one event: {}",
            events_text(&NotifyEvent::SUBSCRIBABLE)
        ));
    }
    Ok(events)
}

/// A webhook URL: `http://` or `https://`, a host, bounded, nothing that
/// could smuggle a second line into a request. The relay parses it fully
/// again before storing it.
pub fn check_webhook_url(url: &str) -> Result<(), String> {
    if url.len() > MAX_WEBHOOK_URL_LEN {
        return Err(format!(
            "the webhook URL is {} bytes; at most {MAX_WEBHOOK_URL_LEN} are accepted",
            url.len()
        ));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("the webhook URL contains spaces or control characters".into());
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(format!(
            "`{url}` is not a URL; give http://HOST/PATH or https://HOST/PATH"
        ));
    };
    if !matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") {
        return Err(format!(
            "webhook URLs must be http:// or https://, not {scheme}://"
        ));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host.is_empty() || host.starts_with(':') {
        return Err(format!("the webhook URL `{url}` has no host"));
    }
    Ok(())
}

/// A signing secret as read from its file: surrounding whitespace (the
/// file's newline) dropped, bounded, not too short.
pub fn check_secret(raw: &str) -> Result<String, String> {
    let secret = raw.trim();
    if secret.len() > MAX_WEBHOOK_SECRET_LEN {
        return Err(format!(
            "the secret is {} bytes; at most {MAX_WEBHOOK_SECRET_LEN} are accepted",
            secret.len()
        ));
    }
    if secret.len() < MIN_WEBHOOK_SECRET_LEN {
        return Err(format!(
            "the secret is {} bytes; use at least {MIN_WEBHOOK_SECRET_LEN} (e.g. `openssl rand -hex 32 > FILE`)",
            secret.len()
        ));
    }
    Ok(secret.to_string())
}

/// An email address, checked for shape: one `@`, a local part, a domain
/// with a dot, no spaces, angle brackets or control characters. The relay's
/// mail library parses it again.
pub fn check_email(address: &str) -> Result<(), String> {
    let bad = || format!("`{address}` is not an email address (expected NAME@DOMAIN)");
    if address.len() > MAX_EMAIL_LEN {
        return Err(format!(
            "the address is {} bytes; at most {MAX_EMAIL_LEN} are accepted",
            address.len()
        ));
    }
    if address
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';' | '"'))
    {
        return Err(bad());
    }
    let Some((local, domain)) = address.split_once('@') else {
        return Err(bad());
    };
    if local.is_empty()
        || domain.contains('@')
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
    {
        return Err(bad());
    }
    Ok(())
}

/// A webhook as `webhooks list` shows it: never its secret, only whether
/// it has one, with how its deliveries went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookSummary {
    pub id: String,
    pub url: String,
    pub events: Vec<NotifyEvent>,
    pub has_secret: bool,
    pub created_at: Timestamp,
    pub created_by: String,
    pub pending: u32,
    pub delivered: u32,
    pub abandoned: u32,
    /// The error of the newest failed attempt, if any.
    pub last_error: Option<String>,
}

/// What `webhooks test` reports: the one attempt it made at once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookTestResult {
    pub delivery_id: String,
    /// The receiver's HTTP status, when it answered.
    pub status: Option<u16>,
    /// `None` when the receiver answered 2xx.
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_and_https_urls_with_a_host_are_accepted() {
        assert!(check_webhook_url("https://hooks.example.com/triage").is_ok());
        assert!(check_webhook_url("http://127.0.0.1:8080/x?y=1").is_ok());
        assert!(check_webhook_url("HTTPS://example.com").is_ok());
        for bad in [
            "ftp://example.com/x",
            "file:///etc/passwd",
            "gopher://x",
            "example.com/hook",
            "https:///nohost",
            "https://:80/x",
            "https://exa mple.com",
            "https://example.com/\r\nHost: evil",
        ] {
            assert!(check_webhook_url(bad).is_err(), "{bad}");
        }
        let err = check_webhook_url("ftp://example.com").unwrap_err();
        assert!(err.contains("http:// or https://"), "{err}");
    }

    #[test]
    fn webhook_urls_are_bounded() {
        let base = "https://example.com/";
        let fits = format!("{base}{}", "a".repeat(MAX_WEBHOOK_URL_LEN - base.len()));
        assert!(check_webhook_url(&fits).is_ok());
        let over = format!("{fits}a");
        assert!(check_webhook_url(&over).unwrap_err().contains("at most"));
    }

    #[test]
    fn secrets_are_trimmed_and_bounded() {
        assert_eq!(
            check_secret("0123456789abcdef\n").unwrap(),
            "0123456789abcdef"
        );
        assert!(check_secret("short").is_err());
        assert!(check_secret(&"x".repeat(MAX_WEBHOOK_SECRET_LEN)).is_ok());
        assert!(check_secret(&"x".repeat(MAX_WEBHOOK_SECRET_LEN + 1)).is_err());
    }

    #[test]
    fn events_parse_once_each_and_test_cannot_be_subscribed() {
        assert_eq!(
            parse_events("resolved,new,new").unwrap(),
            vec![NotifyEvent::New, NotifyEvent::Resolved]
        );
        assert!(parse_events("new,bogus")
            .unwrap_err()
            .contains("sla_breach"));
        assert!("test".parse::<NotifyEvent>().is_err());
        assert!(check_events(&[]).is_err());
        assert!(check_events(&[NotifyEvent::Test]).is_err());
        for e in NotifyEvent::SUBSCRIBABLE {
            assert_eq!(e.as_str().parse::<NotifyEvent>().unwrap(), e);
        }
        assert_eq!(
            events_text(&NotifyEvent::SUBSCRIBABLE),
            "new,assigned,commented,status,sla_warning,sla_breach,resolved"
        );
    }

    #[test]
    fn email_addresses_are_checked_for_shape() {
        assert!(check_email("bob@example.com").is_ok());
        assert!(check_email("l2-queue+triage@help.example.org").is_ok());
        for bad in [
            "bob",
            "@example.com",
            "bob@localhost",
            "bob@@example.com",
            "bob@example.com.",
            "Bob <bob@example.com>",
            "bob@example.com,eve@example.com",
            "bob@exa\nmple.com",
        ] {
            assert!(check_email(bad).is_err(), "{bad}");
        }
        let long = format!("{}@example.com", "a".repeat(MAX_EMAIL_LEN));
        assert!(check_email(&long).is_err());
    }
}
