//! `triage roster ...`: export the roster to sign from the relay, sign it
//! offline with the org key (after showing what changed), publish it, and
//! show the one in force, verified with the pinned org key.

use super::{connect, print_json, unexpected, Out};
use crate::args::RosterCommand;
use crate::error::CliError;
use crate::home::Home;
use std::io::{IsTerminal, Read};
use std::path::Path;
use triage_shared::approval::roster::{
    accept_rotation, diff, OrgKeyRotation, RosterChange, SignedRotation,
};
use triage_shared::approval::{Roster, RosterEntry, SignedRoster};
use triage_shared::identity::KeyPair;
use triage_shared::protocol::{Request, Response};
use triage_shared::text::clean;
use triage_shared::time::Timestamp;

/// Largest roster file read; a full roster takes about a third of it.
pub const MAX_ROSTER_FILE_LEN: u64 = 1024 * 1024;

pub async fn run(home: &Home, command: RosterCommand, out: Out<'_>) -> Result<(), CliError> {
    match command {
        RosterCommand::Export { valid_for, output } => {
            let request = Request::ExportRoster {
                validity_secs: valid_for.as_secs(),
            };
            let conn = connect(home).await?;
            let result = conn.ask(&request).await;
            conn.close().await;
            let Response::RosterDraft(roster) = result? else {
                return Err(unexpected(&request));
            };
            let text = to_json(&*roster)?;
            match output {
                Some(path) => {
                    write_file(&path, &text)?;
                    writeln!(
                        out,
                        "Roster version {} ({} entries) written to {}; sign it where the org key lives: `triage roster sign {} --org-key FILE --previous LAST_SIGNED -o SIGNED`",
                        roster.version,
                        roster.entries.len(),
                        path.display(),
                        path.display()
                    )?;
                }
                None => out.write_all(text.as_bytes())?,
            }
            Ok(())
        }
        RosterCommand::Sign {
            roster,
            org_key,
            previous,
            output,
            yes,
        } => {
            let draft: Roster = read_json(&roster)?;
            draft
                .validate()
                .map_err(|e| CliError::InvalidInput(format!("{}: {e}", roster.display())))?;
            let org = read_org_key(&org_key)?;
            let previous: Option<SignedRoster> = previous.as_deref().map(read_json).transpose()?;
            let summary = sign_summary(&draft, previous.as_ref(), &org)?;
            if !yes {
                if !std::io::stdin().is_terminal() {
                    return Err(CliError::InvalidInput(
                        "nobody is at a terminal to confirm; read the changes and pass --yes"
                            .into(),
                    ));
                }
                eprint!(
                    "{summary}Sign roster version {}? Type yes to sign: ",
                    draft.version
                );
                let mut answer = String::new();
                let _ = std::io::stdin().read_line(&mut answer);
                if !super::script::is_yes(&answer) {
                    return Err(CliError::InvalidInput("not signed".into()));
                }
            } else {
                out.write_all(summary.as_bytes())?;
            }
            let version = draft.version;
            let signed = draft.sign(&org);
            write_file(&output, &to_json(&signed)?)?;
            writeln!(
                out,
                "Signed roster version {version} with {} into {}; publish it with `triage roster publish {}`",
                org.public_key(),
                output.display(),
                output.display()
            )?;
            Ok(())
        }
        RosterCommand::Publish { signed } => {
            let roster: SignedRoster = read_json(&signed)?;
            // Refuse early what endpoints would refuse.
            home.trust_roster(Some(&roster), Timestamp::now())?;
            let version = roster.roster.version;
            let request = Request::PublishRoster {
                roster: Box::new(roster),
            };
            let conn = connect(home).await?;
            let result = conn.ask(&request).await;
            conn.close().await;
            match result? {
                Response::Ok => {
                    writeln!(
                        out,
                        "Published roster version {version}; connected endpoints install it within seconds."
                    )?;
                    Ok(())
                }
                _ => Err(unexpected(&request)),
            }
        }
        RosterCommand::Rotate { from, to, output } => {
            let old = read_org_key(&from)?;
            let new = read_org_key(&to)?;
            if old.public_key() == new.public_key() {
                return Err(CliError::InvalidInput(
                    "--from and --to hold the same key; a rotation needs a new one".into(),
                ));
            }
            let rotation = OrgKeyRotation {
                old_key: old.public_key(),
                new_key: new.public_key(),
                issued_at: Timestamp::now(),
            }
            .sign(&old);
            write_file(&output, &to_json(&rotation)?)?;
            writeln!(
                out,
                "Signed the hand-over from {} to {} into {}; publish it with `triage roster publish-rotation {}`, then sign a roster with the new key. Technicians pin the new key with `triage login … --org-key {}`.",
                old.public_key(),
                new.public_key(),
                output.display(),
                output.display(),
                new.public_key()
            )?;
            Ok(())
        }
        RosterCommand::PublishRotation { rotation } => {
            let rotation: SignedRotation = read_json(&rotation)?;
            let pinned = home.pinned_org_key()?.ok_or_else(|| {
                CliError::Untrusted(
                    "no organisation key is pinned here to check the rotation against; log in with --org-key first".into(),
                )
            })?;
            accept_rotation(&pinned, &rotation)
                .map_err(|e| CliError::Untrusted(format!("the rotation is not acceptable: {e}")))?;
            let new_key = rotation.rotation.new_key;
            let request = Request::PublishRotation {
                rotation: Box::new(rotation),
            };
            let conn = connect(home).await?;
            let result = conn.ask(&request).await;
            conn.close().await;
            match result? {
                Response::Ok => {
                    // Verified from the pinned key above, so this CLI follows it too.
                    home.follow_rotation(&pinned, &new_key)?;
                    writeln!(
                        out,
                        "Published the rotation to {new_key} (now pinned here); endpoints follow it when the next roster, signed by the new key, reaches them."
                    )?;
                    Ok(())
                }
                _ => Err(unexpected(&request)),
            }
        }
        RosterCommand::Show { json } => {
            let conn = connect(home).await?;
            let result = super::script::current_roster(&conn).await;
            conn.close().await;
            let offered = result?;
            let roster = home.trust_roster(offered.as_ref(), Timestamp::now())?;
            if json {
                return print_json(out, roster);
            }
            out.write_all(render_roster(roster).as_bytes())?;
            Ok(())
        }
    }
}

