//! The queue against a real store: filtered, sorted keyset pages that
//! select what `TicketFilter::matches` selects, full-text search with its
//! internal-note rule, similar tickets, endpoint filters and the schema
//! check for databases written by a newer relay.

use super::*;
use triage_shared::queue::{
    glob_matches, AgentFilter, AssigneeFilter, Combine, FilterContext, FoundIn, SearchQuery,
    TicketCursor, TicketFilter, TicketSort, MAX_FILTER_VALUES,
};
use triage_shared::selector::{AgentCursor, AgentSelector};
use triage_shared::ticket::Ticket;
use triage_shared::AgentId;

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
        tickets.push(ticket);
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

/// A ticket filed by `agent` with this title and description, then given
/// `comments` (public) and `notes` (internal) by carol.
async fn ticket_with(
    store: &Store,
    agent: &AgentRecord,
    title: &str,
    description: &str,
    comments: &[&str],
    notes: &[&str],
) -> TicketId {
    let mut new = submission();
    new.title = title.into();
    new.description = description.into();
    let (ticket, event) = workflow::new_ticket_from_agent(&new, agent, NOW).unwrap();
    assert!(store.create_ticket(&ticket, &event, None).await.unwrap());
    for text in comments {
        store
            .update_ticket(ticket.id, |t| workflow::comment(t, "carol", text, NOW))
            .await
            .unwrap();
    }
    for text in notes {
        store
            .update_ticket(ticket.id, |t| workflow::note(t, "carol", text, NOW))
            .await
            .unwrap();
    }
    ticket.id
}

async fn resolve(store: &Store, id: TicketId, note: &str) {
    store
        .update_ticket(id, |t| {
            workflow::change_status(t, StatusAction::Resolve, "carol", Some(note), NOW)
        })
        .await
        .unwrap();
}

fn anyone() -> FilterContext {
    FilterContext {
        caller: "carol".into(),
        agent: None,
        now: NOW,
    }
}

async fn search(store: &Store, text: &str, internal: bool) -> Vec<triage_shared::queue::SearchHit> {
    let query = SearchQuery::parse(text).unwrap();
    store
        .search_tickets(&query, &TicketFilter::default(), &anyone(), internal, 20)
        .await
        .unwrap()
}

fn marked(hit: &triage_shared::queue::SearchHit) -> Vec<String> {
    hit.snippet
        .pieces()
        .into_iter()
        .filter(|(_, m)| *m)
        .map(|(p, _)| p.to_lowercase())
        .collect()
}

store_test!(search_finds_words_in_titles_comments_and_resolution_notes);
async fn search_finds_words_in_titles_comments_and_resolution_notes(store: Store) {
    let pc = enrolled_agent(&store, "pc-1").await;
    let printer = ticket_with(&store, &pc, "Printer on fire", "smoke everywhere", &[], &[]).await;
    let wifi = ticket_with(
        &store,
        &pc,
        "Laptop is slow",
        "since Monday",
        &["the wifi drops out every hour"],
        &[],
    )
    .await;
    let toner = ticket_with(&store, &pc, "Faded pages", "hard to read", &[], &[]).await;
    resolve(&store, toner, "replaced the toner cartridge").await;

    let hits = search(&store, "wifi", true).await;
    assert_eq!(ids_of(&hits), [wifi]);
    assert_eq!(hits[0].found_in, FoundIn::Comment);
    assert_eq!(marked(&hits[0]), ["wifi"]);
    assert!(
        hits[0].snippet.text.contains("drops out"),
        "{:?}",
        hits[0].snippet
    );

    let hits = search(&store, "toner", true).await;
    assert_eq!(ids_of(&hits), [toner]);
    assert_eq!(hits[0].found_in, FoundIn::Comment);

    let hits = search(&store, "printers", true).await;
    assert_eq!(ids_of(&hits), [printer], "words are stemmed");
    assert_eq!(hits[0].found_in, FoundIn::Ticket);
    assert_eq!(marked(&hits[0]), ["printer"]);

    // Phrases keep their order; every word must be in one text.
    // (Words PostgreSQL's english configuration drops, like "out", would
    // not keep a phrase's order there.)
    assert_eq!(
        ids_of(&search(&store, "\"wifi drops\"", true).await),
        [wifi]
    );
    assert!(search(&store, "\"drops wifi\"", true).await.is_empty());
    assert!(search(&store, "wifi printer", true).await.is_empty());
    let any = SearchQuery {
        combine: Combine::Any,
        ..SearchQuery::parse("wifi printer").unwrap()
    };
    let hits = store
        .search_tickets(&any, &TicketFilter::default(), &anyone(), true, 20)
        .await
        .unwrap();
    assert_eq!(hits.len(), 2);
}

