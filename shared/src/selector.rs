//! How a technician names an endpoint or a ticket, as sent to the relay,
//! which resolves the name against its whole store (the CLI only parses).
//! - An endpoint: its full id, a unique id prefix of at least
//!   [`MIN_PREFIX_HEX`] hex digits, or its hostname (compared without
//!   regard to ASCII case). A name that is both a hostname and an id prefix
//!   must match one endpoint in total, so it is never silently taken as the
//!   other.
//! - A ticket: its full id or a unique id prefix.
//!
//! Both come off the network, so the relay checks them again with
//! [`AgentSelector::check`] and [`IdPrefix::parse`] before it queries.

use crate::ids::{AgentId, TicketId};
use crate::limits::MAX_NAME_LEN;
use crate::protocol::{ErrorKind, RemoteError};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Hex digits a prefix needs: the short id that tables show.
pub const MIN_PREFIX_HEX: usize = 8;
/// Hex digits in a whole UUID.
const UUID_HEX: usize = 32;
/// Candidates named in an "ambiguous" answer.
pub const MAX_AMBIGUOUS_SHOWN: usize = 5;

/// The start of an id: lowercase hex digits with the hyphens taken out,
/// from [`MIN_PREFIX_HEX`] to 32 of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdPrefix(String);

impl IdPrefix {
    /// `text` as a prefix, if it is long enough and hex enough to be one.
    /// Hyphens are ignored and case does not matter.
    pub fn parse(text: &str) -> Option<IdPrefix> {
        let digits: String = text
            .trim()
            .chars()
            .filter(|&c| c != '-')
            .collect::<String>()
            .to_ascii_lowercase();
        let fits = (MIN_PREFIX_HEX..=UUID_HEX).contains(&digits.len());
        (fits && digits.chars().all(|c| c.is_ascii_hexdigit())).then_some(IdPrefix(digits))
    }

    pub fn digits(&self) -> &str {
        &self.0
    }

    /// The prefix as ids are written (hyphens after hex digits 8, 12, 16
    /// and 20), so a store can match it against the stored text.
    pub fn as_uuid_text(&self) -> String {
        let mut text = String::with_capacity(self.0.len() + 4);
        for (i, c) in self.0.chars().enumerate() {
            if matches!(i, 8 | 12 | 16 | 20) {
                text.push('-');
            }
            text.push(c);
        }
        text
    }

    /// Whether `id` starts with this prefix.
    pub fn matches(&self, id: &uuid::Uuid) -> bool {
        id.simple().to_string().starts_with(&self.0)
    }

    /// A value that came off the network: the same rules as [`parse`](Self::parse).
    pub fn check(&self) -> Result<(), RemoteError> {
        match IdPrefix::parse(&self.0) {
            Some(again) if again == *self => Ok(()),
            _ => Err(RemoteError::new(
                ErrorKind::InvalidInput,
                format!(
                    "an id prefix is {MIN_PREFIX_HEX} to {UUID_HEX} hex digits; `{}` is not",
                    shown(&self.0)
                ),
            )),
        }
    }
}

impl fmt::Display for IdPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a technician names an endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AgentSelector {
    Id(AgentId),
    /// A hostname, or an id prefix, or both.
    Name(String),
}

impl AgentSelector {
    /// Reads what a technician typed.
    pub fn parse(text: &str) -> Result<AgentSelector, RemoteError> {
        let text = text.trim();
        if let Ok(id) = text.parse::<AgentId>() {
            return Ok(AgentSelector::Id(id));
        }
        let selector = AgentSelector::Name(text.to_string());
        selector.check()?;
        Ok(selector)
    }

    /// A selector that came off the network: a name is not empty, fits
    /// [`MAX_NAME_LEN`] and holds no control characters.
    pub fn check(&self) -> Result<(), RemoteError> {
        let AgentSelector::Name(name) = self else {
            return Ok(());
        };
        let problem = if name.trim().is_empty() {
            "name an endpoint by its id, the first 8 digits of its id, or its hostname (`triage agents list` shows them)".to_string()
        } else if name.len() > MAX_NAME_LEN {
            format!("an endpoint name is at most {MAX_NAME_LEN} bytes; give its id or hostname")
        } else if name.chars().any(char::is_control) {
            "an endpoint name holds no control characters; give its id or hostname".to_string()
        } else {
            return Ok(());
        };
        Err(RemoteError::new(ErrorKind::InvalidInput, problem))
    }

    /// The id prefix a name could also be.
    pub fn id_prefix(&self) -> Option<IdPrefix> {
        match self {
            AgentSelector::Id(_) => None,
            AgentSelector::Name(name) => IdPrefix::parse(name),
        }
    }
}

impl fmt::Display for AgentSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AgentSelector::Id(id) => write!(f, "{id}"),
            AgentSelector::Name(name) => f.write_str(&shown(name)),
        }
    }
}

