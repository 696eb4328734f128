//! The employee's tickets through the socket: only the peer's own, their
//! reply and answers queued with the peer's account as the requester, and
//! the live inbox channel.

use super::*;
use crate::inbox::FixQuestion;
use triage_shared::news::TicketNews;
use triage_shared::ticket::Status;
use triage_shared::time::Timestamp;
use triage_shared::TicketId;

fn news(requester: &str, status: Status) -> TicketNews {
    TicketNews {
        id: TicketId::new_random(),
        title: "VPN drops".into(),
        requester: requester.into(),
        status,
        updated_at: Timestamp(1),
        replies: vec![],
    }
}

#[tokio::test]
async fn the_window_sees_and_answers_only_its_users_tickets() {
    let rig = Rig::start().await;
    let me = account_name(effective_uid());
    let mine = news(&me, Status::Resolved);
    let theirs = news("someone-else", Status::Resolved);
    rig.inbox.take(vec![mine.clone(), theirs.clone()]).unwrap();
    let mut window = rig.client().await;
    let view = window.inbox().await.unwrap();
    assert_eq!(view.tickets.len(), 1);
    assert_eq!(view.tickets[0].id, mine.id);
    assert_eq!(view.tickets[0].question, FixQuestion::Pending);

    let refused = window
        .answer_fixed(theirs.id, false, Some("reopen it".into()), None)
        .await
        .unwrap_err();
    assert!(refusal(refused).contains("not one of your tickets"));
    assert!(
        rig.queued().is_empty(),
        "nothing queued for someone else's ticket"
    );

    window
        .reply_to(mine.id, "thanks, trying now".into())
        .await
        .unwrap();
    window
        .answer_fixed(mine.id, true, None, Some(5))
        .await
        .unwrap();
    let updates: Vec<_> = rig
        .queued()
        .into_iter()
        .map(|m| match m {
            Message::Update { ticket, update, .. } => (ticket, update),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        updates,
        [
            (
                mine.id,
                AgentUpdate::Reply {
                    requester: me.clone(),
                    text: "thanks, trying now".into()
                }
            ),
            (
                mine.id,
                AgentUpdate::Fixed {
                    requester: me.clone(),
                    score: Some(5)
                }
            ),
        ]
    );
    let view = window.inbox().await.unwrap();
    assert!(matches!(view.tickets[0].question, FixQuestion::Answered(_)));
    // No without words is refused before anything is queued.
    let err = window
        .answer_fixed(mine.id, false, None, None)
        .await
        .unwrap_err();
    assert!(refusal(err).contains("what is still wrong"));
    assert_eq!(rig.queued().len(), 2);
    rig.stop().await;
}

#[tokio::test]
async fn an_open_window_is_told_of_news_at_once_and_seen_notices_stay_seen() {
    let rig = Rig::start().await;
    let me = account_name(effective_uid());
    let watcher = rig.client().await;
    let mut live = watcher.watch_inbox().await.unwrap();
    let first = live.next().await.unwrap().unwrap();
    assert!(first.tickets.is_empty());
    let ticket = news(&me, Status::Resolved);
    rig.inbox.take(vec![ticket.clone()]).unwrap();
    let told = live.next().await.unwrap().unwrap();
    assert_eq!(told.tickets[0].id, ticket.id);
    let seq = told.unseen().next().expect("a notice").seq;
    let mut window = rig.client().await;
    let seen = window.notices_seen(seq).await.unwrap();
    assert_eq!(seen.unseen().count(), 0);
    // Marking seen is a change too: the live channel carries it.
    let again = live.next().await.unwrap().unwrap();
    assert_eq!(again.unseen().count(), 0);
    drop(live);
    rig.stop().await;
}
