//! The SLA clocks in the store: every ticket write folds the ticket's
//! history into its clocks with the pure engine (`triage_shared::sla`) and
//! keeps the outcome beside the ticket, so lists, `--breaching` and the
//! sweeper read columns instead of histories.
//!
//! - `sla_json`: both clocks as the engine last said (`TicketSla`);
//! - `sla_due_at`: the next due time, the queue's "due" sort key;
//! - `sla_attention_at`: from when the ticket is past a warning point of a
//!   clock still at stake (`--breaching` is `sla_attention_at <= now`);
//! - `sla_next_event_at`: when the next warning or breach is to be
//!   recorded; the sweeper selects on it.
//!
//! The same fold keeps what the help desk report aggregates
//! (`desk_report::desk_facts`: first response, resolutions, met or not,
//! escalations, reopens) in columns beside them.
//!
//! Crossings are recorded by [`Store::record_sla_crossings`], which locks
//! the ticket and evaluates again inside the lock: the history it reads
//! holds every crossing already recorded, so two relays sweeping one store
//! record each crossing once.

use super::desk_report::{desk_facts, DeskFacts};
use super::rows::{self, json, text, timestamp};
use super::tickets::{lock_ticket, write_update, TicketUpdate};
use super::{settle, Store, StoreError};
use crate::agent_updates::is_technician;
use sqlx::{Any, Transaction};
use std::sync::Arc;
use triage_shared::sla::{evaluate, Crossing, SlaEvaluation, SlaFact, SlaPolicy, TicketSla};
use triage_shared::ticket::{Comment, Status, Ticket, TicketEvent, TicketEventKind};
use triage_shared::time::Timestamp;
use triage_shared::{ids::CommentId, TicketId};

/// Who the relay records SLA events and breach actions as. The colon keeps
/// it apart from technician names, so none of it counts as a response.
pub const SLA_ACTOR: &str = "relay:sla";

/// Most tickets one sweep or one recompute step handles.
pub const SLA_BATCH: i64 = 200;

/// The policy in force, shared by every clone of the store.
#[derive(Debug, Default)]
pub(super) struct PolicyCell(std::sync::RwLock<Arc<SlaPolicy>>);

impl PolicyCell {
    pub(super) fn get(&self) -> Arc<SlaPolicy> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
    fn set(&self, policy: SlaPolicy) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(policy);
    }
}

/// The facts of a history, in order: events before a reply made at the
/// same moment. Of the comments only the first public one by a technician
/// matters (`first_reply`): it is the first response, and no later
/// comment moves a clock.
pub fn facts_of(
    ticket: &Ticket,
    events: &[TicketEvent],
    first_reply: Option<Timestamp>,
) -> Vec<SlaFact> {
    let mut timed: Vec<(Timestamp, u8, SlaFact)> = Vec::new();
    let mut initial_priority = ticket.priority;
    let mut priority_changed = false;
    for e in events {
        let fact = match &e.event {
            TicketEventKind::StatusChanged { to, .. } => SlaFact::StatusChanged {
                at: e.at,
                to: *to,
                by_technician: is_technician(&e.actor),
            },
            TicketEventKind::SlaWarning { clock, .. } => SlaFact::Recorded {
                at: e.at,
                clock: *clock,
                crossing: Crossing::Warning,
            },
            TicketEventKind::SlaBreached { clock, .. } => SlaFact::Recorded {
                at: e.at,
                clock: *clock,
                crossing: Crossing::Breach,
            },
            TicketEventKind::PriorityChanged { from, to } => {
                // The first change says what the ticket was filed with.
                if !priority_changed {
                    initial_priority = *from;
                    priority_changed = true;
                }
                SlaFact::PriorityChanged { at: e.at, to: *to }
            }
            _ => continue,
        };
        timed.push((e.at, 0, fact));
    }
    if let Some(at) = first_reply {
        timed.push((at, 1, SlaFact::TechnicianReplied { at }));
    }
    timed.sort_by_key(|(at, order, _)| (*at, *order));
    let mut facts = Vec::with_capacity(timed.len() + 1);
    facts.push(SlaFact::Created {
        at: ticket.created_at,
        priority: initial_priority,
        category: ticket.category,
    });
    facts.extend(timed.into_iter().map(|(_, _, f)| f));
    facts
}

