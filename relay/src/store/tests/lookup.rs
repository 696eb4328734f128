//! Resolving what technicians type, and paging the endpoint list, against
//! the whole store (`crate::resolve`).

use super::*;
use crate::resolve;
use triage_shared::selector::{AgentCursor, AgentSelector, IdPrefix, TicketRef};

fn by_name(name: &str) -> AgentSelector {
    AgentSelector::parse(name).unwrap()
}

fn refusal(result: Result<impl std::fmt::Debug, StoreError>) -> (ErrorKind, String) {
    refused_kind(result)
}

store_test!(agents_resolve_by_id_prefix_and_hostname_ignoring_case);
async fn agents_resolve_by_id_prefix_and_hostname_ignoring_case(store: Store) {
    let laptop = enrolled_agent(&store, "Laptop-7").await;
    let desk = enrolled_agent(&store, "desk-1").await;
    let found = resolve::agent(&store, &AgentSelector::Id(laptop.id))
        .await
        .unwrap();
    assert_eq!(found.id, laptop.id);
    assert_eq!(
        resolve::agent(&store, &by_name("laptop-7"))
            .await
            .unwrap()
            .id,
        laptop.id
    );
    let prefix = desk.id.0.simple().to_string()[..10].to_ascii_uppercase();
    assert_eq!(
        resolve::agent(&store, &by_name(&prefix)).await.unwrap().id,
        desk.id
    );
    // The hyphenated form of a prefix past the first group matches too.
    let hyphenated = desk.id.to_string()[..13].to_string();
    assert_eq!(
        resolve::agent(&store, &by_name(&hyphenated))
            .await
            .unwrap()
            .id,
        desk.id
    );

    let (kind, message) = refusal(resolve::agent(&store, &by_name("printer-9")).await);
    assert_eq!(kind, ErrorKind::NotFound);
    assert!(
        message.contains("no agent has the id or hostname `printer-9`"),
        "{message}"
    );
    assert!(message.contains("triage agents list"), "{message}");
}

store_test!(a_shared_hostname_or_a_name_that_is_also_a_prefix_is_ambiguous);
async fn a_shared_hostname_or_a_name_that_is_also_a_prefix_is_ambiguous(store: Store) {
    let first = enrolled_agent(&store, "twin").await;
    let second = enrolled_agent(&store, "TWIN").await;
    let (kind, message) = refusal(resolve::agent(&store, &by_name("twin")).await);
    assert_eq!(kind, ErrorKind::InvalidInput);
    assert!(message.contains("several"), "{message}");
    assert!(message.contains(&first.id.to_string()) && message.contains(&second.id.to_string()));
    // A hostname that reads as another agent's id prefix matches both.
    let prefix = first.id.short();
    let named_like_a_prefix = enrolled_agent(&store, &prefix).await;
    let (_, message) = refusal(resolve::agent(&store, &by_name(&prefix)).await);
    assert!(
        message.contains(&named_like_a_prefix.id.to_string()),
        "{message}"
    );
    assert!(message.contains(&first.id.to_string()), "{message}");
}

store_test!(removed_agents_are_not_resolved);
async fn removed_agents_are_not_resolved(store: Store) {
    let gone = enrolled_agent(&store, "gone").await;
    store.remove_agent(gone.id, NOW).await.unwrap();
    for selector in [AgentSelector::Id(gone.id), by_name("gone")] {
        let (kind, _) = refusal(resolve::agent(&store, &selector).await);
        assert_eq!(kind, ErrorKind::NotFound);
    }
}

store_test!(forged_selectors_are_refused_before_any_query);
async fn forged_selectors_are_refused_before_any_query(store: Store) {
    enrolled_agent(&store, "pc").await;
    for forged in ["", "%", &"x".repeat(65), "pc\u{7}"] {
        let (kind, _) = refusal(resolve::agent(&store, &AgentSelector::Name(forged.into())).await);
        // "%" is a fine name that matches nothing (it is no LIKE pattern).
        let expected = if forged == "%" {
            ErrorKind::NotFound
        } else {
            ErrorKind::InvalidInput
        };
        assert_eq!(kind, expected, "{forged:?}");
    }
}

