//! Webhooks against a real HTTP receiver on 127.0.0.1: signed bodies, one
//! delivery id across retries, redirects not followed, a receiver that is
//! down gets everything once it is back (across a relay restart too), and
//! URLs that are not http(s) are refused.

mod common;

use common::TestRelay;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use sha2::Sha256;
use std::collections::{BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tempfile::TempDir;
use tokio::net::TcpListener;
use triage_relay::metrics::DeliveryResult;
use triage_relay::notify::Backoff;
use triage_relay::store::Channel;
use triage_relay::{RelayConfig, RelayHandle};
use triage_shared::client::Session;
use triage_shared::error::ErrorKind;
use triage_shared::notify::{NotifyEvent, WebhookSummary};
use triage_shared::protocol::{Request, Response};
use triage_shared::roles::Role;
use triage_shared::ticket::{Category, NewTicket, Priority, Source};
use triage_shared::TicketId;

const SECRET: &str = "a-test-secret-of-some-length";
/// How long a test waits for something that should happen at once; only
/// a broken relay reaches it.
const EVENTUALLY: Duration = Duration::from_secs(30);

/// What the receiver saw of one request.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    delivery: String,
    event: String,
    signature: Option<String>,
    body: Vec<u8>,
}

/// A real HTTP/1.1 server that answers from a script of statuses (200
/// once the script is used up) and records every request.
#[derive(Clone)]
struct Receiver {
    addr: SocketAddr,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    async fn start(answers: &[u16]) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Receiver::serve(listener, answers)
    }

    fn serve(listener: TcpListener, answers: &[u16]) -> Receiver {
        let addr = listener.local_addr().unwrap();
        let got = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(answers.iter().copied().collect::<VecDeque<_>>()));
        let receiver = Receiver {
            addr,
            got: Arc::clone(&got),
        };
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let got = Arc::clone(&got);
                let script = Arc::clone(&script);
                tokio::spawn(async move {
                    let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let got = Arc::clone(&got);
                        let script = Arc::clone(&script);
                        async move {
                            let header = |name: &str| {
                                req.headers()
                                    .get(name)
                                    .and_then(|v| v.to_str().ok())
                                    .map(str::to_string)
                            };
                            let path = req.uri().path().to_string();
                            let delivery = header("x-triage-delivery").unwrap_or_default();
                            let event = header("x-triage-event").unwrap_or_default();
                            let signature = header("x-triage-signature");
                            let body = req.into_body().collect().await?.to_bytes().to_vec();
                            got.lock().unwrap().push(Received {
                                path,
                                delivery,
                                event,
                                signature,
                                body,
                            });
                            let status = script.lock().unwrap().pop_front().unwrap_or(200);
                            let mut response = hyper::Response::new(Full::new(Bytes::from("ok")));
                            *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                            if (300..400).contains(&status) {
                                response.headers_mut().insert(
                                    hyper::header::LOCATION,
                                    hyper::header::HeaderValue::from_static("/elsewhere"),
                                );
                            }
                            Ok::<_, hyper::Error>(response)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        receiver
    }

    fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    async fn wait_for(&self, count: usize) -> Vec<Received> {
        eventually(|| {
            let got = self.received();
            (got.len() >= count).then_some(got)
        })
        .await
    }
}

/// Polls `check` until it answers, for at most [`EVENTUALLY`].
async fn eventually<T>(mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + EVENTUALLY;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up waiting after {EVENTUALLY:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Retries in milliseconds, so the tests need not wait for real backoff.
fn fast_config(dir: &TempDir) -> RelayConfig {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let mut config = RelayConfig::new(dir.path(), "127.0.0.1:0".parse().unwrap());
    config.notify.poll_interval = Duration::from_millis(20);
    config.notify.request_timeout = Duration::from_secs(5);
    config.notify.lease = Duration::from_secs(10);
    config.notify.backoff = Backoff {
        base: Duration::from_millis(30),
        cap: Duration::from_millis(200),
        max_attempts: 1_000,
    };
    config
}

async fn fast_relay() -> TestRelay {
    let dir = tempfile::tempdir().unwrap();
    let relay = triage_relay::start(fast_config(&dir)).await.unwrap();
    TestRelay { relay, dir }
}

fn expected_signature(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

async fn add_webhook(admin: &Session, url: &str, events: &[NotifyEvent]) -> WebhookSummary {
    let response = admin
        .request(&Request::AddWebhook {
            url: url.into(),
            events: events.to_vec(),
            secret: Some(SECRET.into()),
        })
        .await
        .unwrap();
    let Response::WebhookAdded(summary) = response else {
        panic!("expected WebhookAdded, got {response:?}")
    };
    summary
}

async fn list(admin: &Session) -> Vec<WebhookSummary> {
    match admin.request(&Request::ListWebhooks).await.unwrap() {
        Response::Webhooks(list) => list,
        other => panic!("expected Webhooks, got {other:?}"),
    }
}

async fn file_ticket(agent: &Session, title: &str) -> TicketId {
    let ticket = NewTicket {
        id: TicketId::new_random(),
        title: title.into(),
        description: "since this morning".into(),
        category: Category::Network,
        priority: Priority::High,
        source: Source::Employee,
        requester: "alice".into(),
    };
    let id = ticket.id;
    agent
        .request(&Request::SubmitTicket {
            ticket,
            snapshot: None,
        })
        .await
        .unwrap();
    id
}

fn json(r: &Received) -> serde_json::Value {
    serde_json::from_slice(&r.body).unwrap()
}

#[tokio::test]
async fn deliveries_are_signed_and_keep_their_id_across_retries() {
    let t = fast_relay().await;
    let receiver = Receiver::start(&[500]).await;
    let admin = t.technician("admin", &[Role::Admin]).await;
    let hook = add_webhook(&admin, &receiver.url(), &[NotifyEvent::New]).await;
    assert!(hook.has_secret);
    let (_k, _id, agent) = t.agent("pc-1").await;
    let ticket = file_ticket(&agent, "VPN drops").await;

    let got = receiver.wait_for(2).await;
    let (first, retry) = (&got[0], &got[1]);
    assert_eq!(first.delivery, retry.delivery, "the same id on a retry");
    assert_eq!(first.body, retry.body, "the same body on a retry");
    for r in [first, retry] {
        assert_eq!(
            r.signature.as_deref(),
            Some(expected_signature(&r.body).as_str())
        );
        assert_eq!(r.event, "new");
    }
    let body = json(first);
    assert_eq!(body["delivery_id"], first.delivery.as_str());
    assert_eq!(body["event"], "new");
    assert_eq!(body["ticket"]["id"], ticket.to_string());
    assert_eq!(body["ticket"]["title"], "VPN drops");
    assert_eq!(body["ticket"]["hostname"], "pc-1");
    assert_eq!(body["ticket"]["priority"], "high");

    let listed = eventually_delivered(&admin, 1).await;
    assert_eq!(
        listed.last_error.as_deref(),
        Some("HTTP 500 Internal Server Error")
    );
    // `/metrics` counts each attempt: one failed, then one delivered.
    let attempts = |result| t.relay.metrics().deliveries(Channel::Webhook, result);
    assert_eq!(attempts(DeliveryResult::Failed), 1);
    assert_eq!(attempts(DeliveryResult::Delivered), 1);
    assert_eq!(attempts(DeliveryResult::Abandoned), 0);

    // `webhooks test`: one signed `test` POST, at once, reported back.
    let tested = admin
        .request(&Request::TestWebhook {
            id: hook.id[..8].to_string(),
        })
        .await
        .unwrap();
    let Response::WebhookTested(result) = tested else {
        panic!("expected WebhookTested, got {tested:?}")
    };
    assert_eq!((result.status, result.error), (Some(200), None));
    let test = receiver
        .received()
        .into_iter()
        .find(|r| r.event == "test")
        .expect("the test delivery arrived");
    assert_eq!(test.delivery, result.delivery_id);
    assert_eq!(
        test.signature.as_deref(),
        Some(expected_signature(&test.body).as_str())
    );
}

/// Waits until the only webhook has `count` delivered and none pending.
async fn eventually_delivered(admin: &Session, count: u32) -> WebhookSummary {
    let deadline = tokio::time::Instant::now() + EVENTUALLY;
    loop {
        let listed = list(admin).await;
        if listed[0].delivered == count && listed[0].pending == 0 {
            return listed[0].clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not delivered: {listed:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_redirect_is_a_failed_attempt_and_is_not_followed() {
    let t = fast_relay().await;
    let receiver = Receiver::start(&[302]).await;
    let admin = t.technician("admin", &[Role::Admin]).await;
    add_webhook(&admin, &receiver.url(), &[NotifyEvent::New]).await;
    let (_k, _id, agent) = t.agent("pc-1").await;
    file_ticket(&agent, "printer").await;
    let listed = eventually_delivered(&admin, 1).await;
    let got = receiver.received();
    assert_eq!(got.len(), 2, "the 302, then the retry: {got:?}");
    assert!(
        got.iter().all(|r| r.path == "/hook"),
        "never /elsewhere: {got:?}"
    );
    assert!(
        listed
            .last_error
            .unwrap()
            .contains("redirects are not followed"),
        "the failed attempt says why"
    );
}

#[tokio::test]
async fn urls_that_are_not_http_are_refused_and_only_admins_manage_webhooks() {
    let t = fast_relay().await;
    let admin = t.technician("admin", &[Role::Admin]).await;
    for url in [
        "ftp://example.com/hook",
        "file:///etc/passwd",
        "example.com/hook",
    ] {
        let err = admin
            .request(&Request::AddWebhook {
                url: url.into(),
                events: vec![NotifyEvent::New],
                secret: None,
            })
            .await
            .unwrap_err();
        assert_eq!(err.remote_kind(), Some(ErrorKind::InvalidInput), "{url}");
        let text = err.to_string();
        assert!(
            text.contains("http://") && text.contains("https://"),
            "{url}: {text}"
        );
    }
    let short_secret = admin
        .request(&Request::AddWebhook {
            url: "https://hooks.example.com/x".into(),
            events: vec![NotifyEvent::New],
            secret: Some("short".into()),
        })
        .await
        .unwrap_err();
    assert_eq!(short_secret.remote_kind(), Some(ErrorKind::InvalidInput));
    assert!(list(&admin).await.is_empty(), "nothing was stored");

    let l3 = t.technician("lee", &[Role::L1, Role::L2, Role::L3]).await;
    for request in [
        Request::ListWebhooks,
        Request::AddWebhook {
            url: "https://hooks.example.com/x".into(),
            events: vec![NotifyEvent::New],
            secret: None,
        },
    ] {
        let err = l3.request(&request).await.unwrap_err();
        assert_eq!(
            err.remote_kind(),
            Some(ErrorKind::Forbidden),
            "{}",
            request.name()
        );
    }
}

#[tokio::test]
async fn a_receiver_that_was_down_gets_every_delivery_once_even_after_a_relay_restart() {
    // A port that nothing listens on, for now.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let relay = triage_relay::start(fast_config(&dir)).await.unwrap();
    let t = TestRelay { relay, dir };
    let admin = t.technician("admin", &[Role::Admin]).await;
    let url = format!("http://{addr}/hook");
    let hook = add_webhook(&admin, &url, &[NotifyEvent::New, NotifyEvent::Commented]).await;
    let (_k, _id, agent) = t.agent("pc-1").await;
    for title in ["one", "two", "three"] {
        file_ticket(&agent, title).await;
    }
    // Every delivery failed at least once against the closed port.
    let store = t.relay.store().clone();
    let pending = {
        let deadline = tokio::time::Instant::now() + EVENTUALLY;
        loop {
            let d = store.deliveries_to(&hook.id).await.unwrap();
            if d.len() == 3 && d.iter().all(|d| d.attempts >= 1 && d.last_error.is_some()) {
                break d;
            }
            assert!(tokio::time::Instant::now() < deadline, "{d:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    assert!(pending.iter().all(|d| d.state == "pending"));
    agent.close().await;
    admin.close().await;
    let TestRelay { relay, dir } = t;
    relay.shutdown().await;

    // The receiver comes back; a new relay process on the same store.
    let listener = bind_again(addr).await;
    let receiver = Receiver::serve(listener, &[]);
    let relay: RelayHandle = triage_relay::start(fast_config(&dir)).await.unwrap();
    let store = relay.store().clone();
    let deadline = tokio::time::Instant::now() + EVENTUALLY;
    loop {
        let d = store.deliveries_to(&hook.id).await.unwrap();
        if d.iter().all(|d| d.state == "delivered") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{d:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let got = receiver.received();
    let ids: BTreeSet<&str> = got.iter().map(|r| r.delivery.as_str()).collect();
    let want: BTreeSet<&str> = pending.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(
        ids, want,
        "every delivery, by the id it had before the restart"
    );
    assert_eq!(got.len(), 3, "each exactly once: {got:?}");
    let titles: BTreeSet<String> = got
        .iter()
        .map(|r| json(r)["ticket"]["title"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(titles, ["one", "three", "two"].map(String::from).into());
    relay.shutdown().await;
}

/// Binds `addr` again once the OS lets go of it.
async fn bind_again(addr: SocketAddr) -> TcpListener {
    let deadline = tokio::time::Instant::now() + EVENTUALLY;
    loop {
        match TcpListener::bind(addr).await {
            Ok(listener) => return listener,
            Err(e) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "cannot bind {addr}: {e}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}
