//! Notifications in the store: webhooks, email addresses of technicians
//! and tiers, ticket watchers, and the durable delivery queue.
//!
//! The queue is filled from the live queue's feed ([`Store::enqueue_notifications`]):
//! one transaction takes the `notify_cursor` row (its lock serialises relays
//! sharing the store), reads the feed after it, inserts the deliveries a
//! pure planner chose (ids derived from target, feed seq and event, so a
//! second relay's insert is a no-op) and moves the cursor. Sending claims a
//! due row with a lease ([`Store::claim_deliveries`]) so two relays never
//! send the same attempt at once, then settles it ([`Store::settle_delivery`]).

use super::rows::{self, opt_text, text, timestamp, TICKET_COLUMNS};
use super::{settle, Store, StoreError};
use std::collections::HashMap;
use triage_shared::error::ErrorKind;
use triage_shared::notify::{events_text, parse_events, NotifyEvent, WebhookSummary, MAX_WEBHOOKS};
use triage_shared::queue::QueueEvent;
use triage_shared::ticket::Tier;
use triage_shared::time::Timestamp;
use triage_shared::TicketId;

/// How a delivery travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Webhook,
    Email,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Webhook => "webhook",
            Channel::Email => "email",
        }
    }

    fn parse(s: &str) -> Result<Channel, StoreError> {
        match s {
            "webhook" => Ok(Channel::Webhook),
            "email" => Ok(Channel::Email),
            other => Err(StoreError::Corrupt(format!("delivery channel `{other}`"))),
        }
    }
}

/// A webhook as the sender needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRow {
    pub id: String,
    pub url: String,
    pub events: Vec<NotifyEvent>,
    pub secret: Option<String>,
    pub created_at: Timestamp,
}

/// An address and the events its owner wants mail for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub address: String,
    pub events: Vec<NotifyEvent>,
}

/// Everyone who may hear about one feed event.
#[derive(Debug, Clone, Default)]
pub struct Targets {
    pub webhooks: Vec<WebhookRow>,
    /// Technicians with an address, by name.
    pub technicians: HashMap<String, Mailbox>,
    pub tiers: HashMap<Tier, Mailbox>,
    /// The names of those following the event's ticket.
    pub watchers: Vec<String>,
}

/// A delivery the planner made, before it is queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    pub id: String,
    pub channel: Channel,
    /// The webhook id, or the email address.
    pub target: String,
    pub event: NotifyEvent,
    pub feed_seq: u64,
    /// The JSON body (webhook) or the JSON of the mail (email).
    pub body: String,
}

/// A claimed delivery, ready for one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: String,
    pub channel: Channel,
    pub target: String,
    pub event: NotifyEvent,
    pub body: String,
    /// Attempts so far, this one included.
    pub attempts: u32,
    /// The webhook's URL and secret (`None` once it was removed).
    pub webhook: Option<(String, Option<String>)>,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    Retry { at: Timestamp, error: String },
    Abandon { error: String },
}

/// A queued delivery as tests and `webhooks list` see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    pub id: String,
    pub channel: Channel,
    pub target: String,
    pub event: NotifyEvent,
    pub state: String,
    pub attempts: u32,
    pub last_error: Option<String>,
}

fn event_of(row: &sqlx::any::AnyRow) -> Result<NotifyEvent, StoreError> {
    let name = text(row, "event")?;
    if name == NotifyEvent::Test.as_str() {
        return Ok(NotifyEvent::Test);
    }
    name.parse()
        .map_err(|e| StoreError::Corrupt(format!("delivery event: {e}")))
}

fn events_of(row: &sqlx::any::AnyRow) -> Result<Vec<NotifyEvent>, StoreError> {
    parse_events(&text(row, "events")?).map_err(|e| StoreError::Corrupt(format!("events: {e}")))
}

fn count(row: &sqlx::any::AnyRow, col: &str) -> Result<u32, StoreError> {
    Ok(u32::try_from(rows::int(row, col)?).unwrap_or(u32::MAX))
}

