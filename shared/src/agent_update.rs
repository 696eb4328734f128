//! What an agent may do to a ticket it filed itself, after filing it: add a
//! comment (a health alert's new readings, or that it cleared) or resolve
//! it with a note. Sent as `Request::SubmitUpdate` with an [`UpdateId`] made
//! when the update was queued, so a redelivered update is applied once.
//!
//! [`UpdateId`]: crate::ids::UpdateId

use crate::kb::{ArticleId, MAX_VIEWED_ARTICLES};
use crate::limits::MAX_NAME_LEN;
use crate::limits::{MAX_ATTACHED_SCREENSHOT_LEN, MAX_TEXT_LEN};
use crate::news::check_score;
use crate::text::{check_text, InvalidInput};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum AgentUpdate {
    /// A comment from the agent.
    Comment(String),
    /// Resolve the ticket with this note as a comment. A ticket a
    /// technician already resolved or closed only gets the note.
    Resolve(String),
    /// A PNG of the employee's screen, taken with their consent in the
    /// "Get help" window, stored as the ticket's screenshot attachment.
    Screenshot(Vec<u8>),
    /// The employee's reply on their ticket, from the Get help window or
    /// `triage-agent tickets reply`. `requester` is the account the daemon
    /// read from the local socket; the relay checks it is the ticket's.
    Reply { requester: String, text: String },
    /// "Did this fix it?" Yes: a resolved ticket is closed, with the
    /// employee's satisfaction score (1–5) when given.
    Fixed {
        requester: String,
        score: Option<u8>,
    },
    /// "Did this fix it?" No: a resolved (or closed) ticket is reopened
    /// with the employee's words as a comment.
    NotFixed {
        requester: String,
        words: String,
        score: Option<u8>,
    },
    /// The knowledge base articles the employee opened in the Get help
    /// window before filing the ticket anyway ("I still need help").
    ArticlesViewed {
        requester: String,
        articles: Vec<ArticleId>,
    },
}

/// The first bytes of every PNG file.
pub const PNG_SIGNATURE: &[u8; 8] = b"\x89PNG\r\n\x1a\n";

impl AgentUpdate {
    pub fn name(&self) -> &'static str {
        self.into()
    }

    /// The text the update carries, if it is a text update.
    pub fn text(&self) -> Option<&str> {
        match self {
            AgentUpdate::Comment(text)
            | AgentUpdate::Resolve(text)
            | AgentUpdate::Reply { text, .. }
            | AgentUpdate::NotFixed { words: text, .. } => Some(text),
            AgentUpdate::Screenshot(_)
            | AgentUpdate::Fixed { .. }
            | AgentUpdate::ArticlesViewed { .. } => None,
        }
    }

    /// Text: bounded, non-empty, without control characters (bar newlines
    /// and tabs). A screenshot: a PNG of at most [`MAX_ATTACHED_SCREENSHOT_LEN`] bytes.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        let (field, text) = match self {
            AgentUpdate::Comment(text) => ("comment", text),
            AgentUpdate::Resolve(text) => ("note", text),
            AgentUpdate::Screenshot(png) => return check_png(png),
            AgentUpdate::Reply { requester, text } => {
                check_requester(requester)?;
                ("reply", text)
            }
            AgentUpdate::Fixed { requester, score } => {
                check_requester(requester)?;
                return score.map_or(Ok(()), check_score);
            }
            AgentUpdate::ArticlesViewed {
                requester,
                articles,
            } => {
                check_requester(requester)?;
                return check_viewed(articles);
            }
            AgentUpdate::NotFixed {
                requester,
                words,
                score,
            } => {
                check_requester(requester)?;
                score.map_or(Ok(()), check_score)?;
                ("words", words)
            }
        };
        check_text(field, text, MAX_TEXT_LEN, false)
    }

    /// The employee an update speaks for, if it is one of theirs.
    pub fn requester(&self) -> Option<&str> {
        match self {
            AgentUpdate::Reply { requester, .. }
            | AgentUpdate::Fixed { requester, .. }
            | AgentUpdate::NotFixed { requester, .. }
            | AgentUpdate::ArticlesViewed { requester, .. } => Some(requester),
            AgentUpdate::Comment(_) | AgentUpdate::Resolve(_) | AgentUpdate::Screenshot(_) => None,
        }
    }
}

fn check_viewed(articles: &[ArticleId]) -> Result<(), InvalidInput> {
    if articles.is_empty() || articles.len() > MAX_VIEWED_ARTICLES {
        return Err(InvalidInput::new(
            "articles",
            format!("are {}; give 1 to {MAX_VIEWED_ARTICLES}", articles.len()),
        ));
    }
    Ok(())
}

fn check_requester(requester: &str) -> Result<(), InvalidInput> {
    check_text("requester", requester, MAX_NAME_LEN, false)
}

