//! Small text tools for terminal output: aligned tables, truncation, ages.
//! Everything here is pure; every cell is passed through
//! [`text::clean`](triage_shared::text::clean) because most of
//! what a table shows came from the network.

use comfy_table::{presets, Table};
use std::fmt::Write as _;
use triage_shared::text::clean;
use triage_shared::time::Timestamp;

/// Spaces between table columns.
const GAP: usize = 2;
/// The last (flexible) column keeps at least this many characters, even if
/// the line then overflows a very narrow terminal.
pub const MIN_FLEX_WIDTH: usize = 12;

/// Shortens `s` to at most `max` characters, marking the cut with `…`.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// An aligned table, laid out by comfy-table. Every column but the last is
/// padded to its widest cell; the last is truncated so each line fits in
/// `width` characters. Cells are cleaned before comfy-table sees them.
pub fn table(headers: &[&str], rows: &[Vec<String>], width: usize) -> String {
    let columns = headers.len();
    let mut cleaned: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().take(columns).map(|c| clean(c)).collect())
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &cleaned {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let fixed: usize = widths
        .iter()
        .take(columns.saturating_sub(1))
        .map(|w| w + GAP)
        .sum();
    let flex = width.saturating_sub(fixed).max(MIN_FLEX_WIDTH);
    let mut header_row: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&mut header_row).chain(&mut cleaned) {
        if row.len() == columns {
            if let Some(last) = row.last_mut() {
                *last = truncate(last, flex);
            }
        }
    }
    let mut t = Table::new();
    t.load_preset(presets::NOTHING)
        .set_header(header_row)
        .add_rows(cleaned);
    for (i, column) in t.column_iter_mut().enumerate() {
        let right = if i + 1 < columns { GAP as u16 } else { 0 };
        column.set_padding((0, right));
    }
    let mut out = String::new();
    for line in t.lines() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A duration in its largest whole unit: `45s`, `12m`, `3h`, `5d`.
pub fn compact_duration(d: std::time::Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86_399 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// How long ago `then` was, as of `now`.
pub fn age(then: Timestamp, now: Timestamp) -> String {
    compact_duration(now.since(then))
}

/// `then` relative to `now`: `3h ago` or `in 3h`.
pub fn relative(then: Timestamp, now: Timestamp) -> String {
    if then <= now {
        format!("{} ago", compact_duration(now.since(then)))
    } else {
        format!("in {}", compact_duration(then.since(now)))
    }
}

/// Multi-line text from the network, each line cleaned and indented.
pub fn indented_block(text: &str, indent: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let _ = writeln!(out, "{indent}{}", clean(&line.replace('\t', "    ")));
    }
    out
}

/// Turns bytes from the network (script output, script content) into text a
/// terminal can show safely: invalid UTF-8 becomes `�`, carriage returns are
/// dropped, and every other control character but newline and tab becomes
/// `?`. Output arrives in chunks that may split a UTF-8 sequence, so an
/// incomplete sequence at the end of a chunk waits for the next one.
#[derive(Debug, Default)]
pub struct TextCleaner {
    /// At most 3 bytes: the start of a sequence the next chunk completes.
    pending: Vec<u8>,
}

impl TextCleaner {
    pub fn push(&mut self, bytes: &[u8]) -> String {
        let mut buf = std::mem::take(&mut self.pending);
        buf.extend_from_slice(bytes);
        let mut out = String::new();
        let mut rest = buf.as_slice();
        loop {
            match std::str::from_utf8(rest) {
                Ok(text) => {
                    push_safe(&mut out, text);
                    break;
                }
                Err(e) => {
                    let (good, bad) = rest.split_at(e.valid_up_to());
                    push_safe(&mut out, &String::from_utf8_lossy(good));
                    match e.error_len() {
                        Some(n) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            rest = &bad[n..];
                        }
                        None => {
                            self.pending = bad.to_vec();
                            break;
                        }
                    }
                }
            }
        }
        out
    }

    /// What is left when the stream ends: a cut-off sequence shows as `�`.
    pub fn finish(&mut self) -> String {
        if std::mem::take(&mut self.pending).is_empty() {
            String::new()
        } else {
            char::REPLACEMENT_CHARACTER.to_string()
        }
    }
}

/// [`TextCleaner`] over a whole body at once.
pub fn safe_text(bytes: &[u8]) -> String {
    let mut cleaner = TextCleaner::default();
    let mut out = cleaner.push(bytes);
    out.push_str(&cleaner.finish());
    out
}

