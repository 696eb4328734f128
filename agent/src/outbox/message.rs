//! What the outbox holds: a message, and the envelope it is stored in.

use serde::{Deserialize, Serialize};
use tracing::warn;
use triage_shared::agent_update::AgentUpdate;
use triage_shared::codec::encode;
use triage_shared::diagnostics::Snapshot;
use triage_shared::ids::UpdateId;
use triage_shared::kb::Deflection;
use triage_shared::protocol::Request;
use triage_shared::ticket::{NewTicket, Source};
use triage_shared::time::Timestamp;
use triage_shared::TicketId;

use super::policy::Kind;

/// The layout of a message file; another value is treated as corrupt.
pub(super) const FORMAT_VERSION: u16 = 1;

/// Something waiting to reach the relay.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Message {
    Ticket {
        ticket: NewTicket,
        snapshot: Option<Snapshot>,
    },
    Update {
        id: UpdateId,
        ticket: TicketId,
        update: AgentUpdate,
    },
    /// "This solved it" from the Get help window.
    Deflection(Deflection),
}

impl Message {
    /// A new ticket with its snapshot, or without it in the unlikely case
    /// that it would not fit in one frame: the ticket matters more.
    pub fn ticket(ticket: NewTicket, snapshot: Option<Snapshot>) -> Message {
        let full = Message::Ticket { ticket, snapshot };
        if encode(&Envelope::new(full.clone())).is_ok() {
            return full;
        }
        warn!("the diagnostics snapshot is too large to send; queueing the ticket without it");
        match full {
            Message::Ticket { ticket, .. } => Message::Ticket {
                ticket,
                snapshot: None,
            },
            other => other,
        }
    }

    /// A new update to `ticket`, with a fresh id.
    pub fn update(ticket: TicketId, update: AgentUpdate) -> Message {
        Message::Update {
            id: UpdateId::new_random(),
            ticket,
            update,
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Message::Ticket { ticket, .. } if ticket.source == Source::Employee => {
                Kind::EmployeeTicket
            }
            Message::Ticket { .. } => Kind::AlertTicket,
            // Small and droppable like an update: no one waits on it.
            Message::Update { .. } | Message::Deflection(_) => Kind::Update,
        }
    }

    /// The id the relay deduplicates on.
    pub fn id(&self) -> uuid::Uuid {
        match self {
            Message::Ticket { ticket, .. } => ticket.id.0,
            Message::Update { id, .. } => id.0,
            Message::Deflection(d) => d.id,
        }
    }

    pub fn request(&self) -> Request {
        match self.clone() {
            Message::Ticket { ticket, snapshot } => Request::SubmitTicket { ticket, snapshot },
            Message::Update { id, ticket, update } => Request::SubmitUpdate { id, ticket, update },
            Message::Deflection(deflection) => Request::RecordDeflection { deflection },
        }
    }

    pub(super) fn validate(&self) -> Result<(), String> {
        let checked = match self {
            Message::Ticket { ticket, snapshot } => ticket
                .validate()
                .and_then(|()| snapshot.as_ref().map_or(Ok(()), |s| s.validate())),
            Message::Update { update, .. } => update.validate(),
            Message::Deflection(d) => d.validate(),
        };
        checked.map_err(|e| e.to_string())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Envelope {
    pub version: u16,
    pub queued_at: Timestamp,
    pub message: Message,
}

impl Envelope {
    pub fn new(message: Message) -> Envelope {
        Envelope {
            version: FORMAT_VERSION,
            queued_at: Timestamp::now(),
            message,
        }
    }
}
