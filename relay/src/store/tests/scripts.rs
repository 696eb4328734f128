//! Org key, rosters and rotations, scripts, approvals, runs and attached diagnostics.

use super::*;
use crate::store::{RunsOf, StoredScript};
use triage_shared::approval::roster::OrgKeyRotation;
use triage_shared::approval::{
    Approval, Interpreter, Nonce, Roster, RosterEntry, ScriptDigest, ScriptId, ScriptManifest,
    SignedApproval,
};
use triage_shared::protocol::AttachedDiagnostics;
use triage_shared::remote::{DiagnosticsReport, RunId, RunOutcome, ScriptRunRecord};

const MIN_MS: i64 = 60_000;

struct Fixture {
    ticket: TicketId,
    agent: AgentRecord,
    author: KeyPair,
    approver: KeyPair,
}

async fn fixture(store: &Store) -> Fixture {
    let agent = enrolled_agent(store, "pc-1").await;
    let ticket = file_ticket(store, &agent, NOW).await;
    Fixture {
        ticket,
        agent,
        author: KeyPair::generate(),
        approver: KeyPair::generate(),
    }
}

impl Fixture {
    fn script(&self, content: &[u8]) -> StoredScript {
        let script = ScriptManifest {
            script_id: ScriptId::new_random(),
            ticket_id: self.ticket,
            digest: ScriptDigest::of(content),
            interpreter: Interpreter::Bash,
            timeout_secs: 30,
            author: "alice".into(),
            author_key: self.author.public_key(),
            description: "clear the spooler".into(),
            created_at: NOW,
            targets: vec![self.agent.id],
        }
        .sign(&self.author);
        StoredScript {
            script,
            content: content.to_vec(),
        }
    }

    fn approval(&self, s: &StoredScript, expires_at: Timestamp) -> SignedApproval {
        Approval {
            manifest_hash: s.script.hash(),
            script_id: s.script.manifest.script_id,
            ticket_id: self.ticket,
            approved_at: NOW,
            expires_at,
            nonce: Nonce::generate(),
            approver: "carol".into(),
            approver_key: self.approver.public_key(),
        }
        .sign(&self.approver)
    }
}

fn run_record(script: ScriptId, at: Timestamp, output: &str) -> ScriptRunRecord {
    ScriptRunRecord {
        run_id: RunId::new_random(),
        script_id: script,
        requested_by: "bob".into(),
        started_at: at,
        outcome: Some(RunOutcome {
            exit_code: Some(0),
            timed_out: false,
            duration_ms: 1_200,
            output_bytes: output.len() as u64,
            truncated: false,
        }),
        refusal: None,
        output: output.into(),
    }
}

store_test!(org_key_is_recorded_once_and_rosters_by_version);
async fn org_key_is_recorded_once_and_rosters_by_version(store: Store) {
    assert_eq!(store.org_key().await.unwrap(), None);
    assert_eq!(store.latest_roster_version().await.unwrap(), 0);
    assert_eq!(store.latest_roster().await.unwrap(), None);
    let org = KeyPair::generate();
    store.record_org_key(&org.public_key(), NOW).await.unwrap();
    let (kind, message) = refused_kind(
        store
            .record_org_key(&KeyPair::generate().public_key(), NOW)
            .await,
    );
    assert_eq!(kind, ErrorKind::Conflict);
    assert!(
        message.contains("only replaced through a rotation"),
        "{message}"
    );
    assert_eq!(store.org_key().await.unwrap(), Some(org.public_key()));
    let roster = |version| {
        Roster {
            version,
            entries: vec![RosterEntry {
                name: "carol".into(),
                roles: vec![Role::Approver],
                key: KeyPair::generate().public_key(),
                expires_at: None,
            }],
            issued_at: NOW,
            expires_at: Timestamp(NOW.millis() + MIN_MS),
        }
        .sign(&org)
    };
    store.insert_roster(&roster(1)).await.unwrap();
    let v2 = roster(2);
    store.insert_roster(&v2).await.unwrap();
    let (kind, _) = refused_kind(store.insert_roster(&roster(2)).await);
    assert_eq!(kind, ErrorKind::Conflict);
    assert_eq!(store.latest_roster_version().await.unwrap(), 2);
    assert_eq!(store.latest_roster().await.unwrap(), Some(v2));
}

