//! Technicians' screenshot requests waiting for the user, as a pure queue:
//! one prompt shown at a time, each with its deadline, a bound on how many
//! wait, and "Allow" held back a few frames so the prompt is off the
//! screen when it is captured.

use super::link::ConsentAsk;
use crate::desktop::protocol::CONSENT_TIMEOUT;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Prompts waiting at once; more are refused at once, so a flood of
/// requests cannot bury the one the user is reading.
pub const MAX_PENDING_CONSENTS: usize = 4;
/// Frames drawn between "Allow" and the capture, so the technician sees
/// the screen without the prompt on it.
pub const CAPTURE_AFTER_FRAMES: u8 = 2;

#[derive(Debug, Clone)]
struct Pending {
    ask: ConsentAsk,
    deadline: Instant,
}

#[derive(Debug, Clone)]
pub struct ConsentQueue {
    pending: VecDeque<Pending>,
    timeout: Duration,
    /// Allowed, waiting for the prompt to leave the screen: the request
    /// and the frames still to wait.
    allowed: Option<(u64, u8)>,
}

impl Default for ConsentQueue {
    fn default() -> Self {
        ConsentQueue {
            pending: VecDeque::new(),
            timeout: CONSENT_TIMEOUT,
            allowed: None,
        }
    }
}

impl ConsentQueue {
    /// How long a prompt waits before it counts as "Deny".
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Queues `ask`; `Err(request)` when too many wait, to be refused now.
    pub fn push(&mut self, ask: ConsentAsk, now: Instant) -> Result<(), u64> {
        if self.pending.len() >= MAX_PENDING_CONSENTS {
            return Err(ask.request);
        }
        let deadline = now + self.timeout;
        self.pending.push_back(Pending { ask, deadline });
        Ok(())
    }

    /// The prompts whose time is up, oldest first: each is a "Deny".
    pub fn expire(&mut self, now: Instant) -> Vec<u64> {
        let mut expired = Vec::new();
        while let Some(front) = self.pending.front() {
            if front.deadline > now {
                break;
            }
            expired.push(front.ask.request);
            self.pending.pop_front();
        }
        expired
    }

    /// The prompt to show and the whole seconds left to answer it.
    pub fn shown(&self, now: Instant) -> Option<(&ConsentAsk, u64)> {
        let front = self.pending.front()?;
        let left = front.deadline.saturating_duration_since(now);
        let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
        Some((&front.ask, secs))
    }

    pub fn is_waiting(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Takes the shown prompt off for the user's answer: its request and,
    /// when an earlier "Allow" is still waiting for its frames, that one,
    /// to be captured now.
    pub fn answer(&mut self, allow: bool) -> Option<Answered> {
        let request = self.pending.pop_front()?.ask.request;
        if !allow {
            return Some(Answered::Deny(request));
        }
        let earlier = self
            .allowed
            .replace((request, CAPTURE_AFTER_FRAMES))
            .map(|(r, _)| r);
        Some(Answered::Allow { earlier })
    }

    /// Counts a frame; the allowed request whose capture is due now.
    pub fn frame(&mut self) -> Option<u64> {
        match self.allowed.take()? {
            (request, frames) if frames > 1 => {
                self.allowed = Some((request, frames - 1));
                None
            }
            (request, _) => Some(request),
        }
    }

    /// Whether an allowed capture waits for the prompt to leave the screen.
    pub fn capture_pending(&self) -> bool {
        self.allowed.is_some()
    }

    /// The channel closed: nothing here can be answered any more (the
    /// daemon counts it all as refused).
    pub fn clear(&mut self) {
        self.pending.clear();
        self.allowed = None;
    }
}

/// What the user's click means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answered {
    Deny(u64),
    /// Captured after [`CAPTURE_AFTER_FRAMES`] frames; an `earlier` allowed
    /// request still waiting is captured at once.
    Allow {
        earlier: Option<u64>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(request: u64) -> ConsentAsk {
        ConsentAsk {
            request,
            technician: "bob".into(),
            ticket: None,
        }
    }

    #[test]
    fn prompts_expire_at_their_deadline_in_order() {
        let mut queue = ConsentQueue::default();
        let t0 = Instant::now();
        queue.push(ask(1), t0).unwrap();
        queue.push(ask(2), t0 + Duration::from_secs(5)).unwrap();
        assert!(queue
            .expire(t0 + CONSENT_TIMEOUT - Duration::from_millis(1))
            .is_empty());
        assert_eq!(queue.expire(t0 + CONSENT_TIMEOUT), [1]);
        assert_eq!(queue.shown(t0 + CONSENT_TIMEOUT).unwrap(), (&ask(2), 5));
        assert_eq!(queue.expire(t0 + CONSENT_TIMEOUT * 2), [2]);
        assert!(!queue.is_waiting());
    }

    #[test]
    fn the_queue_is_bounded() {
        let mut queue = ConsentQueue::default();
        let now = Instant::now();
        for request in 0..MAX_PENDING_CONSENTS as u64 {
            queue.push(ask(request), now).unwrap();
        }
        assert_eq!(queue.push(ask(99), now), Err(99));
    }

    #[test]
    fn an_allow_is_captured_after_the_prompt_frames() {
        let mut queue = ConsentQueue::default();
        let now = Instant::now();
        queue.push(ask(1), now).unwrap();
        queue.push(ask(2), now).unwrap();
        assert_eq!(queue.answer(true), Some(Answered::Allow { earlier: None }));
        assert!(queue.capture_pending());
        for _ in 1..CAPTURE_AFTER_FRAMES {
            assert_eq!(queue.frame(), None);
        }
        assert_eq!(queue.frame(), Some(1));
        assert!(!queue.capture_pending());
        assert_eq!(queue.answer(false), Some(Answered::Deny(2)));
        assert_eq!(queue.answer(true), None, "nothing left to answer");
    }

    #[test]
    fn a_second_allow_before_the_first_is_captured_captures_the_first_now() {
        let mut queue = ConsentQueue::default();
        let now = Instant::now();
        queue.push(ask(1), now).unwrap();
        queue.push(ask(2), now).unwrap();
        queue.answer(true);
        assert_eq!(
            queue.answer(true),
            Some(Answered::Allow { earlier: Some(1) })
        );
        queue.clear();
        assert_eq!(queue.frame(), None);
    }
}
