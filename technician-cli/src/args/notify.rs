//! `triage webhooks …` and `triage tiers …`: where notifications go.

use clap::Subcommand;
use std::path::PathBuf;
use triage_shared::notify::{parse_events, NotifyEvent};
use triage_shared::ticket::Tier;

#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// POST ticket events to URL as signed JSON (admin only), e.g.
    /// `webhooks add https://hooks.example.com/triage --events new,sla_breach --secret-file hook.key`.
    Add {
        /// An http:// or https:// URL; redirects are not followed.
        url: String,
        /// new, assigned, commented, status, sla_warning, sla_breach, resolved (comma-separated).
        #[arg(long, required = true, value_parser = parse_event_list)]
        events: EventList,
        /// File holding the signing secret (16 to 512 bytes): every body is
        /// signed with it in `X-Triage-Signature: sha256=<hex HMAC>`. It is
        /// never shown again.
        #[arg(long, value_name = "FILE")]
        secret_file: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Webhooks with their pending, delivered and abandoned deliveries and
    /// the newest error (admin only; never their secrets).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Stop sending to a webhook (admin only); its pending deliveries are dropped.
    Remove {
        /// The webhook's id or a unique prefix, as `webhooks list` shows it.
        id: String,
    },
    /// Send one signed `test` delivery now and say what the receiver answered.
    Test {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TiersCommand {
    /// Set a tier's queue address (admin only): mail about tickets in that
    /// tier, for the events given; `none` stops it.
    Email {
        /// l1, l2 or l3.
        #[arg(value_parser = parse_tier)]
        tier: Tier,
        /// An address, or `none`.
        address: String,
        /// Events to mail about (default: new,sla_warning,sla_breach).
        #[arg(long, value_parser = parse_event_list)]
        events: Option<EventList>,
    },
}

/// A comma-separated list of events, as clap hands it over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventList(pub Vec<NotifyEvent>);

pub(crate) fn parse_event_list(s: &str) -> Result<EventList, String> {
    let events = parse_events(s)?;
    if events.is_empty() {
        return Err("give at least one event".into());
    }
    Ok(EventList(events))
}

fn parse_tier(s: &str) -> Result<Tier, String> {
    s.parse()
}

/// A technician's default events: what concerns the tickets they hold.
pub const TECHNICIAN_DEFAULT_EVENTS: [NotifyEvent; 5] = [
    NotifyEvent::Assigned,
    NotifyEvent::Commented,
    NotifyEvent::SlaWarning,
    NotifyEvent::SlaBreach,
    NotifyEvent::Resolved,
];

/// A tier queue's default events: what the queue must pick up.
pub const TIER_DEFAULT_EVENTS: [NotifyEvent; 3] = [
    NotifyEvent::New,
    NotifyEvent::SlaWarning,
    NotifyEvent::SlaBreach,
];
