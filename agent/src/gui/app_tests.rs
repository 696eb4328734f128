//! The window's logic without drawing: fake daemon, screen and clock.

use super::*;
use crate::desktop::protocol::CONSENT_TIMEOUT;
use crate::gui::consent::MAX_PENDING_CONSENTS;
use crate::gui::fake::{FakeCapturer, FakeLink, ManualClock};
use screenshots::image::Rgba;

struct Rig {
    app: HelpApp,
    link: FakeLink,
    screen: FakeCapturer,
    clock: ManualClock,
}

fn rig() -> Rig {
    let link = FakeLink::new();
    let screen = FakeCapturer::showing(RgbaImage::from_pixel(800, 600, Rgba([20, 40, 60, 255])));
    let clock = ManualClock::new();
    let app = HelpApp::new(
        Box::new(link.clone()),
        Box::new(screen.clone()),
        Box::new(clock.clone()),
    );
    Rig {
        app,
        link,
        screen,
        clock,
    }
}

fn session(screenshots_allowed: bool) -> Session {
    Session {
        user: "ana".into(),
        hostname: "laptop-7".into(),
        screenshots_allowed,
    }
}

fn ask(request: u64) -> ConsentAsk {
    ConsentAsk {
        request,
        technician: "bob".into(),
        ticket: None,
    }
}

impl Rig {
    fn connected(mut self, screenshots_allowed: bool) -> Self {
        self.link
            .push(LinkEvent::Connected(session(screenshots_allowed)));
        self.app.tick();
        self.link.take_sent();
        self
    }
}

#[test]
fn text_is_checked_for_emptiness_and_length() {
    assert!(check_text("  \n\t")
        .unwrap_err()
        .contains("describe what's wrong"));
    assert!(check_text(&"x".repeat(MAX_TEXT_LEN)).is_ok());
    let err = check_text(&"x".repeat(MAX_TEXT_LEN + 1)).unwrap_err();
    assert!(err.contains(&format!("{}", MAX_TEXT_LEN + 1)), "{err}");
}

#[test]
fn a_too_long_description_is_refused_and_kept() {
    let mut r = rig().connected(false);
    r.app.form.text = "é".repeat(MAX_TEXT_LEN); // two bytes each
    r.app.submit();
    assert!(r.app.notice().unwrap().contains("shorten"));
    assert!(r.link.sent().is_empty());
    assert_eq!(r.app.form.text.len(), 2 * MAX_TEXT_LEN);
}

#[test]
fn connecting_fetches_my_tickets_and_then_every_thirty_seconds() {
    let mut r = rig();
    r.app.tick();
    assert!(
        r.link.sent().is_empty(),
        "nothing is asked before the daemon answers"
    );
    r.link.push(LinkEvent::Connected(session(false)));
    r.app.tick();
    assert_eq!(r.link.take_sent(), [LinkCommand::MyTickets]);
    // In flight: not asked again while it is out.
    r.clock.advance(TICKETS_REFRESH * 3);
    r.app.tick();
    assert!(r.link.take_sent().is_empty());
    r.link.push(LinkEvent::Tickets(vec![]));
    r.app.tick();
    // Overdue by then: asked again at once, and 30 s after that.
    assert_eq!(r.link.take_sent(), [LinkCommand::MyTickets]);
    r.link.push(LinkEvent::Tickets(vec![]));
    r.clock.advance(TICKETS_REFRESH - Duration::from_secs(1));
    r.app.tick();
    assert!(r.link.take_sent().is_empty(), "30 s from the request");
    r.clock.advance(Duration::from_secs(1));
    r.app.tick();
    assert_eq!(r.link.take_sent(), [LinkCommand::MyTickets]);
}

#[test]
fn a_failed_ticket_keeps_the_form_and_a_sent_one_clears_it() {
    let mut r = rig().connected(true);
    r.app.form.text = "VPN drops".into();
    r.app.form.attach_screenshot = true;
    r.app.submit();
    assert_eq!(*r.app.sending(), Sending::InFlight);
    // A second click while sending sends nothing more.
    r.app.submit();
    assert_eq!(r.link.take_sent().len(), 1);
    r.link.push(LinkEvent::FileFailed(
        "The ticket was not filed: boom".into(),
    ));
    r.app.tick();
    assert_eq!(
        r.app.sending().message().unwrap(),
        "The ticket was not filed: boom"
    );
    assert_eq!(r.app.form.text, "VPN drops");
    assert!(r.app.form.attach_screenshot);

    r.app.submit();
    let ticket = TicketId::new_random();
    r.link.push(LinkEvent::Filed {
        ticket,
        delivered: true,
    });
    r.app.tick();
    assert!(r.app.form.text.is_empty());
    assert!(
        !r.app.form.attach_screenshot,
        "the next ticket starts without it"
    );
}

#[test]
fn the_thumbnail_is_retaken_every_few_seconds_only_when_allowed() {
    let mut r = rig().connected(true);
    assert_eq!(r.screen.captures(), 1);
    let shot = r.app.shot().unwrap();
    assert_eq!(shot.thumbnail.dimensions(), (293, 220));
    assert_eq!(shot.image.dimensions(), (800, 600));
    let first = shot.generation;
    r.clock.advance(SCREENSHOT_REFRESH / 2);
    r.app.tick();
    assert_eq!(r.screen.captures(), 1);
    r.clock.advance(SCREENSHOT_REFRESH);
    r.app.tick();
    assert_eq!(r.screen.captures(), 2);
    assert_ne!(r.app.shot().unwrap().generation, first);

    let mut never = rig().connected(false);
    never.clock.advance(SCREENSHOT_REFRESH * 4);
    never.app.tick();
    assert_eq!(never.screen.captures(), 0);
    assert!(never.app.shot().is_none());
}

