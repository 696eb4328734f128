//! `triage tickets ...`: list, show and work tickets.

use super::{connect, print_json, terminal_width, unexpected, Connected, JsonArray, Out};
use crate::args::{ListArgs, TicketsCommand, WatchArgs};
use crate::error::CliError;
use crate::home::Home;
use crate::pager::Pager;
use crate::render;
use crate::ticket_ref::{short_id, TicketRef};
use serde::Serialize;
use triage_shared::kb::{ArticleId, TicketArticles};
use triage_shared::limits::MAX_TEXT_LEN;
use triage_shared::protocol::TicketDetail;
use triage_shared::protocol::{Request, Response};
use triage_shared::queue::{SearchQuery, SimilarTicket, TicketFilter, MAX_SIMILAR};
use triage_shared::text::clean;
use triage_shared::text::{check_name, check_text};
use triage_shared::ticket::{Priority, StatusAction, Tier};
use triage_shared::time::Timestamp;
use triage_shared::TicketId;

/// `tickets show --json`: the ticket as the relay holds it, with the
/// similar resolved tickets beside it.
#[derive(Debug, Serialize)]
pub struct ShowJson {
    #[serde(flatten)]
    pub detail: TicketDetail,
    pub similar: Vec<SimilarTicket>,
    /// The employee's latest satisfaction score (1–5), from the history.
    pub rating: Option<u8>,
    /// Knowledge base articles: suggested for it, read by its employee
    /// before filing, and the one it was resolved with.
    pub articles: TicketArticles,
}

/// Most tickets one listing walks, whatever a relay hands out.
pub const MAX_LISTED_TICKETS: usize = 10_000_000;

/// A ticket command with its input checked, ready to send.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    List(ListArgs),
    Search {
        query: SearchQuery,
        filter: TicketFilter,
        limit: u32,
        json: bool,
    },
    Watch(WatchArgs),
    Show {
        target: TicketRef,
        json: bool,
    },
    Change {
        target: TicketRef,
        change: Change,
    },
    Attachment {
        target: TicketRef,
        attachment: String,
        output: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Comment(String),
    /// An internal note (`comment --internal`).
    Note(String),
    Assign(String),
    Escalate(Option<String>),
    Status(StatusAction, Option<String>),
    Priority(Priority, Option<String>),
    /// `follow` (true) or `unfollow` (false), for the caller.
    Follow(bool),
    /// `resolve --kb`: resolved, naming the article that solved it.
    ResolveWithArticle(ArticleId, Option<String>),
}

/// Checks everything that can be checked without the relay.
pub fn plan(command: TicketsCommand) -> Result<Plan, CliError> {
    use TicketsCommand as C;
    let change = |id: &str, change: Change| {
        Ok(Plan::Change {
            target: TicketRef::parse(id)?,
            change,
        })
    };
    match command {
        C::List(args) => Ok(Plan::List(args)),
        C::Search(args) => Ok(Plan::Search {
            query: SearchQuery::parse(&args.query)?,
            filter: args.filter.to_filter(),
            limit: args.limit,
            json: args.json,
        }),
        C::Watch(args) => Ok(Plan::Watch(args)),
        C::Show { id, json } => Ok(Plan::Show {
            target: TicketRef::parse(&id)?,
            json,
        }),
        C::Comment { id, text, internal } => {
            check_text("comment", &text, MAX_TEXT_LEN, false)?;
            if internal {
                change(&id, Change::Note(text))
            } else {
                change(&id, Change::Comment(text))
            }
        }
        C::Assign { id, who } => {
            check_name("assignee", &who)?;
            change(&id, Change::Assign(who))
        }
        C::Escalate { id, note } => change(&id, Change::Escalate(checked_note(note)?)),
        C::Start { id, note } => change(
            &id,
            Change::Status(StatusAction::Start, checked_note(note)?),
        ),
        C::Wait { id, note } => {
            change(&id, Change::Status(StatusAction::Wait, checked_note(note)?))
        }
        C::Resolve { id, note, kb: None } => change(
            &id,
            Change::Status(StatusAction::Resolve, checked_note(Some(note))?),
        ),
        C::Resolve {
            id,
            note,
            kb: Some(article),
        } => change(
            &id,
            Change::ResolveWithArticle(article, checked_note(Some(note))?),
        ),
        C::Close { id, note } => change(
            &id,
            Change::Status(StatusAction::Close, checked_note(note)?),
        ),
        C::Reopen { id, note } => change(
            &id,
            Change::Status(StatusAction::Reopen, checked_note(note)?),
        ),
        C::Priority { id, priority, note } => {
            change(&id, Change::Priority(priority, checked_note(note)?))
        }
        C::Follow { id } => change(&id, Change::Follow(true)),
        C::Unfollow { id } => change(&id, Change::Follow(false)),
        C::Attachment {
            id,
            attachment,
            output,
        } => Ok(Plan::Attachment {
            target: TicketRef::parse(&id)?,
            attachment,
            output,
        }),
    }
}

