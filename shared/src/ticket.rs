//! Tickets and their life cycle, as plain data and a pure transition function.

use crate::ids::{AgentId, CommentId, TicketId};
use crate::limits::{MAX_NAME_LEN, MAX_TEXT_LEN, MAX_TITLE_LEN};
// Kept here for code that still names them by this path.
use crate::sla::TicketSla;
pub use crate::text::{check_text, InvalidInput};
use crate::time::Timestamp;
use crate::transfer::{AttachmentId, AttachmentKind};
use serde::{Deserialize, Serialize};

/// The names of a ticket field's values: strum derives them (the same
/// snake_case serde writes) and the list; this adds `ALL`, `as_str` and a
/// forgiving `FromStr` (case, spaces and `-` for `_`) whose refusal lists
/// every name. Also used for the queue's `TicketSort`.
macro_rules! named_values {
    ($name:ident, $what:literal) => {
        impl $name {
            pub const ALL: &'static [$name] = <$name as strum::VariantArray>::VARIANTS;

            pub fn as_str(self) -> &'static str {
                self.into()
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                let wanted = s.trim().to_ascii_lowercase().replace('-', "_");
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == wanted)
                    .ok_or_else(|| {
                        let names: Vec<_> = $name::ALL.iter().map(|v| v.as_str()).collect();
                        format!("unknown {} `{s}`; use one of: {}", $what, names.join(", "))
                    })
            }
        }
    };
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::Display,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Status {
    Open,
    InProgress,
    Waiting,
    Resolved,
    Closed,
}
pub(crate) use named_values;
named_values!(Status, "status");

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::Display,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Tier {
    L1,
    L2,
    L3,
}
named_values!(Tier, "tier");

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::Display,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Category {
    Hardware,
    Software,
    Network,
    Account,
    Other,
}
named_values!(Category, "category");

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::Display,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Priority {
    Low,
    Normal,
    High,
    Urgent,
}
named_values!(Priority, "priority");

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::Display,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Source {
    Employee,
    HealthAlert,
    Technician,
}
named_values!(Source, "source");

impl Tier {
    /// The next tier up, or `None` at the top.
    pub fn escalated(self) -> Option<Tier> {
        match self {
            Tier::L1 => Some(Tier::L2),
            Tier::L2 => Some(Tier::L3),
            Tier::L3 => None,
        }
    }
}

/// What a technician asks to do with a ticket's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum StatusAction {
    Start,
    Wait,
    Resolve,
    Close,
    Reopen,
}

impl StatusAction {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {action} a ticket that is {from}{hint}", action = .action.as_str())]
pub struct TransitionError {
    pub from: Status,
    pub action: StatusAction,
    hint: &'static str,
}

/// The ticket state machine: `open → in_progress ⇄ waiting → resolved → closed`,
/// with `reopen` the only way back from resolved or closed.
pub fn transition(from: Status, action: StatusAction) -> Result<Status, TransitionError> {
    use Status::*;
    use StatusAction::*;
    let active = matches!(from, Open | InProgress | Waiting);
    let to = match (from, action) {
        (Open | Waiting, Start) => Some(InProgress),
        (Open | InProgress, Wait) => Some(Waiting),
        (_, Resolve) if active => Some(Resolved),
        (_, Close) if active || from == Resolved => Some(Closed),
        (Resolved | Closed, Reopen) => Some(Open),
        _ => None,
    };
    to.ok_or(TransitionError {
        from,
        action,
        hint: match from {
            Resolved | Closed => "; reopen it first",
            _ => "",
        },
    })
}

/// A ticket as it is created by an agent or a technician.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewTicket {
    pub id: TicketId,
    pub title: String,
    pub description: String,
    pub category: Category,
    pub priority: Priority,
    pub source: Source,
    /// Who asked for help: the logged-in user on an endpoint, or a technician.
    pub requester: String,
}

impl NewTicket {
    pub fn validate(&self) -> Result<(), InvalidInput> {
        check_text("title", &self.title, MAX_TITLE_LEN, false)?;
        if self.title.contains('\n') {
            return Err(InvalidInput::new("title", "must be one line"));
        }
        check_text("description", &self.description, MAX_TEXT_LEN, true)?;
        check_text("requester", &self.requester, MAX_NAME_LEN, false)?;
        Ok(())
    }
}

