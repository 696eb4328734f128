//! Enrollment: trade a single-use token for an agent id bound to this
//! machine's own key.
//!
//! The key is written *before* the relay is asked, and the agent id only
//! after it answered. If the answer is lost (or the agent crashes before
//! saving it), the next `enroll` reuses the key; the relay then already knows
//! it and says who we are in its welcome, so the id is recovered without
//! spending another token.
//!
//! The organisation key in the token (if any) is pinned before the agent id
//! is saved: it comes from the admin with the token, not from the relay, and
//! decides whose script approvals this agent will ever trust.

use crate::error::AgentError;
use crate::host;
use crate::state::StateDir;
use std::path::Path;
use std::time::Duration;
use tracing::{info, warn};
use triage_shared::client::{ClientError, Session};
use triage_shared::identity::KeyPair;
use triage_shared::protocol::{PeerKind, Request, Response, SessionIdentity};
use triage_shared::token::EnrollmentToken;
use triage_shared::AgentId;

/// How long a polite close may wait for the relay to acknowledge.
pub const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Enrolls the agent whose state lives in `state_dir` with `token`.
pub async fn enroll(state_dir: &Path, token: &EnrollmentToken) -> Result<AgentId, AgentError> {
    let dir = StateDir::new(state_dir);
    if let Some(agent_id) = dir.agent_id()? {
        return Err(AgentError::AlreadyEnrolled {
            dir: dir.path().to_path_buf(),
            agent_id,
        });
    }
    dir.ensure()?;
    let key = match dir.key()? {
        Some(key) => {
            info!(public_key = %key.public_key(), "reusing the key of an unfinished enrollment");
            key
        }
        None => {
            let key = KeyPair::generate();
            dir.write_key(&key)?;
            key
        }
    };

    let relay = &token.relay;
    // Enrolling serves no relay commands: a one-shot connection, so that a
    // recovered enrollment never takes routing from a running daemon.
    let session = Session::connect(relay, &key, PeerKind::AgentOneShot)
        .await
        .map_err(|e| match e {
            ClientError::Refused(refusal) => AgentError::EnrollRefused(refusal),
            other => crate::error::from_client(&relay.addr, other),
        })?;
    let outcome = exchange(&session, token).await;
    close(session).await;
    let agent_id = outcome?;

    dir.pin_org_key(token.org_key.as_ref())?;
    // The token's minimum roster version: anything older is refused.
    dir.save_roster_floor(token.min_roster.saturating_sub(1))?;
    dir.save_enrollment(relay, agent_id)?;
    match &token.org_key {
        Some(org) => info!(%agent_id, relay = %relay.addr, org_key = %org, "enrolled"),
        None => {
            warn!(%agent_id, relay = %relay.addr, "enrolled without an organisation key: this agent will refuse every script")
        }
    }
    Ok(agent_id)
}

/// Sends the enrollment request, unless the relay already knows this key.
async fn exchange(session: &Session, token: &EnrollmentToken) -> Result<AgentId, AgentError> {
    let addr = &token.relay.addr;
    match session.identity() {
        SessionIdentity::Unenrolled => {}
        SessionIdentity::Agent { id, .. } => {
            warn!(agent_id = %id, "the relay already knows this key; keeping its agent id, the token was not used");
            return Ok(*id);
        }
        SessionIdentity::Technician { .. } => {
            return Err(AgentError::UnexpectedResponse {
                request: "hello",
                got: "technician identity",
            });
        }
    }
    let request = Request::Enroll {
        token_secret: token.secret.to_hex(),
        hostname: host::hostname(),
        os: host::os_label(),
    };
    match session.request(&request).await {
        Ok(Response::Enrolled { agent_id }) => Ok(agent_id),
        Ok(other) => Err(AgentError::UnexpectedResponse {
            request: request.name(),
            got: response_name(&other),
        }),
        Err(ClientError::Remote(refusal)) => Err(AgentError::EnrollRefused(refusal)),
        Err(e) => Err(crate::error::from_client(addr, e)),
    }
}

/// Closes a session politely without letting an unresponsive relay hold us up.
pub(crate) async fn close(session: Session) {
    let _ = tokio::time::timeout(CLOSE_GRACE, session.close()).await;
}

/// A short name for a response, for error messages.
pub(crate) fn response_name(response: &Response) -> &'static str {
    response.name()
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_shared::identity::CertFingerprint;
    use triage_shared::token::{RelayLocator, TokenSecret};

    fn unreachable_token() -> EnrollmentToken {
        // Port 0 is refused by QUIC at once, like a relay that cannot be reached.
        EnrollmentToken {
            relay: RelayLocator {
                addr: "127.0.0.1:0".into(),
                fingerprint: CertFingerprint([1; 32]),
            },
            secret: TokenSecret::generate(),
            org_key: None,
            min_roster: 0,
        }
    }

    #[tokio::test]
    async fn enrolled_state_is_not_overwritten() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = StateDir::new(tmp.path());
        let id = AgentId::new_random();
        dir.write_key(&KeyPair::generate()).unwrap();
        dir.save_enrollment(&unreachable_token().relay, id).unwrap();
        let err = enroll(tmp.path(), &unreachable_token()).await.unwrap_err();
        match &err {
            AgentError::AlreadyEnrolled { agent_id, .. } => assert_eq!(*agent_id, id),
            other => panic!("{other}"),
        }
        assert!(err.to_string().contains("--force"), "{err}");
        assert_eq!(dir.load().unwrap().agent_id, id);
    }

    #[tokio::test]
    async fn a_failed_enrollment_keeps_the_key_for_the_retry_and_saves_no_id() {
        let tmp = tempfile::tempdir().unwrap();
        let state = tmp.path().join("agent");
        let err = enroll(&state, &unreachable_token()).await.unwrap_err();
        assert!(matches!(err, AgentError::Unreachable { .. }), "{err}");
        let dir = StateDir::new(&state);
        let key = dir.key().unwrap().expect("the key is kept");
        assert!(matches!(dir.load(), Err(AgentError::NotEnrolled { .. })));
        // A second attempt reuses the same key.
        let _ = enroll(&state, &unreachable_token()).await.unwrap_err();
        assert_eq!(dir.key().unwrap().unwrap().public_key(), key.public_key());
    }

    #[test]
    fn response_names_are_short_labels() {
        assert_eq!(response_name(&Response::Ok), "ok");
        assert_eq!(
            response_name(&Response::Enrolled {
                agent_id: AgentId::new_random()
            }),
            "enrolled"
        );
    }
}
