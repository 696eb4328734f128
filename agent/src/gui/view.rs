//! Drawing the window from a [`HelpApp`]; every decision is the app's, this
//! only lays it out and turns clicks into the app's actions.

use super::app::{Connection, HelpApp, Sending};
use egui::{Button, Color32, Label, RichText, TextEdit, TextureHandle, TextureOptions};
use triage_shared::limits::MAX_TEXT_LEN;
use triage_shared::ticket::{Category, EmployeeTicket, Priority, Status};

/// Characters of a technician's reply shown in "My tickets".
pub const REPLY_SHOWN_CHARS: usize = 300;

const CATEGORIES: [(Category, &str); 5] = [
    (Category::Hardware, "Hardware"),
    (Category::Software, "Software"),
    (Category::Network, "Network"),
    (Category::Account, "Account / password"),
    (Category::Other, "Other"),
];

const URGENCIES: [(Priority, &str); 4] = [
    (Priority::Low, "Low"),
    (Priority::Normal, "Normal"),
    (Priority::High, "High"),
    (Priority::Urgent, "Urgent"),
];

/// The window: the app and the thumbnail's texture.
pub struct HelpWindow {
    pub app: HelpApp,
    /// The uploaded thumbnail and the shot generation it shows.
    texture: Option<(u64, TextureHandle)>,
    /// The consent prompt last shown, to raise the window for a new one.
    prompt_shown: Option<u64>,
}

impl HelpWindow {
    pub fn new(app: HelpApp) -> Self {
        HelpWindow {
            app,
            texture: None,
            prompt_shown: None,
        }
    }

    /// One frame: take in what happened, then draw.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        self.app.tick();
        self.raise_for_new_prompt(ui.ctx());
        egui::ScrollArea::vertical()
            .auto_shrink([false, false])
            .show(ui, |ui| {
                ui.heading("Ask IT for help");
                connection_line(ui, self.app.connection());
                super::updates_view::toasts(ui, &self.app);
                consent_prompt(ui, &mut self.app);
                ui.separator();
                self.form(ui);
                ui.separator();
                super::updates_view::updates(ui, &mut self.app);
                ui.separator();
                my_tickets(ui, &mut self.app);
            });
        ui.ctx().request_repaint_after(self.app.next_wake());
    }

    /// A technician is waiting on the user: bring the window forward.
    fn raise_for_new_prompt(&mut self, ctx: &egui::Context) {
        let shown = self.app.consent_prompt().map(|(ask, _)| ask.request);
        if shown.is_some() && shown != self.prompt_shown {
            ctx.send_viewport_cmd(egui::ViewportCommand::Focus);
            ctx.send_viewport_cmd(egui::ViewportCommand::RequestUserAttention(
                egui::UserAttentionType::Critical,
            ));
        }
        self.prompt_shown = shown;
    }

    fn form(&mut self, ui: &mut egui::Ui) {
        let app = &mut self.app;
        let label = ui.label("What's wrong?");
        ui.add(
            TextEdit::multiline(&mut app.form.text)
                .hint_text("For example: the printer on floor 2 says \"paper jam\" but has none")
                .desired_rows(4)
                .desired_width(f32::INFINITY),
        )
        .labelled_by(label.id);
        if app.form.text.len() > MAX_TEXT_LEN * 9 / 10 {
            ui.small(format!("{} of {MAX_TEXT_LEN} bytes", app.form.text.len()));
        }
        super::articles_view::self_service(ui, app);
        ui.horizontal_wrapped(|ui| {
            ui.label("Category:");
            for (category, name) in CATEGORIES {
                ui.radio_value(&mut app.form.category, category, name);
            }
        });
        ui.horizontal_wrapped(|ui| {
            ui.label("Urgency:");
            for (priority, name) in URGENCIES {
                ui.radio_value(&mut app.form.priority, priority, name);
            }
        });
        if app.screenshots_allowed() {
            self.screenshot(ui);
        }
        let app = &mut self.app;
        let in_flight = *app.sending() == Sending::InFlight;
        let button =
            Button::new(RichText::new("Get help").heading()).min_size([140.0, 36.0].into());
        if ui.add_enabled(!in_flight, button).clicked() {
            app.submit();
        }
        if let Some(notice) = app.notice() {
            ui.colored_label(ui.visuals().error_fg_color, notice);
        }
        if let Some(message) = app.sending().message() {
            let failed = matches!(app.sending(), Sending::Failed(_));
            let text = RichText::new(message).strong();
            if failed {
                ui.colored_label(ui.visuals().error_fg_color, text);
            } else {
                ui.label(text);
            }
        }
    }

    fn screenshot(&mut self, ui: &mut egui::Ui) {
        match self.app.shot() {
            Some(shot) => {
                let stale = self
                    .texture
                    .as_ref()
                    .is_none_or(|(g, _)| *g != shot.generation);
                if stale {
                    let size = [
                        shot.thumbnail.width() as usize,
                        shot.thumbnail.height() as usize,
                    ];
                    let image =
                        egui::ColorImage::from_rgba_unmultiplied(size, shot.thumbnail.as_raw());
                    let handle = ui.ctx().load_texture(
                        "screenshot-thumbnail",
                        image,
                        TextureOptions::LINEAR,
                    );
                    self.texture = Some((shot.generation, handle));
                }
                if let Some((_, texture)) = &self.texture {
                    ui.add(
                        egui::Image::from_texture(texture)
                            .alt_text("Screenshot that would be attached"),
                    );
                }
            }
            None => {
                self.texture = None;
                let why = self.app.shot_error().unwrap_or("not taken yet");
                ui.label(format!("No screenshot: {why}"));
            }
        }
        ui.checkbox(
            &mut self.app.form.attach_screenshot,
            "Attach this screenshot",
        );
    }
}