fn ids_of(hits: &[triage_shared::queue::SearchHit]) -> Vec<TicketId> {
    hits.iter().map(|h| h.ticket.id).collect()
}

store_test!(exclusions_leave_out_whole_tickets_and_better_matches_rank_first);
async fn exclusions_leave_out_whole_tickets_and_better_matches_rank_first(store: Store) {
    let pc = enrolled_agent(&store, "pc-1").await;
    let in_title = ticket_with(&store, &pc, "VPN will not connect", "from home", &[], &[]).await;
    let long = "the office laptop has many programs and one of them is the vpn client \
                which sometimes shows a warning about certificates and other things";
    let in_text = ticket_with(&store, &pc, "Laptop warnings", long, &[], &[]).await;
    let jammed = ticket_with(&store, &pc, "VPN slow", "printer jammed too", &[], &[]).await;
    let noted = ticket_with(&store, &pc, "VPN drops", "", &["also the printer"], &[]).await;

    let hits = search(&store, "vpn", true).await;
    assert_eq!(hits.len(), 4);
    assert_ne!(
        hits[3].ticket.id, in_title,
        "a title match ranks above a passing mention"
    );
    assert!(
        ids_of(&hits).iter().position(|id| *id == in_title)
            < ids_of(&hits).iter().position(|id| *id == in_text)
    );
    // The excluded word in the description, or in a comment, leaves out
    // the whole ticket.
    let hits = search(&store, "vpn -printer", true).await;
    let found = ids_of(&hits);
    assert!(
        found.contains(&in_title) && found.contains(&in_text),
        "{found:?}"
    );
    assert!(
        !found.contains(&jammed) && !found.contains(&noted),
        "{found:?}"
    );
    let hits = search(&store, "vpn -\"printer jammed\"", true).await;
    assert_eq!(hits.len(), 3);
    // A filter narrows a search as it narrows a list.
    let query = SearchQuery::parse("vpn").unwrap();
    let resolved_only = TicketFilter {
        statuses: vec![Status::Resolved],
        ..TicketFilter::default()
    };
    assert!(store
        .search_tickets(&query, &resolved_only, &anyone(), true, 20)
        .await
        .unwrap()
        .is_empty());
    let limited = store
        .search_tickets(&query, &TicketFilter::default(), &anyone(), true, 2)
        .await
        .unwrap();
    assert_eq!(limited.len(), 2);
}

store_test!(internal_notes_never_show_when_they_may_not_be_seen);
async fn internal_notes_never_show_when_they_may_not_be_seen(store: Store) {
    let pc = enrolled_agent(&store, "pc-1").await;
    let id = ticket_with(
        &store,
        &pc,
        "Password reset",
        "locked out",
        &["password reset link sent"],
        &["the password was hunter2 on the sticky note"],
    )
    .await;
    assert!(search(&store, "hunter2", false).await.is_empty());
    assert!(search(&store, "sticky note", false).await.is_empty());
    for hit in search(&store, "password", false)
        .await
        .into_iter()
        .chain(search(&store, "locked", false).await)
    {
        assert_eq!(hit.ticket.id, id);
        assert_ne!(hit.found_in, FoundIn::InternalNote);
        assert!(!hit.snippet.text.contains("hunter2"), "{:?}", hit.snippet);
        assert!(!hit.snippet.text.contains("sticky"), "{:?}", hit.snippet);
    }
    // Excluding a word only an internal note holds must not tell whether
    // the note holds it.
    assert_eq!(
        ids_of(&search(&store, "password -hunter2", false).await),
        [id]
    );

    let hits = search(&store, "hunter2", true).await;
    assert_eq!(ids_of(&hits), [id]);
    assert_eq!(hits[0].found_in, FoundIn::InternalNote);
    assert_eq!(marked(&hits[0]), ["hunter2"]);
    assert!(search(&store, "password -hunter2", true).await.is_empty());
}