fn push_safe(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\n' | '\t' => out.push(c),
            '\r' => {}
            c if c.is_control() => out.push('?'),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn truncate_marks_the_cut_and_counts_characters() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("exactly10!", 10), "exactly10!");
        assert_eq!(truncate("eleven char", 10), "eleven ch…");
        assert_eq!(truncate("ééééé", 3), "éé…");
        assert_eq!(truncate("abc", 0), "");
    }

    #[test]
    fn table_aligns_columns_to_the_widest_cell() {
        let rows = vec![
            vec!["a".into(), "wide cell".into(), "x".into()],
            vec!["bbb".into(), "c".into(), "y".into()],
        ];
        let out = table(&["H1", "H2", "LAST"], &rows, 80);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "H1   H2         LAST");
        assert_eq!(lines[1], "a    wide cell  x");
        assert_eq!(lines[2], "bbb  c          y");
    }

    #[test]
    fn last_column_is_truncated_to_fit_the_width() {
        let rows = vec![vec![
            "id".into(),
            "a very long title that does not fit".into(),
        ]];
        let out = table(&["ID", "TITLE"], &rows, 20);
        for line in out.lines() {
            assert!(line.chars().count() <= 20, "{line:?}");
        }
        assert!(out.contains("id  a very long tit…\n"), "{out}");
    }

    #[test]
    fn flexible_column_keeps_a_minimum_on_narrow_terminals() {
        let rows = vec![vec!["x".repeat(30), "0123456789abcdefghij".into()]];
        let out = table(&["A", "B"], &rows, 10);
        assert!(
            out.contains(&truncate("0123456789abcdefghij", MIN_FLEX_WIDTH)),
            "{out}"
        );
    }

    #[test]
    fn table_strips_control_characters() {
        let rows = vec![vec!["evil\u{1b}[2J".into(), "bell\u{7}".into()]];
        let out = table(&["A", "B"], &rows, 80);
        assert!(!out.chars().any(|c| c.is_control() && c != '\n'), "{out:?}");
        assert!(out.contains("evil?[2J"));
    }

    #[test]
    fn durations_use_their_largest_unit() {
        assert_eq!(compact_duration(Duration::from_secs(45)), "45s");
        assert_eq!(compact_duration(Duration::from_secs(60)), "1m");
        assert_eq!(compact_duration(Duration::from_secs(3599)), "59m");
        assert_eq!(compact_duration(Duration::from_secs(7200)), "2h");
        assert_eq!(compact_duration(Duration::from_secs(3 * 86_400 + 5)), "3d");
    }

    #[test]
    fn relative_times_read_both_ways() {
        let now = Timestamp(10_000_000);
        assert_eq!(relative(Timestamp(10_000_000 - 3_600_000), now), "1h ago");
        assert_eq!(relative(Timestamp(10_000_000 + 120_000), now), "in 2m");
        assert_eq!(
            age(Timestamp(10_000_000 + 5), now),
            "0s",
            "a clock skew is not a negative age"
        );
    }

    #[test]
    fn blocks_keep_lines_but_lose_escapes() {
        let out = indented_block("one\n\ttwo\u{1b}[31m", "  ");
        assert_eq!(out, "  one\n      two?[31m\n");
    }

    #[test]
    fn cleaner_keeps_lines_and_tabs_and_neutralises_escapes() {
        assert_eq!(
            safe_text(b"ok\tdone\r\n\x1b[2Jx\x07\n"),
            "ok\tdone\n?[2Jx?\n"
        );
        // C1 controls (U+009B is a one-character CSI) are caught too.
        assert_eq!(safe_text("a\u{9b}31m".as_bytes()), "a?31m");
    }

    #[test]
    fn cleaner_joins_a_utf8_sequence_split_across_chunks() {
        let bytes = "héllo €".as_bytes();
        for cut in 0..=bytes.len() {
            let mut c = TextCleaner::default();
            let mut out = c.push(&bytes[..cut]);
            out.push_str(&c.push(&bytes[cut..]));
            out.push_str(&c.finish());
            assert_eq!(out, "héllo €", "cut at {cut}");
        }
    }

    #[test]
    fn cleaner_marks_invalid_and_cut_off_bytes() {
        assert_eq!(safe_text(b"a\xffb"), "a\u{fffd}b");
        let mut c = TextCleaner::default();
        assert_eq!(c.push(b"x\xe2\x82"), "x");
        assert_eq!(c.finish(), "\u{fffd}");
        assert_eq!(c.finish(), "", "finish empties the cleaner");
    }
}
