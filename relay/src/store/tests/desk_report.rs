//! Help desk metrics against a hand-computed fixture: tickets with known
//! filing, first-response and resolve times, an escalation, a reopen,
//! ratings, met and missed SLAs, health alerts on hosts and deflections.
//! Every expected figure is worked out in the comments.

use super::*;
use crate::store::TicketUpdate;
use triage_shared::desk_report::*;
use triage_shared::ticket::Ticket;

const DAY: i64 = 86_400_000;
const MIN: i64 = 60_000;
const WINDOW: u64 = 30 * DAY as u64;

/// 01:00 UTC ten days before `NOW` (2023-11-14T22:13:20Z): the fixture's
/// first four tickets are filed on this one UTC day.
fn t0() -> i64 {
    (NOW.0 - 10 * DAY).div_euclid(DAY) * DAY + HOUR_MS
}

async fn file(
    store: &Store,
    source: Source,
    priority: Priority,
    host: Option<&str>,
    description: &str,
    created: i64,
) -> TicketId {
    let ticket = Ticket {
        id: TicketId::new_random(),
        title: "fixture".into(),
        description: description.into(),
        category: Category::Software,
        priority,
        status: Status::Open,
        tier: Tier::L1,
        source,
        agent_id: None,
        hostname: host.map(str::to_string),
        requester: "alice".into(),
        assignee: None,
        created_at: Timestamp(created),
        updated_at: Timestamp(created),
        sla_due_at: Timestamp(created),
        sla: None,
    };
    let filed = TicketEvent {
        actor: "alice".into(),
        at: Timestamp(created),
        event: TicketEventKind::Created,
    };
    assert!(store.create_ticket(&ticket, &filed, None).await.unwrap());
    ticket.id
}

async fn comment(store: &Store, id: TicketId, author: &str, at: i64) {
    store
        .update_ticket(id, |t| {
            workflow::comment(t, author, "a reply", Timestamp(at))
        })
        .await
        .unwrap();
}

async fn status(store: &Store, id: TicketId, action: StatusAction, actor: &str, at: i64) {
    store
        .update_ticket(id, |t| {
            workflow::change_status(t, action, actor, None, Timestamp(at))
        })
        .await
        .unwrap();
}

async fn escalate(store: &Store, id: TicketId, at: i64) {
    store
        .update_ticket(id, |t| workflow::escalate(t, "bob", None, Timestamp(at)))
        .await
        .unwrap();
}

async fn rate(store: &Store, id: TicketId, score: u8, at: i64) {
    store
        .update_ticket(id, |t| {
            let mut ticket = t.clone();
            ticket.updated_at = Timestamp(at);
            Ok(TicketUpdate {
                ticket,
                events: vec![TicketEvent {
                    actor: "employee:alice".into(),
                    at: Timestamp(at),
                    event: TicketEventKind::Rated { score },
                }],
                comments: Vec::new(),
                attachments: Vec::new(),
                resolution: None,
            })
        })
        .await
        .unwrap();
}

async fn deflection(store: &Store, agent: &AgentRecord, id: &str, at: i64) {
    sqlx::query(
        "INSERT INTO kb_deflections (id, article_id, agent_id, requester, query, at) \
         VALUES ($1, 1, $2, 'alice', 'printer', $3)",
    )
    .bind(id)
    .bind(agent.id.to_string())
    .bind(at)
    .execute(&store.pool)
    .await
    .unwrap();
}

