//! Who gets a connection slot, and when the relay asks a client to prove
//! its address first (QUIC Retry).
//!
//! A connection passes three stages, each with its own budget, so that
//! strangers can never use up the room kept for agents and technicians:
//!
//! ```text
//! Incoming ─► Handshaking (TLS + hello, at most HELLO_TIMEOUT)
//!               ├─► Authenticated (an enrolled agent or a registered technician)
//!               └─► Unenrolled    (a new agent enrolling, at most UNENROLLED_LIFETIME)
//! ```
//!
//! Anyone holding any Ed25519 key can reach `Unenrolled`, so that stage is
//! bounded in number, per source address and in lifetime; `Authenticated`
//! has [`MAX_CONNECTIONS`] of its own that nobody else counts against.
//! Handshakes are bounded too (and per address), and past
//! [`RETRY_THRESHOLD`] of them an unvalidated client is sent a Retry.
//!
//! [`admit`] and [`should_retry`] are pure; [`Admission`] holds the counts
//! behind a mutex and hands out [`Slot`]s that give their place back when
//! dropped, so a connection that ends any way at all is released.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use triage_shared::protocol::{ErrorKind, RemoteError};

/// Authenticated connections (enrolled agents and registered technicians)
/// one relay serves at once.
pub const MAX_CONNECTIONS: usize = 10_000;
/// Connections still in their TLS handshake or hello, from anyone.
pub const MAX_HANDSHAKING: usize = 1024;
/// Handshakes in progress from one IP address. Real clients finish theirs
/// in milliseconds; many agents behind one NAT that reconnect at once are
/// refused for a moment and retry with their backoff.
pub const MAX_HANDSHAKING_PER_ADDRESS: usize = 64;
/// Connections that said hello as an agent with a key nobody enrolled.
pub const MAX_UNENROLLED_CONNECTIONS: usize = 256;
/// Unenrolled connections from one IP address.
pub const MAX_UNENROLLED_PER_ADDRESS: usize = 8;
/// How long an unenrolled connection lives: long enough to enroll.
pub const UNENROLLED_LIFETIME: Duration = Duration::from_secs(30);
/// Handshakes in progress from which a client whose address is not yet
/// validated is answered with a QUIC Retry (one extra round trip that a
/// spoofed source address cannot complete).
pub const RETRY_THRESHOLD: usize = 128;
/// Requests one technician may send per second, over all connections.
pub const TECHNICIAN_REQUESTS_PER_SECOND: u32 = 100;
/// Requests one technician may send at once before the rate applies.
pub const TECHNICIAN_REQUEST_BURST: u32 = 1000;
/// Events a `tickets watch` may fall behind the newest before it is moved
/// up to the newest and told how many it missed (`WatchFrame::Lagged`).
pub const WATCH_BACKLOG: u64 = 1_000;

/// The relay's connection and request limits; [`Limits::default`] holds
/// the constants above. Tests and operators may tighten or widen them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub max_connections: usize,
    pub max_handshaking: usize,
    pub max_handshaking_per_address: usize,
    pub max_unenrolled: usize,
    pub max_unenrolled_per_address: usize,
    pub unenrolled_lifetime: Duration,
    /// `0` sends every unvalidated client a Retry.
    pub retry_threshold: usize,
    pub technician_requests_per_second: u32,
    pub technician_request_burst: u32,
    pub watch_backlog: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: MAX_CONNECTIONS,
            max_handshaking: MAX_HANDSHAKING,
            max_handshaking_per_address: MAX_HANDSHAKING_PER_ADDRESS,
            max_unenrolled: MAX_UNENROLLED_CONNECTIONS,
            max_unenrolled_per_address: MAX_UNENROLLED_PER_ADDRESS,
            unenrolled_lifetime: UNENROLLED_LIFETIME,
            retry_threshold: RETRY_THRESHOLD,
            technician_requests_per_second: TECHNICIAN_REQUESTS_PER_SECOND,
            technician_request_burst: TECHNICIAN_REQUEST_BURST,
            watch_backlog: WATCH_BACKLOG,
        }
    }
}

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Handshaking,
    Unenrolled,
    Authenticated,
}

impl Stage {
    fn index(self) -> usize {
        match self {
            Stage::Handshaking => 0,
            Stage::Unenrolled => 1,
            Stage::Authenticated => 2,
        }
    }
}

/// Connections per stage, in total and per source address.
#[derive(Debug, Default, Clone)]
pub struct Counts {
    total: [usize; 3],
    per_address: HashMap<IpAddr, [usize; 3]>,
}