/// A ticket's current state as the relay stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    pub id: TicketId,
    pub title: String,
    pub description: String,
    pub category: Category,
    pub priority: Priority,
    pub status: Status,
    pub tier: Tier,
    pub source: Source,
    pub agent_id: Option<AgentId>,
    pub hostname: Option<String>,
    pub requester: String,
    pub assignee: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The next SLA due time (see `TicketSla::next_due`), the queue's
    /// "due" sort key.
    pub sla_due_at: Timestamp,
    /// Both SLA clocks as the relay last computed them; `None` only for a
    /// ticket from before SLA clocks while the relay is still computing.
    pub sla: Option<TicketSla>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comment {
    pub id: CommentId,
    pub author: String,
    pub text: String,
    pub created_at: Timestamp,
    /// An internal note between technicians: never shown to the employee.
    pub internal: bool,
}

/// A ticket as the employee who filed it sees it in "My tickets": its
/// state and the newest public comment from a technician, nothing internal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmployeeTicket {
    pub id: TicketId,
    pub title: String,
    pub category: Category,
    pub priority: Priority,
    pub status: Status,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The newest comment that is not internal and not the agent's own.
    pub latest_reply: Option<Comment>,
}

/// Something that happened to a ticket, kept as its history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketEventKind {
    Created,
    Assigned {
        assignee: String,
    },
    Escalated {
        from: Tier,
        to: Tier,
    },
    StatusChanged {
        from: Status,
        to: Status,
    },
    /// A file was stored on the ticket without a technician asking (an
    /// employee's screenshot from the "Get help" window); the content is
    /// among the ticket's attachments under `attachment`.
    Attached {
        kind: AttachmentKind,
        name: String,
        attachment: AttachmentId,
    },
    /// The ticket passed the warning point of one of its SLA clocks.
    SlaWarning {
        clock: SlaClock,
        due_at: Timestamp,
    },
    /// The ticket passed the due time of one of its SLA clocks.
    SlaBreached {
        clock: SlaClock,
        due_at: Timestamp,
    },
    /// The employee said how satisfied they are with the resolution, 1 to 5.
    Rated {
        score: u8,
    },
    /// A technician changed the ticket's priority; the SLA clocks measure
    /// the time already used against the new priority's targets.
    PriorityChanged {
        from: Priority,
        to: Priority,
    },
}

/// The two promises an SLA makes about a ticket.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::Display,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum SlaClock {
    /// Until the first public technician comment or status change.
    FirstResponse,
    /// Until the ticket is resolved or closed.
    Resolution,
}
named_values!(SlaClock, "SLA clock");

