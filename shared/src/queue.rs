//! The ticket queue as technicians ask for it: filters, sort orders and
//! page cursors for `tickets list`, the search query language of
//! `tickets search`, endpoint filters for `agents list`, and the frames of
//! the live `tickets watch` stream.
//!
//! Everything here comes off the network at the relay, so each type has a
//! `check` the relay runs before it builds a query, and every refusal names
//! the value and what is allowed.

use crate::ids::{AgentId, TicketId};
use crate::limits::MAX_NAME_LEN;
use crate::protocol::{ErrorKind, RemoteError};
use crate::selector::AgentSelector;
use crate::ticket::{Category, Priority, SlaClock, Source, Status, Ticket, Tier};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Tickets on one page of `ListTicketsPage`, and the most one may ask for.
pub const MAX_TICKET_PAGE: u32 = 500;
/// Results of one search, and the most one may ask for.
pub const MAX_SEARCH_RESULTS: u32 = 100;
/// Results of a search when the technician does not say.
pub const DEFAULT_SEARCH_RESULTS: u32 = 20;
/// Resolved tickets `tickets show` lists as similar.
pub const MAX_SIMILAR: u32 = 5;
/// Bytes in a search query.
pub const MAX_QUERY_LEN: usize = 256;
/// Words and phrases in a search query.
pub const MAX_QUERY_TERMS: usize = 16;
/// Values one repeatable filter may hold (`--status a --status b ...`).
pub const MAX_FILTER_VALUES: usize = 8;
/// Bytes of text around a search match.
pub const SNIPPET_LEN: usize = 160;
/// Bytes of a comment carried in a watch event.
pub const EXCERPT_LEN: usize = 120;

/// Whose tickets: anyone's, the caller's, nobody's or one technician's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum AssigneeFilter {
    #[default]
    Anyone,
    /// The technician who asks; the relay knows who that is.
    Me,
    Unassigned,
    Named(String),
}

impl AssigneeFilter {
    /// What a technician typed after `--assignee`: `me`, `none` or a name.
    pub fn parse(text: &str) -> Result<AssigneeFilter, RemoteError> {
        let text = text.trim();
        let filter = match text.to_ascii_lowercase().as_str() {
            "me" => AssigneeFilter::Me,
            "none" | "nobody" | "unassigned" => AssigneeFilter::Unassigned,
            _ => AssigneeFilter::Named(text.to_string()),
        };
        filter.check()?;
        Ok(filter)
    }

    pub fn check(&self) -> Result<(), RemoteError> {
        match self {
            AssigneeFilter::Named(name) => check_filter_name("--assignee", name),
            _ => Ok(()),
        }
    }
}

/// Which tickets a list, search or watch is about. Every part narrows:
/// the values of one repeatable part are alternatives, the parts combine.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketFilter {
    pub statuses: Vec<Status>,
    pub tiers: Vec<Tier>,
    pub priorities: Vec<Priority>,
    pub categories: Vec<Category>,
    pub sources: Vec<Source>,
    pub assignee: AssigneeFilter,
    /// Tickets filed by this endpoint, resolved by the relay.
    pub agent: Option<AgentSelector>,
    /// Who asked for help, exactly as the ticket names them.
    pub requester: Option<String>,
    pub created_since: Option<Timestamp>,
    pub updated_since: Option<Timestamp>,
    /// Past the warning point of an SLA clock still at stake ([`is_breaching`]).
    pub breaching: bool,
}

impl TicketFilter {
    /// A filter that came off the network: bounded lists, checked names.
    pub fn check(&self) -> Result<(), RemoteError> {
        check_values("--status", self.statuses.len())?;
        check_values("--tier", self.tiers.len())?;
        check_values("--priority", self.priorities.len())?;
        check_values("--category", self.categories.len())?;
        check_values("--source", self.sources.len())?;
        self.assignee.check()?;
        if let Some(agent) = &self.agent {
            agent.check()?;
        }
        if let Some(requester) = &self.requester {
            check_filter_name("--requester", requester)?;
        }
        Ok(())
    }
}

fn check_values(flag: &str, count: usize) -> Result<(), RemoteError> {
    if count > MAX_FILTER_VALUES {
        return Err(RemoteError::new(
            ErrorKind::InvalidInput,
            format!("{flag} is given {count} times; give it at most {MAX_FILTER_VALUES} times"),
        ));
    }
    Ok(())
}

