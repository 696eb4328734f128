//! The consent channels: "Get help" windows that said `ServeConsent`, and
//! how a technician's screenshot request reaches one of them.
//!
//! ```text
//! screenshot handler ── ask(technician, ticket) ──► registry
//!    no live channel ──────────────────────────────► Denied("nobody is signed in …")
//!    the newest channel is already asking ─────────► Denied("already being asked …")
//!    else Job ──► that connection's task ──► ConsentRequest ──► window
//!                                            ◄── ConsentAnswer (within the timeout)
//!    ◄── Granted{png} | Denied(why) | Failed(why) ◄──┘
//! ```
//!
//! One channel per uid: a window that registers again replaces its older
//! channel (whose task then ends, closing that connection). A channel
//! shows one prompt at a time; a second request meanwhile is refused at
//! once rather than queued, so no technician waits on another's prompt.

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
    /// A registry whose prompts are refused after `timeout` without an answer.
    pub fn new(timeout: Duration) -> Arc<ConsentRegistry> {
        Arc::new(ConsentRegistry {
            channels: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            timeout,
        })
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

    /// Asks the newest live window whether `technician` may see the screen.
    pub async fn ask(&self, technician: &str, ticket: Option<TicketId>) -> Consent {
        let (jobs, asking) = {
            let mut channels = self.lock();
            channels.retain(|_, c| !c.jobs.is_closed());
            match channels.values().max_by_key(|c| c.id) {
                Some(c) => (c.jobs.clone(), c.asking.clone()),
                None => {
                    return Consent::Denied(
                        "nobody is signed in to the Get help window to ask".into(),
                    )
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
    use super::*;

    #[tokio::test]
    async fn without_a_window_the_answer_is_no_at_once() {
        let registry = ConsentRegistry::new(Duration::from_secs(60));
        let consent = registry.ask("lina", None).await;
        assert_eq!(
            consent,
            Consent::Denied("nobody is signed in to the Get help window to ask".into())
        );
    }

    #[tokio::test]
    async fn a_newer_window_replaces_the_older_one_of_the_same_user() {
        let registry = ConsentRegistry::new(Duration::from_secs(60));
        let mut old = registry.register(1000);
        let mut new = registry.register(1000);
        assert_eq!(registry.live_channels(), 1);
        // The old channel's sender is gone: its task sees the end.
        assert!(old.jobs.recv().await.is_none());
        // Unregistering the old id leaves the new channel in place.
        registry.unregister(1000, old.id);
        assert_eq!(registry.live_channels(), 1);
        let asking = tokio::spawn({
            let registry = registry.clone();
            async move { registry.ask("lina", None).await }
        });
        let job = new.jobs.recv().await.unwrap();
        assert_eq!(job.technician, "lina");
        job.reply
            .send(Consent::Denied("the user declined".into()))
            .unwrap();
        assert_eq!(
            asking.await.unwrap(),
            Consent::Denied("the user declined".into())
        );
        registry.unregister(1000, new.id);
        assert_eq!(registry.live_channels(), 0);
    }

    #[tokio::test]
    async fn a_second_request_while_the_user_is_asked_is_refused_clearly() {
        let registry = ConsentRegistry::new(Duration::from_secs(60));
        let mut channel = registry.register(1000);
        let first = tokio::spawn({
            let registry = registry.clone();
            async move { registry.ask("lina", None).await }
        });
        let job = channel.jobs.recv().await.unwrap();
        let second = registry.ask("omar", None).await;
        let Consent::Denied(why) = second else {
            panic!("{second:?}")
        };
        assert!(why.contains("already being asked"), "{why}");
        job.reply.send(Consent::Granted { png: vec![1] }).unwrap();
        assert_eq!(first.await.unwrap(), Consent::Granted { png: vec![1] });
    }

    #[tokio::test]
    async fn a_window_that_vanishes_mid_prompt_is_a_refusal() {
        let registry = ConsentRegistry::new(Duration::from_secs(60));
        let mut channel = registry.register(1000);
        let asking = tokio::spawn({
            let registry = registry.clone();
            async move { registry.ask("lina", None).await }
        });
        drop(channel.jobs.recv().await.unwrap());
        let Consent::Denied(why) = asking.await.unwrap() else {
            panic!("expected a refusal")
        };
        assert!(why.contains("closed before the user answered"), "{why}");
    }

    #[test]
    fn timeouts_are_described_for_people() {
        assert_eq!(describe_timeout(Duration::from_secs(60)), "60 s");
        assert_eq!(describe_timeout(Duration::from_millis(250)), "250 ms");
    }
}
