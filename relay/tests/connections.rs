//! The relay's connection handling over real QUIC: hello, refusals, bad and
//! stalled streams, restarts.

mod common;

use common::{raw_connection, start_in, TestRelay};
use triage_shared::client::{ClientError, Session};
use triage_shared::codec::expect_frame;
use triage_shared::error::ErrorKind;
use triage_shared::identity::KeyPair;
use triage_shared::limits::MAX_FRAME_LEN;
use triage_shared::protocol::{
    Hello, PeerKind, Request, Response, SessionIdentity, Welcome, PROTOCOL_VERSION,
};
use triage_shared::roles::Role;

fn refusal(result: Result<Session, ClientError>) -> triage_shared::error::RemoteError {
    match result {
        Err(ClientError::Refused(e)) => e,
        Err(other) => panic!("expected a refusal, got {other}"),
        Ok(_) => panic!("expected a refusal, got a session"),
    }
}

#[tokio::test]
async fn unknown_technician_key_is_refused_at_hello() {
    let t = TestRelay::start().await;
    let err =
        refusal(Session::connect(&t.locator(), &KeyPair::generate(), PeerKind::Technician).await);
    assert_eq!(err.kind, ErrorKind::Unauthenticated);
    assert!(
        err.message.contains("triage-relay technician add"),
        "{}",
        err.message
    );
    t.relay.shutdown().await;
}

#[tokio::test]
async fn technician_key_connecting_as_agent_is_only_unenrolled() {
    let t = TestRelay::start().await;
    let key = KeyPair::generate();
    t.relay
        .add_technician("carol", &[Role::Admin], key.public_key())
        .await
        .unwrap();
    let session = Session::connect(&t.locator(), &key, PeerKind::Agent)
        .await
        .unwrap();
    assert_eq!(session.identity(), &SessionIdentity::Unenrolled);
    let err = session
        .request(&Request::ListTickets {
            status: None,
            limit: 10,
        })
        .await
        .unwrap_err();
    assert_eq!(err.remote_kind(), Some(ErrorKind::Unauthenticated));
    t.relay.shutdown().await;
}

#[tokio::test]
async fn other_protocol_version_is_refused_naming_both() {
    let t = TestRelay::start().await;
    for trailing in [&[][..], &[7, 7, 7][..]] {
        let (_endpoint, connection) = raw_connection(&t.locator(), &KeyPair::generate()).await;
        let (mut send, mut recv) = connection.open_bi().await.unwrap();
        let mut hello = Hello::new(PeerKind::Agent);
        hello.version = PROTOCOL_VERSION + 1;
        // A future hello may carry fields this relay does not know.
        let mut frame = triage_shared::codec::encode(&hello).unwrap();
        frame.extend_from_slice(trailing);
        let len = (frame.len() - 4) as u32;
        frame[..4].copy_from_slice(&len.to_be_bytes());
        send.write_all(&frame).await.unwrap();
        send.finish().unwrap();
        let welcome: Welcome = expect_frame(&mut recv).await.unwrap();
        let Welcome::Refused(err) = welcome else {
            panic!("expected a refusal, got {welcome:?}")
        };
        assert_eq!(err.kind, ErrorKind::VersionMismatch);
        assert!(
            err.message
                .contains(&format!("version {}", PROTOCOL_VERSION + 1)),
            "{}",
            err.message
        );
    }
    t.relay.shutdown().await;
}

#[tokio::test]
async fn garbled_request_gets_an_error_and_the_connection_keeps_working() {
    let t = TestRelay::start().await;
    let tech = t.technician("carol", &[Role::L1]).await;
    let bad_frames: [Vec<u8>; 3] = [
        // an unknown request kind
        vec![0, 0, 0, 3, 250, 0, 0],
        // a length over the limit
        ((MAX_FRAME_LEN + 1) as u32).to_be_bytes().to_vec(),
        // a body that is not a request at all
        vec![0, 0, 0, 2, 0xff, 0xff],
    ];
    for bad in bad_frames {
        let (mut send, mut recv) = tech.connection().open_bi().await.unwrap();
        send.write_all(&bad).await.unwrap();
        send.finish().unwrap();
        let response: Response = expect_frame(&mut recv).await.unwrap();
        let Response::Error(err) = response else {
            panic!("expected an error, got {response:?}")
        };
        assert_eq!(err.kind, ErrorKind::InvalidInput);
        assert!(
            err.message.starts_with("garbled request"),
            "{}",
            err.message
        );
        // The same connection still answers.
        let who = tech.request(&Request::WhoAmI).await.unwrap();
        assert!(matches!(
            who,
            Response::Identity(SessionIdentity::Technician { .. })
        ));
    }
    t.relay.shutdown().await;
}

