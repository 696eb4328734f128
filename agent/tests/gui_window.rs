//! The "Get help" window, headless: egui_kittest clicks and types into the
//! real drawing code, a fake daemon link records what would be sent and
//! plays the daemon's answers, and a manual clock runs the consent timeout.
#![cfg(feature = "gui")]

use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;
use std::time::Duration;
use triage_agent::capture::image::{self, Rgba, RgbaImage};
use triage_agent::desktop::protocol::{ConsentAnswer, HelpForm, CONSENT_TIMEOUT};
use triage_agent::gui::articles::SUGGEST_DEBOUNCE;
use triage_agent::gui::fake::{FakeCapturer, FakeLink, ManualClock};
use triage_agent::gui::{ConsentAsk, HelpApp, HelpWindow, LinkCommand, LinkEvent, Session};
use triage_shared::ids::CommentId;
use triage_shared::kb::{ArticleId, PublicArticle, Suggestion};
use triage_shared::ticket::{Category, Comment, EmployeeTicket, Priority, Status};
use triage_shared::time::Timestamp;
use triage_shared::TicketId;

struct Window {
    harness: Harness<'static, HelpWindow>,
    link: FakeLink,
    screen: FakeCapturer,
    clock: ManualClock,
}

fn open(screenshots_allowed: bool) -> Window {
    let link = FakeLink::new();
    let screen = FakeCapturer::showing(RgbaImage::from_pixel(640, 400, Rgba([0, 90, 200, 255])));
    let clock = ManualClock::new();
    let app = HelpApp::new(
        Box::new(link.clone()),
        Box::new(screen.clone()),
        Box::new(clock.clone()),
    );
    link.push(LinkEvent::Connected(Session {
        user: "ana".into(),
        hostname: "laptop-7".into(),
        screenshots_allowed,
    }));
    let harness = Harness::builder()
        .with_size([600.0, 1000.0])
        .build_ui_state(
            |ui, window: &mut HelpWindow| window.ui(ui),
            HelpWindow::new(app),
        );
    let mut window = Window {
        harness,
        link,
        screen,
        clock,
    };
    window.harness.run();
    // Connecting asked for "My tickets"; the tests look at what comes after.
    assert_eq!(window.link.take_sent(), [LinkCommand::MyTickets]);
    window
}

impl Window {
    fn type_problem(&mut self, text: &str) {
        self.harness.get_by_label("What's wrong?").click();
        self.harness.run();
        self.harness.get_by_label("What's wrong?").type_text(text);
        self.harness.run();
    }

    fn click(&mut self, label: &str) {
        self.harness.get_by_label(label).click();
        self.harness.run();
    }

    fn shows(&self, text: &str) -> bool {
        self.harness.query_by_label(text).is_some()
    }

    /// The one form sent since the last look.
    fn filed_form(&self) -> HelpForm {
        match &self.link.take_sent()[..] {
            [LinkCommand::FileTicket(form)] => form.clone(),
            other => panic!("expected one FileTicket, got {other:?}"),
        }
    }

    fn consent_answer(&self) -> (u64, ConsentAnswer) {
        match &self.link.take_sent()[..] {
            [LinkCommand::AnswerConsent { request, answer }] => (*request, answer.clone()),
            other => panic!("expected one consent answer, got {other:?}"),
        }
    }

    fn daemon_says(&mut self, event: LinkEvent) {
        self.link.push(event);
        self.harness.run();
    }
}

#[test]
fn filling_the_form_and_clicking_get_help_files_it_and_shows_the_ticket_id() {
    let mut w = open(true);
    assert!(w.shows("Asking for help as ana on laptop-7"));
    w.type_problem("The printer says paper jam\nbut there is none");
    w.click("Hardware");
    w.click("Urgent");
    w.click("Get help");
    let form = w.filed_form();
    assert_eq!(
        form,
        HelpForm {
            text: "The printer says paper jam\nbut there is none".into(),
            category: Category::Hardware,
            priority: Priority::Urgent,
            screenshot: None,
            viewed_articles: Vec::new(),
        },
        "no screenshot unless the box is ticked"
    );
    assert!(w.shows("Sending…"));
    let ticket = TicketId::new_random();
    w.daemon_says(LinkEvent::Filed {
        ticket,
        delivered: true,
    });
    assert!(w.shows(&format!("Ticket {}: sent", ticket.short())));
    // Filed: "My tickets" is fetched again to show it.
    assert_eq!(w.link.take_sent(), [LinkCommand::MyTickets]);
}