fn check_filter_name(flag: &str, name: &str) -> Result<(), RemoteError> {
    let problem = if name.trim().is_empty() {
        "is empty; give a name".to_string()
    } else if name.len() > MAX_NAME_LEN {
        format!("is {} bytes; names are at most {MAX_NAME_LEN}", name.len())
    } else if name.chars().any(char::is_control) {
        "holds control characters; give a plain name".to_string()
    } else {
        return Ok(());
    };
    Err(RemoteError::new(
        ErrorKind::InvalidInput,
        format!("{flag} {problem}"),
    ))
}

/// The order of a ticket list. Each order ends in the ticket id, so it is
/// total and a cursor names one place in it.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
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
pub enum TicketSort {
    /// Newest first.
    #[default]
    Created,
    /// Most recently changed first.
    Updated,
    /// Most urgent first, then the one due soonest.
    Priority,
    /// Due soonest first.
    Due,
}

crate::ticket::named_values!(TicketSort, "sort");

impl TicketSort {
    /// The two sort keys of `ticket` in this order (the second is 0 where
    /// the order has one key); with the id they make a cursor.
    pub fn keys(self, ticket: &Ticket) -> [i64; 2] {
        match self {
            TicketSort::Created => [ticket.created_at.millis(), 0],
            TicketSort::Updated => [ticket.updated_at.millis(), 0],
            TicketSort::Priority => [priority_rank(ticket.priority), ticket.sla_due_at.millis()],
            TicketSort::Due => [ticket.sla_due_at.millis(), 0],
        }
    }

    /// Where the next page starts after `last`.
    pub fn cursor_after(self, last: &Ticket) -> TicketCursor {
        TicketCursor {
            sort: self,
            keys: self.keys(last),
            id: last.id,
        }
    }
}

/// Urgent is the highest; stored beside the priority name so the list can
/// be sorted by it with an index.
pub fn priority_rank(priority: Priority) -> i64 {
    match priority {
        Priority::Low => 0,
        Priority::Normal => 1,
        Priority::High => 2,
        Priority::Urgent => 3,
    }
}

/// Where one page of a ticket list ends: the next page starts after the
/// ticket with these sort keys and id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketCursor {
    pub sort: TicketSort,
    pub keys: [i64; 2],
    pub id: TicketId,
}

impl TicketCursor {
    /// A cursor is only good for the order it was handed out in.
    pub fn check(&self, sort: TicketSort) -> Result<(), RemoteError> {
        if self.sort != sort {
            return Err(RemoteError::new(
                ErrorKind::InvalidInput,
                format!(
                    "this page cursor belongs to a list sorted by {}, not by {sort}; list again from the start",
                    self.sort
                ),
            ));
        }
        Ok(())
    }
}

/// One word or "quoted phrase" of a search, and whether it is `-excluded`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchTerm {
    /// Lowercase words, in order; one word unless it was a phrase (or a
    /// word with punctuation inside, like `wi-fi`, which reads as a phrase).
    pub words: Vec<String>,
    pub exclude: bool,
}

/// How the included terms combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Combine {
    /// Every term must match (what a technician types).
    All,
    /// Any term may match, the more the better ("similar tickets").
    Any,
}

/// A parsed search: the same language on every store.
/// - Words match a word in the text, without regard to case: `wifi drops`
///   finds text holding both words, anywhere.
/// - `"blue screen"` matches the words next to each other, in that order.
/// - `-word` or `-"a phrase"` leaves out text holding it.
///
/// Words are runs of letters and digits; everything else separates them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchQuery {
    pub terms: Vec<SearchTerm>,
    pub combine: Combine,
}

const QUERY_HELP: &str =
    "search for words, \"a phrase\" in quotes, and -word to leave a word out, e.g. `wifi \"drops out\" -printer`";

