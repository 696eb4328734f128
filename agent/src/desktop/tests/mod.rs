//! The socket server in-process: a real `UnixListener` in a temp dir, an
//! enrolled state directory whose relay cannot be reached, and windows
//! played by [`DesktopClient`] or by raw frames. [`consent`]: screenshot
//! consent through the socket.

mod consent;
mod employee;

use super::client::{DesktopClient, DesktopError};
use super::connection::{DesktopService, MAX_DESKTOP_CONNECTIONS};
use super::consent::ConsentRegistry;
use super::frame::{read_frame, write_frame};
use super::peer::{account_name, effective_uid};
use super::protocol::{DesktopReply, DesktopRequest, HelpForm, DESKTOP_PROTOCOL_VERSION};
use super::seat::fake::FakeAccounts;
use super::server::{DesktopListener, DesktopServerError};
use crate::config::AgentConfig;
use crate::outbox::{Loaded, Message, Outbox};
use crate::state::StateDir;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use triage_shared::agent_update::{AgentUpdate, PNG_SIGNATURE};
use triage_shared::ticket::{Category, Priority};

/// A serving socket over an enrolled state directory whose relay is unreachable.
struct Rig {
    tmp: tempfile::TempDir,
    path: PathBuf,
    registry: Arc<ConsentRegistry>,
    inbox: Arc<crate::inbox::Inbox>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

fn enroll_unreachable(dir: &Path) {
    let state = StateDir::new(dir);
    state
        .write_key(&triage_shared::identity::KeyPair::generate())
        .unwrap();
    // Port 0 fails every connection attempt at once.
    let relay =
        "triage://127.0.0.1:0?fp=0000000000000000000000000000000000000000000000000000000000000000"
            .parse()
            .unwrap();
    state
        .save_enrollment(&relay, triage_shared::AgentId::new_random())
        .unwrap();
}

impl Rig {
    async fn start() -> Rig {
        Rig::with(Duration::from_secs(60), Duration::from_secs(600), "").await
    }

    async fn with(consent_timeout: Duration, idle: Duration, agent_toml: &str) -> Rig {
        let tmp = tempfile::tempdir().unwrap();
        enroll_unreachable(tmp.path());
        let config = AgentConfig::parse(agent_toml, Path::new("agent.toml")).unwrap();
        // This test's user has the window; the console says nothing, so
        // a request without a ticket asks the only user with a window.
        let me = effective_uid();
        let accounts = FakeAccounts::new(&[(&account_name(me), me)], None);
        let registry = ConsentRegistry::with_accounts(consent_timeout, Arc::new(accounts));
        let inbox = crate::inbox::Inbox::in_memory();
        let service = DesktopService::new(tmp.path(), &config, registry.clone())
            .with_idle_timeout(idle)
            .with_inbox(inbox.clone());
        let path = super::socket_path(tmp.path(), &config);
        let listener = DesktopListener::bind(&path).unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(listener.serve(Arc::new(service), async {
            let _ = stopped.await;
        }));
        Rig {
            tmp,
            path,
            registry,
            inbox,
            stop: Some(stop),
            task: Some(task),
        }
    }

    async fn client(&self) -> DesktopClient {
        DesktopClient::connect(&self.path).await.unwrap().0
    }

    /// A raw connection that has said hello and read the welcome.
    async fn raw(&self) -> UnixStream {
        let mut s = UnixStream::connect(&self.path).await.unwrap();
        let hello = DesktopRequest::Hello {
            version: DESKTOP_PROTOCOL_VERSION,
        };
        write_frame(&mut s, &hello).await.unwrap();
        let welcome: DesktopReply = read_frame(&mut s).await.unwrap().unwrap();
        assert!(
            matches!(welcome, DesktopReply::Welcome { .. }),
            "{welcome:?}"
        );
        s
    }