#[test]
fn a_queued_ticket_says_it_goes_when_the_network_is_back() {
    let mut w = open(false);
    w.type_problem("No internet");
    w.click("Network");
    w.click("Get help");
    let form = w.filed_form();
    assert_eq!(
        (form.category, form.priority),
        (Category::Network, Priority::Normal)
    );
    let ticket = TicketId::new_random();
    w.daemon_says(LinkEvent::Filed {
        ticket,
        delivered: false,
    });
    assert!(w.shows(&format!(
        "Ticket {}: queued — will be sent when the network is back",
        ticket.short()
    )));
}

#[test]
fn the_screenshot_is_attached_only_after_the_box_is_ticked() {
    let mut w = open(true);
    assert!(w
        .harness
        .query_by_label("Screenshot that would be attached")
        .is_some());
    w.type_problem("Excel shows an error");
    w.click("Attach this screenshot");
    w.click("Get help");
    let png = w.filed_form().screenshot.expect("ticked, so attached");
    let picture = image::load_from_memory(&png).unwrap();
    assert_eq!((picture.width(), picture.height()), (640, 400));
}

#[test]
fn without_screenshot_permission_there_is_no_thumbnail_or_box() {
    let w = open(false);
    assert!(!w.shows("Attach this screenshot"));
    assert!(w
        .harness
        .query_by_label("Screenshot that would be attached")
        .is_none());
    assert_eq!(w.screen.captures(), 0);
}

#[test]
fn an_empty_description_is_refused_with_a_message_and_nothing_is_sent() {
    let mut w = open(true);
    w.type_problem("   ");
    w.click("Get help");
    assert!(w.shows("Please describe what's wrong before asking for help."));
    assert!(w.link.sent().is_empty());
}

#[test]
fn a_link_error_is_shown_and_the_text_kept_for_another_try() {
    let mut w = open(true);
    w.type_problem("Laptop is slow");
    w.click("Get help");
    w.filed_form();
    let why = "The ticket was not filed: the Triage agent is not running";
    w.daemon_says(LinkEvent::FileFailed(why.into()));
    assert!(w.shows(why));
    w.click("Get help");
    assert_eq!(w.filed_form().text, "Laptop is slow");
}

#[test]
fn a_missing_daemon_is_shown_in_the_window() {
    let mut w = open(true);
    let why = "The Triage agent is not running or cannot be reached at /run/x.sock";
    w.daemon_says(LinkEvent::Disconnected(why.into()));
    assert!(w.shows(why));
    assert!(!w.shows("Attach this screenshot"));
    assert!(w.shows("Shown once the Triage agent can be reached."));
}

fn employee_ticket(title: &str, status: Status, reply: Option<(&str, &str)>) -> EmployeeTicket {
    EmployeeTicket {
        id: TicketId::new_random(),
        title: title.into(),
        category: Category::Software,
        priority: Priority::Normal,
        status,
        created_at: Timestamp(1_700_000_000_000),
        updated_at: Timestamp(1_700_000_100_000),
        latest_reply: reply.map(|(author, text)| Comment {
            id: CommentId::new_random(),
            author: author.into(),
            text: text.into(),
            created_at: Timestamp(1_700_000_050_000),
            internal: false,
        }),
    }
}

