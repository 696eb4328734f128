//! Full-text search over tickets: titles and descriptions, comments
//! (resolution notes are comments too) and, for those who may see them,
//! internal notes. SQLite answers from FTS5 tables (`bm25`, `snippet`),
//! PostgreSQL from tsvector columns (`ts_rank_cd`, `ts_headline`); both
//! from migrations of their own (`migrations-sqlite/`,
//! `migrations-postgres/`), with the same query language:
//!
//! - a *document* is a ticket's title with its description, or one comment;
//!   a hit is a document holding every included term (`Combine::All`) or
//!   any of them (`Combine::Any`), and a ticket is shown once, with its best
//!   hit;
//! - an excluded term leaves out the whole ticket if any document of it the
//!   caller may see holds it.
//!
//! Terms are checked words (`SearchQuery::check`), and reach the database
//! only as bound values: quoted FTS5 phrases, or `phraseto_tsquery` input.
//! Snippets are computed for the returned rows only.

use super::queue::{filter_conditions, ticket_columns};
use super::rows::{self, opt_text, text};
use super::sql::{all_of, Sql};
use super::{Backend, Store, StoreError};
use sqlx::any::AnyRow;
use std::collections::HashMap;
use triage_shared::queue::{
    Combine, FilterContext, FoundIn, SearchHit, SearchQuery, SearchTerm, SimilarTicket, Snippet,
    TicketFilter, SNIPPET_LEN,
};
use triage_shared::text::truncate_at_char_boundary;
use triage_shared::ticket::{Status, Ticket};
use triage_shared::TicketId;

/// Where a store marks the start and end of a match in a snippet (private
/// use characters, which no one types).
pub(super) const MARK_OPEN: char = '\u{E000}';
pub(super) const MARK_CLOSE: char = '\u{E001}';
/// Tokens of text FTS5 puts in a snippet, about [`SNIPPET_LEN`] bytes.
pub(super) const SNIPPET_TOKENS: i64 = 24;

/// Who is searching, beyond the filter.
#[derive(Debug, Clone, Copy)]
struct Scope {
    include_internal: bool,
    except: Option<TicketId>,
}

/// A ticket found, with the document it was best found in.
struct Found {
    ticket: Ticket,
    resolution: Option<String>,
    found_in: FoundIn,
    doc_id: String,
}

fn found_in(name: &str) -> Result<FoundIn, StoreError> {
    match name {
        "ticket" => Ok(FoundIn::Ticket),
        "comment" => Ok(FoundIn::Comment),
        "internal_note" => Ok(FoundIn::InternalNote),
        other => Err(StoreError::Corrupt(format!("search found in `{other}`"))),
    }
}

fn found(row: &AnyRow) -> Result<Found, StoreError> {
    Ok(Found {
        ticket: rows::ticket(row)?,
        resolution: opt_text(row, "resolution")?,
        found_in: found_in(&text(row, "found_in")?)?,
        doc_id: text(row, "doc_id")?,
    })
}

/// One FTS5 phrase per term: the words are letters and digits only, so
/// quoting them cannot be broken out of.
fn fts5_phrase(term: &SearchTerm) -> String {
    format!("\"{}\"", term.words.join(" "))
}

/// The FTS5 query for the included terms.
pub(super) fn fts5_included(query: &SearchQuery) -> String {
    let joiner = match query.combine {
        Combine::All => " AND ",
        Combine::Any => " OR ",
    };
    query
        .included()
        .map(fts5_phrase)
        .collect::<Vec<_>>()
        .join(joiner)
}

/// The FTS5 query any excluded term matches, if there is one.
pub(super) fn fts5_excluded(query: &SearchQuery) -> Option<String> {
    let phrases: Vec<String> = query.excluded().map(fts5_phrase).collect();
    (!phrases.is_empty()).then(|| phrases.join(" OR "))
}

/// A tsquery expression of `terms`, each bound as `phraseto_tsquery` input.
pub(super) fn tsquery<'a>(
    sql: &mut Sql,
    terms: impl Iterator<Item = &'a SearchTerm>,
    joiner: &str,
) -> Option<String> {
    let parts: Vec<String> = terms
        .map(|t| {
            let words = sql.value(t.words.join(" "));
            format!("phraseto_tsquery('english', {words})")
        })
        .collect();
    (!parts.is_empty()).then(|| format!("({})", parts.join(joiner)))
}

pub(super) fn ts_joiner(combine: Combine) -> &'static str {
    match combine {
        Combine::All => " && ",
        Combine::Any => " || ",
    }
}

/// The conditions every search adds to the filter's: not the ticket
/// `except`, and none whose visible text holds an excluded term.
fn scope_conditions(sql: &mut Sql, scope: Scope) -> Vec<String> {
    let mut conditions = Vec::new();
    if let Some(except) = scope.except {
        let except = sql.value(except.to_string());
        conditions.push(format!("t.id <> {except}"));
    }
    conditions
}