/// Reads what the clocks need of ticket `id`'s history inside `tx`: every
/// event (not the newest page a view shows) and when the first public
/// technician comment was made. Comments can be many (an endpoint's
/// updates); the first reply is one aggregate over the ticket's rows.
async fn history(
    tx: &mut Transaction<'static, Any>,
    id: TicketId,
) -> Result<(Vec<TicketEvent>, Option<Timestamp>), StoreError> {
    let events = sqlx::query(
        "SELECT actor, occurred_at, event_json FROM ticket_events WHERE ticket_id = $1 ORDER BY seq",
    )
    .bind(id.to_string())
    .fetch_all(&mut **tx)
    .await?
    .iter()
    .map(|r| {
        Ok(TicketEvent {
            actor: text(r, "actor")?,
            at: timestamp(r, "occurred_at")?,
            event: json(r, "event_json")?,
        })
    })
    .collect::<Result<Vec<_>, StoreError>>()?;
    // `is_technician`: technician names hold no `:`, every other author does.
    let row = sqlx::query(
        "SELECT MIN(created_at) AS first_reply FROM ticket_comments \
         WHERE ticket_id = $1 AND internal = 0 AND author NOT LIKE '%:%'",
    )
    .bind(id.to_string())
    .fetch_one(&mut **tx)
    .await?;
    Ok((events, rows::opt_timestamp(&row, "first_reply")?))
}

/// Evaluates ticket `ticket`'s clocks at `now` inside `tx`, and what the
/// help desk report reads of the same history.
async fn evaluate_in(
    tx: &mut Transaction<'static, Any>,
    ticket: &Ticket,
    policy: &SlaPolicy,
    now: Timestamp,
) -> Result<(SlaEvaluation, DeskFacts), StoreError> {
    let (events, first_reply) = history(tx, ticket.id).await?;
    let eval = evaluate(&facts_of(ticket, &events, first_reply), policy, now);
    let desk = desk_facts(ticket, &events, first_reply, &eval.sla.resolution);
    Ok((eval, desk))
}

/// The clocks of a ticket being filed with its `Created` event.
pub(super) fn on_filing(
    ticket: &Ticket,
    created: &TicketEvent,
    policy: &SlaPolicy,
) -> SlaEvaluation {
    evaluate(
        &facts_of(ticket, std::slice::from_ref(created), None),
        policy,
        ticket.created_at,
    )
}

/// The sort key for "due": the next due time of a running clock, else the
/// moment the resolution clock stopped plus what it had left.
pub fn due_sort_key(sla: &TicketSla) -> Timestamp {
    sla.next_due().unwrap_or(Timestamp(
        sla.resolution
            .as_of
            .millis()
            .saturating_add(sla.resolution.left_ms()),
    ))
}

/// Folds ticket `id`'s history at `now` and stores the clocks on its row,
/// inside `tx` (which holds the ticket's lock). Returns the clocks.
pub(super) async fn refresh(
    tx: &mut Transaction<'static, Any>,
    ticket: &Ticket,
    policy: &SlaPolicy,
    now: Timestamp,
) -> Result<SlaEvaluation, StoreError> {
    let (eval, desk) = evaluate_in(tx, ticket, policy, now).await?;
    sqlx::query(
        "UPDATE tickets SET sla_json = $1, sla_due_at = $2, sla_attention_at = $3, \
         sla_next_event_at = $4, first_response_at = $6, first_resolved_at = $7, \
         resolved_at = $8, resolution_met = $9, escalations = $10, reopens = $11 WHERE id = $5",
    )
    .bind(rows::to_json(&eval.sla)?)
    .bind(due_sort_key(&eval.sla).millis())
    .bind(eval.sla.attention_at().map(Timestamp::millis))
    .bind(eval.next_event_at.map(Timestamp::millis))
    .bind(ticket.id.to_string())
    .bind(desk.first_response_at.map(Timestamp::millis))
    .bind(desk.first_resolved_at.map(Timestamp::millis))
    .bind(desk.resolved_at.map(Timestamp::millis))
    .bind(desk.resolution_met.map(i64::from))
    .bind(desk.escalations)
    .bind(desk.reopens)
    .execute(&mut **tx)
    .await?;
    Ok(eval)
}

