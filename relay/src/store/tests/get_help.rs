//! The "Get help" window's store side: internal notes, "My tickets" and an
//! employee's screenshot attached by their agent.

use super::*;
use triage_shared::agent_update::{AgentUpdate, PNG_SIGNATURE};
use triage_shared::ids::{CommentId, UpdateId};
use triage_shared::transfer::{AttachmentId, AttachmentKind, ContentDigest};

const AGENT_ACTOR: &str = "agent:pc-1";

fn at(n: i64) -> Timestamp {
    Timestamp(NOW.0 + n)
}

/// Files a ticket for `requester` through `agent` at `when`.
async fn filed_for(
    store: &Store,
    agent: &AgentRecord,
    requester: &str,
    when: Timestamp,
) -> TicketId {
    let new = NewTicket {
        requester: requester.into(),
        ..submission()
    };
    let (ticket, event) = workflow::new_ticket_from_agent(&new, agent, when).unwrap();
    assert!(store.create_ticket(&ticket, &event, None).await.unwrap());
    ticket.id
}

async fn comment(store: &Store, id: TicketId, author: &str, text: &str, when: Timestamp) {
    store
        .update_ticket(id, |t| workflow::comment(t, author, text, when))
        .await
        .unwrap();
}

async fn note(store: &Store, id: TicketId, author: &str, text: &str, when: Timestamp) {
    store
        .update_ticket(id, |t| workflow::note(t, author, text, when))
        .await
        .unwrap();
}

async fn agent_comment(store: &Store, agent: &AgentRecord, id: TicketId, text: &str) {
    let update = AgentUpdate::Comment(text.into());
    let uid = UpdateId::new_random();
    assert!(store
        .apply_agent_update(agent.id, AGENT_ACTOR, uid, id, &update, at(50))
        .await
        .unwrap());
}

store_test!(the_internal_flag_round_trips_and_old_comments_are_public);
async fn the_internal_flag_round_trips_and_old_comments_are_public(store: Store) {
    let agent = enrolled_agent(&store, "pc-1").await;
    let id = file_ticket(&store, &agent, NOW).await;
    // A row written before the migration names no `internal` column.
    sqlx::query(
        "INSERT INTO ticket_comments (id, ticket_id, seq, author, body, created_at) \
         VALUES ($1, $2, 1, 'bob', 'from before', $3)",
    )
    .bind(CommentId::new_random().to_string())
    .bind(id.to_string())
    .bind(at(1).millis())
    .execute(&store.pool)
    .await
    .unwrap();
    comment(&store, id, "bob", "public", at(2)).await;
    note(&store, id, "bob", "internal", at(3)).await;
    let detail = store.ticket_detail(id).await.unwrap().unwrap();
    let seen: Vec<(&str, bool)> = detail
        .comments
        .iter()
        .map(|c| (c.text.as_str(), c.internal))
        .collect();
    assert_eq!(
        seen,
        [
            ("from before", false),
            ("public", false),
            ("internal", true)
        ]
    );
}

store_test!(my_tickets_are_this_agents_for_this_requester_newest_first);
async fn my_tickets_are_this_agents_for_this_requester_newest_first(store: Store) {
    let agent = enrolled_agent(&store, "pc-1").await;
    let other = enrolled_agent(&store, "pc-2").await;
    let old = filed_for(&store, &agent, "alice", at(1)).await;
    let new = filed_for(&store, &agent, "alice", at(3)).await;
    let middle = filed_for(&store, &agent, "alice", at(2)).await;
    filed_for(&store, &agent, "bob", at(4)).await;
    // Same requester name on another machine: not this agent's ticket.
    filed_for(&store, &other, "alice", at(5)).await;
    let ids = |tickets: Vec<triage_shared::ticket::EmployeeTicket>| {
        tickets.into_iter().map(|t| t.id).collect::<Vec<_>>()
    };
    let mine = store
        .my_tickets(agent.id, "alice", AGENT_ACTOR, 10)
        .await
        .unwrap();
    assert_eq!(mine[0].title, submission().title);
    assert_eq!(mine[0].status, Status::Open);
    assert_eq!(mine[0].created_at, at(3));
    assert_eq!(ids(mine), [new, middle, old]);
    let two = store
        .my_tickets(agent.id, "alice", AGENT_ACTOR, 2)
        .await
        .unwrap();
    assert_eq!(ids(two), [new, middle]);
    let bobs = store
        .my_tickets(agent.id, "bob", AGENT_ACTOR, 10)
        .await
        .unwrap();
    assert_eq!(bobs.len(), 1);
    let nobody = store
        .my_tickets(agent.id, "carol", AGENT_ACTOR, 10)
        .await
        .unwrap();
    assert!(nobody.is_empty());
    let theirs = store
        .my_tickets(other.id, "alice", "agent:pc-2", 10)
        .await
        .unwrap();
    assert_eq!(theirs.len(), 1);
    assert!(![new, middle, old].contains(&theirs[0].id));
}

