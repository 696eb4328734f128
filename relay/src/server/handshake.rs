//! Who a new connection is: decided from its `Hello` and what the store
//! knows about its TLS key. Pure, so every case is tested without a socket.

use crate::store::AgentRecord;
use triage_shared::protocol::TechnicianSummary;
use triage_shared::protocol::{
    ErrorKind, Hello, PeerKind, RemoteError, SessionIdentity, PROTOCOL_VERSION,
};

/// What the store holds for a key, looked up only in the table that matches
/// the kind of peer the client says it is: a technician's key used by an
/// agent (or the reverse) is simply unknown there and gains nothing.
#[derive(Debug, Clone)]
pub enum KnownKey {
    Agent(AgentRecord),
    Technician(TechnicianSummary),
    Unknown,
}

pub fn version_mismatch(theirs: u16) -> RemoteError {
    RemoteError::new(
        ErrorKind::VersionMismatch,
        format!(
            "this relay speaks protocol version {PROTOCOL_VERSION} but the client speaks version {theirs}; \
             install matching versions of triage, triage-agent and triage-relay"
        ),
    )
}

pub fn unregistered_technician() -> RemoteError {
    RemoteError::new(
        ErrorKind::Unauthenticated,
        "this key is not registered; ask an admin to run \
         `triage-relay technician add NAME --role ROLE --pubkey FILE` with the key from `triage keygen`",
    )
}

/// The session identity to welcome the peer with, or why it is refused.
pub fn decide(hello: &Hello, known: KnownKey) -> Result<SessionIdentity, RemoteError> {
    if hello.version != PROTOCOL_VERSION {
        return Err(version_mismatch(hello.version));
    }
    match (hello.peer, known) {
        // A one-shot agent process is the same agent to authorization; only
        // routing tells the two apart (see `connection`).
        (PeerKind::Agent | PeerKind::AgentOneShot, KnownKey::Agent(a)) => {
            Ok(SessionIdentity::Agent {
                id: a.id,
                hostname: a.hostname,
            })
        }
        (PeerKind::Agent | PeerKind::AgentOneShot, _) => Ok(SessionIdentity::Unenrolled),
        (PeerKind::Technician, KnownKey::Technician(t)) => Ok(SessionIdentity::Technician {
            name: t.name,
            roles: t.roles,
        }),
        (PeerKind::Technician, _) => Err(unregistered_technician()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_shared::identity::KeyPair;
    use triage_shared::roles::Role;
    use triage_shared::time::Timestamp;
    use triage_shared::AgentId;

    fn agent() -> AgentRecord {
        AgentRecord {
            id: AgentId::new_random(),
            public_key: KeyPair::generate().public_key(),
            hostname: "pc-7".into(),
            os: "Debian".into(),
            enrolled_at: Timestamp(0),
            last_seen: None,
        }
    }

    fn technician() -> TechnicianSummary {
        TechnicianSummary {
            name: "carol".into(),
            roles: vec![Role::L1],
            public_key: KeyPair::generate().public_key(),
            created_at: Timestamp(0),
        }
    }

    #[test]
    fn known_keys_get_their_identity() {
        let a = agent();
        let id = decide(&Hello::new(PeerKind::Agent), KnownKey::Agent(a.clone())).unwrap();
        assert_eq!(
            id,
            SessionIdentity::Agent {
                id: a.id,
                hostname: a.hostname
            }
        );
        let id = decide(
            &Hello::new(PeerKind::Technician),
            KnownKey::Technician(technician()),
        )
        .unwrap();
        assert_eq!(
            id,
            SessionIdentity::Technician {
                name: "carol".into(),
                roles: vec![Role::L1]
            }
        );
    }

    #[test]
    fn a_one_shot_agent_is_the_same_agent() {
        let a = agent();
        let hello = Hello::new(PeerKind::AgentOneShot);
        let daemon = decide(&Hello::new(PeerKind::Agent), KnownKey::Agent(a.clone())).unwrap();
        assert_eq!(decide(&hello, KnownKey::Agent(a)).unwrap(), daemon);
        assert_eq!(
            decide(&hello, KnownKey::Unknown).unwrap(),
            SessionIdentity::Unenrolled
        );
        assert_eq!(
            decide(&hello, KnownKey::Technician(technician())).unwrap(),
            SessionIdentity::Unenrolled
        );
    }

    #[test]
    fn unknown_agent_may_only_enroll_and_unknown_technician_is_refused() {
        let id = decide(&Hello::new(PeerKind::Agent), KnownKey::Unknown).unwrap();
        assert_eq!(id, SessionIdentity::Unenrolled);
        let err = decide(&Hello::new(PeerKind::Technician), KnownKey::Unknown).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Unauthenticated);
        assert!(
            err.message.contains("triage-relay technician add"),
            "{}",
            err.message
        );
    }

    #[test]
    fn a_key_never_gains_the_other_kinds_powers() {
        let as_agent = decide(
            &Hello::new(PeerKind::Agent),
            KnownKey::Technician(technician()),
        )
        .unwrap();
        assert_eq!(as_agent, SessionIdentity::Unenrolled);
        let as_tech =
            decide(&Hello::new(PeerKind::Technician), KnownKey::Agent(agent())).unwrap_err();
        assert_eq!(as_tech.kind, ErrorKind::Unauthenticated);
    }

    #[test]
    fn other_protocol_versions_are_refused_naming_both() {
        let mut hello = Hello::new(PeerKind::Agent);
        hello.version = PROTOCOL_VERSION + 1;
        let err = decide(&hello, KnownKey::Unknown).unwrap_err();
        assert_eq!(err.kind, ErrorKind::VersionMismatch);
        assert!(
            err.message.contains(&format!("version {PROTOCOL_VERSION}")),
            "{}",
            err.message
        );
        assert!(
            err.message
                .contains(&format!("version {}", PROTOCOL_VERSION + 1)),
            "{}",
            err.message
        );
    }
}