store_test!(a_rotation_replaces_the_org_key_only_from_the_current_one);
async fn a_rotation_replaces_the_org_key_only_from_the_current_one(store: Store) {
    let old = KeyPair::generate();
    let new = KeyPair::generate();
    store.record_org_key(&old.public_key(), NOW).await.unwrap();
    let rotation = |from: &KeyPair, to: &KeyPair| {
        OrgKeyRotation {
            old_key: from.public_key(),
            new_key: to.public_key(),
            issued_at: NOW,
        }
        .sign(from)
    };
    let first = rotation(&old, &new);
    store.record_rotation(&first, NOW).await.unwrap();
    assert_eq!(store.org_key().await.unwrap(), Some(new.public_key()));
    // A second rotation from the key that is no longer current changes nothing.
    let stale = rotation(&old, &KeyPair::generate());
    let (kind, _) = refused_kind(store.record_rotation(&stale, NOW).await);
    assert_eq!(kind, ErrorKind::Conflict);
    assert_eq!(store.org_key().await.unwrap(), Some(new.public_key()));
    let newest = KeyPair::generate();
    let second = rotation(&new, &newest);
    store.record_rotation(&second, NOW).await.unwrap();
    assert_eq!(store.rotations().await.unwrap(), [first, second]);
}

store_test!(only_approvers_are_listed_as_approvers);
async fn only_approvers_are_listed_as_approvers(store: Store) {
    for (name, roles) in [
        ("alice", vec![Role::L2]),
        ("carol", vec![Role::Approver]),
        ("dave", vec![Role::L1, Role::Approver, Role::Admin]),
    ] {
        let tech = TechnicianSummary {
            name: name.into(),
            roles,
            public_key: KeyPair::generate().public_key(),
            created_at: NOW,
        };
        store.add_technician(&tech).await.unwrap();
    }
    let names: Vec<_> = store
        .approvers()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["carol", "dave"]);
}

store_test!(scripts_round_trip_and_retries_are_harmless);
async fn scripts_round_trip_and_retries_are_harmless(store: Store) {
    let f = fixture(&store).await;
    let content = b"#!/bin/bash\necho \"\xe2\x9c\x93 done\"\n\x00binary\xff".to_vec();
    let s = f.script(&content);
    assert!(store.insert_script(&s, NOW).await.unwrap());
    assert!(
        !store.insert_script(&s, NOW).await.unwrap(),
        "same script again is a retry"
    );
    let id = s.script.manifest.script_id;
    let back = store.script(f.ticket, id).await.unwrap();
    assert_eq!(back, s);
    assert!(back.script.signature_valid());
    // A different script under the same id conflicts.
    let mut other = f.script(b"echo other");
    other.script.manifest.script_id = id;
    let other = StoredScript {
        script: other.script.manifest.clone().sign(&f.author),
        content: other.content,
    };
    let (kind, _) = refused_kind(store.insert_script(&other, NOW).await);
    assert_eq!(kind, ErrorKind::Conflict);
    // A script is only found on its own ticket.
    let (kind, message) = refused_kind(store.script(TicketId::new_random(), id).await);
    assert_eq!(kind, ErrorKind::NotFound);
    assert!(message.contains("triage script list"), "{message}");
}

store_test!(approvals_are_taken_newest_first_once_each_and_never_expired);
async fn approvals_are_taken_newest_first_once_each_and_never_expired(store: Store) {
    let f = fixture(&store).await;
    let s = f.script(b"echo hi");
    store.insert_script(&s, NOW).await.unwrap();
    let id = s.script.manifest.script_id;
    let older = f.approval(&s, Timestamp(NOW.0 + 60 * MIN_MS));
    let newer = f.approval(&s, Timestamp(NOW.0 + 30 * MIN_MS));
    let expired = f.approval(&s, Timestamp(NOW.0 + MIN_MS));
    store.insert_approval(&older, NOW).await.unwrap();
    store
        .insert_approval(&newer, Timestamp(NOW.0 + 1))
        .await
        .unwrap();
    store
        .insert_approval(&expired, Timestamp(NOW.0 + 2))
        .await
        .unwrap();
    let (kind, message) = refused_kind(store.insert_approval(&newer, NOW).await);
    assert_eq!(kind, ErrorKind::Conflict);
    assert!(message.contains("nonce"), "{message}");
    assert_eq!(store.approvals(id).await.unwrap().len(), 3);
    let later = Timestamp(NOW.0 + 2 * MIN_MS);
    let summary = &store.list_scripts(f.ticket, later, 10).await.unwrap()[0];
    assert_eq!((summary.live_approvals, summary.runs), (2, 0));
    assert_eq!(summary.author, "alice");
    assert_eq!(summary.digest, s.script.manifest.digest);
    assert_eq!(store.take_approval(id, later).await.unwrap(), Some(newer));
    assert_eq!(store.take_approval(id, later).await.unwrap(), Some(older));
    assert_eq!(store.take_approval(id, later).await.unwrap(), None);
    let summary = &store.list_scripts(f.ticket, later, 10).await.unwrap()[0];
    assert_eq!(summary.live_approvals, 0);
}

