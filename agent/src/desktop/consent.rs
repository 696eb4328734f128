//! The consent channels: "Get help" windows that said `ServeConsent`, and
//! how a technician's screenshot request reaches the right one of them.
//!
//! ```text
//! screenshot handler ── ask(technician, ticket, whom) ──► registry
//!    whom: the ticket's requester ──► their uid (user database)
//!          no ticket              ──► the console user's uid (logind seat0),
//!                                     else the only uid with a window
//!    no live window of that uid ──────────────────► Denied("no Get help window is open for user X")
//!    that window is already asking ───────────────► Denied("already being asked …")
//!    else Job ──► that connection's task ──► ConsentRequest ──► window
//!                                            ◄── ConsentAnswer (within the timeout)
//!    ◄── Granted{png} | Denied(why) | Failed(why) ◄──┘
//! ```
//!
//! One channel per uid (the uid the kernel reported for the socket peer):
//! a window that registers again replaces its older channel (whose task
//! then ends, closing that connection). Only the person the screenshot
//! concerns is ever asked: a prompt never goes to another user's window
//! because it happens to be newer. A channel shows one prompt at a time;
//! a second request meanwhile is refused at once rather than queued, so no
//! technician waits on another's prompt.

use super::seat::{Accounts, SystemAccounts};
use crate::screenshot::Consent;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tracing::{debug, info};
use triage_shared::TicketId;

/// Extra time the asker waits beyond the prompt timeout, for the
/// connection task to report it; only a guard against a lost reply.
const REPLY_GRACE: Duration = Duration::from_secs(5);

/// What a connection task is asked to put to its window.
#[derive(Debug)]
pub(crate) struct Job {
    pub request: u64,
    pub technician: String,
    pub ticket: Option<TicketId>,
    pub reply: oneshot::Sender<Consent>,
}

/// A registered channel, as its connection task holds it.
pub(crate) struct Registration {
    pub id: u64,
    pub jobs: mpsc::Receiver<Job>,
}

struct Channel {
    id: u64,
    jobs: mpsc::Sender<Job>,
    /// One permit: one prompt at a time on this channel.
    asking: Arc<Semaphore>,
}

/// The live consent channels of one daemon.
pub struct ConsentRegistry {
    channels: Mutex<HashMap<u32, Channel>>,
    next_id: AtomicU64,
    timeout: Duration,
    accounts: Arc<dyn Accounts>,
}

/// Whose window a screenshot prompt goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Whom {
    /// The requester of the ticket the screenshot is for (its account name).
    Requester(String),
    /// No ticket: the user at the console.
    Console,
}

impl Whom {
    /// The ticket's requester when the relay named one, else the console user.
    pub fn of(requester: Option<String>) -> Whom {
        requester.map_or(Whom::Console, Whom::Requester)
    }
}

/// [`Whom`] with the lookups done: uids, and names for the messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A requester; `uid` is `None` when no account has that name.
    Requester { name: String, uid: Option<u32> },
    /// The console user, `None` when the seat does not say.
    Console { user: Option<(u32, String)> },
}

/// The text for a registry with no window at all and nobody in particular to ask.
pub const NOBODY_TO_ASK: &str = "nobody is signed in to the Get help window to ask";

/// Picks the window to ask among the live channels `windows` (their uids):
/// only the target's own; without a known console user, the only uid
/// that has a window. `Err` is the refusal, naming who was asked.
pub fn choose_window(windows: &[u32], target: &Target) -> Result<u32, String> {
    match target {
        Target::Requester { name, uid } => match uid {
            Some(uid) if windows.contains(uid) => Ok(*uid),
            Some(_) => Err(format!(
                "no Get help window is open for user {name}, who filed the ticket"
            )),
            None => Err(format!(
                "no Get help window is open for user {name}, who filed the ticket (this computer has no account of that name)"
            )),
        },
        Target::Console {
            user: Some((uid, name)),
        } => {
            if windows.contains(uid) {
                Ok(*uid)
            } else {
                Err(format!(
                    "no Get help window is open for user {name}, who is signed in at the console"
                ))
            }
        }
        Target::Console { user: None } => match windows {
            [] => Err(NOBODY_TO_ASK.into()),
            [only] => Ok(*only),
            several => Err(format!(
                "cannot tell which of the {} users with a Get help window is at the console; name the user's ticket (--attach) so that its requester is asked",
                several.len()
            )),
        },
    }
}