fn checked_note(note: Option<String>) -> Result<Option<String>, CliError> {
    if let Some(n) = &note {
        check_text("note", n, MAX_TEXT_LEN, false)?;
    }
    Ok(note)
}

pub async fn run(home: &Home, command: TicketsCommand, out: Out<'_>) -> Result<(), CliError> {
    let plan = match plan(command)? {
        // It keeps its own connection, and makes a new one when it drops.
        Plan::Watch(args) => return super::watch::run(home, args, out).await,
        plan => plan,
    };
    let conn = connect(home).await?;
    let result = execute(&conn, plan, out).await;
    conn.close().await;
    result
}

async fn execute(conn: &Connected, plan: Plan, out: Out<'_>) -> Result<(), CliError> {
    match plan {
        Plan::List(args) => list(conn, &args, out).await,
        Plan::Search {
            query,
            filter,
            limit,
            json,
        } => {
            let request = Request::SearchTickets {
                query,
                filter,
                limit,
            };
            let hits = match conn.ask(&request).await? {
                Response::SearchHits(hits) => hits,
                _ => return Err(unexpected(&request)),
            };
            if json {
                print_json(out, &hits)
            } else {
                out.write_all(render::search_hits(&hits, Timestamp::now()).as_bytes())?;
                Ok(())
            }
        }
        Plan::Watch(_) => unreachable!("a watch is run before connecting"),
        Plan::Show { target, json } => {
            let id = conn.resolve_ticket(&target).await?;
            let detail = conn.ticket(id).await?;
            let request = Request::SimilarTickets {
                ticket: id,
                limit: MAX_SIMILAR,
            };
            let similar = match conn.ask(&request).await? {
                Response::Similar(similar) => similar,
                _ => return Err(unexpected(&request)),
            };
            let request = Request::TicketArticles { ticket: id };
            let articles = match conn.ask(&request).await? {
                Response::TicketArticles(articles) => articles,
                _ => return Err(unexpected(&request)),
            };
            if json {
                let rating = render::rating(&detail);
                print_json(
                    out,
                    &ShowJson {
                        detail,
                        similar,
                        rating,
                        articles,
                    },
                )
            } else {
                let now = Timestamp::now();
                out.write_all(render::ticket_detail(&detail, now).as_bytes())?;
                out.write_all(render::similar_section(&similar, now).as_bytes())?;
                out.write_all(render::kb::ticket_articles_section(&articles).as_bytes())?;
                Ok(())
            }
        }
        Plan::Change { target, change } => {
            let id = conn.resolve_ticket(&target).await?;
            let line = apply(conn, id, change).await?;
            writeln!(out, "{line}")?;
            Ok(())
        }
        Plan::Attachment {
            target,
            attachment,
            output,
        } => super::logs::fetch_attachment(conn, &target, &attachment, output, out).await,
    }
}