/// The fixture (h = hour after filing unless said):
/// - A employee, pc-1, normal (24h to resolve): bob replies at 1h,
///   resolves at 3h (met); rated 5.
/// - B employee, pc-2, normal: bob starts it at 30m (a technician status
///   change is a response), escalates at 1h, carol resolves at 30h
///   (missed); rated 2.
/// - C employee, pc-1, urgent: alice's own comment at 10m is no response;
///   bob replies and resolves at 2h; alice reopens at 5h; still open.
/// - D technician, no host: untouched, open.
/// - E health alert `disk` on `<script>`, filed 2h before now, open.
/// - F health alert `disk` on `<script>`, filed 2 days ago, resolved by
///   its agent at 1h (met; no response).
/// - G health alert `memory` on srv-9, filed 4 days ago, escalated, open.
/// - H employee, old-pc, filed 40 days ago, resolved, rated 1: outside.
///
/// A..D are filed at t0, t0+1h, t0+2h, t0+3h.
async fn fixture(store: &Store) {
    let t0 = t0();
    let h = HOUR_MS;
    let normal = Priority::Normal;
    let a = file(store, Source::Employee, normal, Some("pc-1"), "", t0).await;
    comment(store, a, "bob", t0 + h).await;
    status(store, a, StatusAction::Resolve, "bob", t0 + 3 * h).await;
    rate(store, a, 5, t0 + 4 * h).await;

    let b_at = t0 + h;
    let b = file(store, Source::Employee, normal, Some("pc-2"), "", b_at).await;
    status(store, b, StatusAction::Start, "bob", b_at + 30 * MIN).await;
    escalate(store, b, b_at + h).await;
    status(store, b, StatusAction::Resolve, "carol", b_at + 30 * h).await;
    rate(store, b, 2, b_at + 2 * DAY).await;

    let c_at = t0 + 2 * h;
    let c = file(
        store,
        Source::Employee,
        Priority::Urgent,
        Some("pc-1"),
        "",
        c_at,
    )
    .await;
    comment(store, c, "employee:alice", c_at + 10 * MIN).await;
    comment(store, c, "bob", c_at + 2 * h).await;
    status(store, c, StatusAction::Resolve, "bob", c_at + 2 * h).await;
    status(
        store,
        c,
        StatusAction::Reopen,
        "employee:alice",
        c_at + 5 * h,
    )
    .await;

    file(store, Source::Technician, normal, None, "", t0 + 3 * h).await;

    let disk = "The health monitor on <script> raised the `disk` alert for /var.";
    let health = Source::HealthAlert;
    file(store, health, normal, Some("<script>"), disk, NOW.0 - 2 * h).await;
    let f_at = NOW.0 - 2 * DAY;
    let f = file(store, health, normal, Some("<script>"), disk, f_at).await;
    status(store, f, StatusAction::Resolve, "agent:f00d", f_at + h).await;
    let memory = "The health monitor on srv-9 raised the `memory` alert for RAM.";
    let g_at = NOW.0 - 4 * DAY;
    let g = file(store, health, normal, Some("srv-9"), memory, g_at).await;
    escalate(store, g, g_at + h).await;

    let h_at = NOW.0 - 40 * DAY;
    let old = file(store, Source::Employee, normal, Some("old-pc"), "", h_at).await;
    status(store, old, StatusAction::Resolve, "bob", h_at + DAY).await;
    rate(store, old, 1, h_at + DAY).await;

    // Two deflections in the window, one before it.
    let kiosk = enrolled_agent(store, "kiosk").await;
    sqlx::query(
        "INSERT INTO kb_articles (id, title, body, category, tags, visibility, script_digest, \
         from_ticket, version, author, created_at, updated_at) \
         VALUES (1, 'Printer jams', 'Open tray 2.', NULL, '', 'public', NULL, NULL, 1, 'bob', $1, $1)",
    )
    .bind(h_at)
    .execute(&store.pool)
    .await
    .unwrap();
    deflection(store, &kiosk, "d1", NOW.0 - DAY).await;
    deflection(store, &kiosk, "d2", NOW.0 - 3 * DAY).await;
    deflection(store, &kiosk, "d3", NOW.0 - 31 * DAY).await;
}

fn percentiles(count: u64, p50: i64, p90: i64) -> Percentiles {
    Percentiles {
        count,
        p50_ms: Some(p50 as u64),
        p90_ms: Some(p90 as u64),
    }
}

