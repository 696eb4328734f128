//! Human-readable output for each kind of answer. Pure functions of the data
//! and the current time, so tests can pin down exactly what a technician sees.
//! Every string that came from the relay is cleaned of control characters.
//! Tables live here; the one-ticket view is in `detail`, scripts in
//! `script`, the audit log in `audit`.

mod audit;
mod desk_report;
mod detail;
pub mod kb;
mod queue;
pub mod report_html;
mod script;
pub mod sla;
mod watch;

pub use audit::audit_table;
pub use desk_report::desk_report_text;
pub use detail::{rating, ticket_detail};
pub use queue::{agent_count_line, grouped, marked, search_hits, similar_section};
pub use script::{
    approval_review, run_line, script_detail, script_table, ScriptChecks, ScriptShowJson,
};
pub use watch::{watch_event_line, watch_json_line, watch_lagged_line, what_happened, WatchLine};

use crate::text::{age, relative, table, truncate};
use crate::ticket_ref::short_id;
use triage_shared::protocol::{AgentSummary, SessionIdentity, TechnicianSummary};
use triage_shared::roles::Role;
use triage_shared::text::clean;
use triage_shared::ticket::Ticket;
use triage_shared::time::Timestamp;

/// Hostnames and assignees longer than this are cut in tables.
pub const MAX_LABEL_COLUMN: usize = 20;

const TICKET_HEADERS: [&str; 9] = [
    "ID", "STATUS", "PRIORITY", "TIER", "AGE", "DUE", "HOST", "ASSIGNEE", "TITLE",
];