/// What the signer reads before signing: the version, the validity, every
/// change against the previous signed roster (or every entry, without one).
pub fn sign_summary(
    draft: &Roster,
    previous: Option<&SignedRoster>,
    org: &KeyPair,
) -> Result<String, CliError> {
    use std::fmt::Write as _;
    let mut out = format!(
        "Roster version {}, valid {} to {}, {} entries.\n",
        draft.version,
        draft.issued_at,
        draft.expires_at,
        draft.entries.len()
    );
    match previous {
        Some(p) => {
            if !p.signed_by(&org.public_key()) {
                return Err(CliError::Untrusted(
                    "the previous roster given is not signed by this org key; give the one you signed last".into(),
                ));
            }
            if draft.version <= p.roster.version {
                return Err(CliError::InvalidInput(format!(
                    "the new roster is version {}, not newer than the previous version {}; endpoints would refuse it",
                    draft.version, p.roster.version
                )));
            }
            let changes = diff(&p.roster, draft);
            let _ = writeln!(out, "Changes since version {}:", p.roster.version);
            if changes.is_empty() {
                out.push_str("  (none)\n");
            }
            for change in changes {
                let line = match change {
                    RosterChange::Added(e) => format!("+ {}", entry_line(&e)),
                    RosterChange::Removed(e) => format!("- {}", entry_line(&e)),
                    RosterChange::Changed { before, after } => {
                        format!("~ {}\n    was {}", entry_line(&after), entry_line(&before))
                    }
                };
                let _ = writeln!(out, "  {line}");
            }
        }
        None => {
            out.push_str("No previous roster given (--previous); every entry:\n");
            for e in &draft.entries {
                let _ = writeln!(out, "  + {}", entry_line(e));
            }
        }
    }
    Ok(out)
}

fn entry_line(e: &RosterEntry) -> String {
    let roles: Vec<_> = e.roles.iter().map(|r| r.as_str()).collect();
    let until = e
        .expires_at
        .map(|t| format!(" until {t}"))
        .unwrap_or_default();
    format!("{} [{}] {}{until}", clean(&e.name), roles.join(","), e.key)
}