store_test!(similar_tickets_are_other_finished_ones_with_their_resolution);
async fn similar_tickets_are_other_finished_ones_with_their_resolution(store: Store) {
    let pc = enrolled_agent(&store, "pc-1").await;
    let asked = ticket_with(&store, &pc, "Outlook crashes on startup", "", &[], &[]).await;
    let fixed = ticket_with(
        &store,
        &pc,
        "Outlook crashes opening attachments",
        "",
        &[],
        &[],
    )
    .await;
    resolve(&store, fixed, "repaired the Office install").await;
    let unrelated = ticket_with(&store, &pc, "Printer jam", "", &[], &[]).await;
    resolve(&store, unrelated, "cleared the paper").await;
    let still_open = ticket_with(&store, &pc, "Outlook crashes daily", "", &[], &[]).await;
    let similar = store.similar_tickets(asked, 5).await.unwrap();
    let found: Vec<_> = similar.iter().map(|s| s.ticket.id).collect();
    assert_eq!(found, [fixed], "not {still_open} (open) nor {unrelated}");
    assert_eq!(
        similar[0].resolution.as_deref(),
        Some("repaired the Office install")
    );
    let (kind, _) = refused_kind(store.similar_tickets(TicketId::new_random(), 5).await);
    assert_eq!(kind, ErrorKind::NotFound);
}

async fn agent_named(store: &Store, hostname: &str, os: &str) -> AgentRecord {
    let hash = token(store, 1, Timestamp(NOW.0 + HOUR_MS)).await;
    let key = KeyPair::generate().public_key();
    let id = store.enroll(&hash, &key, hostname, os, NOW).await.unwrap();
    store.agent(id).await.unwrap().unwrap()
}

/// What an endpoint filter selects, by the shared rules.
fn selects(filter: &AgentFilter, agent: &AgentRecord) -> bool {
    agent.removed_at.is_none()
        && filter.hostname_matches(&agent.hostname)
        && filter.os.as_ref().is_none_or(|os| {
            agent
                .os
                .to_ascii_lowercase()
                .contains(&os.to_ascii_lowercase())
        })
        && filter
            .seen_since
            .is_none_or(|since| agent.last_seen.is_some_and(|seen| seen >= since))
}

