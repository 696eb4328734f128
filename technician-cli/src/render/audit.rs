//! `triage audit`: the audit log as a table.

use crate::text::table;
use triage_shared::audit::AuditEntry;

/// One row per entry, oldest first; the outcome column takes what width is left.
pub fn audit_table(entries: &[AuditEntry], width: usize) -> String {
    if entries.is_empty() {
        return "No audit entries.\n".into();
    }
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            vec![
                e.seq.to_string(),
                e.at.to_string(),
                e.actor.clone(),
                e.action.clone(),
                e.target.clone(),
                e.outcome.clone(),
            ]
        })
        .collect();
    table(
        &["SEQ", "TIME", "ACTOR", "ACTION", "TARGET", "OUTCOME"],
        &rows,
        width,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_shared::time::Timestamp;

    #[test]
    fn entries_show_seq_time_actor_action_target_and_outcome() {
        let e = AuditEntry {
            seq: 7,
            at: Timestamp(0),
            actor: "technician:alice".into(),
            action: "script.run".into(),
            target: "ticket:1234abcd".into(),
            outcome: "refused: the approval expired\u{1b}[2J".into(),
            details: "{}".into(),
            prev_hash: String::new(),
            hash: String::new(),
        };
        let out = audit_table(&[e], 200);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            "SEQ  TIME                  ACTOR             ACTION      TARGET           OUTCOME"
        );
        assert_eq!(
            lines[1],
            "7    1970-01-01T00:00:00Z  technician:alice  script.run  ticket:1234abcd  refused: the approval expired?[2J"
        );
        assert_eq!(audit_table(&[], 80), "No audit entries.\n");
    }
}
