//! How a technician names a ticket on the command line: the full UUID, or a
//! unique prefix of at least [`MIN_PREFIX_HEX`] hex digits (what `tickets
//! list` shows). Parsed here; the relay matches a prefix against every
//! ticket (`ResolveTicket`).

use crate::error::CliError;
use triage_shared::TicketId;
use uuid::Uuid;

/// Hex digits a prefix needs: the short id shown in tables.
pub const MIN_PREFIX_HEX: usize = 8;
/// Candidates named in an "ambiguous prefix" error.
pub const MAX_AMBIGUOUS_SHOWN: usize = 5;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TicketRef {
    Full(TicketId),
    /// Lowercase hex digits, hyphens removed.
    Prefix(String),
}

impl TicketRef {
    pub fn parse(text: &str) -> Result<TicketRef, CliError> {
        let text = text.trim();
        if let Ok(id) = text.parse::<TicketId>() {
            return Ok(TicketRef::Full(id));
        }
        hex_prefix(text)
            .map(TicketRef::Prefix)
            .ok_or_else(|| CliError::BadTicketId(shown(text)))
    }
}

/// The first 8 characters of a ticket's UUID, as tables show it.
pub fn short_id(id: &TicketId) -> String {
    id.short()
}

/// The first 8 characters of any id (ticket, script, agent).
pub fn short_uuid(id: &Uuid) -> String {
    id.to_string().chars().take(MIN_PREFIX_HEX).collect()
}

/// `text` as lowercase hex digits without hyphens, if it is long enough and
/// hex enough to be an id prefix.
pub(crate) fn hex_prefix(text: &str) -> Option<String> {
    let digits: String = text
        .trim()
        .chars()
        .filter(|&c| c != '-')
        .collect::<String>()
        .to_ascii_lowercase();
    (digits.len() >= MIN_PREFIX_HEX && digits.chars().all(|c| c.is_ascii_hexdigit()))
        .then_some(digits)
}

/// The distinct ids among `known` that start with `prefix` (as made by
/// [`hex_prefix`]), sorted.
pub(crate) fn matching(prefix: &str, known: impl IntoIterator<Item = Uuid>) -> Vec<Uuid> {
    let mut matches: Vec<Uuid> = known
        .into_iter()
        .filter(|id| id.simple().to_string().starts_with(prefix))
        .collect();
    matches.sort();
    matches.dedup();
    matches
}

/// User input shown back in an error: cut short and without control characters.
pub(crate) fn shown(text: &str) -> String {
    triage_shared::text::clean(&text.trim().chars().take(40).collect::<String>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> TicketId {
        s.parse().unwrap()
    }

    #[test]
    fn full_ids_and_prefixes_are_told_apart() {
        let full = "1234abcd-0000-4000-8000-000000000001";
        assert_eq!(
            TicketRef::parse(full).unwrap(),
            TicketRef::Full(full.parse().unwrap())
        );
        // Hyphens are optional and may stop anywhere; case does not matter.
        assert_eq!(
            TicketRef::parse("9999FFFF1111-40").unwrap(),
            TicketRef::Prefix("9999ffff111140".into())
        );
    }

    #[test]
    fn short_or_non_hex_prefixes_are_refused() {
        assert!(matches!(
            TicketRef::parse("1234abc"),
            Err(CliError::BadTicketId(_))
        ));
        assert!(matches!(
            TicketRef::parse("1234abcz"),
            Err(CliError::BadTicketId(_))
        ));
        assert!(matches!(
            TicketRef::parse(""),
            Err(CliError::BadTicketId(_))
        ));
        assert!(TicketRef::parse("1234abcd").is_ok());
        let err = TicketRef::parse("evil\u{1b}[2J").unwrap_err();
        assert!(!err.to_string().contains('\u{1b}'));
    }

    #[test]
    fn short_id_is_the_first_eight_characters() {
        assert_eq!(
            short_id(&id("1234abcd-0000-4000-8000-000000000001")),
            "1234abcd"
        );
    }
}