/// Every ticket the filter selects (or the first `--limit`), a page at a
/// time. `--json` is written as one array as the pages come, so a long
/// list is never held whole; the table needs every row for its widths.
async fn list(conn: &Connected, args: &ListArgs, out: Out<'_>) -> Result<(), CliError> {
    let filter = args.filter.to_filter();
    let mut pager = Pager::new(args.limit.map(|n| n as usize), MAX_LISTED_TICKETS, "ticket");
    let mut rows = Vec::new();
    let mut json = args.json.then(|| JsonArray::start(&mut *out));
    while let Some((after, limit)) = pager.next() {
        let request = Request::ListTicketsPage {
            filter: filter.clone(),
            sort: args.sort,
            after,
            limit,
        };
        let page = match conn.ask(&request).await? {
            Response::TicketPage { tickets, next } => pager.take(tickets, next)?,
            _ => return Err(unexpected(&request)),
        };
        match &mut json {
            Some(array) => array.extend(&page)?,
            None => rows.extend(page),
        }
    }
    match json {
        Some(array) => array.finish(),
        None => {
            out.write_all(
                render::ticket_table(&rows, Timestamp::now(), terminal_width()).as_bytes(),
            )?;
            Ok(())
        }
    }
}

/// Sends one change and returns the line that says what happened.
async fn apply(conn: &Connected, id: TicketId, change: Change) -> Result<String, CliError> {
    let short = short_id(&id);
    let request = match &change {
        Change::Comment(text) => Request::Comment {
            id,
            text: text.clone(),
        },
        Change::Note(text) => Request::Note {
            id,
            text: text.clone(),
        },
        Change::Assign(who) => Request::Assign {
            id,
            assignee: who.clone(),
        },
        Change::Escalate(note) => Request::Escalate {
            id,
            note: note.clone(),
        },
        Change::Status(action, note) => Request::ChangeStatus {
            id,
            action: *action,
            note: note.clone(),
        },
        Change::Priority(priority, note) => Request::SetPriority {
            id,
            priority: *priority,
            note: note.clone(),
        },
        Change::Follow(follow) => Request::FollowTicket {
            id,
            follow: *follow,
        },
        Change::ResolveWithArticle(article, note) => Request::ResolveWithArticle {
            id,
            note: note.clone(),
            article: *article,
        },
    };
    let response = conn.ask(&request).await?;
    let updated = match response {
        Response::Ok => None,
        Response::Ticket(detail) => Some(detail.ticket),
        _ => return Err(unexpected(&request)),
    };
    Ok(match change {
        Change::Comment(_) => format!("Comment added to ticket {short}."),
        Change::Note(_) => {
            format!("Internal note added to ticket {short} (technicians only).")
        }
        Change::Assign(who) => format!("Ticket {short} assigned to {}.", clean(&who)),
        Change::Escalate(_) => {
            // The relay may answer with the ticket; otherwise ask for it.
            let tier = match updated {
                Some(t) => t.tier,
                None => conn.ticket(id).await?.ticket.tier,
            };
            escalated_message(&short, tier)
        }
        Change::Status(action, _) => status_message(&short, action),
        Change::Priority(priority, _) => format!("Ticket {short} is now {priority} priority."),
        Change::Follow(true) => format!(
            "Following ticket {short}: mail about it goes to your address (`triage technicians email`)."
        ),
        Change::Follow(false) => format!("No longer following ticket {short}."),
        Change::ResolveWithArticle(article, _) => {
            format!("Ticket {short} resolved; {article} counted as its fix.")
        }
    })
}

pub fn escalated_message(short: &str, tier: Tier) -> String {
    format!("Ticket {short} escalated to {tier}.")
}