#[test]
fn a_policy_change_to_never_drops_the_screenshot_and_the_tick() {
    let mut r = rig().connected(true);
    r.app.form.attach_screenshot = true;
    r.link.push(LinkEvent::Connected(session(false)));
    r.app.tick();
    r.link.take_sent();
    assert!(r.app.shot().is_none());
    assert!(!r.app.form.attach_screenshot);
    r.app.form.text = "x".into();
    r.app.submit();
    match &r.link.take_sent()[..] {
        [LinkCommand::FileTicket(form)] => assert_eq!(form.screenshot, None),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_ticked_screenshot_that_cannot_be_taken_stops_the_send_with_a_way_out() {
    let r = rig();
    r.screen.fail_with("no X server");
    let mut r = r.connected(true);
    assert_eq!(
        r.app.shot_error(),
        Some("cannot capture the screen: no X server")
    );
    r.app.form.text = "help".into();
    r.app.form.attach_screenshot = true;
    r.app.submit();
    let notice = r.app.notice().unwrap();
    assert!(
        notice.contains("no X server") && notice.contains("Untick"),
        "{notice}"
    );
    assert!(r.link.sent().is_empty());
}

#[test]
fn the_attached_screenshot_is_the_one_shown_and_fits_a_ticket() {
    let mut r = rig().connected(true);
    r.screen.show(RgbaImage::new(5, 5)); // taken later; not what was shown
    r.app.form.text = "help".into();
    r.app.form.attach_screenshot = true;
    r.app.submit();
    match &r.link.take_sent()[..] {
        [LinkCommand::FileTicket(form)] => {
            let png = form.screenshot.as_ref().unwrap();
            assert!(png.len() <= MAX_ATTACHED_SCREENSHOT_LEN);
            let image = screenshots::image::load_from_memory(png).unwrap();
            assert_eq!((image.width(), image.height()), (800, 600));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn consent_prompts_count_down_and_wait_in_turn() {
    let mut r = rig().connected(true);
    r.link.push(LinkEvent::ConsentRequested(ask(1)));
    r.link.push(LinkEvent::ConsentRequested(ask(2)));
    r.app.tick();
    assert_eq!(r.app.consent_prompt().unwrap().1, CONSENT_TIMEOUT.as_secs());
    r.clock.advance(Duration::from_millis(10_500));
    assert_eq!(
        r.app.consent_prompt().unwrap().1,
        CONSENT_TIMEOUT.as_secs() - 10
    );
    r.app.tick();
    // The countdown wakes the window every second.
    assert_eq!(r.app.next_wake(), Duration::from_secs(1));
    r.app.answer_consent(false);
    assert_eq!(
        r.link.take_sent(),
        [LinkCommand::AnswerConsent {
            request: 1,
            answer: ConsentAnswer::Deny
        }]
    );
    assert_eq!(r.app.consent_prompt().unwrap().0.request, 2);
}

#[test]
fn too_many_prompts_at_once_are_refused_at_once() {
    let mut r = rig().connected(true);
    for request in 0..MAX_PENDING_CONSENTS as u64 + 2 {
        r.link.push(LinkEvent::ConsentRequested(ask(request)));
    }
    r.app.tick();
    let refused: Vec<u64> = r
        .link
        .take_sent()
        .into_iter()
        .map(|c| match c {
            LinkCommand::AnswerConsent {
                request,
                answer: ConsentAnswer::Deny,
            } => request,
            other => panic!("{other:?}"),
        })
        .collect();
    let first_extra = MAX_PENDING_CONSENTS as u64;
    assert_eq!(refused, [first_extra, first_extra + 1]);
    assert_eq!(r.app.consent_prompt().unwrap().0.request, 0);
}

#[test]
fn a_closed_consent_channel_drops_its_prompts() {
    let mut r = rig().connected(true);
    r.link.push(LinkEvent::ConsentRequested(ask(9)));
    r.app.tick();
    r.link.push(LinkEvent::ConsentClosed);
    r.app.tick();
    assert!(r.app.consent_prompt().is_none());
    r.app.answer_consent(true);
    assert!(r.link.sent().is_empty());
}

#[test]
fn allow_with_a_broken_screen_answers_capture_failed() {
    let mut r = rig().connected(true);
    r.screen.fail_with("the compositor refused");
    r.link.push(LinkEvent::ConsentRequested(ask(3)));
    r.app.tick();
    r.link.take_sent();
    r.app.answer_consent(true);
    assert!(r.app.capture_pending());
    // Captured only once the prompt has been off the screen for two frames.
    assert_eq!(r.app.next_wake(), Duration::ZERO);
    r.app.tick();
    assert!(r.link.sent().is_empty());
    r.app.tick();
    assert!(!r.app.capture_pending());
    match &r.link.take_sent()[..] {
        [LinkCommand::AnswerConsent {
            request: 3,
            answer: ConsentAnswer::CaptureFailed(why),
        }] => assert!(why.contains("the compositor refused"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn losing_the_daemon_is_shown_and_the_session_forgotten() {
    let mut r = rig().connected(true);
    r.link.push(LinkEvent::Disconnected(
        "The Triage agent is not running".into(),
    ));
    r.app.tick();
    assert_eq!(
        *r.app.connection(),
        Connection::Offline("The Triage agent is not running".into())
    );
    assert!(!r.app.screenshots_allowed());
}