store_test!(endpoint_filters_agree_with_the_glob_and_escape_like_wildcards);
async fn endpoint_filters_agree_with_the_glob_and_escape_like_wildcards(store: Store) {
    let mut agents = Vec::new();
    for (hostname, os) in [
        ("pc-1", "Debian 12"),
        ("PC-2", "Windows 11 Pro"),
        ("pc_3", "Windows 10"),
        ("pc-3", "macOS 14"),
        ("pc%4", "Debian 12"),
        ("pc-14", "Debian 12"),
        ("laptop-9", "Ubuntu 100%"),
        ("back\\slash", "Ubuntu 24"),
    ] {
        agents.push(agent_named(&store, hostname, os).await);
    }
    for i in [1, 3] {
        store.touch_agent(agents[i].id, at(HOUR_MS)).await.unwrap();
        agents[i] = store.agent(agents[i].id).await.unwrap().unwrap();
    }
    let removed = agent_named(&store, "pc-removed", "Debian 12").await;
    store.remove_agent(removed.id, NOW).await.unwrap();
    let removed = store.agent(removed.id).await.unwrap().unwrap();
    agents.push(removed);

    let glob = |g: &str| AgentFilter {
        hostname: Some(g.into()),
        ..AgentFilter::default()
    };
    let cases = [
        ("everything", AgentFilter::default(), 8),
        ("star", glob("pc-*"), 4),
        ("case", glob("PC-?"), 3),
        ("literal underscore", glob("pc_3"), 1),
        ("literal percent", glob("pc%4"), 1),
        ("question mark", glob("pc?3"), 2),
        ("backslash", glob("back\\slash"), 1),
        (
            "os",
            AgentFilter {
                os: Some("WINDOWS".into()),
                ..AgentFilter::default()
            },
            2,
        ),
        (
            "os percent",
            AgentFilter {
                os: Some("100%".into()),
                ..AgentFilter::default()
            },
            1,
        ),
        (
            "seen",
            AgentFilter {
                seen_since: Some(at(1)),
                ..AgentFilter::default()
            },
            2,
        ),
        (
            "combined",
            AgentFilter {
                hostname: Some("*-*".into()),
                os: Some("debian".into()),
                ..AgentFilter::default()
            },
            2,
        ),
    ];
    for (name, filter, count) in cases {
        let expected: Vec<AgentId> = {
            let mut matching: Vec<_> = agents.iter().filter(|a| selects(&filter, a)).collect();
            matching.sort_by(|a, b| {
                (&a.hostname, a.id.to_string()).cmp(&(&b.hostname, b.id.to_string()))
            });
            matching.iter().map(|a| a.id).collect()
        };
        assert_eq!(expected.len(), count, "{name}: the sample's count");
        assert!(expected.iter().all(|id| {
            let a = agents.iter().find(|a| a.id == *id).unwrap();
            glob_matches(filter.hostname.as_deref().unwrap_or("*"), &a.hostname)
        }));
        // Two at a time, after each page's last.
        let mut listed = Vec::new();
        let mut after: Option<AgentCursor> = None;
        loop {
            let page = store
                .list_agents_filtered(&filter, after.as_ref(), 2)
                .await
                .unwrap();
            let Some(last) = page.last() else { break };
            after = Some(AgentCursor {
                hostname: last.hostname.clone(),
                id: last.id,
            });
            listed.extend(page.iter().map(|a| a.id));
        }
        assert_eq!(listed, expected, "{name}");
        assert_eq!(
            store.count_agents_matching(&filter).await.unwrap(),
            count as u64,
            "{name}"
        );
        let among: Vec<AgentId> = agents.iter().map(|a| a.id).collect();
        let mut found: Vec<AgentId> = store
            .agents_among(&among[..3], &filter)
            .await
            .unwrap()
            .iter()
            .map(|a| a.id)
            .collect();
        found.sort_by_key(|id| expected.iter().position(|e| e == id));
        let wanted: Vec<AgentId> = expected
            .iter()
            .copied()
            .filter(|id| among[..3].contains(id))
            .collect();
        assert_eq!(found, wanted, "{name} among the first three");
    }
    let (kind, message) = refused_kind(
        store
            .list_agents_filtered(&glob(&"x".repeat(65)), None, 5)
            .await,
    );
    assert_eq!(kind, ErrorKind::InvalidInput);
    assert!(message.contains("--hostname is 65 bytes"), "{message}");
}

store_test!(a_database_from_a_newer_relay_is_refused);
async fn a_database_from_a_newer_relay_is_refused(store: Store) {
    // What is applied now is known: running again changes nothing.
    migrate::run(&store.pool, store.backend).await.unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(29_990_101_000_000_i64)
    .bind("from a newer relay")
    .bind(true)
    .bind(vec![0u8; 48])
    .bind(0_i64)
    .execute(&store.pool)
    .await
    .unwrap();
    let err = migrate::run(&store.pool, store.backend).await.unwrap_err();
    assert!(
        matches!(err, StoreError::NewerSchema(29_990_101_000_000)),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("newer relay") && message.contains("29990101000000"),
        "{message}"
    );
}

store_test!(search_queries_and_filters_are_checked);
async fn search_queries_and_filters_are_checked(store: Store) {
    let bad = SearchQuery {
        terms: vec![triage_shared::queue::SearchTerm {
            words: vec!["Wifi\"".into()],
            exclude: false,
        }],
        combine: Combine::All,
    };
    let (kind, message) = refused_kind(
        store
            .search_tickets(&bad, &TicketFilter::default(), &anyone(), true, 5)
            .await,
    );
    assert_eq!(kind, ErrorKind::InvalidInput);
    assert!(message.contains("is not one lowercase word"), "{message}");
    let query = SearchQuery::parse("wifi").unwrap();
    let long = TicketFilter {
        assignee: AssigneeFilter::Named("y".repeat(65)),
        ..TicketFilter::default()
    };
    let (_, message) = refused_kind(
        store
            .search_tickets(&query, &long, &anyone(), true, 5)
            .await,
    );
    assert!(message.contains("--assignee is 65 bytes"), "{message}");
}