impl SearchQuery {
    /// Reads what a technician typed.
    pub fn parse(text: &str) -> Result<SearchQuery, RemoteError> {
        let refuse = |problem: String| Err(RemoteError::new(ErrorKind::InvalidInput, problem));
        if text.len() > MAX_QUERY_LEN {
            return refuse(format!(
                "the search is {} bytes; keep it to {MAX_QUERY_LEN}",
                text.len()
            ));
        }
        if text.chars().any(char::is_control) {
            return refuse(format!("the search holds control characters; {QUERY_HELP}"));
        }
        let mut terms = Vec::new();
        let mut rest = text;
        loop {
            rest = rest.trim_start();
            if rest.is_empty() {
                break;
            }
            let exclude = rest.starts_with('-');
            if exclude {
                rest = &rest[1..];
            }
            let body;
            if let Some(quoted) = rest.strip_prefix('"') {
                let Some(end) = quoted.find('"') else {
                    return refuse(format!("a quote in the search is not closed; {QUERY_HELP}"));
                };
                body = &quoted[..end];
                rest = &quoted[end + 1..];
            } else {
                let end = rest
                    .find(|c: char| c.is_whitespace() || c == '"')
                    .unwrap_or(rest.len());
                body = &rest[..end];
                rest = &rest[end..];
            }
            let words = words_of(body);
            if words.is_empty() {
                if exclude && body.is_empty() {
                    return refuse(format!(
                        "`-` must be followed by the word to leave out; {QUERY_HELP}"
                    ));
                }
                // Punctuation alone matches nothing and narrows nothing.
                continue;
            }
            terms.push(SearchTerm { words, exclude });
        }
        let query = SearchQuery {
            terms,
            combine: Combine::All,
        };
        query.check()?;
        Ok(query)
    }

    /// Tickets like one with this text: any of its first distinct words
    /// that say something (not "the", "and", ...), best matches first.
    /// `None` when the text has no such word.
    pub fn similar_to(text: &str) -> Option<SearchQuery> {
        let mut terms: Vec<SearchTerm> = Vec::new();
        for word in words_of(text) {
            if word.chars().count() < 3 || STOP_WORDS.contains(&word.as_str()) {
                continue;
            }
            if terms.iter().any(|t| t.words[0] == word) {
                continue;
            }
            terms.push(SearchTerm {
                words: vec![word],
                exclude: false,
            });
            if terms.len() == MAX_QUERY_TERMS {
                break;
            }
        }
        (!terms.is_empty()).then_some(SearchQuery {
            terms,
            combine: Combine::Any,
        })
    }

    /// A query that came off the network, or was just parsed.
    pub fn check(&self) -> Result<(), RemoteError> {
        let refuse = |problem: String| Err(RemoteError::new(ErrorKind::InvalidInput, problem));
        if self.terms.len() > MAX_QUERY_TERMS {
            return refuse(format!(
                "the search has {} words and phrases; use at most {MAX_QUERY_TERMS}",
                self.terms.len()
            ));
        }
        let mut bytes = 0;
        for term in &self.terms {
            if term.words.is_empty() {
                return refuse(format!("the search holds an empty phrase; {QUERY_HELP}"));
            }
            for word in &term.words {
                bytes += word.len() + 1;
                if word.is_empty() || words_of(word) != [word.as_str()] {
                    return refuse(format!(
                        "`{}` is not one lowercase word; {QUERY_HELP}",
                        crate::text::clean(crate::text::shortened(word, MAX_NAME_LEN))
                    ));
                }
            }
        }
        if bytes > MAX_QUERY_LEN * 2 {
            return refuse(format!(
                "the search is too long; keep it to {MAX_QUERY_LEN} bytes"
            ));
        }
        if self.included().next().is_none() {
            return refuse(if self.terms.is_empty() {
                format!("the search is empty; {QUERY_HELP}")
            } else {
                format!(
                    "the search only leaves words out; give a word to find as well. {QUERY_HELP}"
                )
            });
        }
        Ok(())
    }

    pub fn included(&self) -> impl Iterator<Item = &SearchTerm> {
        self.terms.iter().filter(|t| !t.exclude)
    }

    pub fn excluded(&self) -> impl Iterator<Item = &SearchTerm> {
        self.terms.iter().filter(|t| t.exclude)
    }
}

impl fmt::Display for SearchQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, term) in self.terms.iter().enumerate() {
            if i > 0 {
                f.write_str(if self.combine == Combine::Any {
                    " | "
                } else {
                    " "
                })?;
            }
            if term.exclude {
                f.write_str("-")?;
            }
            if term.words.len() == 1 {
                f.write_str(&term.words[0])?;
            } else {
                write!(f, "\"{}\"", term.words.join(" "))?;
            }
        }
        Ok(())
    }
}

