//! Taking access away from live sessions.
//!
//! Two halves, so that neither alone has to be perfect:
//! - every request re-reads its peer's key from the store first
//!   ([`current_peer`]): roles changed since the hello apply to the next
//!   request, and a removed technician or agent is refused on a connection
//!   that is still open (also one held by another relay sharing the store);
//! - a removal made through this relay is announced ([`Revocations`]) and
//!   every connection holding that key is closed at once ([`revoked`]).

use super::handshake::{recheck, KnownKey};
use super::request::Peer;
use super::Shared;
use crate::store::StoreError;
use tokio::sync::broadcast;
use tracing::warn;
use triage_shared::identity::PublicKey;
use triage_shared::protocol::{ErrorKind, PeerKind, RemoteError, SessionIdentity};

/// Announcements a slow connection task may fall behind by before it
/// re-reads its own key from the store instead.
pub const REVOCATION_BACKLOG: usize = 64;

/// A key that lost its access, and the reason its connections are told.
#[derive(Debug, Clone)]
pub struct Revoked {
    pub key: PublicKey,
    pub reason: String,
}

/// Where removals are announced to the connections of this relay.
pub(crate) struct Revocations {
    tx: broadcast::Sender<Revoked>,
}

impl Default for Revocations {
    fn default() -> Self {
        Revocations {
            tx: broadcast::channel(REVOCATION_BACKLOG).0,
        }
    }
}

impl Revocations {
    /// Closes every connection of this relay that holds `key`.
    pub fn announce(&self, key: PublicKey, refusal: &RemoteError) {
        // No receivers simply means nobody is connected.
        let _ = self.tx.send(Revoked {
            key,
            reason: refusal.message.clone(),
        });
    }

    fn subscribe(&self) -> broadcast::Receiver<Revoked> {
        self.tx.subscribe()
    }
}

/// Looks the key up only among peers of the kind the client claims to be
/// (at the hello, and again before every request).
pub(super) async fn lookup(
    shared: &Shared,
    key: &PublicKey,
    kind: PeerKind,
) -> Result<KnownKey, StoreError> {
    Ok(match kind {
        PeerKind::Agent | PeerKind::AgentOneShot => shared
            .store
            .agent_by_key(key)
            .await?
            .map_or(KnownKey::Unknown, KnownKey::Agent),
        PeerKind::Technician => match shared.store.technician_record_by_key(key).await? {
            None => KnownKey::Unknown,
            Some(r) => match r.removed_at {
                None => KnownKey::Technician(r.technician),
                Some(at) => KnownKey::RemovedTechnician {
                    name: r.technician.name,
                    at,
                },
            },
        },
    })
}

/// The peer as the store knows its key now (fresh roles), or why it may no
/// longer send anything. Unenrolled peers are not looked up.
pub(super) async fn current_peer(shared: &Shared, peer: &Peer) -> Result<Peer, RemoteError> {
    let kind = match &peer.identity {
        SessionIdentity::Unenrolled => {
            return Ok(Peer {
                identity: SessionIdentity::Unenrolled,
                key: peer.key,
            })
        }
        SessionIdentity::Technician { .. } => PeerKind::Technician,
        SessionIdentity::Agent { .. } => PeerKind::Agent,
    };
    let known = lookup(shared, &peer.key, kind).await.map_err(|e| {
        warn!(error = %e, "cannot re-read the peer's key");
        RemoteError::new(
            ErrorKind::Unavailable,
            "the relay cannot reach its database; try again shortly",
        )
    })?;
    Ok(Peer {
        identity: recheck(&peer.identity, known)?,
        key: peer.key,
    })
}

/// Resolves, with the reason, once `peer`'s key is revoked on this relay.
/// Never resolves for an unenrolled peer.
pub(super) async fn revoked(shared: &Shared, peer: &Peer) -> String {
    if peer.identity == SessionIdentity::Unenrolled {
        return std::future::pending().await;
    }
    let mut rx = shared.revocations.subscribe();
    // A removal between the hello's lookup and this subscription would
    // otherwise go unseen until the next request.
    if let Err(refusal) = still_valid(shared, peer).await {
        return refusal;
    }
    loop {
        match rx.recv().await {
            Ok(r) if r.key == peer.key => return r.reason,
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(_)) => {
                if let Err(refusal) = still_valid(shared, peer).await {
                    return refusal;
                }
            }
            Err(broadcast::error::RecvError::Closed) => return std::future::pending().await,
        }
    }
}

/// `Err(reason)` only when the store says the key lost its access (a
/// database hiccup is not a revocation).
async fn still_valid(shared: &Shared, peer: &Peer) -> Result<(), String> {
    match current_peer(shared, peer).await {
        Err(refusal) if refusal.kind != ErrorKind::Unavailable => Err(refusal.message),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_shared::identity::KeyPair;

    #[tokio::test]
    async fn an_announcement_reaches_every_subscriber_with_its_reason() {
        let revocations = Revocations::default();
        let mut a = revocations.subscribe();
        let mut b = revocations.subscribe();
        let key = KeyPair::generate().public_key();
        revocations.announce(key, &RemoteError::new(ErrorKind::Revoked, "gone"));
        for rx in [&mut a, &mut b] {
            let r = rx.recv().await.unwrap();
            assert_eq!((r.key, r.reason.as_str()), (key, "gone"));
        }
    }
}
