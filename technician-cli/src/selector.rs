//! How a technician names a script or an agent on the command line, matched
//! as pure functions against lists the command fetched (like
//! [`crate::ticket_ref`] for tickets).
//! - A script: its full id or a unique prefix of at least
//!   [`MIN_PREFIX_HEX`](crate::ticket_ref::MIN_PREFIX_HEX) hex digits, among
//!   the ticket's scripts.
//! - An agent: parsed here and sent as a
//!   [`triage_shared::selector::AgentSelector`]; the relay matches it
//!   against every enrolled agent.

use crate::error::CliError;
use crate::ticket_ref::{hex_prefix, matching, shown, MAX_AMBIGUOUS_SHOWN};
use triage_shared::approval::ScriptId;
pub use triage_shared::selector::AgentSelector;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptRef {
    Full(ScriptId),
    /// Lowercase hex digits, hyphens removed.
    Prefix(String),
}

impl ScriptRef {
    pub fn parse(text: &str) -> Result<ScriptRef, CliError> {
        if let Ok(id) = text.parse::<ScriptId>() {
            return Ok(ScriptRef::Full(id));
        }
        hex_prefix(text)
            .map(ScriptRef::Prefix)
            .ok_or_else(|| CliError::BadScriptId(shown(text)))
    }

    /// The one script among `known` (the ticket's scripts) this names.
    /// `ticket` is the short ticket id, for the error message.
    pub fn resolve(
        &self,
        known: impl IntoIterator<Item = ScriptId>,
        ticket: &str,
    ) -> Result<ScriptId, CliError> {
        let prefix = match self {
            ScriptRef::Full(id) => return Ok(*id),
            ScriptRef::Prefix(p) => p,
        };
        let matches = matching(prefix, known.into_iter().map(|id| id.0));
        match matches.as_slice() {
            [] => Err(CliError::NoSuchScript {
                prefix: prefix.clone(),
                ticket: ticket.to_string(),
            }),
            [one] => Ok(ScriptId(*one)),
            many => Err(CliError::AmbiguousScript {
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

/// What a technician typed to name an agent, checked as the relay will
/// check it; the relay does the matching against every enrolled agent.
pub fn parse_agent(text: &str) -> Result<AgentSelector, CliError> {
    AgentSelector::parse(text).map_err(|e| CliError::InvalidInput(e.message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_names_are_checked_before_they_are_sent() {
        assert_eq!(
            parse_agent(" laptop-7 ").unwrap(),
            AgentSelector::Name("laptop-7".into())
        );
        let err = parse_agent("  ").unwrap_err();
        assert!(matches!(err, CliError::InvalidInput(_)), "{err}");
        assert!(err.to_string().contains("triage agents list"), "{err}");
        assert!(matches!(
            parse_agent("pc\u{1b}[2J"),
            Err(CliError::InvalidInput(_))
        ));
    }

    #[test]
    fn scripts_are_found_by_full_id_or_unique_prefix() {
        let known = [
            ScriptId("aaaa1111-0000-4000-8000-000000000001".parse().unwrap()),
            ScriptId("aaaa1111-0000-4000-8000-000000000002".parse().unwrap()),
            ScriptId("bbbb2222-0000-4000-8000-000000000003".parse().unwrap()),
        ];
        let full = ScriptRef::parse("aaaa1111-0000-4000-8000-000000000002").unwrap();
        assert_eq!(full.resolve([], "t").unwrap(), known[1]);
        let r = ScriptRef::parse("BBBB2222").unwrap();
        assert_eq!(r.resolve(known, "t").unwrap(), known[2]);
        let err = ScriptRef::parse("aaaa1111")
            .unwrap()
            .resolve(known, "t")
            .unwrap_err();
        assert!(matches!(err, CliError::AmbiguousScript { .. }), "{err}");
        let err = ScriptRef::parse("cccc3333")
            .unwrap()
            .resolve(known, "1234abcd")
            .unwrap_err();
        assert!(
            err.to_string().contains("triage script list 1234abcd"),
            "{err}"
        );
        assert!(matches!(
            ScriptRef::parse("aaaa"),
            Err(CliError::BadScriptId(_))
        ));
        assert!(matches!(
            ScriptRef::parse("fix.sh"),
            Err(CliError::BadScriptId(_))
        ));
    }
}
