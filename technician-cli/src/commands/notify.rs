//! Where notifications go: `webhooks add|list|remove|test`,
//! `technicians email`, `tiers email`, `tickets follow|unfollow`. Input is
//! checked before connecting ([`plan_add`], [`mailbox`]); the secret is
//! read from its file here and never printed.

use super::{connect, print_json, terminal_width, unexpected, Out};
use crate::args::{
    EventList, TiersCommand, WebhooksCommand, TECHNICIAN_DEFAULT_EVENTS, TIER_DEFAULT_EVENTS,
};
use crate::error::CliError;
use crate::home::Home;
use crate::text::{relative, table};
use std::io::Read;
use std::path::Path;
use triage_shared::notify::{
    check_email, check_secret, check_webhook_url, events_text, NotifyEvent, WebhookSummary,
    MAX_WEBHOOK_SECRET_LEN,
};
use triage_shared::protocol::{Request, Response};
use triage_shared::text::check_name;
use triage_shared::time::Timestamp;

/// Reads a signing secret, refusing a file far larger than any secret
/// before holding it.
pub fn read_secret(path: &Path) -> Result<String, CliError> {
    let file = std::fs::File::open(path).map_err(|source| CliError::File {
        action: "read the secret file",
        path: path.to_path_buf(),
        source,
    })?;
    let mut text = String::new();
    file.take(MAX_WEBHOOK_SECRET_LEN as u64 + 64)
        .read_to_string(&mut text)
        .map_err(|source| CliError::File {
            action: "read the secret file",
            path: path.to_path_buf(),
            source,
        })?;
    check_secret(&text).map_err(|e| CliError::InvalidInput(format!("{}: {e}", path.display())))
}

/// `webhooks add`, checked before connecting.
pub fn plan_add(
    url: String,
    events: EventList,
    secret_file: Option<&Path>,
) -> Result<Request, CliError> {
    check_webhook_url(&url).map_err(CliError::InvalidInput)?;
    let secret = secret_file.map(read_secret).transpose()?;
    Ok(Request::AddWebhook {
        url,
        events: events.0,
        secret,
    })
}

/// An address (or `none`) and its events, checked.
pub fn mailbox(
    address: &str,
    events: Option<EventList>,
    default: &[NotifyEvent],
) -> Result<(Option<String>, Vec<NotifyEvent>), CliError> {
    if address.eq_ignore_ascii_case("none") {
        return Ok((None, Vec::new()));
    }
    check_email(address).map_err(CliError::InvalidInput)?;
    let events = events.map_or_else(|| default.to_vec(), |e| e.0);
    Ok((Some(address.to_string()), events))
}

async fn ask(home: &Home, request: &Request) -> Result<Response, CliError> {
    let conn = connect(home).await?;
    let result = match request {
        // The relay waits on the receiver (its own timeout is 10 s).
        Request::TestWebhook { .. } => {
            conn.ask_within(
                request,
                std::time::Duration::from_secs(30),
                "the webhook test",
            )
            .await
        }
        _ => conn.ask(request).await,
    };
    conn.close().await;
    result
}

pub async fn webhooks(home: &Home, command: WebhooksCommand, out: Out<'_>) -> Result<(), CliError> {
    match command {
        WebhooksCommand::Add {
            url,
            events,
            secret_file,
            json,
        } => {
            let request = plan_add(url, events, secret_file.as_deref())?;
            let Response::WebhookAdded(hook) = ask(home, &request).await? else {
                return Err(unexpected(&request));
            };
            if json {
                return print_json(out, &hook);
            }
            writeln!(
                out,
                "Webhook {} added: {} for {}{}.",
                hook.id,
                hook.url,
                events_text(&hook.events),
                if hook.has_secret {
                    ", signed"
                } else {
                    ", unsigned (no --secret-file)"
                }
            )?;
            Ok(())
        }
        WebhooksCommand::List { json } => {
            let request = Request::ListWebhooks;
            let Response::Webhooks(hooks) = ask(home, &request).await? else {
                return Err(unexpected(&request));
            };
            if json {
                return print_json(out, &hooks);
            }
            out.write_all(webhook_table(&hooks, Timestamp::now(), terminal_width()).as_bytes())?;
            Ok(())
        }
        WebhooksCommand::Remove { id } => {
            let request = Request::RemoveWebhook { id: id.clone() };
            match ask(home, &request).await? {
                Response::Ok => {
                    writeln!(out, "Webhook {id} removed; nothing more is sent to it.")?;
                    Ok(())
                }
                _ => Err(unexpected(&request)),
            }
        }
        WebhooksCommand::Test { id, json } => {
            let request = Request::TestWebhook { id };
            let Response::WebhookTested(result) = ask(home, &request).await? else {
                return Err(unexpected(&request));
            };
            if json {
                print_json(out, &result)?;
            } else {
                match &result.error {
                    None => writeln!(
                        out,
                        "Delivered: the receiver answered {} (delivery {}).",
                        result.status.unwrap_or_default(),
                        result.delivery_id
                    )?,
                    Some(e) => {
                        writeln!(out, "Not delivered: {e} (delivery {}).", result.delivery_id)?
                    }
                }
            }
            match result.error {
                None => Ok(()),
                Some(e) => Err(CliError::InvalidInput(format!(
                    "the test delivery failed: {e}; check the URL and that the receiver is up"
                ))),
            }
        }
    }
}

