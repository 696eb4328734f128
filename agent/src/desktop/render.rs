//! The employee's tickets as text, for `triage-agent tickets`: the same
//! words the Get help window shows.

use crate::inbox::{FixAnswer, FixQuestion, InboxView};
use std::fmt::Write;
use triage_shared::text::clean;
use triage_shared::ticket::EmployeeTicket;

/// The tickets the daemon knows for this user (newest change first), each
/// with its status, the latest public replies and whether "Did this fix
/// it?" waits for an answer; then what is new since the window last showed it.
pub fn render_inbox(view: &InboxView) -> String {
    if view.tickets.is_empty() {
        return "You have no tickets from this computer yet (or the help desk has not answered one).\n".into();
    }
    let mut out = String::new();
    for t in &view.tickets {
        let short = t.id.short();
        let _ = writeln!(
            out,
            "{short}  {:<11}  {}",
            t.status.to_string(),
            clean(&t.title)
        );
        let _ = writeln!(out, "          updated {}", t.updated_at);
        for reply in &t.replies {
            let _ = writeln!(
                out,
                "          {} ({}):",
                clean(&reply.author),
                reply.created_at
            );
            for line in reply.text.lines() {
                let _ = writeln!(out, "            {}", clean(line));
            }
        }
        match t.question {
            FixQuestion::NotAsked => {}
            FixQuestion::Pending => {
                let _ = writeln!(
                    out,
                    "          Did this fix it? Answer: triage-agent tickets fixed {short} --yes [--score 1-5]\n          \
                     or: triage-agent tickets fixed {short} --no \"what is still wrong\""
                );
            }
            FixQuestion::Answered(answer) => {
                let what = match answer {
                    FixAnswer::Yes { .. } => "yes, it is fixed",
                    FixAnswer::No { .. } => "no, not fixed",
                };
                let _ = writeln!(out, "          Did this fix it? You answered: {what}");
            }
        }
    }
    let unseen: Vec<_> = view.unseen().collect();
    if !unseen.is_empty() {
        let _ = writeln!(out, "\nNew for you:");
        for n in unseen {
            let (summary, body) = n.text();
            let _ = writeln!(out, "  * {}: {}", clean(&summary), clean(&body));
        }
    }
    out
}

/// The tickets, newest first as the relay sent them, each with its status
/// and the help desk's latest public reply.
pub fn render_my_tickets(tickets: &[EmployeeTicket]) -> String {
    if tickets.is_empty() {
        return "You have no tickets from this computer.\n".into();
    }
    let mut out = String::new();
    for t in tickets {
        let short = t.id.short();
        let _ = writeln!(out, "{short}  {:<11}  {}", t.status.to_string(), t.title);
        let _ = writeln!(
            out,
            "          {} · {} · opened {} · updated {}",
            t.category, t.priority, t.created_at, t.updated_at
        );
        match &t.latest_reply {
            Some(reply) => {
                let _ = writeln!(
                    out,
                    "          latest reply from {} ({}):",
                    reply.author, reply.created_at
                );
                for line in reply.text.lines() {
                    let _ = writeln!(out, "            {line}");
                }
            }
            None => {
                let _ = writeln!(out, "          no reply yet");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_shared::ids::CommentId;
    use triage_shared::ticket::{Category, Comment, Priority, Status};
    use triage_shared::time::Timestamp;
    use triage_shared::TicketId;

    fn ticket(title: &str, reply: Option<&str>) -> EmployeeTicket {
        EmployeeTicket {
            id: TicketId::new_random(),
            title: title.into(),
            category: Category::Hardware,
            priority: Priority::High,
            status: Status::InProgress,
            created_at: Timestamp(0),
            updated_at: Timestamp(60_000),
            latest_reply: reply.map(|text| Comment {
                id: CommentId::new_random(),
                author: "bob".into(),
                text: text.into(),
                created_at: Timestamp(60_000),
                internal: false,
            }),
        }
    }

    #[test]
    fn the_inbox_shows_replies_and_the_pending_question() {
        use crate::inbox::InboxState;
        use triage_shared::news::TicketNews;
        let mut state = InboxState::default();
        let t = ticket("VPN drops", Some("replaced the cable"));
        state.take(TicketNews {
            id: t.id,
            title: t.title.clone(),
            requester: "alice".into(),
            status: Status::Resolved,
            updated_at: Timestamp(60_000),
            replies: t.latest_reply.into_iter().collect(),
        });
        let text = render_inbox(&state.view("alice"));
        assert!(text.contains("resolved"), "{text}");
        assert!(text.contains("bob (1970-01-01T00:01:00Z):"), "{text}");
        assert!(text.contains("replaced the cable"), "{text}");
        assert!(text.contains("Did this fix it? Answer"), "{text}");
        assert!(text.contains("New for you:"), "{text}");
        assert!(text.contains("was resolved"), "{text}");
        state.answered(t.id, crate::inbox::FixAnswer::Yes { score: Some(4) });
        state.mark_seen("alice", u64::MAX);
        let text = render_inbox(&state.view("alice"));
        assert!(text.contains("You answered: yes"), "{text}");
        assert!(!text.contains("New for you"), "{text}");
        assert!(render_inbox(&state.view("bob")).contains("no tickets"));
    }

    #[test]
    fn each_ticket_shows_its_status_and_latest_reply() {
        let text = render_my_tickets(&[
            ticket("Printer jammed", Some("On my way\nbring coffee")),
            ticket("VPN drops", None),
        ]);
        assert!(text.contains("in_progress"), "{text}");
        assert!(text.contains("Printer jammed"), "{text}");
        assert!(text.contains("latest reply from bob"), "{text}");
        assert!(text.contains("            bring coffee"), "{text}");
        assert!(text.contains("VPN drops"), "{text}");
        assert!(text.contains("no reply yet"), "{text}");
        assert!(text.contains("1970-01-01T00:01:00Z"), "{text}");
    }

    #[test]
    fn no_tickets_says_so() {
        assert!(render_my_tickets(&[]).contains("no tickets"));
    }
}
