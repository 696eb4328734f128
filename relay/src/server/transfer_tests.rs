use super::*;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use triage_shared::transfer::TransferEnd;

/// An agent that sends `replies`, each after its delay, then ends the stream.
struct FakeAgent {
    replies: VecDeque<(Duration, Result<AgentReply, ReplyError>)>,
    stop_flag: Arc<AtomicBool>,
    /// Sent once the agent is told to stop.
    on_stop: Option<AgentReply>,
}

impl FakeAgent {
    fn new(replies: Vec<AgentReply>) -> Self {
        FakeAgent {
            replies: replies
                .into_iter()
                .map(|r| (Duration::ZERO, Ok(r)))
                .collect(),
            stop_flag: Arc::default(),
            on_stop: None,
        }
    }

    fn stopped(&self) -> bool {
        self.stop_flag.load(Ordering::SeqCst)
    }
}

impl Stop for Arc<AtomicBool> {
    fn stop(self) {
        self.store(true, Ordering::SeqCst);
    }
}

impl Source for FakeAgent {
    type Stopper = Arc<AtomicBool>;

    fn next(
        &mut self,
        wait: Duration,
    ) -> impl Future<Output = Result<Option<AgentReply>, ReplyError>> + Send {
        let next = self.replies.pop_front();
        let on_stop = if next.is_none() {
            self.on_stop.take()
        } else {
            None
        };
        let flag = Arc::clone(&self.stop_flag);
        async move {
            let Some((delay, reply)) = next else {
                // Silent until told to stop (then it ends, if it knows how)
                // or until the wait runs out, like a hung agent.
                let deadline = tokio::time::Instant::now() + wait;
                while tokio::time::Instant::now() < deadline {
                    if flag.load(Ordering::SeqCst) {
                        if let Some(end) = on_stop {
                            return Ok(Some(end));
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                return Err(ReplyError::Timeout("a".into(), wait.as_secs()));
            };
            if delay > wait {
                tokio::time::sleep(wait).await;
                return Err(ReplyError::Timeout("a".into(), wait.as_secs()));
            }
            tokio::time::sleep(delay).await;
            reply.map(Some)
        }
    }

    fn stopper(&mut self) -> Self::Stopper {
        Arc::clone(&self.stop_flag)
    }

    fn label(&self) -> String {
        "a (pc)".into()
    }
}

#[derive(Default)]
struct FakeTech {
    got: Vec<Response>,
    /// Stops taking frames after this many.
    takes: Option<usize>,
    /// How long each frame takes to go out (a slow technician).
    delay: Duration,
}

impl Sink for FakeTech {
    fn send(&mut self, response: &Response) -> impl Future<Output = bool> + Send {
        let ok = self.takes.is_none_or(|n| self.got.len() < n);
        if ok {
            self.got.push(response.clone());
        }
        let delay = self.delay;
        async move {
            tokio::time::sleep(delay).await;
            ok
        }
    }
}

fn t(frame: TransferFrame) -> AgentReply {
    AgentReply::Transfer(frame)
}

fn start(upper_bound: Option<u64>, exact: bool) -> AgentReply {
    t(TransferFrame::Start(TransferStart {
        name: "/var/log/syslog".into(),
        upper_bound,
        exact,
    }))
}

fn chunk(data: &[u8]) -> AgentReply {
    t(TransferFrame::Chunk(data.to_vec()))
}

fn end(data: &[u8], reason: EndReason) -> AgentReply {
    t(TransferFrame::End(TransferEnd {
        bytes: data.len() as u64,
        sha256: ContentDigest::of(data),
        reason,
    }))
}

const PLAIN: Plan = Plan {
    follow: false,
    keep: None,
    first_frame_within: TRANSFER_IDLE_TIMEOUT,
};

const SCREENSHOT: Plan = Plan {
    first_frame_within: SCREENSHOT_FIRST_FRAME_WAIT,
    ..PLAIN
};

fn quiet() -> std::future::Pending<TechSignal> {
    std::future::pending()
}

async fn run(agent: &mut FakeAgent, plan: Plan) -> (Spliced, FakeTech) {
    let mut tech = FakeTech::default();
    let s = splice(agent, &mut tech, quiet(), plan).await;
    (s, tech)
}

fn message(ending: &Ending) -> &RemoteError {
    match ending {
        Ending::Refused(e) | Ending::Declined(e) | Ending::Failed(e) => e,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_body_is_forwarded_and_its_end_is_held_back() {
    let mut agent = FakeAgent::new(vec![
        start(Some(5), true),
        chunk(b"hel"),
        t(TransferFrame::KeepAlive),
        chunk(b"lo"),
        end(b"hello", EndReason::Complete),
    ]);
    let (s, tech) = run(&mut agent, PLAIN).await;
    assert_eq!(tech.got.len(), 4, "start, two chunks, keep-alive");
    assert!(matches!(
        s.ending,
        Ending::Ended {
            reason: EndReason::Complete,
            bytes: 5,
            ..
        }
    ));
    assert_eq!(s.bytes, 5);
    assert!(matches!(
        s.last_frame(),
        Some(Response::Transfer(TransferFrame::End(_)))
    ));
    assert_eq!(s.start.unwrap().name, "/var/log/syslog");
}

#[tokio::test]
async fn an_agent_refusal_before_the_body_is_passed_on_as_it_is() {
    let refusal = RemoteError::new(ErrorKind::Forbidden, "outside the allow-list");
    let mut agent = FakeAgent::new(vec![AgentReply::Error(refusal.clone())]);
    let (s, tech) = run(&mut agent, PLAIN).await;
    assert!(tech.got.is_empty());
    assert_eq!(s.last_frame(), Some(Response::Error(refusal)));
    assert!(matches!(s.ending, Ending::Refused(_)));
}

#[tokio::test]
async fn failures_part_way_say_how_far_it_got() {
    let cases: Vec<(AgentReply, &str)> = vec![(
        AgentReply::Error(RemoteError::new(ErrorKind::Unavailable, "disk error")),
        "failed after sending 3 bytes: disk error",
    )];
    for (last, expect) in cases {
        let mut agent = FakeAgent::new(vec![start(None, false), chunk(b"abc"), last]);
        let (s, _) = run(&mut agent, PLAIN).await;
        let e = message(&s.ending);
        assert!(e.message.contains(expect), "{}", e.message);
    }
    let mut agent = FakeAgent::new(vec![start(None, false), chunk(b"abc")]);
    agent
        .replies
        .push_back((Duration::ZERO, Err(ReplyError::Disconnected("a".into()))));
    let (s, _) = run(&mut agent, PLAIN).await;
    let e = message(&s.ending);
    assert_eq!(e.kind, ErrorKind::Unavailable);
    assert!(
        e.message.contains("disconnected after sending 3 bytes"),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn a_broken_body_is_refused() {
    let mut agent = FakeAgent::new(vec![
        start(None, false),
        chunk(b"abc"),
        end(b"abd", EndReason::Complete),
    ]);
    let (s, _) = run(&mut agent, PLAIN).await;
    let e = message(&s.ending);
    assert_eq!(e.kind, ErrorKind::Internal);
    assert!(e.message.contains("broken body"), "{}", e.message);
    let mut agent = FakeAgent::new(vec![chunk(b"no start")]);
    let (s, _) = run(&mut agent, PLAIN).await;
    assert!(message(&s.ending).message.contains("start frame"));
}

#[tokio::test(start_paused = true)]
async fn the_agent_may_be_quiet_just_under_the_idle_timeout() {
    let just_under = TRANSFER_IDLE_TIMEOUT - Duration::from_millis(1);
    let mut agent = FakeAgent::new(vec![]);
    agent.replies = vec![
        (just_under, Ok(start(None, false))),
        (just_under, Ok(chunk(b"x"))),
        (just_under, Ok(end(b"x", EndReason::Complete))),
    ]
    .into();
    let (s, _) = run(&mut agent, PLAIN).await;
    assert!(matches!(s.ending, Ending::Ended { .. }), "{:?}", s.ending);

    let just_over = TRANSFER_IDLE_TIMEOUT + Duration::from_millis(1);
    let mut agent = FakeAgent::new(vec![]);
    agent.replies = vec![
        (Duration::ZERO, Ok(start(None, false))),
        (just_over, Ok(chunk(b"x"))),
    ]
    .into();
    let (s, _) = run(&mut agent, PLAIN).await;
    let e = message(&s.ending);
    assert_eq!(e.kind, ErrorKind::Timeout);
    assert!(e.message.contains("sent nothing for 30 s"), "{}", e.message);
}

#[tokio::test(start_paused = true)]
async fn a_screenshot_may_wait_for_consent_but_not_forever() {
    // The employee allows at the last moment: the picture still comes through.
    let allowed_late = SCREENSHOT_CONSENT_TIMEOUT + Duration::from_secs(5);
    let mut agent = FakeAgent::new(vec![]);
    agent.replies = vec![
        (allowed_late, Ok(start(Some(1), true))),
        (Duration::ZERO, Ok(chunk(b"x"))),
        (Duration::ZERO, Ok(end(b"x", EndReason::Complete))),
    ]
    .into();
    let (s, _) = run(&mut agent, SCREENSHOT).await;
    assert!(matches!(s.ending, Ending::Ended { .. }), "{:?}", s.ending);

    // No answer: the agent's refusal is what reaches the technician.
    let refusal = RemoteError::new(ErrorKind::Forbidden, "the user did not answer");
    let mut agent = FakeAgent::new(vec![]);
    agent.replies = vec![(SCREENSHOT_CONSENT_TIMEOUT, Ok(AgentReply::Error(refusal)))].into();
    let (s, _) = run(&mut agent, SCREENSHOT).await;
    assert!(
        matches!(&s.ending, Ending::Refused(e) if e.message == "the user did not answer"),
        "{:?}",
        s.ending
    );

    // An agent that never answers is given up on.
    let mut agent = FakeAgent::new(vec![]);
    agent.replies = vec![(
        SCREENSHOT_FIRST_FRAME_WAIT + Duration::from_millis(1),
        Ok(start(None, false)),
    )]
    .into();
    let (s, _) = run(&mut agent, SCREENSHOT).await;
    let e = message(&s.ending);
    assert_eq!(e.kind, ErrorKind::Timeout);
    assert!(
        e.message.contains("sent nothing for 75 s after 0 bytes"),
        "{}",
        e.message
    );

    // Once the picture began, the usual patience applies again.
    let mut agent = FakeAgent::new(vec![]);
    agent.replies = vec![
        (Duration::ZERO, Ok(start(None, false))),
        (
            TRANSFER_IDLE_TIMEOUT + Duration::from_millis(1),
            Ok(chunk(b"x")),
        ),
    ]
    .into();
    let (s, _) = run(&mut agent, SCREENSHOT).await;
    assert!(message(&s.ending).message.contains("sent nothing for 30 s"));
}

#[tokio::test]
async fn a_technician_who_goes_away_ends_the_splice() {
    let mut agent = FakeAgent::new(vec![start(None, false), chunk(b"a"), chunk(b"b")]);
    let mut tech = FakeTech {
        takes: Some(2),
        ..Default::default()
    };
    let s = splice(&mut agent, &mut tech, quiet(), PLAIN).await;
    assert!(matches!(s.ending, Ending::TechnicianGone));
    assert_eq!(s.last_frame(), None);

    let mut agent = FakeAgent::new(vec![start(None, false)]);
    let mut tech = FakeTech::default();
    let gone = async { TechSignal::Gone };
    let s = splice(&mut agent, &mut tech, gone, PLAIN).await;
    assert!(matches!(s.ending, Ending::TechnicianGone));
}

#[tokio::test(start_paused = true)]
async fn a_finished_technician_stops_a_follow_and_gets_its_end() {
    let mut agent = FakeAgent::new(vec![start(None, false), chunk(b"ab")]);
    agent.on_stop = Some(end(b"ab", EndReason::Stopped));
    let mut tech = FakeTech::default();
    let finished = async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        TechSignal::Finished
    };
    let plan = Plan {
        follow: true,
        ..PLAIN
    };
    let s = splice(&mut agent, &mut tech, finished, plan).await;
    assert!(agent.stopped());
    assert!(matches!(
        s.ending,
        Ending::Ended {
            reason: EndReason::Stopped,
            ..
        }
    ));

    // An agent that does not end in time is given up on.
    let mut agent = FakeAgent::new(vec![start(None, false)]);
    let finished = async { TechSignal::Finished };
    let s = splice(&mut agent, &mut FakeTech::default(), finished, plan).await;
    let e = message(&s.ending);
    assert_eq!(e.kind, ErrorKind::Timeout);
    assert!(e.message.contains("told to stop"), "{}", e.message);
}

#[tokio::test(start_paused = true)]
async fn the_stop_grace_counts_from_the_stop() {
    let mut agent = FakeAgent::new(vec![]);
    agent.replies = vec![
        (Duration::ZERO, Ok(start(None, false))),
        (Duration::from_secs(5), Ok(chunk(b"a"))),
    ]
    .into();
    let finished = async {
        tokio::time::sleep(Duration::from_secs(8)).await;
        TechSignal::Finished
    };
    let plan = Plan {
        follow: true,
        ..PLAIN
    };
    let began = Instant::now();
    let s = splice(&mut agent, &mut FakeTech::default(), finished, plan).await;
    assert!(agent.stopped());
    assert!(message(&s.ending)
        .message
        .contains("within 10 s of being told to stop"));
    assert_eq!(began.elapsed(), Duration::from_secs(8) + STOP_GRACE);
}

#[tokio::test(start_paused = true)]
async fn a_slow_technician_does_not_count_against_the_agent() {
    // Each frame takes 25 s to reach the technician and 25 s more to come
    // from the agent: 50 s between frames, yet the agent was quick each time.
    let quick = TRANSFER_IDLE_TIMEOUT - Duration::from_secs(5);
    let mut agent = FakeAgent::new(vec![]);
    agent.replies = vec![
        (Duration::ZERO, Ok(start(Some(1), true))),
        (quick, Ok(chunk(b"x"))),
        (quick, Ok(end(b"x", EndReason::Complete))),
    ]
    .into();
    let mut tech = FakeTech {
        delay: quick,
        ..Default::default()
    };
    let s = splice(&mut agent, &mut tech, quiet(), PLAIN).await;
    assert!(matches!(s.ending, Ending::Ended { .. }), "{:?}", s.ending);
}

#[tokio::test(start_paused = true)]
async fn a_finished_technician_half_does_not_stop_a_plain_pull() {
    let slow = STOP_GRACE + Duration::from_secs(5);
    let mut agent = FakeAgent::new(vec![]);
    agent.replies = vec![
        (Duration::ZERO, Ok(start(Some(1), true))),
        (slow, Ok(chunk(b"x"))),
        (slow, Ok(end(b"x", EndReason::Complete))),
    ]
    .into();
    let finished = async { TechSignal::Finished };
    let s = splice(&mut agent, &mut FakeTech::default(), finished, PLAIN).await;
    assert!(!agent.stopped());
    assert!(matches!(s.ending, Ending::Ended { .. }), "{:?}", s.ending);
}

#[tokio::test]
async fn attachments_are_bounded_before_and_during_the_body() {
    let keep = |limit| Plan {
        keep: Some(limit),
        ..PLAIN
    };
    // Exactly at the limit: kept.
    let mut agent = FakeAgent::new(vec![
        start(Some(4), true),
        chunk(b"abcd"),
        end(b"abcd", EndReason::Complete),
    ]);
    let (s, _) = run(&mut agent, keep(4)).await;
    assert_eq!(s.kept.as_deref(), Some(&b"abcd"[..]));
    // Announced one byte over: refused before anything is forwarded.
    let mut agent = FakeAgent::new(vec![start(Some(5), true), chunk(b"abcde")]);
    let (s, tech) = run(&mut agent, keep(4)).await;
    assert!(tech.got.is_empty());
    assert!(matches!(s.ending, Ending::Declined(_)));
    assert!(message(&s.ending).message.contains("at most 4 bytes"));
    // A filtered body that grows past the limit: refused part way.
    let mut agent = FakeAgent::new(vec![start(Some(100), false), chunk(b"abc"), chunk(b"de")]);
    let (s, _) = run(&mut agent, keep(4)).await;
    assert!(matches!(s.ending, Ending::Failed(_)));
    assert_eq!(s.kept, None);
    // A followed log cannot be attached.
    let e = attachable(
        &TransferStart {
            name: "x".into(),
            upper_bound: None,
            exact: false,
        },
        4,
    )
    .unwrap_err();
    assert!(e.message.contains("followed"), "{}", e.message);
}

// Transfers leave room for other commands, and the agent's 10 s
// keep-alive (FOLLOW_KEEPALIVE) comes well within the relay's patience.
const _: () = assert!(MAX_TRANSFERS_PER_AGENT < super::super::agent_link::MAX_COMMANDS_PER_AGENT);
const _: () = assert!(TRANSFER_IDLE_TIMEOUT.as_secs() >= 2 * 10);
// The refusal after the consent prompt's timeout must beat the relay's own.
const _: () =
    assert!(SCREENSHOT_FIRST_FRAME_WAIT.as_secs() > SCREENSHOT_CONSENT_TIMEOUT.as_secs() + 5);
