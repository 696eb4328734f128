use super::*;
use crate::receive::Output;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::io::DuplexStream;
use triage_shared::transfer::{
    ContentDigest, EndReason, TransferEnd, TransferFrame, TransferStart,
};

fn start() -> Response {
    Response::Transfer(TransferFrame::Start(TransferStart {
        name: "/var/log/syslog".into(),
        upper_bound: None,
        exact: false,
    }))
}

fn end(data: &[u8], reason: EndReason) -> Response {
    Response::Transfer(TransferFrame::End(TransferEnd {
        bytes: data.len() as u64,
        sha256: ContentDigest::of(data),
        reason,
    }))
}

/// The relay's end of the stream, and the flag `stop_sending` sets.
struct Relay {
    to_cli: DuplexStream,
    told_to_stop: Arc<AtomicBool>,
}

impl Relay {
    async fn send(&mut self, response: &Response) {
        write_frame(&mut self.to_cli, response).await.unwrap();
    }
}

/// Runs `answer` on a fresh stream; `relay` plays the other end meanwhile.
async fn run<F, Fut>(
    follow: bool,
    stop: impl Future<Output = ()>,
    relay: F,
) -> (Result<Received, CliError>, Duration)
where
    F: FnOnce(Relay) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (mut from_relay, to_cli) = tokio::io::duplex(64 * 1024);
    let told_to_stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&told_to_stop);
    let relay_task = tokio::spawn(relay(Relay {
        to_cli,
        told_to_stop,
    }));
    let began = Instant::now();
    let mut out = Vec::new();
    let receiver = Receiver::new(Output::Stdout(&mut out), false);
    let stop_sending = move || flag.store(true, Ordering::SeqCst);
    let got = answer(
        &mut from_relay,
        stop_sending,
        "logs",
        receiver,
        follow,
        stop,
    )
    .await;
    let took = began.elapsed();
    relay_task.abort();
    (got, took)
}

/// Keeps the stream open and silent for longer than any wait.
async fn silent(relay: Relay) {
    tokio::time::sleep(Duration::from_secs(3600)).await;
    drop(relay);
}

fn never() -> std::future::Pending<()> {
    std::future::pending()
}

#[tokio::test(start_paused = true)]
async fn the_first_frame_may_take_the_screenshot_wait() {
    let (got, took) = run(false, never(), silent).await;
    let e = got.unwrap_err().to_string();
    assert!(e.contains("nothing arrived for 90 s after 0 bytes"), "{e}");
    assert_eq!(took, FIRST_FRAME_TIMEOUT);

    // Just under it, the body still comes through.
    let (got, _) = run(false, never(), |mut relay| async move {
        tokio::time::sleep(FIRST_FRAME_TIMEOUT - Duration::from_millis(1)).await;
        relay.send(&start()).await;
        relay.send(&end(b"", EndReason::Complete)).await;
        silent(relay).await;
    })
    .await;
    assert_eq!(got.unwrap().reason, EndReason::Complete);
}

#[tokio::test(start_paused = true)]
async fn later_frames_get_the_idle_wait_each() {
    let (got, took) = run(false, never(), |mut relay| async move {
        relay.send(&start()).await;
        tokio::time::sleep(Duration::from_secs(10)).await;
        relay
            .send(&Response::Transfer(TransferFrame::Chunk(b"ab".to_vec())))
            .await;
        silent(relay).await;
    })
    .await;
    let e = got.unwrap_err().to_string();
    assert!(e.contains("nothing arrived for 60 s after 2 bytes"), "{e}");
    assert_eq!(took, Duration::from_secs(10) + IDLE_TIMEOUT);
}

#[tokio::test(start_paused = true)]
async fn a_stopped_follow_gets_its_end_within_the_grace() {
    let stop = tokio::time::sleep(Duration::from_secs(5));
    let (got, took) = run(true, stop, |mut relay| async move {
        relay.send(&start()).await;
        while !relay.told_to_stop.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(STOP_WAIT - Duration::from_secs(1)).await;
        relay.send(&end(b"", EndReason::Stopped)).await;
        silent(relay).await;
    })
    .await;
    assert_eq!(got.unwrap().reason, EndReason::Stopped);
    assert!(took < Duration::from_secs(5) + STOP_WAIT, "{took:?}");
}

#[tokio::test(start_paused = true)]
async fn a_stopped_follow_that_does_not_end_is_given_up_after_the_grace() {
    let stop = tokio::time::sleep(Duration::from_secs(5));
    let (got, took) = run(true, stop, |mut relay| async move {
        relay.send(&start()).await;
        silent(relay).await;
    })
    .await;
    let e = got.unwrap_err().to_string();
    assert!(
        e.contains("did not finish within 20 s of being told to stop"),
        "{e}"
    );
    assert_eq!(took, Duration::from_secs(5) + STOP_WAIT);
}

#[tokio::test(start_paused = true)]
async fn the_grace_never_outlasts_the_idle_wait() {
    // Stopped 50 s into a 60 s silence: the idle wait ends first, and the
    // failure is still the stop's.
    let stop = tokio::time::sleep(Duration::from_secs(50));
    let (got, took) = run(true, stop, |mut relay| async move {
        relay.send(&start()).await;
        silent(relay).await;
    })
    .await;
    let e = got.unwrap_err().to_string();
    assert!(e.contains("of being told to stop"), "{e}");
    assert_eq!(took, IDLE_TIMEOUT);
}

#[tokio::test(start_paused = true)]
async fn a_stop_without_follow_aborts_at_once() {
    let stop = tokio::time::sleep(Duration::from_secs(3));
    let (got, took) = run(false, stop, |mut relay| async move {
        relay.send(&start()).await;
        silent(relay).await;
    })
    .await;
    let e = got.unwrap_err().to_string();
    assert!(e.contains("interrupted after 0 bytes"), "{e}");
    assert_eq!(took, Duration::from_secs(3));
}
