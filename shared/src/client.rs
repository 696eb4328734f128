//! The client side of a connection to the relay, shared by the agent and the
//! technician CLI: connect with a pinned relay, say hello, then send requests,
//! each on its own stream.

use crate::codec::{expect_frame, read_frame, write_frame, CodecError};
use crate::error::{ErrorKind, RemoteError};
use crate::identity::KeyPair;
use crate::protocol::{Hello, PeerKind, Request, Response, SessionIdentity, Welcome};
use crate::tls::{client_config, TlsError, FINGERPRINT_MISMATCH, SERVER_NAME};
use crate::token::RelayLocator;
use serde::de::DeserializeOwned;
use std::net::SocketAddr;
use std::time::Duration;

/// How long connecting and the hello exchange may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one plain request may wait for its answer.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot resolve relay address `{0}`: {1}")]
    Resolve(String, String),
    #[error("the relay at {addr} is not the one this identity trusts ({detail}); check the fingerprint in your token, or ask the admin for a new one")]
    WrongRelay { addr: String, detail: String },
    #[error("cannot connect to the relay at {addr}: {detail}")]
    Connect { addr: String, detail: String },
    #[error("relay refused the connection: {0}")]
    Refused(RemoteError),
    #[error("{0}")]
    Remote(RemoteError),
    #[error("relay at {0} did not answer in time")]
    Timeout(String),
    #[error("connection to the relay failed: {0}")]
    Connection(#[from] quinn::ConnectionError),
    #[error("relay sent something unexpected: {0}")]
    Protocol(String),
    #[error(transparent)]
    Codec(#[from] CodecError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("cannot open a local UDP socket: {0}")]
    Socket(std::io::Error),
}

impl ClientError {
    /// The remote error kind, when the relay refused with one.
    pub fn remote_kind(&self) -> Option<ErrorKind> {
        match self {
            ClientError::Remote(e) | ClientError::Refused(e) => Some(e.kind),
            _ => None,
        }
    }
}

/// An authenticated connection to the relay.
pub struct Session {
    endpoint: quinn::Endpoint,
    connection: quinn::Connection,
    identity: SessionIdentity,
    relay_addr: String,
}

impl Session {
    pub async fn connect(
        relay: &RelayLocator,
        key: &KeyPair,
        peer: PeerKind,
    ) -> Result<Self, ClientError> {
        let addr = resolve(&relay.addr).await?;
        let bind: SocketAddr = if addr.is_ipv6() {
            "[::]:0"
        } else {
            "0.0.0.0:0"
        }
        .parse()
        .expect("literal address");
        let mut endpoint = quinn::Endpoint::client(bind).map_err(ClientError::Socket)?;
        endpoint.set_default_client_config(client_config(key, relay.fingerprint)?);
        let fail = |detail: String| {
            if detail.contains(FINGERPRINT_MISMATCH) {
                ClientError::WrongRelay {
                    addr: relay.addr.clone(),
                    detail,
                }
            } else {
                ClientError::Connect {
                    addr: relay.addr.clone(),
                    detail,
                }
            }
        };
        let connecting = endpoint
            .connect(addr, SERVER_NAME)
            .map_err(|e| fail(e.to_string()))?;
        let handshake = async {
            let connection = connecting.await.map_err(|e| fail(e.to_string()))?;
            let (mut send, mut recv) = connection.open_bi().await?;
            write_frame(&mut send, &Hello::new(peer)).await?;
            let _ = send.finish();
            let welcome: Welcome = expect_frame(&mut recv).await?;
            Ok::<_, ClientError>((connection, welcome))
        };
        let (connection, welcome) = tokio::time::timeout(CONNECT_TIMEOUT, handshake)
            .await
            .map_err(|_| ClientError::Timeout(relay.addr.clone()))??;
        match welcome {
            Welcome::Accepted { identity, .. } => Ok(Session {
                endpoint,
                connection,
                identity,
                relay_addr: relay.addr.clone(),
            }),
            Welcome::Refused(e) => Err(ClientError::Refused(e)),
        }
    }

    pub fn identity(&self) -> &SessionIdentity {
        &self.identity
    }

    pub fn connection(&self) -> &quinn::Connection {
        &self.connection
    }

    /// Sends one request and reads its single response. A relay error
    /// response becomes [`ClientError::Remote`].
    pub async fn request(&self, request: &Request) -> Result<Response, ClientError> {
        let exchange = async {
            let (mut send, mut recv) = self.connection.open_bi().await?;
            write_frame(&mut send, request).await?;
            let _ = send.finish();
            let response: Response = expect_frame(&mut recv).await?;
            Ok::<_, ClientError>(response)
        };
        match tokio::time::timeout(REQUEST_TIMEOUT, exchange).await {
            Err(_) => Err(ClientError::Timeout(self.relay_addr.clone())),
            Ok(Ok(Response::Error(e))) => Err(ClientError::Remote(e)),
            Ok(other) => other,
        }
    }

    /// Opens a stream, sends `request` and hands back the receiving half for
    /// responses that come as several frames.
    pub async fn open_stream(&self, request: &Request) -> Result<quinn::RecvStream, ClientError> {
        let (mut send, recv) = self.connection.open_bi().await?;
        write_frame(&mut send, request).await?;
        let _ = send.finish();
        Ok(recv)
    }

    /// Closes the connection politely and waits until the relay knows.
    pub async fn close(self) {
        self.connection.close(0u32.into(), b"bye");
        self.endpoint.wait_idle().await;
    }
}

/// Reads the next frame of a multi-frame response.
pub async fn next_frame<T: DeserializeOwned>(
    recv: &mut quinn::RecvStream,
) -> Result<Option<T>, ClientError> {
    Ok(read_frame(recv).await?)
}

async fn resolve(addr: &str) -> Result<SocketAddr, ClientError> {
    tokio::net::lookup_host(addr)
        .await
        .map_err(|e| ClientError::Resolve(addr.to_string(), e.to_string()))?
        .next()
        .ok_or_else(|| ClientError::Resolve(addr.to_string(), "no address found".into()))
}
