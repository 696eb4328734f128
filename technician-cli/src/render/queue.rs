//! The queue's answers: search results with their snippets, the count line
//! under `agents list`, and the similar resolved tickets `tickets show`
//! ends with.

use crate::text::{age, truncate};
use crate::ticket_ref::short_id;
use triage_shared::queue::{AgentCount, SearchHit, SimilarTicket, Snippet};
use triage_shared::text::clean;
use triage_shared::time::Timestamp;

/// Characters of a resolution shown beside a similar ticket.
const RESOLUTION_SHOWN: usize = 100;

/// `tickets search`: two lines a hit, best first: the ticket, then where
/// the words matched with the matched words between `*`.
pub fn search_hits(hits: &[SearchHit], now: Timestamp) -> String {
    if hits.is_empty() {
        return "No ticket matches.\n".into();
    }
    let mut text = String::new();
    for hit in hits {
        let t = &hit.ticket;
        text.push_str(&format!(
            "{}  {}  {}  {}  {}  {}\n    {}: {}\n",
            short_id(&t.id),
            t.status,
            t.tier,
            age(t.created_at, now),
            clean(t.hostname.as_deref().unwrap_or("-")),
            clean(&t.title),
            hit.found_in.as_str().replace('_', " "),
            marked(&hit.snippet),
        ));
    }
    text
}

/// The snippet on one line, cleaned, with each match between `*`.
pub fn marked(snippet: &Snippet) -> String {
    snippet
        .pieces()
        .into_iter()
        .map(|(piece, matched)| {
            let piece = clean(&piece.replace(['\n', '\t'], " "));
            if matched {
                format!("*{piece}*")
            } else {
                piece
            }
        })
        .collect()
}

/// The line under `agents list`: `1,204 endpoints, 1,180 online`.
pub fn agent_count_line(count: &AgentCount) -> String {
    let noun = if count.matching == 1 {
        "endpoint"
    } else {
        "endpoints"
    };
    format!(
        "{} {noun}, {} online\n",
        grouped(count.matching),
        grouped(count.online)
    )
}

/// `n` with a comma between each group of three digits.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The end of `tickets show`: resolved tickets like this one, each with
/// the note it was resolved with.
pub fn similar_section(similar: &[SimilarTicket], now: Timestamp) -> String {
    if similar.is_empty() {
        return String::new();
    }
    let mut text = String::from("\nSimilar resolved tickets:\n");
    for s in similar {
        let t = &s.ticket;
        let resolution = s
            .resolution
            .as_deref()
            .map(|r| truncate(&clean(&r.replace(['\n', '\t'], " ")), RESOLUTION_SHOWN))
            .unwrap_or_else(|| "(resolved without a note)".into());
        text.push_str(&format!(
            "  {}  {}  {}\n      resolution: {resolution}\n",
            short_id(&t.id),
            age(t.created_at, now),
            clean(&t.title),
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_shared::queue::FoundIn;

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_204), "1,204");
        assert_eq!(grouped(1_000_000), "1,000,000");
        assert_eq!(
            agent_count_line(&AgentCount {
                matching: 1_204,
                online: 1_180
            }),
            "1,204 endpoints, 1,180 online\n"
        );
        assert_eq!(
            agent_count_line(&AgentCount {
                matching: 1,
                online: 0
            }),
            "1 endpoint, 0 online\n"
        );
    }

    #[test]
    fn hits_show_the_match_and_nothing_a_terminal_would_obey() {
        let ticket = super::super::tests::ticket("VPN \u{1b}[31mdrops");
        let hit = SearchHit {
            ticket,
            found_in: FoundIn::InternalNote,
            snippet: Snippet {
                text: "the vpn\ndrops \u{1b}]0;x\u{7}".into(),
                marks: vec![(4, 7)],
            },
        };
        let text = search_hits(&[hit], super::super::tests::NOW);
        assert!(text.contains("internal note: the *vpn* drops"), "{text}");
        assert!(!text.contains('\u{1b}'), "{text:?}");
        assert!(!text.contains('\u{7}'), "{text:?}");
        assert_eq!(search_hits(&[], Timestamp(0)), "No ticket matches.\n");
    }

    #[test]
    fn similar_tickets_show_their_resolution() {
        let ticket = super::super::tests::ticket("Printer jams");
        let with = SimilarTicket {
            ticket: ticket.clone(),
            resolution: Some("Replaced the\nroller".into()),
        };
        let without = SimilarTicket {
            ticket,
            resolution: None,
        };
        let text = similar_section(&[with, without], super::super::tests::NOW);
        assert!(text.starts_with("\nSimilar resolved tickets:\n"), "{text}");
        assert!(text.contains("resolution: Replaced the roller"), "{text}");
        assert!(text.contains("(resolved without a note)"), "{text}");
        assert_eq!(similar_section(&[], Timestamp(0)), "");
    }
}
