//! Drawing the employee's updates: toasts (when there is no notification
//! service), and each ticket the daemon knows with its latest replies, a
//! reply box, and "Did this fix it?" with a 1–5 score once it is resolved.

use super::app::HelpApp;
use super::updates::Action;
use super::view::{reply_text, status_text};
use crate::inbox::{FixAnswer, FixQuestion, InboxTicket};
use egui::{Button, RichText, TextEdit};
use triage_shared::limits::MAX_TEXT_LEN;
use triage_shared::news::{MAX_SCORE, MIN_SCORE};

/// The window's own notices, at the top, while they last.
pub(super) fn toasts(ui: &mut egui::Ui, app: &HelpApp) {
    for toast in app.updates().toasts() {
        egui::Frame::group(ui.style())
            .fill(ui.visuals().extreme_bg_color)
            .show(ui, |ui| {
                ui.set_width(ui.available_width());
                ui.label(RichText::new(&toast.summary).strong());
                ui.label(&toast.body);
            });
    }
}

/// "Your tickets": what the help desk said, and what to answer.
pub(super) fn updates(ui: &mut egui::Ui, app: &mut HelpApp) {
    ui.heading("Updates from the help desk");
    match app.updates().action() {
        Action::Idle => {}
        Action::InFlight(_) => {
            ui.label("Sending…");
        }
        Action::Done(text) => {
            ui.label(text);
        }
        Action::Failed(why) => {
            ui.colored_label(ui.visuals().error_fg_color, why);
        }
    }
    let tickets: Vec<InboxTicket> = match app.updates().view() {
        None => {
            ui.label("The help desk's replies show here once the Triage agent answers.");
            return;
        }
        Some(view) if view.tickets.is_empty() => {
            ui.label("Nothing yet: the help desk's replies show here.");
            return;
        }
        Some(view) => view.tickets.clone(),
    };
    for ticket in &tickets {
        ticket_card(ui, app, ticket);
    }
}

fn ticket_card(ui: &mut egui::Ui, app: &mut HelpApp, ticket: &InboxTicket) {
    let id = ticket.id;
    ui.group(|ui| {
        ui.set_width(ui.available_width());
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new(status_text(ticket.status)).strong());
            ui.label(&ticket.title);
            ui.weak(id.short());
        });
        for reply in &ticket.replies {
            ui.add(egui::Label::new(reply_text(&reply.author, &reply.text)).wrap());
        }
        match ticket.question {
            FixQuestion::Pending => fix_question(ui, app, ticket),
            FixQuestion::Answered(FixAnswer::Yes { .. }) => {
                ui.label("You said this fixed it. Thank you!");
            }
            FixQuestion::Answered(FixAnswer::No { .. }) => {
                ui.label("You said this did not fix it; the help desk will look again.");
            }
            FixQuestion::NotAsked => {}
        }
        let draft = app.draft(id);
        ui.add(
            TextEdit::multiline(&mut draft.reply)
                .hint_text("Reply to the help desk")
                .desired_rows(2)
                .char_limit(MAX_TEXT_LEN)
                .desired_width(f32::INFINITY),
        );
        if ui.button("Send reply").clicked() {
            app.send_reply(id);
        }
    });
}

fn fix_question(ui: &mut egui::Ui, app: &mut HelpApp, ticket: &InboxTicket) {
    let id = ticket.id;
    ui.label(RichText::new("Did this fix it?").strong());
    let draft = app.draft(id);
    ui.horizontal(|ui| {
        ui.label("How happy are you with the help?");
        for score in MIN_SCORE..=MAX_SCORE {
            let chosen = draft.score == Some(score);
            if ui.selectable_label(chosen, score.to_string()).clicked() {
                draft.score = (!chosen).then_some(score);
            }
        }
    });
    ui.add(
        TextEdit::singleline(&mut draft.words)
            .hint_text("If not: what is still wrong?")
            .desired_width(f32::INFINITY),
    );
    let has_words = !draft.words.trim().is_empty();
    ui.horizontal(|ui| {
        if ui.button("Yes, it's fixed").clicked() {
            app.answer_fixed(id, true);
        }
        if ui
            .add_enabled(has_words, Button::new("No, still broken"))
            .clicked()
        {
            app.answer_fixed(id, false);
        }
    });
}
