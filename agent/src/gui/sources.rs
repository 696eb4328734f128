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

/// Raises a desktop notification. `Err` when there is no notification
/// service to take it: the window then shows its own toast.
pub trait Notifier {
    fn notify(&mut self, summary: &str, body: &str) -> Result<(), String>;
}

/// No notification service at all: every notice becomes a toast.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoNotifications;

impl Notifier for NoNotifications {
    fn notify(&mut self, _summary: &str, _body: &str) -> Result<(), String> {
        Err("no notification service".into())
    }
}

/// The freedesktop notification service (org.freedesktop.Notifications on
/// the session bus), through `notify-rust`. Whether there is one is asked
/// once, on a thread of its own, and each notification is shown on one
/// too: a bus that takes its time never freezes the window. Until the
/// answer is in, and after a notification failed, notices are toasts.
#[derive(Debug, Clone)]
pub struct DesktopNotifier {
    available: std::sync::Arc<std::sync::atomic::AtomicU8>,
}

const UNKNOWN: u8 = 0;
const AVAILABLE: u8 = 1;
const MISSING: u8 = 2;

impl DesktopNotifier {
    pub fn start() -> DesktopNotifier {
        use std::sync::atomic::{AtomicU8, Ordering};
        let available = std::sync::Arc::new(AtomicU8::new(UNKNOWN));
        let probe = available.clone();
        let spawned = std::thread::Builder::new()
            .name("triage-gui-notify".into())
            .spawn(move || {
                let found = service_present();
                probe.store(if found { AVAILABLE } else { MISSING }, Ordering::Relaxed);
            });
        if spawned.is_err() {
            available.store(MISSING, std::sync::atomic::Ordering::Relaxed);
        }
        DesktopNotifier { available }
    }
}

#[cfg(all(unix, not(target_os = "macos")))]
fn service_present() -> bool {
    match notify_rust::get_server_information() {
        Ok(server) => {
            tracing::debug!(name = %server.name, "desktop notifications go to this service");
            true
        }
        Err(e) => {
            tracing::info!(error = %e, "no desktop notification service; notices show in the window");
            false
        }
    }
}

#[cfg(not(all(unix, not(target_os = "macos"))))]
fn service_present() -> bool {
    true
}

impl Notifier for DesktopNotifier {
    fn notify(&mut self, summary: &str, body: &str) -> Result<(), String> {
        use std::sync::atomic::Ordering;
        match self.available.load(Ordering::Relaxed) {
            AVAILABLE => {}
            UNKNOWN => return Err("the notification service has not answered yet".into()),
            _ => return Err("no notification service".into()),
        }
        let mut notification = notify_rust::Notification::new();
        notification
            .appname(super::WINDOW_TITLE)
            .summary(summary)
            .body(body);
        let available = self.available.clone();
        std::thread::Builder::new()
            .name("triage-gui-notify".into())
            .spawn(move || {
                if let Err(e) = notification.show() {
                    tracing::warn!(error = %e, "the desktop notification failed; later ones show in the window");
                    available.store(MISSING, Ordering::Relaxed);
                }
            })
            .map(drop)
            .map_err(|e| e.to_string())
    }
}
