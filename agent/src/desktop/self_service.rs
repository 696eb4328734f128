//! Self-service for the Get help window: knowledge base articles that may
//! answer what the employee is typing, one opened to read, and "This
//! solved it". The daemon asks the relay on a one-shot session; the relay
//! only ever hands out public, active articles, and what it sends is
//! checked here again before the window sees it.
//!
//! Suggestions are a help, never in the way: without a relay (offline,
//! not enrolled, slow) the answer is an empty list and no error.

use super::connection::DesktopService;
use super::peer::Peer;
use super::protocol::DesktopReply;
use crate::enroll::close;
use crate::outbox::{Message, Outbox, Queued};
use crate::state::StateDir;
use std::path::Path;
use std::time::Duration;
use tracing::{debug, info, warn};
use triage_shared::agent_update::AgentUpdate;
use triage_shared::client::{ClientError, Session};
use triage_shared::kb::{
    enough_to_suggest, ArticleId, Deflection, PublicArticle, Suggestion, MAX_SUGGESTIONS,
    MAX_SUGGESTION_TEXT_LEN, MAX_VIEWED_ARTICLES,
};
use triage_shared::protocol::{PeerKind, Request, Response};
use triage_shared::text::truncate_at_char_boundary;
use triage_shared::TicketId;

/// How long suggestions wait for the relay, connecting included: past
/// this the employee has typed on, and the window shows nothing.
pub const SUGGEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long opening an article waits for the relay.
pub const ARTICLE_TIMEOUT: Duration = Duration::from_secs(15);

/// **Pure**: what the window sent, as the relay is asked it: trimmed and
/// cut to [`MAX_SUGGESTION_TEXT_LEN`]; `None` when too short to match on.
pub(crate) fn query_text(text: &str) -> Option<String> {
    let mut text = text.trim().replace("\r\n", "\n");
    truncate_at_char_boundary(&mut text, MAX_SUGGESTION_TEXT_LEN);
    enough_to_suggest(&text).then_some(text)
}

/// **Pure**: the relay's suggestions as the window may show them: at most
/// [`MAX_SUGGESTIONS`], each checked; anything malformed is left out.
pub(crate) fn checked_suggestions(suggestions: Vec<Suggestion>) -> Vec<Suggestion> {
    suggestions
        .into_iter()
        .filter(|s| match s.validate() {
            Ok(()) => true,
            Err(e) => {
                warn!(error = %e, "the relay suggested a malformed article; left out");
                false
            }
        })
        .take(MAX_SUGGESTIONS)
        .collect()
}

/// Why the relay could not answer: not enrolled or unreachable, or its
/// own refusal.
enum Asked {
    Away(String),
    Refused(String),
}

async fn ask(state_dir: &Path, request: &Request) -> Result<Response, Asked> {
    let enrollment = StateDir::new(state_dir)
        .load()
        .map_err(|e| Asked::Away(e.to_string()))?;
    let session = Session::connect(&enrollment.relay, &enrollment.key, PeerKind::AgentOneShot)
        .await
        .map_err(|e| Asked::Away(e.to_string()))?;
    let response = session.request(request).await;
    close(session).await;
    response.map_err(|e| match e {
        ClientError::Remote(r) | ClientError::Refused(r) => Asked::Refused(r.message),
        other => Asked::Away(other.to_string()),
    })
}

pub(crate) async fn suggest(service: &DesktopService, text: &str) -> DesktopReply {
    let Some(text) = query_text(text) else {
        return DesktopReply::Suggestions(Vec::new());
    };
    let request = Request::SuggestArticles { text };
    let suggestions =
        match tokio::time::timeout(SUGGEST_TIMEOUT, ask(service.state_dir(), &request)).await {
            Ok(Ok(Response::Suggestions(list))) => checked_suggestions(list),
            Ok(Ok(other)) => {
                warn!(
                    answer = other.name(),
                    "the relay answered suggestions with something else"
                );
                Vec::new()
            }
            Ok(Err(Asked::Away(why) | Asked::Refused(why))) => {
                debug!(%why, "no suggestions: the relay cannot be asked");
                Vec::new()
            }
            Err(_) => {
                debug!("no suggestions: the relay did not answer in time");
                Vec::new()
            }
        };
    DesktopReply::Suggestions(suggestions)
}

pub(crate) async fn open(service: &DesktopService, id: ArticleId) -> DesktopReply {
    let request = Request::ReadArticle { id };
    match tokio::time::timeout(ARTICLE_TIMEOUT, ask(service.state_dir(), &request)).await {
        Ok(Ok(Response::PublicArticle(article))) => checked_article(*article, id),
        Ok(Err(Asked::Refused(why))) => {
            DesktopReply::Error(format!("the article cannot be shown: {why}"))
        }
        Ok(Ok(other)) => DesktopReply::Error(format!(
            "the help desk answered `{}` when asked for the article; it may run another version of Triage",
            other.name()
        )),
        Ok(Err(Asked::Away(_))) | Err(_) => DesktopReply::Error(
            "the help desk cannot be reached right now, so the article cannot be shown; you can still ask for help".into(),
        ),
    }
}

