//! Line selection for `--since` and `--grep`, and cutting a byte stream
//! into lines without holding more than one line.
//!
//! `--since`: a line with a readable leading timestamp is kept when it is
//! at or after the cutoff; a line without one (a stack trace, a wrapped
//! message) follows the decision of the line before it. Lines before the
//! first timestamp are left out: their age is unknown.
//! `--grep`: a `regex` pattern (bytes, so logs need not be UTF-8) matched
//! anywhere in the line, the line ending excluded. Both must pass.

use super::timestamp::{leading_time, Clock};
use regex::bytes::{Regex, RegexBuilder};
use triage_shared::error::{ErrorKind, RemoteError};
use triage_shared::transfer::LogQuery;

/// Compiled size a `--grep` pattern may take (`RegexBuilder::size_limit`).
pub const GREP_SIZE_LIMIT: usize = 1024 * 1024;
/// Longest line kept whole: a longer run without a newline is passed on in
/// pieces of this size, each judged as a line.
pub const MAX_LINE_LEN: usize = 64 * 1024;

#[derive(Debug)]
pub struct LineFilter {
    cutoff: Option<i64>,
    clock: Clock,
    grep: Option<Regex>,
    /// The `--since` decision of the last line that had a timestamp.
    recent: bool,
}

impl LineFilter {
    /// Builds the filter for `query`; an invalid or too large pattern is an
    /// `InvalidInput` refusal that says so.
    pub fn new(query: &LogQuery, clock: Clock) -> Result<LineFilter, RemoteError> {
        let grep = match &query.grep {
            None => None,
            Some(pattern) => Some(
                RegexBuilder::new(pattern)
                    .size_limit(GREP_SIZE_LIMIT)
                    .dfa_size_limit(GREP_SIZE_LIMIT)
                    .build()
                    .map_err(|e| {
                        RemoteError::new(
                            ErrorKind::InvalidInput,
                            format!(
                                "--grep `{pattern}` is not a usable regular expression: {}",
                                one_line(&e)
                            ),
                        )
                    })?,
            ),
        };
        let cutoff = query
            .since_secs
            .map(|s| clock.now.timestamp().saturating_sub(s as i64));
        Ok(LineFilter {
            cutoff,
            clock,
            grep,
            recent: false,
        })
    }

    /// True when every line is kept (no `--since`, no `--grep`).
    pub fn keeps_everything(&self) -> bool {
        self.cutoff.is_none() && self.grep.is_none()
    }

    /// Whether to send `line` (which may end with its newline).
    pub fn keep(&mut self, line: &[u8]) -> bool {
        if let Some(cutoff) = self.cutoff {
            if let Some(t) = leading_time(line, &self.clock) {
                self.recent = t >= cutoff;
            }
            if !self.recent {
                return false;
            }
        }
        match &self.grep {
            None => true,
            Some(re) => re.is_match(strip_newline(line)),
        }
    }
}

/// A regex error on one line: a syntax error's last line says what is
/// wrong (the lines before it draw the pattern with a caret).
fn one_line(e: &regex::Error) -> String {
    let text = e.to_string();
    match e {
        regex::Error::Syntax(_) => text
            .lines()
            .last()
            .unwrap_or("")
            .trim()
            .trim_start_matches("error: ")
            .to_string(),
        _ => text.replace('\n', " "),
    }
}