/// `roster show`.
pub fn render_roster(r: &Roster) -> String {
    let mut out = format!(
        "Roster version {} (verified with the pinned org key), valid until {}\n",
        r.version, r.expires_at
    );
    for e in &r.entries {
        let what = match (e.may_author(), e.may_approve()) {
            (true, true) => "author, approver",
            (true, false) => "author",
            (false, true) => "approver",
            (false, false) => "-",
        };
        out.push_str(&format!("  {:<10} {}\n", what, entry_line(e)));
    }
    out
}

fn read_org_key(path: &Path) -> Result<KeyPair, CliError> {
    let text = read_text(path)?;
    KeyPair::from_file_text(&text).map_err(|e| CliError::BadKeyFile {
        path: path.into(),
        detail: e.to_string(),
    })
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, CliError> {
    let text = read_text(path)?;
    serde_json::from_str(&text).map_err(|e| {
        CliError::InvalidInput(format!("{} is not what was expected: {e}", path.display()))
    })
}

fn read_text(path: &Path) -> Result<String, CliError> {
    let fail = |source| CliError::File {
        action: "read",
        path: path.into(),
        source,
    };
    let file = std::fs::File::open(path).map_err(fail)?;
    let mut text = String::new();
    file.take(MAX_ROSTER_FILE_LEN + 1)
        .read_to_string(&mut text)
        .map_err(fail)?;
    if text.len() as u64 > MAX_ROSTER_FILE_LEN {
        return Err(CliError::InvalidInput(format!(
            "{} is larger than {MAX_ROSTER_FILE_LEN} bytes; it is not a roster",
            path.display()
        )));
    }
    Ok(text)
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, CliError> {
    serde_json::to_string_pretty(value)
        .map(|t| t + "\n")
        .map_err(|e| CliError::InvalidInput(format!("cannot encode: {e}")))
}

fn write_file(path: &Path, text: &str) -> Result<(), CliError> {
    crate::home::write_atomic(path, text.as_bytes(), 0o644)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use triage_shared::roles::Role;

    fn roster(version: u64, names: &[(&str, Role)]) -> Roster {
        Roster {
            version,
            entries: names
                .iter()
                .map(|(n, r)| RosterEntry {
                    name: n.to_string(),
                    roles: vec![*r],
                    key: KeyPair::generate().public_key(),
                    expires_at: None,
                })
                .collect(),
            issued_at: Timestamp(0),
            expires_at: Timestamp(0).plus(Duration::from_secs(86_400)),
        }
    }

    #[test]
    fn the_summary_shows_what_changed_since_the_previous_signed_roster() {
        let org = KeyPair::generate();
        let v1 = roster(1, &[("alice", Role::L2), ("carol", Role::Approver)]);
        let mut v2 = v1.clone();
        v2.version = 2;
        v2.entries.remove(0);
        v2.entries
            .push(roster(0, &[("mallory", Role::Approver)]).entries[0].clone());
        let summary = sign_summary(&v2, Some(&v1.clone().sign(&org)), &org).unwrap();
        assert!(summary.contains("+ mallory [approver]"), "{summary}");
        assert!(summary.contains("- alice [l2]"), "{summary}");
        assert!(!summary.contains("carol"), "{summary}");
    }

    #[test]
    fn signing_refuses_an_older_version_or_a_previous_roster_of_another_key() {
        let org = KeyPair::generate();
        let v2 = roster(2, &[]);
        let err = sign_summary(&roster(2, &[]), Some(&v2.clone().sign(&org)), &org).unwrap_err();
        assert!(err.to_string().contains("not newer"), "{err}");
        let other = KeyPair::generate();
        let err = sign_summary(&roster(3, &[]), Some(&v2.sign(&other)), &org).unwrap_err();
        assert!(
            err.to_string().contains("not signed by this org key"),
            "{err}"
        );
        let all = sign_summary(&roster(1, &[("alice", Role::L2)]), None, &org).unwrap();
        assert!(
            all.contains("every entry") && all.contains("+ alice"),
            "{all}"
        );
    }

    #[test]
    fn a_file_that_is_too_large_is_refused_before_parsing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.json");
        std::fs::write(&path, vec![b' '; MAX_ROSTER_FILE_LEN as usize + 1]).unwrap();
        let err = read_json::<Roster>(&path).unwrap_err();
        assert!(err.to_string().contains("larger than"), "{err}");
    }
}
