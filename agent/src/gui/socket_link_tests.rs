//! The real link against a stand-in daemon on a Unix socket in a temp dir,
//! speaking the desktop protocol's frames.

use super::*;
use crate::desktop::frame::{read_frame, write_frame};
use crate::desktop::protocol::{DesktopReply, DesktopRequest};
use std::time::Instant;
use tokio::net::UnixListener;
use triage_shared::kb::{ArticleId, PublicArticle, Suggestion};
use triage_shared::ticket::{Category, Priority};
use triage_shared::TicketId;

/// The link's events, kept until a test looks for them: they arrive from
/// two connections in no fixed order.
struct Watch {
    link: SocketLink,
    seen: Vec<LinkEvent>,
}

impl Watch {
    /// Waits (bounded) for the first event `pick` takes, keeping the others.
    fn wait_for<T>(&mut self, mut pick: impl FnMut(&LinkEvent) -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(i) = self.seen.iter().position(|e| pick(e).is_some()) {
                let event = self.seen.remove(i);
                return pick(&event).unwrap();
            }
            assert!(
                Instant::now() < deadline,
                "no such event; saw {:?}",
                self.seen
            );
            match self.link.try_recv() {
                Some(event) => self.seen.push(event),
                None => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }
}

fn form(text: &str) -> HelpForm {
    HelpForm {
        text: text.into(),
        category: Category::Software,
        priority: Priority::High,
        screenshot: None,
        viewed_articles: Vec::new(),
    }
}

/// A daemon that welcomes everyone, files every ticket as queued, refuses
/// "My tickets" as if the relay were down, and on a consent channel asks
/// once and reports the answer.
async fn daemon(
    listener: UnixListener,
    ticket: TicketId,
    answers: tokio::sync::mpsc::UnboundedSender<(u64, ConsentAnswer)>,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let answers = answers.clone();
        tokio::spawn(async move {
            let (mut rd, mut wr) = tokio::io::split(stream);
            let Ok(Some(DesktopRequest::Hello { .. })) = read_frame(&mut rd).await else {
                return;
            };
            let welcome = DesktopReply::Welcome {
                user: "ana".into(),
                hostname: "laptop-7".into(),
                screenshots_allowed: true,
            };
            write_frame(&mut wr, &welcome).await.unwrap();
            while let Ok(Some(request)) = read_frame::<_, DesktopRequest>(&mut rd).await {
                let reply = match request {
                    DesktopRequest::FileTicket(f) if f.text == "file me" => DesktopReply::Filed {
                        ticket,
                        delivered: false,
                    },
                    DesktopRequest::FileTicket(_) => return, // hang up mid-request
                    DesktopRequest::MyTickets => DesktopReply::Error("the relay is down".into()),
                    DesktopRequest::ServeConsent => {
                        write_frame(&mut wr, &DesktopReply::ConsentReady)
                            .await
                            .unwrap();
                        DesktopReply::ConsentRequest {
                            request: 5,
                            technician: "bob".into(),
                            ticket: Some(ticket),
                        }
                    }
                    DesktopRequest::ConsentAnswer { request, answer } => {
                        let _ = answers.send((request, answer));
                        continue;
                    }
                    DesktopRequest::Hello { .. } => return,
                    DesktopRequest::Inbox
                    | DesktopRequest::WatchInbox
                    | DesktopRequest::NoticesSeen { .. } => DesktopReply::Inbox(Default::default()),
                    DesktopRequest::ReplyToTicket { .. } | DesktopRequest::AnswerFixed { .. } => {
                        DesktopReply::Queued { ticket }
                    }
                    // One article, titled with what was typed.
                    DesktopRequest::SuggestArticles { text } => {
                        DesktopReply::Suggestions(vec![Suggestion {
                            id: ArticleId(1),
                            title: text,
                            excerpt: String::new(),
                        }])
                    }
                    DesktopRequest::OpenArticle { id } if id == ArticleId(1) => {
                        DesktopReply::Article(PublicArticle {
                            id,
                            title: "VPN".into(),
                            body: "Sign in again.".into(),
                            updated_at: triage_shared::time::Timestamp(0),
                        })
                    }
                    DesktopRequest::OpenArticle { .. } => {
                        DesktopReply::Error("article KB-2 is not available".into())
                    }
                    DesktopRequest::Solved { article, .. } => DesktopReply::Deflected { article },
                };
                if write_frame(&mut wr, &reply).await.is_err() {
                    return;
                }
            }
        });
    }
}

#[test]
fn without_a_daemon_the_window_is_told_it_is_not_running() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("desktop.sock");
    let mut link = Watch {
        link: SocketLink::start(socket.clone(), || {}).unwrap(),
        seen: vec![],
    };
    let why = link.wait_for(|e| match e {
        LinkEvent::Disconnected(why) => Some(why.clone()),
        _ => None,
    });
    assert!(why.contains("not running"), "{why}");
    assert!(why.contains(&socket.display().to_string()), "{why}");
    link.link.send(LinkCommand::FileTicket(form("file me")));
    let why = link.wait_for(|e| match e {
        LinkEvent::FileFailed(why) => Some(why.clone()),
        _ => None,
    });
    assert!(why.starts_with("The ticket was not filed"), "{why}");
}

