//! Who a new connection is: decided from its `Hello` and what the store
//! knows about its TLS key. Pure, so every case is tested without a socket.

use crate::store::AgentRecord;
use triage_shared::protocol::TechnicianSummary;
use triage_shared::protocol::{
    ErrorKind, Hello, PeerKind, RemoteError, SessionIdentity, PROTOCOL_VERSION,
};
use triage_shared::time::Timestamp;
use triage_shared::AgentId;

/// What the store holds for a key, looked up only in the table that matches
/// the kind of peer the client says it is: a technician's key used by an
/// agent (or the reverse) is simply unknown there and gains nothing.
#[derive(Debug, Clone)]
pub enum KnownKey {
    /// An agent, removed or not (`removed_at`).
    Agent(AgentRecord),
    Technician(TechnicianSummary),
    /// A technician an admin removed: refused, and told so.
    RemovedTechnician {
        name: String,
        at: Timestamp,
    },
    Unknown,
}

/// The refusal for a removed technician's key, at login or on a request.
pub fn technician_removed(name: &str, at: Timestamp) -> RemoteError {
    RemoteError::new(
        ErrorKind::Revoked,
        format!(
            "technician {name} was removed from this relay at {at}; ask an admin to add you again \
             (`triage technicians add {name} --role ROLE --pubkey FILE`)"
        ),
    )
}

/// The refusal for a removed agent's key: the endpoint must enroll afresh.
pub fn agent_removed(id: AgentId, hostname: &str, at: Timestamp) -> RemoteError {
    RemoteError::new(
        ErrorKind::Revoked,
        format!(
            "agent {id} ({hostname}) was removed from this relay at {at}; enroll this endpoint \
             again with a new token: `triage-agent enroll TOKEN --force`"
        ),
    )
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
            if let Some(at) = a.removed_at {
                return Err(agent_removed(a.id, &a.hostname, at));
            }
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
        (PeerKind::Technician, KnownKey::RemovedTechnician { name, at }) => {
            Err(technician_removed(&name, at))
        }
        (PeerKind::Technician, _) => Err(unregistered_technician()),
    }
}

/// Who an established session is for this request, from what the store
/// holds for its key now: roles changed since the hello apply at once, and
/// a removed technician or agent is refused even on a connection that is
/// still open (e.g. on another relay sharing the database).
pub fn recheck(
    identity: &SessionIdentity,
    known: KnownKey,
) -> Result<SessionIdentity, RemoteError> {
    match (identity, known) {
        (SessionIdentity::Unenrolled, _) => Ok(SessionIdentity::Unenrolled),
        (SessionIdentity::Technician { .. }, KnownKey::Technician(t)) => {
            Ok(SessionIdentity::Technician {
                name: t.name,
                roles: t.roles,
            })
        }
        (SessionIdentity::Technician { .. }, KnownKey::RemovedTechnician { name, at }) => {
            Err(technician_removed(&name, at))
        }
        (SessionIdentity::Technician { .. }, _) => Err(unregistered_technician()),
        (SessionIdentity::Agent { .. }, KnownKey::Agent(a)) => match a.removed_at {
            Some(at) => Err(agent_removed(a.id, &a.hostname, at)),
            None => Ok(SessionIdentity::Agent {
                id: a.id,
                hostname: a.hostname,
            }),
        },
        (SessionIdentity::Agent { id, .. }, _) => Err(RemoteError::new(
            ErrorKind::Revoked,
            format!(
                "agent {id} is no longer enrolled with this relay; enroll this endpoint again \
                 with a new token: `triage-agent enroll TOKEN --force`"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_shared::identity::KeyPair;
    use triage_shared::roles::Role;

    fn agent() -> AgentRecord {
        AgentRecord {
            id: AgentId::new_random(),
            public_key: KeyPair::generate().public_key(),
            hostname: "pc-7".into(),
            os: "Debian".into(),
            enrolled_at: Timestamp(0),
            last_seen: None,
            removed_at: None,
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
    fn removed_keys_are_refused_at_the_hello_saying_what_to_do() {
        let mut a = agent();
        a.removed_at = Some(Timestamp(5));
        for peer in [PeerKind::Agent, PeerKind::AgentOneShot] {
            let err = decide(&Hello::new(peer), KnownKey::Agent(a.clone())).unwrap_err();
            assert_eq!(err.kind, ErrorKind::Revoked);
            assert!(
                err.message.contains("was removed") && err.message.contains("triage-agent enroll"),
                "{}",
                err.message
            );
        }
        let removed = KnownKey::RemovedTechnician {
            name: "carol".into(),
            at: Timestamp(5),
        };
        let err = decide(&Hello::new(PeerKind::Technician), removed).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Revoked);
        assert!(
            err.message.contains("technician carol was removed"),
            "{}",
            err.message
        );
    }

    #[test]
    fn a_recheck_takes_the_stored_roles_and_refuses_removed_peers() {
        let session = SessionIdentity::Technician {
            name: "carol".into(),
            roles: vec![Role::L2],
        };
        let demoted = recheck(&session, KnownKey::Technician(technician())).unwrap();
        assert_eq!(
            demoted,
            SessionIdentity::Technician {
                name: "carol".into(),
                roles: vec![Role::L1]
            }
        );
        let removed = KnownKey::RemovedTechnician {
            name: "carol".into(),
            at: Timestamp(5),
        };
        assert_eq!(
            recheck(&session, removed).unwrap_err().kind,
            ErrorKind::Revoked
        );
        assert!(recheck(&session, KnownKey::Unknown).is_err());
        let a = agent();
        let as_agent = SessionIdentity::Agent {
            id: a.id,
            hostname: a.hostname.clone(),
        };
        assert_eq!(
            recheck(&as_agent, KnownKey::Agent(a.clone())).unwrap(),
            as_agent
        );
        let mut gone = a;
        gone.removed_at = Some(Timestamp(9));
        assert_eq!(
            recheck(&as_agent, KnownKey::Agent(gone)).unwrap_err().kind,
            ErrorKind::Revoked
        );
        assert_eq!(
            recheck(&SessionIdentity::Unenrolled, KnownKey::Unknown).unwrap(),
            SessionIdentity::Unenrolled
        );
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