store_test!(report_figures_match_the_hand_computed_fixture);
async fn report_figures_match_the_hand_computed_fixture(store: Store) {
    fixture(&store).await;
    let r = store
        .desk_report(WINDOW, Some(ReportBy::Host), NOW)
        .await
        .unwrap();
    r.validate().unwrap();
    let h = HOUR_MS;
    assert_eq!((r.since, r.until), (Timestamp(NOW.0 - 30 * DAY), NOW));

    // Filed in the window: A..G = 7 (H is 40 days old).
    assert_eq!(r.overall.volume, 7);
    // First responses: B 30m, A 1h, C 2h. Nearest rank of 3:
    // p50 = ceil(1.5) = 2nd = 1h, p90 = ceil(2.7) = 3rd = 2h.
    assert_eq!(r.overall.first_response, percentiles(3, h, 2 * h));
    // Clocks stopped in the window: F 1h, A 3h, B 30h (C was reopened):
    // p50 = 2nd = 3h, p90 = 3rd = 30h.
    assert_eq!(r.overall.resolution, percentiles(3, 3 * h, 30 * h));
    // Of A, B, F: A and F within 24h, B over: 2 of 3.
    assert_eq!(r.overall.sla_compliance, Ratio { part: 2, of: 3 });
    // First resolved in the window: A, B, C, F. At L1, never escalated or
    // reopened: A and F (B escalated, C reopened): 2 of 4.
    assert_eq!(r.overall.first_contact_resolution, Ratio { part: 2, of: 4 });
    // Of the same four, C was reopened: 1 of 4.
    assert_eq!(r.reopen_rate, Ratio { part: 1, of: 4 });
    // Active now: C (L1, 9.9 days), D (L1, 9.8 days), E (L1, 2 hours),
    // G (L2 after its escalation, 4 days).
    assert_eq!(
        r.backlog,
        vec![
            Backlog {
                tier: Tier::L1,
                by_age: [1, 0, 0, 2]
            },
            Backlog {
                tier: Tier::L2,
                by_age: [0, 0, 1, 0]
            },
            Backlog {
                tier: Tier::L3,
                by_age: [0; 4]
            },
        ]
    );
    // E, F, G; disk on E and F, memory on G; E and F on `<script>`.
    assert_eq!(r.health_alerts, 3);
    let counts = |l: &[LabelCount]| -> Vec<(String, u64)> {
        l.iter().map(|l| (l.label.clone(), l.count)).collect()
    };
    assert_eq!(
        counts(&r.alerts_by_rule),
        [("disk".to_string(), 2), ("memory".to_string(), 1)]
    );
    assert_eq!(
        counts(&r.alerts_by_host),
        [("<script>".to_string(), 2), ("srv-9".to_string(), 1)]
    );
    // Rated in the window: A 5, B 2 (H's 1 is too old): mean 3.5.
    assert_eq!(r.satisfaction.by_score, [0, 1, 0, 0, 1]);
    assert_eq!(r.satisfaction.mean(), Some(3.5));
    // d1, d2 against A, B, C filed by employees: 2 / (2 + 3) = 40 %.
    assert_eq!(
        r.deflection,
        DeflectionRate {
            deflections: 2,
            employee_tickets: 3
        }
    );
    assert_eq!(r.deflection.rate().percent(), Some(40.0));
    // F 1h and A 3h in 1-4h, B 30h in 1-3d.
    assert_eq!(r.resolution_histogram, [0, 2, 0, 0, 1, 0, 0]);

    // t0's day: A, B, C by employees, D by a technician; A's clock stopped
    // (met). The next day: B's clock stopped (missed), nothing filed.
    let first_day = Timestamp(t0().div_euclid(DAY) * DAY);
    let day = |at: Timestamp| r.days.iter().find(|d| d.day == at).cloned();
    assert_eq!(
        day(first_day),
        Some(Day {
            day: first_day,
            filed: [3, 0, 1],
            sla: Ratio { part: 1, of: 1 }
        })
    );
    let next = Timestamp(first_day.0 + DAY);
    assert_eq!(
        day(next),
        Some(Day {
            day: next,
            filed: [0; 3],
            sla: Ratio { part: 0, of: 1 }
        })
    );
    let filed: u64 = r.days.iter().flat_map(|d| d.filed).sum();
    assert_eq!(filed, 7);

    // By host, most filed first, then by name: `<script>` (E, F) and pc-1
    // (A, C) with 2; then `-` (D), pc-2 (B), srv-9 (G) with 1. old-pc has
    // nothing in the window.
    let labels: Vec<&str> = r.groups.iter().map(|g| g.label.as_str()).collect();
    assert_eq!(labels, ["<script>", "pc-1", "-", "pc-2", "srv-9"]);
    assert_eq!(r.groups_omitted, 0);
    let group = |name: &str| &r.groups.iter().find(|g| g.label == name).unwrap().figures;
    // pc-1: A responded 1h, C 2h (p50 = 1st of 2, p90 = 2nd); A's clock
    // stopped at 3h, met; A first-contact, C not.
    assert_eq!(
        group("pc-1"),
        &Headline {
            volume: 2,
            first_response: percentiles(2, h, 2 * h),
            resolution: percentiles(1, 3 * h, 3 * h),
            sla_compliance: Ratio { part: 1, of: 1 },
            first_contact_resolution: Ratio { part: 1, of: 2 },
        }
    );
    // pc-2: B, 30m, 30h, missed, escalated.
    assert_eq!(
        group("pc-2"),
        &Headline {
            volume: 1,
            first_response: percentiles(1, 30 * MIN, 30 * MIN),
            resolution: percentiles(1, 30 * h, 30 * h),
            sla_compliance: Ratio { part: 0, of: 1 },
            first_contact_resolution: Ratio { part: 0, of: 1 },
        }
    );
    // `<script>`: F resolved by its agent in 1h, no response.
    assert_eq!(
        group("<script>"),
        &Headline {
            volume: 2,
            first_response: Percentiles::default(),
            resolution: percentiles(1, h, h),
            sla_compliance: Ratio { part: 1, of: 1 },
            first_contact_resolution: Ratio { part: 1, of: 1 },
        }
    );
    assert_eq!(
        group("-"),
        &Headline {
            volume: 1,
            ..Headline::default()
        }
    );
}