fn webhook_row(row: &sqlx::any::AnyRow) -> Result<WebhookRow, StoreError> {
    Ok(WebhookRow {
        id: text(row, "id")?,
        url: text(row, "url")?,
        events: events_of(row)?,
        secret: opt_text(row, "secret")?,
        created_at: timestamp(row, "created_at")?,
    })
}

/// Whether `s` can only be (a prefix of) a webhook id: no `LIKE` wildcard
/// gets through.
fn is_id_text(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

impl Store {
    /// Adds a webhook; refused past [`MAX_WEBHOOKS`] active ones.
    pub async fn add_webhook(
        &self,
        hook: &WebhookRow,
        created_by: &str,
    ) -> Result<WebhookSummary, StoreError> {
        let mut tx = self.begin().await?;
        let result = async {
            sqlx::query(
                "INSERT INTO webhooks (id, url, events, secret, created_at, created_by) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&hook.id)
            .bind(&hook.url)
            .bind(events_text(&hook.events))
            .bind(hook.secret.as_deref())
            .bind(hook.created_at.millis())
            .bind(created_by)
            .execute(&mut *tx)
            .await?;
            let row = sqlx::query("SELECT COUNT(*) AS n FROM webhooks WHERE removed_at IS NULL")
                .fetch_one(&mut *tx)
                .await?;
            if count(&row, "n")? as usize > MAX_WEBHOOKS {
                return Err(StoreError::refused(
                    ErrorKind::Conflict,
                    format!(
                        "this relay already has {MAX_WEBHOOKS} webhooks, the most it keeps; \
                         remove one first (`triage webhooks remove ID`)"
                    ),
                ));
            }
            Ok(())
        }
        .await;
        settle(tx, result).await?;
        Ok(WebhookSummary {
            id: hook.id.clone(),
            url: hook.url.clone(),
            events: hook.events.clone(),
            has_secret: hook.secret.is_some(),
            created_at: hook.created_at,
            created_by: created_by.to_string(),
            pending: 0,
            delivered: 0,
            abandoned: 0,
            last_error: None,
        })
    }

    /// Active webhooks, oldest first, with their delivery counts.
    pub async fn webhooks(&self) -> Result<Vec<WebhookSummary>, StoreError> {
        let hooks = sqlx::query(
            "SELECT id, url, events, secret, created_at, created_by FROM webhooks \
             WHERE removed_at IS NULL ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(hooks.len());
        for row in &hooks {
            let hook = webhook_row(row)?;
            let mut summary = WebhookSummary {
                id: hook.id.clone(),
                url: hook.url,
                events: hook.events,
                has_secret: hook.secret.is_some(),
                created_at: hook.created_at,
                created_by: text(row, "created_by")?,
                pending: 0,
                delivered: 0,
                abandoned: 0,
                last_error: None,
            };
            let states = sqlx::query(
                "SELECT state, COUNT(*) AS n FROM notify_deliveries \
                 WHERE channel = 'webhook' AND target = $1 GROUP BY state",
            )
            .bind(&hook.id)
            .fetch_all(&self.pool)
            .await?;
            for s in &states {
                let n = count(s, "n")?;
                match text(s, "state")?.as_str() {
                    "pending" => summary.pending = n,
                    "delivered" => summary.delivered = n,
                    "abandoned" => summary.abandoned = n,
                    other => return Err(StoreError::Corrupt(format!("delivery state `{other}`"))),
                }
            }
            let last = sqlx::query(
                "SELECT last_error FROM notify_deliveries \
                 WHERE channel = 'webhook' AND target = $1 AND last_error IS NOT NULL \
                 ORDER BY last_error_at DESC LIMIT 1",
            )
            .bind(&hook.id)
            .fetch_optional(&self.pool)
            .await?;
            summary.last_error = last
                .map(|r| opt_text(&r, "last_error"))
                .transpose()?
                .flatten();
            out.push(summary);
        }
        Ok(out)
    }

    /// The active webhook `id` names: its whole id or a unique prefix.
    pub async fn find_webhook(&self, id: &str) -> Result<WebhookRow, StoreError> {
        let id = id.trim().to_ascii_lowercase();
        let not_found = || {
            StoreError::refused(
                ErrorKind::NotFound,
                format!("no webhook `{id}`; `triage webhooks list` shows their ids"),
            )
        };
        if !is_id_text(&id) {
            return Err(not_found());
        }
        let found = sqlx::query(
            "SELECT id, url, events, secret, created_at FROM webhooks \
             WHERE removed_at IS NULL AND id LIKE $1 ORDER BY id LIMIT 2",
        )
        .bind(format!("{id}%"))
        .fetch_all(&self.pool)
        .await?;
        match found.as_slice() {
            [] => Err(not_found()),
            [one] => webhook_row(one),
            _ => Err(StoreError::refused(
                ErrorKind::InvalidInput,
                format!("`{id}` is the start of more than one webhook id; give more of it"),
            )),
        }
    }

    /// Removes a webhook; its pending deliveries are abandoned.
    pub async fn remove_webhook(&self, id: &str, now: Timestamp) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let result = async {
            let done = sqlx::query(
                "UPDATE webhooks SET removed_at = $1 WHERE id = $2 AND removed_at IS NULL",
            )
            .bind(now.millis())
            .bind(id)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::refused(
                    ErrorKind::NotFound,
                    format!("no webhook `{id}`"),
                ));
            }
            sqlx::query(
                "UPDATE notify_deliveries SET state = 'abandoned', finished_at = $1, \
                 last_error = 'webhook removed', last_error_at = $1 \
                 WHERE channel = 'webhook' AND target = $2 AND state = 'pending'",
            )
            .bind(now.millis())
            .bind(id)
            .execute(&mut *tx)
            .await?;
            Ok(())
        }
        .await;
        settle(tx, result).await
    }

    /// Where mail for technician `name` goes; `None` stops it.
    pub async fn set_technician_email(
        &self,
        name: &str,
        mailbox: Option<&Mailbox>,
    ) -> Result<(), StoreError> {
        if self.technician(name).await?.is_none() {
            return Err(StoreError::refused(
                ErrorKind::NotFound,
                format!("no technician `{name}`; `triage technicians list` shows them"),
            ));
        }
        self.replace_mailbox("technician_email", "name", name, mailbox)
            .await
    }

    /// The queue address of `tier`; `None` stops its mail.
    pub async fn set_tier_email(
        &self,
        tier: Tier,
        mailbox: Option<&Mailbox>,
    ) -> Result<(), StoreError> {
        self.replace_mailbox("tier_email", "tier", tier.as_str(), mailbox)
            .await
    }

    /// `table` and `key` are this module's constants, never input.
    async fn replace_mailbox(
        &self,
        table: &'static str,
        key: &'static str,
        value: &str,
        mailbox: Option<&Mailbox>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let result = async {
            sqlx::query(&format!("DELETE FROM {table} WHERE {key} = $1"))
                .bind(value)
                .execute(&mut *tx)
                .await?;
            if let Some(mailbox) = mailbox {
                sqlx::query(&format!(
                    "INSERT INTO {table} ({key}, address, events) VALUES ($1, $2, $3)"
                ))
                .bind(value)
                .bind(&mailbox.address)
                .bind(events_text(&mailbox.events))
                .execute(&mut *tx)
                .await?;
            }
            Ok(())
        }
        .await;
        settle(tx, result).await
    }

    /// `technician` follows ticket `ticket` (or stops). Answers whether
    /// anything changed.
    pub async fn follow_ticket(
        &self,
        ticket: TicketId,
        technician: &str,
        follow: bool,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        if self.ticket(ticket).await?.is_none() {
            return Err(super::ticket_not_found(ticket));
        }
        let done = if follow {
            sqlx::query(
                "INSERT INTO ticket_watchers (ticket_id, technician, created_at) \
                 VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            )
            .bind(ticket.to_string())
            .bind(technician)
            .bind(now.millis())
            .execute(&self.pool)
            .await?
        } else {
            sqlx::query("DELETE FROM ticket_watchers WHERE ticket_id = $1 AND technician = $2")
                .bind(ticket.to_string())
                .bind(technician)
                .execute(&self.pool)
                .await?
        };
        Ok(done.rows_affected() > 0)
    }

    /// Turns up to `batch` feed events after the cursor into deliveries,
    /// with `plan` choosing them, and moves the cursor past them, in one
    /// transaction. Answers how many feed events were consumed.
    pub async fn enqueue_notifications<P>(
        &self,
        batch: usize,
        now: Timestamp,
        mut plan: P,
    ) -> Result<usize, StoreError>
    where
        P: FnMut(&QueueEvent, &Targets) -> Vec<NewDelivery> + Send,
    {
        // Reads first, outside any transaction: most rounds find nothing
        // new, and a write every round would contend with ticket writes.
        let cursor = sqlx::query("SELECT last_seq FROM notify_cursor WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        if rows::int(&cursor, "last_seq")? >= self.newest_feed_seq().await? as i64 {
            return Ok(0);
        }
        let mut tx = self.begin().await?;
        let result = async {
            // A write first: the cursor row's lock orders relays sharing
            // the store, so each event is planned by one of them at a time.
            let row = sqlx::query(
                "UPDATE notify_cursor SET last_seq = last_seq WHERE id = 1 RETURNING last_seq",
            )
            .fetch_one(&mut *tx)
            .await?;
            let cursor = rows::int(&row, "last_seq")?;
            let events = sqlx::query(&format!(
                "SELECT f.seq, f.occurred_at, f.actor, f.kind_json, {TICKET_COLUMNS} \
                 FROM queue_feed f JOIN tickets t ON t.id = f.ticket_id \
                 WHERE f.seq > $1 ORDER BY f.seq LIMIT $2"
            ))
            .bind(cursor)
            .bind(batch.min(super::MAX_FEED_BATCH) as i64)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| {
                Ok(QueueEvent {
                    seq: u64::try_from(rows::int(r, "seq")?)
                        .map_err(|_| StoreError::Corrupt("feed sequence".into()))?,
                    at: timestamp(r, "occurred_at")?,
                    actor: text(r, "actor")?,
                    kind: rows::json(r, "kind_json")?,
                    ticket: rows::ticket(r)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
            let Some(last) = events.last().map(|e| e.seq) else {
                return Ok(0);
            };
            let mut targets = Targets::default();
            for r in sqlx::query(
                "SELECT id, url, events, secret, created_at FROM webhooks WHERE removed_at IS NULL",
            )
            .fetch_all(&mut *tx)
            .await?
            {
                targets.webhooks.push(webhook_row(&r)?);
            }
            for r in sqlx::query("SELECT name, address, events FROM technician_email")
                .fetch_all(&mut *tx)
                .await?
            {
                let mailbox = Mailbox {
                    address: text(&r, "address")?,
                    events: events_of(&r)?,
                };
                targets.technicians.insert(text(&r, "name")?, mailbox);
            }
            for r in sqlx::query("SELECT tier, address, events FROM tier_email")
                .fetch_all(&mut *tx)
                .await?
            {
                let mailbox = Mailbox {
                    address: text(&r, "address")?,
                    events: events_of(&r)?,
                };
                targets.tiers.insert(rows::parsed(&r, "tier")?, mailbox);
            }
            let mut planned = Vec::new();
            for event in &events {
                targets.watchers = sqlx::query(
                    "SELECT technician FROM ticket_watchers WHERE ticket_id = $1 \
                     ORDER BY technician",
                )
                .bind(event.ticket.id.to_string())
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| text(r, "technician"))
                .collect::<Result<_, _>>()?;
                planned.extend(plan(event, &targets));
            }
            for d in &planned {
                sqlx::query(
                    "INSERT INTO notify_deliveries (id, channel, target, event, feed_seq, body, \
                     state, attempts, next_attempt_at, claimed_until, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, 0, $7) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(&d.id)
                .bind(d.channel.as_str())
                .bind(&d.target)
                .bind(d.event.as_str())
                .bind(d.feed_seq as i64)
                .bind(&d.body)
                .bind(now.millis())
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query("UPDATE notify_cursor SET last_seq = $1 WHERE id = 1")
                .bind(last as i64)
                .execute(&mut *tx)
                .await?;
            Ok(events.len())
        }
        .await;
        settle(tx, result).await
    }

    /// Claims up to `limit` deliveries due at `now`, each leased until
    /// `lease_until`: another relay skips them until then (or until this
    /// one settles them), so an attempt is sent by one relay at a time.
    pub async fn claim_deliveries(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        // One statement claims the whole batch (one write, not one per
        // row). The conditions are checked again on each row as it is
        // updated, so of two relays that chose the same row, one gets it.
        let won = sqlx::query(
            "UPDATE notify_deliveries SET claimed_until = $1, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM notify_deliveries WHERE state = 'pending' \
             AND next_attempt_at <= $2 AND claimed_until <= $2 \
             ORDER BY next_attempt_at, id LIMIT $3) \
             AND state = 'pending' AND claimed_until <= $2 AND next_attempt_at <= $2 \
             RETURNING id",
        )
        .bind(lease_until.millis())
        .bind(now.millis())
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        let mut claimed = Vec::new();
        for row in &won {
            let id = text(row, "id")?;
            let r = sqlx::query(
                "SELECT d.id, d.channel, d.target, d.event, d.body, d.attempts, \
                 w.url, w.secret, w.removed_at \
                 FROM notify_deliveries d LEFT JOIN webhooks w ON w.id = d.target \
                 WHERE d.id = $1",
            )
            .bind(&id)
            .fetch_one(&self.pool)
            .await?;
            let channel = Channel::parse(&text(&r, "channel")?)?;
            let webhook = match (channel, opt_text(&r, "url")?) {
                (Channel::Webhook, Some(url)) if rows::opt_int(&r, "removed_at")?.is_none() => {
                    Some((url, opt_text(&r, "secret")?))
                }
                _ => None,
            };
            claimed.push(Delivery {
                id,
                channel,
                target: text(&r, "target")?,
                event: event_of(&r)?,
                body: text(&r, "body")?,
                attempts: count(&r, "attempts")?,
                webhook,
            });
        }
        Ok(claimed)
    }

    /// Records how an attempt of a claimed delivery ended.
    pub async fn settle_delivery(
        &self,
        id: &str,
        outcome: &Outcome,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let query = match outcome {
            Outcome::Delivered => sqlx::query(
                "UPDATE notify_deliveries SET state = 'delivered', finished_at = $1, \
                 claimed_until = 0 WHERE id = $2",
            )
            .bind(now.millis())
            .bind(id),
            Outcome::Retry { at, error } => sqlx::query(
                "UPDATE notify_deliveries SET next_attempt_at = $1, last_error = $2, \
                 last_error_at = $3, claimed_until = 0 WHERE id = $4",
            )
            .bind(at.millis())
            .bind(error.as_str())
            .bind(now.millis())
            .bind(id),
            Outcome::Abandon { error } => sqlx::query(
                "UPDATE notify_deliveries SET state = 'abandoned', finished_at = $1, \
                 last_error = $2, last_error_at = $1, claimed_until = 0 WHERE id = $3",
            )
            .bind(now.millis())
            .bind(error.as_str())
            .bind(id),
        };
        query.execute(&self.pool).await?;
        Ok(())
    }

    /// Every delivery to `target` (a webhook id or an address), oldest first.
    pub async fn deliveries_to(&self, target: &str) -> Result<Vec<DeliveryRecord>, StoreError> {
        sqlx::query(
            "SELECT id, channel, target, event, state, attempts, last_error \
             FROM notify_deliveries WHERE target = $1 ORDER BY feed_seq, id",
        )
        .bind(target)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(DeliveryRecord {
                id: text(r, "id")?,
                channel: Channel::parse(&text(r, "channel")?)?,
                target: text(r, "target")?,
                event: event_of(r)?,
                state: text(r, "state")?,
                attempts: count(r, "attempts")?,
                last_error: opt_text(r, "last_error")?,
            })
        })
        .collect()
    }
}
