//! Remediation scripts: signed by their author, approved by a different
//! person, verified by the endpoint itself, run with output and exit code
//! recorded on the ticket; every refusal reaches the technician and the audit log.

use std::time::Duration;
use triage_e2e::{Agent, Deployment, Technician};
use triage_shared::approval::{
    Approval, Interpreter, Nonce, OrgPolicy, ScriptDigest, ScriptId, ScriptManifest, SignedScript,
    TrustedApprover,
};
use triage_shared::identity::KeyPair;
use triage_shared::remote::{AgentCommand, AgentReply, RunEvent, RunId, RunOrder};
use triage_shared::roles::Role;
use triage_shared::ticket::{Category, Priority};
use triage_shared::time::Timestamp;
use triage_shared::{AgentId, TicketId};

struct Setup {
    d: Deployment,
    org: KeyPair,
    alice: Technician,
    carol: Technician,
    agent: Agent,
    ticket: String,
}

/// An org with carol as the one trusted approver, alice as an L2 author,
/// and an enrolled, running agent with a ticket.
async fn setup() -> Setup {
    let d = Deployment::start().await;
    let org = d.relay().init_org().await.expect("org init");
    let alice = d.technician("alice", &[Role::L2]).await;
    let carol = d.technician("carol", &[Role::Approver]).await;
    let version = d
        .relay()
        .publish_policy(&org)
        .await
        .expect("policy published");
    let mut agent = d.enroll_agent("endpoint").await;
    agent.start_daemon();
    assert!(
        agent.wait_for_policy(version).await,
        "agent never installed the org policy"
    );
    let ticket = triage_agent::file_ticket(
        &agent.state_dir,
        triage_agent::HelpRequest {
            title: "Print spooler stuck".into(),
            description: String::new(),
            category: Category::Hardware,
            priority: Priority::Normal,
            requester: "dave".into(),
            screenshot: None,
        },
    )
    .await
    .unwrap()
    .to_string();
    Setup {
        d,
        org,
        alice,
        carol,
        agent,
        ticket,
    }
}

fn script_id_from(out: &str) -> String {
    out.split_whitespace()
        .find(|w| w.len() == 36 && w.chars().filter(|c| *c == '-').count() == 4)
        .unwrap_or_else(|| panic!("no script id in {out}"))
        .to_string()
}

async fn attach(s: &Setup, body: &str, extra: &[&str]) -> String {
    let file = s.d.dir.path().join(format!("script-{}.sh", rand_suffix()));
    std::fs::write(&file, body).unwrap();
    let path = file.display().to_string();
    let mut args = vec!["script", "attach", &s.ticket, &path];
    args.extend_from_slice(extra);
    script_id_from(&s.alice.run(&args).await.expect("attach"))
}

