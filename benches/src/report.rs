//! The results table: one row per figure, each beside its target, printed
//! as text and written as JSON. Pure data and formatting, unit-tested.

use serde::Serialize;

/// How a figure compares with what we aim at.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum Target {
    /// No target: context only.
    None,
    /// The figure should be at least this.
    AtLeast(f64),
    /// The figure should be below this.
    Below(f64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Verdict {
    Met,
    Missed,
    Info,
    Skipped,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Met => "met",
            Verdict::Missed => "missed",
            Verdict::Info => "-",
            Verdict::Skipped => "skipped",
        }
    }
}

impl Target {
    pub fn judge(self, value: f64) -> Verdict {
        match self {
            Target::None => Verdict::Info,
            Target::AtLeast(t) if value >= t => Verdict::Met,
            Target::Below(t) if value < t => Verdict::Met,
            _ => Verdict::Missed,
        }
    }

    pub fn describe(self) -> String {
        match self {
            Target::None => String::new(),
            Target::AtLeast(t) => format!(">= {}", fmt_num(t)),
            Target::Below(t) => format!("< {}", fmt_num(t)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub measurement: String,
    pub figure: String,
    /// `None` when the figure could not be taken (see `note`).
    pub value: Option<f64>,
    pub unit: String,
    pub target: Target,
    pub verdict: Verdict,
    pub note: String,
}

impl Row {
    pub fn new(measurement: &str, figure: &str, value: f64, unit: &str, target: Target) -> Row {
        Row {
            measurement: measurement.into(),
            figure: figure.into(),
            value: Some(value),
            unit: unit.into(),
            target,
            verdict: target.judge(value),
            note: String::new(),
        }
    }

    pub fn skipped(measurement: &str, figure: &str, note: &str) -> Row {
        Row {
            measurement: measurement.into(),
            figure: figure.into(),
            value: None,
            unit: String::new(),
            target: Target::None,
            verdict: Verdict::Skipped,
            note: note.into(),
        }
    }

    pub fn note(mut self, note: impl Into<String>) -> Row {
        self.note = note.into();
        self
    }
}

/// Three significant-ish digits without scientific notation.
pub fn fmt_num(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 0.1 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}

/// The rows as an aligned text table (also valid Markdown).
pub fn render(rows: &[Row]) -> String {
    let header = [
        "measurement",
        "figure",
        "value",
        "target",
        "verdict",
        "note",
    ];
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            let value = match r.value {
                Some(v) => format!("{} {}", fmt_num(v), r.unit).trim_end().to_string(),
                None => "n/a".into(),
            };
            let target = match r.target {
                Target::None => String::new(),
                t => format!("{} {}", t.describe(), r.unit)
                    .trim_end()
                    .to_string(),
            };
            [
                r.measurement.clone(),
                r.figure.clone(),
                value,
                target,
                r.verdict.as_str().into(),
                r.note.clone(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cols: &[String]| {
        let padded: Vec<String> = cols
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("| {} |\n", padded.join(" | "))
    };
    let mut out = line(&header.map(String::from));
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    out.push_str(&line(&rule));
    for row in &cells {
        out.push_str(&line(row));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_judge_at_their_boundary() {
        assert_eq!(Target::AtLeast(0.9).judge(0.9), Verdict::Met);
        assert_eq!(Target::AtLeast(0.9).judge(0.89), Verdict::Missed);
        assert_eq!(Target::Below(2.0).judge(2.0), Verdict::Missed);
        assert_eq!(Target::Below(2.0).judge(1.99), Verdict::Met);
        assert_eq!(Target::None.judge(5.0), Verdict::Info);
    }

    #[test]
    fn table_is_aligned_and_shows_skips() {
        let rows = vec![
            Row::new("pull", "triage MB/s", 123.456, "MB/s", Target::None),
            Row::skipped("pull", "scp MB/s", "no sshd"),
        ];
        let text = render(&rows);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines.iter().all(|l| l.len() == lines[0].len()), "{text}");
        assert!(text.contains("123 MB/s"));
        assert!(text.contains("n/a") && text.contains("skipped") && text.contains("no sshd"));
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(fmt_num(1234.5), "1234");
        assert_eq!(fmt_num(12.345), "12.3");
        assert_eq!(fmt_num(1.2345), "1.23");
        assert_eq!(fmt_num(0.01234), "0.0123");
        assert_eq!(fmt_num(0.0), "0");
    }
}
