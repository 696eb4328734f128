//! One client connection, from the QUIC handshake to its last stream.
//!
//! connection → hello → (welcome | refusal) → one task per request stream.
//! Every await on the client is bounded by a timeout, and every failure ends
//! only the stream or connection it happened on.
//!
//! The connection holds an `admission::Slot` from the accept loop on: it
//! moves from handshaking to authenticated or unenrolled when the hello is
//! decided (or is refused there, when that stage is full), and is given
//! back when the task ends. An unenrolled connection lives at most
//! `unenrolled_lifetime`; a technician's requests pass the rate limit first.

use super::admission::{Slot, Stage};
use super::handshake::{decide, version_mismatch};
use super::login_budget::Admission;
use super::registry::Registration;
use super::request::{Peer, Responder};
use super::revoke::lookup;
use super::{dispatch, rate_limit, roster, Shared};
use crate::audit;
use crate::metrics::{Outcome, PeerLabel};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::timeout;
use tracing::{debug, info, info_span, warn, Instrument};
use triage_shared::codec::{
    body_len, decode_body, decode_prefix, read_frame, write_frame, CodecError,
};
use triage_shared::protocol::{
    ErrorKind, Hello, PeerKind, RemoteError, Request, RequestKind, Response, SessionIdentity,
    Welcome, PROTOCOL_VERSION,
};
use triage_shared::time::Timestamp;
use triage_shared::tls;

/// How long a new connection has to finish TLS and send its `Hello`.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a request stream may take to deliver its request frame.
pub const REQUEST_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a refused client gets to read why before the connection closes.
pub const REFUSAL_LINGER: Duration = Duration::from_secs(2);

/// Largest hello accepted. A hello is a few dozen bytes; anyone holding
/// any key may send one, so it gets a far tighter bound than other frames.
pub const MAX_HELLO_LEN: usize = 4096;

/// QUIC application close codes the relay uses.
pub const CLOSE_REFUSED: u32 = 1;
pub const CLOSE_PROTOCOL: u32 = 2;
/// An unenrolled connection reached the end of its lifetime.
pub const CLOSE_EXPIRED: u32 = 3;
/// An admin removed the peer (technician or agent) while it was connected.
pub const CLOSE_REVOKED: u32 = 4;

pub(super) async fn handle(incoming: quinn::Incoming, mut slot: Slot, shared: Arc<Shared>) {
    let span = info_span!(
        "connection",
        peer = %incoming.remote_address(),
        agent_id = tracing::field::Empty,
        technician = tracing::field::Empty,
    );
    async move {
        // `registration` keeps an agent daemon listed as online until this task ends.
        let (connection, peer, registration) =
            match timeout(HELLO_TIMEOUT, welcome(incoming, &mut slot, &shared)).await {
                Err(_) => {
                    debug!("no hello within {HELLO_TIMEOUT:?}; dropping the connection");
                    return;
                }
                Ok(Err(reason)) => {
                    debug!(%reason, "handshake failed");
                    return;
                }
                Ok(Ok(None)) => return,
                Ok(Ok(Some(welcomed))) => welcomed,
            };
        let span = tracing::Span::current();
        match &peer.identity {
            SessionIdentity::Agent { id, .. } => {
                span.record("agent_id", tracing::field::display(id));
            }
            SessionIdentity::Technician { name, .. } => {
                span.record("technician", name.as_str());
            }
            SessionIdentity::Unenrolled => {}
        }
        info!(identity = ?peer.identity, "connected");
        let _counted = shared.metrics.connection(match &peer.identity {
            SessionIdentity::Agent { .. } => PeerLabel::Agent,
            SessionIdentity::Technician { .. } => PeerLabel::Technician,
            SessionIdentity::Unenrolled => PeerLabel::Unenrolled,
        });
        match peer.identity {
            // A connecting agent daemon gets the current roster next to its
            // ordinary traffic; the push ends long before the connection.
            // (Only registered connections: a one-shot process serves nothing.)
            SessionIdentity::Agent { id, .. } if registration.is_some() => {
                let push = roster::push_current(&shared, id);
                tokio::join!(
                    serve_streams(connection, Arc::new(peer), Arc::clone(&shared)),
                    push
                );
            }
            SessionIdentity::Unenrolled => {
                // Long enough to enroll; then the peer must reconnect as
                // the agent it now is (or go away).
                let lifetime = shared.admission.limits().unenrolled_lifetime;
                let serving = serve_streams(connection.clone(), Arc::new(peer), shared);
                if timeout(lifetime, serving).await.is_err() {
                    debug!("unenrolled connection reached its lifetime; closing it");
                    let reason = format!(
                        "an unenrolled connection lasts at most {} s; enroll, then reconnect",
                        lifetime.as_secs()
                    );
                    connection.close(CLOSE_EXPIRED.into(), reason.as_bytes());
                }
            }
            _ => serve_streams(connection, Arc::new(peer), shared).await,
        }
        drop(slot);
    }
    .instrument(span)
    .await
}

