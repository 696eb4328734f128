//! The relay taken over: each test holds what an attacker on the relay host
//! holds (its store, written directly, and its keys, used through the
//! relay's own agent link) and tries one way to get code run on an
//! endpoint. Each ends with the endpoint's marker file absent and the
//! refusal seen by the technician and recorded in the audit log, or, for
//! ticket news the relay pushes, refused by the agent or kept only to show.

use std::path::PathBuf;
use std::time::Duration;
use triage_e2e::scripts::{refusal, setup, Setup};
use triage_shared::approval::{
    Interpreter, Roster, RosterEntry, ScriptId, SignedApproval, SignedScript,
};
use triage_shared::identity::KeyPair;
use triage_shared::news::TicketNews;
use triage_shared::remote::{AgentCommand, AgentReply};
use triage_shared::roles::Role;
use triage_shared::time::Timestamp;

/// What the attacker holds: the relay's database, written behind its back.
struct Attacker {
    pool: sqlx::SqlitePool,
}

impl Attacker {
    async fn of(s: &Setup) -> Attacker {
        let db = s.d.dir.path().join("relay").join("relay.db");
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
            .await
            .expect("the attacker opens the relay's database");
        Attacker { pool }
    }

    /// Replaces a stored script's manifest, signature and content.
    async fn replace_script(&self, id: ScriptId, script: &SignedScript, content: &[u8]) {
        sqlx::query(
            "UPDATE scripts SET manifest_json = $1, signature = $2, content_hex = $3 WHERE script_id = $4",
        )
        .bind(serde_json::to_string(&script.manifest).unwrap())
        .bind(String::from(script.signature))
        .bind(hex(content))
        .bind(id.to_string())
        .execute(&self.pool)
        .await
        .unwrap();
    }

    async fn replace_org_key(&self, key: &KeyPair) {
        sqlx::query("UPDATE org_key SET public_key = $1 WHERE id = 1")
            .bind(key.public_key().to_string())
            .execute(&self.pool)
            .await
            .unwrap();
    }