fn rand_suffix() -> String {
    Nonce::generate().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approved_script_runs_and_its_output_and_exit_code_land_on_the_ticket() {
    let s = setup().await;
    let script = attach(
        &s,
        "echo fixed\necho 'spooler warning' >&2\n",
        &["--timeout", "30s", "--description", "restart spooler"],
    )
    .await;

    // Not approved yet: the relay will not even send it.
    let err = s
        .alice
        .refused(&["script", "run", &s.ticket, &script])
        .await;
    assert!(err.contains("approv"), "{err}");

    // The author cannot approve their own script.
    let err = s
        .alice
        .refused(&["script", "approve", &s.ticket, &script])
        .await;
    assert!(err.contains("approv"), "{err}");

    s.carol
        .run(&["script", "approve", &s.ticket, &script, "--expires", "1h"])
        .await
        .expect("approve");
    let out = s
        .alice
        .run(&["script", "run", &s.ticket, &script])
        .await
        .expect("run");
    assert!(out.contains("fixed"), "{out}");
    assert!(out.contains("spooler warning"), "{out}");
    assert!(out.contains("exit code 0"), "{out}");

    // The approval was single-use.
    let err = s
        .alice
        .refused(&["script", "run", &s.ticket, &script])
        .await;
    assert!(err.contains("approv"), "{err}");

    // A failing script reports its exit code.
    let failing = attach(&s, "echo trying\nexit 3\n", &[]).await;
    s.carol
        .run(&["script", "approve", &s.ticket, &failing])
        .await
        .unwrap();
    let err = s
        .alice
        .refused(&["script", "run", &s.ticket, &failing])
        .await;
    assert!(err.contains('3'), "{err}");

    let detail =
        s.d.admin
            .json(&["tickets", "show", &s.ticket, "--json"])
            .await;
    let runs = detail["script_runs"]
        .as_array()
        .expect("script runs on the ticket");
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(runs[0]["outcome"]["exit_code"], 0);
    assert!(runs[0]["output"].as_str().unwrap().contains("fixed"));
    assert_eq!(runs[1]["outcome"]["exit_code"], 3);

    // Every step is in the audit log, and the chain verifies.
    let audit = s.d.admin.json(&["audit", "--json"]).await.to_string();
    for action in ["enroll", "attach", "approve", "run"] {
        assert!(audit.contains(action), "audit lacks {action}: {audit}");
    }
    let verified =
        s.d.admin
            .run(&["audit", "verify"])
            .await
            .expect("audit verifies");
    assert!(verified.contains("intact"), "{verified}");
}

/// Builds what a relay would send, signed by whoever the test chooses.
fn order(
    s: &Setup,
    content: &[u8],
    signed_for: &[u8],
    approver: &KeyPair,
    edit: impl FnOnce(&mut Approval),
) -> RunOrder {
    approved(
        s,
        signed_script(s, signed_for, Interpreter::Sh, 30),
        content,
        approver,
        edit,
    )
}

/// An order for `script`, approved by `approver` after `edit`.
fn approved(
    s: &Setup,
    script: SignedScript,
    content: &[u8],
    approver: &KeyPair,
    edit: impl FnOnce(&mut Approval),
) -> RunOrder {
    let mut approval = Approval {
        script_id: script.manifest.script_id,
        digest: script.manifest.digest,
        ticket_id: script.manifest.ticket_id,
        agent_id: s.agent.id,
        expires_at: Timestamp::now().plus(Duration::from_secs(600)),
        nonce: Nonce::generate(),
        approver: "carol".into(),
        approver_key: approver.public_key(),
    };
    edit(&mut approval);
    RunOrder {
        run_id: RunId::new_random(),
        script,
        content: content.to_vec(),
        approval: approval.sign(approver),
    }
}

fn signed_script(
    s: &Setup,
    content: &[u8],
    interpreter: Interpreter,
    timeout_secs: u64,
) -> SignedScript {
    ScriptManifest {
        script_id: ScriptId::new_random(),
        ticket_id: s.ticket.parse().unwrap(),
        digest: ScriptDigest::of(content),
        interpreter,
        timeout_secs,
        author: "alice".into(),
        author_key: s.alice.key().public_key(),
        description: String::new(),
        created_at: Timestamp::now(),
    }
    .sign(&s.alice.key())
}

fn valid_order(s: &Setup, content: &[u8]) -> RunOrder {
    order(s, content, content, &s.carol.key(), |_| {})
}

async fn send(s: &Setup, order: RunOrder) -> Vec<AgentReply> {
    s.d.relay()
        .send_agent_command(s.agent.id, AgentCommand::RunScript(Box::new(order)))
        .await
        .expect("agent answers")
}

fn refusal(replies: &[AgentReply]) -> String {
    match replies {
        [AgentReply::Run(RunEvent::Refused(r))] => r.to_string(),
        other => panic!("expected exactly one refusal, got {other:?}"),
    }
}

fn finished(replies: &[AgentReply]) -> (triage_shared::remote::RunOutcome, String) {
    let mut output = Vec::new();
    for r in replies {
        match r {
            AgentReply::Run(RunEvent::Output { data, .. }) => output.extend_from_slice(data),
            AgentReply::Run(RunEvent::Finished(outcome)) => {
                return (
                    outcome.clone(),
                    String::from_utf8_lossy(&output).into_owned(),
                )
            }
            AgentReply::Run(RunEvent::Started) => {}
            other => panic!("unexpected reply {other:?}"),
        }
    }
    panic!("run never finished: {replies:?}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_relay_cannot_make_the_agent_run_anything() {
    let mut s = setup().await;
    let relay_key = KeyPair::generate();
    let marker = s.d.dir.path().join("pwned");
    let evil = format!("touch {}\n", marker.display());

    // Approval signed by a key the relay made up.
    let r = send(
        &s,
        order(&s, evil.as_bytes(), evil.as_bytes(), &relay_key, |_| {}),
    )
    .await;
    assert!(refusal(&r).contains("not a trusted approver"), "{r:?}");

    // A policy naming the relay's key, signed by the relay instead of the org.
    let forged_policy = OrgPolicy {
        version: 99,
        approvers: vec![TrustedApprover {
            name: "relay".into(),
            key: relay_key.public_key(),
        }],
        issued_at: Timestamp::now(),
    }
    .sign(&relay_key);
    let r =
        s.d.relay()
            .send_agent_command(
                s.agent.id,
                AgentCommand::InstallPolicy(Box::new(forged_policy)),
            )
            .await
            .unwrap();
    assert!(matches!(r.as_slice(), [AgentReply::Error(_)]), "{r:?}");
    let r = send(
        &s,
        order(&s, evil.as_bytes(), evil.as_bytes(), &relay_key, |_| {}),
    )
    .await;
    assert!(
        refusal(&r).contains("not a trusted approver"),
        "forged policy was installed: {r:?}"
    );

    // An org-signed policy with an older version is refused too.
    let stale = OrgPolicy {
        version: 0,
        approvers: vec![TrustedApprover {
            name: "relay".into(),
            key: relay_key.public_key(),
        }],
        issued_at: Timestamp::now(),
    }
    .sign(&s.org);
    let r =
        s.d.relay()
            .send_agent_command(s.agent.id, AgentCommand::InstallPolicy(Box::new(stale)))
            .await
            .unwrap();
    assert!(
        matches!(r.as_slice(), [AgentReply::Error(e)] if e.message.contains("version")),
        "{r:?}"
    );

    // Script changed after approval.
    let r = send(
        &s,
        order(
            &s,
            evil.as_bytes(),
            b"echo harmless\n",
            &s.carol.key(),
            |_| {},
        ),
    )
    .await;
    assert!(
        refusal(&r).contains("does not match its signed digest"),
        "{r:?}"
    );

    // Approved by the author (even if the relay claims a trusted name).
    let alice = s.alice.key();
    let r = send(
        &s,
        order(&s, evil.as_bytes(), evil.as_bytes(), &alice, |a| {
            a.approver = "alice".into()
        }),
    )
    .await;
    let reason = refusal(&r);
    assert!(
        reason.contains("not a trusted approver") || reason.contains("own script"),
        "{reason}"
    );

    // Addressed to another agent, or another ticket.
    let r = send(
        &s,
        order(&s, evil.as_bytes(), evil.as_bytes(), &s.carol.key(), |a| {
            a.agent_id = AgentId::new_random()
        }),
    )
    .await;
    assert!(refusal(&r).contains("not this agent"), "{r:?}");
    let r = send(
        &s,
        order(&s, evil.as_bytes(), evil.as_bytes(), &s.carol.key(), |a| {
            a.ticket_id = TicketId::new_random()
        }),
    )
    .await;
    assert!(refusal(&r).contains("ticket"), "{r:?}");

    // Expired.
    let r = send(
        &s,
        order(&s, evil.as_bytes(), evil.as_bytes(), &s.carol.key(), |a| {
            a.expires_at = Timestamp(Timestamp::now().millis() - 1000)
        }),
    )
    .await;
    assert!(refusal(&r).contains("expired"), "{r:?}");

    assert!(!marker.exists(), "a refused script ran");

    // A valid order runs once; replaying it is refused, also after a restart.
    let ok = valid_order(&s, b"echo once\n");
    let (outcome, out) = finished(&send(&s, ok.clone()).await);
    assert_eq!(outcome.exit_code, Some(0));
    assert!(out.contains("once"));
    let r = send(&s, ok.clone()).await;
    assert!(refusal(&r).contains("already used"), "{r:?}");
    s.agent.stop_daemon().await;
    s.agent.start_daemon();
    let back = triage_e2e::eventually(Duration::from_secs(30), || async {
        s.d.relay().is_agent_online(s.agent.id)
    })
    .await;
    assert!(back, "agent did not come back");
    let r = send(&s, ok).await;
    assert!(
        refusal(&r).contains("already used"),
        "replay accepted after restart: {r:?}"
    );
    s.agent.stop_daemon().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_are_bounded_in_time_output_and_interpreter() {
    let mut s = setup().await;

    // Timeout: the script and the child it started are both killed.
    let pidfile = s.d.dir.path().join("child.pid");
    let sleeper = format!("sleep 120 &\necho $! > {}\nsleep 120\n", pidfile.display());
    let one_second = signed_script(&s, sleeper.as_bytes(), Interpreter::Sh, 1);
    let o = approved(&s, one_second, sleeper.as_bytes(), &s.carol.key(), |_| {});
    let (outcome, _) = finished(&send(&s, o).await);
    assert!(outcome.timed_out, "{outcome:?}");
    assert_eq!(outcome.exit_code, None);
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let alive = triage_e2e::eventually(Duration::from_secs(5), || async move {
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|st| st.contains(") Z "))
    })
    .await;
    assert!(alive, "the script's child {pid} survived the timeout");

    // Output beyond the cap is counted and reported, not silently dropped.
    let produced = triage_shared::remote::MAX_SCRIPT_OUTPUT + 500_000;
    let flood = format!("head -c {produced} /dev/zero | tr '\\0' x\n");
    let (outcome, out) = finished(&send(&s, valid_order(&s, flood.as_bytes())).await);
    assert!(outcome.truncated, "{outcome:?}");
    assert_eq!(outcome.output_bytes, produced as u64);
    assert_eq!(out.len(), triage_shared::remote::MAX_SCRIPT_OUTPUT);

    // An interpreter the endpoint's config does not allow.
    std::fs::write(
        s.agent.state_dir.join(triage_agent::CONFIG_FILE),
        "allowed_interpreters = [\"bash\"]\n",
    )
    .unwrap();
    s.agent.stop_daemon().await;
    s.agent.start_daemon();
    let back = triage_e2e::eventually(Duration::from_secs(30), || async {
        s.d.relay().is_agent_online(s.agent.id)
    })
    .await;
    assert!(back, "agent did not come back");
    let r = send(&s, valid_order(&s, b"echo hi\n")).await;
    assert!(
        refusal(&r).contains("interpreter sh is not allowed"),
        "{r:?}"
    );
    s.agent.stop_daemon().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_audit_entry_is_found_and_named() {
    let s = setup().await;
    s.d.admin
        .run(&["audit", "verify"])
        .await
        .expect("intact at first");
    let db = s.d.dir.path().join("relay").join("relay.db");
    let url = format!("sqlite://{}", db.display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("UPDATE audit_log SET outcome = 'ok (edited)' WHERE seq = 2")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let err = s.d.admin.refused(&["audit", "verify"]).await;
    assert!(err.contains("entry 2"), "{err}");
}
