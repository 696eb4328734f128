//! What an agent may do to a ticket it filed itself, after filing it: add a
//! comment (a health alert's new readings, or that it cleared) or resolve
//! it with a note. Sent as `Request::SubmitUpdate` with an [`UpdateId`] made
//! when the update was queued, so a redelivered update is applied once.
//!
//! [`UpdateId`]: crate::ids::UpdateId

use crate::limits::MAX_TEXT_LEN;
use crate::ticket::{check_text, InvalidInput};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentUpdate {
    /// A comment from the agent.
    Comment(String),
    /// Resolve the ticket with this note as a comment. A ticket a
    /// technician already resolved or closed only gets the note.
    Resolve(String),
}

impl AgentUpdate {
    pub fn name(&self) -> &'static str {
        match self {
            AgentUpdate::Comment(_) => "comment",
            AgentUpdate::Resolve(_) => "resolve",
        }
    }

    /// The text the update carries.
    pub fn text(&self) -> &str {
        match self {
            AgentUpdate::Comment(text) | AgentUpdate::Resolve(text) => text,
        }
    }

    /// Bounded, non-empty text without control characters (bar newlines and tabs).
    pub fn validate(&self) -> Result<(), InvalidInput> {
        let field = match self {
            AgentUpdate::Comment(_) => "comment",
            AgentUpdate::Resolve(_) => "note",
        };
        check_text(field, self.text(), MAX_TEXT_LEN, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{decode_frame, encode};

    #[test]
    fn update_text_is_bounded_and_must_not_be_empty() {
        assert!(AgentUpdate::Comment("disk at 97%".into())
            .validate()
            .is_ok());
        assert!(AgentUpdate::Resolve("x".repeat(MAX_TEXT_LEN))
            .validate()
            .is_ok());
        let long = AgentUpdate::Resolve("x".repeat(MAX_TEXT_LEN + 1));
        assert_eq!(long.validate().unwrap_err().field, "note");
        assert!(AgentUpdate::Comment("  ".into()).validate().is_err());
        assert!(AgentUpdate::Comment("bell\u{7}".into()).validate().is_err());
        assert!(AgentUpdate::Comment("two\nlines\tok".into())
            .validate()
            .is_ok());
    }

    #[test]
    fn submit_update_round_trips() {
        use crate::ids::{TicketId, UpdateId};
        use crate::protocol::Request;
        let request = Request::SubmitUpdate {
            id: UpdateId::new_random(),
            ticket: TicketId::new_random(),
            update: AgentUpdate::Resolve("cleared".into()),
        };
        assert_eq!(request.name(), "submit_update");
        let back: Request = decode_frame(&encode(&request).unwrap()).unwrap();
        assert_eq!(back, request);
    }

    #[test]
    fn the_one_shot_peer_kind_was_appended_not_inserted() {
        use crate::protocol::PeerKind;
        // bincode encodes a variant as its index: existing peers must keep theirs.
        let index = |kind: PeerKind| encode(&kind).unwrap()[4];
        assert_eq!(index(PeerKind::Agent), 0);
        assert_eq!(index(PeerKind::Technician), 1);
        assert_eq!(index(PeerKind::AgentOneShot), 2);
    }

    #[test]
    fn updates_survive_bincode() {
        for update in [
            AgentUpdate::Comment("c".into()),
            AgentUpdate::Resolve("r".into()),
        ] {
            let back: AgentUpdate = decode_frame(&encode(&update).unwrap()).unwrap();
            assert_eq!(back, update);
        }
    }
}
