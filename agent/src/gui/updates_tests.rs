//! The employee in the loop, in the window's logic: a notification per new
//! notice (a toast without a service), replies, "Did this fix it?".

use super::*;
use crate::gui::fake::{FakeCapturer, FakeLink, FakeNotifier, ManualClock};
use crate::gui::link::Session;
use crate::gui::updates::{Action, TOAST_FOR};
use crate::inbox::{FixQuestion, InboxState, InboxView};
use triage_shared::ids::CommentId;
use triage_shared::news::TicketNews;
use triage_shared::ticket::{Comment, Status};
use triage_shared::time::Timestamp;

struct Rig {
    app: HelpApp,
    link: FakeLink,
    clock: ManualClock,
    notifier: FakeNotifier,
}

fn rig(notifier: FakeNotifier) -> Rig {
    let link = FakeLink::new();
    let clock = ManualClock::new();
    let app = HelpApp::new(
        Box::new(link.clone()),
        Box::new(FakeCapturer::failing("no screen in tests")),
        Box::new(clock.clone()),
    )
    .with_notifier(Box::new(notifier.clone()));
    let mut rig = Rig {
        app,
        link,
        clock,
        notifier,
    };
    rig.link.push(LinkEvent::Connected(Session {
        user: "ana".into(),
        hostname: "laptop-7".into(),
        screenshots_allowed: false,
    }));
    rig.app.tick();
    rig.link.take_sent();
    rig
}

const TICKET: TicketId = TicketId(uuid::Uuid::from_u128(0xabcdef));

/// The view the daemon would send after `news`, for ana.
fn view_after(state: &mut InboxState, status: Status, replies: &[&str]) -> InboxView {
    let replies = replies
        .iter()
        .enumerate()
        .map(|(i, text)| Comment {
            id: CommentId(uuid::Uuid::from_u128(i as u128 + 1)),
            author: "bob".into(),
            text: text.to_string(),
            created_at: Timestamp(i as i64 + 1),
            internal: false,
        })
        .collect();
    state.take(TicketNews {
        id: TICKET,
        title: "VPN drops".into(),
        requester: "ana".into(),
        status,
        // Each later status is later news (older news would be ignored).
        updated_at: Timestamp(10 + status as i64),
        replies,
    });
    state.view("ana")
}

#[test]
fn a_reply_raises_one_desktop_notification_and_is_marked_seen() {
    let mut r = rig(FakeNotifier::present());
    let mut state = InboxState::default();
    let view = view_after(&mut state, Status::InProgress, &["Try reconnecting"]);
    r.link.push(LinkEvent::Inbox(view.clone()));
    r.app.tick();
    let shown = r.notifier.shown();
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert!(shown[0].0.contains("bob replied"), "{shown:?}");
    assert!(shown[0].1.contains("Try reconnecting"), "{shown:?}");
    let up_to = view.notices.iter().map(|n| n.seq).max().unwrap();
    assert_eq!(r.link.take_sent(), [LinkCommand::NoticesSeen { up_to }]);
    assert_eq!(r.app.updates().toasts().count(), 0);
    // The same view again (before the daemon marked them seen): nothing new.
    r.link.push(LinkEvent::Inbox(view));
    r.app.tick();
    assert_eq!(r.notifier.shown().len(), 1);
    assert!(r.link.take_sent().is_empty());
}

#[test]
fn a_resolution_is_notified_and_asks_did_this_fix_it() {
    let mut r = rig(FakeNotifier::present());
    let mut state = InboxState::default();
    r.link.push(LinkEvent::Inbox(view_after(
        &mut state,
        Status::InProgress,
        &[],
    )));
    r.app.tick();
    r.link.push(LinkEvent::Inbox(view_after(
        &mut state,
        Status::Resolved,
        &[],
    )));
    r.app.tick();
    let shown = r.notifier.shown();
    assert!(
        shown.iter().any(|(s, _)| s.contains("was resolved")),
        "{shown:?}"
    );
    let view = r.app.updates().view().unwrap();
    assert_eq!(view.tickets[0].question, FixQuestion::Pending);
}

#[test]
fn without_a_notification_service_the_window_shows_a_toast_for_a_while() {
    let mut r = rig(FakeNotifier::missing());
    let mut state = InboxState::default();
    r.link.push(LinkEvent::Inbox(view_after(
        &mut state,
        Status::InProgress,
        &["On my way"],
    )));
    r.app.tick();
    let toasts: Vec<_> = r.app.updates().toasts().cloned().collect();
    assert_eq!(toasts.len(), 1);
    assert!(toasts[0].summary.contains("bob replied"));
    assert!(toasts[0].body.contains("On my way"));
    assert!(r.app.next_wake() <= TOAST_FOR);
    r.clock.advance(TOAST_FOR);
    r.app.tick();
    assert_eq!(r.app.updates().toasts().count(), 0);
}

#[test]
fn a_reply_is_sent_and_the_box_is_emptied_once_queued() {
    let mut r = rig(FakeNotifier::present());
    r.app.send_reply(TICKET);
    assert!(r.link.take_sent().is_empty(), "nothing typed, nothing sent");
    assert!(matches!(r.app.updates().action(), Action::Failed(_)));
    r.app.draft(TICKET).reply = "  Still drops at 9:00 ".into();
    r.app.send_reply(TICKET);
    assert_eq!(
        r.link.take_sent(),
        [LinkCommand::Reply {
            ticket: TICKET,
            text: "Still drops at 9:00".into()
        }]
    );
    r.app.send_reply(TICKET);
    assert!(r.link.take_sent().is_empty(), "one at a time");
    r.link.push(LinkEvent::Queued { ticket: TICKET });
    r.app.tick();
    assert!(matches!(r.app.updates().action(), Action::Done(_)));
    assert_eq!(r.app.draft(TICKET).reply, "");
}

#[test]
fn yes_sends_the_score_and_no_needs_the_employees_words() {
    let mut r = rig(FakeNotifier::present());
    r.app.draft(TICKET).score = Some(4);
    r.app.answer_fixed(TICKET, true);
    assert_eq!(
        r.link.take_sent(),
        [LinkCommand::AnswerFixed {
            ticket: TICKET,
            fixed: true,
            words: None,
            score: Some(4)
        }]
    );
    r.link.push(LinkEvent::Queued { ticket: TICKET });
    r.app.tick();

    r.app.answer_fixed(TICKET, false);
    assert!(r.link.take_sent().is_empty());
    match r.app.updates().action() {
        Action::Failed(why) => assert!(why.contains("what is still wrong"), "{why}"),
        other => panic!("{other:?}"),
    }
    r.app.draft(TICKET).words = "It still drops".into();
    r.app.answer_fixed(TICKET, false);
    assert_eq!(
        r.link.take_sent(),
        [LinkCommand::AnswerFixed {
            ticket: TICKET,
            fixed: false,
            words: Some("It still drops".into()),
            score: None
        }]
    );
    r.link
        .push(LinkEvent::ActionFailed("the outbox is full".into()));
    r.app.tick();
    assert_eq!(
        r.app.updates().action(),
        &Action::Failed("the outbox is full".into())
    );
}

#[test]
fn a_score_outside_one_to_five_is_refused_before_sending() {
    let mut r = rig(FakeNotifier::present());
    r.app.draft(TICKET).score = Some(6);
    r.app.answer_fixed(TICKET, true);
    assert!(r.link.take_sent().is_empty());
    r.app.draft(TICKET).score = Some(0);
    r.app.answer_fixed(TICKET, true);
    assert!(r.link.take_sent().is_empty());
}
