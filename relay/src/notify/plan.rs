//! **Pure**: which feed events notify whom, what each delivery carries,
//! and when a failed one is tried again. No store, no clock, no network.

use super::mail;
use crate::store::{Channel, NewDelivery, Outcome, Targets};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::time::Duration;
use triage_shared::notify::NotifyEvent;
use triage_shared::queue::{QueueEvent, QueueEventKind};
use triage_shared::ticket::{Status, Ticket};
use triage_shared::time::Timestamp;

/// What a live-queue event means to subscribers: none, one or two events
/// (a resolution is a status change too). Internal notes mean nothing.
pub fn events_for(kind: &QueueEventKind) -> Vec<NotifyEvent> {
    match kind {
        QueueEventKind::Created => vec![NotifyEvent::New],
        QueueEventKind::Assigned { .. } => vec![NotifyEvent::Assigned],
        QueueEventKind::Commented {
            internal: false, ..
        } => vec![NotifyEvent::Commented],
        QueueEventKind::Commented { internal: true, .. } => vec![],
        QueueEventKind::StatusChanged { to, .. } if *to == Status::Resolved => {
            vec![NotifyEvent::Status, NotifyEvent::Resolved]
        }
        QueueEventKind::StatusChanged { .. } => vec![NotifyEvent::Status],
        QueueEventKind::SlaWarning { .. } => vec![NotifyEvent::SlaWarning],
        QueueEventKind::SlaBreached { .. } => vec![NotifyEvent::SlaBreach],
        // Not (yet) a subscribable event.
        QueueEventKind::Escalated { .. }
        | QueueEventKind::Attached { .. }
        | QueueEventKind::Rated { .. }
        | QueueEventKind::PriorityChanged { .. } => vec![],
    }
}