store_test!(tickets_resolve_by_full_id_or_unique_prefix);
async fn tickets_resolve_by_full_id_or_unique_prefix(store: Store) {
    let agent = enrolled_agent(&store, "pc").await;
    let id = file_ticket(&store, &agent, NOW).await;
    assert_eq!(
        resolve::ticket(&store, &TicketRef::Full(id)).await.unwrap(),
        id
    );
    let prefix = TicketRef::parse(&id.short()).unwrap();
    assert_eq!(resolve::ticket(&store, &prefix).await.unwrap(), id);
    let (kind, message) =
        refusal(resolve::ticket(&store, &TicketRef::Full(TicketId::new_random())).await);
    assert_eq!(kind, ErrorKind::NotFound, "{message}");
    let other = if id.short().starts_with('0') {
        "ffffffff"
    } else {
        "00000000"
    };
    let (kind, message) = refusal(resolve::ticket(&store, &TicketRef::parse(other).unwrap()).await);
    assert_eq!(kind, ErrorKind::NotFound);
    assert!(message.contains("triage tickets list"), "{message}");
    let forged = TicketRef::Prefix(serde_json::from_str::<IdPrefix>("\"%\"").unwrap());
    let (kind, _) = refusal(resolve::ticket(&store, &forged).await);
    assert_eq!(kind, ErrorKind::InvalidInput);
}

store_test!(ticket_prefixes_shared_by_two_tickets_are_ambiguous);
async fn ticket_prefixes_shared_by_two_tickets_are_ambiguous(store: Store) {
    let agent = enrolled_agent(&store, "pc").await;
    let mut ids = Vec::new();
    for n in 1..=2u8 {
        let mut new = submission();
        new.id = TicketId(
            format!("abcdef01-{n}000-4000-8000-000000000000")
                .parse()
                .unwrap(),
        );
        let (ticket, event) = workflow::new_ticket_from_agent(&new, &agent, NOW).unwrap();
        store.create_ticket(&ticket, &event, None).await.unwrap();
        ids.push(ticket.id);
    }
    let shared = TicketRef::parse("ABCDEF01").unwrap();
    let (kind, message) = refusal(resolve::ticket(&store, &shared).await);
    assert_eq!(kind, ErrorKind::InvalidInput);
    assert!(message.contains("several"), "{message}");
    assert!(message.contains(&ids[0].to_string()) && message.contains(&ids[1].to_string()));
    // One more digit tells them apart, hyphenated or not.
    let unique = TicketRef::parse("abcdef01-2").unwrap();
    assert_eq!(resolve::ticket(&store, &unique).await.unwrap(), ids[1]);
    let unique = TicketRef::parse("abcdef011").unwrap();
    assert_eq!(resolve::ticket(&store, &unique).await.unwrap(), ids[0]);
}

store_test!(the_endpoint_list_pages_by_hostname_without_gaps_or_repeats);
async fn the_endpoint_list_pages_by_hostname_without_gaps_or_repeats(store: Store) {
    let mut enrolled = Vec::new();
    for n in 0..7 {
        // Two agents share each hostname, so the id breaks the tie.
        enrolled.push(enrolled_agent(&store, &format!("pc-{}", n / 2)).await.id);
    }
    let gone = enrolled_agent(&store, "pc-9").await;
    store.remove_agent(gone.id, NOW).await.unwrap();
    let mut seen: Vec<AgentRecord> = Vec::new();
    let mut after: Option<AgentCursor> = None;
    let mut pages = 0;
    loop {
        let (page, next) = resolve::agent_page(&store, after.as_ref(), 3)
            .await
            .unwrap();
        assert!(page.len() <= 3);
        seen.extend(page);
        pages += 1;
        match next {
            Some(cursor) => after = Some(cursor),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let mut ids: Vec<_> = seen.iter().map(|a| a.id).collect();
    let sorted_by_listing: Vec<_> = {
        let mut s = seen.clone();
        s.sort_by(|a, b| (&a.hostname, a.id).cmp(&(&b.hostname, b.id)));
        s.iter().map(|a| a.id).collect()
    };
    assert_eq!(ids, sorted_by_listing, "pages come in (hostname, id) order");
    ids.sort();
    enrolled.sort();
    assert_eq!(
        ids, enrolled,
        "every agent once, the removed one not at all"
    );
    let (whole, next) = resolve::agent_page(&store, None, 0).await.unwrap();
    assert_eq!((whole.len(), next), (7, None));
    let forged = AgentCursor {
        hostname: "h".repeat(65),
        id: gone.id,
    };
    let (kind, _) = refusal(resolve::agent_page(&store, Some(&forged), 3).await);
    assert_eq!(kind, ErrorKind::InvalidInput);
}
