//! Full-text search against a real store: words in titles, comments and
//! resolution notes, phrases, exclusions, ranking and snippets, internal
//! notes only for those who may see them, and similar resolved tickets.

use super::*;
use triage_shared::queue::{
    AssigneeFilter, Combine, FilterContext, FoundIn, SearchHit, SearchQuery, SearchTerm,
    TicketFilter,
};

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

async fn search(store: &Store, text: &str, internal: bool) -> Vec<SearchHit> {
    let query = SearchQuery::parse(text).unwrap();
    store
        .search_tickets(&query, &TicketFilter::default(), &anyone(), internal, 20)
        .await
        .unwrap()
}

fn marked(hit: &SearchHit) -> Vec<String> {
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

fn ids_of(hits: &[SearchHit]) -> Vec<TicketId> {
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

store_test!(search_queries_and_filters_are_checked);
async fn search_queries_and_filters_are_checked(store: Store) {
    let bad = SearchQuery {
        terms: vec![SearchTerm {
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
