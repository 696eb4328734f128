//! The knowledge base: technicians write, edit, retire, list and search
//! articles, resolve tickets naming the one that solved them, and see the
//! articles beside a ticket. Agents, for the Get help window, get only
//! public, active articles, and record "This solved it".

use super::queue::capped;
use crate::server::request::{record_ticket, Peer};
use crate::server::Shared;
use crate::store::StoreError;
use crate::workflow;
use tracing::info;
use triage_shared::kb::{
    ArticleChange, ArticleCursor, ArticleDraft, ArticleFilter, ArticleId, Deflection,
    MAX_ARTICLE_HITS, MAX_ARTICLE_PAGE, MAX_SUGGESTION_TEXT_LEN,
};
use triage_shared::protocol::{ErrorKind, RemoteError, Response};
use triage_shared::queue::SearchQuery;
use triage_shared::ticket::StatusAction;
use triage_shared::time::Timestamp;
use triage_shared::TicketId;

pub(in crate::server) async fn add(
    shared: &Shared,
    peer: &Peer,
    draft: ArticleDraft,
    now: Timestamp,
) -> Result<Response, StoreError> {
    let article = shared
        .store
        .add_article(&draft, peer.technician_name()?, now)
        .await?;
    info!(article = %article.id, "knowledge base article added");
    Ok(Response::Article(Box::new(article)))
}

pub(in crate::server) async fn list(
    shared: &Shared,
    filter: ArticleFilter,
    after: Option<ArticleCursor>,
    limit: u32,
) -> Result<Response, StoreError> {
    let (articles, next) = shared
        .store
        .list_articles(&filter, after, capped(limit, MAX_ARTICLE_PAGE))
        .await?;
    Ok(Response::Articles { articles, next })
}

pub(in crate::server) async fn show(
    shared: &Shared,
    id: ArticleId,
    version: Option<u32>,
) -> Result<Response, StoreError> {
    match shared.store.article(id, version).await? {
        Some(article) => Ok(Response::Article(Box::new(article))),
        None => Err(StoreError::refused(
            ErrorKind::NotFound,
            format!("no article {id}; see `triage kb list` or `triage kb search`"),
        )),
    }
}

pub(in crate::server) async fn search(
    shared: &Shared,
    query: SearchQuery,
    limit: u32,
) -> Result<Response, StoreError> {
    let hits = shared
        .store
        .search_articles(&query, capped(limit, MAX_ARTICLE_HITS))
        .await?;
    Ok(Response::ArticleHits(hits))
}

pub(in crate::server) async fn edit(
    shared: &Shared,
    peer: &Peer,
    id: ArticleId,
    change: ArticleChange,
    now: Timestamp,
) -> Result<Response, StoreError> {
    let article = shared
        .store
        .edit_article(id, &change, peer.technician_name()?, now)
        .await?;
    info!(article = %id, version = article.version, "knowledge base article edited");
    Ok(Response::Article(Box::new(article)))
}

pub(in crate::server) async fn retire(
    shared: &Shared,
    peer: &Peer,
    id: ArticleId,
    now: Timestamp,
) -> Result<Response, StoreError> {
    let article = shared
        .store
        .retire_article(id, peer.technician_name()?, now)
        .await?;
    info!(article = %id, "knowledge base article retired");
    Ok(Response::Article(Box::new(article)))
}

/// `tickets resolve --kb`: the same resolve as `ChangeStatus`, with the
/// article recorded as the fix in the same transaction.
pub(in crate::server) async fn resolve_with_article(
    shared: &Shared,
    peer: &Peer,
    id: TicketId,
    note: Option<&str>,
    article: ArticleId,
    now: Timestamp,
) -> Result<Response, StoreError> {
    record_ticket(id);
    let actor = peer.actor();
    let t = shared
        .store
        .resolve_with_article(id, article, |t| {
            workflow::change_status(t, StatusAction::Resolve, &actor, note, now)
        })
        .await?;
    info!(status = %t.status, article = %article, "ticket resolved with an article");
    Ok(Response::Ok)
}

pub(in crate::server) async fn ticket_articles(
    shared: &Shared,
    ticket: TicketId,
) -> Result<Response, StoreError> {
    record_ticket(ticket);
    Ok(Response::TicketArticles(
        shared.store.ticket_articles(ticket).await?,
    ))
}

pub(in crate::server) async fn draft(
    shared: &Shared,
    ticket: TicketId,
) -> Result<Response, StoreError> {
    record_ticket(ticket);
    Ok(Response::ArticleDraft(Box::new(
        shared.store.article_draft(ticket).await?,
    )))
}

/// What the employee typed, for suggestions: bounded here, before any
/// search is built from it.
fn check_typed(text: &str) -> Result<(), RemoteError> {
    if text.len() > MAX_SUGGESTION_TEXT_LEN {
        return Err(RemoteError::new(
            ErrorKind::InvalidInput,
            format!(
                "the text to match is {} bytes; send at most {MAX_SUGGESTION_TEXT_LEN}",
                text.len()
            ),
        ));
    }
    Ok(())
}

pub(in crate::server) async fn suggest(
    shared: &Shared,
    text: &str,
) -> Result<Response, StoreError> {
    check_typed(text)?;
    Ok(Response::Suggestions(
        shared.store.suggest_articles(text).await?,
    ))
}

pub(in crate::server) async fn read(
    shared: &Shared,
    id: ArticleId,
) -> Result<Response, StoreError> {
    Ok(Response::PublicArticle(Box::new(
        shared.store.public_article(id).await?,
    )))
}

pub(in crate::server) async fn deflected(
    shared: &Shared,
    peer: &Peer,
    deflection: Deflection,
    now: Timestamp,
) -> Result<Response, StoreError> {
    let recorded = shared
        .store
        .record_deflection(&deflection, peer.agent_id()?, now)
        .await?;
    if recorded {
        info!(article = %deflection.article, "self-service deflection recorded");
    }
    Ok(Response::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_text_is_bounded_before_it_is_searched() {
        assert!(check_typed("vpn drops every hour").is_ok());
        let e = check_typed(&"a".repeat(MAX_SUGGESTION_TEXT_LEN + 1)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidInput);
        assert!(e.message.contains("at most"), "{}", e.message);
    }
}
