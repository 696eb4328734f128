//! Keeping one answer inside one frame. A ticket or script view carries
//! script output and diagnostics that could each fill a frame on their own,
//! so views get a byte budget: the newest items are shown first and in
//! full where they fit, older output is shortened, and what was left out is
//! said, never silently dropped.

use triage_shared::remote::ScriptRunRecord;
use triage_shared::text::truncate_at_char_boundary;

/// Script output shown across all runs in one ticket or script view.
pub const VIEW_OUTPUT_BUDGET: usize = 256 * 1024;
/// Encoded diagnostics attached to one ticket view.
pub const VIEW_DIAGNOSTICS_BUDGET: usize = 384 * 1024;
/// Runs listed in one view.
pub const MAX_VIEW_RUNS: usize = 200;
/// Diagnostics attachments listed in one ticket view.
pub const MAX_VIEW_DIAGNOSTICS: usize = 50;
/// Approvals listed in one script view.
pub const MAX_VIEW_APPROVALS: usize = 200;
/// Attachments listed in one ticket view (names and sizes only, no content).
pub const MAX_VIEW_ATTACHMENTS: usize = 50;

/// Shortens run outputs (newest first gets the budget) so that together
/// they take at most `budget` bytes plus a short note per shortened run.
pub fn trim_outputs(runs: &mut [ScriptRunRecord], budget: usize) {
    let mut left = budget;
    for run in runs.iter_mut().rev() {
        if run.output.len() <= left {
            left -= run.output.len();
            continue;
        }
        let before = run.output.len();
        truncate_at_char_boundary(&mut run.output, left);
        let hidden = before - run.output.len();
        left -= run.output.len();
        run.output.push_str(&format!(
            "\n[{hidden} more bytes of output are kept on the relay but not shown here]"
        ));
    }
}

/// The newest items (the end of `items`, which is oldest first) whose sizes
/// add up to at most `budget`, still oldest first.
pub fn newest_within<T>(items: Vec<T>, budget: usize, size: impl Fn(&T) -> usize) -> Vec<T> {
    let mut used = 0usize;
    let mut keep = 0usize;
    for item in items.iter().rev() {
        let s = size(item);
        if used.saturating_add(s) > budget {
            break;
        }
        used += s;
        keep += 1;
    }
    let skip = items.len() - keep;
    items.into_iter().skip(skip).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_shared::approval::ScriptId;
    use triage_shared::remote::RunId;
    use triage_shared::time::Timestamp;

    fn run(output: &str) -> ScriptRunRecord {
        ScriptRunRecord {
            run_id: RunId::new_random(),
            script_id: ScriptId::new_random(),
            requested_by: "bob".into(),
            started_at: Timestamp(0),
            outcome: None,
            refusal: None,
            output: output.into(),
        }
    }

    #[test]
    fn newest_output_is_kept_whole_and_older_output_is_shortened_with_a_note() {
        let mut runs = vec![run(&"a".repeat(10)), run(&"b".repeat(6))];
        trim_outputs(&mut runs, 10);
        assert_eq!(runs[1].output, "b".repeat(6));
        assert!(runs[0].output.starts_with("aaaa\n["), "{}", runs[0].output);
        assert!(
            runs[0].output.contains("6 more bytes"),
            "{}",
            runs[0].output
        );
    }

    #[test]
    fn output_exactly_at_the_budget_is_untouched() {
        let mut runs = vec![run("xyz"), run("abc")];
        trim_outputs(&mut runs, 6);
        assert_eq!(
            (runs[0].output.as_str(), runs[1].output.as_str()),
            ("xyz", "abc")
        );
    }

    #[test]
    fn shortening_never_splits_a_character() {
        let mut runs = vec![run("ééé")];
        trim_outputs(&mut runs, 3);
        assert!(runs[0].output.starts_with("é\n["), "{}", runs[0].output);
    }

    #[test]
    fn newest_items_within_budget_are_kept_in_order() {
        let kept = newest_within(vec![5, 4, 3, 2], 5, |n| *n);
        assert_eq!(kept, [3, 2]);
        assert_eq!(newest_within(vec![5, 4, 3, 2], 14, |n| *n), [5, 4, 3, 2]);
        assert!(newest_within(vec![9], 8, |n| *n).is_empty());
    }
}
