//! The `triage-relay` binary: offline administration and `serve`.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;
use triage_shared::client::Session;
use triage_shared::identity::KeyPair;
use triage_shared::protocol::{PeerKind, Request, Response};
use triage_shared::token::EnrollmentToken;

fn relay_cmd(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_triage-relay"))
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("TRIAGE_DATABASE_URL")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[tokio::test]
async fn offline_commands_register_technicians_and_make_tokens_for_this_relay() {
    let dir = tempfile::tempdir().unwrap();
    let key = KeyPair::generate().public_key();
    let key_file = dir.path().join("carol.pub");
    std::fs::write(&key_file, format!("{key}\n")).unwrap();
    let data = dir.path().join("data");

    let added = relay_cmd(
        &data,
        &[
            "technician",
            "add",
            "carol",
            "--role",
            "l1,admin",
            "--pubkey",
            key_file.to_str().unwrap(),
        ],
    );
    assert!(added.status.success(), "{}", stderr(&added));
    let again = relay_cmd(
        &data,
        &[
            "technician",
            "add",
            "carol",
            "--role",
            "l1",
            "--pubkey",
            key_file.to_str().unwrap(),
        ],
    );
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );

    let listed = relay_cmd(&data, &["technician", "list", "--json"]);
    assert!(listed.status.success(), "{}", stderr(&listed));
    let json: serde_json::Value = serde_json::from_str(&stdout(&listed)).unwrap();
    assert_eq!(json[0]["name"], "carol");
    assert_eq!(json[0]["roles"], serde_json::json!(["l1", "admin"]));
    assert_eq!(json[0]["public_key"], key.to_string());

    // No serve has run here yet, so the address must be given.
    let refused = relay_cmd(&data, &["token"]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("--public-addr"),
        "{}",
        stderr(&refused)
    );
    let made = relay_cmd(
        &data,
        &[
            "token",
            "--uses",
            "3",
            "--ttl",
            "2h",
            "--public-addr",
            "relay.example.com:4433",
        ],
    );
    assert!(made.status.success(), "{}", stderr(&made));
    let token: EnrollmentToken = stdout(&made).trim().parse().unwrap();
    assert_eq!(token.relay.addr, "relay.example.com:4433");
    assert!(
        stderr(&made).contains(&token.relay.fingerprint.to_string()),
        "{}",
        stderr(&made)
    );

    // The relay started later in the same directory has the fingerprint the token pins,
    // and knows the technician and the token.
    let relay = triage_relay::start(triage_relay::RelayConfig::new(
        &data,
        "127.0.0.1:0".parse().unwrap(),
    ))
    .await
    .unwrap();
    assert_eq!(relay.locator().fingerprint, token.relay.fingerprint);
    assert!(relay.technician("carol").await.unwrap().is_some());
    assert_eq!(
        relay
            .store()
            .token_uses_left(&token.secret.hash_hex())
            .await
            .unwrap(),
        Some(3)
    );
    relay.shutdown().await;
}

#[cfg(unix)]
#[tokio::test]
async fn serve_records_its_address_serves_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_triage-relay"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env_remove("TRIAGE_DATABASE_URL")
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let addr_file = dir.path().join("public-addr");
    let mut waited = Duration::ZERO;
    while !addr_file.exists() {
        assert!(
            waited < Duration::from_secs(30),
            "serve did not record its address"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        waited += Duration::from_millis(20);
    }

    let made = relay_cmd(dir.path(), &["token"]);
    assert!(made.status.success(), "{}", stderr(&made));
    let token: EnrollmentToken = stdout(&made).trim().parse().unwrap();
    let session = Session::connect(&token.relay, &KeyPair::generate(), PeerKind::Agent)
        .await
        .unwrap();
    let enroll = Request::Enroll {
        token_secret: token.secret.to_hex(),
        hostname: "pc-1".into(),
        os: "x".into(),
    };
    assert!(matches!(
        session.request(&enroll).await.unwrap(),
        Response::Enrolled { .. }
    ));
    session.close().await;

    let pid = child.id().unwrap().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "serve exited with {status}");
}