impl Counts {
    pub fn total(&self, stage: Stage) -> usize {
        self.total[stage.index()]
    }

    pub fn at(&self, addr: IpAddr, stage: Stage) -> usize {
        self.per_address
            .get(&canonical(addr))
            .map_or(0, |c| c[stage.index()])
    }

    pub fn enter(&mut self, stage: Stage, addr: IpAddr) {
        self.total[stage.index()] += 1;
        self.per_address.entry(canonical(addr)).or_default()[stage.index()] += 1;
    }

    pub fn leave(&mut self, stage: Stage, addr: IpAddr) {
        let i = stage.index();
        self.total[i] = self.total[i].saturating_sub(1);
        let addr = canonical(addr);
        if let Some(c) = self.per_address.get_mut(&addr) {
            c[i] = c[i].saturating_sub(1);
            if c.iter().all(|&n| n == 0) {
                self.per_address.remove(&addr);
            }
        }
    }

    /// Addresses with a connection in any stage (bounded by the stage caps).
    #[cfg(test)]
    pub fn addresses(&self) -> usize {
        self.per_address.len()
    }
}

/// An IPv4 client seen through an IPv6 socket is the same client.
fn canonical(addr: IpAddr) -> IpAddr {
    addr.to_canonical()
}

/// Why a connection gets no slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The stage holds its limit of connections.
    Full { stage: Stage, limit: usize },
    /// This address holds its limit of connections in the stage.
    AddressFull {
        stage: Stage,
        addr: IpAddr,
        limit: usize,
    },
}

impl Refusal {
    /// What the client is told (in `Welcome::Refused`).
    pub fn to_remote(&self) -> RemoteError {
        let message = match self {
            Refusal::Full {
                stage: Stage::Authenticated,
                limit,
            } => format!(
                "the relay is serving its limit of {limit} agents and technicians; try again in a minute, and tell the relay admin if it persists"
            ),
            Refusal::Full {
                stage: Stage::Unenrolled,
                limit,
            } => format!(
                "the relay is at its limit of {limit} connections from agents that are not enrolled; try enrolling again in a minute"
            ),
            Refusal::Full {
                stage: Stage::Handshaking,
                limit,
            } => format!("the relay is finishing {limit} handshakes already; try again shortly"),
            Refusal::AddressFull {
                stage: Stage::Unenrolled,
                addr,
                limit,
            } => format!(
                "{limit} connections from {addr} are already open without being enrolled; enroll on those or close them, then try again"
            ),
            Refusal::AddressFull { addr, limit, .. } => format!(
                "{limit} connections from {addr} are already connecting; try again shortly"
            ),
        };
        RemoteError::new(ErrorKind::Unavailable, message)
    }
}

/// Whether one more connection from `addr` fits in `stage`.
pub fn admit(stage: Stage, addr: IpAddr, counts: &Counts, limits: &Limits) -> Result<(), Refusal> {
    let (limit, per_address) = match stage {
        Stage::Handshaking => (
            limits.max_handshaking,
            Some(limits.max_handshaking_per_address),
        ),
        Stage::Unenrolled => (
            limits.max_unenrolled,
            Some(limits.max_unenrolled_per_address),
        ),
        // Many agents may share one NAT address; only the total is bounded.
        Stage::Authenticated => (limits.max_connections, None),
    };
    if counts.total(stage) >= limit {
        return Err(Refusal::Full { stage, limit });
    }
    if let Some(limit) = per_address {
        if counts.at(addr, stage) >= limit {
            return Err(Refusal::AddressFull {
                stage,
                addr: canonical(addr),
                limit,
            });
        }
    }
    Ok(())
}

/// Whether a new connection should first prove it can receive at its
/// source address: only when `handshaking` connections are in progress
/// already, at or past the threshold, and only once (a validated client is
/// never sent a second Retry).
pub fn should_retry(handshaking: usize, limits: &Limits, address_validated: bool) -> bool {
    !address_validated && handshaking >= limits.retry_threshold
}

/// The relay's live counts: slots handed out and given back.
#[derive(Debug)]
pub struct Admission {
    limits: Limits,
    counts: Mutex<Counts>,
    retries: AtomicU64,
}

