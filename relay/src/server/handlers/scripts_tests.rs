use super::*;
use crate::server::transfer::Stop;
use std::collections::VecDeque;
use std::future::Future;
use triage_shared::remote::{OutputStream, RunOutcome};

/// An agent that sends `replies` in order, each after its delay, then
/// ends the stream.
struct FakeAgent {
    replies: VecDeque<(Duration, Result<AgentReply, ReplyError>)>,
}

impl FakeAgent {
    fn new(replies: Vec<Result<AgentReply, ReplyError>>) -> Self {
        FakeAgent {
            replies: replies.into_iter().map(|r| (Duration::ZERO, r)).collect(),
        }
    }
}

struct NoStop;

impl Stop for NoStop {
    fn stop(self) {}
}

impl Source for FakeAgent {
    type Stopper = NoStop;

    fn stopper(&mut self) -> NoStop {
        NoStop
    }

    fn next(
        &mut self,
        wait: Duration,
    ) -> impl Future<Output = Result<Option<AgentReply>, ReplyError>> + Send {
        let next = self.replies.pop_front();
        async move {
            let Some((delay, reply)) = next else {
                return Ok(None);
            };
            if delay > wait {
                tokio::time::sleep(wait).await;
                return Err(ReplyError::Timeout("a (pc)".into(), wait.as_secs()));
            }
            tokio::time::sleep(delay).await;
            reply.map(Some)
        }
    }

    fn label(&self) -> String {
        "a (pc)".into()
    }
}

/// A technician who takes `takes` frames (all by default), then is gone.
#[derive(Default)]
struct FakeTech {
    got: Vec<Response>,
    takes: Option<usize>,
}

impl Sink for FakeTech {
    fn send(&mut self, response: &Response) -> impl Future<Output = bool> + Send {
        let ok = self.takes.is_none_or(|n| self.got.len() < n);
        if ok {
            self.got.push(response.clone());
        }
        async move { ok }
    }
}

fn output(data: &[u8]) -> Result<AgentReply, ReplyError> {
    Ok(AgentReply::Run(RunEvent::Output {
        stream: OutputStream::Stdout,
        data: data.to_vec(),
    }))
}

fn finished(exit_code: i32) -> RunOutcome {
    RunOutcome {
        exit_code: Some(exit_code),
        timed_out: false,
        duration_ms: 12,
        output_bytes: 5,
        truncated: false,
    }
}

const TIMEOUT_SECS: u64 = 5;

async fn run(agent: &mut FakeAgent, tech: &mut FakeTech) -> (RunEnd, OutputKeeper) {
    let mut keeper = OutputKeeper::default();
    let deadline = Instant::now() + Duration::from_secs(TIMEOUT_SECS) + RUN_GRACE;
    let end = forward(agent, deadline, TIMEOUT_SECS, &mut keeper, tech).await;
    (end, keeper)
}

