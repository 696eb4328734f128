//! The employee's own tickets through the window (or `triage-agent
//! tickets`): what the daemon's inbox knows, and their reply or answer to
//! "Did this fix it?", queued in the outbox for the relay. As with filing,
//! the requester is the socket peer's account, never what the window says:
//! a ticket someone else filed is refused here, and the relay checks again.

use super::connection::DesktopService;
use super::peer::Peer;
use super::protocol::DesktopReply;
use crate::inbox::FixAnswer;
use crate::outbox::{Message, Outbox, Queued};
use tracing::{info, warn};
use triage_shared::agent_update::AgentUpdate;
use triage_shared::TicketId;

/// "Did this fix it?" as the window sent it, checked.
pub(crate) struct Answer {
    pub fixed: bool,
    pub words: Option<String>,
    pub score: Option<u8>,
}

/// **Pure**: the update for `answer` by `requester`, or why not, in words
/// for the person at the window.
pub(crate) fn fixed_update(requester: &str, answer: Answer) -> Result<AgentUpdate, String> {
    let words = answer
        .words
        .map(|w| w.trim().replace("\r\n", "\n"))
        .filter(|w| !w.is_empty());
    let update = match (answer.fixed, words) {
        (true, _) => AgentUpdate::Fixed {
            requester: requester.to_string(),
            score: answer.score,
        },
        (false, Some(words)) => AgentUpdate::NotFixed {
            requester: requester.to_string(),
            words,
            score: answer.score,
        },
        (false, None) => {
            return Err(
                "say in a few words what is still wrong, so the help desk can look again".into(),
            )
        }
    };
    update.validate().map_err(|e| e.to_string())?;
    Ok(update)
}

/// **Pure**: the reply update, or why not.
pub(crate) fn reply_update(requester: &str, text: &str) -> Result<AgentUpdate, String> {
    let update = AgentUpdate::Reply {
        requester: requester.to_string(),
        text: text.trim().replace("\r\n", "\n"),
    };
    update.validate().map_err(|e| match e.field {
        "reply" => format!("the reply {}", e.problem),
        _ => e.to_string(),
    })?;
    Ok(update)
}

/// Refuses a ticket the inbox does not know as this peer's.
fn check_owner(service: &DesktopService, peer: &Peer, ticket: TicketId) -> Result<(), String> {
    match service.inbox().requester_of(ticket) {
        Some(r) if r == peer.account => Ok(()),
        _ => Err(format!(
            "ticket {} is not one of your tickets on this computer; see `triage-agent tickets`",
            ticket.short()
        )),
    }
}

pub(crate) fn reply(
    service: &DesktopService,
    peer: &Peer,
    ticket: TicketId,
    text: &str,
) -> DesktopReply {
    let queued = check_owner(service, peer, ticket)
        .and_then(|()| reply_update(&peer.account, text))
        .and_then(|update| queue(service, ticket, update));
    match queued {
        Ok(()) => DesktopReply::Queued { ticket },
        Err(why) => DesktopReply::Error(why),
    }
}

pub(crate) fn answer_fixed(
    service: &DesktopService,
    peer: &Peer,
    ticket: TicketId,
    answer: Answer,
) -> DesktopReply {
    let (fixed, score) = (answer.fixed, answer.score);
    let queued = check_owner(service, peer, ticket)
        .and_then(|()| fixed_update(&peer.account, answer))
        .and_then(|update| queue(service, ticket, update));
    match queued {
        Ok(()) => {
            let answer = if fixed {
                FixAnswer::Yes { score }
            } else {
                FixAnswer::No { score }
            };
            service.inbox().answered(ticket, answer);
            DesktopReply::Queued { ticket }
        }
        Err(why) => DesktopReply::Error(why),
    }
}

/// Queues `update` for the daemon's courier (it polls the outbox).
fn queue(service: &DesktopService, ticket: TicketId, update: AgentUpdate) -> Result<(), String> {
    let outbox = Outbox::open(service.state_dir(), service.max_outbox()).map_err(|e| {
        warn!(error = %e, "cannot open the outbox");
        format!("your answer could not be kept: {e}")
    })?;
    let kind = update.name();
    match outbox.push(&Message::update(ticket, update)) {
        Ok(Queued::Queued { .. }) => {
            info!(ticket_id = %ticket, kind, "queued the employee's update");
            Ok(())
        }
        Ok(Queued::Dropped) => Err(
            "this computer has too many messages waiting for the help desk; try again later".into(),
        ),
        Err(e) => Err(format!("your answer could not be kept: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_needs_words_and_yes_does_not() {
        let answer = |fixed, words: Option<&str>, score| Answer {
            fixed,
            words: words.map(str::to_string),
            score,
        };
        let yes = fixed_update("alice", answer(true, None, Some(4))).unwrap();
        assert_eq!(
            yes,
            AgentUpdate::Fixed {
                requester: "alice".into(),
                score: Some(4)
            }
        );
        let err = fixed_update("alice", answer(false, Some("  "), None)).unwrap_err();
        assert!(err.contains("what is still wrong"), "{err}");
        let no = fixed_update("alice", answer(false, Some(" still slow\r\n"), None)).unwrap();
        assert!(matches!(no, AgentUpdate::NotFixed { words, .. } if words == "still slow"));
        assert!(fixed_update("alice", answer(true, None, Some(6))).is_err());
        assert!(fixed_update("alice", answer(true, None, Some(0))).is_err());
    }

    #[test]
    fn a_reply_is_cleaned_and_must_say_something() {
        let r = reply_update("alice", " thanks,\r\nworks ").unwrap();
        assert!(matches!(r, AgentUpdate::Reply { text, .. } if text == "thanks,\nworks"));
        assert!(reply_update("alice", "   ")
            .unwrap_err()
            .contains("the reply"));
    }
}
