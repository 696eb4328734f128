//! What a technician names, resolved against the whole store: an endpoint
//! by id, id prefix or hostname, a ticket by id or id prefix. The lookups
//! are bounded queries; choosing among what they found is the pure [`pick`],
//! so the wording of "no such" and "ambiguous" is tested without a store.

use crate::store::{AgentRecord, Store, StoreError};
use triage_shared::protocol::{ErrorKind, RemoteError};
use triage_shared::selector::{AgentCursor, AgentSelector, TicketRef, MAX_AMBIGUOUS_SHOWN};
use triage_shared::TicketId;

/// Candidates fetched for an ambiguous name: enough to say how many there
/// are, up to this many.
const MAX_CANDIDATES: usize = 100;

/// Endpoints on one page of `ListAgentsPage` when the technician asks for
/// "as many as allowed" (and the most they may ask for).
pub const AGENT_PAGE_LEN: usize = 500;

/// The one enrolled (not removed) agent `selector` names.
pub async fn agent(store: &Store, selector: &AgentSelector) -> Result<AgentRecord, StoreError> {
    selector.check()?;
    let candidates = match selector {
        AgentSelector::Id(id) => store
            .agent(*id)
            .await?
            .filter(|a| a.removed_at.is_none())
            .into_iter()
            .collect(),
        AgentSelector::Name(name) => {
            let prefix = selector.id_prefix();
            store
                .agents_named(name.trim(), prefix.as_ref(), MAX_CANDIDATES + 1)
                .await?
        }
    };
    let given = selector.to_string();
    let picked = pick(candidates, |a| format!("{} ({})", a.id, a.hostname)).map_err(|many| {
        match many {
            Picked::None => RemoteError::new(
                ErrorKind::NotFound,
                format!(
                    "no agent has the id or hostname `{given}`; run `triage agents list` to see them"
                ),
            ),
            Picked::Several(shown) => RemoteError::new(
                ErrorKind::InvalidInput,
                format!("`{given}` matches several agents ({shown}); give more of the id"),
            ),
        }
    })?;
    Ok(picked)
}

/// The one ticket `reference` names.
pub async fn ticket(store: &Store, reference: &TicketRef) -> Result<TicketId, StoreError> {
    let prefix = match reference {
        TicketRef::Full(id) => {
            return match store.ticket(*id).await? {
                Some(_) => Ok(*id),
                None => Err(crate::store::ticket_not_found(*id)),
            }
        }
        TicketRef::Prefix(prefix) => prefix,
    };
    prefix.check()?;
    let candidates = store
        .tickets_with_prefix(prefix, MAX_CANDIDATES + 1)
        .await?;
    let picked = pick(candidates, |id| id.to_string()).map_err(|many| match many {
        Picked::None => RemoteError::new(
            ErrorKind::NotFound,
            format!("no ticket id starts with `{prefix}`; run `triage tickets list` to see ids"),
        ),
        Picked::Several(shown) => RemoteError::new(
            ErrorKind::InvalidInput,
            format!("`{prefix}` matches several tickets ({shown}); type more of the id"),
        ),
    })?;
    Ok(picked)
}

/// One page of enrolled agents after `after`, and where the next page
/// starts (`None` when this is the last).
pub async fn agent_page(
    store: &Store,
    after: Option<&AgentCursor>,
    asked: u32,
) -> Result<(Vec<AgentRecord>, Option<AgentCursor>), StoreError> {
    if let Some(cursor) = after {
        cursor.check()?;
    }
    let len = match asked as usize {
        0 => AGENT_PAGE_LEN,
        n => n.min(AGENT_PAGE_LEN),
    };
    // One more than the page tells whether another page follows.
    let mut agents = store.list_agents_after(after, len + 1).await?;
    let next = if agents.len() > len {
        agents.truncate(len);
        agents.last().map(|a| AgentCursor {
            hostname: a.hostname.clone(),
            id: a.id,
        })
    } else {
        None
    };
    Ok((agents, next))
}

#[derive(Debug, PartialEq, Eq)]
enum Picked {
    None,
    /// The first [`MAX_AMBIGUOUS_SHOWN`] candidates, and how many in all.
    Several(String),
}

/// The only candidate, or why there is not exactly one. `candidates` holds
/// at most `MAX_CANDIDATES + 1`; more than `MAX_CANDIDATES` reads "more
/// than 100".
fn pick<T>(mut candidates: Vec<T>, label: impl Fn(&T) -> String) -> Result<T, Picked> {
    match candidates.len() {
        0 => Err(Picked::None),
        1 => Ok(candidates.remove(0)),
        n => {
            let mut shown: Vec<String> = candidates
                .iter()
                .take(MAX_AMBIGUOUS_SHOWN)
                .map(|c| crate::audit::bounded(&label(c)))
                .collect();
            if n > MAX_AMBIGUOUS_SHOWN {
                let count = if n > MAX_CANDIDATES {
                    format!("more than {MAX_CANDIDATES}")
                } else {
                    n.to_string()
                };
                shown.push(format!("{count} in all"));
            }
            Err(Picked::Several(shown.join(", ")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(n: &u32) -> String {
        format!("#{n}")
    }

    #[test]
    fn one_candidate_is_the_answer() {
        assert_eq!(pick(vec![7], label), Ok(7));
        assert_eq!(pick(Vec::<u32>::new(), label), Err(Picked::None));
    }

    #[test]
    fn several_candidates_are_named_up_to_five_with_the_count() {
        assert_eq!(
            pick(vec![1, 2], label),
            Err(Picked::Several("#1, #2".into()))
        );
        assert_eq!(
            pick((1..=7).collect(), label),
            Err(Picked::Several("#1, #2, #3, #4, #5, 7 in all".into()))
        );
        let Err(Picked::Several(text)) = pick((0..=MAX_CANDIDATES as u32).collect(), label) else {
            panic!("expected several");
        };
        assert!(text.ends_with("more than 100 in all"), "{text}");
    }

    #[test]
    fn candidate_labels_are_cleaned() {
        let Err(Picked::Several(text)) = pick(vec![1u32, 2], |_| "pc\u{1b}[2J".into()) else {
            panic!("expected several");
        };
        assert!(!text.contains('\u{1b}'), "{text}");
    }
}
