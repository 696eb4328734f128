//! Every bad input the walking skeleton names gets a clear error and changes nothing.

use std::time::Duration;
use triage_e2e::{cli, stranger, Deployment};
use triage_shared::client::{ClientError, Session};
use triage_shared::codec::{encode, expect_frame};
use triage_shared::error::ErrorKind;
use triage_shared::identity::{CertFingerprint, KeyPair};
use triage_shared::limits::MAX_FRAME_LEN;
use triage_shared::protocol::{Hello, PeerKind, Request, Response, SessionIdentity, Welcome};
use triage_shared::roles::Role;
use triage_shared::tls::{client_config, SERVER_NAME};
use triage_shared::token::{EnrollmentToken, TokenSecret};

async fn agent_count(d: &Deployment) -> usize {
    d.admin
        .json(&["agents", "list", "--json"])
        .await
        .as_array()
        .unwrap()
        .len()
}

fn admin_key(d: &Deployment) -> KeyPair {
    KeyPair::from_file_text(&std::fs::read_to_string(d.admin.home.join("identity.key")).unwrap())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrollment_tokens_that_are_expired_used_or_unknown_are_refused() {
    let d = Deployment::start().await;
    let dir = d.dir.path();

    let used = d
        .relay()
        .create_token(1, Duration::from_secs(600))
        .await
        .unwrap();
    triage_agent::enroll(&dir.join("first"), &used)
        .await
        .expect("first use enrolls");
    assert_eq!(agent_count(&d).await, 1);
    let err = triage_agent::enroll(&dir.join("second"), &used)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("used"), "{err}");

    let expiring = d
        .relay()
        .create_token(1, Duration::from_secs(1))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let err = triage_agent::enroll(&dir.join("late"), &expiring)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("expired"), "{err}");

    let unknown = EnrollmentToken {
        relay: d.relay().locator(),
        secret: TokenSecret::generate(),
        org_key: None,
        min_roster: 0,
    };
    let err = triage_agent::enroll(&dir.join("guess"), &unknown)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("unknown") || err.contains("not recognised") || err.contains("not recognized"),
        "{err}"
    );

    // None of the refusals enrolled anything, and the refused directories
    // hold no enrollment a daemon could start from.
    assert_eq!(agent_count(&d).await, 1);
    for name in ["second", "late", "guess"] {
        assert!(
            !dir.join(name).join("agent-id").exists(),
            "{name} looks enrolled"
        );
    }

    // An N-use token serves exactly N enrollments.
    let twice = d
        .relay()
        .create_token(2, Duration::from_secs(600))
        .await
        .unwrap();
    triage_agent::enroll(&dir.join("n1"), &twice).await.unwrap();
    triage_agent::enroll(&dir.join("n2"), &twice).await.unwrap();
    assert!(triage_agent::enroll(&dir.join("n3"), &twice).await.is_err());
    assert_eq!(agent_count(&d).await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_with_another_fingerprint_is_not_trusted() {
    let d = Deployment::start().await;
    let mut wrong = d.relay().locator();
    wrong.fingerprint = CertFingerprint([0xab; 32]);

    let home = d.dir.path().join("tech-mallory");
    cli(&home, &["keygen"]).await.unwrap();
    let err = cli(&home, &["login", &wrong.to_string()])
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("fingerprint"), "{err}");
    assert!(
        !home.join("relay").exists(),
        "a failed login must not save the relay"
    );

    let token = d
        .relay()
        .create_token(1, Duration::from_secs(600))
        .await
        .unwrap();
    let forged = EnrollmentToken {
        relay: wrong,
        secret: token.secret.clone(),
        org_key: token.org_key,
        min_roster: 0,
    };
    let err = triage_agent::enroll(&d.dir.path().join("agent"), &forged)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("fingerprint"), "{err}");
    // The real token was not spent on the impostor.
    triage_agent::enroll(&d.dir.path().join("agent2"), &token)
        .await
        .expect("token still usable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unregistered_and_unenrolled_keys_get_nothing() {
    let d = Deployment::start().await;
    let locator = d.relay().locator();

    // A technician key nobody registered is turned away at the door.
    let home = d.dir.path().join("tech-eve");
    cli(&home, &["keygen"]).await.unwrap();
    let err = cli(&home, &["login", &locator.to_string()])
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("not registered"), "{err}");
    let refused = Session::connect(&locator, &stranger(), PeerKind::Technician).await;
    assert!(
        matches!(refused, Err(ClientError::Refused(ref e)) if e.kind == ErrorKind::Unauthenticated)
    );

    // An agent key that never enrolled may only enroll.
    let session = Session::connect(&locator, &stranger(), PeerKind::Agent)
        .await
        .unwrap();
    assert_eq!(session.identity(), &SessionIdentity::Unenrolled);
    for request in [
        Request::Heartbeat,
        Request::ListTickets {
            status: None,
            limit: 10,
        },
        Request::ListAgents,
    ] {
        let err = session.request(&request).await.unwrap_err();
        assert_eq!(
            err.remote_kind(),
            Some(ErrorKind::Unauthenticated),
            "{request:?}: {err}"
        );
    }

    // A registered technician cannot use an enrolled agent's requests.
    let admin = Session::connect(&locator, &admin_key(&d), PeerKind::Technician)
        .await
        .unwrap();
    let err = admin.request(&Request::Heartbeat).await.unwrap_err();
    assert_eq!(err.remote_kind(), Some(ErrorKind::Forbidden), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_limit_what_a_technician_may_do() {
    let d = Deployment::start().await;
    let l1 = d.technician("lina", &[Role::L1]).await;
    let err = l1.refused(&["tokens", "create"]).await;
    assert!(err.contains("admin"), "{err}");
    std::fs::write(
        d.dir.path().join("k.pub"),
        KeyPair::generate().public_key().to_string(),
    )
    .unwrap();
    let pubkey = d.dir.path().join("k.pub").display().to_string();
    let err = l1
        .refused(&[
            "technicians",
            "add",
            "sneaky",
            "--role",
            "admin",
            "--pubkey",
            &pubkey,
        ])
        .await;
    assert!(err.contains("admin"), "{err}");
    let techs = d.admin.json(&["technicians", "list", "--json"]).await;
    assert!(
        !techs.to_string().contains("sneaky"),
        "refused registration was stored"
    );

    // The admin may do both.
    d.admin
        .run(&[
            "technicians",
            "add",
            "newbie",
            "--role",
            "l1",
            "--pubkey",
            &pubkey,
        ])
        .await
        .unwrap();
    let token = d
        .admin
        .run(&["tokens", "create", "--uses", "2", "--ttl", "1h"])
        .await
        .unwrap();
    let token: EnrollmentToken = token
        .lines()
        .find(|l| l.starts_with("triage://"))
        .expect("token printed")
        .parse()
        .unwrap();
    triage_agent::enroll(&d.dir.path().join("a"), &token)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_tickets_and_invalid_transitions_change_nothing() {
    let d = Deployment::start().await;
    let missing = triage_shared::TicketId::new_random().to_string();
    let err = d.admin.refused(&["tickets", "show", &missing]).await;
    assert!(err.contains(&missing), "{err}");
    let err = d
        .admin
        .refused(&["tickets", "comment", &missing, "hello"])
        .await;
    assert!(err.contains(&missing), "{err}");

    let agent = d.enroll_agent("pc").await;
    let id = triage_agent::file_ticket(
        &agent.state_dir,
        triage_agent::HelpRequest {
            title: "VPN drops".into(),
            description: String::new(),
            category: triage_shared::ticket::Category::Network,
            priority: triage_shared::ticket::Priority::Normal,
            requester: "dave".into(),
            screenshot: None,
        },
    )
    .await
    .unwrap()
    .to_string();
    d.admin.run(&["tickets", "close", &id]).await.unwrap();
    let before = d.admin.json(&["tickets", "show", &id, "--json"]).await;
    let err = d.admin.refused(&["tickets", "resolve", &id, "done"]).await;
    assert!(err.contains("reopen"), "{err}");
    let err = d
        .admin
        .refused(&["tickets", "assign", &id, "nobody-here"])
        .await;
    assert!(err.contains("nobody-here"), "{err}");
    let after = d.admin.json(&["tickets", "show", &id, "--json"]).await;
    assert_eq!(before, after, "a refused change altered the ticket");
}

/// Opens a raw connection as the admin and returns it after the hello.
async fn raw_connection(
    d: &Deployment,
    version: u16,
) -> (quinn::Endpoint, quinn::Connection, Welcome) {
    let mut endpoint = quinn::Endpoint::client(triage_e2e::loopback()).unwrap();
    endpoint.set_default_client_config(
        client_config(&admin_key(d), d.relay().locator().fingerprint).unwrap(),
    );
    let conn = endpoint
        .connect(d.relay().local_addr(), SERVER_NAME)
        .unwrap()
        .await
        .unwrap();
    let (mut send, mut recv) = conn.open_bi().await.unwrap();
    let mut hello = Hello::new(PeerKind::Technician);
    hello.version = version;
    send.write_all(&encode(&hello).unwrap()).await.unwrap();
    send.finish().unwrap();
    let welcome: Welcome = expect_frame(&mut recv).await.unwrap();
    (endpoint, conn, welcome)
}

async fn send_raw(conn: &quinn::Connection, bytes: &[u8]) -> Response {
    let (mut send, mut recv) = conn.open_bi().await.unwrap();
    send.write_all(bytes).await.unwrap();
    let _ = send.finish();
    tokio::time::timeout(Duration::from_secs(10), expect_frame(&mut recv))
        .await
        .expect("relay answers a bad frame promptly")
        .expect("relay answers with a frame")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbled_oversized_and_unknown_frames_are_refused_and_the_connection_survives() {
    let d = Deployment::start().await;
    let (_endpoint, conn, welcome) =
        raw_connection(&d, triage_shared::protocol::PROTOCOL_VERSION).await;
    assert!(matches!(welcome, Welcome::Accepted { .. }), "{welcome:?}");

    let mut garbled = 3u32.to_be_bytes().to_vec();
    garbled.extend_from_slice(&[0xff, 0xfe, 0xfd]);
    let oversized = ((MAX_FRAME_LEN + 1) as u32).to_be_bytes().to_vec();
    let mut unknown_kind = 1u32.to_be_bytes().to_vec();
    unknown_kind.push(200);
    for (what, bytes) in [
        ("garbled", garbled),
        ("oversized", oversized),
        ("unknown kind", unknown_kind),
    ] {
        match send_raw(&conn, &bytes).await {
            Response::Error(e) => assert_eq!(e.kind, ErrorKind::InvalidInput, "{what}: {e}"),
            other => panic!("{what} frame answered with {other:?}"),
        }
    }
    // The same connection still serves well-formed requests.
    let ok = send_raw(&conn, &encode(&Request::WhoAmI).unwrap()).await;
    assert!(
        matches!(ok, Response::Identity(SessionIdentity::Technician { .. })),
        "{ok:?}"
    );

    // A client that opens a stream and stalls does not hold up anyone else.
    let (mut stalled, _recv) = conn.open_bi().await.unwrap();
    stalled.write_all(&100u32.to_be_bytes()).await.unwrap();
    d.admin
        .run(&["tickets", "list"])
        .await
        .expect("others are served while one stalls");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incompatible_protocol_version_is_refused_at_hello() {
    let d = Deployment::start().await;
    let (_endpoint, _conn, welcome) = raw_connection(&d, 99).await;
    match welcome {
        Welcome::Refused(e) => {
            assert_eq!(e.kind, ErrorKind::VersionMismatch);
            assert!(e.message.contains("99"), "{}", e.message);
        }
        other => panic!("version 99 was accepted: {other:?}"),
    }
}