    async fn delete_rosters_above(&self, version: u64) {
        sqlx::query("DELETE FROM org_rosters WHERE version > $1")
            .bind(version as i64)
            .execute(&self.pool)
            .await
            .unwrap();
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn marker(s: &Setup) -> PathBuf {
    s.d.dir.path().join("pwned")
}

fn evil(s: &Setup) -> String {
    format!("touch {}\n", marker(s).display())
}

/// Attaches `body` as alice through the CLI; returns the script id.
async fn attach(s: &Setup, body: &str) -> ScriptId {
    let file = s.d.dir.path().join("fix.sh");
    std::fs::write(&file, body).unwrap();
    let out = s
        .alice
        .run(&["script", "attach", &s.ticket, file.to_str().unwrap()])
        .await
        .expect("attach");
    let id = out
        .split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("no script id in {out}"));
    id.parse().expect("script id")
}

async fn stored(s: &Setup, id: ScriptId) -> SignedScript {
    s.d.relay()
        .store()
        .script(s.ticket.parse().unwrap(), id)
        .await
        .expect("stored script")
        .script
}

/// `triage script run` as alice: must be refused by the agent; returns the message.
async fn run_refused(s: &Setup, id: ScriptId) -> String {
    let err = s
        .alice
        .refused(&["script", "run", &s.ticket, &id.to_string()])
        .await;
    assert!(
        err.starts_with("the agent refused to run the script"),
        "not refused by the agent: {err}"
    );
    err
}

/// The audit log records a refused `script.run` carrying `reason`.
async fn audited_refusal(s: &Setup, reason: &str) {
    let audit = s.d.admin.json(&["audit", "--json"]).await;
    let found = audit.as_array().unwrap().iter().any(|e| {
        e["action"] == "script.run"
            && e["outcome"]
                .as_str()
                .is_some_and(|o| o.contains("refused") && o.contains(reason))
    });
    assert!(found, "no refused script.run with {reason:?} in {audit:#}");
}

fn assert_nothing_ran(s: &Setup) {
    assert!(!marker(s).exists(), "the attacker's script ran");
}

/// carol's own signature on `script`, as if she had been tricked into it:
/// the strongest position an attacker can reach without the org key.
fn carols_approval(s: &Setup, script: &SignedScript) -> SignedApproval {
    s.approved(script.clone(), b"", &s.carol.key(), |_| {})
        .approval
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manifest_re_signed_by_a_fresh_key_under_a_roster_authors_name_never_runs() {
    let s = setup().await;
    let attacker = Attacker::of(&s).await;
    let id = attach(&s, "echo harmless\n").await;
    // carol reviews and approves the real script.
    s.approve(&id.to_string(), &[]).await.expect("approve");

    // Then the stored script becomes the attacker's, signed "alice" with a fresh key.
    let fresh = KeyPair::generate();
    let mut m = stored(&s, id).await.manifest;
    let evil = evil(&s);
    m.digest = triage_shared::approval::ScriptDigest::of(evil.as_bytes());
    m.author_key = fresh.public_key();
    let forged = m.sign(&fresh);
    attacker.replace_script(id, &forged, evil.as_bytes()).await;

    // An approver shown it refuses to sign it.
    let err = s.approve(&id.to_string(), &[]).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("not an author on the organisation's roster"),
        "{err}"
    );
    // Run with the approval carol gave the real script: the endpoint refuses.
    let err = run_refused(&s, id).await;
    assert!(
        err.contains("not an author on this agent's organisation roster"),
        "{err}"
    );
    audited_refusal(&s, "not an author").await;
    assert_nothing_ran(&s);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_author_added_only_in_the_store_cannot_get_a_script_run() {
    let s = setup().await;
    // `triage-relay technician add mallory --role l2` on the relay host.
    let mallory = s.d.technician("mallory", &[Role::L2]).await;
    let file = s.d.dir.path().join("evil.sh");
    std::fs::write(&file, evil(&s)).unwrap();
    let out = mallory
        .run(&["script", "attach", &s.ticket, file.to_str().unwrap()])
        .await
        .expect("the relay lets mallory attach");
    let id: ScriptId = out.split_whitespace().nth(1).unwrap().parse().unwrap();

    // carol's CLI checks the author against the org-signed roster.
    let err = s.approve(&id.to_string(), &[]).await.unwrap_err();
    assert!(
        err.to_string().contains("`mallory`")
            && err
                .to_string()
                .contains("not an author on the organisation's roster"),
        "{err}"
    );
    // Even with carol's own signature on it, the endpoint refuses.
    let script = stored(&s, id).await;
    s.d.relay()
        .store()
        .insert_approval(&carols_approval(&s, &script), Timestamp::now())
        .await
        .unwrap();
    let err = mallory
        .refused(&["script", "run", &s.ticket, &id.to_string()])
        .await;
    assert!(
        err.contains("author `mallory`") && err.contains("not an author"),
        "{err}"
    );
    audited_refusal(&s, "mallory").await;
    assert_nothing_ran(&s);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_interpreter_timeout_or_target_changed_after_approval_never_runs() {
    let s = setup().await;
    let attacker = Attacker::of(&s).await;
    let evil = evil(&s);
    type Edit = fn(&mut triage_shared::approval::ScriptManifest);
    let edits: [(&str, Option<Edit>, &str); 4] = [
        ("content", None, "does not match its signed digest"),
        (
            "interpreter",
            Some(|m| m.interpreter = Interpreter::Bash),
            "signature on the script does not verify",
        ),
        (
            "timeout",
            Some(|m| m.timeout_secs = 6 * 3600),
            "signature on the script does not verify",
        ),
        (
            "target",
            Some(|m| m.targets = vec![triage_shared::AgentId::new_random()]),
            "signature on the script does not verify",
        ),
    ];
    for (what, edit, expected) in edits {
        let id = attach(&s, "echo harmless\n").await;
        s.approve(&id.to_string(), &[]).await.expect("approve");
        let mut script = stored(&s, id).await;
        let content = match edit {
            // New bytes under the approved manifest.
            None => evil.clone().into_bytes(),
            Some(edit) => {
                edit(&mut script.manifest);
                b"echo harmless\n".to_vec()
            }
        };
        attacker.replace_script(id, &script, &content).await;
        let err = run_refused(&s, id).await;
        assert!(err.contains(expected), "{what}: {err}");
        audited_refusal(&s, expected).await;
    }
    assert_nothing_ran(&s);

    // Re-signed by the real author after approval (say, alice was fooled):
    // the approval covers the old manifest, so it still does not run.
    let id = attach(&s, "echo harmless\n").await;
    s.approve(&id.to_string(), &[]).await.expect("approve");
    let mut m = stored(&s, id).await.manifest;
    m.digest = triage_shared::approval::ScriptDigest::of(evil.as_bytes());
    m.interpreter = Interpreter::Bash;
    attacker
        .replace_script(id, &m.sign(&s.alice.key()), evil.as_bytes())
        .await;
    let err = run_refused(&s, id).await;
    assert!(err.contains("changed after approval"), "{err}");
    audited_refusal(&s, "changed after approval").await;
    assert_nothing_ran(&s);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_org_key_swapped_in_the_store_never_reaches_a_new_endpoint() {
    let s = setup().await;
    let attacker = Attacker::of(&s).await;
    let fake_org = KeyPair::generate();
    attacker.replace_org_key(&fake_org).await;

    // The admin's CLI puts its own pinned key into the token.
    let token = s.d.admin.run(&["tokens", "create"]).await.expect("token");
    let token: triage_shared::token::EnrollmentToken = token.trim().parse().unwrap();
    assert_eq!(token.org_key, Some(s.d.org().public_key()));
    // Minting on the relay host with the key from the admin's records is refused.
    let pinned = triage_relay::admin::PinnedOrg {
        key: s.d.org().public_key(),
        min_roster: 0,
    };
    let err =
        s.d.relay()
            .create_token_for_org(1, Duration::from_secs(60), pinned)
            .await
            .unwrap_err();
    assert!(err.to_string().contains("the store was changed"), "{err}");
    let audit = s.d.admin.json(&["audit", "--json"]).await.to_string();
    assert!(audit.contains("the store was changed"), "{audit}");

    // A new endpoint enrolled with the CLI's token pins the real key.
    let state = s.d.dir.path().join("agent-new");
    triage_agent::enroll(&state, &token).await.expect("enroll");
    assert_eq!(
        triage_agent::status(&state).unwrap().org_key,
        Some(s.d.org().public_key().to_string())
    );

    // Whatever the attacker's org key signs, the running endpoint ignores.
    let mallory = KeyPair::generate();
    let forged = Roster {
        version: 99,
        entries: vec![
            RosterEntry {
                name: "alice".into(),
                roles: vec![Role::L2, Role::Approver],
                key: mallory.public_key(),
                expires_at: None,
            },
            RosterEntry {
                name: "carol".into(),
                roles: vec![Role::Approver],
                key: fake_org.public_key(),
                expires_at: None,
            },
        ],
        issued_at: Timestamp::now(),
        expires_at: Timestamp::now().plus(Duration::from_secs(3600)),
    }
    .sign(&fake_org);
    let r = s
        .send_command(AgentCommand::InstallRoster(Box::new(forged)))
        .await;
    assert!(
        matches!(r.as_slice(), [AgentReply::Error(e)] if e.message.contains("not signed by the organisation key")),
        "{r:?}"
    );
    let evil = evil(&s);
    let mut m = s.manifest(evil.as_bytes());
    m.author_key = mallory.public_key();
    let script = m.sign(&mallory);
    let order = s.approved(script, evil.as_bytes(), &fake_org, |_| {});
    assert!(refusal(&s.send(order).await).contains("not an author"));
    assert_nothing_ran(&s);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_roster_rolled_back_or_expired_is_refused() {
    let mut s = setup().await;
    let attacker = Attacker::of(&s).await;
    let org = KeyPair::from_file_text(&s.d.org().to_file_text()).unwrap();
    // Version 1 names alice. The organisation then signs version 2 without her.
    let v1 = s.d.relay().store().latest_roster().await.unwrap().unwrap();
    let mut v2 = v1.roster.clone();
    v2.version = 2;
    v2.entries.retain(|e| e.name != "alice");
    s.d.relay().publish_roster(&v2.sign(&org)).await.unwrap();
    assert!(
        s.agent.wait_for_roster(2).await,
        "agent never took version 2"
    );
    // carol's CLI sees version 2 (any roster check remembers the version).
    let shown = s.carol.run(&["roster", "show"]).await.expect("roster show");
    assert!(shown.contains("Roster version 2"), "{shown}");

    // The attacker deletes version 2 and pushes version 1 again, also after a restart.
    attacker.delete_rosters_above(1).await;
    let r = s
        .send_command(AgentCommand::InstallRoster(Box::new(v1.clone())))
        .await;
    assert!(
        matches!(r.as_slice(), [AgentReply::Error(e)] if e.message.contains("never rolled back")),
        "{r:?}"
    );
    std::fs::remove_file(s.agent.state_dir.join(triage_agent::ROSTER_FILE)).unwrap();
    s.restart_agent().await;
    // alice's script, approved by carol, does not run: she is not on version 2.
    let evil = evil(&s);
    let order = s.valid_order(evil.as_bytes());
    assert!(refusal(&s.send(order).await).contains("no organisation roster"));
    // The approver's CLI, which verified version 2 before, refuses the old one too.
    let id = attach(&s, "echo harmless\n").await;
    let err = s.approve(&id.to_string(), &[]).await.unwrap_err();
    assert!(err.to_string().contains("rolling it back"), "{err}");

    // An expired org-signed roster is refused, and once the installed one
    // expires nothing runs.
    let mut short = v1.roster.clone();
    short.version = 3;
    short.expires_at = Timestamp::now().plus(Duration::from_secs(10));
    let short = short.sign(&org);
    s.d.relay().publish_roster(&short).await.unwrap();
    assert!(
        s.agent.wait_for_roster(3).await,
        "agent never took version 3"
    );
    let approved = s
        .approve(&id.to_string(), &[])
        .await
        .expect("approve under v3");
    assert!(approved.contains("approved by carol"), "{approved}");
    let left = short.roster.expires_at.since(Timestamp::now());
    tokio::time::sleep(left + Duration::from_millis(500)).await;
    let err = run_refused(&s, id).await;
    assert!(
        err.contains("expired") && err.contains("no script runs"),
        "{err}"
    );
    audited_refusal(&s, "expired").await;
    let r = s
        .send_command(AgentCommand::InstallRoster(Box::new(short)))
        .await;
    assert!(matches!(r.as_slice(), [AgentReply::Error(_)]), "{r:?}");
    assert_nothing_ran(&s);
    s.agent.stop_daemon().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_replayed_even_after_a_restart_is_refused() {
    let mut s = setup().await;
    let once = format!("echo ran >> {}\n", marker(&s).display());
    let order = s.valid_order(once.as_bytes());
    let first = s.send(order.clone()).await;
    assert!(
        matches!(
            first.last(),
            Some(AgentReply::Run(triage_shared::remote::RunEvent::Finished(
                _
            )))
        ),
        "{first:?}"
    );
    assert!(refusal(&s.send(order.clone()).await).contains("already used"));
    s.restart_agent().await;
    assert!(refusal(&s.send(order.clone()).await).contains("already used"));
    // It ran exactly once.
    assert_eq!(std::fs::read_to_string(marker(&s)).unwrap(), "ran\n");

    // An approval made by the relay's own key, or for longer than allowed, never runs.
    let relay_key = KeyPair::generate();
    let evil = format!("echo evil >> {}\n", marker(&s).display());
    let script = s.signed_script(evil.as_bytes(), Interpreter::Sh, 30);
    let forged = s.approved(script.clone(), evil.as_bytes(), &relay_key, |_| {});
    assert!(refusal(&s.send(forged).await).contains("not an approver"));
    let long = s.approved(script, evil.as_bytes(), &s.carol.key(), |a| {
        a.expires_at = a.approved_at.plus(Duration::from_secs(30 * 86_400))
    });
    assert!(refusal(&s.send(long).await).contains("longer than the 7 days"));
    assert_eq!(std::fs::read_to_string(marker(&s)).unwrap(), "ran\n");
    s.agent.stop_daemon().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_replayed_after_the_clock_went_forward_and_back_is_refused() {
    let mut s = setup().await;
    let once = format!("echo ran >> {}\n", marker(&s).display());
    let order = s.valid_order(once.as_bytes());
    let first = s.send(order.clone()).await;
    assert!(
        matches!(
            first.last(),
            Some(AgentReply::Run(triage_shared::remote::RunEvent::Finished(
                _
            )))
        ),
        "{first:?}"
    );
    // The endpoint's clock ran 30 days ahead for a while: a restart then
    // forgets the nonce, whose approval looks long expired.
    s.agent.stop_daemon().await;
    let ahead = Timestamp::now().plus(Duration::from_secs(30 * 86_400));
    std::fs::write(
        s.agent.state_dir.join("clock-floor"),
        format!("{}\n", ahead.millis()),
    )
    .unwrap();
    s.restart_agent().await;
    let nonces = std::fs::read_to_string(s.agent.state_dir.join(triage_agent::NONCE_FILE))
        .unwrap_or_default();
    assert!(
        !nonces.contains(&order.approval.approval.nonce.to_string()),
        "the nonce should have been pruned, or this test shows nothing"
    );
    // The clock is back to real time and the attacker replays the approval,
    // still unexpired by the wall clock: the agent's time never went back.
    let reason = refusal(&s.send(order).await);
    assert!(reason.starts_with("the approval expired"), "{reason}");
    assert_eq!(std::fs::read_to_string(marker(&s)).unwrap(), "ran\n");
    s.agent.stop_daemon().await;
}

/// Ticket news as the taken relay sends it over its own agent link.
fn news(s: &Setup, title: &str, replies: Vec<triage_shared::ticket::Comment>) -> TicketNews {
    TicketNews {
        id: s.ticket.parse().expect("ticket id"),
        title: title.into(),
        requester: "dave".into(),
        status: triage_shared::ticket::Status::Resolved,
        updated_at: Timestamp::now(),
        replies,
    }
}

fn reply(text: &str, internal: bool) -> triage_shared::ticket::Comment {
    triage_shared::ticket::Comment {
        id: triage_shared::ids::CommentId::new_random(),
        author: "mallory".into(),
        text: text.into(),
        created_at: Timestamp::now(),
        internal,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticket_news_pushed_by_a_taken_relay_is_only_shown_never_run() {
    let s = setup().await;
    let inbox = s.agent.state_dir.join(triage_agent::inbox::INBOX_FILE);
    let refused = |replies: &[AgentReply]| {
        matches!(
            replies,
            [AgentReply::Error(e)] if e.kind == triage_shared::error::ErrorKind::InvalidInput
        )
    };

    // Out of bounds: refused whole, nothing kept.
    let too_many = (0..4).map(|_| reply("hi", false)).collect();
    let internal = vec![reply("internal: the user is difficult", true)];
    let terminal = vec![reply("\u{1b}]0;owned\u{7}", false)];
    for (what, replies) in [
        ("four replies", too_many),
        ("an internal note", internal),
        ("escape codes", terminal),
    ] {
        let answer = s
            .send_command(AgentCommand::TicketNews(vec![news(
                &s,
                "Refused news",
                replies,
            )]))
            .await;
        assert!(refused(&answer), "{what}: {answer:?}");
    }
    let crowd = (0..triage_shared::news::MAX_NEWS_TICKETS + 1)
        .map(|_| news(&s, "Refused news", Vec::new()))
        .collect();
    assert!(refused(
        &s.send_command(AgentCommand::TicketNews(crowd)).await
    ));
    let kept = std::fs::read_to_string(&inbox).unwrap_or_default();
    assert!(!kept.contains("Refused news"), "{kept}");

    // Within bounds, a command in the text is text: kept to show, never run.
    let evil = evil(&s);
    let answer = s
        .send_command(AgentCommand::TicketNews(vec![news(
            &s,
            "Run this: $(touch /tmp/x)",
            vec![reply(evil.trim_end(), false)],
        )]))
        .await;
    assert!(
        matches!(answer.as_slice(), [AgentReply::NewsTaken { count: 1 }]),
        "{answer:?}"
    );
    let kept = std::fs::read_to_string(&inbox).expect("inbox kept");
    assert!(kept.contains("Run this"), "{kept}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_nothing_ran(&s);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_fix_named_by_a_taken_relay_is_only_shown_and_still_needs_a_real_approval() {
    let s = setup().await;
    let attacker = Attacker::of(&s).await;
    let id = attach(&s, "echo harmless\n").await;
    s.approve(&id.to_string(), &[]).await.expect("approve");
    // A real article names the approved script as the known fix.
    let harmless = triage_shared::approval::ScriptDigest::of(b"echo harmless\n");
    let body = s.d.dir.path().join("article.md");
    std::fs::write(&body, "Restart the spooler with the known fix.").unwrap();
    s.alice
        .run(&[
            "kb",
            "add",
            "--title",
            "Printing stuck",
            "--body",
            body.to_str().unwrap(),
            "--script",
            &harmless.to_string(),
        ])
        .await
        .expect("kb add");

    // The attacker swaps the script for theirs, re-signed under alice's
    // name with a fresh key, and points the article at it, with a command
    // in its text for the employee's window.
    let fresh = KeyPair::generate();
    let mut m = stored(&s, id).await.manifest;
    let evil = evil(&s);
    m.digest = triage_shared::approval::ScriptDigest::of(evil.as_bytes());
    m.author_key = fresh.public_key();
    let evil_digest = m.digest;
    let forged = m.sign(&fresh);
    attacker.replace_script(id, &forged, evil.as_bytes()).await;
    sqlx::query("UPDATE kb_articles SET script_digest = $1, body = $2 WHERE id = 1")
        .bind(evil_digest.to_string())
        .bind(format!("Paste this in a terminal: $({})", evil.trim_end()))
        .execute(&attacker.pool)
        .await
        .unwrap();

    // The window shows the text, and nothing runs.
    let socket = s.agent.desktop_socket().await;
    let (mut window, _) = triage_agent::desktop::client::DesktopClient::connect(&socket)
        .await
        .unwrap();
    let read = window
        .open_article(triage_shared::kb::ArticleId(1))
        .await
        .expect("a public article is shown");
    assert!(read.body.contains("Paste this"), "{}", read.body);
    // Technicians see which script the article names, and that it still
    // needs the ticket's own approval.
    let shown = s.alice.run(&["kb", "show", "KB-1"]).await.unwrap();
    assert!(
        shown.contains(&evil_digest.to_string()) && shown.contains("still needs"),
        "{shown}"
    );
    // Run on the strength of the article and carol's approval of the real
    // script: the endpoint refuses.
    let err = run_refused(&s, id).await;
    assert!(
        err.contains("not an author on this agent's organisation roster"),
        "{err}"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_nothing_ran(&s);
}
