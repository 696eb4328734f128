//! How long one side of a streamed body (a log, a screenshot) waits: for
//! the first frame, for each later one, and for the end after a stop.
//! Pure — no clock, no I/O — so the relay, the CLI and the agent feed it
//! frames and stops with the time they happened, and ask it for the next
//! deadline or whether it passed.
//!
//! ```text
//!              frame                       stop
//!  FirstFrame ───────► NextFrame ◄─┐ frame ─────► StopGrace ──► (passed: StopGraceOver)
//!      │  stop              │      │                 ▲
//!      └────────────────────┼──────┴─────────────────┘
//!   (passed: TimedOut(FirstFrame))   (passed: TimedOut(NextFrame))
//! ```
//!
//! Generic over the instant type so tokio's paused clock works as well as
//! `std::time::Instant`.

use std::ops::Add;
use std::time::Duration;

/// What the stream is waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Nothing has arrived yet.
    FirstFrame,
    /// A frame arrived; waiting for the next one.
    NextFrame,
    /// Told to stop; waiting for the end.
    StopGrace,
}

/// What a stop does to the frame deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterStop {
    /// Only the stop grace counts from the stop on.
    GraceOnly,
    /// Whichever comes first: the stop grace or the frame deadline.
    GraceOrFrame,
}

/// The waits of one side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Patience {
    pub first_frame: Duration,
    pub next_frame: Duration,
    pub stop_grace: Duration,
    pub after_stop: AfterStop,
}

impl Patience {
    /// How long `wait` lasts.
    pub fn of(&self, wait: Wait) -> Duration {
        match wait {
            Wait::FirstFrame => self.first_frame,
            Wait::NextFrame => self.next_frame,
            Wait::StopGrace => self.stop_grace,
        }
    }
}

/// What happened on the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A frame came (or, for a sender, went).
    Frame,
    /// The stream was told to stop; a second stop changes nothing.
    Stop,
}

/// What to do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision<I> {
    /// Keep waiting, at most until this instant.
    Continue { until: I },
    /// A frame did not come in time.
    TimedOut(Wait),
    /// Told to stop and the end did not come within the grace.
    StopGraceOver,
}

#[derive(Debug, Clone, Copy)]
pub struct StreamTimer<I> {
    patience: Patience,
    frame_by: I,
    got_frame: bool,
    stop_by: Option<I>,
}

impl<I: Copy + Ord + Add<Duration, Output = I>> StreamTimer<I> {
    /// A stream that began (its request went out) at `now`.
    pub fn new(patience: Patience, now: I) -> Self {
        Self {
            patience,
            frame_by: now + patience.first_frame,
            got_frame: false,
            stop_by: None,
        }
    }

    /// Records `event` at `now` and says what to do.
    pub fn step(&mut self, event: Event, now: I) -> Decision<I> {
        match event {
            Event::Frame => {
                self.got_frame = true;
                self.frame_by = now + self.patience.next_frame;
            }
            Event::Stop => {
                if self.stop_by.is_none() {
                    self.stop_by = Some(now + self.patience.stop_grace);
                }
            }
        }
        self.check(now)
    }

    /// What to do at `now` when nothing happened.
    pub fn check(&self, now: I) -> Decision<I> {
        let until = self.deadline();
        if now < until {
            Decision::Continue { until }
        } else {
            self.expired()
        }
    }

    /// The decision once the deadline passed (e.g. a read timed out on it).
    pub fn expired(&self) -> Decision<I> {
        match self.waiting_for() {
            Wait::StopGrace => Decision::StopGraceOver,
            wait => Decision::TimedOut(wait),
        }
    }

    /// When waiting ends unless something happens first.
    pub fn deadline(&self) -> I {
        match (self.stop_by, self.patience.after_stop) {
            (None, _) => self.frame_by,
            (Some(stop_by), AfterStop::GraceOnly) => stop_by,
            (Some(stop_by), AfterStop::GraceOrFrame) => stop_by.min(self.frame_by),
        }
    }

    /// When the stop grace ends, once stopped.
    pub fn stop_deadline(&self) -> Option<I> {
        self.stop_by
    }

    pub fn waiting_for(&self) -> Wait {
        if self.stop_by.is_some() {
            Wait::StopGrace
        } else if self.got_frame {
            Wait::NextFrame
        } else {
            Wait::FirstFrame
        }
    }