pub async fn technician_email(
    home: &Home,
    name: String,
    address: &str,
    events: Option<EventList>,
    out: Out<'_>,
) -> Result<(), CliError> {
    check_name("name", &name)?;
    let (address, events) = mailbox(address, events, &TECHNICIAN_DEFAULT_EVENTS)?;
    let request = Request::SetTechnicianEmail {
        name: name.clone(),
        address: address.clone(),
        events: events.clone(),
    };
    match ask(home, &request).await? {
        Response::Ok => {
            match address {
                Some(a) => writeln!(
                    out,
                    "Mail for {name} goes to {a}, for {}.",
                    events_text(&events)
                )?,
                None => writeln!(out, "No more mail for {name}.")?,
            }
            Ok(())
        }
        _ => Err(unexpected(&request)),
    }
}

pub async fn tiers(home: &Home, command: TiersCommand, out: Out<'_>) -> Result<(), CliError> {
    let TiersCommand::Email {
        tier,
        address,
        events,
    } = command;
    let (address, events) = mailbox(&address, events, &TIER_DEFAULT_EVENTS)?;
    let request = Request::SetTierEmail {
        tier,
        address: address.clone(),
        events: events.clone(),
    };
    match ask(home, &request).await? {
        Response::Ok => {
            match address {
                Some(a) => writeln!(
                    out,
                    "Mail for {tier} tickets goes to {a}, for {}.",
                    events_text(&events)
                )?,
                None => writeln!(out, "No more mail for the {tier} queue.")?,
            }
            Ok(())
        }
        _ => Err(unexpected(&request)),
    }
}

/// `webhooks list`.
pub fn webhook_table(hooks: &[WebhookSummary], now: Timestamp, width: usize) -> String {
    if hooks.is_empty() {
        return "No webhooks; add one with `triage webhooks add URL --events new,...`.\n".into();
    }
    let rows: Vec<Vec<String>> = hooks
        .iter()
        .map(|h| {
            vec![
                h.id[..8.min(h.id.len())].to_string(),
                h.url.clone(),
                events_text(&h.events),
                if h.has_secret { "yes" } else { "no" }.into(),
                h.pending.to_string(),
                h.delivered.to_string(),
                h.abandoned.to_string(),
                h.last_error.clone().unwrap_or_else(|| "-".into()),
                relative(h.created_at, now),
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "URL",
            "EVENTS",
            "SIGNED",
            "PENDING",
            "DELIVERED",
            "ABANDONED",
            "LAST ERROR",
            "ADDED",
        ],
        &rows,
        width,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_webhook_input_is_refused_before_connecting() {
        let events = EventList(vec![NotifyEvent::New]);
        for url in ["ftp://example.com/x", "file:///etc/passwd"] {
            let err = plan_add(url.into(), events.clone(), None).unwrap_err();
            assert!(err.to_string().contains("http:// or https://"), "{err}");
        }
        let dir = tempfile::tempdir().unwrap();
        let short = dir.path().join("short");
        std::fs::write(&short, "abc\n").unwrap();
        assert!(plan_add(
            "https://h.example.com/x".into(),
            events.clone(),
            Some(&short)
        )
        .is_err());
        let big = dir.path().join("big");
        std::fs::write(&big, "x".repeat(MAX_WEBHOOK_SECRET_LEN + 1)).unwrap();
        assert!(plan_add("https://h.example.com/x".into(), events.clone(), Some(&big)).is_err());
        let good = dir.path().join("good");
        std::fs::write(&good, "0123456789abcdef0123\n").unwrap();
        let Request::AddWebhook { secret, .. } =
            plan_add("https://h.example.com/x".into(), events, Some(&good)).unwrap()
        else {
            panic!()
        };
        assert_eq!(secret.as_deref(), Some("0123456789abcdef0123"));
    }

    #[test]
    fn addresses_are_checked_and_none_clears() {
        assert_eq!(
            mailbox("none", None, &TIER_DEFAULT_EVENTS).unwrap(),
            (None, vec![])
        );
        assert_eq!(
            mailbox("l2@example.com", None, &TIER_DEFAULT_EVENTS).unwrap(),
            (Some("l2@example.com".into()), TIER_DEFAULT_EVENTS.to_vec())
        );
        assert!(mailbox("not an address", None, &TIER_DEFAULT_EVENTS).is_err());
    }

    #[test]
    fn the_list_shows_counts_and_errors_but_never_a_secret() {
        let hook = WebhookSummary {
            id: "0123abcd-0000-0000-0000-000000000000".into(),
            url: "https://h.example.com/x".into(),
            events: vec![NotifyEvent::New, NotifyEvent::SlaBreach],
            has_secret: true,
            created_at: Timestamp(0),
            created_by: "admin".into(),
            pending: 1,
            delivered: 5,
            abandoned: 2,
            last_error: Some("HTTP 503".into()),
        };
        let text = webhook_table(&[hook], Timestamp(60_000), 200);
        for needle in ["0123abcd", "new,sla_breach", "yes", "HTTP 503", "ABANDONED"] {
            assert!(text.contains(needle), "{needle} in\n{text}");
        }
    }
}