fn strip_newline(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Cuts bytes into lines (each with its `\n`), keeping the unfinished last
/// line until more arrives. Holds at most [`MAX_LINE_LEN`] bytes.
#[derive(Debug, Default)]
pub struct LineSplitter {
    partial: Vec<u8>,
}

impl LineSplitter {
    /// Calls `line` for each line completed by `data`.
    pub fn push(&mut self, mut data: &[u8], mut line: impl FnMut(&[u8])) {
        while !data.is_empty() {
            let room = MAX_LINE_LEN - self.partial.len();
            let window = &data[..data.len().min(room)];
            match window.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    let (head, rest) = data.split_at(i + 1);
                    if self.partial.is_empty() {
                        line(head);
                    } else {
                        self.partial.extend_from_slice(head);
                        line(&self.partial);
                        self.partial.clear();
                    }
                    data = rest;
                }
                None if window.len() == room => {
                    // A line this long is judged piece by piece.
                    self.partial.extend_from_slice(window);
                    line(&self.partial);
                    self.partial.clear();
                    data = &data[room..];
                }
                None => {
                    self.partial.extend_from_slice(data);
                    data = &[];
                }
            }
        }
    }

    /// The unfinished last line, if any (at the end of a pull).
    pub fn finish(&mut self) -> Option<Vec<u8>> {
        (!self.partial.is_empty()).then(|| std::mem::take(&mut self.partial))
    }

    /// Forgets the unfinished line (the file was truncated or replaced).
    pub fn reset(&mut self) {
        self.partial.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{FixedOffset, TimeZone, Utc};

    fn clock() -> Clock {
        Clock {
            now: Utc.with_ymd_and_hms(2024, 3, 10, 12, 0, 0).unwrap(),
            zone: super::super::timestamp::Zone::Fixed(FixedOffset::east_opt(0).unwrap()),
        }
    }

    fn query(since_secs: Option<u64>, grep: Option<&str>) -> LogQuery {
        LogQuery {
            since_secs,
            grep: grep.map(str::to_string),
            ..LogQuery::whole("/var/log/x")
        }
    }

    fn kept(filter: &mut LineFilter, text: &str) -> String {
        let mut out = Vec::new();
        let mut split = LineSplitter::default();
        split.push(text.as_bytes(), |l| {
            if filter.keep(l) {
                out.extend_from_slice(l)
            }
        });
        if let Some(last) = split.finish() {
            if filter.keep(&last) {
                out.extend_from_slice(&last);
            }
        }
        String::from_utf8(out).unwrap()
    }

    const LOG: &str = "\
header without a time
2024-03-10T10:00:00Z old start
  old continuation
Mar 10 11:30:00 host new syslog line
  new continuation
2024-03-10T11:59:00Z error: disk full
2024-03-10T09:00:00Z out of order old line
  its continuation";

    #[test]
    fn since_keeps_recent_lines_and_their_continuations() {
        let mut f = LineFilter::new(&query(Some(3600), None), clock()).unwrap();
        assert_eq!(
            kept(&mut f, LOG),
            "Mar 10 11:30:00 host new syslog line\n  new continuation\n2024-03-10T11:59:00Z error: disk full\n"
        );
    }

    #[test]
    fn the_since_cutoff_is_inclusive() {
        let at = "2024-03-10T11:00:00Z exactly an hour ago\n";
        let mut f = LineFilter::new(&query(Some(3600), None), clock()).unwrap();
        assert_eq!(kept(&mut f, at), at);
        let mut f = LineFilter::new(&query(Some(3599), None), clock()).unwrap();
        assert_eq!(kept(&mut f, at), "");
    }

    #[test]
    fn grep_matches_within_lines_and_combines_with_since() {
        let mut f = LineFilter::new(&query(None, Some("(?i)CONTINUATION$")), clock()).unwrap();
        assert_eq!(
            kept(&mut f, LOG),
            "  old continuation\n  new continuation\n  its continuation"
        );
        let mut f = LineFilter::new(&query(Some(3600), Some("continuation")), clock()).unwrap();
        assert_eq!(kept(&mut f, LOG), "  new continuation\n");
        assert!(!f.keeps_everything());
        let all = LineFilter::new(&query(None, None), clock()).unwrap();
        assert!(all.keeps_everything());
    }

    #[test]
    fn grep_works_on_bytes_that_are_not_utf8() {
        let mut f = LineFilter::new(&query(None, Some("fail")), clock()).unwrap();
        assert!(f.keep(b"\xff\xfe fail\n"));
        assert!(!f.keep(b"\xff\xfe ok\n"));
    }

    #[test]
    fn bad_or_huge_patterns_are_refused_clearly() {
        let err = LineFilter::new(&query(None, Some("(unclosed")), clock()).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidInput);
        assert_eq!(
            err.message,
            "--grep `(unclosed` is not a usable regular expression: unclosed group"
        );
        let err = LineFilter::new(&query(None, Some(r"\w{1000}{1000}")), clock()).unwrap_err();
        assert!(err.message.contains("size limit"), "{}", err.message);
    }

    #[test]
    fn lines_split_across_pushes_are_joined() {
        let mut split = LineSplitter::default();
        let mut lines: Vec<Vec<u8>> = Vec::new();
        for piece in [&b"ab"[..], b"c\nde", b"f\n\ng"] {
            split.push(piece, |l| lines.push(l.to_vec()));
        }
        assert_eq!(lines, [&b"abc\n"[..], b"def\n", b"\n"]);
        assert_eq!(split.finish(), Some(b"g".to_vec()));
        assert_eq!(split.finish(), None);
        split.push(b"half", |_| {});
        split.reset();
        assert_eq!(split.finish(), None);
    }

    #[test]
    fn a_line_longer_than_the_limit_comes_in_pieces() {
        let mut split = LineSplitter::default();
        let mut sizes = Vec::new();
        let long = vec![b'x'; MAX_LINE_LEN * 2 + 5];
        split.push(&long[..10], |l| sizes.push(l.len()));
        split.push(&long[10..], |l| sizes.push(l.len()));
        split.push(b"\n", |l| sizes.push(l.len()));
        assert_eq!(sizes, [MAX_LINE_LEN, MAX_LINE_LEN, 6]);
        let mut exact = LineSplitter::default();
        let mut sizes = Vec::new();
        let mut line = vec![b'y'; MAX_LINE_LEN - 1];
        line.push(b'\n');
        exact.push(&line, |l| sizes.push(l.len()));
        assert_eq!(sizes, [MAX_LINE_LEN]);
    }
}