    /// How long the current wait lasts in all.
    pub fn patience(&self) -> Duration {
        self.patience.of(self.waiting_for())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Seconds since the stream began stand in for instants.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
    struct T(u64);

    impl Add<Duration> for T {
        type Output = T;
        fn add(self, d: Duration) -> T {
            T(self.0 + d.as_secs())
        }
    }

    const fn patience(after_stop: AfterStop) -> Patience {
        Patience {
            first_frame: Duration::from_secs(90),
            next_frame: Duration::from_secs(60),
            stop_grace: Duration::from_secs(20),
            after_stop,
        }
    }

    #[test]
    fn first_frame_has_its_own_wait() {
        let timer = StreamTimer::new(patience(AfterStop::GraceOnly), T(0));
        assert_eq!(timer.waiting_for(), Wait::FirstFrame);
        assert_eq!(timer.check(T(89)), Decision::Continue { until: T(90) });
        assert_eq!(timer.check(T(90)), Decision::TimedOut(Wait::FirstFrame));
        assert_eq!(timer.patience(), Duration::from_secs(90));
    }

    #[test]
    fn each_frame_restarts_the_next_frame_wait() {
        let mut timer = StreamTimer::new(patience(AfterStop::GraceOnly), T(0));
        assert_eq!(
            timer.step(Event::Frame, T(5)),
            Decision::Continue { until: T(65) }
        );
        assert_eq!(
            timer.step(Event::Frame, T(50)),
            Decision::Continue { until: T(110) }
        );
        assert_eq!(timer.check(T(109)), Decision::Continue { until: T(110) });
        assert_eq!(timer.check(T(110)), Decision::TimedOut(Wait::NextFrame));
        assert_eq!(timer.patience(), Duration::from_secs(60));
    }

    #[test]
    fn grace_only_replaces_the_frame_wait() {
        let mut timer = StreamTimer::new(patience(AfterStop::GraceOnly), T(0));
        timer.step(Event::Frame, T(0));
        // The frame wait would end at 60; the grace, counted from 50, at 70.
        assert_eq!(
            timer.step(Event::Stop, T(50)),
            Decision::Continue { until: T(70) }
        );
        assert_eq!(timer.check(T(65)), Decision::Continue { until: T(70) });
        // Frames during the grace do not extend it.
        assert_eq!(
            timer.step(Event::Frame, T(68)),
            Decision::Continue { until: T(70) }
        );
        assert_eq!(timer.check(T(70)), Decision::StopGraceOver);
        assert_eq!(timer.patience(), Duration::from_secs(20));
    }

    #[test]
    fn grace_or_frame_ends_at_the_earlier_one() {
        let mut timer = StreamTimer::new(patience(AfterStop::GraceOrFrame), T(0));
        timer.step(Event::Frame, T(0));
        assert_eq!(
            timer.step(Event::Stop, T(50)),
            Decision::Continue { until: T(60) }
        );
        // Past the frame wait while stopping is still the stop's failure.
        assert_eq!(timer.check(T(60)), Decision::StopGraceOver);
        let mut early = StreamTimer::new(patience(AfterStop::GraceOrFrame), T(0));
        early.step(Event::Frame, T(0));
        assert_eq!(
            early.step(Event::Stop, T(10)),
            Decision::Continue { until: T(30) }
        );
    }

    #[test]
    fn a_second_stop_does_not_move_the_grace() {
        let mut timer = StreamTimer::new(patience(AfterStop::GraceOnly), T(0));
        timer.step(Event::Stop, T(10));
        assert_eq!(
            timer.step(Event::Stop, T(25)),
            Decision::Continue { until: T(30) }
        );
        assert_eq!(timer.stop_deadline(), Some(T(30)));
    }

    #[test]
    fn a_stop_before_the_first_frame_still_waits_for_the_grace() {
        let mut timer = StreamTimer::new(patience(AfterStop::GraceOnly), T(0));
        assert_eq!(timer.stop_deadline(), None);
        timer.step(Event::Stop, T(1));
        assert_eq!(timer.waiting_for(), Wait::StopGrace);
        assert_eq!(timer.expired(), Decision::StopGraceOver);
        assert_eq!(timer.check(T(21)), Decision::StopGraceOver);
    }

    #[test]
    fn works_with_std_instants() {
        let t0 = std::time::Instant::now();
        let mut timer = StreamTimer::new(patience(AfterStop::GraceOnly), t0);
        let later = t0 + Duration::from_secs(30);
        assert_eq!(
            timer.step(Event::Frame, later),
            Decision::Continue {
                until: later + Duration::from_secs(60)
            }
        );
    }
}
