//! `triage sla show [--json]` and `triage sla set FILE`.

use super::{connect, print_json, unexpected, Out};
use crate::args::SlaCommand;
use crate::error::CliError;
use crate::home::Home;
use serde::Serialize;
use std::io::Read;
use triage_shared::protocol::{Request, Response};
use triage_shared::sla::policy::MAX_POLICY_LEN;
use triage_shared::sla::SlaPolicy;

/// `sla show --json`.
#[derive(Debug, Serialize)]
struct PolicyJson {
    /// The policy as sla.toml text.
    policy: String,
    /// False while the relay runs on its built-in defaults.
    from_file: bool,
}

/// Reads FILE, bounded, and checks it here first, so a mistake is named
/// without a round trip (the relay checks it again).
pub fn read_policy(path: &std::path::Path) -> Result<String, CliError> {
    let file = std::fs::File::open(path)
        .map_err(|e| CliError::InvalidInput(format!("cannot read {}: {e}", path.display())))?;
    let mut text = String::new();
    file.take(MAX_POLICY_LEN as u64 + 1)
        .read_to_string(&mut text)
        .map_err(|e| CliError::InvalidInput(format!("cannot read {}: {e}", path.display())))?;
    SlaPolicy::parse(&text)
        .map_err(|e| CliError::InvalidInput(format!("{}: {e}", path.display())))?;
    Ok(text)
}

pub async fn run(home: &Home, command: SlaCommand, out: Out<'_>) -> Result<(), CliError> {
    let (request, json) = match command {
        SlaCommand::Show { json } => (Request::ShowSla, json),
        SlaCommand::Set { file } => (
            Request::SetSla {
                text: read_policy(&file)?,
            },
            false,
        ),
    };
    let conn = connect(home).await?;
    let result = conn.ask(&request).await;
    conn.close().await;
    let (text, from_file) = match result? {
        Response::SlaPolicy { text, from_file } => (text, from_file),
        _ => return Err(unexpected(&request)),
    };
    if json {
        return print_json(
            out,
            &PolicyJson {
                policy: text,
                from_file,
            },
        );
    }
    if matches!(request, Request::SetSla { .. }) {
        writeln!(
            out,
            "# SLA policy set; open tickets' due times follow it now."
        )?;
    } else if !from_file {
        writeln!(
            out,
            "# The relay's defaults (no sla.toml in its data directory)."
        )?;
    }
    // From the relay: each line cleaned of control characters.
    for line in text.lines() {
        writeln!(out, "{}", triage_shared::text::clean(line))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_policy_file_is_named_before_connecting() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sla.toml");
        std::fs::write(&file, "[targets.urgent]\nresolution = \"forever\"\n").unwrap();
        let err = read_policy(&file).unwrap_err().to_string();
        assert!(
            err.contains("sla.toml") && err.contains("targets.urgent.resolution"),
            "{err}"
        );
        std::fs::write(&file, "[targets.urgent]\nresolution = \"2h\"\n").unwrap();
        assert!(read_policy(&file).unwrap().contains("2h"));
        assert!(read_policy(&dir.path().join("missing.toml")).is_err());
    }
}