store_test!(the_window_and_grouping_select_what_they_say);
async fn the_window_and_grouping_select_what_they_say(store: Store) {
    fixture(&store).await;
    // The last day only: E (2 hours old), and d1 (a day ago, on the edge).
    let r = store.desk_report(DAY as u64, None, NOW).await.unwrap();
    assert_eq!(r.overall.volume, 1);
    assert_eq!(r.overall.resolution.count, 0);
    assert_eq!(r.overall.sla_compliance.percent(), None);
    assert_eq!(r.health_alerts, 1);
    assert_eq!(
        r.deflection,
        DeflectionRate {
            deflections: 1,
            employee_tickets: 0
        }
    );
    assert!(r.groups.is_empty() && r.by.is_none());
    // The backlog is now, whatever the window.
    assert_eq!(r.backlog[0].total(), 3);

    // By tier, as the tickets stand: l1 A, C, D, E, F; l2 B, G.
    let r = store
        .desk_report(WINDOW, Some(ReportBy::Tier), NOW)
        .await
        .unwrap();
    let volumes: Vec<(&str, u64)> = r
        .groups
        .iter()
        .map(|g| (g.label.as_str(), g.figures.volume))
        .collect();
    assert_eq!(volumes, [("l1", 5), ("l2", 2)]);
    // l2: B missed its SLA and was escalated.
    let l2 = &r.groups[1].figures;
    assert_eq!(l2.sla_compliance, Ratio { part: 0, of: 1 });
    assert_eq!(l2.first_contact_resolution, Ratio { part: 0, of: 1 });

    // Out-of-range windows are refused with what is allowed.
    let (kind, message) = refused_kind(store.desk_report(DAY as u64 - 1, None, NOW).await);
    assert_eq!(kind, ErrorKind::InvalidInput);
    assert!(message.contains("1d to 730d"), "{message}");
}

store_test!(many_groups_are_capped_and_counted);
async fn many_groups_are_capped_and_counted(store: Store) {
    let extra = 3;
    for i in 0..MAX_REPORT_GROUPS + extra {
        let host = format!("host-{i:03}");
        file(
            &store,
            Source::Employee,
            Priority::Normal,
            Some(&host),
            "",
            NOW.0 - DAY,
        )
        .await;
    }
    let r = store
        .desk_report(WINDOW, Some(ReportBy::Host), NOW)
        .await
        .unwrap();
    r.validate().unwrap();
    assert_eq!(r.groups.len(), MAX_REPORT_GROUPS);
    assert_eq!(r.groups_omitted, extra as u64);
    assert_eq!(r.groups[0].label, "host-000");
    assert_eq!(r.overall.volume, (MAX_REPORT_GROUPS + extra) as u64);
}

store_test!(an_empty_store_reports_zeros);
async fn an_empty_store_reports_zeros(store: Store) {
    let r = store
        .desk_report(WINDOW, Some(ReportBy::Assignee), NOW)
        .await
        .unwrap();
    r.validate().unwrap();
    assert_eq!(r.overall, Headline::default());
    assert!(r.groups.is_empty() && r.days.is_empty());
    assert_eq!(r.backlog.len(), 3);
    assert_eq!(r.resolution_histogram, [0; 7]);
    assert_eq!(r.satisfaction.mean(), None);
}