impl std::fmt::Debug for ConsentRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsentRegistry")
            .field("channels", &self.live_channels())
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// "60 s", or "250 ms" for the short timeouts tests use.
pub fn describe_timeout(timeout: Duration) -> String {
    if timeout >= Duration::from_secs(1) {
        format!("{} s", timeout.as_secs())
    } else {
        format!("{} ms", timeout.as_millis())
    }
}

impl ConsentRegistry {
    /// A registry whose prompts are refused after `timeout` without an
    /// answer, finding users in this computer's user database and seat.
    pub fn new(timeout: Duration) -> Arc<ConsentRegistry> {
        Self::with_accounts(timeout, Arc::new(SystemAccounts))
    }

    /// [`ConsentRegistry::new`] with the account and console lookups given (tests).
    pub fn with_accounts(timeout: Duration, accounts: Arc<dyn Accounts>) -> Arc<ConsentRegistry> {
        Arc::new(ConsentRegistry {
            channels: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            timeout,
            accounts,
        })
    }

    /// Looks up who `whom` is.
    fn target(&self, whom: &Whom) -> Target {
        match whom {
            Whom::Requester(name) => Target::Requester {
                name: name.clone(),
                uid: self.accounts.uid_of(name),
            },
            Whom::Console => Target::Console {
                user: self
                    .accounts
                    .console_uid()
                    .map(|uid| (uid, self.accounts.name_of(uid))),
            },
        }
    }

    /// How long a prompt waits for the user.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u32, Channel>> {
        self.channels
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How many windows can be asked now.
    pub fn live_channels(&self) -> usize {
        self.lock().values().filter(|c| !c.jobs.is_closed()).count()
    }

    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Makes a connection of `uid` its consent channel, replacing an older one.
    pub(crate) fn register(&self, uid: u32) -> Registration {
        let id = self.next_id();
        // One job at a time is all a channel ever holds (see `asking`).
        let (tx, rx) = mpsc::channel(1);
        let replaced = self.lock().insert(
            uid,
            Channel {
                id,
                jobs: tx,
                asking: Arc::new(Semaphore::new(1)),
            },
        );
        if replaced.is_some() {
            info!(uid, "a newer Get help window took over the consent prompts");
        }
        Registration { id, jobs: rx }
    }

    /// Removes channel `id` of `uid`, unless a newer one replaced it already.
    pub(crate) fn unregister(&self, uid: u32, id: u64) {
        let mut channels = self.lock();
        if channels.get(&uid).is_some_and(|c| c.id == id) {
            channels.remove(&uid);
        }
    }

