//! What the employee typed in the window becomes a [`HelpRequest`]: the
//! first line the title, the whole text the description, the peer's
//! account the requester.

use super::protocol::HelpForm;
use crate::help::HelpRequest;
use triage_shared::limits::MAX_TITLE_LEN;
use triage_shared::text::shortened;

/// The title for `text`: its first line with something on it, trimmed and
/// cut to [`MAX_TITLE_LEN`] bytes at a character boundary. `None` when the
/// text is blank.
pub fn title_from_text(text: &str) -> Option<String> {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    Some(shortened(line, MAX_TITLE_LEN).trim_end().to_string())
}

/// The request the daemon files for `form`, sent by `requester` (the
/// account name resolved from the peer's uid). Windows line endings are
/// made plain newlines, as ticket text allows no carriage returns.
pub fn help_request(form: HelpForm, requester: &str) -> Result<HelpRequest, String> {
    let title = title_from_text(&form.text)
        .ok_or("the request is empty; describe what is wrong in a few words")?;
    Ok(HelpRequest {
        title,
        description: form.text.trim().replace("\r\n", "\n"),
        category: form.category,
        priority: form.priority,
        requester: requester.to_string(),
        screenshot: form.screenshot,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_shared::ticket::{Category, Priority};

    #[test]
    fn the_first_non_empty_line_is_the_title() {
        assert_eq!(
            title_from_text("\n   \n  Printer jammed  \nsince Monday").as_deref(),
            Some("Printer jammed")
        );
        assert_eq!(title_from_text("one line").as_deref(), Some("one line"));
        assert_eq!(title_from_text(" \n\t\n"), None);
        assert_eq!(title_from_text(""), None);
    }

    #[test]
    fn a_long_first_line_is_cut_at_a_character_boundary() {
        let ascii = "a".repeat(MAX_TITLE_LEN + 50);
        assert_eq!(title_from_text(&ascii).unwrap().len(), MAX_TITLE_LEN);
        // "é" is two bytes: 199 of them + one more would split a character.
        let accented = "é".repeat(MAX_TITLE_LEN);
        let title = title_from_text(&accented).unwrap();
        assert_eq!(title.len(), MAX_TITLE_LEN);
        assert!(title.chars().all(|c| c == 'é'));
        let offset = format!("x{}", "é".repeat(MAX_TITLE_LEN));
        let title = title_from_text(&offset).unwrap();
        assert_eq!(title.len(), MAX_TITLE_LEN - 1);
        let exact = "b".repeat(MAX_TITLE_LEN);
        assert_eq!(title_from_text(&exact).unwrap(), exact);
    }

    #[test]
    fn a_form_becomes_a_request_from_the_peer_account() {
        let form = HelpForm {
            text: "Outlook crashes\r\nwhen I open the calendar\r\n".into(),
            category: Category::Software,
            priority: Priority::High,
            screenshot: Some(vec![1]),
            viewed_articles: Vec::new(),
        };
        let request = help_request(form, "alice").unwrap();
        assert_eq!(request.title, "Outlook crashes");
        assert_eq!(
            request.description,
            "Outlook crashes\nwhen I open the calendar"
        );
        assert_eq!(request.requester, "alice");
        assert_eq!(request.category, Category::Software);
        assert_eq!(request.priority, Priority::High);
        assert_eq!(request.screenshot, Some(vec![1]));
        let blank = HelpForm {
            text: "  \n".into(),
            category: Category::Other,
            priority: Priority::Normal,
            screenshot: None,
            viewed_articles: Vec::new(),
        };
        assert!(help_request(blank, "alice").unwrap_err().contains("empty"));
    }
}