/// The words of `text` as a search sees them: runs of letters and digits,
/// lowercased.
pub fn words_of(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Words too common to make two tickets alike.
const STOP_WORDS: &[&str] = &[
    "the", "and", "for", "are", "but", "not", "you", "all", "any", "can", "had", "her", "was",
    "one", "our", "out", "has", "his", "how", "its", "may", "new", "now", "see", "who", "did",
    "get", "got", "yes", "this", "that", "with", "have", "from", "they", "will", "would", "there",
    "their", "what", "when", "which", "been", "were", "into", "than", "then", "them", "some",
    "could", "does", "just", "after", "again", "also", "very", "please", "help", "thanks",
    "working", "work", "issue", "problem",
];

/// Where a search hit its match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum FoundIn {
    /// The title or description.
    Ticket,
    Comment,
    /// A technician's internal note; only sent to those who may see notes.
    InternalNote,
}

impl FoundIn {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A short piece of the matching text, with the matched words marked as
/// byte ranges into `text` (on character boundaries).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snippet {
    pub text: String,
    pub marks: Vec<(u32, u32)>,
}

impl Snippet {
    /// A snippet from text with each match between `open` and `close`
    /// markers (as a store writes them); stray or unbalanced markers are
    /// dropped, so the marks are always in order and in bounds.
    pub fn from_marked(marked: &str, open: char, close: char) -> Snippet {
        let mut text = String::with_capacity(marked.len());
        let mut marks = Vec::new();
        let mut start: Option<usize> = None;
        for c in marked.chars() {
            if c == open {
                start.get_or_insert(text.len());
            } else if c == close {
                if let Some(s) = start.take() {
                    if s < text.len() {
                        marks.push((s as u32, text.len() as u32));
                    }
                }
            } else {
                text.push(c);
            }
        }
        Snippet { text, marks }
    }

    /// The pieces of the snippet in order, each with whether it matched.
    pub fn pieces(&self) -> Vec<(&str, bool)> {
        let mut pieces = Vec::new();
        let mut at = 0usize;
        for &(s, e) in &self.marks {
            let (s, e) = (s as usize, e as usize);
            let fits = at <= s
                && s < e
                && e <= self.text.len()
                && self.text.is_char_boundary(s)
                && self.text.is_char_boundary(e);
            if !fits {
                continue;
            }
            if at < s {
                pieces.push((&self.text[at..s], false));
            }
            pieces.push((&self.text[s..e], true));
            at = e;
        }
        if at < self.text.len() {
            pieces.push((&self.text[at..], false));
        }
        pieces
    }
}

/// One result of `SearchTickets`, best first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    pub ticket: Ticket,
    pub found_in: FoundIn,
    pub snippet: Snippet,
}

/// A resolved ticket like the one being looked at, and how it was resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimilarTicket {
    pub ticket: Ticket,
    /// The note given when it was resolved, if any.
    pub resolution: Option<String>,
}

/// Online, offline or either.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Presence {
    #[default]
    Any,
    Online,
    Offline,
}

/// Which endpoints `agents list` shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentFilter {
    pub presence: Presence,
    /// A hostname pattern: `*` any run of characters, `?` one, the rest
    /// literal, without regard to ASCII case.
    pub hostname: Option<String>,
    /// Text the OS description contains, without regard to ASCII case.
    pub os: Option<String>,
    pub seen_since: Option<Timestamp>,
}

impl AgentFilter {
    pub fn check(&self) -> Result<(), RemoteError> {
        if let Some(glob) = &self.hostname {
            check_filter_name("--hostname", glob)?;
        }
        if let Some(os) = &self.os {
            check_filter_name("--os", os)?;
        }
        Ok(())
    }

    /// Whether `hostname` fits the `--hostname` pattern (any, if none).
    pub fn hostname_matches(&self, hostname: &str) -> bool {
        self.hostname
            .as_deref()
            .is_none_or(|glob| glob_matches(glob, hostname))
    }
}