fn check_png(png: &[u8]) -> Result<(), InvalidInput> {
    if !png.starts_with(PNG_SIGNATURE) {
        return Err(InvalidInput::new("screenshot", "is not a PNG image"));
    }
    if png.len() > MAX_ATTACHED_SCREENSHOT_LEN {
        return Err(InvalidInput::new(
            "screenshot",
            format!(
                "is {} bytes; the limit is {MAX_ATTACHED_SCREENSHOT_LEN}",
                png.len()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{decode_frame, encode};

    #[test]
    fn update_text_is_bounded_and_must_not_be_empty() {
        assert!(AgentUpdate::Comment("disk at 97%".into())
            .validate()
            .is_ok());
        assert!(AgentUpdate::Resolve("x".repeat(MAX_TEXT_LEN))
            .validate()
            .is_ok());
        let long = AgentUpdate::Resolve("x".repeat(MAX_TEXT_LEN + 1));
        assert_eq!(long.validate().unwrap_err().field, "note");
        assert!(AgentUpdate::Comment("  ".into()).validate().is_err());
        assert!(AgentUpdate::Comment("bell\u{7}".into()).validate().is_err());
        assert!(AgentUpdate::Comment("two\nlines\tok".into())
            .validate()
            .is_ok());
    }

    #[test]
    fn employee_updates_check_their_requester_score_and_words() {
        let fixed = |score| AgentUpdate::Fixed {
            requester: "alice".into(),
            score,
        };
        assert!(fixed(None).validate().is_ok());
        assert!(fixed(Some(1)).validate().is_ok());
        assert!(fixed(Some(5)).validate().is_ok());
        assert_eq!(fixed(Some(0)).validate().unwrap_err().field, "score");
        assert_eq!(fixed(Some(6)).validate().unwrap_err().field, "score");
        let no = |words: &str| AgentUpdate::NotFixed {
            requester: "alice".into(),
            words: words.into(),
            score: None,
        };
        assert!(no("still broken").validate().is_ok());
        assert_eq!(no(" ").validate().unwrap_err().field, "words");
        let reply = AgentUpdate::Reply {
            requester: String::new(),
            text: "x".into(),
        };
        assert_eq!(reply.validate().unwrap_err().field, "requester");
        assert_eq!(fixed(None).requester(), Some("alice"));
        assert_eq!(AgentUpdate::Comment("c".into()).requester(), None);
    }

    #[test]
    fn a_screenshot_update_must_be_a_bounded_png() {
        let mut png = PNG_SIGNATURE.to_vec();
        png.extend_from_slice(b"rest");
        assert!(AgentUpdate::Screenshot(png.clone()).validate().is_ok());
        let not_png = AgentUpdate::Screenshot(b"GIF89a".to_vec()).validate();
        assert!(not_png.unwrap_err().problem.contains("not a PNG"));
        png.resize(MAX_ATTACHED_SCREENSHOT_LEN + 1, 0);
        let big = AgentUpdate::Screenshot(png).validate().unwrap_err();
        assert!(big.problem.contains("the limit is"), "{big}");
        assert_eq!(AgentUpdate::Screenshot(vec![]).text(), None);
    }

    #[test]
    fn submit_update_round_trips() {
        use crate::ids::{TicketId, UpdateId};
        use crate::protocol::Request;
        let request = Request::SubmitUpdate {
            id: UpdateId::new_random(),
            ticket: TicketId::new_random(),
            update: AgentUpdate::Resolve("cleared".into()),
        };
        assert_eq!(request.name(), "submit_update");
        let back: Request = decode_frame(&encode(&request).unwrap()).unwrap();
        assert_eq!(back, request);
    }

    #[test]
    fn the_one_shot_peer_kind_was_appended_not_inserted() {
        use crate::protocol::PeerKind;
        // bincode encodes a variant as its index: existing peers must keep theirs.
        let index = |kind: PeerKind| encode(&kind).unwrap()[4];
        assert_eq!(index(PeerKind::Agent), 0);
        assert_eq!(index(PeerKind::Technician), 1);
        assert_eq!(index(PeerKind::AgentOneShot), 2);
    }

    #[test]
    fn update_names_are_the_serde_names() {
        let updates = [
            AgentUpdate::Comment("c".into()),
            AgentUpdate::Resolve("r".into()),
            AgentUpdate::Screenshot(vec![]),
        ];
        let names: Vec<_> = updates.iter().map(AgentUpdate::name).collect();
        assert_eq!(names, ["comment", "resolve", "screenshot"]);
        let employee = [
            AgentUpdate::Reply {
                requester: "alice".into(),
                text: "t".into(),
            },
            AgentUpdate::Fixed {
                requester: "alice".into(),
                score: Some(4),
            },
            AgentUpdate::NotFixed {
                requester: "alice".into(),
                words: "w".into(),
                score: None,
            },
        ];
        let names: Vec<_> = employee.iter().map(AgentUpdate::name).collect();
        assert_eq!(names, ["reply", "fixed", "not_fixed"]);
        for update in &employee {
            let back: AgentUpdate = decode_frame(&encode(update).unwrap()).unwrap();
            assert_eq!(&back, update);
        }
        for update in &updates {
            let json = serde_json::to_value(update).unwrap();
            assert!(json.get(update.name()).is_some(), "{json}");
        }
    }

    #[test]
    fn updates_survive_bincode() {
        for update in [
            AgentUpdate::Comment("c".into()),
            AgentUpdate::Resolve("r".into()),
            AgentUpdate::Screenshot(PNG_SIGNATURE.to_vec()),
        ] {
            let back: AgentUpdate = decode_frame(&encode(&update).unwrap()).unwrap();
            assert_eq!(back, update);
        }
    }
}
