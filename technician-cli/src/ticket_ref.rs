//! How a technician names a ticket on the command line: the full UUID, or a
//! unique prefix of at least [`MIN_PREFIX_HEX`] hex digits (what `tickets
//! list` shows). Matching a prefix against a list is a pure function here;
//! fetching the list is the command's job.

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

    /// The one ticket among `known` this reference names.
    pub fn resolve(&self, known: impl IntoIterator<Item = TicketId>) -> Result<TicketId, CliError> {
        let prefix = match self {
            TicketRef::Full(id) => return Ok(*id),
            TicketRef::Prefix(p) => p,
        };
        let matches: Vec<TicketId> = matching(prefix, known.into_iter().map(|id| id.0))
            .into_iter()
            .map(TicketId)
            .collect();
        match matches.as_slice() {
            [] => Err(CliError::NoSuchTicket(prefix.clone())),
            [one] => Ok(*one),
            many => Err(CliError::AmbiguousTicket {
                prefix: prefix.clone(),
                matches: many
                    .iter()
                    .take(MAX_AMBIGUOUS_SHOWN)
                    .map(|id| id.to_string())
                    .collect(),
            }),
        }
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

    fn known() -> Vec<TicketId> {
        vec![
            id("1234abcd-0000-4000-8000-000000000001"),
            id("1234abcd-0000-4000-8000-000000000002"),
            id("9999ffff-1111-4000-8000-000000000003"),
        ]
    }

    #[test]
    fn full_id_is_taken_as_is_without_a_list() {
        let full = "1234abcd-0000-4000-8000-000000000001";
        let r = TicketRef::parse(full).unwrap();
        assert_eq!(r, TicketRef::Full(id(full)));
        assert_eq!(r.resolve([]).unwrap(), id(full));
    }

    #[test]
    fn unique_prefix_finds_its_ticket() {
        let r = TicketRef::parse("9999FFFF").unwrap();
        assert_eq!(
            r.resolve(known()).unwrap(),
            id("9999ffff-1111-4000-8000-000000000003")
        );
        // Hyphens are optional and may stop anywhere.
        let r = TicketRef::parse("9999ffff1111-40").unwrap();
        assert_eq!(
            r.resolve(known()).unwrap(),
            id("9999ffff-1111-4000-8000-000000000003")
        );
        // A longer prefix tells apart tickets that share their short id.
        let r = TicketRef::parse("1234abcd-0000-4000-8000-00000000000").unwrap();
        let list = vec![
            id("1234abcd-0000-4000-8000-000000000001"),
            id("1234abcd-0000-4000-8000-000000000010"),
        ];
        assert_eq!(
            r.resolve(list).unwrap(),
            id("1234abcd-0000-4000-8000-000000000001")
        );
    }

    #[test]
    fn ambiguous_prefix_names_the_candidates() {
        let err = TicketRef::parse("1234abcd")
            .unwrap()
            .resolve(known())
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("000000000001") && text.contains("000000000002"),
            "{text}"
        );
        assert!(text.contains("type more"), "{text}");
    }

    #[test]
    fn a_ticket_listed_twice_is_not_ambiguous() {
        let mut list = known();
        list.push(list[2]);
        assert!(TicketRef::parse("9999ffff").unwrap().resolve(list).is_ok());
    }

    #[test]
    fn unknown_prefix_says_how_to_find_ids() {
        let err = TicketRef::parse("abcdef01")
            .unwrap()
            .resolve(known())
            .unwrap_err();
        assert!(matches!(err, CliError::NoSuchTicket(_)));
        assert!(err.to_string().contains("triage tickets list"));
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
