//! `tickets show`: one ticket in full.

use super::run_line;
use crate::text::{indented_block, relative};
use std::fmt::Write as _;
use triage_shared::protocol::TicketDetail;
use triage_shared::text::clean;
use triage_shared::ticket::TicketEventKind;
use triage_shared::time::Timestamp;

/// `tickets show`: header fields, description, snapshot, attached
/// diagnostics and script runs, then comments and history merged in time order.
pub fn ticket_detail(detail: &TicketDetail, now: Timestamp) -> String {
    let t = &detail.ticket;
    let mut out = String::new();
    let field = |out: &mut String, name: &str, value: &str| {
        let _ = writeln!(out, "{name:<10} {value}");
    };
    field(&mut out, "Ticket", &t.id.to_string());
    field(&mut out, "Title", &clean(&t.title));
    field(&mut out, "Status", t.status.as_str());
    field(&mut out, "Tier", t.tier.as_str());
    field(&mut out, "Priority", t.priority.as_str());
    field(&mut out, "Category", t.category.as_str());
    field(&mut out, "Source", t.source.as_str());
    let host = match (&t.hostname, &t.agent_id) {
        (Some(h), Some(a)) => format!("{} (agent {a})", clean(h)),
        (Some(h), None) => clean(h),
        (None, Some(a)) => format!("agent {a}"),
        (None, None) => "-".into(),
    };
    field(&mut out, "Host", &host);
    field(&mut out, "Requester", &clean(&t.requester));
    field(
        &mut out,
        "Assignee",
        &clean(t.assignee.as_deref().unwrap_or("-")),
    );
    field(
        &mut out,
        "Created",
        &format!("{} ({})", t.created_at, relative(t.created_at, now)),
    );
    field(
        &mut out,
        "Updated",
        &format!("{} ({})", t.updated_at, relative(t.updated_at, now)),
    );
    for (name, text) in super::sla::clock_fields(t.sla.as_ref(), now) {
        field(&mut out, name, &text);
    }
    if let Some(score) = rating(detail) {
        field(&mut out, "Rating", &format!("{score}/5 (the employee's)"));
    }

    out.push_str("\nDescription\n");
    if t.description.trim().is_empty() {
        out.push_str("  (none)\n");
    } else {
        out.push_str(&indented_block(&t.description, "  "));
    }

    out.push('\n');
    match &detail.snapshot {
        Some(snapshot) => out.push_str(&snapshot.render_text()),
        None => out.push_str("No diagnostics snapshot attached.\n"),
    }
    out.push_str(&attachments(detail));

    out.push_str("\nHistory\n");
    out.push_str(&history(detail));
    out
}

