//! `serve` over real files in a temp dir allow-list.

use super::pump::tests::{body, replies};
use super::*;
use std::io::Write;
use std::path::Path;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use triage_shared::codec::read_frame;
use triage_shared::transfer::{ContentDigest, TransferFrame, MAX_TAIL_LINES, TRANSFER_CHUNK_LEN};

fn policy(dir: &Path, max_bytes: u64) -> LogPolicy {
    LogPolicy {
        allow: vec![dir.to_path_buf()],
        max_bytes,
    }
}

fn query(path: &Path) -> LogQuery {
    LogQuery::whole(path.display().to_string())
}

/// Runs a pull that is not followed and returns its replies.
async fn pull(policy: &LogPolicy, query: LogQuery) -> Vec<AgentReply> {
    let mut sent = Vec::new();
    let mut recv: &[u8] = &[];
    serve(policy, query, &mut recv, &mut sent).await.unwrap();
    replies(&sent)
}

fn refusal(replies: &[AgentReply]) -> RemoteError {
    match replies {
        [AgentReply::Error(e)] => e.clone(),
        other => panic!("expected one error, got {other:?}"),
    }
}

fn numbered(lines: usize) -> Vec<u8> {
    (0..lines)
        .flat_map(|i| format!("line {i}\n").into_bytes())
        .collect()
}

#[tokio::test]
async fn a_whole_file_arrives_byte_identical_in_chunks() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("big.log");
    let data: Vec<u8> = (0..TRANSFER_CHUNK_LEN * 3 + 77)
        .map(|i| (i * 7) as u8)
        .collect();
    std::fs::write(&path, &data).unwrap();
    let replies = pull(&policy(tmp.path(), u64::MAX), query(&path)).await;
    let AgentReply::Transfer(TransferFrame::Start(start)) = &replies[0] else {
        panic!("{:?}", replies[0])
    };
    assert_eq!(start.upper_bound, Some(data.len() as u64));
    assert!(start.exact);
    assert_eq!(body(&replies), (data.clone(), EndReason::Complete));
    let Some(AgentReply::Transfer(TransferFrame::End(end))) = replies.last() else {
        panic!()
    };
    assert_eq!(end.sha256, ContentDigest::of(&data));
}

#[tokio::test]
async fn the_byte_limit_is_exact() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("a.log");
    let data = numbered(100);
    std::fs::write(&path, &data).unwrap();
    let len = data.len() as u64;
    let replies = pull(&policy(tmp.path(), len), query(&path)).await;
    assert_eq!(body(&replies), (data.clone(), EndReason::Complete));
    let replies = pull(&policy(tmp.path(), len - 1), query(&path)).await;
    assert_eq!(
        body(&replies),
        (
            data[..data.len() - 1].to_vec(),
            EndReason::LimitReached { limit: len - 1 }
        )
    );
}

#[tokio::test]
async fn tail_since_and_grep_select_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("app.log");
    let now = chrono::Utc::now();
    let stamp = |ago: i64| {
        (now - chrono::Duration::seconds(ago))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    let text = format!(
        "{} old error\n  trace of old\n{} recent info\n{} recent error\n  trace of recent\n",
        stamp(7200),
        stamp(600),
        stamp(60)
    );
    std::fs::write(&path, &text).unwrap();
    let p = policy(tmp.path(), u64::MAX);
    let ask = |tail, since_secs, grep: Option<&str>| LogQuery {
        tail,
        since_secs,
        grep: grep.map(str::to_string),
        ..query(&path)
    };
    let text_of = |r: Vec<AgentReply>| String::from_utf8(body(&r).0).unwrap();
    assert_eq!(
        text_of(pull(&p, ask(Some(2), None, None)).await),
        format!("{} recent error\n  trace of recent\n", stamp(60))
    );
    assert_eq!(
        text_of(pull(&p, ask(None, Some(3600), None)).await),
        format!(
            "{} recent info\n{} recent error\n  trace of recent\n",
            stamp(600),
            stamp(60)
        )
    );
    assert_eq!(
        text_of(pull(&p, ask(None, None, Some("error"))).await),
        format!("{} old error\n{} recent error\n", stamp(7200), stamp(60))
    );
    assert_eq!(
        text_of(pull(&p, ask(Some(4), Some(3600), Some("trace"))).await),
        "  trace of recent\n"
    );
}

