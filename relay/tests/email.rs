//! Mail through a real SMTP listener on 127.0.0.1 (a small sink written
//! here): who gets which mail, and what it says.

mod common;

use common::TestRelay;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use triage_relay::notify::{SmtpConfig, SmtpSecurity};
use triage_relay::RelayConfig;
use triage_shared::client::Session;
use triage_shared::error::ErrorKind;
use triage_shared::identity::KeyPair;
use triage_shared::notify::NotifyEvent;
use triage_shared::protocol::{Request, Response};
use triage_shared::roles::Role;
use triage_shared::ticket::{Category, NewTicket, Priority, Source, Tier};
use triage_shared::TicketId;

const EVENTUALLY: Duration = Duration::from_secs(30);

/// One mail as the sink received it.
#[derive(Debug, Clone, Default)]
struct Mail {
    from: String,
    to: Vec<String>,
    data: String,
}

/// Speaks just enough SMTP for one client at a time: no TLS, no AUTH.
async fn smtp_sink() -> (u16, Arc<Mutex<Vec<Mail>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mails = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&mails);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let mails = Arc::clone(&kept);
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read);
                let _ = write.write_all(b"220 sink ESMTP\r\n").await;
                let mut mail = Mail::default();
                let mut line = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                        b"250 sink\r\n"
                    } else if upper.starts_with("MAIL FROM:") {
                        mail.from = address(&line);
                        b"250 ok\r\n"
                    } else if upper.starts_with("RCPT TO:") {
                        mail.to.push(address(&line));
                        b"250 ok\r\n"
                    } else if upper.starts_with("DATA") {
                        let _ = write.write_all(b"354 go ahead\r\n").await;
                        loop {
                            line.clear();
                            if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                                return;
                            }
                            if line == ".\r\n" {
                                break;
                            }
                            mail.data.push_str(&line);
                        }
                        mails.lock().unwrap().push(std::mem::take(&mut mail));
                        b"250 queued\r\n"
                    } else if upper.starts_with("QUIT") {
                        let _ = write.write_all(b"221 bye\r\n").await;
                        return;
                    } else {
                        b"250 ok\r\n"
                    };
                    let _ = write.write_all(reply).await;
                }
            });
        }
    });
    (port, mails)
}

/// `MAIL FROM:<a@b> …` → `a@b`.
fn address(line: &str) -> String {
    let start = line.find('<').map_or(0, |i| i + 1);
    let end = line[start..].find('>').map_or(line.len(), |i| start + i);
    line[start..end].to_string()
}

async fn ok(session: &Session, request: Request) {
    assert_eq!(
        session.request(&request).await.unwrap(),
        Response::Ok,
        "{}",
        request.name()
    );
}

#[tokio::test]
async fn mail_reaches_the_tier_queue_the_assignee_and_followers_with_what_to_do() {
    let (port, mails) = smtp_sink().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = RelayConfig::new(dir.path(), "127.0.0.1:0".parse().unwrap());
    config.notify.poll_interval = Duration::from_millis(20);
    config.notify.smtp = Some(SmtpConfig {
        host: "127.0.0.1".into(),
        port,
        security: SmtpSecurity::None,
        credentials: None,
        from: "triage@example.com".into(),
    });
    let relay = triage_relay::start(config).await.unwrap();
    let t = TestRelay { relay, dir };
    let admin = t.technician("admin", &[Role::Admin, Role::L1]).await;
    let bob_key = KeyPair::generate();
    t.relay
        .add_technician("bob", &[Role::L2], bob_key.public_key())
        .await
        .unwrap();
    let dave = t.technician("dave", &[Role::L2]).await;

    ok(
        &admin,
        Request::SetTierEmail {
            tier: Tier::L1,
            address: Some("l1-queue@example.com".into()),
            events: vec![NotifyEvent::New],
        },
    )
    .await;
    ok(
        &admin,
        Request::SetTechnicianEmail {
            name: "bob".into(),
            address: Some("bob@example.com".into()),
            events: vec![NotifyEvent::Assigned],
        },
    )
    .await;
    ok(
        &admin,
        Request::SetTechnicianEmail {
            name: "dave".into(),
            address: Some("dave@example.com".into()),
            events: vec![NotifyEvent::Commented, NotifyEvent::Assigned],
        },
    )
    .await;
    // Bad addresses and other people's settings are refused.
    let bad = admin
        .request(&Request::SetTechnicianEmail {
            name: "bob".into(),
            address: Some("bob at example".into()),
            events: vec![NotifyEvent::New],
        })
        .await
        .unwrap_err();
    assert_eq!(bad.remote_kind(), Some(ErrorKind::InvalidInput));
    let not_admin = dave
        .request(&Request::SetTierEmail {
            tier: Tier::L2,
            address: None,
            events: vec![],
        })
        .await
        .unwrap_err();
    assert_eq!(not_admin.remote_kind(), Some(ErrorKind::Forbidden));

    let (_k, _agent_id, agent) = t.agent("pc-42").await;
    let id = TicketId::new_random();
    agent
        .request(&Request::SubmitTicket {
            ticket: NewTicket {
                id,
                title: "Laptop will not boot".into(),
                description: "black screen".into(),
                category: Category::Hardware,
                priority: Priority::Urgent,
                source: Source::Employee,
                requester: "alice".into(),
            },
            snapshot: None,
        })
        .await
        .unwrap();
    ok(&dave, Request::FollowTicket { id, follow: true }).await;
    ok(
        &admin,
        Request::Assign {
            id,
            assignee: "bob".into(),
        },
    )
    .await;
    // An internal note is never mailed; the public comment is, to dave.
    ok(
        &admin,
        Request::Note {
            id,
            text: "the user is on leave".into(),
        },
    )
    .await;
    ok(
        &admin,
        Request::Comment {
            id,
            text: "replacing the disk".into(),
        },
    )
    .await;

    // l1 queue: new; bob: assigned; dave: assigned + commented.
    let deadline = tokio::time::Instant::now() + EVENTUALLY;
    let got = loop {
        let got = mails.lock().unwrap().clone();
        if got.len() >= 4 {
            break got;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "mail so far: {got:#?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let mut to: Vec<(String, String)> = got
        .iter()
        .map(|m| {
            assert_eq!(m.from, "triage@example.com");
            assert_eq!(m.to.len(), 1, "one recipient per mail: {m:?}");
            let subject = m
                .data
                .lines()
                .find_map(|l| l.strip_prefix("Subject: "))
                .unwrap_or_default()
                .to_string();
            (m.to[0].clone(), subject)
        })
        .collect();
    to.sort();
    let short = &id.to_string()[..8];
    assert_eq!(
        to,
        vec![
            (
                "bob@example.com".into(),
                format!("[Triage {short}] Assigned: Laptop will not boot")
            ),
            (
                "dave@example.com".into(),
                format!("[Triage {short}] Assigned: Laptop will not boot")
            ),
            (
                "dave@example.com".into(),
                format!("[Triage {short}] New comment: Laptop will not boot")
            ),
            (
                "l1-queue@example.com".into(),
                format!("[Triage {short}] New ticket: Laptop will not boot")
            ),
        ]
    );
    let comment = got.iter().find(|m| m.data.contains("New comment")).unwrap();
    for needle in [
        "admin commented: \"replacing the disk\"",
        "Host:          pc-42",
        "SLA:           due in",
        &format!("triage tickets show {id}"),
    ] {
        assert!(
            comment.data.contains(needle),
            "{needle} in:\n{}",
            comment.data
        );
    }
    assert!(
        got.iter().all(|m| !m.data.contains("on leave")),
        "internal notes never leave the relay"
    );
}
