//! Bytes from an endpoint made safe to show on a terminal, chunk by chunk.
//!
//! A log line is whatever the endpoint (or anyone who can write to that
//! log) put there, including escape sequences that move the cursor, rewrite
//! what is on screen, set the window title or worse. When `triage logs`
//! prints to a terminal, every control character except `\n` and `\t` is
//! shown as a visible escape instead of being sent to the terminal:
//!
//! | what | shown as |
//! |---|---|
//! | C0 controls (U+0000–U+001F: ESC, CR, BEL, backspace, …) and DEL | `\x1b`, `\x0d`, `\x07`, `\x7f` (two lowercase hex digits) |
//! | C1 controls (U+0080–U+009F, e.g. CSI U+009B) | `\u{9b}` |
//! | bytes that are not UTF-8 | U+FFFD `�`, one per invalid sequence (as `String::from_utf8_lossy`) |
//!
//! Everything else, `\n` and `\t` included, passes unchanged. A literal
//! backslash in the log is not escaped, so `\x1b` on screen may also be
//! those four characters. To a file or a pipe the bytes stay raw (that is
//! decided by the caller; the SHA-256 check always covers the raw bytes).
//!
//! [`TerminalText`] is streaming: a multibyte character (a C1 control
//! among them) split across two chunks is held back until the next one
//! completes it. An escape sequence needs no state: its ESC byte alone is
//! neutralised, and what follows it is printable text.

use std::fmt::Write as _;

/// The cleaner's state between chunks: the start of a UTF-8 character
/// that the next chunk may finish (at most three bytes).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TerminalText {
    held: Vec<u8>,
}

impl TerminalText {
    pub fn new() -> TerminalText {
        TerminalText::default()
    }

    /// Cleans the next `chunk` of the body onto `out`.
    pub fn push(&mut self, chunk: &[u8], out: &mut String) {
        let joined;
        let mut rest: &[u8] = if self.held.is_empty() {
            chunk
        } else {
            let mut bytes = std::mem::take(&mut self.held);
            bytes.extend_from_slice(chunk);
            joined = bytes;
            &joined
        };
        loop {
            match std::str::from_utf8(rest) {
                Ok(text) => {
                    escape_controls(text, out);
                    return;
                }
                Err(e) => {
                    let (valid, after) = rest.split_at(e.valid_up_to());
                    if let Ok(text) = std::str::from_utf8(valid) {
                        escape_controls(text, out);
                    }
                    match e.error_len() {
                        Some(bad) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            rest = &after[bad..];
                        }
                        None => {
                            // A character cut by the end of this chunk.
                            self.held = after.to_vec();
                            return;
                        }
                    }
                }
            }
        }
    }

    /// The body ended: a character still unfinished is shown as U+FFFD.
    pub fn finish(&mut self, out: &mut String) {
        if !std::mem::take(&mut self.held).is_empty() {
            out.push(char::REPLACEMENT_CHARACTER);
        }
    }
}

/// Appends `text` to `out` with its control characters made visible.
pub fn escape_controls(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '\n' | '\t' => out.push(c),
            c if c.is_control() && u32::from(c) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The body fed in the given pieces, then ended.
    fn cleaned(pieces: &[&[u8]]) -> String {
        let mut text = TerminalText::new();
        let mut out = String::new();
        for piece in pieces {
            text.push(piece, &mut out);
        }
        text.finish(&mut out);
        out
    }

    #[test]
    fn plain_text_newlines_and_tabs_pass_unchanged() {
        let log = "Dec  2 kernel:\tüber 10 °C ✓\nnext line\n";
        assert_eq!(cleaned(&[log.as_bytes()]), log);
    }

    #[test]
    fn escape_sequences_and_other_c0_controls_are_shown_not_sent() {
        assert_eq!(
            cleaned(&[b"\x1b]0;pwned\x07ok\x1b[2J\r\x08\x00\x7f\n"]),
            "\\x1b]0;pwned\\x07ok\\x1b[2J\\x0d\\x08\\x00\\x7f\n"
        );
    }

    #[test]
    fn c1_controls_are_shown_as_code_points() {
        // U+009B is a one-character CSI on terminals that honour C1.
        assert_eq!(
            cleaned(&["a\u{9b}31mb\u{85}".as_bytes()]),
            "a\\u{9b}31mb\\u{85}"
        );
        assert_eq!(
            cleaned(&["\u{80}\u{9f}\u{a0}".as_bytes()]),
            "\\u{80}\\u{9f}\u{a0}"
        );
    }

    #[test]
    fn invalid_utf8_is_shown_lossily() {
        assert_eq!(cleaned(&[b"a\xffb\xc3(c"]), "a\u{fffd}b\u{fffd}(c");
        assert_eq!(
            cleaned(&[b"a\xffb\xc3(c"]),
            String::from_utf8_lossy(b"a\xffb\xc3(c")
        );
    }

    #[test]
    fn a_character_split_across_chunks_is_put_back_together() {
        let euro = "€".as_bytes(); // three bytes
        assert_eq!(
            cleaned(&[b"x", &euro[..1], &euro[1..2], &euro[2..], b"y"]),
            "x€y"
        );
        // A C1 control split after its lead byte is still caught.
        let csi = "\u{9b}".as_bytes();
        assert_eq!(cleaned(&[&csi[..1], &csi[1..], b"31m"]), "\\u{9b}31m");
        // A four-byte character split after three.
        let crab = "🦀".as_bytes();
        assert_eq!(cleaned(&[&crab[..3], &crab[3..]]), "🦀");
    }

    #[test]
    fn an_escape_split_across_chunks_is_still_neutralised() {
        assert_eq!(cleaned(&[b"red:\x1b", b"[31mRED"]), "red:\\x1b[31mRED");
    }

    #[test]
    fn a_character_cut_off_at_the_end_of_the_body_is_shown_as_replacement() {
        let euro = "€".as_bytes();
        assert_eq!(cleaned(&[b"x", &euro[..2]]), "x\u{fffd}");
        // A held start that the next chunk shows to be invalid.
        assert_eq!(cleaned(&[&euro[..2], b"z"]), "\u{fffd}z");
    }

    #[test]
    fn splitting_anywhere_gives_the_same_text_as_one_chunk() {
        let body = "ok \u{1b}[1m€\u{9b}🦀\n\t".as_bytes().to_vec();
        let mut with_junk = body.clone();
        with_junk.extend_from_slice(b"\xf0\x9f\xa6");
        with_junk.extend_from_slice(&body);
        let whole = cleaned(&[&with_junk]);
        for cut in 0..=with_junk.len() {
            let (a, b) = with_junk.split_at(cut);
            assert_eq!(cleaned(&[a, b]), whole, "cut at {cut}");
        }
        assert!(
            !whole.contains('\u{1b}') && !whole.contains('\u{9b}'),
            "{whole}"
        );
    }
}