/// Live diagnostics attached later and script runs: one line each (the
/// full reports and outputs are in `--json`).
fn attachments(detail: &TicketDetail) -> String {
    let mut out = String::new();
    if !detail.attached_diagnostics.is_empty() {
        out.push_str("\nAttached diagnostics\n");
        for d in &detail.attached_diagnostics {
            let _ = writeln!(
                out,
                "  {}  by {}  from {}",
                d.taken_at,
                clean(&d.taken_by),
                clean(&d.report.snapshot.os.hostname)
            );
        }
    }
    if !detail.script_runs.is_empty() {
        out.push_str("\nScript runs\n");
        for r in &detail.script_runs {
            let _ = writeln!(out, "  {}", run_line(r));
        }
    }
    if !detail.attachments.is_empty() {
        out.push_str(
            "\nAttached files (`triage tickets attachment TICKET ID -o FILE` fetches one)\n",
        );
        for a in &detail.attachments {
            let _ = writeln!(
                out,
                "  {}  {}  {:<10}  {}  {} bytes  by {}  {}",
                short(&a.id.to_string()),
                a.taken_at,
                a.kind.as_str(),
                clean(&a.name),
                a.bytes,
                clean(&a.taken_by),
                a.sha256
            );
        }
    }
    out
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// The employee's latest satisfaction score, if they gave one.
pub fn rating(detail: &TicketDetail) -> Option<u8> {
    detail.events.iter().rev().find_map(|e| match e.event {
        TicketEventKind::Rated { score } => Some(score),
        _ => None,
    })
}

fn history(detail: &TicketDetail) -> String {
    // Events sort before comments made at the same moment: "escalated", then its note.
    let mut entries: Vec<(Timestamp, u8, String)> = Vec::new();
    for e in &detail.events {
        let what = match &e.event {
            TicketEventKind::Created => "created the ticket".to_string(),
            TicketEventKind::Assigned { assignee } => format!("assigned it to {}", clean(assignee)),
            TicketEventKind::Escalated { from, to } => format!("escalated it {from} → {to}"),
            TicketEventKind::StatusChanged { from, to } => format!("changed status {from} → {to}"),
            TicketEventKind::Attached {
                kind,
                name,
                attachment,
            } => format!(
                "attached {} {} ({})",
                kind.as_str(),
                clean(name),
                short(&attachment.to_string())
            ),
            TicketEventKind::SlaWarning { clock, due_at } => {
                format!("SLA warning: {} due {due_at}", clock.label())
            }
            TicketEventKind::SlaBreached { clock, due_at } => {
                format!("SLA breached: {} was due {due_at}", clock.label())
            }
            TicketEventKind::Rated { score } => format!("rated the resolution {score}/5"),
            TicketEventKind::PriorityChanged { from, to } => {
                format!("changed priority {from} → {to}")
            }
        };
        entries.push((e.at, 0, format!("  {}  {} {what}\n", e.at, clean(&e.actor))));
    }
    for c in &detail.comments {
        // A note must never be mistaken for what the employee was told.
        let what = if c.internal {
            "(internal) noted"
        } else {
            "commented"
        };
        let mut text = format!("  {}  {} {what}:\n", c.created_at, clean(&c.author));
        text.push_str(&indented_block(&c.text, "      "));
        entries.push((c.created_at, 1, text));
    }
    if entries.is_empty() {
        return "  (nothing yet)\n".into();
    }
    entries.sort_by_key(|(at, order, _)| (*at, *order));
    entries.into_iter().map(|(_, _, text)| text).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::tests::{ticket, HOUR, NOW};
    use triage_shared::ids::CommentId;
    use triage_shared::ticket::{Comment, TicketEvent, Tier};

    fn detail() -> TicketDetail {
        let t = ticket("Outlook keeps crashing");
        let at = |h: i64| Timestamp(NOW.0 - h * HOUR);
        TicketDetail {
            events: vec![
                TicketEvent {
                    actor: "bob".into(),
                    at: at(1),
                    event: TicketEventKind::Escalated {
                        from: Tier::L1,
                        to: Tier::L2,
                    },
                },
                TicketEvent {
                    actor: "agent".into(),
                    at: at(3),
                    event: TicketEventKind::Created,
                },
            ],
            comments: vec![
                Comment {
                    id: CommentId::new_random(),
                    author: "bob".into(),
                    text: "needs L2\nsecond line".into(),
                    created_at: at(1),
                    internal: false,
                },
                Comment {
                    id: CommentId::new_random(),
                    author: "admin".into(),
                    text: "Looking into it".into(),
                    created_at: at(2),
                    internal: false,
                },
            ],
            snapshot: None,
            attached_diagnostics: vec![],
            script_runs: vec![],
            attachments: vec![],
            ticket: t,
        }
    }

    #[test]
    fn detail_shows_header_description_and_history_in_time_order() {
        let out = ticket_detail(&detail(), NOW);
        for needle in [
            "Ticket     1234abcd-0000-4000-8000-000000000001",
            "Title      Outlook keeps crashing",
            "Host       laptop-7 (agent 9999ffff-1111-4000-8000-000000000003)",
            "Response   not computed yet",
            "  It closes as soon as I open the calendar.",
            "No diagnostics snapshot attached.",
            "      second line",
        ] {
            assert!(out.contains(needle), "missing {needle:?} in\n{out}");
        }
        let pos = |s: &str| {
            out.find(s)
                .unwrap_or_else(|| panic!("missing {s} in\n{out}"))
        };
        assert!(pos("created the ticket") < pos("Looking into it"));
        assert!(pos("Looking into it") < pos("escalated it l1 → l2"));
        assert!(
            pos("escalated it l1 → l2") < pos("needs L2"),
            "an event comes before a comment made with it"
        );
    }

    #[test]
    fn detail_renders_the_snapshot_and_both_sla_clocks() {
        use triage_shared::sla::{evaluate, SlaFact, SlaPolicy};
        let mut d = detail();
        let filed = SlaFact::Created {
            at: Timestamp(NOW.0 - 2 * HOUR),
            priority: d.ticket.priority,
            category: d.ticket.category,
        };
        d.ticket.sla = Some(evaluate(&[filed], &SlaPolicy::default(), NOW).sla);
        d.snapshot = Some(sample_snapshot());
        let out = ticket_detail(&d, NOW);
        assert!(out.contains("Response   BREACHED: was due"), "{out}");
        assert!(out.contains("BREACHED: was due"), "{out}");
        assert!(out.contains("Resolution"), "{out}");
        assert!(
            out.contains("== System") && out.contains("snap-host"),
            "{out}"
        );
        d.ticket.sla = None;
        assert!(ticket_detail(&d, NOW).contains("not computed yet"));
    }

    #[test]
    fn detail_lists_attached_diagnostics_and_script_runs() {
        use triage_shared::protocol::AttachedDiagnostics;
        use triage_shared::remote::{DiagnosticsReport, RunId, RunOutcome, ScriptRunRecord};
        let mut d = detail();
        assert!(!ticket_detail(&d, NOW).contains("Script runs"));
        d.attached_diagnostics.push(AttachedDiagnostics {
            taken_at: NOW,
            taken_by: "lina".into(),
            report: DiagnosticsReport {
                snapshot: sample_snapshot(),
                software: None,
                services: None,
            },
        });
        d.script_runs.push(ScriptRunRecord {
            run_id: RunId::new_random(),
            script_id: triage_shared::approval::ScriptId(
                "aaaa1111-0000-4000-8000-000000000001".parse().unwrap(),
            ),
            requested_by: "alice".into(),
            started_at: NOW,
            outcome: Some(RunOutcome {
                exit_code: Some(3),
                timed_out: false,
                duration_ms: 2_000,
                output_bytes: 0,
                truncated: false,
            }),
            refusal: None,
            output: String::new(),
        });
        let out = ticket_detail(&d, NOW);
        assert!(
            out.contains("Attached diagnostics\n  2024-02-29T12:34:56Z  by lina  from snap-host\n"),
            "{out}"
        );
        assert!(
            out.contains("Script runs\n  2024-02-29T12:34:56Z  script aaaa1111  by alice  exit code 3 in 2.0s\n"),
            "{out}"
        );
    }

    #[test]
    fn detail_lists_attached_files() {
        use triage_shared::transfer::{
            AttachmentId, AttachmentKind, AttachmentSummary, ContentDigest,
        };
        let mut d = detail();
        assert!(!ticket_detail(&d, NOW).contains("Attached files"));
        d.attachments.push(AttachmentSummary {
            id: AttachmentId("abcdef12-0000-4000-8000-000000000001".parse().unwrap()),
            ticket_id: d.ticket.id,
            kind: AttachmentKind::Log,
            name: "/var/log/syslog\u{1b}".into(),
            agent_id: triage_shared::AgentId::new_random(),
            taken_by: "lina".into(),
            taken_at: NOW,
            bytes: 42,
            sha256: ContentDigest::of(b"x"),
        });
        let out = ticket_detail(&d, NOW);
        assert!(
            out.contains("  abcdef12  2024-02-29T12:34:56Z  log         /var/log/syslog?  42 bytes  by lina  sha256:2d71"),
            "{out}"
        );
    }

    #[test]
    fn internal_notes_are_marked_and_public_comments_are_not() {
        let mut d = detail();
        d.comments[1].internal = true;
        let out = ticket_detail(&d, NOW);
        assert!(
            out.contains(
                "  2024-02-29T10:34:56Z  admin (internal) noted:\n      Looking into it\n"
            ),
            "{out}"
        );
        assert!(
            out.contains("  2024-02-29T11:34:56Z  bob commented:\n"),
            "{out}"
        );
        assert_eq!(out.matches("(internal)").count(), 1, "{out}");
    }

    #[test]
    fn an_employee_screenshot_shows_in_the_history() {
        use triage_shared::transfer::{AttachmentId, AttachmentKind};
        let mut d = detail();
        d.events.push(TicketEvent {
            actor: "employee:alice".into(),
            at: NOW,
            event: TicketEventKind::Attached {
                kind: AttachmentKind::Screenshot,
                name: "screenshot.png".into(),
                attachment: AttachmentId("abcdef12-0000-4000-8000-000000000001".parse().unwrap()),
            },
        });
        let out = ticket_detail(&d, NOW);
        assert!(
            out.contains("employee:alice attached screenshot screenshot.png (abcdef12)"),
            "{out}"
        );
    }

    #[test]
    fn detail_strips_control_characters_everywhere() {
        let mut d = detail();
        d.ticket.title = "t\u{1b}[2J".into();
        d.ticket.description = "d\u{1b}[2J\nline".into();
        d.comments[0].text = "c\u{9b}31m".into();
        d.comments[0].author = "a\u{7}".into();
        d.events[0].actor = "e\u{1b}".into();
        let out = ticket_detail(&d, NOW);
        assert!(!out.chars().any(|c| c.is_control() && c != '\n'), "{out:?}");
    }

    fn sample_snapshot() -> triage_shared::diagnostics::Snapshot {
        use triage_shared::diagnostics::*;
        Snapshot {
            taken_at: NOW,
            os: OsInfo {
                name: "Debian".into(),
                version: "12".into(),
                kernel: "6.1".into(),
                hostname: "snap-host".into(),
                uptime_secs: 60,
            },
            cpu: CpuInfo {
                model: "cpu".into(),
                physical_cores: None,
                logical_cores: 2,
                usage_percent: 1.0,
                load_average: [0.0; 3],
            },
            memory: MemoryInfo {
                total_bytes: 1,
                used_bytes: 1,
                available_bytes: 0,
                swap_total_bytes: 0,
                swap_used_bytes: 0,
            },
            disks: vec![],
            networks: vec![],
            top_by_cpu: vec![],
            top_by_memory: vec![],
            components: vec![],
            users: vec![],
        }
    }
}
