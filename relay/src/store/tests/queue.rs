//! The ticket queue against a real store: filtered, sorted keyset pages
//! that select what `TicketFilter::matches` selects, in every order and
//! across inserts, and the checks on what a list is asked.

use super::*;
use triage_shared::queue::{
    AssigneeFilter, FilterContext, TicketCursor, TicketFilter, TicketSort, MAX_FILTER_VALUES,
};
use triage_shared::selector::AgentSelector;
use triage_shared::ticket::Ticket;

const MINUTE_MS: i64 = 60_000;

fn at(ms: i64) -> Timestamp {
    Timestamp(NOW.0 + ms)
}

/// Ticket `i` of a set that varies every filtered field, with ties in
/// every sort key (so the id decides).
fn varied_ticket(i: usize, agents: &[AgentRecord]) -> Ticket {
    let pick = |n: usize| n % 7 != 0;
    let agent = pick(i).then(|| &agents[i % agents.len()]);
    let created = at(-((i / 2) as i64) * HOUR_MS);
    Ticket {
        id: TicketId::new_random(),
        title: format!("ticket {i}"),
        description: String::new(),
        category: Category::ALL[(i / 2) % Category::ALL.len()],
        priority: Priority::ALL[i % Priority::ALL.len()],
        status: Status::ALL[(i / 3) % Status::ALL.len()],
        tier: Tier::ALL[(i / 4) % Tier::ALL.len()],
        source: Source::ALL[(i / 5) % Source::ALL.len()],
        agent_id: agent.map(|a| a.id),
        hostname: agent.map(|a| a.hostname.clone()),
        requester: ["alice", "bob", "Alice"][(i / 2) % 3].into(),
        assignee: [None, Some("carol"), Some("dave")][(i / 3) % 3].map(String::from),
        created_at: created,
        updated_at: Timestamp(created.0 + ((i * 37) % 5) as i64 * 20 * MINUTE_MS),
        sla_due_at: at(((i * 13) % 9) as i64 * 30 * MINUTE_MS - 2 * HOUR_MS),
        sla: None,
    }
}

async fn store_ticket(store: &Store, ticket: &Ticket) {
    let created = TicketEvent {
        actor: ticket.requester.clone(),
        at: ticket.created_at,
        event: TicketEventKind::Created,
    };
    assert!(store.create_ticket(ticket, &created, None).await.unwrap());
}

async fn varied_set(store: &Store) -> (Vec<Ticket>, Vec<AgentRecord>) {
    let agents = vec![
        enrolled_agent(store, "pc-1").await,
        enrolled_agent(store, "pc-2").await,
    ];
    let mut tickets = Vec::new();
    for i in 0..48 {
        let ticket = varied_ticket(i, &agents);
        store_ticket(store, &ticket).await;
        // As stored: with the SLA clocks the store computed on filing.
        tickets.push(store.ticket(ticket.id).await.unwrap().unwrap());
    }
    (tickets, agents)
}

/// `tickets` in `sort` order, as the store should list them.
fn sorted(mut tickets: Vec<Ticket>, sort: TicketSort) -> Vec<Ticket> {
    tickets.sort_by(|a, b| {
        let (ka, kb) = (sort.keys(a), sort.keys(b));
        let (ia, ib) = (a.id.to_string(), b.id.to_string());
        match sort {
            TicketSort::Created | TicketSort::Updated => (kb[0], ib).cmp(&(ka[0], ia)),
            TicketSort::Due => (ka[0], ia).cmp(&(kb[0], ib)),
            TicketSort::Priority => (kb[0], ka[1], ia).cmp(&(ka[0], kb[1], ib)),
        }
    });
    tickets
}

fn ids(tickets: &[Ticket]) -> Vec<TicketId> {
    tickets.iter().map(|t| t.id).collect()
}