#[tokio::test]
async fn tail_is_bounded_by_its_maximum() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("a.log");
    std::fs::write(&path, numbered(10)).unwrap();
    let p = policy(tmp.path(), u64::MAX);
    let at_max = LogQuery {
        tail: Some(MAX_TAIL_LINES),
        ..query(&path)
    };
    assert_eq!(body(&pull(&p, at_max).await).0, numbered(10));
    let over = LogQuery {
        tail: Some(MAX_TAIL_LINES + 1),
        ..query(&path)
    };
    let e = refusal(&pull(&p, over).await);
    assert_eq!(e.kind, ErrorKind::InvalidInput);
    assert!(e.message.contains("--tail"), "{}", e.message);
}

#[tokio::test]
async fn refusals_come_as_one_error_frame() {
    let tmp = tempfile::tempdir().unwrap();
    let allowed = tmp.path().join("allowed");
    std::fs::create_dir(&allowed).unwrap();
    std::fs::write(tmp.path().join("secret"), b"s").unwrap();
    let p = policy(&allowed, u64::MAX);
    let traversal = LogQuery::whole(format!("{}/../secret", allowed.display()));
    assert_eq!(
        refusal(&pull(&p, traversal).await).kind,
        ErrorKind::Forbidden
    );
    let missing = LogQuery::whole(format!("{}/nope.log", allowed.display()));
    assert_eq!(refusal(&pull(&p, missing).await).kind, ErrorKind::NotFound);
    std::fs::write(allowed.join("a.log"), b"x\n").unwrap();
    let bad_grep = LogQuery {
        grep: Some("[".into()),
        ..LogQuery::whole(format!("{}/a.log", allowed.display()))
    };
    assert_eq!(
        refusal(&pull(&p, bad_grep).await).kind,
        ErrorKind::InvalidInput
    );
}

/// A followed pull running on its own task; the test appends and stops.
struct Followed {
    replies: tokio::io::DuplexStream,
    stop: Option<tokio::io::DuplexStream>,
    task: tokio::task::JoinHandle<()>,
    body: Vec<u8>,
}

impl Followed {
    fn start(policy: LogPolicy, query: LogQuery) -> Followed {
        let (mut send, replies) = tokio::io::duplex(1 << 20);
        let (stop, mut recv) = tokio::io::duplex(64);
        let task = tokio::spawn(async move {
            serve(&policy, query, &mut recv, &mut send).await.unwrap();
        });
        Followed {
            replies,
            stop: Some(stop),
            task,
            body: Vec::new(),
        }
    }

    /// Reads frames until the body holds `want` bytes; returns the last frame.
    async fn until(&mut self, want: usize) -> Option<TransferFrame> {
        let wait = Duration::from_secs(30);
        loop {
            let reply: Option<AgentReply> =
                tokio::time::timeout(wait, read_frame(&mut self.replies))
                    .await
                    .expect("the follow keeps sending")
                    .unwrap();
            match reply {
                Some(AgentReply::Transfer(TransferFrame::Chunk(c))) => {
                    self.body.extend_from_slice(&c);
                    if self.body.len() >= want {
                        return None;
                    }
                }
                Some(AgentReply::Transfer(f @ TransferFrame::End(_))) => return Some(f),
                Some(AgentReply::Transfer(_)) => {}
                other => panic!("{other:?}"),
            }
        }
    }

    async fn stop(mut self) -> (Vec<u8>, TransferFrame) {
        let mut stop = self.stop.take().unwrap();
        stop.shutdown().await.unwrap();
        let end = self.until(usize::MAX).await.expect("an end frame");
        self.task.await.unwrap();
        (self.body, end)
    }
}

fn append(path: &Path, text: &[u8]) {
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(text).unwrap();
}

