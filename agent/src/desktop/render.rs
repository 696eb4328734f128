//! "My tickets" as text, for `triage-agent tickets`.

use std::fmt::Write;
use triage_shared::ticket::EmployeeTicket;

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