/// What a successful status change did. The target status depends only on
/// the action (see `ticket::transition`), so no second request is needed.
pub fn status_message(short: &str, action: StatusAction) -> String {
    match action {
        StatusAction::Start => format!("Ticket {short} started (in_progress)."),
        StatusAction::Wait => format!("Ticket {short} set to waiting."),
        StatusAction::Resolve => format!("Ticket {short} resolved."),
        StatusAction::Close => format!("Ticket {short} closed."),
        StatusAction::Reopen => format!("Ticket {short} reopened."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command};
    use clap::Parser;
    use triage_shared::limits::MAX_TEXT_LEN;
    use triage_shared::ticket::{transition, Status};

    const FULL: &str = "1234abcd-0000-4000-8000-000000000001";

    fn plan_of(args: &[&str]) -> Result<Plan, CliError> {
        let cli = Cli::try_parse_from(["triage", "tickets"].iter().chain(args)).unwrap();
        match cli.command {
            Command::Tickets(c) => plan(c),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ids_are_parsed_before_connecting() {
        assert!(matches!(
            plan_of(&["show", FULL]).unwrap(),
            Plan::Show {
                target: TicketRef::Full(_),
                json: false
            }
        ));
        assert!(matches!(
            plan_of(&["show", "1234abcd", "--json"]).unwrap(),
            Plan::Show {
                target: TicketRef::Prefix(_),
                json: true
            }
        ));
        assert!(matches!(
            plan_of(&["close", "12"]),
            Err(CliError::BadTicketId(_))
        ));
    }

    #[test]
    fn comment_text_is_checked_with_the_shared_rules() {
        assert!(plan_of(&["comment", FULL, "Looking into it"]).is_ok());
        let at_limit = "x".repeat(MAX_TEXT_LEN);
        assert!(plan_of(&["comment", FULL, &at_limit]).is_ok());
        let over = "x".repeat(MAX_TEXT_LEN + 1);
        let err = plan_of(&["comment", FULL, &over]).unwrap_err();
        assert!(matches!(err, CliError::InvalidInput(_)), "{err}");
        assert!(plan_of(&["comment", FULL, "  "]).is_err());
        assert!(plan_of(&["comment", FULL, "bad\u{1b}[2J"]).is_err());
    }

    #[test]
    fn internal_comments_become_notes_with_the_same_checks() {
        let target = TicketRef::Full(FULL.parse().unwrap());
        assert_eq!(
            plan_of(&["comment", FULL, "Old printer", "--internal"]).unwrap(),
            Plan::Change {
                target: target.clone(),
                change: Change::Note("Old printer".into())
            }
        );
        assert_eq!(
            plan_of(&["comment", FULL, "Old printer"]).unwrap(),
            Plan::Change {
                target,
                change: Change::Comment("Old printer".into())
            }
        );
        let over = "x".repeat(MAX_TEXT_LEN + 1);
        assert!(plan_of(&["comment", FULL, &over, "--internal"]).is_err());
        assert!(plan_of(&["comment", FULL, " ", "--internal"]).is_err());
    }

    #[test]
    fn notes_are_checked_and_resolve_needs_one() {
        assert!(plan_of(&["resolve", FULL, ""]).is_err());
        assert!(plan_of(&["escalate", FULL, "--note", "bell\u{7}"]).is_err());
        assert_eq!(
            plan_of(&["reopen", FULL, "--note", "again"]).unwrap(),
            Plan::Change {
                target: TicketRef::Full(FULL.parse().unwrap()),
                change: Change::Status(StatusAction::Reopen, Some("again".into()))
            }
        );
    }

    #[test]
    fn assignee_must_be_a_plausible_name() {
        assert!(plan_of(&["assign", FULL, "bob"]).is_ok());
        assert!(plan_of(&["assign", FULL, "bob; rm -rf /"]).is_err());
    }

    #[test]
    fn each_status_command_maps_to_its_action() {
        for (cmd, action) in [
            ("start", StatusAction::Start),
            ("wait", StatusAction::Wait),
            ("close", StatusAction::Close),
            ("reopen", StatusAction::Reopen),
        ] {
            match plan_of(&[cmd, FULL]).unwrap() {
                Plan::Change {
                    change: Change::Status(a, None),
                    ..
                } => assert_eq!(a, action, "{cmd}"),
                other => panic!("{cmd}: {other:?}"),
            }
        }
    }

    #[test]
    fn status_messages_name_the_status_the_state_machine_reaches() {
        let reached = |from, action| transition(from, action).unwrap();
        assert!(status_message("1234abcd", StatusAction::Start)
            .contains(reached(Status::Open, StatusAction::Start).as_str()));
        assert!(status_message("1234abcd", StatusAction::Wait)
            .contains(reached(Status::Open, StatusAction::Wait).as_str()));
        assert_eq!(
            status_message("1234abcd", StatusAction::Resolve),
            "Ticket 1234abcd resolved."
        );
        assert_eq!(
            escalated_message("1234abcd", Tier::L2),
            "Ticket 1234abcd escalated to l2."
        );
    }
}
