//! Checking and tidying text from outside: free-text fields and names are
//! checked at the edge, text shown on a terminal is cleaned, and text cut
//! to a byte limit is cut on a character boundary. A leaf module: it
//! imports nothing from the rest of the crate.

use crate::limits::MAX_NAME_LEN;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct InvalidInput {
    pub field: &'static str,
    pub problem: String,
}

impl InvalidInput {
    pub fn new(field: &'static str, problem: impl Into<String>) -> Self {
        InvalidInput {
            field,
            problem: problem.into(),
        }
    }
}

/// What is wrong with a piece of free text, for callers that word the
/// refusal themselves (the "Get help" window speaks to an employee).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextProblem {
    Empty,
    TooLong { len: usize, max: usize },
    ControlCharacters,
}

/// The first problem [`check_text`] would refuse `text` for, if any.
pub fn text_problem(text: &str, max: usize, allow_empty: bool) -> Option<TextProblem> {
    if !allow_empty && text.trim().is_empty() {
        return Some(TextProblem::Empty);
    }
    if text.len() > max {
        return Some(TextProblem::TooLong {
            len: text.len(),
            max,
        });
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Some(TextProblem::ControlCharacters);
    }
    None
}

/// Checks a free-text field: bounded length, no control characters other
/// than newlines and tabs (which keeps terminals and logs safe to print).
pub fn check_text(
    field: &'static str,
    text: &str,
    max: usize,
    allow_empty: bool,
) -> Result<(), InvalidInput> {
    match text_problem(text, max, allow_empty) {
        None => Ok(()),
        Some(TextProblem::Empty) => Err(InvalidInput::new(field, "must not be empty")),
        Some(TextProblem::TooLong { len, max }) => Err(InvalidInput::new(
            field,
            format!("is {len} bytes; the limit is {max}"),
        )),
        Some(TextProblem::ControlCharacters) => {
            Err(InvalidInput::new(field, "contains control characters"))
        }
    }
}

/// Checks a short name (technician, requester, hostname): letters, digits and `.-_@`.
pub fn check_name(field: &'static str, name: &str) -> Result<(), InvalidInput> {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(InvalidInput::new(
            field,
            format!("must be 1 to {MAX_NAME_LEN} bytes"),
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c))
    {
        return Err(InvalidInput::new(
            field,
            format!("`{name}` may only hold letters, digits and . _ - @"),
        ));
    }
    Ok(())
}

/// Replaces every control character (newlines too) with `?`, so text from
/// the network cannot drive the terminal it is printed on.
pub fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// The longest start of `text` that is at most `max` bytes and does not
/// split a character.
pub fn shortened(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Cuts `text` to at most `max` bytes without splitting a character;
/// true when something was cut off.
pub fn truncate_at_char_boundary(text: &mut String, max: usize) -> bool {
    let keep = shortened(text, max).len();
    let cut = keep < text.len();
    text.truncate(keep);
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortening_never_splits_a_character() {
        // "é" is two bytes, "€" three, "🦀" four.
        let text = "aé€🦀";
        let cuts: Vec<&str> = (0..=text.len() + 1)
            .map(|max| shortened(text, max))
            .collect();
        assert_eq!(
            cuts,
            [
                "",
                "a",
                "a",
                "aé",
                "aé",
                "aé",
                "aé€",
                "aé€",
                "aé€",
                "aé€",
                "aé€🦀",
                "aé€🦀"
            ]
        );
        assert_eq!(shortened("", 0), "");
        assert_eq!(shortened("", 5), "");
        assert_eq!(shortened("exact", 5), "exact");
    }

    #[test]
    fn truncation_says_whether_it_cut() {
        let mut s = String::from("exact");
        assert!(!truncate_at_char_boundary(&mut s, 5));
        assert_eq!(s, "exact");
        assert!(truncate_at_char_boundary(&mut s, 4));
        assert_eq!(s, "exac");
        let mut s = "éé".to_string();
        assert!(truncate_at_char_boundary(&mut s, 3));
        assert_eq!(s, "é");
        assert!(truncate_at_char_boundary(&mut s, 1));
        assert_eq!(s, "");
        assert!(!truncate_at_char_boundary(&mut s, 0));
    }

    #[test]
    fn text_is_bounded_at_exactly_its_limit_in_bytes() {
        assert!(check_text("f", &"x".repeat(10), 10, false).is_ok());
        let err = check_text("f", &"x".repeat(11), 10, false).unwrap_err();
        assert_eq!(err.to_string(), "f: is 11 bytes; the limit is 10");
        // Five two-byte characters are ten bytes, six are twelve.
        assert!(check_text("f", &"é".repeat(5), 10, false).is_ok());
        assert_eq!(
            text_problem(&"é".repeat(6), 10, false),
            Some(TextProblem::TooLong { len: 12, max: 10 })
        );
    }

    #[test]
    fn empty_text_is_refused_unless_allowed() {
        let err = check_text("title", " \n\t", 10, false).unwrap_err();
        assert_eq!(err.to_string(), "title: must not be empty");
        assert!(check_text("title", "", 10, false).is_err());
        assert!(check_text("description", "", 10, true).is_ok());
        assert_eq!(text_problem("  ", 10, true), None);
    }

    #[test]
    fn control_characters_are_refused_but_newlines_and_tabs_pass() {
        assert!(check_text("f", "two\nlines\tok", 100, false).is_ok());
        for bad in ["bell\u{7}", "esc\u{1b}[2J", "cr\r", "nul\0", "csi\u{9b}31m"] {
            let err = check_text("f", bad, 100, false).unwrap_err();
            assert_eq!(err.to_string(), "f: contains control characters", "{bad:?}");
        }
    }

    #[test]
    fn names_are_restricted_and_bounded() {
        assert!(check_name("name", "alice.smith@corp").is_ok());
        assert!(check_name("name", &"a".repeat(MAX_NAME_LEN)).is_ok());
        assert_eq!(
            check_name("name", &"a".repeat(MAX_NAME_LEN + 1))
                .unwrap_err()
                .to_string(),
            format!("name: must be 1 to {MAX_NAME_LEN} bytes")
        );
        assert!(check_name("name", "").is_err());
        assert!(check_name("name", "bob; rm -rf").is_err());
        assert!(check_name("name", "é").is_err());
    }

    #[test]
    fn cleaning_replaces_every_control_character() {
        assert_eq!(clean("evil\u{1b}[2J"), "evil?[2J");
        assert_eq!(clean("a\nb\tc\r\u{9b}"), "a?b?c??");
        assert_eq!(clean("héllo €"), "héllo €");
        assert_eq!(clean(""), "");
    }
}
