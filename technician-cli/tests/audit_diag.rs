//! Live diagnostics and the audit log against a stand-in relay over real
//! QUIC: agent selection by hostname, and audit verification across pages.

mod common;

use common::{keyed_home, resolve_agent_among, single, triage, FakeRelay, Known};
use tempfile::TempDir;
use triage_cli::CliError;
use triage_shared::audit::{chain_after, AuditEntry};
use triage_shared::error::{ErrorKind, RemoteError};
use triage_shared::protocol::{AgentSummary, Request, Response};
use triage_shared::remote::Section;
use triage_shared::roles::Role;
use triage_shared::time::Timestamp;
use triage_shared::{AgentId, TicketId};

const AGENT: &str = "9999ffff-1111-4000-8000-000000000003";

fn agent(id: &str, host: &str) -> AgentSummary {
    AgentSummary {
        id: id.parse().unwrap(),
        hostname: host.into(),
        os: "Debian 12".into(),
        enrolled_at: Timestamp(0),
        last_seen: None,
        online: true,
    }
}

#[tokio::test]
async fn diag_finds_the_agent_by_hostname_and_sends_its_id() {
    let (home, key) = keyed_home().await;
    let relay = FakeRelay::start(
        vec![Known {
            key,
            name: "lina".into(),
            roles: vec![Role::L1],
        }],
        single(|r| match r {
            Request::ResolveAgent { selector } => resolve_agent_among(
                &[
                    agent(AGENT, "laptop-7"),
                    agent("5555aaaa-0000-4000-8000-000000000005", "desk-1"),
                ],
                selector,
            ),
            Request::Diagnose { .. } => Response::Error(RemoteError::new(
                ErrorKind::Unavailable,
                "agent laptop-7 is offline",
            )),
            _ => Response::Ok,
        }),
    );
    triage(home.path(), &["login", &relay.locator.to_string()])
        .await
        .unwrap();
    let err = triage(home.path(), &["diag", "LAPTOP-7", "--section", "os,memory"])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("offline"), "{err}");
    assert_eq!(
        relay.requests().last(),
        Some(&Request::Diagnose {
            agent: AGENT.parse::<AgentId>().unwrap(),
            sections: vec![Section::Os, Section::Memory],
            attach: None,
        })
    );
    let err = triage(home.path(), &["diag", "printer-9"])
        .await
        .unwrap_err();
    assert!(matches!(err, CliError::NotFound(_)), "{err}");
    assert!(err.to_string().contains("triage agents list"), "{err}");
}

fn audit_log(n: usize) -> Vec<AuditEntry> {
    let mut log: Vec<AuditEntry> = Vec::new();
    for i in 0..n {
        let e = AuditEntry {
            seq: 0,
            at: Timestamp(i as i64),
            actor: "technician:alice".into(),
            action: "script.run".into(),
            target: format!("ticket:{}", TicketId::new_random()),
            outcome: "ok".into(),
            details: "{}".into(),
            prev_hash: String::new(),
            hash: String::new(),
        };
        let next = chain_after(log.last(), e);
        log.push(next);
    }
    log
}

async fn admin_with_log(log: Vec<AuditEntry>) -> (TempDir, FakeRelay) {
    let (home, key) = keyed_home().await;
    let relay = FakeRelay::start(
        vec![Known {
            key,
            name: "root".into(),
            roles: vec![Role::Admin],
        }],
        single(move |r| match r {
            Request::ListAudit {
                after_seq,
                since,
                limit,
            } => Response::Audit(
                log.iter()
                    .filter(|e| e.seq > *after_seq && since.is_none_or(|s| e.at >= s))
                    .take(*limit as usize)
                    .cloned()
                    .collect(),
            ),
            _ => Response::Ok,
        }),
    );
    triage(home.path(), &["login", &relay.locator.to_string()])
        .await
        .unwrap();
    (home, relay)
}

#[tokio::test]
async fn audit_verify_pages_through_the_whole_log() {
    let log = audit_log(2_345);
    let last = log.last().unwrap().hash.clone();
    let (home, relay) = admin_with_log(log).await;
    let out = triage(home.path(), &["audit", "verify"]).await.unwrap();
    assert_eq!(
        out,
        format!("audit log intact: 2345 entries, last hash {last}\n")
    );
    assert_eq!(relay.requests().len(), 3, "three pages of up to 1000");
    let json = triage(home.path(), &["audit", "--json", "--limit", "2"])
        .await
        .unwrap();
    let shown: Vec<AuditEntry> = serde_json::from_str(&json).unwrap();
    assert_eq!(
        shown.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![2_344, 2_345]
    );
}

#[tokio::test]
async fn audit_verify_names_an_edited_entry() {
    let mut log = audit_log(1_500);
    log[1_200].outcome = "ok (edited)".into();
    let (home, _relay) = admin_with_log(log).await;
    let err = triage(home.path(), &["audit", "--verify"])
        .await
        .unwrap_err();
    assert!(matches!(err, CliError::AuditBroken(_)), "{err}");
    assert!(
        err.to_string()
            .starts_with("audit entry 1201 is not intact"),
        "{err}"
    );
}