#[tokio::test]
async fn follow_sends_appended_lines_until_stopped() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("app.log");
    std::fs::write(&path, b"first\n").unwrap();
    let mut f = Followed::start(
        policy(tmp.path(), u64::MAX),
        LogQuery {
            follow: true,
            grep: Some("keep".into()),
            ..query(&path)
        },
    );
    append(&path, b"keep one\ndrop\n");
    f.until(9).await;
    append(&path, b"keep two\n");
    f.until(18).await;
    let (body, end) = f.stop().await;
    assert_eq!(body, b"keep one\nkeep two\n");
    let TransferFrame::End(end) = end else {
        panic!()
    };
    assert_eq!(end.reason, EndReason::Stopped);
    assert_eq!(end.sha256, ContentDigest::of(&body));
}

#[tokio::test]
async fn follow_survives_truncation_and_rotation() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("app.log");
    std::fs::write(&path, b"one\n").unwrap();
    let mut f = Followed::start(
        policy(tmp.path(), u64::MAX),
        LogQuery {
            follow: true,
            ..query(&path)
        },
    );
    f.until(4).await;
    // Truncated in place, then written again.
    std::fs::write(&path, b"").unwrap();
    tokio::time::sleep(FOLLOW_POLL * 3).await;
    append(&path, b"two\n");
    f.until(8).await;
    // Rotated: renamed away and replaced by a new file.
    std::fs::rename(&path, tmp.path().join("app.log.1")).unwrap();
    std::fs::write(&path, b"three\n").unwrap();
    f.until(14).await;
    let (body, _) = f.stop().await;
    assert_eq!(body, b"one\ntwo\nthree\n");
}

#[tokio::test]
async fn follow_stops_at_the_byte_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("app.log");
    std::fs::write(&path, b"12345").unwrap();
    let mut f = Followed::start(
        policy(tmp.path(), 8),
        LogQuery {
            follow: true,
            ..query(&path)
        },
    );
    f.until(5).await;
    append(&path, b"6789");
    let end = f.until(usize::MAX).await.expect("the limit ends it");
    let TransferFrame::End(end) = end else {
        panic!()
    };
    assert_eq!(end.reason, EndReason::LimitReached { limit: 8 });
    assert_eq!(f.body, b"12345678");
}

#[tokio::test(start_paused = true)]
async fn a_quiet_follow_sends_keep_alives_and_stops_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("app.log");
    std::fs::write(&path, b"old\n").unwrap();
    let mut f = Followed::start(
        policy(tmp.path(), u64::MAX),
        LogQuery {
            follow: true,
            ..query(&path)
        },
    );
    f.until(4).await;
    let began = tokio::time::Instant::now();
    // Two keep-alives in a quiet stretch, each one interval after the last.
    for n in 1..=2u32 {
        let reply: Option<AgentReply> = read_frame(&mut f.replies).await.unwrap();
        assert!(
            matches!(reply, Some(AgentReply::Transfer(TransferFrame::KeepAlive))),
            "{reply:?}"
        );
        let quiet = began.elapsed();
        assert!(quiet >= FOLLOW_KEEPALIVE * n, "{quiet:?}");
        assert!(quiet <= FOLLOW_KEEPALIVE * n + FOLLOW_POLL * n, "{quiet:?}");
    }
    // New bytes go out within a poll, not after a keep-alive interval.
    let appended = tokio::time::Instant::now();
    append(&path, b"new\n");
    f.until(8).await;
    assert!(
        appended.elapsed() <= FOLLOW_POLL,
        "{:?}",
        appended.elapsed()
    );
    // A stop needs no grace: the end follows within one poll.
    let stopped = tokio::time::Instant::now();
    let (body, end) = f.stop().await;
    assert_eq!(body, b"old\nnew\n");
    assert!(matches!(end, TransferFrame::End(ref e) if e.reason == EndReason::Stopped));
    assert!(stopped.elapsed() <= FOLLOW_POLL, "{:?}", stopped.elapsed());
}