/// The delivery id: the same for the same (target, feed event, event) on
/// every relay, so a second relay's insert is a no-op and a receiver can
/// drop a retry it already has. UUID-shaped, from SHA-256.
pub fn delivery_id(target: &str, seq: u64, event: NotifyEvent) -> String {
    let digest = Sha256::digest(format!("{target}\n{seq}\n{}", event.as_str()).as_bytes());
    let h = hex::encode(&digest[..16]);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The ticket as webhook bodies carry it.
pub fn ticket_json(t: &Ticket) -> Value {
    json!({
        "id": t.id.to_string(),
        "title": t.title,
        "status": t.status.as_str(),
        "priority": t.priority.as_str(),
        "tier": t.tier.as_str(),
        "category": t.category.as_str(),
        "source": t.source.as_str(),
        "hostname": t.hostname,
        "agent_id": t.agent_id.map(|a| a.to_string()),
        "requester": t.requester,
        "assignee": t.assignee,
        "created_at": t.created_at.to_string(),
        "updated_at": t.updated_at.to_string(),
        "sla_due_at": t.sla_due_at.to_string(),
        // Both clocks as the relay computed them (`TicketSla`).
        "sla": t.sla,
    })
}

/// What happened, beyond the event's name.
fn details(kind: &QueueEventKind) -> Value {
    match kind {
        QueueEventKind::Assigned { assignee } => json!({ "assignee": assignee }),
        QueueEventKind::Commented { excerpt, .. } => json!({ "excerpt": excerpt }),
        QueueEventKind::StatusChanged { from, to } => {
            json!({ "from": from.as_str(), "to": to.as_str() })
        }
        QueueEventKind::SlaWarning { clock } | QueueEventKind::SlaBreached { clock } => {
            json!({ "clock": clock.as_str() })
        }
        _ => json!({}),
    }
}

/// A webhook's JSON body for one event.
pub fn webhook_body(delivery_id: &str, event: NotifyEvent, e: &QueueEvent) -> String {
    json!({
        "delivery_id": delivery_id,
        "event": event.as_str(),
        "occurred_at": e.at.to_string(),
        "feed_seq": e.seq,
        "actor": e.actor,
        "ticket": ticket_json(&e.ticket),
        "details": details(&e.kind),
    })
    .to_string()
}

/// The body of `webhooks test`.
pub fn test_body(delivery_id: &str, now: Timestamp) -> String {
    json!({
        "delivery_id": delivery_id,
        "event": NotifyEvent::Test.as_str(),
        "occurred_at": now.to_string(),
        "actor": crate::audit::LOCAL_ADMIN_ACTOR,
        "ticket": Value::Null,
        "details": { "message": "a test delivery from triage-relay" },
    })
    .to_string()
}

/// The addresses that want mail about event `event` of `e`'s ticket: the
/// assignee, the ticket's tier queue and the watchers, each once. The
/// technician who did it is not told about their own act.
pub fn mail_recipients(e: &QueueEvent, event: NotifyEvent, targets: &Targets) -> Vec<String> {
    let mut names: Vec<&str> = Vec::new();
    if let Some(assignee) = &e.ticket.assignee {
        names.push(assignee);
    }
    names.extend(targets.watchers.iter().map(String::as_str));
    let mut out: Vec<String> = names
        .into_iter()
        .filter(|name| *name != e.actor)
        .filter_map(|name| targets.technicians.get(name))
        .chain(targets.tiers.get(&e.ticket.tier))
        .filter(|m| m.events.contains(&event))
        .map(|m| m.address.clone())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Every delivery one feed event makes. Webhooks hear only of events
/// after they were added; mail is planned only when SMTP is configured.
pub fn plan(e: &QueueEvent, targets: &Targets, mail_on: bool, now: Timestamp) -> Vec<NewDelivery> {
    let mut out = Vec::new();
    for event in events_for(&e.kind) {
        for hook in &targets.webhooks {
            if !hook.events.contains(&event) || e.at < hook.created_at {
                continue;
            }
            let id = delivery_id(&hook.id, e.seq, event);
            out.push(NewDelivery {
                body: webhook_body(&id, event, e),
                id,
                channel: Channel::Webhook,
                target: hook.id.clone(),
                event,
                feed_seq: e.seq,
            });
        }
        if !mail_on {
            continue;
        }
        for address in mail_recipients(e, event, targets) {
            let id = delivery_id(&format!("email:{address}"), e.seq, event);
            let body = mail::MailBody::new(&address, event, e, now).to_json();
            out.push(NewDelivery {
                id,
                channel: Channel::Email,
                target: address,
                event,
                feed_seq: e.seq,
                body,
            });
        }
    }
    out
}

/// How failed deliveries are retried: `base`, doubling each attempt, at
/// most `cap` apart, abandoned after `max_attempts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
    pub max_attempts: u32,
}

impl Backoff {
    /// The wait after failed attempt number `attempts` (1 = the first).
    pub fn delay(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(31);
        self.base.saturating_mul(1u32 << doublings).min(self.cap)
    }

    /// What to record after attempt `attempts` failed with `error`.
    pub fn after_failure(&self, attempts: u32, now: Timestamp, error: String) -> Outcome {
        if attempts >= self.max_attempts {
            Outcome::Abandon {
                error: format!("gave up after {attempts} attempts: {error}"),
            }
        } else {
            Outcome::Retry {
                at: now.plus(self.delay(attempts)),
                error,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Mailbox, WebhookRow};
    use triage_shared::ticket::{Category, Priority, SlaClock, Source, Tier};
    use triage_shared::TicketId;

    fn ticket() -> Ticket {
        Ticket {
            id: TicketId(uuid::Uuid::from_u128(0xabc)),
            title: "Printer on fire".into(),
            description: "smoke".into(),
            category: Category::Hardware,
            priority: Priority::Urgent,
            status: Status::Open,
            tier: Tier::L2,
            source: Source::Employee,
            agent_id: None,
            hostname: Some("pc-1".into()),
            requester: "alice".into(),
            assignee: Some("bob".into()),
            created_at: Timestamp(1_000),
            updated_at: Timestamp(2_000),
            sla_due_at: Timestamp(10_000_000),
            sla: None,
        }
    }

    fn event(kind: QueueEventKind) -> QueueEvent {
        QueueEvent {
            seq: 7,
            at: Timestamp(5_000),
            actor: "carol".into(),
            kind,
            ticket: ticket(),
        }
    }

    fn hook(id: &str, events: &[NotifyEvent], created_at: i64) -> WebhookRow {
        WebhookRow {
            id: id.into(),
            url: "http://x".into(),
            events: events.to_vec(),
            secret: None,
            created_at: Timestamp(created_at),
        }
    }

    fn mailbox(address: &str, events: &[NotifyEvent]) -> Mailbox {
        Mailbox {
            address: address.into(),
            events: events.to_vec(),
        }
    }

    #[test]
    fn feed_events_map_to_subscribable_events_and_notes_never_leave() {
        use QueueEventKind as K;
        let cases = [
            (K::Created, vec![NotifyEvent::New]),
            (
                K::Assigned {
                    assignee: "bob".into(),
                },
                vec![NotifyEvent::Assigned],
            ),
            (
                K::Commented {
                    internal: false,
                    excerpt: "hi".into(),
                },
                vec![NotifyEvent::Commented],
            ),
            (
                K::Commented {
                    internal: true,
                    excerpt: "secret".into(),
                },
                vec![],
            ),
            (
                K::StatusChanged {
                    from: Status::Open,
                    to: Status::InProgress,
                },
                vec![NotifyEvent::Status],
            ),
            (
                K::StatusChanged {
                    from: Status::InProgress,
                    to: Status::Resolved,
                },
                vec![NotifyEvent::Status, NotifyEvent::Resolved],
            ),
            (
                K::SlaWarning {
                    clock: SlaClock::Resolution,
                },
                vec![NotifyEvent::SlaWarning],
            ),
            (
                K::SlaBreached {
                    clock: SlaClock::FirstResponse,
                },
                vec![NotifyEvent::SlaBreach],
            ),
            (
                K::Escalated {
                    from: Tier::L1,
                    to: Tier::L2,
                },
                vec![],
            ),
            (K::Rated { score: 5 }, vec![]),
        ];
        for (kind, want) in cases {
            assert_eq!(events_for(&kind), want, "{kind:?}");
        }
    }

    #[test]
    fn delivery_ids_are_stable_and_differ_by_target_seq_and_event() {
        let a = delivery_id("hook-1", 7, NotifyEvent::New);
        assert_eq!(a, delivery_id("hook-1", 7, NotifyEvent::New));
        assert_eq!(a.len(), 36);
        assert!(uuid::Uuid::parse_str(&a).is_ok());
        assert_ne!(a, delivery_id("hook-2", 7, NotifyEvent::New));
        assert_ne!(a, delivery_id("hook-1", 8, NotifyEvent::New));
        assert_ne!(a, delivery_id("hook-1", 7, NotifyEvent::Status));
    }

    #[test]
    fn a_resolution_plans_both_events_for_each_hook_that_wants_them() {
        let targets = Targets {
            webhooks: vec![
                hook("h1", &[NotifyEvent::Status, NotifyEvent::Resolved], 0),
                hook("h2", &[NotifyEvent::Resolved], 0),
                hook("h3", &[NotifyEvent::New], 0),
                // Added after the event happened: not told about it.
                hook("h4", &[NotifyEvent::Resolved], 6_000),
            ],
            ..Targets::default()
        };
        let e = event(QueueEventKind::StatusChanged {
            from: Status::InProgress,
            to: Status::Resolved,
        });
        let planned = plan(&e, &targets, false, Timestamp(9_000));
        let got: Vec<(&str, NotifyEvent)> = planned
            .iter()
            .map(|d| (d.target.as_str(), d.event))
            .collect();
        assert_eq!(
            got,
            vec![
                ("h1", NotifyEvent::Status),
                ("h1", NotifyEvent::Resolved),
                ("h2", NotifyEvent::Resolved),
            ]
        );
        let body: Value = serde_json::from_str(&planned[1].body).unwrap();
        assert_eq!(body["delivery_id"], planned[1].id);
        assert_eq!(body["event"], "resolved");
        assert_eq!(body["actor"], "carol");
        assert_eq!(body["ticket"]["title"], "Printer on fire");
        assert_eq!(body["ticket"]["hostname"], "pc-1");
        assert_eq!(body["ticket"]["tier"], "l2");
        assert_eq!(body["details"]["to"], "resolved");
    }

    #[test]
    fn mail_goes_to_assignee_tier_and_watchers_for_their_events_once_each() {
        let mut targets = Targets::default();
        targets.technicians.insert(
            "bob".into(),
            mailbox("bob@example.com", &[NotifyEvent::Commented]),
        );
        targets.technicians.insert(
            "dave".into(),
            mailbox("dave@example.com", &[NotifyEvent::Commented]),
        );
        targets.technicians.insert(
            "erin".into(),
            mailbox("erin@example.com", &[NotifyEvent::Resolved]),
        );
        targets.technicians.insert(
            "carol".into(),
            mailbox("carol@example.com", &[NotifyEvent::Commented]),
        );
        targets.tiers.insert(
            Tier::L2,
            mailbox("l2@example.com", &[NotifyEvent::Commented]),
        );
        targets.tiers.insert(
            Tier::L1,
            mailbox("l1@example.com", &[NotifyEvent::Commented]),
        );
        // bob is assignee and watcher; carol (the actor) watches too.
        targets.watchers = vec!["bob".into(), "carol".into(), "dave".into(), "erin".into()];
        let e = event(QueueEventKind::Commented {
            internal: false,
            excerpt: "on my way".into(),
        });
        assert_eq!(
            mail_recipients(&e, NotifyEvent::Commented, &targets),
            vec!["bob@example.com", "dave@example.com", "l2@example.com"]
        );
        let planned = plan(&e, &targets, true, Timestamp(9_000));
        assert_eq!(planned.len(), 3);
        assert!(planned.iter().all(|d| d.channel == Channel::Email));
        // Without SMTP nothing is queued for mail.
        assert!(plan(&e, &targets, false, Timestamp(9_000)).is_empty());
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_then_gives_up() {
        let b = Backoff {
            base: Duration::from_secs(10),
            cap: Duration::from_secs(300),
            max_attempts: 8,
        };
        let delays: Vec<u64> = (1..=7).map(|n| b.delay(n).as_secs()).collect();
        assert_eq!(delays, vec![10, 20, 40, 80, 160, 300, 300]);
        assert_eq!(b.delay(1000), Duration::from_secs(300));
        let now = Timestamp(1_000);
        assert_eq!(
            b.after_failure(1, now, "503".into()),
            Outcome::Retry {
                at: Timestamp(11_000),
                error: "503".into()
            }
        );
        assert_eq!(
            b.after_failure(8, now, "503".into()),
            Outcome::Abandon {
                error: "gave up after 8 attempts: 503".into()
            }
        );
    }
}