fn visible(scope: Scope, internal: &str) -> String {
    if scope.include_internal {
        String::new()
    } else {
        format!(" AND {internal} = 0")
    }
}

/// Matching documents of each kind (ticket text, comments) a search ranks:
/// the newest this many that pass the filter. Ranking every match of a
/// common word would cost time in proportion to the whole store; a help
/// desk asking "has this happened before?" wants the recent history, so
/// relevance is judged among the newest matches, and the work per search
/// stays bounded however many tickets there are.
pub const SEARCH_CANDIDATES: i64 = 200;

/// The ranking query's tail, shared by both backends: the best document
/// per ticket among the candidates in `docs`, best first.
fn ranked_tail(sql: &mut Sql, limit: usize) -> String {
    let limit = sql.value(limit as i64);
    format!(
        "best AS (SELECT ticket_id, found_in, doc_id, score, \
                  ROW_NUMBER() OVER (PARTITION BY ticket_id ORDER BY score DESC, found_in, doc_id) AS place \
                  FROM docs) \
         SELECT {}, t.resolution, b.found_in, b.doc_id \
         FROM best b JOIN tickets t ON t.id = b.ticket_id \
         WHERE b.place = 1 \
         ORDER BY b.score DESC, t.id LIMIT {limit}",
        ticket_columns("t"),
    )
}

fn sqlite_ranked(
    query: &SearchQuery,
    filter: &TicketFilter,
    context: &FilterContext,
    scope: Scope,
    limit: usize,
) -> Sql {
    let mut sql = Sql::default();
    let matching = sql.value(fts5_included(query));
    let mut conditions = filter_conditions(&mut sql, filter, context);
    conditions.extend(scope_conditions(&mut sql, scope));
    if let Some(excluded) = fts5_excluded(query) {
        let excluded = sql.value(excluded);
        conditions.push(format!(
            "t.id NOT IN (SELECT ticket_id FROM ticket_text WHERE ticket_text MATCH {excluded} \
             UNION SELECT ticket_id FROM comment_text WHERE comment_text MATCH {excluded}{})",
            visible(scope, "internal")
        ));
    }
    let candidates = sql.value(SEARCH_CANDIDATES);
    let passing = all_of(&conditions);
    // FTS5 hands matches out in rowid order (the order the text was
    // written) and computes bm25 only for the rows a LIMIT lets through.
    // bm25 is lower for better matches; the title weighs more than the
    // description.
    let docs = format!(
        "WITH docs AS ( \
           SELECT * FROM ( \
             SELECT ticket_text.ticket_id AS ticket_id, 'ticket' AS found_in, \
                    ticket_text.ticket_id AS doc_id, \
                    -bm25(ticket_text, 0.0, 2.0, 1.0) AS score \
             FROM ticket_text JOIN tickets t ON t.id = ticket_text.ticket_id \
             WHERE ticket_text MATCH {matching} AND {passing} \
             ORDER BY ticket_text.rowid DESC LIMIT {candidates}) \
         UNION ALL \
           SELECT * FROM ( \
             SELECT comment_text.ticket_id, \
                    CASE WHEN comment_text.internal = 0 THEN 'comment' ELSE 'internal_note' END, \
                    comment_text.comment_id, -bm25(comment_text) \
             FROM comment_text JOIN tickets t ON t.id = comment_text.ticket_id \
             WHERE comment_text MATCH {matching}{} AND {passing} \
             ORDER BY comment_text.rowid DESC LIMIT {candidates})), ",
        visible(scope, "comment_text.internal")
    );
    let tail = ranked_tail(&mut sql, limit);
    sql.push(&docs).push(&tail);
    sql
}

