//! Who may send which request. Checked before a request does anything;
//! each request's audience is its row in `route`.

use super::route::Audience;
use triage_shared::protocol::{ErrorKind, RemoteError, SessionIdentity};
use triage_shared::roles::{action_to_fetch, may, roles_allowed, Role};
use triage_shared::transfer::AttachmentKind;

/// The second check on `fetch_attachment`, once the attachment's kind is
/// known: downloading needs the role that may make such an attachment.
pub fn authorize_fetch(
    identity: &SessionIdentity,
    kind: AttachmentKind,
) -> Result<(), RemoteError> {
    let action = action_to_fetch(kind);
    let roles: &[Role] = match identity {
        SessionIdentity::Technician { roles, .. } => roles,
        _ => &[],
    };
    if may(roles, action) {
        return Ok(());
    }
    Err(RemoteError::new(
        ErrorKind::Forbidden,
        format!(
            "downloading a {} attachment needs one of the roles {} (as taking one does); you have {}. Ask an admin for the role",
            kind.as_str(),
            role_list(roles_allowed(action)),
            role_list(roles),
        ),
    ))
}

fn role_list(roles: &[Role]) -> String {
    if roles.is_empty() {
        return "none".into();
    }
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The check from the request alone (the dispatcher has its route already).
#[cfg(test)]
pub fn authorize(
    identity: &SessionIdentity,
    request: &triage_shared::protocol::Request,
) -> Result<(), RemoteError> {
    authorize_audience(
        identity,
        request.name(),
        super::route::route(request).audience,
    )
}

/// Whether `identity` may send a request named `name` meant for `audience`.
pub(super) fn authorize_audience(
    identity: &SessionIdentity,
    name: &str,
    audience: Audience,
) -> Result<(), RemoteError> {
    let refuse = |kind, message: String| Err(RemoteError::new(kind, message));
    match (identity, audience) {
        (_, Audience::Anyone) => Ok(()),
        (SessionIdentity::Unenrolled, Audience::Unenrolled) => Ok(()),
        (SessionIdentity::Unenrolled, _) => refuse(
            ErrorKind::Unauthenticated,
            format!("`{name}` needs an enrolled agent; enroll first with `triage-agent enroll TOKEN`"),
        ),
        (SessionIdentity::Agent { id, .. }, Audience::Unenrolled) => refuse(
            ErrorKind::Conflict,
            format!("this agent is already enrolled as {id}; there is nothing to enroll"),
        ),
        (SessionIdentity::Agent { .. }, Audience::Agent) => Ok(()),
        (SessionIdentity::Agent { .. }, Audience::Technician(_)) => refuse(
            ErrorKind::Forbidden,
            format!("`{name}` is a technician request; agents may only send who_am_i, heartbeat, submit_ticket, submit_update and my_tickets"),
        ),
        (SessionIdentity::Technician { .. }, Audience::Unenrolled | Audience::Agent) => refuse(
            ErrorKind::Forbidden,
            format!("`{name}` is an agent request; technicians cannot send it"),
        ),
        (SessionIdentity::Technician { roles, .. }, Audience::Technician(action)) => {
            if may(roles, action) {
                Ok(())
            } else {
                refuse(
                    ErrorKind::Forbidden,
                    format!(
                        "`{name}` needs one of the roles {}; you have {}. Ask an admin for the role",
                        role_list(roles_allowed(action)),
                        role_list(roles),
                    ),
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_shared::identity::KeyPair;
    use triage_shared::protocol::Request;
    use triage_shared::ticket::StatusAction;
    use triage_shared::{AgentId, TicketId};

    fn tech(roles: &[Role]) -> SessionIdentity {
        SessionIdentity::Technician {
            name: "carol".into(),
            roles: roles.to_vec(),
        }
    }

    fn agent() -> SessionIdentity {
        SessionIdentity::Agent {
            id: AgentId::new_random(),
            hostname: "pc".into(),
        }
    }

    fn kind(identity: &SessionIdentity, request: &Request) -> Option<ErrorKind> {
        authorize(identity, request).err().map(|e| e.kind)
    }

    #[test]
    fn l1_cannot_register_technicians_or_make_tokens() {
        let register = Request::RegisterTechnician {
            name: "eve".into(),
            roles: vec![Role::Admin],
            public_key: KeyPair::generate().public_key(),
        };
        let token = Request::CreateEnrollmentToken {
            uses: 1,
            ttl_secs: 60,
        };
        for request in [&register, &token] {
            let err = authorize(&tech(&[Role::L1]), request).unwrap_err();
            assert_eq!(err.kind, ErrorKind::Forbidden);
            assert!(
                err.message.contains("admin") && err.message.contains("you have l1"),
                "{}",
                err.message
            );
            assert_eq!(kind(&tech(&[Role::L1, Role::Admin]), request), None);
        }
    }

    #[test]
    fn technician_requests_follow_the_role_table() {
        let show = Request::ShowTicket {
            id: TicketId::new_random(),
        };
        let resolve = Request::ChangeStatus {
            id: TicketId::new_random(),
            action: StatusAction::Resolve,
            note: None,
        };
        assert_eq!(kind(&tech(&[Role::Approver]), &show), None);
        assert_eq!(
            kind(&tech(&[Role::Approver]), &resolve),
            Some(ErrorKind::Forbidden)
        );
        assert_eq!(kind(&tech(&[Role::L1]), &resolve), None);
        assert_eq!(
            kind(&tech(&[]), &Request::ListAgents),
            Some(ErrorKind::Forbidden)
        );
    }

    #[test]
    fn agents_may_only_send_agent_requests() {
        assert_eq!(kind(&agent(), &Request::WhoAmI), None);
        assert_eq!(kind(&agent(), &Request::Heartbeat), None);
        assert_eq!(
            kind(&agent(), &Request::ListAgents),
            Some(ErrorKind::Forbidden)
        );
        assert_eq!(
            kind(&agent(), &Request::ListTechnicians),
            Some(ErrorKind::Forbidden)
        );
        let enroll = Request::Enroll {
            token_secret: String::new(),
            hostname: "pc".into(),
            os: "os".into(),
        };
        assert_eq!(kind(&agent(), &enroll), Some(ErrorKind::Conflict));
    }

    #[test]
    fn only_agents_may_submit_updates() {
        let update = Request::SubmitUpdate {
            id: triage_shared::ids::UpdateId::new_random(),
            ticket: TicketId::new_random(),
            update: triage_shared::agent_update::AgentUpdate::Comment("c".into()),
        };
        assert_eq!(kind(&agent(), &update), None);
        assert_eq!(kind(&tech(&Role::ALL), &update), Some(ErrorKind::Forbidden));
        assert_eq!(
            kind(&SessionIdentity::Unenrolled, &update),
            Some(ErrorKind::Unauthenticated)
        );
    }

    #[test]
    fn technicians_may_not_send_agent_requests() {
        let admin = tech(&Role::ALL);
        assert_eq!(
            kind(&admin, &Request::Heartbeat),
            Some(ErrorKind::Forbidden)
        );
        let enroll = Request::Enroll {
            token_secret: String::new(),
            hostname: "pc".into(),
            os: "os".into(),
        };
        assert_eq!(kind(&admin, &enroll), Some(ErrorKind::Forbidden));
    }

    #[test]
    fn only_agents_list_their_employees_tickets_and_notes_need_the_comment_role() {
        let mine = Request::MyTickets {
            requester: "alice".into(),
            limit: 0,
        };
        assert_eq!(kind(&agent(), &mine), None);
        assert_eq!(kind(&tech(&Role::ALL), &mine), Some(ErrorKind::Forbidden));
        assert_eq!(
            kind(&SessionIdentity::Unenrolled, &mine),
            Some(ErrorKind::Unauthenticated)
        );
        let note = Request::Note {
            id: TicketId::new_random(),
            text: "x".into(),
        };
        let comment = Request::Comment {
            id: TicketId::new_random(),
            text: "x".into(),
        };
        for role in Role::ALL {
            let roles = [role];
            assert_eq!(
                kind(&tech(&roles), &note),
                kind(&tech(&roles), &comment),
                "{role}"
            );
        }
        assert_eq!(kind(&tech(&[Role::L1]), &note), None);
        assert_eq!(kind(&agent(), &note), Some(ErrorKind::Forbidden));
    }

    fn script_requests() -> (Request, Request, Request, Request, Request) {
        use triage_shared::approval::{
            Approval, Interpreter, Nonce, ScriptDigest, ScriptId, ScriptManifest,
        };
        use triage_shared::time::Timestamp;
        let key = KeyPair::generate();
        let ticket = TicketId::new_random();
        let script = ScriptManifest {
            script_id: ScriptId::new_random(),
            ticket_id: ticket,
            digest: ScriptDigest::of(b"true"),
            interpreter: Interpreter::Sh,
            timeout_secs: 5,
            author: "carol".into(),
            author_key: key.public_key(),
            description: String::new(),
            created_at: Timestamp(0),
            targets: vec![AgentId::new_random()],
        }
        .sign(&key);
        let approval = Approval {
            manifest_hash: script.hash(),
            script_id: script.manifest.script_id,
            ticket_id: ticket,
            approved_at: Timestamp(0),
            expires_at: Timestamp(1),
            nonce: Nonce::generate(),
            approver: "carol".into(),
            approver_key: key.public_key(),
        }
        .sign(&key);
        (
            Request::AttachScript {
                script: script.clone(),
                content: b"true".to_vec(),
            },
            Request::ApproveScript { ticket, approval },
            Request::RunScript {
                ticket,
                script: script.manifest.script_id,
            },
            Request::ShowScript {
                ticket,
                script: script.manifest.script_id,
            },
            Request::ListScripts { ticket },
        )
    }

    #[test]
    fn scripts_need_l2_to_attach_and_run_and_an_approver_to_approve() {
        let (attach, approve, run, show, list) = script_requests();
        for r in [&attach, &run] {
            assert_eq!(kind(&tech(&[Role::L2]), r), None);
            assert_eq!(kind(&tech(&[Role::L1]), r), Some(ErrorKind::Forbidden));
            assert_eq!(
                kind(&tech(&[Role::Approver]), r),
                Some(ErrorKind::Forbidden)
            );
        }
        assert_eq!(kind(&tech(&[Role::Approver]), &approve), None);
        assert_eq!(
            kind(&tech(&[Role::L3]), &approve),
            Some(ErrorKind::Forbidden)
        );
        // Approvers must be able to read what they are asked to sign.
        for r in [&show, &list] {
            assert_eq!(kind(&tech(&[Role::Approver]), r), None);
            assert_eq!(kind(&tech(&[Role::L1]), r), None);
        }
        for r in [&attach, &approve, &run, &show, &list] {
            assert_eq!(kind(&agent(), r), Some(ErrorKind::Forbidden));
        }
    }

    #[test]
    fn only_admins_read_the_audit_log_and_l1_may_run_diagnostics() {
        let audit = Request::ListAudit {
            after_seq: 0,
            since: None,
            limit: 10,
        };
        assert_eq!(kind(&tech(&[Role::Admin]), &audit), None);
        for r in [Role::L1, Role::L2, Role::L3, Role::Approver] {
            assert_eq!(kind(&tech(&[r]), &audit), Some(ErrorKind::Forbidden), "{r}");
        }
        let diag = Request::Diagnose {
            agent: AgentId::new_random(),
            sections: vec![],
            attach: None,
        };
        assert_eq!(kind(&tech(&[Role::L1]), &diag), None);
        assert_eq!(
            kind(&tech(&[Role::Approver]), &diag),
            Some(ErrorKind::Forbidden)
        );
        assert_eq!(kind(&agent(), &diag), Some(ErrorKind::Forbidden));
    }

    #[test]
    fn unenrolled_agents_may_only_enroll_and_ask_who_they_are() {
        let u = SessionIdentity::Unenrolled;
        let enroll = Request::Enroll {
            token_secret: String::new(),
            hostname: "pc".into(),
            os: "os".into(),
        };
        assert_eq!(kind(&u, &enroll), None);
        assert_eq!(kind(&u, &Request::WhoAmI), None);
        let err = authorize(&u, &Request::Heartbeat).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Unauthenticated);
        assert!(
            err.message.contains("triage-agent enroll"),
            "{}",
            err.message
        );
        assert_eq!(
            kind(&u, &Request::ListAgents),
            Some(ErrorKind::Unauthenticated)
        );
    }

    #[test]
    fn log_pulls_and_screenshots_need_l2_and_attachments_need_only_a_view() {
        let agent_id = AgentId::new_random();
        let pull = Request::PullLogs {
            agent: agent_id,
            query: triage_shared::transfer::LogQuery::whole("/var/log/syslog"),
            attach: None,
        };
        let shot = Request::Screenshot {
            agent: agent_id,
            attach: None,
        };
        for r in [&pull, &shot] {
            let err = authorize(&tech(&[Role::L1]), r).unwrap_err();
            assert_eq!(err.kind, ErrorKind::Forbidden);
            assert!(err.message.contains("l2, l3, admin"), "{}", err.message);
            assert_eq!(
                kind(&tech(&[Role::Approver]), r),
                Some(ErrorKind::Forbidden)
            );
            for allowed in [Role::L2, Role::L3, Role::Admin] {
                assert_eq!(kind(&tech(&[allowed]), r), None, "{allowed}");
            }
            assert_eq!(kind(&agent(), r), Some(ErrorKind::Forbidden));
        }
        let fetch = Request::FetchAttachment {
            ticket: TicketId::new_random(),
            attachment: triage_shared::transfer::AttachmentId::new_random(),
        };
        assert_eq!(kind(&tech(&[Role::L1]), &fetch), None);
        assert_eq!(kind(&tech(&[Role::Approver]), &fetch), None);
        assert_eq!(kind(&agent(), &fetch), Some(ErrorKind::Forbidden));
    }

    #[test]
    fn only_admins_remove_change_roles_and_manage_tokens() {
        let requests = [
            Request::RemoveTechnician { name: "bob".into() },
            Request::SetTechnicianRoles {
                name: "bob".into(),
                roles: vec![Role::L1],
            },
            Request::RemoveAgent {
                agent: AgentId::new_random(),
            },
            Request::ListTokens,
            Request::RevokeToken {
                id: "abcdef".into(),
            },
        ];
        for request in &requests {
            assert_eq!(
                kind(&tech(&[Role::Admin]), request),
                None,
                "{}",
                request.name()
            );
            for r in [Role::L1, Role::L2, Role::L3, Role::Approver] {
                let err = authorize(&tech(&[r]), request).unwrap_err();
                assert_eq!(err.kind, ErrorKind::Forbidden);
                assert!(err.message.contains("roles admin"), "{}", err.message);
            }
            assert_eq!(kind(&agent(), request), Some(ErrorKind::Forbidden));
        }
    }

    #[test]
    fn attachments_need_the_role_that_made_them_and_the_refusal_names_it() {
        for kind in [AttachmentKind::Log, AttachmentKind::Screenshot] {
            for r in [Role::L1, Role::Approver] {
                let err = authorize_fetch(&tech(&[r]), kind).unwrap_err();
                assert_eq!(err.kind, ErrorKind::Forbidden);
                assert!(
                    err.message.contains(kind.as_str()) && err.message.contains("l2, l3, admin"),
                    "{}",
                    err.message
                );
            }
            for r in [Role::L2, Role::L3, Role::Admin] {
                assert!(authorize_fetch(&tech(&[r]), kind).is_ok(), "{r}");
            }
            assert!(authorize_fetch(&agent(), kind).is_err());
        }
    }

    #[test]
    fn every_role_that_lists_agents_may_ping_them_and_agents_may_not() {
        let ping = Request::PingAgent {
            agent: AgentId::new_random(),
        };
        for role in Role::ALL {
            let roles = [role];
            assert_eq!(
                kind(&tech(&roles), &ping),
                kind(&tech(&roles), &Request::ListAgents),
                "{role}"
            );
            assert_eq!(kind(&tech(&roles), &ping), None, "{role}");
        }
        assert_eq!(kind(&tech(&[]), &ping), Some(ErrorKind::Forbidden));
        let err = authorize(&agent(), &ping).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Forbidden);
        assert!(err.message.contains("`ping_agent`"), "{}", err.message);
        assert_eq!(
            kind(&SessionIdentity::Unenrolled, &ping),
            Some(ErrorKind::Unauthenticated)
        );
    }
}