fn failure(end: &RunEnd) -> &RemoteError {
    match end {
        RunEnd::Failed(e) => e,
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test]
async fn output_is_forwarded_and_the_result_is_handed_back_unsent() {
    let mut agent = FakeAgent::new(vec![
        Ok(AgentReply::Run(RunEvent::Started)),
        output(b"hel"),
        output(b"lo"),
        Ok(AgentReply::Run(RunEvent::Finished(finished(0)))),
    ]);
    let mut tech = FakeTech::default();
    let (end, keeper) = run(&mut agent, &mut tech).await;
    assert!(
        matches!(&end, RunEnd::Finished(o) if *o == finished(0)),
        "{end:?}"
    );
    assert_eq!(
        tech.got.len(),
        3,
        "started and two outputs; the result is the caller's"
    );
    assert_eq!(tech.got[0], Response::Run(RunEvent::Started));
    assert_eq!(
        tech.got[2],
        Response::Run(RunEvent::Output {
            stream: OutputStream::Stdout,
            data: b"lo".to_vec(),
        })
    );
    // What the run record keeps.
    assert_eq!(keeper.into_text(), "hello");
}

#[tokio::test]
async fn the_agents_refusal_or_error_ends_the_run_as_it_said() {
    let refusal = triage_shared::approval::Refusal::BadApprovalSignature;
    let mut agent = FakeAgent::new(vec![Ok(AgentReply::Run(RunEvent::Refused(
        refusal.clone(),
    )))]);
    let (end, _) = run(&mut agent, &mut FakeTech::default()).await;
    assert!(
        matches!(&end, RunEnd::Refused(r) if *r == refusal),
        "{end:?}"
    );

    let e = RemoteError::new(ErrorKind::Unavailable, "busy");
    let mut agent = FakeAgent::new(vec![Ok(AgentReply::Error(e.clone()))]);
    let (end, _) = run(&mut agent, &mut FakeTech::default()).await;
    assert_eq!(failure(&end), &e);
}

#[tokio::test]
async fn an_agent_that_hangs_up_mid_run_leaves_the_result_unknown() {
    let mut agent = FakeAgent::new(vec![
        Ok(AgentReply::Run(RunEvent::Started)),
        output(b"partial"),
        Err(ReplyError::Disconnected("a (pc)".into())),
    ]);
    let mut tech = FakeTech::default();
    let (end, keeper) = run(&mut agent, &mut tech).await;
    let e = failure(&end);
    assert_eq!(e.kind, ErrorKind::Unavailable);
    assert!(
        e.message.contains("disconnected during the run"),
        "{}",
        e.message
    );
    assert_eq!(keeper.into_text(), "partial");

    // Finishing the stream without a result is no better.
    let mut agent = FakeAgent::new(vec![Ok(AgentReply::Run(RunEvent::Started))]);
    let (end, _) = run(&mut agent, &mut FakeTech::default()).await;
    let e = failure(&end);
    assert_eq!(e.kind, ErrorKind::Unavailable);
    assert!(
        e.message.contains("a (pc) ended the run without a result"),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn a_technician_who_goes_away_does_not_stop_the_run_or_its_record() {
    let mut agent = FakeAgent::new(vec![
        Ok(AgentReply::Run(RunEvent::Started)),
        output(b"one "),
        output(b"two"),
        Ok(AgentReply::Run(RunEvent::Finished(finished(3)))),
    ]);
    let mut tech = FakeTech {
        takes: Some(1),
        ..Default::default()
    };
    let (end, keeper) = run(&mut agent, &mut tech).await;
    assert_eq!(tech.got.len(), 1);
    assert!(
        matches!(&end, RunEnd::Finished(o) if o.exit_code == Some(3)),
        "{end:?}"
    );
    assert_eq!(keeper.into_text(), "one two");
}

#[tokio::test]
async fn a_garbled_or_wrong_frame_fails_the_run() {
    let mut agent = FakeAgent::new(vec![
        Ok(AgentReply::Run(RunEvent::Started)),
        Err(ReplyError::Garbled("a (pc)".into(), "bad varint".into())),
    ]);
    let (end, _) = run(&mut agent, &mut FakeTech::default()).await;
    let e = failure(&end);
    assert_eq!(e.kind, ErrorKind::Internal);
    assert!(e.message.contains("garbled"), "{}", e.message);

    let mut agent = FakeAgent::new(vec![Ok(AgentReply::Pong)]);
    let mut tech = FakeTech::default();
    let (end, _) = run(&mut agent, &mut tech).await;
    let e = failure(&end);
    assert_eq!(e.kind, ErrorKind::Internal);
    assert!(
        e.message.contains("answered a script run with pong"),
        "{}",
        e.message
    );
    assert!(tech.got.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_run_past_its_timeout_and_grace_is_given_up_on() {
    let mut agent = FakeAgent::new(vec![]);
    agent.replies = vec![
        (Duration::ZERO, Ok(AgentReply::Run(RunEvent::Started))),
        (
            Duration::from_secs(TIMEOUT_SECS) + RUN_GRACE + Duration::from_secs(1),
            Ok(AgentReply::Run(RunEvent::Finished(finished(0)))),
        ),
    ]
    .into();
    let (end, _) = run(&mut agent, &mut FakeTech::default()).await;
    let e = failure(&end);
    assert_eq!(e.kind, ErrorKind::Timeout);
    assert!(
        e.message
            .contains("a (pc) gave no result within the script's timeout of 5 s plus 30 s"),
        "{}",
        e.message
    );
}
