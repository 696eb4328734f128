//! What the window takes from its surroundings, as traits so tests can
//! give their own: the screen and the time.

use crate::capture::{self, image::RgbaImage, CaptureError};
use std::time::Instant;

/// Takes a picture of the whole screen.
pub trait Capturer {
    fn capture(&mut self) -> Result<RgbaImage, CaptureError>;
}

/// The real screen, as the logged-in user.
#[derive(Debug, Default, Clone, Copy)]
pub struct ScreenCapturer;

impl Capturer for ScreenCapturer {
    fn capture(&mut self) -> Result<RgbaImage, CaptureError> {
        capture::capture_image()
    }
}

/// The time the window counts refreshes and consent deadlines by.
pub trait Clock {
    fn now(&self) -> Instant;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}