impl Admission {
    pub fn new(limits: Limits) -> Arc<Admission> {
        Arc::new(Admission {
            limits,
            counts: Mutex::new(Counts::default()),
            retries: AtomicU64::new(0),
        })
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A copy of the current counts.
    pub fn snapshot(&self) -> Counts {
        self.counts().clone()
    }

    /// Decides (and counts) whether to answer an unvalidated client with a Retry.
    pub fn wants_retry(&self, address_validated: bool) -> bool {
        let handshaking = self.counts().total(Stage::Handshaking);
        let retry = should_retry(handshaking, &self.limits, address_validated);
        if retry {
            self.retries.fetch_add(1, Ordering::Relaxed);
        }
        retry
    }

    /// Retries sent since the relay started.
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// A handshaking slot for a new connection from `addr`.
    pub fn enter(self: &Arc<Self>, addr: IpAddr) -> Result<Slot, Refusal> {
        let mut counts = self.counts();
        admit(Stage::Handshaking, addr, &counts, &self.limits)?;
        counts.enter(Stage::Handshaking, addr);
        Ok(Slot {
            admission: Arc::clone(self),
            stage: Stage::Handshaking,
            addr,
        })
    }
}

/// One connection's place; given back when dropped.
#[derive(Debug)]
pub struct Slot {
    admission: Arc<Admission>,
    stage: Stage,
    addr: IpAddr,
}

impl Slot {
    #[cfg(test)]
    pub fn stage(&self) -> Stage {
        self.stage
    }

    /// Moves the connection to `to`, if that stage has room; otherwise it
    /// stays where it was.
    pub fn promote(&mut self, to: Stage) -> Result<(), Refusal> {
        if to == self.stage {
            return Ok(());
        }
        let mut counts = self.admission.counts();
        admit(to, self.addr, &counts, &self.admission.limits)?;
        counts.leave(self.stage, self.addr);
        counts.enter(to, self.addr);
        self.stage = to;
        Ok(())
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.admission.counts().leave(self.stage, self.addr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, last])
    }

    fn filled(stage: Stage, from: IpAddr, n: usize) -> Counts {
        let mut c = Counts::default();
        for _ in 0..n {
            c.enter(stage, from);
        }
        c
    }

    #[test]
    fn the_unenrolled_cap_admits_up_to_its_limit_and_refuses_past_it() {
        let limits = Limits {
            max_unenrolled_per_address: usize::MAX,
            ..Limits::default()
        };
        let cap = limits.max_unenrolled;
        let mut c = filled(Stage::Unenrolled, ip(1), cap - 1);
        assert_eq!(admit(Stage::Unenrolled, ip(2), &c, &limits), Ok(()));
        c.enter(Stage::Unenrolled, ip(2));
        assert_eq!(c.total(Stage::Unenrolled), cap);
        let refused = admit(Stage::Unenrolled, ip(3), &c, &limits).unwrap_err();
        assert_eq!(
            refused,
            Refusal::Full {
                stage: Stage::Unenrolled,
                limit: cap
            }
        );
        assert_eq!(refused.to_remote().kind, ErrorKind::Unavailable);
        // cap + 1 is never reached: the refused one is not counted.
        assert_eq!(c.total(Stage::Unenrolled), cap);
    }

    #[test]
    fn one_address_is_capped_before_the_total() {
        let limits = Limits::default();
        let per = limits.max_unenrolled_per_address;
        let mut c = filled(Stage::Unenrolled, ip(1), per - 1);
        assert_eq!(admit(Stage::Unenrolled, ip(1), &c, &limits), Ok(()));
        c.enter(Stage::Unenrolled, ip(1));
        let err = admit(Stage::Unenrolled, ip(1), &c, &limits).unwrap_err();
        assert!(matches!(err, Refusal::AddressFull { limit, .. } if limit == per));
        let message = err.to_remote().message;
        assert!(message.contains("192.0.2.1"), "{message}");
        // Another address still gets in.
        assert_eq!(admit(Stage::Unenrolled, ip(2), &c, &limits), Ok(()));
    }

    #[test]
    fn an_ipv4_client_over_ipv6_counts_as_the_same_address() {
        let limits = Limits {
            max_unenrolled_per_address: 1,
            ..Limits::default()
        };
        let c = filled(Stage::Unenrolled, ip(1), 1);
        let mapped = match ip(1) {
            IpAddr::V4(v4) => IpAddr::V6(v4.to_ipv6_mapped()),
            v6 => v6,
        };
        assert!(admit(Stage::Unenrolled, mapped, &c, &limits).is_err());
    }