fn connection_line(ui: &mut egui::Ui, connection: &Connection) {
    match connection {
        Connection::Connecting => {
            ui.label("Connecting to the Triage agent…");
        }
        Connection::Ready(session) => {
            ui.label(format!(
                "Asking for help as {} on {}",
                session.user, session.hostname
            ));
        }
        Connection::Offline(why) => {
            ui.colored_label(ui.visuals().error_fg_color, why);
        }
    }
}

fn consent_prompt(ui: &mut egui::Ui, app: &mut HelpApp) {
    let Some((ask, seconds_left)) = app.consent_prompt() else {
        return;
    };
    let question = match ask.ticket {
        Some(ticket) => format!(
            "Technician {} asks to see your screen for ticket {}",
            ask.technician,
            ticket.short()
        ),
        None => format!("Technician {} asks to see your screen", ask.technician),
    };
    let countdown = format!("No answer in {seconds_left} s means Deny.");
    let mut answer = None;
    egui::Frame::group(ui.style())
        .stroke(egui::Stroke::new(2.0, Color32::from_rgb(230, 160, 0)))
        .show(ui, |ui| {
            ui.label(RichText::new(question).strong());
            ui.label(countdown);
            ui.horizontal(|ui| {
                if ui.button("Allow").clicked() {
                    answer = Some(true);
                }
                if ui.button("Deny").clicked() {
                    answer = Some(false);
                }
            });
        });
    if let Some(allow) = answer {
        app.answer_consent(allow);
    }
}

fn my_tickets(ui: &mut egui::Ui, app: &mut HelpApp) {
    ui.horizontal(|ui| {
        ui.heading("My tickets");
        let busy = app.tickets().in_flight;
        if ui.add_enabled(!busy, Button::new("Refresh")).clicked() {
            app.refresh_tickets();
        }
    });
    let tickets = app.tickets();
    if let Some(why) = &tickets.error {
        ui.colored_label(
            ui.visuals().error_fg_color,
            format!("Could not load your tickets: {why}"),
        );
    }
    match &tickets.list {
        None if matches!(app.connection(), Connection::Offline(_)) => {
            ui.label("Shown once the Triage agent can be reached.");
        }
        None => {
            ui.label("Loading…");
        }
        Some(list) if list.is_empty() => {
            ui.label("You have no tickets.");
        }
        Some(list) => {
            for ticket in list {
                ticket_row(ui, ticket);
            }
        }
    }
}

fn ticket_row(ui: &mut egui::Ui, ticket: &EmployeeTicket) {
    ui.group(|ui| {
        ui.set_width(ui.available_width());
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new(status_text(ticket.status)).strong());
            ui.label(&ticket.title);
        });
        match &ticket.latest_reply {
            Some(reply) => {
                ui.add(Label::new(reply_text(&reply.author, &reply.text)).wrap());
            }
            None => {
                ui.weak("No reply yet");
            }
        }
    });
}

/// A status as the employee reads it.
pub fn status_text(status: Status) -> &'static str {
    match status {
        Status::Open => "Open",
        Status::InProgress => "In progress",
        Status::Waiting => "Waiting",
        Status::Resolved => "Resolved",
        Status::Closed => "Closed",
    }
}

/// "author: text", cut to [`REPLY_SHOWN_CHARS`].
pub fn reply_text(author: &str, text: &str) -> String {
    let mut shown: String = text.chars().take(REPLY_SHOWN_CHARS).collect();
    if shown.len() < text.len() {
        shown.push('…');
    }
    format!("{author}: {shown}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_reply_is_cut_at_a_character_boundary() {
        let long = "é".repeat(REPLY_SHOWN_CHARS + 5);
        let shown = reply_text("bob", &long);
        assert_eq!(shown.chars().count(), "bob: ".len() + REPLY_SHOWN_CHARS + 1);
        assert!(shown.ends_with("é…"));
        assert_eq!(reply_text("bob", "ok"), "bob: ok");
    }
}