#[derive(Debug, thiserror::Error)]
enum HandshakeError {
    #[error(transparent)]
    Connection(#[from] quinn::ConnectionError),
    #[error(transparent)]
    Codec(#[from] CodecError),
    #[error("the client presented no usable key")]
    NoKey,
}

type Welcomed = (quinn::Connection, Peer, Option<Registration>);

/// Completes the handshake and answers the hello. `Ok(None)` means the peer
/// was refused (and told why).
async fn welcome(
    incoming: quinn::Incoming,
    slot: &mut Slot,
    shared: &Shared,
) -> Result<Option<Welcomed>, HandshakeError> {
    let connection = incoming.await?;
    let Some(key) = tls::peer_public_key(&connection) else {
        connection.close(CLOSE_PROTOCOL.into(), b"no Ed25519 client key");
        return Err(HandshakeError::NoKey);
    };
    let (mut send, mut recv) = connection.accept_bi().await?;
    let mut hello_kind = None;
    let decision = match read_hello(&mut recv).await? {
        Ok(hello) => match lookup(shared, &key, hello.peer).await {
            Ok(known) => {
                hello_kind = Some(hello.peer);
                decide(&hello, known)
            }
            Err(e) => {
                warn!(error = %e, "cannot look up the peer's key");
                Err(RemoteError::new(
                    ErrorKind::Unavailable,
                    "the relay cannot reach its database; try again shortly",
                ))
            }
        },
        Err(refusal) => Err(refusal),
    };
    // Each kind of peer has its own room: strangers cannot fill the one
    // kept for agents and technicians.
    let decision = decision.and_then(|identity| {
        let stage = match identity {
            SessionIdentity::Unenrolled => Stage::Unenrolled,
            _ => Stage::Authenticated,
        };
        match slot.promote(stage) {
            Ok(()) => Ok(identity),
            Err(full) => {
                // Strangers past their caps are routine under a flood and
                // would flood the log too; known peers turned away are not.
                if stage == Stage::Authenticated {
                    warn!(refusal = ?full, "connection limit reached; refusing");
                } else {
                    debug!(refusal = ?full, "unenrolled connection limit reached; refusing");
                }
                Err(full.to_remote())
            }
        }
    });
    if let Some(outcome) = login_outcome(&hello_kind, &decision) {
        let admission = match decision {
            Ok(_) => Admission::Record { suppressed: 0 },
            Err(_) => shared.refused_logins.admit(std::time::Instant::now()),
        };
        if let Admission::Record { suppressed } = admission {
            let actor = match &decision {
                Ok(SessionIdentity::Technician { name, .. }) => audit::technician_actor(name),
                _ => audit::key_actor(&key),
            };
            let mut details = serde_json::json!({
                "peer": connection.remote_address().to_string(),
            });
            if suppressed > 0 {
                details["refused_logins_not_recorded_before_this"] = suppressed.into();
            }
            audit::record(&shared.store, &actor, "login", &actor, &outcome, details).await;
        } else {
            debug!("refused login over the audit budget; counted, not recorded");
        }
    }
    match decision {
        Ok(identity) => {
            // Register before welcoming, so that once the agent has its
            // welcome it is already listed as online. A one-shot agent
            // process (`help`) is seen but never registered: it serves no
            // commands, so it must not take routing from the daemon.
            let registration = match &identity {
                SessionIdentity::Agent { id, .. } => {
                    if let Err(e) = shared.store.touch_agent(*id, Timestamp::now()).await {
                        warn!(error = %e, "could not record the agent as seen");
                    }
                    routable(hello_kind).then(|| shared.registry.register(*id, connection.clone()))
                }
                _ => None,
            };
            write_frame(
                &mut send,
                &Welcome::Accepted {
                    version: PROTOCOL_VERSION,
                    identity: identity.clone(),
                },
            )
            .await?;
            let _ = send.finish();
            Ok(Some((connection, Peer { identity, key }, registration)))
        }
        Err(refusal) => {
            info!(reason = %refusal, "connection refused");
            write_frame(&mut send, &Welcome::Refused(refusal.clone())).await?;
            let _ = send.finish();
            // Give the client a moment to read the refusal before closing.
            let _ = timeout(REFUSAL_LINGER, send.stopped()).await;
            connection.close(CLOSE_REFUSED.into(), refusal.message.as_bytes());
            Ok(None)
        }
    }
}

/// Whether a peer of this kind serves relay → agent commands, and so may
/// be registered for routing, pushed policies and counted as online.
fn routable(kind: Option<PeerKind>) -> bool {
    kind == Some(PeerKind::Agent)
}

/// What a technician's connection attempt records in the audit log: a
/// login, or a refused one. Agents connect too often to be worth an entry.
fn login_outcome(
    kind: &Option<PeerKind>,
    decision: &Result<SessionIdentity, RemoteError>,
) -> Option<String> {
    match (kind, decision) {
        (Some(PeerKind::Technician), Ok(_)) => Some("ok".into()),
        (Some(PeerKind::Technician), Err(e)) => Some(audit::refused(e)),
        _ => None,
    }
}

/// Reads the hello. A frame that is not a `Hello` of this version becomes a
/// refusal: "version mismatch" when its leading version differs, "garbled"
/// otherwise. Stream failures are errors.
async fn read_hello(
    recv: &mut quinn::RecvStream,
) -> Result<Result<Hello, RemoteError>, CodecError> {
    let mut prefix = [0u8; 4];
    recv.read_exact(&mut prefix)
        .await
        .map_err(|_| CodecError::Truncated)?;
    let len = match body_len(prefix) {
        Ok(len) if len <= MAX_HELLO_LEN => len,
        Ok(len) => {
            let e = CodecError::FrameTooLarge {
                len,
                max: MAX_HELLO_LEN,
            };
            return Ok(Err(garbled("hello", &e)));
        }
        Err(e) => return Ok(Err(garbled("hello", &e))),
    };
    let mut body = vec![0u8; len];
    recv.read_exact(&mut body)
        .await
        .map_err(|_| CodecError::Truncated)?;
    Ok(match decode_body::<Hello>(&body) {
        Ok(hello) => Ok(hello),
        Err(e) => match decode_prefix::<u16>(&body) {
            Ok(version) if version != PROTOCOL_VERSION => Err(version_mismatch(version)),
            _ => Err(garbled("hello", &e)),
        },
    })
}

fn garbled(what: &str, e: &CodecError) -> RemoteError {
    RemoteError::new(ErrorKind::InvalidInput, format!("garbled {what}: {e}"))
}

/// Serves request streams until the connection ends. Each stream runs on
/// its own task, so a slow or stalled request holds up nothing else; QUIC's
/// stream limit bounds how many run at once.
async fn serve_streams(connection: quinn::Connection, peer: Arc<Peer>, shared: Arc<Shared>) {
    let mut streams = JoinSet::new();
    // An admin removing this peer closes the connection at once.
    let revoked = super::revoke::revoked(&shared, &peer);
    tokio::pin!(revoked);
    loop {
        tokio::select! {
            reason = &mut revoked => {
                info!(%reason, "access revoked; closing the connection");
                connection.close(CLOSE_REVOKED.into(), reason.as_bytes());
                break;
            }
            accepted = connection.accept_bi() => match accepted {
                Ok((send, recv)) => {
                    streams.spawn(serve_stream(send, recv, Arc::clone(&peer), Arc::clone(&shared)).in_current_span());
                }
                Err(reason) => {
                    info!(%reason, "disconnected");
                    break;
                }
            },
            Some(done) = streams.join_next(), if !streams.is_empty() => {
                if let Err(e) = done {
                    if e.is_panic() {
                        tracing::error!("a request handler panicked; the connection carries on");
                    }
                }
            }
        }
    }
    streams.abort_all();
}

async fn serve_stream(
    send: quinn::SendStream,
    mut recv: quinn::RecvStream,
    peer: Arc<Peer>,
    shared: Arc<Shared>,
) {
    let mut out = Responder::new(send);
    let request: Request = match timeout(REQUEST_READ_TIMEOUT, read_frame(&mut recv)).await {
        Err(_) => {
            let message = format!(
                "no complete request within {} s",
                REQUEST_READ_TIMEOUT.as_secs()
            );
            out.send(&Response::Error(RemoteError::new(
                ErrorKind::Timeout,
                message,
            )))
            .await;
            out.finish();
            return;
        }
        Ok(Ok(Some(request))) => request,
        // Opened and finished without a request: nothing to answer.
        Ok(Ok(None)) => return,
        Ok(Err(
            e @ (CodecError::Garbled(_) | CodecError::FrameTooLarge { .. } | CodecError::Encode(_)),
        )) => {
            debug!(error = %e, "garbled request");
            out.send(&Response::Error(garbled("request", &e))).await;
            out.finish();
            return;
        }
        Ok(Err(e @ (CodecError::Truncated | CodecError::Io(_)))) => {
            debug!(error = %e, "client went away mid-request");
            return;
        }
    };
    let span = info_span!(
        "request",
        kind = request.name(),
        ticket_id = tracing::field::Empty
    );
    if let SessionIdentity::Technician { name, .. } = &peer.identity {
        // Before any work or audit entry: a flood costs the relay one
        // frame read and one answer per request.
        let now = std::time::Instant::now();
        if let Err(wait) = shared.rate.check(name, now) {
            debug!(technician = %name, "request over the technician's rate");
            let refusal = rate_limit::rate_limited(name, shared.rate.rate(), wait);
            out.send(&Response::Error(refusal)).await;
            out.finish();
            let kind = RequestKind::from(&request);
            shared
                .metrics
                .requests
                .record(kind, Outcome::Refused, now.elapsed());
            return;
        }
    }
    dispatch::execute(&shared, &peer, request, recv, &mut out)
        .instrument(span)
        .await;
    out.finish();
}