    fn queued(&self) -> Vec<Message> {
        let outbox = Outbox::open(self.tmp.path(), 1000).unwrap();
        outbox
            .pending()
            .unwrap()
            .iter()
            .map(|p| match outbox.read(p) {
                Loaded::Message(m) => *m,
                other => panic!("{other:?}"),
            })
            .collect()
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap();
        assert!(
            !self.path.exists(),
            "the socket file is removed at shutdown"
        );
    }
}

fn png() -> Vec<u8> {
    let mut png = PNG_SIGNATURE.to_vec();
    png.extend_from_slice(b"a fake picture");
    png
}

fn form(text: &str, screenshot: Option<Vec<u8>>) -> HelpForm {
    HelpForm {
        text: text.into(),
        category: Category::Hardware,
        priority: Priority::High,
        screenshot,
        viewed_articles: Vec::new(),
    }
}

fn refusal(e: DesktopError) -> String {
    match e {
        DesktopError::Refused(why) => why,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn the_welcome_names_the_peer_account_and_the_socket_is_open_to_all() {
    use std::os::unix::fs::PermissionsExt;
    let rig = Rig::start().await;
    let mode = std::fs::metadata(&rig.path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o666);
    let (_client, welcome) = DesktopClient::connect(&rig.path).await.unwrap();
    assert_eq!(welcome.user, account_name(effective_uid()));
    assert!(welcome.screenshots_allowed);
    assert!(!welcome.hostname.is_empty());
    rig.stop().await;
}

#[tokio::test]
async fn a_wrong_version_or_a_missing_hello_is_refused() {
    let rig = Rig::start().await;
    let mut s = UnixStream::connect(&rig.path).await.unwrap();
    let hello = DesktopRequest::Hello {
        version: DESKTOP_PROTOCOL_VERSION + 1,
    };
    write_frame(&mut s, &hello).await.unwrap();
    let reply: DesktopReply = read_frame(&mut s).await.unwrap().unwrap();
    let DesktopReply::Error(why) = reply else {
        panic!("{reply:?}")
    };
    assert!(why.contains("version"), "{why}");
    assert!(read_frame::<_, DesktopReply>(&mut s)
        .await
        .unwrap()
        .is_none());

    let mut s = UnixStream::connect(&rig.path).await.unwrap();
    write_frame(&mut s, &DesktopRequest::MyTickets)
        .await
        .unwrap();
    let reply: DesktopReply = read_frame(&mut s).await.unwrap().unwrap();
    assert_eq!(
        reply,
        DesktopReply::Error("the first message on a connection must be Hello".into())
    );
    rig.stop().await;
}

#[tokio::test]
async fn a_garbled_frame_gets_an_error_and_the_server_keeps_serving() {
    let rig = Rig::start().await;
    let mut kept = rig.raw().await;
    let mut bad = rig.raw().await;
    bad.write_all(&[0, 0, 0, 3, 0xff, 0xfe, 0xfd])
        .await
        .unwrap();
    let reply: DesktopReply = read_frame(&mut bad).await.unwrap().unwrap();
    let DesktopReply::Error(why) = reply else {
        panic!("{reply:?}")
    };
    assert!(why.contains("could not read that message"), "{why}");
    assert!(read_frame::<_, DesktopReply>(&mut bad)
        .await
        .unwrap()
        .is_none());
    // An oversized length prefix is refused the same way, without the body.
    let mut big = rig.raw().await;
    big.write_all(&u32::MAX.to_be_bytes()).await.unwrap();
    let reply: DesktopReply = read_frame(&mut big).await.unwrap().unwrap();
    assert!(
        matches!(reply, DesktopReply::Error(ref why) if why.contains("limit")),
        "{reply:?}"
    );
    // The connection opened before, and a new one, both still work.
    write_frame(
        &mut kept,
        &DesktopRequest::ConsentAnswer {
            request: 1,
            answer: super::protocol::ConsentAnswer::Deny,
        },
    )
    .await
    .unwrap();
    let reply: DesktopReply = read_frame(&mut kept).await.unwrap().unwrap();
    assert!(
        matches!(reply, DesktopReply::Error(ref why) if why.contains("no consent prompt")),
        "{reply:?}"
    );
    let (_fresh, welcome) = DesktopClient::connect(&rig.path).await.unwrap();
    assert!(!welcome.user.is_empty());
    rig.stop().await;
}

#[tokio::test]
async fn a_ticket_with_a_screenshot_is_queued_ticket_first_when_the_relay_is_away() {
    let rig = Rig::start().await;
    let mut client = rig.client().await;
    let text = "\n  Printer jammed \nPaper everywhere.";
    let (ticket, delivered) = client.file_ticket(form(text, Some(png()))).await.unwrap();
    assert!(!delivered);
    let queued = rig.queued();
    let [Message::Ticket {
        ticket: filed,
        snapshot,
    }, Message::Update {
        ticket: of,
        update: AgentUpdate::Screenshot(picture),
        ..
    }] = queued.as_slice()
    else {
        panic!("{queued:#?}")
    };
    assert_eq!(filed.id, ticket);
    assert_eq!(*of, ticket);
    assert_eq!(picture, &png());
    assert_eq!(filed.title, "Printer jammed");
    assert_eq!(filed.description, "Printer jammed \nPaper everywhere.");
    assert_eq!(filed.requester, account_name(effective_uid()));
    assert_eq!(filed.category, Category::Hardware);
    assert!(
        snapshot.is_some(),
        "the daemon adds the diagnostics snapshot"
    );
    rig.stop().await;
}

#[tokio::test]
async fn a_bad_screenshot_or_an_empty_text_is_refused_and_nothing_is_queued() {
    let rig = Rig::start().await;
    let mut client = rig.client().await;
    let gif = b"GIF89a not a png".to_vec();
    let why = refusal(
        client
            .file_ticket(form("help", Some(gif)))
            .await
            .unwrap_err(),
    );
    assert!(why.contains("not a PNG"), "{why}");
    let mut big = png();
    big.resize(triage_shared::limits::MAX_ATTACHED_SCREENSHOT_LEN + 1, 0);
    let why = refusal(
        client
            .file_ticket(form("help", Some(big)))
            .await
            .unwrap_err(),
    );
    assert!(why.contains("the limit is"), "{why}");
    let why = refusal(client.file_ticket(form(" \n ", None)).await.unwrap_err());
    assert!(why.contains("empty"), "{why}");
    assert!(rig.queued().is_empty());
    // The connection survives a refused request.
    let (_, delivered) = client.file_ticket(form("help", None)).await.unwrap();
    assert!(!delivered);
    assert_eq!(rig.queued().len(), 1);
    rig.stop().await;
}

#[tokio::test]
async fn a_policy_without_screenshots_refuses_one_and_says_so_in_the_welcome() {
    let rig = Rig::with(
        Duration::from_secs(60),
        Duration::from_secs(600),
        "screenshots = \"never\"\n",
    )
    .await;
    let (mut client, welcome) = DesktopClient::connect(&rig.path).await.unwrap();
    assert!(!welcome.screenshots_allowed);
    let why = refusal(
        client
            .file_ticket(form("help", Some(png())))
            .await
            .unwrap_err(),
    );
    assert!(why.contains("policy does not allow screenshots"), "{why}");
    assert!(rig.queued().is_empty());
    let why = refusal(rig.client().await.serve_consent().await.err().unwrap());
    assert!(why.contains("policy does not allow screenshots"), "{why}");
    rig.stop().await;
}

#[tokio::test]
async fn my_tickets_without_the_relay_says_the_help_desk_is_unreachable() {
    let rig = Rig::start().await;
    let mut client = rig.client().await;
    let why = refusal(client.my_tickets().await.unwrap_err());
    assert_eq!(why, super::RELAY_UNREACHABLE);
    rig.stop().await;
}

#[tokio::test]
async fn an_idle_connection_is_closed_with_a_reason() {
    let rig = Rig::with(Duration::from_secs(60), Duration::from_millis(100), "").await;
    let mut s = rig.raw().await;
    let reply: DesktopReply = read_frame(&mut s).await.unwrap().unwrap();
    assert!(
        matches!(reply, DesktopReply::Error(ref why) if why.contains("without a request")),
        "{reply:?}"
    );
    assert!(read_frame::<_, DesktopReply>(&mut s)
        .await
        .unwrap()
        .is_none());
    rig.stop().await;
}

#[tokio::test]
async fn connections_beyond_the_limit_are_told_to_try_again() {
    let rig = Rig::start().await;
    let mut open = Vec::new();
    for _ in 0..MAX_DESKTOP_CONNECTIONS {
        open.push(rig.raw().await);
    }
    let why = refusal(DesktopClient::connect(&rig.path).await.err().unwrap());
    assert!(why.contains("try again shortly"), "{why}");
    // One closes; then there is room again.
    drop(open.pop());
    let mut admitted = false;
    for _ in 0..100 {
        if DesktopClient::connect(&rig.path).await.is_ok() {
            admitted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        admitted,
        "a slot freed by a closed connection is used again"
    );
    rig.stop().await;
}

#[tokio::test]
async fn binding_replaces_a_stale_socket_but_not_a_live_one_or_a_file() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("run/desktop.sock");
    // A socket nobody listens on: what a crashed daemon leaves.
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    let live = DesktopListener::bind(&path).unwrap();
    let err = DesktopListener::bind(&path).unwrap_err();
    assert!(matches!(err, DesktopServerError::InUse { .. }), "{err}");
    drop(live);
    let file = tmp.path().join("precious.txt");
    std::fs::write(&file, "keep me").unwrap();
    let err = DesktopListener::bind(&file).unwrap_err();
    assert!(
        matches!(err, DesktopServerError::NotASocket { .. }),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
    // A missing directory is made.
    let nested = tmp.path().join("a/b/desktop.sock");
    DesktopListener::bind(&nested).unwrap();
}

#[tokio::test]
async fn a_daemon_that_is_not_running_is_named_with_its_socket() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("desktop.sock");
    let err = DesktopClient::connect(&path).await.err().unwrap();
    assert!(matches!(err, DesktopError::NotRunning { .. }), "{err}");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
}

#[test]
fn the_socket_is_in_the_state_dir_unless_agent_toml_says_otherwise() {
    let tmp = tempfile::tempdir().unwrap();
    assert_eq!(
        super::resolve_socket_path(tmp.path()),
        tmp.path().join("desktop.sock")
    );
    assert_eq!(
        super::locate_socket(Some(tmp.path())),
        tmp.path().join("desktop.sock")
    );
    std::fs::write(
        tmp.path().join("agent.toml"),
        "desktop_socket = \"/run/x/desktop.sock\"\n",
    )
    .unwrap();
    assert_eq!(
        super::resolve_socket_path(tmp.path()),
        PathBuf::from("/run/x/desktop.sock")
    );
}