/// Every filter part alone (each must select some tickets and leave some
/// out), and combinations.
fn filters(agent: &AgentRecord) -> Vec<(&'static str, TicketFilter, bool)> {
    let base = TicketFilter::default;
    vec![
        ("nothing", base(), false),
        (
            "status",
            TicketFilter {
                statuses: vec![Status::Open, Status::Waiting],
                ..base()
            },
            true,
        ),
        (
            "tier",
            TicketFilter {
                tiers: vec![Tier::L2],
                ..base()
            },
            true,
        ),
        (
            "priority",
            TicketFilter {
                priorities: vec![Priority::High, Priority::Urgent],
                ..base()
            },
            true,
        ),
        (
            "category",
            TicketFilter {
                categories: vec![Category::Network],
                ..base()
            },
            true,
        ),
        (
            "source",
            TicketFilter {
                sources: vec![Source::HealthAlert],
                ..base()
            },
            true,
        ),
        (
            "me",
            TicketFilter {
                assignee: AssigneeFilter::Me,
                ..base()
            },
            true,
        ),
        (
            "unassigned",
            TicketFilter {
                assignee: AssigneeFilter::Unassigned,
                ..base()
            },
            true,
        ),
        (
            "named",
            TicketFilter {
                assignee: AssigneeFilter::Named("dave".into()),
                ..base()
            },
            true,
        ),
        (
            "agent",
            TicketFilter {
                agent: Some(AgentSelector::Id(agent.id)),
                ..base()
            },
            true,
        ),
        (
            "requester",
            TicketFilter {
                requester: Some("alice".into()),
                ..base()
            },
            true,
        ),
        (
            "created",
            TicketFilter {
                created_since: Some(at(-8 * HOUR_MS)),
                ..base()
            },
            true,
        ),
        (
            "updated",
            TicketFilter {
                updated_since: Some(at(-8 * HOUR_MS + 20 * MINUTE_MS)),
                ..base()
            },
            true,
        ),
        (
            "breaching",
            TicketFilter {
                breaching: true,
                ..base()
            },
            true,
        ),
        (
            "combined",
            TicketFilter {
                statuses: vec![Status::Open, Status::InProgress, Status::Waiting],
                priorities: vec![Priority::Low, Priority::High],
                assignee: AssigneeFilter::Me,
                breaching: true,
                ..base()
            },
            true,
        ),
        (
            "everything",
            TicketFilter {
                statuses: vec![Status::Open, Status::InProgress],
                tiers: vec![Tier::L1, Tier::L2],
                priorities: vec![Priority::Normal, Priority::Urgent, Priority::Low],
                categories: vec![Category::Hardware, Category::Software, Category::Other],
                sources: vec![Source::Employee, Source::HealthAlert],
                assignee: AssigneeFilter::Anyone,
                agent: Some(AgentSelector::Id(agent.id)),
                requester: Some("bob".into()),
                created_since: Some(at(-30 * HOUR_MS)),
                updated_since: Some(at(-30 * HOUR_MS)),
                breaching: false,
            },
            false,
        ),
    ]
}

store_test!(filtered_lists_select_what_matches_selects);
async fn filtered_lists_select_what_matches_selects(store: Store) {
    let (tickets, agents) = varied_set(&store).await;
    let context = FilterContext {
        caller: "carol".into(),
        agent: Some(agents[0].id),
        now: NOW,
    };
    for (name, filter, narrows) in filters(&agents[0]) {
        let expected: Vec<Ticket> = tickets
            .iter()
            .filter(|t| filter.matches(t, &context))
            .cloned()
            .collect();
        if narrows {
            assert!(
                !expected.is_empty() && expected.len() < tickets.len(),
                "{name}: the sample should have tickets in and out ({})",
                expected.len()
            );
        }
        for &sort in TicketSort::ALL {
            let listed = store
                .list_tickets_page(&filter, &context, sort, None, 1000)
                .await
                .unwrap();
            assert_eq!(
                ids(&listed),
                ids(&sorted(expected.clone(), sort)),
                "{name} sorted by {sort}"
            );
        }
    }
    // An endpoint that was named but did not resolve selects nothing.
    let unresolved = FilterContext {
        agent: None,
        ..context
    };
    let filter = TicketFilter {
        agent: Some(AgentSelector::Id(agents[0].id)),
        ..TicketFilter::default()
    };
    let listed = store
        .list_tickets_page(&filter, &unresolved, TicketSort::Created, None, 1000)
        .await
        .unwrap();
    assert!(listed.is_empty());
}

