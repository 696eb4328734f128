//! What the relay tells an endpoint about the tickets it filed, so the
//! employee hears of a reply or a resolution without asking: a
//! [`TicketNews`] is a ticket as its requester may see it (status and the
//! newest public comments, never an internal note), bounded so that a
//! full batch fits one frame.
//!
//! The relay pushes news as `AgentCommand::TicketNews` while the agent is
//! connected, and the agent catches up on (re)connect with
//! `Request::TicketNews { since }`. Both carry whole states, not deltas:
//! the agent compares them with what it knew, so receiving the same news
//! twice changes nothing and a lost push is made good by the next catch-up.

use crate::limits::{MAX_NAME_LEN, MAX_TITLE_LEN};
use crate::text::{check_text, InvalidInput};
use crate::ticket::{Comment, Status};
use crate::time::Timestamp;
use crate::TicketId;
use serde::{Deserialize, Serialize};

/// Tickets in one push or one catch-up page.
pub const MAX_NEWS_TICKETS: usize = 20;
/// Newest public comments carried per ticket.
pub const MAX_NEWS_REPLIES: usize = 3;
/// Longest comment text carried (cut at a character boundary); the whole
/// comment stays on the ticket.
pub const MAX_NEWS_REPLY_LEN: usize = 2048;
/// How far back a catch-up looks before the last one's `as_of`, so that a
/// change committed with a slightly earlier clock (another relay) is not
/// missed. News is idempotent, so looking twice costs nothing.
pub const NEWS_OVERLAP_MILLIS: i64 = 5 * 60 * 1000;

/// A ticket filed from this endpoint, as its requester may see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketNews {
    pub id: TicketId,
    pub title: String,
    /// The account it was filed for: only that person is told.
    pub requester: String,
    pub status: Status,
    pub updated_at: Timestamp,
    /// The newest public comments, oldest first, at most
    /// [`MAX_NEWS_REPLIES`], each cut to [`MAX_NEWS_REPLY_LEN`].
    pub replies: Vec<Comment>,
}

/// Whether `comment` is a technician talking to the employee: public, and
/// by a technician (their names hold no `:`; agents write as `agent:HOST`,
/// employees as `employee:NAME`, the relay itself as `relay:…`).
pub fn is_technician_reply(comment: &Comment) -> bool {
    !comment.internal && !comment.author.contains(':')
}

impl TicketNews {
    /// The agent's check on news from the relay: every text bounded, no
    /// internal note, at most [`MAX_NEWS_REPLIES`] replies.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        check_text("title", &self.title, MAX_TITLE_LEN, false)?;
        check_text("requester", &self.requester, MAX_NAME_LEN, false)?;
        if self.replies.len() > MAX_NEWS_REPLIES {
            return Err(InvalidInput::new(
                "replies",
                format!("holds {}; at most {MAX_NEWS_REPLIES}", self.replies.len()),
            ));
        }
        for reply in &self.replies {
            if reply.internal {
                return Err(InvalidInput::new("replies", "holds an internal note"));
            }
            check_text("reply author", &reply.author, MAX_NAME_LEN * 2, false)?;
            check_text("reply", &reply.text, MAX_NEWS_REPLY_LEN, false)?;
        }
        Ok(())
    }
}

/// A batch is refused whole when it is too long or any item is bad: the
/// relay that sent it is not behaving, and the next catch-up will do.
pub fn validate_batch(news: &[TicketNews]) -> Result<(), InvalidInput> {
    if news.len() > MAX_NEWS_TICKETS {
        return Err(InvalidInput::new(
            "news",
            format!("holds {} tickets; at most {MAX_NEWS_TICKETS}", news.len()),
        ));
    }
    news.iter().try_for_each(TicketNews::validate)
}

/// The lowest score of a resolution.
pub const MIN_SCORE: u8 = 1;
/// The highest.
pub const MAX_SCORE: u8 = 5;

/// A satisfaction score must be 1 to 5.
pub fn check_score(score: u8) -> Result<(), InvalidInput> {
    if (MIN_SCORE..=MAX_SCORE).contains(&score) {
        Ok(())
    } else {
        Err(InvalidInput::new(
            "score",
            format!("is {score}; give {MIN_SCORE} to {MAX_SCORE}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::encode;
    use crate::ids::CommentId;
    use crate::limits::MAX_FRAME_LEN;
    use crate::remote::AgentCommand;

    fn reply(author: &str, text: &str) -> Comment {
        Comment {
            id: CommentId::new_random(),
            author: author.into(),
            text: text.into(),
            created_at: Timestamp(1),
            internal: false,
        }
    }

    fn news() -> TicketNews {
        TicketNews {
            id: TicketId::new_random(),
            title: "VPN drops".into(),
            requester: "alice".into(),
            status: Status::InProgress,
            updated_at: Timestamp(2),
            replies: vec![reply("bob", "try again now")],
        }
    }

    #[test]
    fn only_public_technician_comments_are_replies() {
        assert!(is_technician_reply(&reply("bob", "x")));
        assert!(!is_technician_reply(&reply("agent:pc-7", "x")));
        assert!(!is_technician_reply(&reply("employee:alice", "x")));
        let mut note = reply("bob", "x");
        note.internal = true;
        assert!(!is_technician_reply(&note));
    }

    #[test]
    fn news_with_an_internal_note_or_too_much_is_refused() {
        assert!(news().validate().is_ok());
        let mut n = news();
        n.replies[0].internal = true;
        assert!(n.validate().is_err());
        let mut n = news();
        n.replies = vec![reply("bob", "x"); MAX_NEWS_REPLIES + 1];
        assert!(n.validate().is_err());
        let mut n = news();
        n.replies[0].text = "x".repeat(MAX_NEWS_REPLY_LEN + 1);
        assert!(n.validate().is_err());
        let mut n = news();
        n.title = "bell\u{7}".into();
        assert!(n.validate().is_err());
        assert!(validate_batch(&vec![news(); MAX_NEWS_TICKETS]).is_ok());
        assert!(validate_batch(&vec![news(); MAX_NEWS_TICKETS + 1]).is_err());
    }

    #[test]
    fn a_full_batch_fits_in_one_frame() {
        let mut n = news();
        n.title = "é".repeat(MAX_TITLE_LEN / 2);
        n.requester = "a".repeat(MAX_NAME_LEN);
        n.replies = vec![
            reply(&"b".repeat(MAX_NAME_LEN), &"x".repeat(MAX_NEWS_REPLY_LEN));
            MAX_NEWS_REPLIES
        ];
        let batch = vec![n; MAX_NEWS_TICKETS];
        assert!(validate_batch(&batch).is_ok());
        let bytes = encode(&AgentCommand::TicketNews(batch)).unwrap();
        assert!(bytes.len() < MAX_FRAME_LEN / 2, "{}", bytes.len());
    }

    #[test]
    fn scores_are_one_to_five() {
        assert!(check_score(0).is_err());
        for s in 1..=5 {
            assert!(check_score(s).is_ok());
        }
        assert!(check_score(6).unwrap_err().problem.contains("1 to 5"));
    }
}
