//! Commands the relay sends to an agent, each on a bidirectional stream the
//! relay opens on the agent's connection: one [`AgentCommand`] frame, then
//! one or more [`AgentReply`] frames, then the stream ends.
//!
//! Nothing here is trusted by the agent because the relay sent it: a script
//! runs only after [`crate::approval::verify_run`] passes on the agent, and a
//! roster installs only after [`crate::approval::roster::accept_roster`] does.

use crate::approval::roster::SignedRotation;
use crate::approval::{Refusal, SignedApproval, SignedRoster, SignedScript};
use crate::diagnostics::Snapshot;
use crate::error::RemoteError;
use crate::ids::TicketId;
use crate::time::Timestamp;
use crate::transfer::{LogQuery, TransferFrame};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// Output kept from one script run (stdout and stderr together); anything
/// beyond is counted and reported as truncated, never silently dropped.
pub const MAX_SCRIPT_OUTPUT: usize = 1024 * 1024;
/// Largest piece of output sent in one frame.
pub const OUTPUT_CHUNK: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunId(pub Uuid);

impl RunId {
    pub fn new_random() -> Self {
        RunId(Uuid::new_v4())
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum AgentCommand {
    Ping,
    /// The organisation's current roster; the agent installs it only if the
    /// organisation key it pinned signed it, it is newer than any it has
    /// seen, and it has not expired.
    InstallRoster(Box<SignedRoster>),
    Diagnose {
        sections: Vec<Section>,
    },
    RunScript(Box<RunOrder>),
    /// Stream a log file under the agent's allow-list as `Transfer`
    /// frames. The relay finishes its sending half to stop a `follow`.
    PullLogs(LogQuery),
    /// A screenshot, if the endpoint's policy and its user allow.
    Screenshot {
        /// The technician asking, for the consent prompt.
        requested_by: String,
        /// The ticket the screenshot is for, when the technician named one.
        ticket: Option<TicketId>,
        /// That ticket's requester (the account it was filed under): only
        /// their Get help window is asked. `None` without a ticket: the
        /// agent asks the user at the console.
        requester: Option<String>,
    },
    /// The organisation key handing over to a new one; the agent follows
    /// only if the key it pinned signed the statement.
    RotateOrgKey(Box<SignedRotation>),
    /// Tickets filed from this endpoint that changed (a public reply, a
    /// status change), as their requesters may see them. Only shown to
    /// the employee: news never makes the agent do anything else.
    TicketNews(Vec<crate::news::TicketNews>),
}

impl AgentCommand {
    /// A short name for logs and audit entries.
    pub fn name(&self) -> &'static str {
        self.into()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunOrder {
    pub run_id: RunId,
    pub script: SignedScript,
    pub content: Vec<u8>,
    pub approval: SignedApproval,
}

/// `<&str>::from(&reply)` names a reply in snake_case, for messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum AgentReply {
    Pong,
    RosterInstalled {
        version: u64,
    },
    Diagnostics(Box<DiagnosticsReport>),
    Run(RunEvent),
    Error(RemoteError),
    Transfer(TransferFrame),
    /// The agent now trusts this organisation key.
    OrgKeyRotated {
        key: crate::identity::PublicKey,
    },
    /// The agent kept this many tickets of a `TicketNews` push.
    NewsTaken {
        count: u32,
    },
}

/// The frames of a script run, in order: `Refused`, or `Started`, any
/// number of `Output`, then `Finished`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunEvent {
    Refused(Refusal),
    Started,
    Output { stream: OutputStream, data: Vec<u8> },
    Finished(RunOutcome),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputStream {
    Stdout,
    Stderr,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunOutcome {
    /// `None` when the process was killed by a signal (e.g. on timeout).
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub duration_ms: u64,
    /// All output the script produced, including what was cut off.
    pub output_bytes: u64,
    /// True when output beyond [`MAX_SCRIPT_OUTPUT`] was not kept.
    pub truncated: bool,
}

/// Sections of a live diagnostics run, as named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Section {
    Os,
    Cpu,
    Memory,
    Disks,
    Network,
    Processes,
    Components,
    Users,
    Software,
    Services,
}

impl Section {
    pub const ALL: [Section; 10] = [
        Section::Os,
        Section::Cpu,
        Section::Memory,
        Section::Disks,
        Section::Network,
        Section::Processes,
        Section::Components,
        Section::Users,
        Section::Software,
        Section::Services,
    ];

    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl FromStr for Section {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim().to_ascii_lowercase();
        Section::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Section::ALL.iter().map(|x| x.as_str()).collect();
                format!("unknown section `{s}`; use any of: {}", names.join(", "))
            })
    }
}

/// A live diagnostics answer: the snapshot, plus the slower sections when asked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiagnosticsReport {
    pub snapshot: Snapshot,
    /// Installed packages, where the platform has a package database.
    pub software: Option<Vec<Package>>,
    /// Services, where systemd is present.
    pub services: Option<Vec<Service>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    pub name: String,
    /// systemd's active state: active, failed, inactive, …
    pub state: String,
    pub description: String,
}

/// What the relay keeps of a finished script run, shown on the ticket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScriptRunRecord {
    pub run_id: RunId,
    pub script_id: crate::approval::ScriptId,
    pub requested_by: String,
    pub started_at: Timestamp,
    /// `None` when the agent refused; then `refusal` says why.
    pub outcome: Option<RunOutcome>,
    pub refusal: Option<String>,
    /// Output as kept (at most [`MAX_SCRIPT_OUTPUT`] bytes), lossily UTF-8.
    pub output: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{decode_frame, encode};

    #[test]
    fn a_full_output_chunk_fits_in_a_frame() {
        let reply = AgentReply::Run(RunEvent::Output {
            stream: OutputStream::Stdout,
            data: vec![0xAA; OUTPUT_CHUNK],
        });
        let back: AgentReply = decode_frame(&encode(&reply).unwrap()).unwrap();
        assert_eq!(back, reply);
    }

    #[test]
    fn sections_parse() {
        assert_eq!("Disks".parse::<Section>().unwrap(), Section::Disks);
        assert_eq!(
            "gpu".parse::<Section>().unwrap_err(),
            "unknown section `gpu`; use any of: os, cpu, memory, disks, network, \
             processes, components, users, software, services"
        );
    }

    #[test]
    fn names_are_the_serde_names() {
        for section in Section::ALL {
            let json = serde_json::to_value(section).unwrap();
            assert_eq!(json, section.as_str());
        }
        let commands = [
            AgentCommand::Ping,
            AgentCommand::Diagnose { sections: vec![] },
            AgentCommand::PullLogs(LogQuery::whole("/var/log/syslog")),
            AgentCommand::Screenshot {
                requested_by: "bob".into(),
                ticket: None,
                requester: None,
            },
        ];
        let names: Vec<_> = commands.iter().map(AgentCommand::name).collect();
        assert_eq!(names, ["ping", "diagnose", "pull_logs", "screenshot"]);
    }
}