/// What recording a ticket's crossings did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Recorded {
    pub events: Vec<TicketEventKind>,
}

impl Store {
    pub fn sla_policy(&self) -> Arc<SlaPolicy> {
        self.sla.get()
    }

    /// Puts `policy` in force for every write from now on. Tickets already
    /// stored keep their clocks until [`Store::recompute_sla`] reaches them.
    pub fn set_sla_policy(&self, policy: SlaPolicy) {
        self.sla.set(policy);
    }

    /// The digest of the policy every open ticket's clocks were computed
    /// with, as [`Store::set_sla_policy_applied`] recorded it.
    pub async fn sla_policy_applied(&self) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT digest FROM sla_policy_applied WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(|r| text(r, "digest")).transpose()
    }

    pub async fn set_sla_policy_applied(&self, digest: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sla_policy_applied (id, digest) VALUES (1, $1) \
             ON CONFLICT (id) DO UPDATE SET digest = $1",
        )
        .bind(digest)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Tickets whose next crossing is due by `now`, oldest first.
    pub async fn sla_due(&self, now: Timestamp, limit: i64) -> Result<Vec<TicketId>, StoreError> {
        sqlx::query(
            "SELECT id FROM tickets WHERE sla_next_event_at <= $1 \
             ORDER BY sla_next_event_at LIMIT $2",
        )
        .bind(now.millis())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| rows::parsed(r, "id"))
        .collect()
    }

    /// Records the crossings ticket `id` has passed by `now` and applies
    /// the policy's breach action. Evaluated inside the ticket's lock, so
    /// a crossing another relay recorded first is not recorded again.
    pub async fn record_sla_crossings(
        &self,
        id: TicketId,
        now: Timestamp,
    ) -> Result<Recorded, StoreError> {
        let policy = self.sla_policy();
        let mut tx = self.begin().await?;
        let result = async {
            let current = lock_ticket(&mut tx, id).await?;
            let (eval, _) = evaluate_in(&mut tx, &current, &policy, now).await?;
            if eval.due_events.is_empty() {
                // Nothing due (another relay got here first, or the policy
                // changed): only bring the columns up to date.
                refresh(&mut tx, &current, &policy, now).await?;
                return Ok(Recorded::default());
            }
            let update = crossing_update(&current, &eval, &policy, now);
            let recorded = Recorded {
                events: update.events.iter().map(|e| e.event.clone()).collect(),
            };
            write_update(&mut tx, id, &update, &policy).await?;
            Ok(recorded)
        }
        .await;
        self.announced(settle(tx, result).await).await
    }

    /// Recomputes the clocks of up to [`SLA_BATCH`] tickets whose clocks
    /// were computed by another policy (or never), after id `after`;
    /// returns the last id handled, `None` when there were none left.
    pub async fn recompute_sla(
        &self,
        after: Option<TicketId>,
        only_uncomputed: bool,
        now: Timestamp,
    ) -> Result<Option<TicketId>, StoreError> {
        let policy = self.sla_policy();
        let wanted = if only_uncomputed {
            "sla_json IS NULL"
        } else {
            "(sla_json IS NULL OR status IN ('open', 'in_progress', 'waiting'))"
        };
        let ids: Vec<TicketId> = sqlx::query(&format!(
            "SELECT id FROM tickets WHERE {wanted} AND id > $1 ORDER BY id LIMIT $2"
        ))
        .bind(after.map(|a| a.to_string()).unwrap_or_default())
        .bind(SLA_BATCH)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| rows::parsed(r, "id"))
        .collect::<Result<_, _>>()?;
        for id in &ids {
            let mut tx = self.begin().await?;
            let result = async {
                let current = lock_ticket(&mut tx, *id).await?;
                refresh(&mut tx, &current, &policy, now).await?;
                Ok(())
            }
            .await;
            settle(tx, result).await?;
        }
        Ok(ids.last().copied())
    }

    /// The clocks of ticket `id` as stored.
    pub async fn ticket_sla(&self, id: TicketId) -> Result<Option<TicketSla>, StoreError> {
        Ok(self.ticket(id).await?.and_then(|t| t.sla))
    }
}