impl SlaClock {
    /// The clock's name in a sentence: "first response", "resolution".
    pub fn label(self) -> &'static str {
        match self {
            SlaClock::FirstResponse => "first response",
            SlaClock::Resolution => "resolution",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketEvent {
    pub actor: String,
    pub at: Timestamp,
    pub event: TicketEventKind,
}

#[cfg(test)]
mod tests {
    use super::*;
    use Status::*;
    use StatusAction::*;

    #[test]
    fn the_happy_path_is_allowed() {
        assert_eq!(transition(Open, Start), Ok(InProgress));
        assert_eq!(transition(InProgress, Wait), Ok(Waiting));
        assert_eq!(transition(Waiting, Start), Ok(InProgress));
        assert_eq!(transition(InProgress, Resolve), Ok(Resolved));
        assert_eq!(transition(Resolved, Close), Ok(Closed));
        assert_eq!(transition(Closed, Reopen), Ok(Open));
        assert_eq!(transition(Resolved, Reopen), Ok(Open));
        assert_eq!(transition(Open, Close), Ok(Closed));
    }

    #[test]
    fn closed_ticket_cannot_go_back_to_work_without_reopen() {
        let err = transition(Closed, Start).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot start a ticket that is closed; reopen it first"
        );
        assert!(transition(Closed, Resolve).is_err());
        assert!(transition(Closed, Close).is_err());
        assert!(transition(Resolved, Start).is_err());
        assert!(transition(Resolved, Resolve).is_err());
    }

    #[test]
    fn open_ticket_cannot_be_reopened() {
        for s in [Open, InProgress, Waiting] {
            assert!(transition(s, Reopen).is_err(), "{s}");
        }
        assert!(transition(InProgress, Start).is_err());
        assert!(transition(Waiting, Wait).is_err());
    }

    #[test]
    fn every_pair_either_moves_or_explains() {
        for &from in Status::ALL {
            for action in [Start, Wait, Resolve, Close, Reopen] {
                match transition(from, action) {
                    Ok(to) => assert_ne!(to, from),
                    Err(e) => assert!(e.to_string().starts_with("cannot ")),
                }
            }
        }
    }

    #[test]
    fn escalation_stops_at_l3() {
        assert_eq!(Tier::L1.escalated(), Some(Tier::L2));
        assert_eq!(Tier::L2.escalated(), Some(Tier::L3));
        assert_eq!(Tier::L3.escalated(), None);
    }

    #[test]
    fn names_match_serde_and_stay_as_they_were() {
        fn serde_name<T: Serialize>(v: T) -> String {
            serde_json::to_value(v)
                .unwrap()
                .as_str()
                .unwrap()
                .to_string()
        }
        let statuses: Vec<_> = Status::ALL.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            statuses,
            ["open", "in_progress", "waiting", "resolved", "closed"]
        );
        for &s in Status::ALL {
            assert_eq!(s.as_str(), serde_name(s));
        }
        let tiers: Vec<_> = Tier::ALL.iter().map(|t| t.as_str()).collect();
        assert_eq!(tiers, ["l1", "l2", "l3"]);
        let categories: Vec<_> = Category::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            categories,
            ["hardware", "software", "network", "account", "other"]
        );
        let sources: Vec<_> = Source::ALL.iter().map(|s| s.to_string()).collect();
        assert_eq!(sources, ["employee", "health_alert", "technician"]);
        for &s in Source::ALL {
            assert_eq!(s.as_str(), serde_name(s));
        }
        for a in [Start, Wait, Resolve, Close, Reopen] {
            assert_eq!(a.as_str(), serde_name(a));
        }
        assert_eq!(
            "urgentish".parse::<Priority>().unwrap_err(),
            "unknown priority `urgentish`; use one of: low, normal, high, urgent"
        );
        assert_eq!(
            " Health-Alert ".parse::<Source>().unwrap(),
            Source::HealthAlert
        );
        assert_eq!(
            "l4".parse::<Tier>().unwrap_err(),
            "unknown tier `l4`; use one of: l1, l2, l3"
        );
    }

    #[test]
    fn enums_parse_their_own_names_and_refuse_others() {
        for &s in Status::ALL {
            assert_eq!(s.as_str().parse::<Status>().unwrap(), s);
        }
        assert_eq!("in-progress".parse::<Status>().unwrap(), InProgress);
        let err = "urgentish".parse::<Priority>().unwrap_err();
        assert!(err.contains("low, normal, high, urgent"), "{err}");
    }

    fn ticket(title: &str) -> NewTicket {
        NewTicket {
            id: TicketId::new_random(),
            title: title.into(),
            description: String::new(),
            category: Category::Software,
            priority: Priority::High,
            source: Source::Employee,
            requester: "alice".into(),
        }
    }

    #[test]
    fn new_ticket_bounds_are_enforced_at_the_edge() {
        assert!(ticket("Outlook keeps crashing").validate().is_ok());
        assert!(ticket("").validate().is_err());
        assert!(ticket(&"x".repeat(MAX_TITLE_LEN)).validate().is_ok());
        assert!(ticket(&"x".repeat(MAX_TITLE_LEN + 1)).validate().is_err());
        assert!(ticket("bad\u{1b}[31m").validate().is_err());
        assert!(ticket("two\nlines").validate().is_err());
        let mut t = ticket("ok");
        t.description = "y".repeat(MAX_TEXT_LEN + 1);
        assert!(t.validate().is_err());
    }

    #[test]
    fn internal_flags_and_attached_events_keep_their_json_and_frame_shape() {
        let note = Comment {
            id: CommentId::new_random(),
            author: "bob".into(),
            text: "printer model is EOL".into(),
            created_at: Timestamp(5),
            internal: true,
        };
        let json = serde_json::to_value(&note).unwrap();
        assert_eq!(json["internal"], true);
        let back: Comment =
            crate::codec::decode_frame(&crate::codec::encode(&note).unwrap()).unwrap();
        assert_eq!(back, note);
        let attached = TicketEventKind::Attached {
            kind: AttachmentKind::Screenshot,
            name: "screenshot.png".into(),
            attachment: AttachmentId(uuid::Uuid::nil()),
        };
        let json = serde_json::to_value(&attached).unwrap();
        assert_eq!(json["attached"]["kind"], "screenshot");
        assert_eq!(json["attached"]["name"], "screenshot.png");
        let text = serde_json::to_string(&attached).unwrap();
        assert_eq!(
            serde_json::from_str::<TicketEventKind>(&text).unwrap(),
            attached
        );
    }
}