#[test]
fn tickets_are_filed_refusals_shown_and_consent_passed_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("desktop.sock");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime
        .block_on(async { UnixListener::bind(&socket) })
        .unwrap();
    let ticket = TicketId::new_random();
    let (answers_tx, mut answers_rx) = tokio::sync::mpsc::unbounded_channel();
    runtime.spawn(daemon(listener, ticket, answers_tx));

    let woken = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = woken.clone();
    let mut link = Watch {
        link: SocketLink::start(socket, move || {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        })
        .unwrap(),
        seen: vec![],
    };
    let session = link.wait_for(|e| match e {
        LinkEvent::Connected(s) => Some(s.clone()),
        _ => None,
    });
    assert_eq!(session.user, "ana");
    assert!(session.screenshots_allowed);
    assert!(
        woken.load(std::sync::atomic::Ordering::SeqCst) > 0,
        "the window is woken"
    );

    link.link.send(LinkCommand::FileTicket(form("file me")));
    let filed = link.wait_for(|e| match e {
        LinkEvent::Filed { ticket, delivered } => Some((*ticket, *delivered)),
        _ => None,
    });
    assert_eq!(filed, (ticket, false));

    // A daemon's refusal is shown as it said it, and the link still works.
    link.link.send(LinkCommand::MyTickets);
    let why = link.wait_for(|e| match e {
        LinkEvent::TicketsFailed(why) => Some(why.clone()),
        _ => None,
    });
    assert_eq!(why, "The relay is down");

    // A connection dropped mid-request is a failure, and the next works.
    link.link.send(LinkCommand::FileTicket(form("hang up")));
    link.wait_for(|e| match e {
        LinkEvent::FileFailed(why) => Some(why.clone()),
        _ => None,
    });
    link.link.send(LinkCommand::FileTicket(form("file me")));
    link.wait_for(|e| match e {
        LinkEvent::Filed { .. } => Some(()),
        _ => None,
    });

    let ask = link.wait_for(|e| match e {
        LinkEvent::ConsentRequested(ask) => Some(ask.clone()),
        _ => None,
    });
    assert_eq!(
        ask,
        ConsentAsk {
            request: 5,
            technician: "bob".into(),
            ticket: Some(ticket),
        }
    );
    link.link.send(LinkCommand::AnswerConsent {
        request: 5,
        answer: ConsentAnswer::Deny,
    });
    let answer = runtime
        .block_on(async { tokio::time::timeout(Duration::from_secs(20), answers_rx.recv()).await });
    assert_eq!(answer.unwrap(), Some((5, ConsentAnswer::Deny)));
}

#[test]
fn articles_are_suggested_opened_and_solved_through_the_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("desktop.sock");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime
        .block_on(async { UnixListener::bind(&socket) })
        .unwrap();
    let (answers_tx, _answers_rx) = tokio::sync::mpsc::unbounded_channel();
    runtime.spawn(daemon(listener, TicketId::new_random(), answers_tx));
    let mut link = Watch {
        link: SocketLink::start(socket, || {}).unwrap(),
        seen: vec![],
    };
    link.wait_for(|e| matches!(e, LinkEvent::Connected(_)).then_some(()));

    link.link.send(LinkCommand::SuggestArticles {
        text: "vpn drops hourly".into(),
    });
    let (text, titles) = link.wait_for(|e| match e {
        LinkEvent::Suggestions { text, list } => Some((
            text.clone(),
            list.iter().map(|s| s.title.clone()).collect::<Vec<_>>(),
        )),
        _ => None,
    });
    assert_eq!(
        (text.as_str(), titles),
        ("vpn drops hourly", vec!["vpn drops hourly".to_string()])
    );

    link.link
        .send(LinkCommand::OpenArticle { id: ArticleId(1) });
    let body = link.wait_for(|e| match e {
        LinkEvent::Article(a) => Some(a.body.clone()),
        _ => None,
    });
    assert_eq!(body, "Sign in again.");
    link.link
        .send(LinkCommand::OpenArticle { id: ArticleId(2) });
    let why = link.wait_for(|e| match e {
        LinkEvent::ArticleFailed(why) => Some(why.clone()),
        _ => None,
    });
    assert!(why.contains("not available"), "{why}");

    link.link.send(LinkCommand::Solved {
        article: ArticleId(1),
        query: "vpn drops hourly".into(),
    });
    let article = link.wait_for(|e| match e {
        LinkEvent::Deflected { article } => Some(*article),
        _ => None,
    });
    assert_eq!(article, ArticleId(1));
}
