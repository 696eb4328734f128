//! Drawing self-service: the articles under "What's wrong?", and the one
//! opened, with "This solved it" and "I still need help". The markdown
//! body is drawn as plain blocks (headings, bullets, code); links are shown
//! as text, never followed, and nothing is fetched.

use super::app::HelpApp;
use super::articles::{hint, Reading};
use egui::{Label, RichText};

/// One block of an article's markdown, as the window draws it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    Heading(String),
    Bullet(String),
    Code(String),
    Text(String),
}

/// **Pure**: `body` as blocks: `#` lines are headings, `-`/`*` lines
/// bullets, fenced lines code; everything else text, a line each.
pub fn blocks(body: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut code: Option<String> = None;
    for line in body.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") {
            match code.take() {
                Some(text) => out.push(Block::Code(text)),
                None => code = Some(String::new()),
            }
            continue;
        }
        if let Some(text) = code.as_mut() {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(line);
            continue;
        }
        if trimmed.is_empty() {
            continue;
        }
        let block = if let Some(h) = trimmed.strip_prefix('#') {
            Block::Heading(h.trim_start_matches('#').trim().to_string())
        } else if let Some(b) = trimmed
            .strip_prefix("- ")
            .or_else(|| trimmed.strip_prefix("* "))
        {
            Block::Bullet(b.trim().to_string())
        } else {
            Block::Text(trimmed.to_string())
        };
        out.push(block);
    }
    if let Some(text) = code {
        out.push(Block::Code(text));
    }
    out
}

/// Under the text box: the open article, or the suggestions.
pub fn self_service(ui: &mut egui::Ui, app: &mut HelpApp) {
    if app.articles().thanked() {
        ui.label(RichText::new("Glad that helped. No ticket was filed.").strong());
    }
    match app.articles().reading().clone() {
        Reading::Open(article) => {
            let mut action = None;
            egui::Frame::group(ui.style()).show(ui, |ui| {
                ui.set_width(ui.available_width());
                ui.label(RichText::new(&article.title).heading());
                for block in blocks(&article.body) {
                    match block {
                        Block::Heading(text) => {
                            ui.label(RichText::new(text).strong());
                        }
                        Block::Bullet(text) => {
                            ui.add(Label::new(format!("• {text}")).wrap());
                        }
                        Block::Code(text) => {
                            ui.add(Label::new(RichText::new(text).monospace()).wrap());
                        }
                        Block::Text(text) => {
                            ui.add(Label::new(text).wrap());
                        }
                    }
                }
                ui.horizontal(|ui| {
                    if ui.button("This solved it").clicked() {
                        action = Some(0);
                    }
                    if ui.button("I still need help").clicked() {
                        action = Some(1);
                    }
                    if ui.button("Back").clicked() {
                        action = Some(2);
                    }
                });
            });
            match action {
                Some(0) => app.article_solved(),
                Some(1) => app.still_need_help(),
                Some(2) => app.close_article(),
                _ => {}
            }
            return;
        }
        Reading::Opening(_) => {
            ui.label("Opening the article…");
        }
        Reading::None => {}
    }
    if let Some(why) = app.articles().error() {
        ui.colored_label(ui.visuals().error_fg_color, why);
    }
    let suggestions = app.articles().suggestions().to_vec();
    if suggestions.is_empty() {
        if let Some(hint) = hint(&app.form.text) {
            ui.weak(hint);
        }
        return;
    }
    ui.label(RichText::new("These articles may help:").strong());
    let mut opened = None;
    for s in &suggestions {
        ui.group(|ui| {
            ui.set_width(ui.available_width());
            ui.horizontal_wrapped(|ui| {
                ui.label(RichText::new(&s.title).strong());
                if ui.button(format!("Read: {}", s.title)).clicked() {
                    opened = Some(s.id);
                }
            });
            if !s.excerpt.is_empty() {
                ui.add(Label::new(&s.excerpt).wrap());
            }
        });
    }
    if let Some(id) = opened {
        app.open_article(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_becomes_headings_bullets_code_and_text() {
        let body = "# Reconnect\n\nOpen the app.\n- Sign out\n* Sign in\n```\nvpn --reset\nvpn up\n```\n## Still broken?";
        assert_eq!(
            blocks(body),
            [
                Block::Heading("Reconnect".into()),
                Block::Text("Open the app.".into()),
                Block::Bullet("Sign out".into()),
                Block::Bullet("Sign in".into()),
                Block::Code("vpn --reset\nvpn up".into()),
                Block::Heading("Still broken?".into()),
            ]
        );
        assert_eq!(blocks("```\nunclosed"), [Block::Code("unclosed".into())]);
    }
}
