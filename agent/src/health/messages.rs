//! What an alert event becomes in the outbox: a new ticket (source
//! `health_alert`), a comment on it, or a resolve. Pure.

use super::config::HealthConfig;
use super::machine::{rule_facts, HealthEvent};
use super::rules::timing;
use crate::outbox::Message;
use triage_shared::agent_update::AgentUpdate;
use triage_shared::diagnostics::Snapshot;
use triage_shared::limits::MAX_TITLE_LEN;
use triage_shared::text::shortened;
use triage_shared::ticket::{Category, NewTicket, Source};
use triage_shared::time::human_duration;

/// Who the health monitor's tickets are from.
pub const HEALTH_REQUESTER: &str = "health-monitor";

/// The ticket title, e.g. `Disk /var 96% full on host-7`.
pub fn title(headline: &str, host: &str) -> String {
    shortened(&format!("{headline} on {host}"), MAX_TITLE_LEN).to_string()
}

/// The outbox message for `event`; `snapshot` goes with a new ticket.
pub fn message(
    config: &HealthConfig,
    host: &str,
    event: &HealthEvent,
    snapshot: Option<Snapshot>,
) -> Message {
    match event {
        HealthEvent::Raised {
            key,
            ticket,
            headline,
            reading,
        } => {
            let facts = rule_facts(config, key);
            let common = timing(config, key.rule);
            let then = if config.auto_resolve {
                "gets a comment and is resolved automatically when it clears"
            } else {
                "gets a comment when it clears"
            };
            let description = format!(
                "The health monitor on {host} raised the `{rule}` alert for {device}.\n\n\
                 Measured: {reading}\n\
                 Threshold: {thresholds}, for at least {after}.\n\n\
                 While the alert stays raised this ticket is updated at most every {every}; it {then}.",
                rule = key.rule.as_str(),
                device = key.device,
                thresholds = facts.thresholds,
                after = human_duration(common.raise_after),
                every = human_duration(config.update_interval),
            );
            Message::ticket(
                NewTicket {
                    id: *ticket,
                    title: title(headline, host),
                    description,
                    category: Category::Hardware,
                    priority: facts.severity.priority(),
                    source: Source::HealthAlert,
                    requester: HEALTH_REQUESTER.into(),
                },
                snapshot,
            )
        }
        HealthEvent::StillRaised {
            ticket, reading, ..
        } => Message::update(
            *ticket,
            AgentUpdate::Comment(format!("Still raised: {reading}")),
        ),
        HealthEvent::Cleared {
            key,
            ticket,
            reading,
            auto_resolve,
        } => {
            let text = format!(
                "Cleared: the `{}` alert for {} is back to normal ({reading}).",
                key.rule.as_str(),
                key.device
            );
            let update = if *auto_resolve {
                AgentUpdate::Resolve(format!("{text} Resolved automatically."))
            } else {
                AgentUpdate::Comment(text)
            };
            Message::update(*ticket, update)
        }
    }
}