pub fn roles_text(roles: &[Role]) -> String {
    if roles.is_empty() {
        return "no roles".into();
    }
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn label(s: Option<&str>) -> String {
    truncate(&clean(s.unwrap_or("-")), MAX_LABEL_COLUMN)
}

/// `tickets list`: one aligned row per ticket, titles cut to fit `width`.
pub fn ticket_table(tickets: &[Ticket], now: Timestamp, width: usize) -> String {
    if tickets.is_empty() {
        return "No tickets.\n".into();
    }
    let rows: Vec<Vec<String>> = tickets
        .iter()
        .map(|t| {
            vec![
                short_id(&t.id),
                t.status.to_string(),
                t.priority.to_string(),
                t.tier.to_string(),
                age(t.created_at, now),
                sla::due_cell(t, now),
                label(t.hostname.as_deref()),
                label(t.assignee.as_deref()),
                t.title.clone(),
            ]
        })
        .collect();
    table(&TICKET_HEADERS, &rows, width)
}

/// `agents list`.
pub fn agent_table(agents: &[AgentSummary], now: Timestamp, width: usize) -> String {
    if agents.is_empty() {
        return "No agents enrolled; make a token with `triage tokens create` and run `triage-agent enroll TOKEN` on the endpoint.\n".into();
    }
    let rows: Vec<Vec<String>> = agents
        .iter()
        .map(|a| {
            vec![
                a.id.to_string(),
                if a.online {
                    "online".into()
                } else {
                    "offline".into()
                },
                a.last_seen
                    .map(|t| relative(t, now))
                    .unwrap_or_else(|| "never".into()),
                age(a.enrolled_at, now),
                clean(&a.os),
                a.hostname.clone(),
            ]
        })
        .collect();
    table(
        &["ID", "STATE", "LAST SEEN", "ENROLLED", "OS", "HOST"],
        &rows,
        width,
    )
}

/// `technicians list`.
pub fn technician_table(technicians: &[TechnicianSummary], now: Timestamp, width: usize) -> String {
    if technicians.is_empty() {
        return "No technicians registered.\n".into();
    }
    let rows: Vec<Vec<String>> = technicians
        .iter()
        .map(|t| {
            vec![
                t.name.clone(),
                age(t.created_at, now),
                t.public_key.to_string(),
                roles_text(&t.roles),
            ]
        })
        .collect();
    table(&["NAME", "ADDED", "PUBLIC KEY", "ROLES"], &rows, width)
}

/// `whoami`, and the check `login` prints.
pub fn identity_text(identity: &SessionIdentity) -> String {
    match identity {
        SessionIdentity::Technician { name, roles } => {
            format!("{} ({})", clean(name), roles_text(roles))
        }
        SessionIdentity::Agent { id, hostname } => format!("agent {id} on {}", clean(hostname)),
        SessionIdentity::Unenrolled => "an unregistered key".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_shared::identity::PublicKey;
    use triage_shared::ticket::{Category, Priority, Source, Status, Tier};
    use triage_shared::{AgentId, TicketId};

    pub(super) const HOUR: i64 = 3_600_000;
    pub(super) const NOW: Timestamp = Timestamp(1_709_210_096_000);

    pub(super) fn ticket(title: &str) -> Ticket {
        Ticket {
            id: "1234abcd-0000-4000-8000-000000000001"
                .parse::<TicketId>()
                .unwrap(),
            title: title.into(),
            description: "It closes as soon as I open the calendar.".into(),
            category: Category::Software,
            priority: Priority::High,
            status: Status::Open,
            tier: Tier::L1,
            source: Source::Employee,
            agent_id: Some(
                "9999ffff-1111-4000-8000-000000000003"
                    .parse::<AgentId>()
                    .unwrap(),
            ),
            hostname: Some("laptop-7".into()),
            requester: "alice".into(),
            assignee: None,
            created_at: Timestamp(NOW.0 - 3 * HOUR),
            updated_at: Timestamp(NOW.0 - HOUR),
            sla_due_at: Timestamp(NOW.0 + 5 * HOUR),
            sla: None,
        }
    }

    #[test]
    fn ticket_row_shows_short_id_and_every_column() {
        use triage_shared::sla::{evaluate, SlaFact, SlaPolicy};
        let mut t = ticket("Outlook keeps crashing");
        let filed = SlaFact::Created {
            at: t.created_at,
            priority: t.priority,
            category: t.category,
        };
        // High: a first response was due within the hour, 2 h ago.
        t.sla = Some(evaluate(&[filed], &SlaPolicy::default(), NOW).sla);
        let out = ticket_table(&[t], NOW, 120);
        let lines: Vec<&str> = out.lines().collect();
        assert!(
            lines[0].starts_with(
                "ID        STATUS  PRIORITY  TIER  AGE  DUE      HOST      ASSIGNEE  TITLE"
            ),
            "{out}"
        );
        assert_eq!(
            lines[1],
            "1234abcd  open    high      l1    3h   late 2h  laptop-7  -         Outlook keeps crashing"
        );
    }

    #[test]
    fn long_titles_are_cut_to_the_terminal_width() {
        let out = ticket_table(&[ticket(&"word ".repeat(40))], NOW, 80);
        for line in out.lines() {
            assert!(line.chars().count() <= 80, "{line}");
        }
        assert!(out.lines().nth(1).unwrap().ends_with('…'));
    }

    #[test]
    fn ticket_table_strips_control_characters_from_relay_data() {
        let mut t = ticket("title\u{1b}]0;pwned\u{7}");
        t.hostname = Some("host\u{1b}[2J".into());
        t.assignee = Some("bob\r".into());
        let out = ticket_table(&[t], NOW, 200);
        assert!(!out.chars().any(|c| c.is_control() && c != '\n'), "{out:?}");
    }

    #[test]
    fn long_hosts_are_cut_so_titles_keep_room() {
        let mut t = ticket("t");
        t.hostname = Some("h".repeat(60));
        let out = ticket_table(&[t], NOW, 120);
        assert!(
            out.contains(&format!("{}…", "h".repeat(MAX_LABEL_COLUMN - 1))),
            "{out}"
        );
    }

    #[test]
    fn empty_list_says_so() {
        assert_eq!(ticket_table(&[], NOW, 80), "No tickets.\n");
    }

    #[test]
    fn agents_show_online_state_and_last_seen() {
        let agents = vec![
            AgentSummary {
                id: "9999ffff-1111-4000-8000-000000000003".parse().unwrap(),
                hostname: "laptop-7".into(),
                os: "Debian 12".into(),
                enrolled_at: Timestamp(NOW.0 - 48 * HOUR),
                last_seen: Some(Timestamp(NOW.0 - 120_000)),
                online: true,
            },
            AgentSummary {
                id: "9999ffff-1111-4000-8000-000000000004".parse().unwrap(),
                hostname: "desk\u{1b}".into(),
                os: "Windows 11".into(),
                enrolled_at: NOW,
                last_seen: None,
                online: false,
            },
        ];
        let out = agent_table(&agents, NOW, 120);
        assert!(out.contains("online   2m ago     2d"), "{out}");
        assert!(out.contains("offline  never"), "{out}");
        assert!(out.contains("desk?") && !out.contains('\u{1b}'), "{out}");
    }

    #[test]
    fn technicians_show_roles_and_keys() {
        let key: PublicKey = format!("ed25519:{}", "ab".repeat(32)).parse().unwrap();
        let techs = vec![TechnicianSummary {
            name: "bob".into(),
            roles: vec![Role::L2, Role::Approver],
            public_key: key,
            created_at: NOW,
        }];
        let out = technician_table(&techs, NOW, 200);
        assert!(
            out.contains(&key.to_string()) && out.contains("l2, approver"),
            "{out}"
        );
    }

    #[test]
    fn identity_names_the_technician_and_roles() {
        let who = SessionIdentity::Technician {
            name: "alice".into(),
            roles: vec![Role::L1, Role::Admin],
        };
        assert_eq!(identity_text(&who), "alice (l1, admin)");
        assert_eq!(roles_text(&[]), "no roles");
    }
}
