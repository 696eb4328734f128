//! Sending one delivery: a signed JSON POST (reqwest, rustls on ring, no
//! redirects, a timeout) or a plain-text mail (lettre, rustls on ring).
//! Thin on purpose: what to send was decided in `plan` and `mail`.

use super::mail::MailBody;
use super::{NotifyConfig, SmtpConfig, SmtpSecurity};
use crate::store::{Channel, Delivery};
use hmac::{Hmac, Mac};
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sha2::Sha256;
use std::time::Duration;
use triage_shared::notify::{check_webhook_url, NotifyEvent};

/// Longest error text kept on a delivery.
pub const MAX_ERROR_LEN: usize = 300;

/// The header receivers check: `sha256=` and the hex HMAC-SHA256 of the
/// exact body bytes under the webhook's secret.
pub const SIGNATURE_HEADER: &str = "X-Triage-Signature";
/// The delivery id, the same on every retry: receivers drop repeats by it.
pub const DELIVERY_HEADER: &str = "X-Triage-Delivery";
/// The event name, so a receiver can route before parsing.
pub const EVENT_HEADER: &str = "X-Triage-Event";

/// `sha256=<hex>` of `body` under `secret`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    // HMAC takes a key of any length; this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// A URL the relay will POST to: the shared shape check, then a full parse.
pub fn parse_webhook_url(url: &str) -> Result<reqwest::Url, String> {
    check_webhook_url(url)?;
    let parsed =
        reqwest::Url::parse(url).map_err(|e| format!("`{url}` is not a valid URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err("webhook URLs must be http:// or https:// with a host".into());
    }
    Ok(parsed)
}

/// An error and its causes on one line, bounded.
fn describe(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    triage_shared::text::truncate_at_char_boundary(&mut text, MAX_ERROR_LEN);
    text
}

/// The HTTP client and the SMTP transport, made once per relay.
pub struct Senders {
    http: reqwest::Client,
    smtp: Option<(AsyncSmtpTransport<Tokio1Executor>, lettre::message::Mailbox)>,
}

/// The outcome of one POST: the status when there was an answer.
pub type PostResult = Result<u16, (Option<u16>, String)>;

impl Senders {
    pub fn new(config: &NotifyConfig) -> Result<Senders, String> {
        // reqwest is built without a provider of its own (that would be
        // aws-lc); the relay's TLS already uses ring. Already installed is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.request_timeout)
            // A redirect could point anywhere; the admin chose this URL.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("triage-relay/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot make the webhook HTTP client: {}", describe(&e)))?;
        let smtp = match &config.smtp {
            None => None,
            Some(smtp) => Some(smtp_transport(smtp, config.request_timeout)?),
        };
        Ok(Senders { http, smtp })
    }

    pub fn mail_enabled(&self) -> bool {
        self.smtp.is_some()
    }

    /// One attempt at `delivery`.
    pub async fn send(&self, delivery: &Delivery) -> Result<(), String> {
        match delivery.channel {
            Channel::Webhook => {
                let Some((url, secret)) = &delivery.webhook else {
                    return Err("webhook removed".into());
                };
                self.post(
                    url,
                    secret.as_deref(),
                    &delivery.id,
                    delivery.event,
                    &delivery.body,
                )
                .await
                .map(|_| ())
                .map_err(|(_, e)| e)
            }
            Channel::Email => self.mail(&delivery.body).await,
        }
    }

    /// POSTs `body`; a 2xx answer is a delivery, anything else (a redirect
    /// included) a failed attempt.
    pub async fn post(
        &self,
        url: &str,
        secret: Option<&str>,
        delivery_id: &str,
        event: NotifyEvent,
        body: &str,
    ) -> PostResult {
        let url = parse_webhook_url(url).map_err(|e| (None, e))?;
        let mut request = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(DELIVERY_HEADER, delivery_id)
            .header(EVENT_HEADER, event.as_str());
        if let Some(secret) = secret {
            request = request.header(
                SIGNATURE_HEADER,
                signature(secret.as_bytes(), body.as_bytes()),
            );
        }
        let response = request
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| (None, describe(&e)))?;
        let status = response.status();
        if status.is_success() {
            Ok(status.as_u16())
        } else if status.is_redirection() {
            Err((
                Some(status.as_u16()),
                format!("HTTP {status} (redirects are not followed; give the final URL)"),
            ))
        } else {
            Err((Some(status.as_u16()), format!("HTTP {status}")))
        }
    }

    async fn mail(&self, body: &str) -> Result<(), String> {
        let Some((transport, from)) = &self.smtp else {
            return Err(
                "SMTP is not configured on this relay (triage-relay serve --smtp-host …)".into(),
            );
        };
        let mail: MailBody =
            serde_json::from_str(body).map_err(|e| format!("stored mail is corrupt: {e}"))?;
        let to = mail
            .to
            .parse()
            .map_err(|e| format!("bad address {}: {e}", mail.to))?;
        let message = Message::builder()
            .from(from.clone())
            .to(to)
            .subject(mail.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(mail.text)
            .map_err(|e| describe(&e))?;
        transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| describe(&e))
    }
}

fn smtp_transport(
    smtp: &SmtpConfig,
    timeout: Duration,
) -> Result<(AsyncSmtpTransport<Tokio1Executor>, lettre::message::Mailbox), String> {
    type Transport = AsyncSmtpTransport<Tokio1Executor>;
    let bad_host = |e: lettre::transport::smtp::Error| {
        format!("cannot use SMTP host {}: {}", smtp.host, describe(&e))
    };
    let builder = match smtp.security {
        SmtpSecurity::None => Transport::builder_dangerous(&smtp.host),
        SmtpSecurity::Starttls => Transport::starttls_relay(&smtp.host).map_err(bad_host)?,
        SmtpSecurity::Tls => Transport::relay(&smtp.host).map_err(bad_host)?,
    };
    let mut builder = builder.port(smtp.port).timeout(Some(timeout));
    if let Some((user, password)) = &smtp.credentials {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    let from = smtp
        .from
        .parse()
        .map_err(|e| format!("--smtp-from `{}` is not an address: {e}", smtp.from))?;
    Ok((builder.build(), from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_hex_hmac_sha256_of_the_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_ne!(
            signature(b"Jefe", b"what do ya want for nothing!"),
            signature(b"Jefe", b"what do ya want for nothing?")
        );
    }

    #[test]
    fn only_http_urls_reach_the_client() {
        assert!(parse_webhook_url("https://hooks.example.com/x").is_ok());
        for bad in [
            "ftp://example.com/x",
            "file:///etc/passwd",
            "javascript:alert(1)",
        ] {
            assert!(parse_webhook_url(bad).is_err(), "{bad}");
        }
    }
}