#[tokio::test]
async fn stalled_clients_do_not_hold_up_anyone_else() {
    let t = TestRelay::start().await;
    // A connection that never finishes its hello.
    let (_e1, silent) = raw_connection(&t.locator(), &KeyPair::generate()).await;
    let (mut hello_send, _hello_recv) = silent.open_bi().await.unwrap();
    hello_send.write_all(&[0, 0]).await.unwrap();
    // A session with a request stream stuck half-way through its frame.
    let tech = t.technician("carol", &[Role::L1]).await;
    let (mut stuck, _stuck_recv) = tech.connection().open_bi().await.unwrap();
    stuck.write_all(&[0, 0, 0, 9, 1]).await.unwrap();
    // A client that vanishes in the middle of a request.
    let quitter = t.technician("dave", &[Role::L1]).await;
    let (mut half, _half_recv) = quitter.connection().open_bi().await.unwrap();
    half.write_all(&[0, 0, 0, 9, 1]).await.unwrap();
    quitter.connection().close(0u32.into(), b"gone");

    // The same connection and a new one are both served meanwhile.
    assert!(matches!(
        tech.request(&Request::WhoAmI).await.unwrap(),
        Response::Identity(_)
    ));
    let other = t.technician("erin", &[Role::L1]).await;
    assert!(matches!(
        other
            .request(&Request::ListTickets {
                status: None,
                limit: 5
            })
            .await
            .unwrap(),
        Response::Tickets(_)
    ));
    t.relay.shutdown().await;
}

#[tokio::test]
async fn restart_keeps_fingerprint_and_data() {
    let dir = tempfile::tempdir().unwrap();
    let relay = start_in(&dir).await;
    let first = relay.locator();
    let key = KeyPair::generate();
    relay
        .add_technician("carol", &[Role::Admin], key.public_key())
        .await
        .unwrap();
    relay.shutdown().await;

    let relay = start_in(&dir).await;
    assert_eq!(relay.locator().fingerprint, first.fingerprint);
    let session = Session::connect(&relay.locator(), &key, PeerKind::Technician)
        .await
        .unwrap();
    assert!(
        matches!(session.identity(), SessionIdentity::Technician { name, .. } if name == "carol")
    );
    let addr_file = std::fs::read_to_string(dir.path().join("public-addr")).unwrap();
    assert_eq!(addr_file.trim(), relay.locator().addr);
    session.close().await;
    relay.shutdown().await;
}

#[tokio::test]
async fn two_relays_run_side_by_side_with_their_own_identities() {
    let (a, b) = (TestRelay::start().await, TestRelay::start().await);
    assert_ne!(a.locator().fingerprint, b.locator().fingerprint);
    let key = KeyPair::generate();
    a.relay
        .add_technician("carol", &[Role::L1], key.public_key())
        .await
        .unwrap();
    assert!(Session::connect(&a.locator(), &key, PeerKind::Technician)
        .await
        .is_ok());
    // A locator with the other relay's fingerprint is caught by pinning.
    let mut wrong = b.locator();
    wrong.fingerprint = a.locator().fingerprint;
    let err = Session::connect(&wrong, &key, PeerKind::Technician)
        .await
        .err()
        .unwrap();
    assert!(matches!(err, ClientError::WrongRelay { .. }), "{err}");
    a.relay.shutdown().await;
    b.relay.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_live_connections() {
    let t = TestRelay::start().await;
    let tech = t.technician("carol", &[Role::L1]).await;
    t.relay.shutdown().await;
    assert!(tech.request(&Request::WhoAmI).await.is_err());
}

#[tokio::test]
async fn garbled_hello_of_this_version_is_refused_as_garbled() {
    let t = TestRelay::start().await;
    let (_endpoint, connection) = raw_connection(&t.locator(), &KeyPair::generate()).await;
    let (mut send, mut recv) = connection.open_bi().await.unwrap();
    // The right version, then a peer kind that does not exist.
    send.write_all(&[0, 0, 0, 2, PROTOCOL_VERSION as u8, 9])
        .await
        .unwrap();
    send.finish().unwrap();
    let welcome: Welcome = expect_frame(&mut recv).await.unwrap();
    let Welcome::Refused(err) = welcome else {
        panic!("expected a refusal, got {welcome:?}")
    };
    assert_eq!(err.kind, ErrorKind::InvalidInput);
    assert!(err.message.starts_with("garbled hello"), "{}", err.message);
    t.relay.shutdown().await;
}

#[tokio::test]
async fn hello_over_its_size_limit_is_refused_and_at_the_limit_is_read() {
    let t = TestRelay::start().await;
    for (len, refused_as_too_large) in [
        (triage_relay::MAX_HELLO_LEN + 1, true),
        (triage_relay::MAX_HELLO_LEN, false),
    ] {
        let (_endpoint, connection) = raw_connection(&t.locator(), &KeyPair::generate()).await;
        let (mut send, mut recv) = connection.open_bi().await.unwrap();
        let mut frame = (len as u32).to_be_bytes().to_vec();
        frame.push(PROTOCOL_VERSION as u8);
        frame.resize(4 + len, 0);
        send.write_all(&frame).await.unwrap();
        send.finish().unwrap();
        let welcome: Welcome = expect_frame(&mut recv).await.unwrap();
        let Welcome::Refused(err) = welcome else {
            panic!("expected a refusal, got {welcome:?}")
        };
        assert_eq!(err.kind, ErrorKind::InvalidInput);
        // At the limit the body is read and then found not to be a hello.
        assert_eq!(
            err.message.contains("exceeds"),
            refused_as_too_large,
            "{}",
            err.message
        );
    }
    t.relay.shutdown().await;
}