#[test]
fn my_tickets_lists_status_and_the_latest_reply_and_refreshes() {
    let mut w = open(true);
    assert!(w.shows("Loading…"));
    w.daemon_says(LinkEvent::Tickets(vec![
        employee_ticket(
            "Outlook crashes",
            Status::InProgress,
            Some(("bob", "Please restart Outlook")),
        ),
        employee_ticket("New mouse", Status::Resolved, None),
    ]));
    for text in [
        "Outlook crashes",
        "In progress",
        "bob: Please restart Outlook",
        "New mouse",
        "Resolved",
    ] {
        assert!(w.shows(text), "{text} is not shown");
    }
    w.click("Refresh");
    assert_eq!(w.link.take_sent(), [LinkCommand::MyTickets]);
    w.daemon_says(LinkEvent::TicketsFailed("the relay is unreachable".into()));
    assert!(w.shows("Could not load your tickets: the relay is unreachable"));
    // The last list stays on screen.
    assert!(w.shows("Outlook crashes"));
    // And it refreshes by itself after 30 s.
    w.clock.advance(Duration::from_secs(30));
    w.harness.run();
    assert_eq!(w.link.take_sent(), [LinkCommand::MyTickets]);
}

fn consent_request(w: &mut Window, request: u64, ticket: TicketId) {
    w.daemon_says(LinkEvent::ConsentRequested(ConsentAsk {
        request,
        technician: "bob".into(),
        ticket: Some(ticket),
    }));
    assert!(w.shows(&format!(
        "Technician bob asks to see your screen for ticket {}",
        ticket.short()
    )));
}

#[test]
fn allow_sends_a_fresh_full_resolution_capture() {
    let mut w = open(true);
    consent_request(&mut w, 7, TicketId::new_random());
    w.screen
        .show(RgbaImage::from_pixel(1280, 720, Rgba([1, 2, 3, 255])));
    w.click("Allow");
    match w.consent_answer() {
        (7, ConsentAnswer::Allow { png }) => {
            let picture = image::load_from_memory(&png).unwrap();
            assert_eq!((picture.width(), picture.height()), (1280, 720));
        }
        other => panic!("expected Allow for 7, got {other:?}"),
    }
    assert!(!w.shows("Allow"), "the prompt is gone once answered");
}

#[test]
fn deny_sends_deny() {
    let mut w = open(true);
    consent_request(&mut w, 8, TicketId::new_random());
    w.click("Deny");
    assert_eq!(w.consent_answer(), (8, ConsentAnswer::Deny));
    assert!(!w.shows("Deny"));
}

#[test]
fn no_answer_within_the_timeout_is_deny_and_the_countdown_shows() {
    let mut w = open(true);
    consent_request(&mut w, 9, TicketId::new_random());
    let secs = CONSENT_TIMEOUT.as_secs();
    assert!(w.shows(&format!("No answer in {secs} s means Deny.")));
    w.clock.advance(Duration::from_secs(20));
    w.harness.run();
    assert!(w.shows(&format!("No answer in {} s means Deny.", secs - 20)));
    assert!(w.link.sent().is_empty(), "not answered before the timeout");
    w.clock.advance(CONSENT_TIMEOUT - Duration::from_secs(20));
    w.harness.run();
    assert_eq!(w.consent_answer(), (9, ConsentAnswer::Deny));
    assert!(!w.shows("Allow"));
}

#[test]
fn a_resolved_ticket_asks_did_this_fix_it_and_yes_sends_the_score() {
    use triage_agent::inbox::InboxState;
    use triage_shared::news::TicketNews;
    let mut w = open(false);
    let id = TicketId::new_random();
    let mut state = InboxState::default();
    state.take(TicketNews {
        id,
        title: "Outlook crashes".into(),
        requester: "ana".into(),
        status: Status::Resolved,
        updated_at: Timestamp(5),
        replies: vec![Comment {
            id: CommentId::new_random(),
            author: "bob".into(),
            text: "Repaired the Office install".into(),
            created_at: Timestamp(4),
            internal: false,
        }],
    });
    w.daemon_says(LinkEvent::Inbox(state.view("ana")));
    // No notification service in tests: the notice is a toast, and the
    // daemon is told it was shown.
    assert!(w.shows(&format!("Ticket {} was resolved", id.short())));
    assert!(matches!(
        &w.link.take_sent()[..],
        [LinkCommand::NoticesSeen { .. }]
    ));
    assert!(w.shows("bob: Repaired the Office install"));
    assert!(w.shows("Did this fix it?"));
    w.click("4");
    w.click("Yes, it's fixed");
    assert_eq!(
        w.link.take_sent(),
        [LinkCommand::AnswerFixed {
            ticket: id,
            fixed: true,
            words: None,
            score: Some(4),
        }]
    );
}