    #[test]
    fn strangers_never_use_up_the_authenticated_connections() {
        let limits = Limits::default();
        let mut c = Counts::default();
        for i in 0..limits.max_unenrolled {
            c.enter(
                Stage::Unenrolled,
                IpAddr::from([10, 0, (i / 250) as u8, (i % 250) as u8]),
            );
        }
        for i in 0..limits.max_handshaking {
            c.enter(
                Stage::Handshaking,
                IpAddr::from([10, 1, (i / 250) as u8, (i % 250) as u8]),
            );
        }
        assert!(admit(Stage::Unenrolled, ip(9), &c, &limits).is_err());
        assert!(admit(Stage::Handshaking, ip(9), &c, &limits).is_err());
        assert_eq!(admit(Stage::Authenticated, ip(9), &c, &limits), Ok(()));
    }

    #[test]
    fn the_authenticated_cap_is_exact_and_not_per_address() {
        let limits = Limits {
            max_connections: 3,
            ..Limits::default()
        };
        let mut c = filled(Stage::Authenticated, ip(1), 2);
        assert_eq!(admit(Stage::Authenticated, ip(1), &c, &limits), Ok(()));
        c.enter(Stage::Authenticated, ip(1));
        assert_eq!(
            admit(Stage::Authenticated, ip(2), &c, &limits),
            Err(Refusal::Full {
                stage: Stage::Authenticated,
                limit: 3
            })
        );
    }

    #[test]
    fn handshakes_are_capped_in_total_and_per_address() {
        let limits = Limits {
            max_handshaking: 4,
            max_handshaking_per_address: 2,
            ..Limits::default()
        };
        let mut c = filled(Stage::Handshaking, ip(1), 1);
        assert_eq!(admit(Stage::Handshaking, ip(1), &c, &limits), Ok(()));
        c.enter(Stage::Handshaking, ip(1));
        assert!(matches!(
            admit(Stage::Handshaking, ip(1), &c, &limits),
            Err(Refusal::AddressFull { .. })
        ));
        c.enter(Stage::Handshaking, ip(2));
        assert_eq!(admit(Stage::Handshaking, ip(3), &c, &limits), Ok(()));
        c.enter(Stage::Handshaking, ip(3));
        assert!(matches!(
            admit(Stage::Handshaking, ip(4), &c, &limits),
            Err(Refusal::Full { limit: 4, .. })
        ));
    }

    #[test]
    fn a_slot_is_given_back_when_its_connection_ends() {
        let admission = Admission::new(Limits {
            max_unenrolled: 1,
            ..Limits::default()
        });
        let mut first = admission.enter(ip(1)).unwrap();
        first.promote(Stage::Unenrolled).unwrap();
        let snapshot = admission.snapshot();
        assert_eq!(
            (
                snapshot.total(Stage::Handshaking),
                snapshot.total(Stage::Unenrolled)
            ),
            (0, 1)
        );
        let mut second = admission.enter(ip(2)).unwrap();
        assert!(second.promote(Stage::Unenrolled).is_err());
        // A refused promotion leaves the slot where it was.
        assert_eq!(second.stage(), Stage::Handshaking);
        drop(first);
        second.promote(Stage::Unenrolled).unwrap();
        drop(second);
        let snapshot = admission.snapshot();
        assert_eq!(snapshot.total(Stage::Unenrolled), 0);
        assert_eq!(snapshot.total(Stage::Handshaking), 0);
        assert_eq!(snapshot.addresses(), 0);
    }

    #[test]
    fn an_unenrolled_agent_that_enrolls_elsewhere_moves_to_authenticated() {
        let admission = Admission::new(Limits::default());
        let mut slot = admission.enter(ip(1)).unwrap();
        slot.promote(Stage::Authenticated).unwrap();
        let s = admission.snapshot();
        assert_eq!(
            (s.total(Stage::Handshaking), s.total(Stage::Authenticated)),
            (0, 1)
        );
    }

    #[test]
    fn retry_is_asked_only_past_the_threshold_and_only_of_unvalidated_clients() {
        let limits = Limits {
            retry_threshold: 3,
            ..Limits::default()
        };
        assert!(!should_retry(2, &limits, false));
        assert!(should_retry(3, &limits, false));
        assert!(should_retry(4, &limits, false));
        assert!(!should_retry(4, &limits, true));
        let always = Limits {
            retry_threshold: 0,
            ..Limits::default()
        };
        assert!(should_retry(0, &always, false));
        assert!(!should_retry(0, &always, true));
    }

    #[test]
    fn retries_are_counted() {
        let admission = Admission::new(Limits {
            retry_threshold: 0,
            ..Limits::default()
        });
        assert!(admission.wants_retry(false));
        assert!(!admission.wants_retry(true));
        assert_eq!(admission.retries(), 1);
    }
}
