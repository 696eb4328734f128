//! How a technician names a script or an agent on the command line, matched
//! as pure functions against lists the command fetched (like
//! [`crate::ticket_ref`] for tickets).
//! - A script: its full id or a unique prefix of at least
//!   [`MIN_PREFIX_HEX`](crate::ticket_ref::MIN_PREFIX_HEX) hex digits, among
//!   the ticket's scripts.
//! - An agent: its full id, a unique id prefix, or its hostname (compared
//!   without regard to case). A name that is both a hostname and an id
//!   prefix must match one agent in total, so it is never silently taken
//!   as the other.

use crate::error::CliError;
use crate::ticket_ref::{hex_prefix, matching, shown, MAX_AMBIGUOUS_SHOWN};
use triage_shared::approval::ScriptId;
use triage_shared::protocol::AgentSummary;
use triage_shared::text::clean;
use triage_shared::AgentId;

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

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentSelector {
    Id(AgentId),
    /// A hostname, or an id prefix, or both.
    Name(String),
}

impl AgentSelector {
    pub fn parse(text: &str) -> Result<AgentSelector, CliError> {
        let text = text.trim();
        if let Ok(id) = text.parse::<AgentId>() {
            return Ok(AgentSelector::Id(id));
        }
        if text.is_empty() {
            return Err(CliError::InvalidInput(
                "name an agent by its id, the first 8 digits of its id, or its hostname (`triage agents list` shows them)".into(),
            ));
        }
        Ok(AgentSelector::Name(text.to_string()))
    }

    /// The one agent among `agents` this names.
    pub fn resolve<'a>(&self, agents: &'a [AgentSummary]) -> Result<&'a AgentSummary, CliError> {
        let (given, matches): (String, Vec<&AgentSummary>) = match self {
            AgentSelector::Id(id) => (
                id.to_string(),
                agents.iter().filter(|a| a.id == *id).collect(),
            ),
            AgentSelector::Name(name) => {
                let prefix = hex_prefix(name);
                let by_prefix: Vec<_> = match &prefix {
                    Some(p) => matching(p, agents.iter().map(|a| a.id.0)),
                    None => Vec::new(),
                };
                let found = agents
                    .iter()
                    .filter(|a| {
                        a.hostname.eq_ignore_ascii_case(name) || by_prefix.contains(&a.id.0)
                    })
                    .collect();
                (shown(name), found)
            }
        };
        let mut matches = matches;
        matches.sort_by_key(|a| a.id);
        matches.dedup_by_key(|a| a.id);
        match matches.as_slice() {
            [] => Err(CliError::NoSuchAgent(given)),
            [one] => Ok(one),
            many => Err(CliError::AmbiguousAgent {
                given,
                matches: many
                    .iter()
                    .take(MAX_AMBIGUOUS_SHOWN)
                    .map(|a| format!("{} ({})", a.id, clean(&a.hostname)))
                    .collect(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_shared::time::Timestamp;

    fn agent(id: &str, host: &str) -> AgentSummary {
        AgentSummary {
            id: id.parse().unwrap(),
            hostname: host.into(),
            os: "Debian 12".into(),
            enrolled_at: Timestamp(0),
            last_seen: None,
            online: true,
        }
    }

    fn fleet() -> Vec<AgentSummary> {
        vec![
            agent("1234abcd-0000-4000-8000-000000000001", "laptop-7"),
            agent("1234abcd-0000-4000-8000-000000000002", "desk-1"),
            agent("9999ffff-1111-4000-8000-000000000003", "deadbeef"),
            agent("deadbeef-2222-4000-8000-000000000004", "kiosk"),
            agent("5555aaaa-3333-4000-8000-000000000005", "twin"),
            agent("6666bbbb-4444-4000-8000-000000000006", "TWIN"),
        ]
    }

    fn pick(text: &str) -> Result<String, CliError> {
        let fleet = fleet();
        AgentSelector::parse(text)?
            .resolve(&fleet)
            .map(|a| a.hostname.clone())
    }

    #[test]
    fn an_agent_is_found_by_full_id_prefix_or_hostname() {
        assert_eq!(
            pick("9999ffff-1111-4000-8000-000000000003").unwrap(),
            "deadbeef"
        );
        assert_eq!(pick("9999FFFF").unwrap(), "deadbeef");
        let err = pick("1234abcd-0000").unwrap_err();
        assert!(err.to_string().contains("several"), "{err}");
        assert_eq!(
            pick("1234abcd-0000-4000-8000-000000000002").unwrap(),
            "desk-1"
        );
        assert_eq!(pick("LAPTOP-7").unwrap(), "laptop-7");
        assert_eq!(pick(" kiosk ").unwrap(), "kiosk");
    }

    #[test]
    fn a_name_that_is_both_a_hostname_and_an_id_prefix_is_ambiguous() {
        let err = pick("deadbeef").unwrap_err();
        assert!(matches!(err, CliError::AmbiguousAgent { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("(kiosk)") && text.contains("(deadbeef)"),
            "{text}"
        );
    }

    #[test]
    fn hostnames_shared_by_two_agents_need_the_id() {
        let err = pick("twin").unwrap_err();
        assert!(err.to_string().contains("5555aaaa"), "{err}");
        assert!(err.to_string().contains("6666bbbb"), "{err}");
    }

    #[test]
    fn an_unknown_agent_says_how_to_list_them() {
        for text in [
            "printer-9",
            "abcdef0123",
            "0000aaaa-0000-4000-8000-000000000000",
        ] {
            let err = pick(text).unwrap_err();
            assert!(matches!(err, CliError::NoSuchAgent(_)), "{text}: {err}");
            assert!(err.to_string().contains("triage agents list"), "{err}");
        }
        assert!(matches!(pick("  "), Err(CliError::InvalidInput(_))));
        let err = pick("evil\u{1b}[2J").unwrap_err();
        assert!(!err.to_string().contains('\u{1b}'));
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