/// `*` and `?` wildcards, ASCII case ignored; iterative, so no pattern can
/// make it take more than `pattern × text` steps.
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().map(|c| c.to_ascii_lowercase()).collect();
    let t: Vec<char> = text.chars().map(|c| c.to_ascii_lowercase()).collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// How many endpoints a filter matches, and how many of those are online.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentCount {
    pub matching: u64,
    pub online: u64,
}

/// What happened to a ticket, as the live queue tells it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueEventKind {
    Created,
    StatusChanged {
        from: Status,
        to: Status,
    },
    Escalated {
        from: Tier,
        to: Tier,
    },
    Assigned {
        assignee: String,
    },
    /// A comment or internal note, with its first [`EXCERPT_LEN`] bytes.
    Commented {
        internal: bool,
        excerpt: String,
    },
    /// A file stored on the ticket (an employee's screenshot).
    Attached {
        name: String,
    },
    /// An SLA clock passed its warning point.
    SlaWarning {
        clock: SlaClock,
    },
    /// An SLA clock passed its due time.
    SlaBreached {
        clock: SlaClock,
    },
    /// The employee rated the resolution, 1 to 5.
    Rated {
        score: u8,
    },
    PriorityChanged {
        from: Priority,
        to: Priority,
    },
}

/// One event of the live queue: its place in the relay's event sequence,
/// who did what, and the ticket as it is now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueEvent {
    pub seq: u64,
    pub at: Timestamp,
    pub actor: String,
    pub kind: QueueEventKind,
    pub ticket: Ticket,
}

/// What `WatchQueue` streams, as `Response::Watch` frames.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum WatchFrame {
    /// First: the newest event sequence number now. Events after it follow;
    /// a watch that asked to resume gets those after its `after` first.
    Head {
        seq: u64,
    },
    Event(Box<QueueEvent>),
    /// The watcher fell behind (or resumed from too far back): `skipped`
    /// events were left out and the stream goes on after `resume_after`.
    Lagged {
        skipped: u64,
        resume_after: u64,
    },
}

/// The ticket id and endpoint a resolved filter narrows to, for code that
/// matches tickets against a filter without a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterContext {
    /// The technician `--assignee me` means.
    pub caller: String,
    /// The endpoint `--agent` named, resolved.
    pub agent: Option<AgentId>,
    pub now: Timestamp,
}

impl TicketFilter {
    /// Whether `ticket` is one this filter selects, with `--assignee me`
    /// and `--agent` resolved in `context`. The store's queries select the
    /// same tickets; the live queue uses this on each event.
    pub fn matches(&self, ticket: &Ticket, context: &FilterContext) -> bool {
        let assignee = match &self.assignee {
            AssigneeFilter::Anyone => true,
            AssigneeFilter::Me => ticket.assignee.as_deref() == Some(context.caller.as_str()),
            AssigneeFilter::Unassigned => ticket.assignee.is_none(),
            AssigneeFilter::Named(name) => ticket.assignee.as_deref() == Some(name.as_str()),
        };
        within(&self.statuses, &ticket.status)
            && within(&self.tiers, &ticket.tier)
            && within(&self.priorities, &ticket.priority)
            && within(&self.categories, &ticket.category)
            && within(&self.sources, &ticket.source)
            && assignee
            && (self.agent.is_none() || context.agent.is_some() && ticket.agent_id == context.agent)
            && self
                .requester
                .as_ref()
                .is_none_or(|r| ticket.requester == *r)
            && self.created_since.is_none_or(|t| ticket.created_at >= t)
            && self.updated_since.is_none_or(|t| ticket.updated_at >= t)
            && (!self.breaching || is_breaching(ticket, context.now))
    }
}

/// No values given means any value.
fn within<T: PartialEq>(values: &[T], value: &T) -> bool {
    values.is_empty() || values.contains(value)
}

/// Past the warning point (or the due time) of an SLA clock still at
/// stake: running, or paused while waiting.
pub fn is_breaching(ticket: &Ticket, now: Timestamp) -> bool {
    ticket.sla.as_ref().is_some_and(|s| s.needs_attention(now))
}

/// The statuses an SLA clock runs in.
pub fn is_active(status: Status) -> bool {
    matches!(status, Status::Open | Status::InProgress | Status::Waiting)
}

#[cfg(test)]
mod tests;
