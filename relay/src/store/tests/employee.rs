//! The employee in the loop, in the store: ticket news for an endpoint
//! (its own tickets, public comments only), the employee's answers
//! applied once, and the resolved tickets the auto-close sweeper finds.

use super::*;
use triage_shared::agent_update::AgentUpdate;
use triage_shared::ids::UpdateId;
use triage_shared::news::MAX_NEWS_TICKETS;

fn at(n: i64) -> Timestamp {
    Timestamp(NOW.0 + n)
}

async fn resolve(store: &Store, id: TicketId, when: Timestamp) {
    store
        .update_ticket(id, |t| {
            workflow::change_status(
                t,
                StatusAction::Resolve,
                "bob",
                Some("replaced the cable"),
                when,
            )
        })
        .await
        .unwrap();
}

async fn employee(store: &Store, agent: &AgentRecord, id: TicketId, update: AgentUpdate) -> bool {
    store
        .apply_agent_update(
            agent.id,
            "agent:pc-1",
            UpdateId::new_random(),
            id,
            &update,
            at(500),
        )
        .await
        .unwrap()
}

store_test!(news_holds_only_this_agents_tickets_and_public_replies);
async fn news_holds_only_this_agents_tickets_and_public_replies(store: Store) {
    let mine = enrolled_agent(&store, "pc-1").await;
    let other = enrolled_agent(&store, "pc-2").await;
    let id = file_ticket(&store, &mine, NOW).await;
    let theirs = file_ticket(&store, &other, NOW).await;
    store
        .update_ticket(id, |t| workflow::note(t, "bob", "printer is EOL", at(10)))
        .await
        .unwrap();
    store
        .update_ticket(id, |t| workflow::comment(t, "bob", "try it now", at(20)))
        .await
        .unwrap();
    let update = AgentUpdate::Comment("disk 97%".into());
    store
        .apply_agent_update(
            mine.id,
            "agent:pc-1",
            UpdateId::new_random(),
            id,
            &update,
            at(30),
        )
        .await
        .unwrap();
    let (news, more) = store
        .ticket_news_since(mine.id, Timestamp(0))
        .await
        .unwrap();
    assert!(!more);
    let [n] = news.as_slice() else {
        panic!("{news:?}")
    };
    assert_eq!(n.id, id);
    let texts: Vec<_> = n.replies.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(texts, ["try it now"], "no note, no agent reading");
    assert!(n.validate().is_ok());
    let (later, _) = store.ticket_news_since(mine.id, at(31)).await.unwrap();
    assert!(later.is_empty(), "nothing changed since");
    let (news, _) = store.ticket_news(theirs).await.unwrap().unwrap();
    assert_eq!(news, other.id);
}

store_test!(news_is_paged_oldest_change_first);
async fn news_is_paged_oldest_change_first(store: Store) {
    let agent = enrolled_agent(&store, "pc-1").await;
    for i in 0..(MAX_NEWS_TICKETS as i64 + 2) {
        file_ticket(&store, &agent, at(i)).await;
    }
    let (first, more) = store
        .ticket_news_since(agent.id, Timestamp(0))
        .await
        .unwrap();
    assert!(more);
    assert_eq!(first.len(), MAX_NEWS_TICKETS);
    assert!(first.windows(2).all(|w| w[0].updated_at <= w[1].updated_at));
    let last = first.last().unwrap().updated_at;
    let (rest, more) = store.ticket_news_since(agent.id, last).await.unwrap();
    assert!(!more);
    assert_eq!(rest.len(), 3, "the last one again, and the two after it");
}

store_test!(no_reopens_with_the_words_and_yes_closes_with_the_score);
async fn no_reopens_with_the_words_and_yes_closes_with_the_score(store: Store) {
    let agent = enrolled_agent(&store, "pc-1").await;
    let id = file_ticket(&store, &agent, NOW).await;
    let requester = store.ticket(id).await.unwrap().unwrap().requester;
    resolve(&store, id, at(100)).await;
    let no = AgentUpdate::NotFixed {
        requester: requester.clone(),
        words: "still no sound".into(),
        score: None,
    };
    assert!(employee(&store, &agent, id, no).await);
    let detail = store.ticket_detail(id).await.unwrap().unwrap();
    assert_eq!(detail.ticket.status, Status::Open);
    let last = detail.comments.last().unwrap();
    assert_eq!(
        (last.author.as_str(), last.text.as_str()),
        (format!("employee:{requester}").as_str(), "still no sound")
    );
    resolve(&store, id, at(200)).await;
    let yes = AgentUpdate::Fixed {
        requester: requester.clone(),
        score: Some(4),
    };
    let uid = UpdateId::new_random();
    for delivery in [true, false] {
        let applied = store
            .apply_agent_update(agent.id, "agent:pc-1", uid, id, &yes, at(300))
            .await
            .unwrap();
        assert_eq!(applied, delivery, "a redelivery changes nothing");
    }
    let detail = store.ticket_detail(id).await.unwrap().unwrap();
    assert_eq!(detail.ticket.status, Status::Closed);
    let rated: Vec<_> = detail
        .events
        .iter()
        .filter(|e| matches!(e.event, TicketEventKind::Rated { .. }))
        .collect();
    assert_eq!(rated.len(), 1);
    assert_eq!(rated[0].event, TicketEventKind::Rated { score: 4 });
    // Someone else's answer on that computer is refused and changes nothing.
    let mallory = AgentUpdate::NotFixed {
        requester: "mallory".into(),
        words: "reopen".into(),
        score: None,
    };
    let refused = store
        .apply_agent_update(
            agent.id,
            "agent:pc-1",
            UpdateId::new_random(),
            id,
            &mallory,
            at(400),
        )
        .await;
    assert_eq!(refused_kind(refused).0, ErrorKind::Forbidden);
    assert_eq!(
        store.ticket(id).await.unwrap().unwrap().status,
        Status::Closed
    );
}

store_test!(resolved_tickets_untouched_since_the_cutoff_are_found);
async fn resolved_tickets_untouched_since_the_cutoff_are_found(store: Store) {
    let agent = enrolled_agent(&store, "pc-1").await;
    let old = file_ticket(&store, &agent, NOW).await;
    let recent = file_ticket(&store, &agent, NOW).await;
    let open = file_ticket(&store, &agent, NOW).await;
    resolve(&store, old, at(100)).await;
    resolve(&store, recent, at(900)).await;
    assert_eq!(store.resolved_before(at(500)).await.unwrap(), [old]);
    assert!(!store
        .resolved_before(at(2000))
        .await
        .unwrap()
        .contains(&open));
}