/// The events for the crossings in `eval`, and the breach action: one
/// tier up, and back to the tier's queue, as the policy says.
fn crossing_update(
    ticket: &Ticket,
    eval: &SlaEvaluation,
    policy: &SlaPolicy,
    now: Timestamp,
) -> TicketUpdate {
    let mut after = ticket.clone();
    after.updated_at = now;
    let event = |event| TicketEvent {
        actor: SLA_ACTOR.to_string(),
        at: now,
        event,
    };
    let mut events = Vec::new();
    let mut comments = Vec::new();
    let mut breached = false;
    for due in &eval.due_events {
        events.push(event(match due.crossing {
            Crossing::Warning => TicketEventKind::SlaWarning {
                clock: due.clock,
                due_at: due.due_at,
            },
            Crossing::Breach => TicketEventKind::SlaBreached {
                clock: due.clock,
                due_at: due.due_at,
            },
        }));
        breached |= due.crossing == Crossing::Breach;
    }
    let active = matches!(
        ticket.status,
        Status::Open | Status::InProgress | Status::Waiting
    );
    if breached && active {
        if policy.breach.escalate {
            if let Some(to) = ticket.tier.escalated() {
                events.push(event(TicketEventKind::Escalated {
                    from: ticket.tier,
                    to,
                }));
                after.tier = to;
            }
        }
        if policy.breach.return_to_queue {
            if let Some(was) = after.assignee.take() {
                comments.push(Comment {
                    id: CommentId::new_random(),
                    author: SLA_ACTOR.to_string(),
                    text: format!(
                        "SLA breached: returned to the {} queue (was assigned to {was})",
                        after.tier
                    ),
                    created_at: now,
                    internal: true,
                });
            }
        }
    }
    TicketUpdate {
        ticket: after,
        events,
        comments,
        attachments: Vec::new(),
        resolution: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_shared::ticket::{Category, Priority, SlaClock, Source, Tier};

    fn event(actor: &str, at: i64, event: TicketEventKind) -> TicketEvent {
        TicketEvent {
            actor: actor.into(),
            at: Timestamp(at),
            event,
        }
    }

    #[test]
    fn history_becomes_facts_in_order_from_the_first_priority() {
        let ticket = Ticket {
            id: TicketId::new_random(),
            title: "t".into(),
            description: String::new(),
            category: Category::Network,
            priority: Priority::Urgent,
            status: Status::InProgress,
            tier: Tier::L1,
            source: Source::Employee,
            agent_id: None,
            hostname: None,
            requester: "alice".into(),
            assignee: None,
            created_at: Timestamp(10),
            updated_at: Timestamp(50),
            sla_due_at: Timestamp(0),
            sla: None,
        };
        let events = [
            event("alice", 10, TicketEventKind::Created),
            event(
                "employee:alice",
                20,
                TicketEventKind::StatusChanged {
                    from: Status::Open,
                    to: Status::Waiting,
                },
            ),
            event(
                "bob",
                30,
                TicketEventKind::PriorityChanged {
                    from: Priority::Low,
                    to: Priority::Urgent,
                },
            ),
            event(
                SLA_ACTOR,
                40,
                TicketEventKind::SlaWarning {
                    clock: SlaClock::Resolution,
                    due_at: Timestamp(99),
                },
            ),
        ];
        let facts = facts_of(&ticket, &events, Some(Timestamp(30)));
        assert_eq!(
            facts,
            [
                SlaFact::Created {
                    at: Timestamp(10),
                    priority: Priority::Low,
                    category: Category::Network
                },
                SlaFact::StatusChanged {
                    at: Timestamp(20),
                    to: Status::Waiting,
                    by_technician: false
                },
                SlaFact::PriorityChanged {
                    at: Timestamp(30),
                    to: Priority::Urgent
                },
                SlaFact::TechnicianReplied { at: Timestamp(30) },
                SlaFact::Recorded {
                    at: Timestamp(40),
                    clock: SlaClock::Resolution,
                    crossing: Crossing::Warning
                },
            ]
        );
    }
}