/// **Pure**: the article the relay sent, if it is the one asked for and
/// within bounds.
pub(crate) fn checked_article(article: PublicArticle, asked: ArticleId) -> DesktopReply {
    if article.id != asked {
        return DesktopReply::Error(format!(
            "the help desk sent {} when {asked} was asked for; it was not shown",
            article.id
        ));
    }
    match article.validate() {
        Ok(()) => DesktopReply::Article(article),
        Err(e) => DesktopReply::Error(format!("the article cannot be shown: {e}")),
    }
}

/// "This solved it": queued like the employee's other answers, so it
/// reaches the relay even if the network goes right after.
pub(crate) fn solved(
    service: &DesktopService,
    peer: &Peer,
    article: ArticleId,
    query: &str,
) -> DesktopReply {
    let mut query = query.trim().replace("\r\n", "\n");
    truncate_at_char_boundary(&mut query, MAX_SUGGESTION_TEXT_LEN);
    let deflection = Deflection {
        id: uuid::Uuid::new_v4(),
        article,
        query,
        requester: peer.account.clone(),
    };
    if let Err(e) = deflection.validate() {
        return DesktopReply::Error(e.to_string());
    }
    let pushed = Outbox::open(service.state_dir(), service.max_outbox())
        .map_err(|e| e.to_string())
        .and_then(|outbox| {
            outbox
                .push(&Message::Deflection(deflection))
                .map_err(|e| e.to_string())
        });
    match pushed {
        Ok(Queued::Queued { .. }) => info!(%article, "self-service deflection queued"),
        // Counting it is the help desk's concern; the employee is helped
        // either way, so this is logged rather than shown.
        Ok(Queued::Dropped) => warn!(%article, "the outbox is full; the deflection is not counted"),
        Err(why) => warn!(error = %why, "cannot queue a deflection"),
    }
    DesktopReply::Deflected { article }
}

/// **Pure**: the update recording what the employee read before filing
/// `ticket`, if they read anything (each article once, at most
/// [`MAX_VIEWED_ARTICLES`]).
pub(crate) fn viewed_update(requester: &str, viewed: &[ArticleId]) -> Option<AgentUpdate> {
    let mut articles: Vec<ArticleId> = Vec::new();
    for id in viewed {
        if !articles.contains(id) {
            articles.push(*id);
        }
    }
    articles.truncate(MAX_VIEWED_ARTICLES);
    (!articles.is_empty()).then(|| AgentUpdate::ArticlesViewed {
        requester: requester.to_string(),
        articles,
    })
}

/// Queues what the employee read before filing `ticket` (just filed). The
/// ticket is safe by then, so a failure here is logged, not shown.
pub(crate) fn record_viewed(
    service: &DesktopService,
    peer: &Peer,
    ticket: TicketId,
    viewed: &[ArticleId],
) {
    let Some(update) = viewed_update(&peer.account, viewed) else {
        return;
    };
    let pushed = Outbox::open(service.state_dir(), service.max_outbox())
        .map_err(|e| e.to_string())
        .and_then(|o| {
            o.push(&Message::update(ticket, update))
                .map_err(|e| e.to_string())
        });
    if let Err(why) = pushed {
        warn!(error = %why, "the articles read before filing could not be queued");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_enough_words_are_asked_about_and_never_too_many_bytes() {
        assert_eq!(query_text("vpn drops"), None);
        assert_eq!(
            query_text("  my vpn drops\r\nevery hour ").as_deref(),
            Some("my vpn drops\nevery hour")
        );
        let long = "word ".repeat(1000);
        assert!(query_text(&long).unwrap().len() <= MAX_SUGGESTION_TEXT_LEN);
    }

    #[test]
    fn a_relays_suggestions_are_checked_and_capped() {
        let good = |n: u64| Suggestion {
            id: ArticleId(n),
            title: format!("Article {n}"),
            excerpt: "text".into(),
        };
        let bad = Suggestion {
            id: ArticleId(9),
            title: "x".repeat(10_000),
            excerpt: String::new(),
        };
        let kept = checked_suggestions(vec![good(1), bad, good(2), good(3), good(4)]);
        assert_eq!(kept.iter().map(|s| s.id.0).collect::<Vec<_>>(), [1, 2, 3]);
    }

    #[test]
    fn an_article_other_than_the_one_asked_is_not_shown() {
        let article = PublicArticle {
            id: ArticleId(2),
            title: "VPN".into(),
            body: "Sign in.".into(),
            updated_at: triage_shared::time::Timestamp(0),
        };
        assert!(matches!(
            checked_article(article.clone(), ArticleId(2)),
            DesktopReply::Article(_)
        ));
        assert!(matches!(
            checked_article(article.clone(), ArticleId(3)),
            DesktopReply::Error(_)
        ));
        let empty = PublicArticle {
            body: String::new(),
            ..article
        };
        assert!(matches!(
            checked_article(empty, ArticleId(2)),
            DesktopReply::Error(_)
        ));
    }

    #[test]
    fn what_was_read_is_recorded_once_each_and_bounded() {
        assert_eq!(viewed_update("alice", &[]), None);
        let ids: Vec<ArticleId> = (1..=20).chain([1, 2]).map(ArticleId).collect();
        match viewed_update("alice", &ids) {
            Some(AgentUpdate::ArticlesViewed {
                requester,
                articles,
            }) => {
                assert_eq!(requester, "alice");
                assert_eq!(articles.len(), MAX_VIEWED_ARTICLES);
                assert_eq!(articles[0], ArticleId(1));
            }
            other => panic!("{other:?}"),
        }
    }
}
