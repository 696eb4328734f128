//! Typed identifiers. A ticket id is made by whoever creates the ticket, so a
//! create that is retried after a lost acknowledgement stores one ticket.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! uuid_id {
    ($name:ident, $what:literal) => {
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            pub fn new_random() -> Self {
                $name(Uuid::new_v4())
            }

            /// The first 8 hex digits: what tables, the "Get help" window
            /// and people on the phone use (the CLI takes any 8+ prefix).
            pub fn short(&self) -> String {
                let mut text = self.0.to_string();
                text.truncate(8);
                text
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                Uuid::parse_str(s.trim())
                    .map($name)
                    .map_err(|_| format!("`{s}` is not a valid {} (expected a UUID)", $what))
            }
        }
    };
}

uuid_id!(AgentId, "agent id");
uuid_id!(TicketId, "ticket id");
uuid_id!(CommentId, "comment id");
// Made by an agent when it queues an update to one of its tickets, so a
// redelivered update is applied once.
uuid_id!(UpdateId, "update id");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_refuse_garbage() {
        let id = TicketId::new_random();
        assert_eq!(id.to_string().parse::<TicketId>().unwrap(), id);
        let id: TicketId = "1234abcd-0000-4000-8000-000000000001".parse().unwrap();
        assert_eq!(id.short(), "1234abcd");
        let err = "not-a-uuid".parse::<AgentId>().unwrap_err();
        assert!(err.contains("agent id"), "{err}");
    }
}
