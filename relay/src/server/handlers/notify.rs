//! Notification settings (admin): webhooks (`add`, `list`, `remove`,
//! `test`), technicians' and tiers' email addresses; and `FollowTicket`
//! for any technician. Input is checked here, at the edge; the queue and
//! the sending are `crate::notify`'s.

use crate::notify::plan;
use crate::notify::send::parse_webhook_url;
use crate::server::request::{AuditNote, Peer};
use crate::server::Shared;
use crate::store::{Mailbox, StoreError, WebhookRow};
use serde_json::json;
use triage_shared::error::ErrorKind;
use triage_shared::notify::{
    check_email, check_events, check_secret, NotifyEvent, WebhookTestResult,
};
use triage_shared::protocol::Response;
use triage_shared::text::check_name;
use triage_shared::ticket::Tier;
use triage_shared::time::Timestamp;
use triage_shared::TicketId;

fn invalid(message: String) -> StoreError {
    StoreError::refused(ErrorKind::InvalidInput, message)
}

pub(in crate::server) async fn add_webhook(
    shared: &Shared,
    peer: &Peer,
    url: &str,
    events: &[NotifyEvent],
    secret: Option<&str>,
    now: Timestamp,
    note: &mut AuditNote,
) -> Result<Response, StoreError> {
    let parsed = parse_webhook_url(url).map_err(invalid)?;
    let events = check_events(events).map_err(invalid)?;
    let secret = secret.map(check_secret).transpose().map_err(invalid)?;
    let hook = WebhookRow {
        id: uuid::Uuid::new_v4().to_string(),
        url: parsed.to_string(),
        events,
        secret,
        created_at: now,
    };
    let summary = shared.store.add_webhook(&hook, &peer.actor()).await?;
    // Never the secret, only whether there is one.
    note.details = json!({
        "id": summary.id,
        "events": triage_shared::notify::events_text(&summary.events),
        "signed": summary.has_secret,
    });
    Ok(Response::WebhookAdded(summary))
}

pub(in crate::server) async fn list_webhooks(shared: &Shared) -> Result<Response, StoreError> {
    Ok(Response::Webhooks(shared.store.webhooks().await?))
}

pub(in crate::server) async fn remove_webhook(
    shared: &Shared,
    id: &str,
    now: Timestamp,
    note: &mut AuditNote,
) -> Result<Response, StoreError> {
    let hook = shared.store.find_webhook(id).await?;
    shared.store.remove_webhook(&hook.id, now).await?;
    note.details = json!({ "id": hook.id, "url": crate::store::redact_url(&hook.url) });
    Ok(Response::Ok)
}

/// One signed `test` POST, sent now, outside the queue: the admin wants
/// to know whether the receiver works, not a delivery retried for a day.
pub(in crate::server) async fn test_webhook(
    shared: &Shared,
    id: &str,
    now: Timestamp,
    note: &mut AuditNote,
) -> Result<Response, StoreError> {
    let hook = shared.store.find_webhook(id).await?;
    let delivery_id = uuid::Uuid::new_v4().to_string();
    let body = plan::test_body(&delivery_id, now);
    let result = shared
        .senders
        .post(
            &hook.url,
            hook.secret.as_deref(),
            &delivery_id,
            NotifyEvent::Test,
            &body,
        )
        .await;
    let result = match result {
        Ok(status) => WebhookTestResult {
            delivery_id,
            status: Some(status),
            error: None,
        },
        Err((status, error)) => WebhookTestResult {
            delivery_id,
            status,
            error: Some(error),
        },
    };
    note.details = json!({ "id": hook.id, "status": result.status });
    if let Some(error) = &result.error {
        note.outcome = Some(format!("failed: {}", crate::audit::bounded(error)));
    }
    Ok(Response::WebhookTested(result))
}

/// An address and its events, or `None` to stop mail.
fn mailbox(address: Option<&str>, events: &[NotifyEvent]) -> Result<Option<Mailbox>, StoreError> {
    let Some(address) = address else {
        return Ok(None);
    };
    check_email(address).map_err(invalid)?;
    // The mail library's parser is the one that matters when sending.
    address
        .parse::<lettre::Address>()
        .map_err(|e| invalid(format!("`{address}` is not an email address: {e}")))?;
    let events = check_events(events).map_err(invalid)?;
    Ok(Some(Mailbox {
        address: address.to_string(),
        events,
    }))
}

pub(in crate::server) async fn set_technician_email(
    shared: &Shared,
    name: &str,
    address: Option<&str>,
    events: &[NotifyEvent],
    note: &mut AuditNote,
) -> Result<Response, StoreError> {
    check_name("name", name)?;
    let mailbox = mailbox(address, events)?;
    shared
        .store
        .set_technician_email(name, mailbox.as_ref())
        .await?;
    note.details = mailbox_details(mailbox.as_ref());
    Ok(Response::Ok)
}

pub(in crate::server) async fn set_tier_email(
    shared: &Shared,
    tier: Tier,
    address: Option<&str>,
    events: &[NotifyEvent],
    note: &mut AuditNote,
) -> Result<Response, StoreError> {
    let mailbox = mailbox(address, events)?;
    shared.store.set_tier_email(tier, mailbox.as_ref()).await?;
    note.details = mailbox_details(mailbox.as_ref());
    Ok(Response::Ok)
}

fn mailbox_details(mailbox: Option<&Mailbox>) -> serde_json::Value {
    match mailbox {
        Some(m) => json!({
            "address": m.address,
            "events": triage_shared::notify::events_text(&m.events),
        }),
        None => json!({ "address": null }),
    }
}

pub(in crate::server) async fn follow_ticket(
    shared: &Shared,
    peer: &Peer,
    id: TicketId,
    follow: bool,
    now: Timestamp,
) -> Result<Response, StoreError> {
    let name = peer.technician_name()?;
    shared.store.follow_ticket(id, name, follow, now).await?;
    Ok(Response::Ok)
}