#[tokio::test]
async fn org_init_sign_roster_and_audit_verify_work_offline() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let org_file = dir.path().join("org.key");
    let org_arg = org_file.to_str().unwrap();

    let init = relay_cmd(&data, &["org", "init", "--out", org_arg]);
    assert!(init.status.success(), "{}", stderr(&init));
    let org = std::fs::read_to_string(&org_file).unwrap();
    let org = KeyPair::from_file_text(&org).unwrap();
    assert_eq!(stdout(&init).trim(), org.public_key().to_string());
    assert!(
        stderr(&init).contains("off the relay host"),
        "{}",
        stderr(&init)
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&org_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Never a second org key, and never over an existing file.
    let again = relay_cmd(
        &data,
        &[
            "org",
            "init",
            "--out",
            dir.path().join("org2.key").to_str().unwrap(),
        ],
    );
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already has an organisation key"),
        "{}",
        stderr(&again)
    );
    assert!(!dir.path().join("org2.key").exists());

    let approver = KeyPair::generate().public_key().to_string();
    let added = relay_cmd(
        &data,
        &[
            "technician",
            "add",
            "carol",
            "--role",
            "approver",
            "--pubkey",
            &approver,
        ],
    );
    assert!(added.status.success(), "{}", stderr(&added));

    let wrong_file = dir.path().join("wrong.key");
    std::fs::write(&wrong_file, KeyPair::generate().to_file_text()).unwrap();
    let wrong = relay_cmd(
        &data,
        &[
            "org",
            "sign-roster",
            "--org-key",
            wrong_file.to_str().unwrap(),
        ],
    );
    assert!(!wrong.status.success());
    assert!(
        stderr(&wrong).contains("as the organisation key"),
        "{}",
        stderr(&wrong)
    );

    let signed = relay_cmd(&data, &["org", "sign-roster", "--org-key", org_arg]);
    assert!(signed.status.success(), "{}", stderr(&signed));
    assert!(
        stdout(&signed).contains("Published roster version 1")
            && stdout(&signed).contains("authors: none; approvers: carol"),
        "{}",
        stdout(&signed)
    );

    // Without --org-key a token carries none, and says so.
    let bare = relay_cmd(&data, &["token", "--public-addr", "relay.example:4433"]);
    assert!(bare.status.success(), "{}", stderr(&bare));
    let bare_token: EnrollmentToken = stdout(&bare).trim().parse().unwrap();
    assert_eq!(bare_token.org_key, None);
    assert!(
        stderr(&bare).contains("will run no scripts"),
        "{}",
        stderr(&bare)
    );
    // With the key from the admin's own records, it carries it and the roster floor.
    let key = org.public_key().to_string();
    let args = [
        "token",
        "--public-addr",
        "relay.example:4433",
        "--org-key",
        &key,
    ];
    let token = relay_cmd(&data, &args);
    assert!(token.status.success(), "{}", stderr(&token));
    let token: EnrollmentToken = stdout(&token).trim().parse().unwrap();
    assert_eq!(
        (token.org_key, token.min_roster),
        (Some(org.public_key()), 1)
    );
    // A key the store does not hold mints nothing.
    let other = KeyPair::generate().public_key().to_string();
    let args = [
        "token",
        "--public-addr",
        "relay.example:4433",
        "--org-key",
        &other,
    ];
    let refused = relay_cmd(&data, &args);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("the store was changed"),
        "{}",
        stderr(&refused)
    );

    let verified = relay_cmd(&data, &["audit", "verify"]);
    assert!(verified.status.success(), "{}", stderr(&verified));
    // org init, technician add, the refused and the good sign-roster, three tokens.
    assert!(
        stdout(&verified).contains("7 entries"),
        "{}",
        stdout(&verified)
    );

    // Someone with the database file edits an entry: verify names it.
    sqlx::any::install_default_drivers();
    let url = format!("sqlite://{}", data.join("relay.db").display());
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    sqlx::query("UPDATE audit_log SET actor = 'nobody' WHERE seq = 3")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let broken = relay_cmd(&data, &["audit", "verify"]);
    assert!(!broken.status.success());
    assert!(
        stderr(&broken).contains("audit entry 3 is not intact"),
        "{}",
        stderr(&broken)
    );
}
