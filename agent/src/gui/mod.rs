//! The "Get help" window (`triage-agent gui`): runs as the logged-in user in
//! their desktop session, captures the screen there, and talks only to the
//! agent daemon over its local socket — never to the relay.
//!
//! - [`app`]: the logic ([`HelpApp`]), a state machine with no drawing.
//! - [`view`]: the egui drawing ([`HelpWindow`]).
//! - [`link`]: the daemon link as messages; [`socket_link`] is the real one
//!   (a background thread with its own tokio runtime), [`fake`] the tests'.
//! - [`consent`]: technicians' screenshot requests waiting for an answer.
//! - [`updates`]: the employee's tickets as the daemon keeps them, a
//!   desktop notification per new notice (a toast without a service),
//!   replies and "Did this fix it?".
//! - [`sources`]: the screen, the clock and the notification service, as traits.

pub mod app;
pub mod articles;
mod articles_view;
pub mod consent;
pub mod fake;
pub mod link;
pub mod socket_link;
pub mod sources;
pub mod updates;
mod updates_view;
pub mod view;

pub use app::{check_text, Connection, Form, HelpApp, Sending, Shot, Tickets};
pub use consent::{ConsentQueue, MAX_PENDING_CONSENTS};
pub use link::{ConsentAsk, DaemonLink, LinkCommand, LinkEvent, Session};
pub use sources::{
    Capturer, Clock, DesktopNotifier, NoNotifications, Notifier, ScreenCapturer, SystemClock,
};
pub use updates::{Action, Draft, Toast, Updates};
pub use view::HelpWindow;

use std::path::PathBuf;

/// The window's title.
pub const WINDOW_TITLE: &str = "Get help";
/// The window's Wayland app id and X11 class: desktops match it to
/// `triage-get-help.desktop` and its `StartupWMClass`.
pub const APP_ID: &str = "triage-get-help";

#[derive(Debug, thiserror::Error)]
pub enum GuiError {
    #[error(
        "no desktop session: DISPLAY/WAYLAND_DISPLAY is not set; \
         start `triage-agent gui` from the desktop (or its \"Get help\" launcher)"
    )]
    NoDisplay,
    #[error("cannot start the link to the agent daemon: {0}")]
    Link(#[from] std::io::Error),
    #[error("cannot open the window: {0}")]
    Window(String),
}

impl eframe::App for HelpWindow {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        egui::CentralPanel::default().show(ui, |ui| HelpWindow::ui(self, ui));
    }
}

/// Opens the window and runs it until the user closes it. `socket` is the
/// daemon's local socket; the window keeps trying it while the daemon is
/// not running, and says so.
pub fn run_window(socket: PathBuf) -> Result<(), GuiError> {
    if !crate::capture::display_available() {
        return Err(GuiError::NoDisplay);
    }
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title(WINDOW_TITLE)
            .with_app_id(APP_ID)
            .with_inner_size([560.0, 720.0])
            .with_min_inner_size([360.0, 400.0]),
        ..Default::default()
    };
    eframe::run_native(
        WINDOW_TITLE,
        options,
        Box::new(move |cc| {
            let ctx = cc.egui_ctx.clone();
            let link = socket_link::SocketLink::start(socket, move || ctx.request_repaint())?;
            let app = HelpApp::new(
                Box::new(link),
                Box::new(ScreenCapturer),
                Box::new(SystemClock),
            )
            .with_notifier(Box::new(DesktopNotifier::start()));
            Ok(Box::new(HelpWindow::new(app)))
        }),
    )
    .map_err(|e| GuiError::Window(e.to_string()))
}