fn suggestion(id: u64, title: &str) -> Suggestion {
    Suggestion {
        id: ArticleId(id),
        title: title.into(),
        excerpt: "Open the VPN app and sign in again.".into(),
    }
}

/// Types a problem and waits out the pause: the window asks for articles.
fn typed_and_paused(w: &mut Window, text: &str) {
    w.type_problem(text);
    assert!(
        !w.link
            .take_sent()
            .iter()
            .any(|c| matches!(c, LinkCommand::SuggestArticles { .. })),
        "nothing is asked while typing"
    );
    w.clock.advance(SUGGEST_DEBOUNCE);
    w.harness.run();
    assert_eq!(
        w.link.take_sent(),
        [LinkCommand::SuggestArticles { text: text.into() }]
    );
}

#[test]
fn articles_are_offered_as_the_employee_types_and_still_need_help_files_with_them() {
    let mut w = open(false);
    w.type_problem("vpn");
    assert!(w.shows("Type at least 3 words to see articles that may help."));
    w.link.take_sent();
    let text = "vpn drops every hour";
    w.harness
        .get_by_label("What's wrong?")
        .type_text(" drops every hour");
    w.harness.run();
    w.link.take_sent();
    w.clock.advance(SUGGEST_DEBOUNCE);
    w.harness.run();
    assert_eq!(
        w.link.take_sent(),
        [LinkCommand::SuggestArticles { text: text.into() }]
    );
    w.daemon_says(LinkEvent::Suggestions {
        text: text.into(),
        list: vec![suggestion(3, "VPN keeps disconnecting")],
    });
    assert!(w.shows("These articles may help:"));
    assert!(w.shows("Open the VPN app and sign in again."));
    w.click("Read: VPN keeps disconnecting");
    assert_eq!(
        w.link.take_sent(),
        [LinkCommand::OpenArticle { id: ArticleId(3) }]
    );
    w.daemon_says(LinkEvent::Article(PublicArticle {
        id: ArticleId(3),
        title: "VPN keeps disconnecting".into(),
        body: "# Reconnect\n- Sign out\n- Sign in again".into(),
        updated_at: Timestamp(0),
    }));
    assert!(w.shows("Reconnect"));
    assert!(w.shows("• Sign in again"));
    w.click("I still need help");
    let form = w.filed_form();
    assert_eq!(form.text, text);
    assert_eq!(form.viewed_articles, [ArticleId(3)]);
}

#[test]
fn this_solved_it_files_nothing_and_thanks_the_employee() {
    let mut w = open(false);
    let text = "printer paper jam again";
    typed_and_paused(&mut w, text);
    w.daemon_says(LinkEvent::Suggestions {
        text: text.into(),
        list: vec![suggestion(5, "Paper jams")],
    });
    w.click("Read: Paper jams");
    w.link.take_sent();
    w.daemon_says(LinkEvent::Article(PublicArticle {
        id: ArticleId(5),
        title: "Paper jams".into(),
        body: "Open tray 2.".into(),
        updated_at: Timestamp(0),
    }));
    w.click("This solved it");
    assert_eq!(
        w.link.take_sent(),
        [LinkCommand::Solved {
            article: ArticleId(5),
            query: text.into()
        }]
    );
    w.daemon_says(LinkEvent::Deflected {
        article: ArticleId(5),
    });
    assert!(w.shows("Glad that helped. No ticket was filed."));
    assert!(w.harness.state().app.form.text.is_empty());
}

#[test]
fn without_articles_the_window_shows_nothing_about_them() {
    let mut w = open(false);
    let text = "monitor flickers sometimes";
    typed_and_paused(&mut w, text);
    // The daemon found none (or the relay is away): no message at all.
    w.daemon_says(LinkEvent::Suggestions {
        text: text.into(),
        list: vec![],
    });
    assert!(!w.shows("These articles may help:"));
    assert!(w.harness.query_by_label_contains("cannot").is_none());
}