store_test!(the_latest_reply_is_the_newest_public_comment_not_by_the_agent);
async fn the_latest_reply_is_the_newest_public_comment_not_by_the_agent(store: Store) {
    let agent = enrolled_agent(&store, "pc-1").await;
    let quiet = filed_for(&store, &agent, "alice", at(1)).await;
    let busy = filed_for(&store, &agent, "alice", at(2)).await;
    agent_comment(&store, &agent, quiet, "employee added details").await;
    comment(&store, busy, "bob", "first answer", at(10)).await;
    comment(&store, busy, "carol", "try rebooting", at(11)).await;
    note(&store, busy, "carol", "suspect the driver", at(12)).await;
    agent_comment(&store, &agent, busy, "rebooted, still broken").await;
    // A second busy ticket whose newest public reply has the same time as a
    // later note: order is by position, not by clock.
    let tie = filed_for(&store, &agent, "alice", at(3)).await;
    comment(&store, tie, "dan", "on it", at(20)).await;
    note(&store, tie, "dan", "internal, same millisecond", at(20)).await;

    let mine = store
        .my_tickets(agent.id, "alice", AGENT_ACTOR, 10)
        .await
        .unwrap();
    let replies: Vec<_> = mine
        .iter()
        .map(|t| {
            (
                t.id,
                t.latest_reply
                    .as_ref()
                    .map(|c| (c.author.as_str(), c.text.as_str(), c.internal)),
            )
        })
        .collect();
    assert_eq!(
        replies,
        [
            (tie, Some(("dan", "on it", false))),
            (busy, Some(("carol", "try rebooting", false))),
            (quiet, None),
        ]
    );
    assert_eq!(mine[1].latest_reply.as_ref().unwrap().created_at, at(11));
}

fn png(fill: u8) -> Vec<u8> {
    let mut png = PNG_SIGNATURE.to_vec();
    png.extend(std::iter::repeat_n(fill, 5000));
    png
}

store_test!(an_employee_screenshot_is_attached_once_per_update_id);
async fn an_employee_screenshot_is_attached_once_per_update_id(store: Store) {
    let agent = enrolled_agent(&store, "pc-1").await;
    let id = filed_for(&store, &agent, "alice", NOW).await;
    let uid = UpdateId::new_random();
    let data = png(9);
    let update = AgentUpdate::Screenshot(data.clone());
    assert!(store
        .apply_agent_update(agent.id, AGENT_ACTOR, uid, id, &update, at(1))
        .await
        .unwrap());
    for _ in 0..2 {
        assert!(!store
            .apply_agent_update(agent.id, AGENT_ACTOR, uid, id, &update, at(2))
            .await
            .unwrap());
    }
    let detail = store.ticket_detail(id).await.unwrap().unwrap();
    assert!(detail.comments.is_empty(), "{:?}", detail.comments);
    let [a] = detail.attachments.as_slice() else {
        panic!("{:?}", detail.attachments)
    };
    assert_eq!(a.id, AttachmentId(uid.0));
    assert_eq!(a.kind, AttachmentKind::Screenshot);
    assert_eq!(a.name, "screenshot.png");
    assert_eq!(a.taken_by, "employee:alice");
    assert_eq!(a.taken_at, at(1));
    assert_eq!(a.sha256, ContentDigest::of(&data));
    let (_, content) = store.attachment(id, a.id).await.unwrap().unwrap();
    assert_eq!(content, data);
    let attached: Vec<_> = detail
        .events
        .iter()
        .filter(|e| matches!(e.event, TicketEventKind::Attached { .. }))
        .collect();
    assert_eq!(attached.len(), 1);
    assert_eq!(attached[0].actor, "employee:alice");
    // Another update id is another screenshot.
    let second = AgentUpdate::Screenshot(png(3));
    store
        .apply_agent_update(
            agent.id,
            AGENT_ACTOR,
            UpdateId::new_random(),
            id,
            &second,
            at(3),
        )
        .await
        .unwrap();
    assert_eq!(store.attachments(id, 10).await.unwrap().len(), 2);
}

store_test!(a_bad_or_foreign_screenshot_leaves_no_trace);
async fn a_bad_or_foreign_screenshot_leaves_no_trace(store: Store) {
    let owner = enrolled_agent(&store, "pc-1").await;
    let intruder = enrolled_agent(&store, "pc-2").await;
    let id = filed_for(&store, &owner, "alice", NOW).await;
    let uid = UpdateId::new_random();
    let (kind, message) = refused_kind(
        store
            .apply_agent_update(
                intruder.id,
                "agent:pc-2",
                uid,
                id,
                &AgentUpdate::Screenshot(png(1)),
                NOW,
            )
            .await,
    );
    assert_eq!(kind, ErrorKind::Forbidden, "{message}");
    let gif = AgentUpdate::Screenshot(b"GIF89a not a png".to_vec());
    let (kind, message) = refused_kind(
        store
            .apply_agent_update(owner.id, AGENT_ACTOR, uid, id, &gif, NOW)
            .await,
    );
    assert_eq!(kind, ErrorKind::InvalidInput);
    assert!(message.contains("not a PNG"), "{message}");
    let detail = store.ticket_detail(id).await.unwrap().unwrap();
    assert!(detail.attachments.is_empty());
    assert_eq!(detail.events.len(), 1, "only Created: {:?}", detail.events);
    // Neither refusal used up the id.
    assert!(store
        .apply_agent_update(
            owner.id,
            AGENT_ACTOR,
            uid,
            id,
            &AgentUpdate::Screenshot(png(1)),
            NOW
        )
        .await
        .unwrap());
}
