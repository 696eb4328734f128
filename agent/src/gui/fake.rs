//! Stand-ins for the daemon, the screen and the clock, so the window's
//! logic and drawing are tested headless (and can be shown without an agent).

use super::link::{DaemonLink, LinkCommand, LinkEvent};
use super::sources::{Capturer, Clock};
use crate::capture::{image::RgbaImage, CaptureError};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
struct FakeLinkInner {
    sent: Vec<LinkCommand>,
    events: VecDeque<LinkEvent>,
}

/// A link whose events the test pushes and whose commands it reads back;
/// clones share both.
#[derive(Debug, Default, Clone)]
pub struct FakeLink {
    inner: Arc<Mutex<FakeLinkInner>>,
}

impl FakeLink {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, FakeLinkInner> {
        // A test that panicked while holding it has failed already.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Delivers `event` to the window at its next frame.
    pub fn push(&self, event: LinkEvent) {
        self.lock().events.push_back(event);
    }

    /// Every command the window has sent so far, oldest first.
    pub fn sent(&self) -> Vec<LinkCommand> {
        self.lock().sent.clone()
    }

    /// The commands sent so far, forgetting them.
    pub fn take_sent(&self) -> Vec<LinkCommand> {
        std::mem::take(&mut self.lock().sent)
    }
}

impl DaemonLink for FakeLink {
    fn send(&mut self, command: LinkCommand) {
        self.lock().sent.push(command);
    }

    fn try_recv(&mut self) -> Option<LinkEvent> {
        self.lock().events.pop_front()
    }
}

/// A screen that shows a given picture, or fails with a given reason.
#[derive(Debug, Clone)]
pub struct FakeCapturer {
    picture: Arc<Mutex<Result<RgbaImage, String>>>,
    captures: Arc<Mutex<usize>>,
}

impl FakeCapturer {
    pub fn showing(picture: RgbaImage) -> Self {
        FakeCapturer {
            picture: Arc::new(Mutex::new(Ok(picture))),
            captures: Arc::default(),
        }
    }

    pub fn failing(why: &str) -> Self {
        let capturer = Self::showing(RgbaImage::new(1, 1));
        capturer.fail_with(why);
        capturer
    }

    pub fn show(&self, picture: RgbaImage) {
        *self.picture.lock().unwrap_or_else(|e| e.into_inner()) = Ok(picture);
    }

    pub fn fail_with(&self, why: &str) {
        *self.picture.lock().unwrap_or_else(|e| e.into_inner()) = Err(why.to_string());
    }

    /// How many times the screen was captured.
    pub fn captures(&self) -> usize {
        *self.captures.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Capturer for FakeCapturer {
    fn capture(&mut self) -> Result<RgbaImage, CaptureError> {
        *self.captures.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.picture
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .map_err(CaptureError::Capture)
    }
}

/// A clock that moves only when told to; clones share it.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<Instant>>,
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock {
            now: Arc::new(Mutex::new(Instant::now())),
        }
    }
}

impl ManualClock {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn advance(&self, by: Duration) {
        *self.now.lock().unwrap_or_else(|e| e.into_inner()) += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A notification service that records what it was given, or is missing
/// (every notice then fails, and the window shows a toast); clones share.
#[derive(Debug, Clone, Default)]
pub struct FakeNotifier {
    shown: Arc<Mutex<Vec<(String, String)>>>,
    missing: bool,
}

impl FakeNotifier {
    pub fn present() -> Self {
        Self::default()
    }

    pub fn missing() -> Self {
        FakeNotifier {
            missing: true,
            ..Self::default()
        }
    }

    /// Every (summary, body) raised so far.
    pub fn shown(&self) -> Vec<(String, String)> {
        self.shown.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl super::sources::Notifier for FakeNotifier {
    fn notify(&mut self, summary: &str, body: &str) -> Result<(), String> {
        if self.missing {
            return Err("no notification service".into());
        }
        self.shown
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((summary.to_string(), body.to_string()));
        Ok(())
    }
}