fn postgres_ranked(
    query: &SearchQuery,
    filter: &TicketFilter,
    context: &FilterContext,
    scope: Scope,
    limit: usize,
) -> Sql {
    let mut sql = Sql::default();
    let matching = tsquery(&mut sql, query.included(), ts_joiner(query.combine))
        .unwrap_or_else(|| "''::tsquery".into());
    let mut conditions = filter_conditions(&mut sql, filter, context);
    conditions.extend(scope_conditions(&mut sql, scope));
    if let Some(excluded) = tsquery(&mut sql, query.excluded(), " || ") {
        conditions.push(format!(
            "NOT t.search_doc @@ {excluded} AND NOT EXISTS (SELECT 1 FROM ticket_comments x \
             WHERE x.ticket_id = t.id AND x.search_doc @@ {excluded}{})",
            visible(scope, "x.internal")
        ));
    }
    let candidates = sql.value(SEARCH_CANDIDATES);
    let passing = all_of(&conditions);
    // The newest candidates first, ranked after the LIMIT: the rank reads
    // each whole tsvector, so only the candidates pay for it.
    let docs = format!(
        "WITH docs AS ( \
           SELECT ticket_id, 'ticket' AS found_in, ticket_id AS doc_id, \
                  ts_rank_cd(doc, {matching}) AS score \
           FROM (SELECT t.id AS ticket_id, t.search_doc AS doc FROM tickets t \
                 WHERE t.search_doc @@ {matching} AND {passing} \
                 ORDER BY t.created_at DESC LIMIT {candidates}) newest_tickets \
         UNION ALL \
           SELECT ticket_id, CASE WHEN internal = 0 THEN 'comment' ELSE 'internal_note' END, \
                  doc_id, ts_rank_cd(doc, {matching}) \
           FROM (SELECT c.ticket_id, c.internal, c.id AS doc_id, c.search_doc AS doc \
                 FROM ticket_comments c JOIN tickets t ON t.id = c.ticket_id \
                 WHERE c.search_doc @@ {matching}{} AND {passing} \
                 ORDER BY c.created_at DESC LIMIT {candidates}) newest_comments), ",
        visible(scope, "c.internal")
    );
    let tail = ranked_tail(&mut sql, limit);
    sql.push(&docs).push(&tail);
    sql
}

/// The query for the marked text of `docs` (ticket ids when `tickets`,
/// else comment ids), as rows of (doc_id, marked).
fn snippets_query(backend: Backend, query: &SearchQuery, tickets: bool, docs: &[String]) -> Sql {
    let mut sql = Sql::default();
    let ids = sql.list(docs.iter().cloned());
    let text = match backend {
        Backend::Sqlite => {
            let open = sql.value(MARK_OPEN.to_string());
            let close = sql.value(MARK_CLOSE.to_string());
            let matching = sql.value(fts5_included(query));
            let tokens = sql.value(SNIPPET_TOKENS);
            if tickets {
                format!(
                    "SELECT ticket_id AS doc_id, snippet(ticket_text, -1, {open}, {close}, '…', {tokens}) AS marked \
                     FROM ticket_text WHERE ticket_text MATCH {matching} AND ticket_id IN ({ids})"
                )
            } else {
                format!(
                    "SELECT comment_id AS doc_id, snippet(comment_text, 3, {open}, {close}, '…', {tokens}) AS marked \
                     FROM comment_text WHERE comment_text MATCH {matching} AND comment_id IN ({ids})"
                )
            }
        }
        Backend::Postgres => {
            let matching = tsquery(&mut sql, query.included(), ts_joiner(query.combine))
                .unwrap_or_else(|| "''::tsquery".into());
            let options = sql.value(format!(
                "StartSel={open_c}, StopSel={close_c}, MaxWords={SNIPPET_TOKENS}, MinWords=8, \
                 MaxFragments=1, FragmentDelimiter=\" … \"",
                open_c = MARK_OPEN,
                close_c = MARK_CLOSE
            ));
            let (source, table) = if tickets {
                ("title || ' — ' || description", "tickets")
            } else {
                ("body", "ticket_comments")
            };
            format!(
                "SELECT id AS doc_id, ts_headline('english', {source}, {matching}, {options}) AS marked \
                 FROM {table} WHERE id IN ({ids})"
            )
        }
    };
    sql.push(&text);
    sql
}

/// A snippet of about [`SNIPPET_LEN`] bytes from marked text, around its
/// first match.
pub(super) fn bounded_snippet(marked: &str) -> Snippet {
    let mut snippet = Snippet::from_marked(marked, MARK_OPEN, MARK_CLOSE);
    if snippet.text.len() <= SNIPPET_LEN {
        return snippet;
    }
    let first = snippet.marks.first().map_or(0, |m| m.0 as usize);
    let mut start = first.saturating_sub(SNIPPET_LEN / 4);
    while !snippet.text.is_char_boundary(start) {
        start -= 1;
    }
    let mut text = snippet.text[start..].to_string();
    truncate_at_char_boundary(&mut text, SNIPPET_LEN);
    let end = text.len();
    snippet.marks = snippet
        .marks
        .iter()
        .filter_map(|&(s, e)| {
            let (s, e) = (s as usize, e as usize);
            (s >= start && e <= start + end).then(|| ((s - start) as u32, (e - start) as u32))
        })
        .collect();
    snippet.text = text;
    snippet
}