store_test!(concurrent_runs_never_take_the_same_approval);
async fn concurrent_runs_never_take_the_same_approval(store: Store) {
    const APPROVALS: usize = 3;
    const RUNS: usize = 8;
    let f = fixture(&store).await;
    let s = f.script(b"echo hi");
    store.insert_script(&s, NOW).await.unwrap();
    for _ in 0..APPROVALS {
        let a = f.approval(&s, Timestamp(NOW.0 + 60 * MIN_MS));
        store.insert_approval(&a, NOW).await.unwrap();
    }
    let id = s.script.manifest.script_id;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..RUNS {
        let store = store.clone();
        tasks.spawn(async move { store.take_approval(id, NOW).await.unwrap() });
    }
    let mut nonces = Vec::new();
    while let Some(taken) = tasks.join_next().await {
        if let Some(a) = taken.unwrap() {
            nonces.push(a.approval.nonce);
        }
    }
    let distinct: std::collections::HashSet<_> = nonces.iter().collect();
    assert_eq!(distinct.len(), nonces.len(), "an approval was taken twice");
    assert!(nonces.len() <= APPROVALS);
    // Whatever a lost race left behind can still be taken afterwards.
    while store.take_approval(id, NOW).await.unwrap().is_some() {
        nonces.push(Nonce([0; 16]));
    }
    assert_eq!(nonces.len(), APPROVALS);
}

store_test!(runs_and_attached_diagnostics_show_on_the_ticket);
async fn runs_and_attached_diagnostics_show_on_the_ticket(store: Store) {
    let f = fixture(&store).await;
    let s = f.script(b"echo hi");
    store.insert_script(&s, NOW).await.unwrap();
    let id = s.script.manifest.script_id;
    let first = run_record(id, NOW, "héllo\n");
    let mut refused = run_record(id, Timestamp(NOW.0 + 1), "");
    refused.outcome = None;
    refused.refusal = Some("the approval expired".into());
    store.insert_run(f.ticket, &first).await.unwrap();
    store.insert_run(f.ticket, &refused).await.unwrap();
    let mut report = DiagnosticsReport {
        snapshot: sample_snapshot(),
        software: None,
        services: Some(vec![]),
    };
    report.snapshot.cpu.usage_percent = f32::NAN;
    let attached = AttachedDiagnostics {
        taken_at: NOW,
        taken_by: "bob".into(),
        report,
    };
    store.attach_diagnostics(f.ticket, &attached).await.unwrap();
    let detail = store.ticket_detail(f.ticket).await.unwrap().unwrap();
    assert_eq!(detail.script_runs, [first.clone(), refused.clone()]);
    assert_eq!(detail.attached_diagnostics.len(), 1);
    assert_eq!(detail.attached_diagnostics[0].taken_by, "bob");
    assert_eq!(
        detail.attached_diagnostics[0]
            .report
            .snapshot
            .cpu
            .usage_percent,
        0.0
    );
    assert_eq!(
        store.runs(RunsOf::Script(id), 10).await.unwrap(),
        [first, refused]
    );
    assert!(store
        .runs(RunsOf::Script(ScriptId::new_random()), 10)
        .await
        .unwrap()
        .is_empty());
}

store_test!(a_full_size_run_still_fits_in_the_ticket_view);
async fn a_full_size_run_still_fits_in_the_ticket_view(store: Store) {
    use triage_shared::remote::MAX_SCRIPT_OUTPUT;
    let f = fixture(&store).await;
    let s = f.script(b"yes");
    store.insert_script(&s, NOW).await.unwrap();
    let id = s.script.manifest.script_id;
    for i in 0..3 {
        let big = run_record(
            id,
            Timestamp(NOW.0 + i),
            &"y\n".repeat(MAX_SCRIPT_OUTPUT / 2),
        );
        store.insert_run(f.ticket, &big).await.unwrap();
    }
    let detail = store.ticket_detail(f.ticket).await.unwrap().unwrap();
    assert_eq!(detail.script_runs.len(), 3);
    assert!(detail.script_runs[2].output.contains("not shown here"));
    let response = triage_shared::protocol::Response::Ticket(Box::new(detail));
    assert!(triage_shared::codec::encode(&response).is_ok());
}
