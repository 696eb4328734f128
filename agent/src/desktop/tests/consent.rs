//! A technician's screenshot request reaching the window through the
//! socket: the screenshot path (`crate::screenshot::answer`) on one side,
//! a [`ConsentChannel`](super::super::client::ConsentChannel) on the other.

use super::super::consent::Whom;
use super::super::protocol::ConsentAnswer;
use super::*;
use crate::logs::pump_tests::{body, replies};
use crate::screenshot::{self, ScreenshotPolicy};
use triage_shared::error::{ErrorKind, RemoteError};
use triage_shared::remote::AgentReply;
use triage_shared::transfer::EndReason;
use triage_shared::TicketId;

/// What the screenshot handler sends the technician for one request.
async fn technician_asks(rig: &Rig, ticket: Option<TicketId>) -> Vec<AgentReply> {
    let mut sent = Vec::new();
    screenshot::answer(
        ScreenshotPolicy::WithConsent,
        &rig.registry,
        "lina",
        ticket,
        Whom::Console,
        &mut sent,
    )
    .await
    .unwrap();
    replies(&sent)
}

fn error(replies: &[AgentReply]) -> RemoteError {
    match replies {
        [AgentReply::Error(e)] => e.clone(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn allow_sends_the_windows_png_to_the_technician() {
    let rig = Rig::start().await;
    let mut channel = rig.client().await.serve_consent().await.unwrap();
    let ticket = TicketId::new_random();
    let window = tokio::spawn(async move {
        let prompt = channel.next_request().await.unwrap().unwrap();
        channel
            .answer(prompt.request, ConsentAnswer::Allow { png: png() })
            .await
            .unwrap();
        (prompt, channel)
    });
    let sent = technician_asks(&rig, Some(ticket)).await;
    assert_eq!(body(&sent), (png(), EndReason::Complete));
    let (prompt, _channel) = window.await.unwrap();
    assert_eq!(prompt.technician, "lina");
    assert_eq!(prompt.ticket, Some(ticket));
    rig.stop().await;
}

#[tokio::test]
async fn deny_reaches_the_technician_as_a_refusal() {
    let rig = Rig::start().await;
    let mut channel = rig.client().await.serve_consent().await.unwrap();
    let window = tokio::spawn(async move {
        let prompt = channel.next_request().await.unwrap().unwrap();
        channel
            .answer(prompt.request, ConsentAnswer::Deny)
            .await
            .unwrap();
        channel
    });
    let e = error(&technician_asks(&rig, None).await);
    assert_eq!(e.kind, ErrorKind::Forbidden);
    assert_eq!(
        e.message,
        "the user did not consent to a screenshot: the user declined"
    );
    drop(window.await.unwrap());
    rig.stop().await;
}

#[tokio::test]
async fn no_answer_in_time_is_a_refusal_and_the_late_answer_is_ignored() {
    let rig = Rig::with(Duration::from_millis(200), Duration::from_secs(600), "").await;
    let mut channel = rig.client().await.serve_consent().await.unwrap();
    let (shown, was_shown) = oneshot::channel();
    let window = tokio::spawn(async move {
        let first = channel.next_request().await.unwrap().unwrap();
        shown.send(()).unwrap();
        (first, channel)
    });
    let e = error(&technician_asks(&rig, None).await);
    assert_eq!(e.kind, ErrorKind::Forbidden);
    assert!(
        e.message.contains("no answer within 200 ms"),
        "{}",
        e.message
    );
    was_shown.await.unwrap();
    let (first, mut channel) = window.await.unwrap();
    // Too late: ignored, and the channel still carries the next prompt.
    channel
        .answer(first.request, ConsentAnswer::Allow { png: png() })
        .await
        .unwrap();
    let window = tokio::spawn(async move {
        let second = channel.next_request().await.unwrap().unwrap();
        channel
            .answer(second.request, ConsentAnswer::Deny)
            .await
            .unwrap();
        (second, channel)
    });
    let e = error(&technician_asks(&rig, None).await);
    assert!(e.message.contains("the user declined"), "{}", e.message);
    let (second, _channel) = window.await.unwrap();
    assert_ne!(second.request, first.request);
    rig.stop().await;
}

#[tokio::test]
async fn without_a_window_the_technician_is_told_nobody_can_be_asked() {
    let rig = Rig::start().await;
    let e = error(&technician_asks(&rig, None).await);
    assert_eq!(e.kind, ErrorKind::Forbidden);
    assert!(
        e.message
            .contains("nobody is signed in to the Get help window to ask"),
        "{}",
        e.message
    );
    // A window that registered and then closed is nobody either.
    let channel = rig.client().await.serve_consent().await.unwrap();
    assert_eq!(rig.registry.live_channels(), 1);
    drop(channel);
    let mut gone = false;
    for _ in 0..100 {
        if rig.registry.live_channels() == 0 {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(gone, "a closed window's channel is dropped");
    let e = error(&technician_asks(&rig, None).await);
    assert!(e.message.contains("nobody is signed in"), "{}", e.message);
    rig.stop().await;
}

#[tokio::test]
async fn a_failed_capture_or_a_bad_picture_is_unavailable() {
    let rig = Rig::start().await;
    let mut channel = rig.client().await.serve_consent().await.unwrap();
    let window = tokio::spawn(async move {
        let p = channel.next_request().await.unwrap().unwrap();
        let why = "no display\u{7}".to_string();
        channel
            .answer(p.request, ConsentAnswer::CaptureFailed(why))
            .await
            .unwrap();
        let p = channel.next_request().await.unwrap().unwrap();
        let gif = b"GIF89a".to_vec();
        channel
            .answer(p.request, ConsentAnswer::Allow { png: gif })
            .await
            .unwrap();
        channel
    });
    let e = error(&technician_asks(&rig, None).await);
    assert_eq!(e.kind, ErrorKind::Unavailable);
    assert!(
        e.message.ends_with("could not be taken: no display"),
        "{}",
        e.message
    );
    let e = error(&technician_asks(&rig, None).await);
    assert_eq!(e.kind, ErrorKind::Unavailable);
    assert!(e.message.contains("not a PNG"), "{}", e.message);
    drop(window.await.unwrap());
    rig.stop().await;
}

#[tokio::test]
async fn a_newer_window_takes_over_and_the_older_channel_is_closed() {
    let rig = Rig::start().await;
    let mut old = rig.client().await.serve_consent().await.unwrap();
    let mut new = rig.client().await.serve_consent().await.unwrap();
    assert!(old.next_request().await.unwrap().is_none());
    let window = tokio::spawn(async move {
        let p = new.next_request().await.unwrap().unwrap();
        new.answer(p.request, ConsentAnswer::Deny).await.unwrap();
        new
    });
    let e = error(&technician_asks(&rig, None).await);
    assert!(e.message.contains("declined"), "{}", e.message);
    drop(window.await.unwrap());
    rig.stop().await;
}

#[tokio::test]
async fn a_request_on_a_consent_channel_is_refused_and_the_channel_closed() {
    let rig = Rig::start().await;
    let mut s = rig.raw().await;
    write_frame(&mut s, &DesktopRequest::ServeConsent)
        .await
        .unwrap();
    let ready: DesktopReply = read_frame(&mut s).await.unwrap().unwrap();
    assert_eq!(ready, DesktopReply::ConsentReady);
    write_frame(&mut s, &DesktopRequest::MyTickets)
        .await
        .unwrap();
    let reply: DesktopReply = read_frame(&mut s).await.unwrap().unwrap();
    assert!(
        matches!(reply, DesktopReply::Error(ref why) if why.contains("only carries consent answers")),
        "{reply:?}"
    );
    assert!(read_frame::<_, DesktopReply>(&mut s)
        .await
        .unwrap()
        .is_none());
    rig.stop().await;
}