impl Store {
    /// The tickets `filter` selects whose text best matches `query`, best
    /// first, at most `limit`. Internal notes are searched (and shown) only
    /// when `include_internal`.
    pub async fn search_tickets(
        &self,
        query: &SearchQuery,
        filter: &TicketFilter,
        context: &FilterContext,
        include_internal: bool,
        limit: usize,
    ) -> Result<Vec<SearchHit>, StoreError> {
        let scope = Scope {
            include_internal,
            except: None,
        };
        let found = self.ranked(query, filter, context, scope, limit).await?;
        let mut marked = HashMap::new();
        for tickets in [true, false] {
            let docs: Vec<String> = found
                .iter()
                .filter(|f| (f.found_in == FoundIn::Ticket) == tickets)
                .map(|f| f.doc_id.clone())
                .collect();
            if docs.is_empty() {
                continue;
            }
            for row in snippets_query(self.backend, query, tickets, &docs)
                .query()
                .fetch_all(&self.pool)
                .await?
            {
                marked.insert((tickets, text(&row, "doc_id")?), text(&row, "marked")?);
            }
        }
        Ok(found
            .into_iter()
            .map(|f| {
                let key = (f.found_in == FoundIn::Ticket, f.doc_id);
                let snippet = match marked.get(&key) {
                    Some(m) => bounded_snippet(m),
                    // Written away meanwhile: the title says what it is.
                    None => bounded_snippet(&f.ticket.title),
                };
                SearchHit {
                    ticket: f.ticket,
                    found_in: f.found_in,
                    snippet,
                }
            })
            .collect())
    }

    /// Resolved or closed tickets most like ticket `id` (by the words of its
    /// title and description), with their resolution notes.
    pub async fn similar_tickets(
        &self,
        id: TicketId,
        limit: usize,
    ) -> Result<Vec<SimilarTicket>, StoreError> {
        let ticket = self
            .ticket(id)
            .await?
            .ok_or_else(|| super::ticket_not_found(id))?;
        let Some(query) =
            SearchQuery::similar_to(&format!("{} {}", ticket.title, ticket.description))
        else {
            return Ok(Vec::new());
        };
        let filter = TicketFilter {
            statuses: vec![Status::Resolved, Status::Closed],
            ..TicketFilter::default()
        };
        let context = FilterContext {
            caller: String::new(),
            agent: None,
            now: ticket.updated_at,
        };
        // Public text only: the list may be shown wherever the ticket is.
        let scope = Scope {
            include_internal: false,
            except: Some(id),
        };
        let found = self.ranked(&query, &filter, &context, scope, limit).await?;
        Ok(found
            .into_iter()
            .map(|f| SimilarTicket {
                ticket: f.ticket,
                resolution: f.resolution,
            })
            .collect())
    }

    async fn ranked(
        &self,
        query: &SearchQuery,
        filter: &TicketFilter,
        context: &FilterContext,
        scope: Scope,
        limit: usize,
    ) -> Result<Vec<Found>, StoreError> {
        query.check()?;
        filter.check()?;
        let sql = match self.backend {
            Backend::Sqlite => sqlite_ranked(query, filter, context, scope, limit),
            Backend::Postgres => postgres_ranked(query, filter, context, scope, limit),
        };
        sql.query()
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(found)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn term(words: &[&str], exclude: bool) -> SearchTerm {
        SearchTerm {
            words: words.iter().map(|w| w.to_string()).collect(),
            exclude,
        }
    }

    #[test]
    fn fts5_queries_quote_every_term_and_keep_exclusions_apart() {
        let query = SearchQuery {
            terms: vec![
                term(&["wifi"], false),
                term(&["drops", "out"], false),
                term(&["printer"], true),
            ],
            combine: Combine::All,
        };
        assert_eq!(fts5_included(&query), "\"wifi\" AND \"drops out\"");
        assert_eq!(fts5_excluded(&query).as_deref(), Some("\"printer\""));
        let any = SearchQuery {
            combine: Combine::Any,
            ..query
        };
        assert_eq!(fts5_included(&any), "\"wifi\" OR \"drops out\"");
    }

    #[test]
    fn postgres_terms_are_bound_not_spliced() {
        let mut sql = Sql::default();
        let terms = [term(&["blue", "screen"], false), term(&["boot"], false)];
        let expr = tsquery(&mut sql, terms.iter(), " && ").unwrap();
        assert_eq!(
            expr,
            "(phraseto_tsquery('english', $1) && phraseto_tsquery('english', $2))"
        );
        assert!(tsquery(&mut sql, [].iter(), " || ").is_none());
    }

    #[test]
    fn long_snippets_are_cut_around_the_first_match_keeping_its_mark() {
        let before = "word ".repeat(60);
        let marked = format!(
            "{before}\u{E000}printer\u{E001} is on fire{}",
            " ash".repeat(60)
        );
        let snippet = bounded_snippet(&marked);
        assert!(snippet.text.len() <= SNIPPET_LEN, "{}", snippet.text.len());
        let pieces = snippet.pieces();
        assert!(pieces.contains(&("printer", true)), "{pieces:?}");
        let short = bounded_snippet("the \u{E000}printer\u{E001}");
        assert_eq!(short.text, "the printer");
        assert_eq!(short.marks, vec![(4, 11)]);
    }
}