    /// Asks the window of `whom` whether `technician` may see the screen.
    pub async fn ask(&self, technician: &str, ticket: Option<TicketId>, whom: &Whom) -> Consent {
        // Looked up before the lock: the user database may be slow (NSS).
        let target = self.target(whom);
        let (jobs, asking) = {
            let mut channels = self.lock();
            channels.retain(|_, c| !c.jobs.is_closed());
            let mut windows: Vec<u32> = channels.keys().copied().collect();
            windows.sort_unstable();
            match choose_window(&windows, &target).map(|uid| channels.get(&uid)) {
                Ok(Some(c)) => (c.jobs.clone(), c.asking.clone()),
                // `choose_window` picks among the keys just read.
                Ok(None) => return Consent::Denied(NOBODY_TO_ASK.into()),
                Err(why) => {
                    info!(?target, %why, "no Get help window to ask for consent");
                    return Consent::Denied(why);
                }
            }
        };
        let Ok(_permit) = asking.try_acquire_owned() else {
            return Consent::Denied(
                "the user is already being asked about another screenshot; try again when they have answered".into(),
            );
        };
        let (reply, answer) = oneshot::channel();
        let job = Job {
            request: self.next_id(),
            technician: technician.to_string(),
            ticket,
            reply,
        };
        debug!(request = job.request, %technician, "asking the Get help window for consent");
        // The permit keeps the channel empty, so this never waits.
        if let Err(e) = jobs.try_send(job) {
            let why = match e {
                mpsc::error::TrySendError::Full(_) => "the user is already being asked about another screenshot; try again when they have answered",
                mpsc::error::TrySendError::Closed(_) => "the Get help window closed before it could be asked",
            };
            return Consent::Denied(why.into());
        }
        match tokio::time::timeout(self.timeout + REPLY_GRACE, answer).await {
            Ok(Ok(consent)) => consent,
            Ok(Err(_)) => {
                Consent::Denied("the Get help window closed before the user answered".into())
            }
            Err(_) => Consent::Denied(format!(
                "no answer within {}",
                describe_timeout(self.timeout)
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::seat::fake::FakeAccounts;
    use super::*;

    const ALICE: u32 = 1000;
    const BOB: u32 = 1001;

    /// alice and bob have accounts; `console` is at the screen.
    fn registry(console: Option<u32>) -> Arc<ConsentRegistry> {
        ConsentRegistry::with_accounts(
            Duration::from_secs(60),
            Arc::new(FakeAccounts::new(
                &[("alice", ALICE), ("bob", BOB)],
                console,
            )),
        )
    }

    fn alice() -> Whom {
        Whom::Requester("alice".into())
    }

    /// Asks on a task, so the test can play the window.
    fn ask_later(registry: &Arc<ConsentRegistry>, whom: Whom) -> tokio::task::JoinHandle<Consent> {
        let registry = registry.clone();
        tokio::spawn(async move { registry.ask("lina", None, &whom).await })
    }

    fn denial(consent: Consent) -> String {
        match consent {
            Consent::Denied(why) => why,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn without_a_window_the_answer_is_no_at_once() {
        let registry = registry(None);
        let consent = registry.ask("lina", None, &Whom::Console).await;
        assert_eq!(consent, Consent::Denied(NOBODY_TO_ASK.into()));
    }

    #[tokio::test]
    async fn the_requesters_window_is_asked_even_when_another_users_is_newer() {
        let registry = registry(Some(BOB));
        let mut alices = registry.register(ALICE);
        let mut bobs = registry.register(BOB);
        let asking = ask_later(&registry, alice());
        let job = alices.jobs.recv().await.unwrap();
        assert_eq!(job.technician, "lina");
        assert!(bobs.jobs.try_recv().is_err(), "bob's window was not asked");
        job.reply.send(Consent::Granted { png: vec![7] }).unwrap();
        assert_eq!(asking.await.unwrap(), Consent::Granted { png: vec![7] });
    }

    #[tokio::test]
    async fn without_a_window_of_the_requester_the_answer_is_no_and_names_them() {
        let registry = registry(Some(BOB));
        let mut bobs = registry.register(BOB);
        let why = denial(registry.ask("lina", None, &alice()).await);
        assert!(
            why.contains("no Get help window is open for user alice"),
            "{why}"
        );
        let why = denial(
            registry
                .ask("lina", None, &Whom::Requester("mallory".into()))
                .await,
        );
        assert!(
            why.contains("no Get help window is open for user mallory")
                && why.contains("no account of that name"),
            "{why}"
        );
        assert!(bobs.jobs.try_recv().is_err(), "bob's window was not asked");
    }

    #[tokio::test]
    async fn without_a_ticket_the_console_users_window_is_asked() {
        let registry = registry(Some(ALICE));
        let mut alices = registry.register(ALICE);
        let mut bobs = registry.register(BOB);
        let asking = ask_later(&registry, Whom::Console);
        let job = alices.jobs.recv().await.unwrap();
        assert!(bobs.jobs.try_recv().is_err(), "bob's window was not asked");
        job.reply
            .send(Consent::Denied("the user declined".into()))
            .unwrap();
        assert_eq!(
            asking.await.unwrap(),
            Consent::Denied("the user declined".into())
        );
        // The console user without a window: refused, naming them.
        let registry = super::tests::registry(Some(ALICE));
        let _bobs = registry.register(BOB);
        let why = denial(registry.ask("lina", None, &Whom::Console).await);
        assert!(
            why.contains("no Get help window is open for user alice") && why.contains("console"),
            "{why}"
        );
    }

    #[tokio::test]
    async fn with_no_known_console_user_only_a_single_users_window_is_asked() {
        let registry = registry(None);
        let mut bobs = registry.register(BOB);
        let asking = ask_later(&registry, Whom::Console);
        let job = bobs.jobs.recv().await.unwrap();
        job.reply.send(Consent::Denied("no".into())).unwrap();
        assert_eq!(asking.await.unwrap(), Consent::Denied("no".into()));
        let mut alices = registry.register(ALICE);
        let why = denial(registry.ask("lina", None, &Whom::Console).await);
        assert!(why.contains("cannot tell which of the 2 users"), "{why}");
        assert!(alices.jobs.try_recv().is_err() && bobs.jobs.try_recv().is_err());
    }

    #[test]
    fn the_window_is_chosen_by_uid_never_by_age() {
        let alice = Target::Requester {
            name: "alice".into(),
            uid: Some(ALICE),
        };
        assert_eq!(choose_window(&[ALICE, BOB], &alice), Ok(ALICE));
        assert!(choose_window(&[BOB], &alice).is_err());
        let console = |user: Option<(u32, &str)>| Target::Console {
            user: user.map(|(u, n)| (u, n.to_string())),
        };
        assert_eq!(
            choose_window(&[ALICE, BOB], &console(Some((BOB, "bob")))),
            Ok(BOB)
        );
        assert!(choose_window(&[ALICE], &console(Some((BOB, "bob")))).is_err());
        assert_eq!(choose_window(&[ALICE], &console(None)), Ok(ALICE));
        assert!(choose_window(&[ALICE, BOB], &console(None)).is_err());
        assert_eq!(
            choose_window(&[], &console(None)),
            Err(NOBODY_TO_ASK.into())
        );
        assert_eq!(Whom::of(None), Whom::Console);
        assert_eq!(
            Whom::of(Some("alice".into())),
            Whom::Requester("alice".into())
        );
    }

    #[tokio::test]
    async fn a_newer_window_replaces_the_older_one_of_the_same_user() {
        let registry = registry(None);
        let mut old = registry.register(ALICE);
        let mut new = registry.register(ALICE);
        assert_eq!(registry.live_channels(), 1);
        // The old channel's sender is gone: its task sees the end.
        assert!(old.jobs.recv().await.is_none());
        // Unregistering the old id leaves the new channel in place.
        registry.unregister(ALICE, old.id);
        assert_eq!(registry.live_channels(), 1);
        let asking = ask_later(&registry, alice());
        let job = new.jobs.recv().await.unwrap();
        assert_eq!(job.technician, "lina");
        job.reply
            .send(Consent::Denied("the user declined".into()))
            .unwrap();
        assert_eq!(
            asking.await.unwrap(),
            Consent::Denied("the user declined".into())
        );
        registry.unregister(ALICE, new.id);
        assert_eq!(registry.live_channels(), 0);
    }

    #[tokio::test]
    async fn a_second_request_while_the_user_is_asked_is_refused_clearly() {
        let registry = registry(None);
        let mut channel = registry.register(ALICE);
        let first = ask_later(&registry, alice());
        let job = channel.jobs.recv().await.unwrap();
        let second = registry.ask("omar", None, &alice()).await;
        let why = denial(second);
        assert!(why.contains("already being asked"), "{why}");
        job.reply.send(Consent::Granted { png: vec![1] }).unwrap();
        assert_eq!(first.await.unwrap(), Consent::Granted { png: vec![1] });
    }

    #[tokio::test]
    async fn a_window_that_vanishes_mid_prompt_is_a_refusal() {
        let registry = registry(None);
        let mut channel = registry.register(ALICE);
        let asking = ask_later(&registry, Whom::Console);
        drop(channel.jobs.recv().await.unwrap());
        let why = denial(asking.await.unwrap());
        assert!(why.contains("closed before the user answered"), "{why}");
    }

    #[test]
    fn timeouts_are_described_for_people() {
        assert_eq!(describe_timeout(Duration::from_secs(60)), "60 s");
        assert_eq!(describe_timeout(Duration::from_millis(250)), "250 ms");
    }
}