store_test!(pages_in_every_order_skip_nothing_and_repeat_nothing_across_inserts);
async fn pages_in_every_order_skip_nothing_and_repeat_nothing_across_inserts(store: Store) {
    let (tickets, agents) = varied_set(&store).await;
    let context = FilterContext {
        caller: "carol".into(),
        agent: None,
        now: NOW,
    };
    let filter = TicketFilter::default();
    let mut extra = 100;
    for &sort in TicketSort::ALL {
        let mut seen: Vec<Ticket> = Vec::new();
        let mut after: Option<TicketCursor> = None;
        loop {
            let page = store
                .list_tickets_page(&filter, &context, sort, after.as_ref(), 5)
                .await
                .unwrap();
            let Some(last) = page.last() else { break };
            after = Some(sort.cursor_after(last));
            let full = page.len() == 5;
            seen.extend(page);
            if !full {
                break;
            }
            // New tickets land between the first pages, before and after
            // the cursor.
            if seen.len() > 20 {
                continue;
            }
            for _ in 0..2 {
                let ticket = varied_ticket(extra, &agents);
                extra += 7;
                store_ticket(&store, &ticket).await;
            }
        }
        let seen_ids = ids(&seen);
        for t in &tickets {
            let times = seen_ids.iter().filter(|id| **id == t.id).count();
            assert_eq!(times, 1, "{sort}: ticket {} shown {times} times", t.title);
        }
        // In order, each once, whatever was inserted meanwhile.
        assert_eq!(seen_ids, ids(&sorted(seen.clone(), sort)), "{sort}");
    }
}

store_test!(priority_ranks_are_stored_and_a_cursor_of_another_order_is_refused);
async fn priority_ranks_are_stored_and_a_cursor_of_another_order_is_refused(store: Store) {
    let (_, _) = varied_set(&store).await;
    let context = FilterContext {
        caller: "carol".into(),
        agent: None,
        now: NOW,
    };
    let filter = TicketFilter::default();
    let first = store
        .list_tickets_page(&filter, &context, TicketSort::Priority, None, 1)
        .await
        .unwrap();
    assert_eq!(first[0].priority, Priority::Urgent);
    let cursor = TicketSort::Priority.cursor_after(&first[0]);
    let (kind, message) = refused_kind(
        store
            .list_tickets_page(&filter, &context, TicketSort::Due, Some(&cursor), 5)
            .await,
    );
    assert_eq!(kind, ErrorKind::InvalidInput);
    assert!(
        message.contains("sorted by priority, not by due"),
        "{message}"
    );
    let too_many = TicketFilter {
        statuses: vec![Status::Open; MAX_FILTER_VALUES + 1],
        ..TicketFilter::default()
    };
    let (kind, message) = refused_kind(
        store
            .list_tickets_page(&too_many, &context, TicketSort::Created, None, 5)
            .await,
    );
    assert_eq!(kind, ErrorKind::InvalidInput);
    assert!(message.contains("--status is given 9 times"), "{message}");
    let long_name = TicketFilter {
        requester: Some("x".repeat(65)),
        ..TicketFilter::default()
    };
    let (_, message) = refused_kind(
        store
            .list_tickets_page(&long_name, &context, TicketSort::Created, None, 5)
            .await,
    );
    assert!(message.contains("--requester is 65 bytes"), "{message}");
}