/// How a technician names a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TicketRef {
    Full(TicketId),
    Prefix(IdPrefix),
}

impl TicketRef {
    /// `None` when `text` is neither a ticket id nor a long enough prefix.
    pub fn parse(text: &str) -> Option<TicketRef> {
        let text = text.trim();
        if let Ok(id) = text.parse::<TicketId>() {
            return Some(TicketRef::Full(id));
        }
        IdPrefix::parse(text).map(TicketRef::Prefix)
    }
}

impl fmt::Display for TicketRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TicketRef::Full(id) => write!(f, "{id}"),
            TicketRef::Prefix(prefix) => write!(f, "{prefix}"),
        }
    }
}

/// Where one page of the endpoint list ends: the next page starts after
/// this (hostname, id), the order the list is sorted in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentCursor {
    pub hostname: String,
    pub id: AgentId,
}

impl AgentCursor {
    /// A cursor that came off the network holds a hostname that could be stored.
    pub fn check(&self) -> Result<(), RemoteError> {
        if self.hostname.len() > MAX_NAME_LEN {
            return Err(RemoteError::new(
                ErrorKind::InvalidInput,
                "this page cursor is not one the relay handed out; list again from the start",
            ));
        }
        Ok(())
    }
}

/// Text typed by someone, made short and printable for an error message.
fn shown(text: &str) -> String {
    let mut shown: String = text
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .take(MAX_NAME_LEN)
        .collect();
    if text.chars().count() > MAX_NAME_LEN {
        shown.push('…');
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_ignore_case_and_hyphens_and_need_eight_hex_digits() {
        let p = IdPrefix::parse(" 1234ABCD-00 ").unwrap();
        assert_eq!(p.digits(), "1234abcd00");
        assert_eq!(p.as_uuid_text(), "1234abcd-00");
        assert!(IdPrefix::parse("1234abc").is_none());
        assert!(IdPrefix::parse("1234abcg").is_none());
        assert!(IdPrefix::parse(&"a".repeat(33)).is_none());
        let whole = "1234abcd-0000-4000-8000-000000000001";
        let p = IdPrefix::parse(whole).unwrap();
        assert_eq!(p.as_uuid_text(), whole);
        assert!(p.matches(&whole.parse().unwrap()));
        let p = IdPrefix::parse("1234abcd0000").unwrap();
        assert_eq!(p.as_uuid_text(), "1234abcd-0000");
        assert!(p.matches(&whole.parse().unwrap()));
        assert!(!IdPrefix::parse("1234abce")
            .unwrap()
            .matches(&whole.parse().unwrap()));
    }

    #[test]
    fn a_prefix_off_the_network_is_checked_again() {
        for forged in ["", "abc", "ABCDEF012", "abcdef01-", "abcdef01%", "zzzzzzzz"] {
            let err = IdPrefix(forged.into()).check().unwrap_err();
            assert_eq!(err.kind, ErrorKind::InvalidInput, "{forged}");
        }
        assert!(IdPrefix("abcdef01".into()).check().is_ok());
    }

    #[test]
    fn selectors_take_ids_names_and_refuse_what_cannot_be_a_name() {
        let id = AgentId::new_random();
        assert_eq!(
            AgentSelector::parse(&format!(" {id} ")).unwrap(),
            AgentSelector::Id(id)
        );
        let name = AgentSelector::parse(" laptop-7 ").unwrap();
        assert_eq!(name, AgentSelector::Name("laptop-7".into()));
        assert!(name.id_prefix().is_none());
        assert_eq!(
            AgentSelector::parse("DEADBEEF").unwrap().id_prefix(),
            IdPrefix::parse("deadbeef")
        );
        let empty = AgentSelector::parse("  ").unwrap_err();
        assert!(empty.message.contains("triage agents list"), "{empty:?}");
        assert!(AgentSelector::parse(&"x".repeat(MAX_NAME_LEN + 1)).is_err());
        let control = AgentSelector::Name("pc\u{1b}[2J".into())
            .check()
            .unwrap_err();
        assert_eq!(control.kind, ErrorKind::InvalidInput);
        assert!(!AgentSelector::Name("pc\u{1b}[2J".into())
            .to_string()
            .contains('\u{1b}'));
    }

    #[test]
    fn ticket_refs_are_ids_or_prefixes() {
        let id = TicketId::new_random();
        assert_eq!(TicketRef::parse(&id.to_string()), Some(TicketRef::Full(id)));
        assert!(matches!(
            TicketRef::parse(&id.short()),
            Some(TicketRef::Prefix(_))
        ));
        assert_eq!(TicketRef::parse("fix-vpn"), None);
    }

    #[test]
    fn cursors_with_oversized_hostnames_are_refused() {
        let cursor = AgentCursor {
            hostname: "h".repeat(MAX_NAME_LEN + 1),
            id: AgentId::new_random(),
        };
        assert_eq!(cursor.check().unwrap_err().kind, ErrorKind::InvalidInput);
    }
}
