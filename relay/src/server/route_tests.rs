use super::*;
use strum::{EnumCount, IntoEnumIterator};
use triage_shared::approval::roster::{OrgKeyRotation, Roster};
use triage_shared::approval::{
    Approval, Interpreter, Nonce, ScriptDigest, ScriptId, ScriptManifest,
};
use triage_shared::identity::KeyPair;
use triage_shared::ids::UpdateId;
use triage_shared::kb::{
    ArticleChange, ArticleContent, ArticleDraft, ArticleFilter, ArticleId, Deflection, Visibility,
};
use triage_shared::notify::NotifyEvent;
use triage_shared::protocol::RequestKind;
use triage_shared::queue::{AgentFilter, SearchQuery, TicketFilter, TicketSort};
use triage_shared::selector::{AgentSelector, TicketRef};
use triage_shared::ticket::{Category, NewTicket, Priority, Source, StatusAction, Tier};
use triage_shared::time::Timestamp;
use triage_shared::transfer::{AttachmentId, LogQuery};
use triage_shared::{AgentId, TicketId};
use uuid::Uuid;

const AGENT: AgentId = AgentId(Uuid::from_u128(0xa));
const TICKET: TicketId = TicketId(Uuid::from_u128(0xb));
const SCRIPT: ScriptId = ScriptId(Uuid::from_u128(0xc));

fn key() -> KeyPair {
    KeyPair::generate()
}

/// One request of every kind. Exhaustive: a new kind does not compile
/// until it has a sample here (and so a row in the table below).
fn sample(kind: RequestKind) -> Request {
    let signer = key();
    let manifest = ScriptManifest {
        script_id: SCRIPT,
        ticket_id: TICKET,
        digest: ScriptDigest::of(b"true"),
        interpreter: Interpreter::Sh,
        timeout_secs: 5,
        author: "carol".into(),
        author_key: signer.public_key(),
        description: String::new(),
        created_at: Timestamp(0),
        targets: vec![AGENT],
    }
    .sign(&signer);
    match kind {
        RequestKind::WhoAmI => Request::WhoAmI,
        RequestKind::Enroll => Request::Enroll {
            token_secret: String::new(),
            hostname: "pc".into(),
            os: "linux".into(),
        },
        RequestKind::Heartbeat => Request::Heartbeat,
        RequestKind::SubmitTicket => Request::SubmitTicket {
            ticket: NewTicket {
                id: TICKET,
                title: "t".into(),
                description: "d".into(),
                category: Category::Other,
                priority: Priority::Low,
                source: Source::Employee,
                requester: "alice".into(),
            },
            snapshot: None,
        },
        RequestKind::ListTickets => Request::ListTickets {
            status: None,
            limit: 0,
        },
        RequestKind::ShowTicket => Request::ShowTicket { id: TICKET },
        RequestKind::Comment => Request::Comment {
            id: TICKET,
            text: "x".into(),
        },
        RequestKind::Assign => Request::Assign {
            id: TICKET,
            assignee: "bob".into(),
        },
        RequestKind::Escalate => Request::Escalate {
            id: TICKET,
            note: None,
        },
        RequestKind::ChangeStatus => Request::ChangeStatus {
            id: TICKET,
            action: StatusAction::Resolve,
            note: None,
        },
        RequestKind::ListAgents => Request::ListAgents,
        RequestKind::RegisterTechnician => Request::RegisterTechnician {
            name: "bob".into(),
            roles: vec![],
            public_key: key().public_key(),
        },
        RequestKind::CreateEnrollmentToken => Request::CreateEnrollmentToken {
            uses: 1,
            ttl_secs: 60,
        },
        RequestKind::ListTechnicians => Request::ListTechnicians,
        RequestKind::AttachScript => Request::AttachScript {
            script: manifest,
            content: b"true".to_vec(),
        },
        RequestKind::ListScripts => Request::ListScripts { ticket: TICKET },
        RequestKind::ShowScript => Request::ShowScript {
            ticket: TICKET,
            script: SCRIPT,
        },
        RequestKind::ApproveScript => Request::ApproveScript {
            ticket: TICKET,
            approval: Approval {
                manifest_hash: manifest.hash(),
                script_id: SCRIPT,
                ticket_id: TICKET,
                approved_at: Timestamp(0),
                expires_at: Timestamp(1),
                nonce: Nonce::generate(),
                approver: "dave".into(),
                approver_key: signer.public_key(),
            }
            .sign(&signer),
        },
        RequestKind::RunScript => Request::RunScript {
            ticket: TICKET,
            script: SCRIPT,
        },
        RequestKind::ListAudit => Request::ListAudit {
            after_seq: 0,
            since: None,
            limit: 0,
        },
        RequestKind::Diagnose => Request::Diagnose {
            agent: AGENT,
            sections: vec![],
            attach: None,
        },
        RequestKind::SubmitUpdate => Request::SubmitUpdate {
            id: UpdateId(Uuid::from_u128(0xd)),
            ticket: TICKET,
            update: AgentUpdate::Screenshot(vec![1]),
        },
        RequestKind::PullLogs => Request::PullLogs {
            agent: AGENT,
            query: LogQuery::whole("/var/log/syslog"),
            attach: None,
        },
        RequestKind::Screenshot => Request::Screenshot {
            agent: AGENT,
            attach: None,
        },
        RequestKind::FetchAttachment => Request::FetchAttachment {
            ticket: TICKET,
            attachment: AttachmentId(Uuid::from_u128(0xe)),
        },
        RequestKind::MyTickets => Request::MyTickets {
            requester: "alice".into(),
            limit: 0,
        },
        RequestKind::Note => Request::Note {
            id: TICKET,
            text: "x".into(),
        },
        RequestKind::PingAgent => Request::PingAgent { agent: AGENT },
        RequestKind::ExportRoster => Request::ExportRoster { validity_secs: 60 },
        RequestKind::PublishRoster => Request::PublishRoster {
            roster: Box::new(
                Roster {
                    version: 7,
                    entries: vec![],
                    issued_at: Timestamp(0),
                    expires_at: Timestamp(1),
                }
                .sign(&signer),
            ),
        },
        RequestKind::CurrentRoster => Request::CurrentRoster,
        RequestKind::PublishRotation => Request::PublishRotation {
            rotation: Box::new(
                OrgKeyRotation {
                    old_key: signer.public_key(),
                    new_key: signer.public_key(),
                    issued_at: Timestamp(0),
                }
                .sign(&signer),
            ),
        },
        RequestKind::RemoveTechnician => Request::RemoveTechnician { name: "bob".into() },
        RequestKind::SetTechnicianRoles => Request::SetTechnicianRoles {
            name: "bob".into(),
            roles: vec![],
        },
        RequestKind::RemoveAgent => Request::RemoveAgent { agent: AGENT },
        RequestKind::ListTokens => Request::ListTokens,
        RequestKind::RevokeToken => Request::RevokeToken {
            id: "0123456789abcdef".into(),
        },
        RequestKind::ResolveAgent => Request::ResolveAgent {
            selector: AgentSelector::Name("pc".into()),
        },
        RequestKind::ResolveTicket => Request::ResolveTicket {
            reference: TicketRef::Full(TICKET),
        },
        RequestKind::ListAgentsPage => Request::ListAgentsPage {
            after: None,
            limit: 0,
        },
        RequestKind::ListTicketsPage => Request::ListTicketsPage {
            filter: TicketFilter::default(),
            sort: TicketSort::Created,
            after: None,
            limit: 0,
        },
        RequestKind::SearchTickets => Request::SearchTickets {
            query: SearchQuery::parse("vpn").unwrap(),
            filter: TicketFilter::default(),
            limit: 0,
        },
        RequestKind::SimilarTickets => Request::SimilarTickets {
            ticket: TICKET,
            limit: 5,
        },
        RequestKind::ListAgentsFiltered => Request::ListAgentsFiltered {
            filter: AgentFilter::default(),
            after: None,
            limit: 0,
        },
        RequestKind::CountAgents => Request::CountAgents {
            filter: AgentFilter::default(),
        },
        RequestKind::WatchQueue => Request::WatchQueue {
            filter: TicketFilter::default(),
            after: None,
        },
        RequestKind::ShowSla => Request::ShowSla,
        RequestKind::SetSla => Request::SetSla {
            text: "warning_percent = 75".into(),
        },
        RequestKind::SetPriority => Request::SetPriority {
            id: TICKET,
            priority: Priority::Urgent,
            note: None,
        },
        RequestKind::AddWebhook => Request::AddWebhook {
            url: "https://bot:pw@hooks.example.com/t".into(),
            events: vec![NotifyEvent::New],
            secret: None,
        },
        RequestKind::ListWebhooks => Request::ListWebhooks,
        RequestKind::RemoveWebhook => Request::RemoveWebhook {
            id: "0123abcd".into(),
        },
        RequestKind::TestWebhook => Request::TestWebhook {
            id: "0123abcd".into(),
        },
        RequestKind::SetTechnicianEmail => Request::SetTechnicianEmail {
            name: "bob".into(),
            address: Some("bob@example.com".into()),
            events: vec![NotifyEvent::Assigned],
        },
        RequestKind::SetTierEmail => Request::SetTierEmail {
            tier: Tier::L2,
            address: None,
            events: vec![],
        },
        RequestKind::FollowTicket => Request::FollowTicket {
            id: TICKET,
            follow: true,
        },
        RequestKind::TicketNews => Request::TicketNews {
            since: Timestamp(0),
        },
        RequestKind::AddArticle => Request::AddArticle {
            draft: ArticleDraft {
                content: ArticleContent {
                    title: "VPN drops".into(),
                    body: "Renew the certificate.".into(),
                    category: None,
                    tags: vec![],
                    visibility: Visibility::Public,
                    script: None,
                },
                from_ticket: None,
            },
        },
        RequestKind::ListArticles => Request::ListArticles {
            filter: ArticleFilter::default(),
            after: None,
            limit: 0,
        },
        RequestKind::ShowArticle => Request::ShowArticle {
            id: ArticleId(3),
            version: None,
        },
        RequestKind::SearchArticles => Request::SearchArticles {
            query: SearchQuery::parse("vpn").unwrap(),
            limit: 0,
        },
        RequestKind::EditArticle => Request::EditArticle {
            id: ArticleId(3),
            change: ArticleChange::default(),
        },
        RequestKind::RetireArticle => Request::RetireArticle { id: ArticleId(3) },
        RequestKind::ResolveWithArticle => Request::ResolveWithArticle {
            id: TICKET,
            note: None,
            article: ArticleId(3),
        },
        RequestKind::TicketArticles => Request::TicketArticles { ticket: TICKET },
        RequestKind::SuggestArticles => Request::SuggestArticles {
            text: "vpn drops hourly".into(),
        },
        RequestKind::ReadArticle => Request::ReadArticle { id: ArticleId(3) },
        RequestKind::RecordDeflection => Request::RecordDeflection {
            deflection: Deflection {
                id: Uuid::from_u128(0xd),
                article: ArticleId(3),
                query: "vpn drops hourly".into(),
                requester: "alice".into(),
            },
        },
        RequestKind::DraftArticle => Request::DraftArticle { ticket: TICKET },
        RequestKind::DeskReport => Request::DeskReport {
            window_ms: 30 * 86_400_000,
            by: None,
        },
    }
}

fn every_request() -> Vec<Request> {
    RequestKind::iter().map(sample).collect()
}

/// One line of the table: name, audience, audit rule, shape, with the
/// sample ids (and the sample's keys) written as placeholders.
fn row(request: &Request) -> String {
    let r = route(request);
    let audience = match r.audience {
        Audience::Anyone => "anyone".to_string(),
        Audience::Unenrolled => "unenrolled".to_string(),
        Audience::Agent => "agent".to_string(),
        Audience::Technician(action) => format!("technician {action:?}"),
    };
    let audit = match &r.audit {
        AuditRule::Unaudited => "-".to_string(),
        AuditRule::Dispatcher(s) => format!("dispatcher {} {}", s.action, s.target),
        AuditRule::Handler(s) => format!("handler {} {}", s.action, s.target),
    };
    let mut line = format!("{} | {audience} | {audit} | {:?}", request.name(), r.shape);
    line = line
        .replace(&AGENT.to_string(), "AGENT")
        .replace(&TICKET.to_string(), "TICKET")
        .replace(&SCRIPT.to_string(), "SCRIPT");
    if let Request::PublishRotation { rotation } = request {
        line = line.replace(&rotation.rotation.new_key.to_string(), "KEY");
    }
    line
}

#[test]
fn every_request_kind_has_a_sample_and_a_route() {
    let all = every_request();
    assert_eq!(all.len(), Request::COUNT);
    for (kind, request) in RequestKind::iter().zip(&all) {
        assert_eq!(RequestKind::from(request), kind, "{}", request.name());
    }
    let names: std::collections::BTreeSet<&str> = all.iter().map(Request::name).collect();
    assert_eq!(names.len(), Request::COUNT, "request names are unique");
}

/// The whole table as it was before it lived here (audiences from
/// `authz`, actions and targets from `audit`, streamed requests from the
/// dispatcher): changing a line changes who may send a request or what
/// the audit log says about it, so it must be meant.
#[test]
fn the_route_table_is_as_pinned() {
    let table: Vec<String> = every_request().iter().map(row).collect();
    let expected = [
        "who_am_i | anyone | - | Unary",
        "enroll | unenrolled | dispatcher enroll host:pc | Unary",
        "heartbeat | agent | - | Unary",
        "submit_ticket | agent | - | Unary",
        "list_tickets | technician ViewTickets | - | Unary",
        "show_ticket | technician ViewTickets | - | Unary",
        "comment | technician CommentTicket | dispatcher ticket.comment ticket:TICKET | Unary",
        "assign | technician AssignTicket | - | Unary",
        "escalate | technician EscalateTicket | - | Unary",
        "change_status | technician ChangeTicketStatus | - | Unary",
        "list_agents | technician ViewAgents | - | Unary",
        "register_technician | technician RegisterTechnician | handler technician.register technician:bob | Unary",
        "create_enrollment_token | technician CreateEnrollmentToken | handler token.create enrollment-token | Unary",
        "list_technicians | technician ViewTickets | - | Unary",
        "attach_script | technician AttachScript | dispatcher script.attach script:SCRIPT | Unary",
        "list_scripts | technician ViewTickets | - | Unary",
        "show_script | technician ViewTickets | - | Unary",
        "approve_script | technician ApproveScript | dispatcher script.approve script:SCRIPT | Unary",
        "run_script | technician RunScript | handler script.run script:SCRIPT | Streamed",
        "list_audit | technician ViewAudit | - | Unary",
        "diagnose | technician RunDiagnostics | dispatcher diag agent:AGENT | Unary",
        "submit_update | agent | dispatcher ticket.screenshot ticket:TICKET | Unary",
        "pull_logs | technician PullLogs | handler log.pull agent:AGENT | Streamed",
        "screenshot | technician TakeScreenshot | handler screenshot agent:AGENT | Streamed",
        "fetch_attachment | technician ViewTickets | handler attachment.fetch ticket:TICKET | Streamed",
        "my_tickets | agent | - | Unary",
        "note | technician CommentTicket | dispatcher ticket.note ticket:TICKET | Unary",
        "ping_agent | technician ViewAgents | - | Unary",
        "export_roster | technician ManageOrg | - | Unary",
        "publish_roster | technician ManageOrg | handler roster.publish roster:7 | Unary",
        "current_roster | technician ViewTickets | - | Unary",
        "publish_rotation | technician ManageOrg | handler org.rotate org-key:KEY | Unary",
        "remove_technician | technician RemoveTechnician | handler technician.remove technician:bob | Unary",
        "set_technician_roles | technician SetTechnicianRoles | handler technician.roles technician:bob | Unary",
        "remove_agent | technician RemoveAgent | handler agent.remove agent:AGENT | Unary",
        "list_tokens | technician ListTokens | - | Unary",
        "revoke_token | technician RevokeToken | handler token.revoke token:0123456789abcdef | Unary",
        "resolve_agent | technician ViewAgents | - | Unary",
        "resolve_ticket | technician ViewTickets | - | Unary",
        "list_agents_page | technician ViewAgents | - | Unary",
        "list_tickets_page | technician ViewTickets | - | Unary",
        "search_tickets | technician ViewTickets | - | Unary",
        "similar_tickets | technician ViewTickets | - | Unary",
        "list_agents_filtered | technician ViewAgents | - | Unary",
        "count_agents | technician ViewAgents | - | Unary",
        "watch_queue | technician ViewTickets | - | Streamed",
        "show_sla | technician ViewTickets | - | Unary",
        "set_sla | technician ManageSla | dispatcher sla.set sla-policy | Unary",
        "set_priority | technician ChangeTicketPriority | - | Unary",
        "add_webhook | technician ManageNotifications | dispatcher webhook.add url:https://bot:***@hooks.example.com/t | Unary",
        "list_webhooks | technician ManageNotifications | - | Unary",
        "remove_webhook | technician ManageNotifications | dispatcher webhook.remove webhook:0123abcd | Unary",
        "test_webhook | technician ManageNotifications | dispatcher webhook.test webhook:0123abcd | Unary",
        "set_technician_email | technician ManageNotifications | dispatcher notify.email technician:bob | Unary",
        "set_tier_email | technician ManageNotifications | dispatcher notify.tier_email tier:l2 | Unary",
        "follow_ticket | technician ViewTickets | - | Unary",
        "ticket_news | agent | - | Unary",
        "add_article | technician WriteArticles | - | Unary",
        "list_articles | technician ViewTickets | - | Unary",
        "show_article | technician ViewTickets | - | Unary",
        "search_articles | technician ViewTickets | - | Unary",
        "edit_article | technician WriteArticles | - | Unary",
        "retire_article | technician RetireArticles | dispatcher kb.retire article:KB-3 | Unary",
        "resolve_with_article | technician ChangeTicketStatus | - | Unary",
        "ticket_articles | technician ViewTickets | - | Unary",
        "suggest_articles | agent | - | Unary",
        "read_article | agent | - | Unary",
        "record_deflection | agent | - | Unary",
        "draft_article | technician ViewTickets | - | Unary",
        "desk_report | technician ViewTickets | - | Unary",
    ];
    for (got, want) in table.iter().zip(expected) {
        assert_eq!(got, want);
    }
    assert_eq!(
        table.len(),
        expected.len(),
        "a request without a pinned row: {:?}",
        &table[expected.len().min(table.len())..]
    );
}

#[test]
fn streamed_requests_record_themselves_before_their_last_frame() {
    let streamed: Vec<&str> = every_request()
        .iter()
        .filter(|r| route(r).shape == Shape::Streamed)
        .map(Request::name)
        .collect();
    assert_eq!(
        streamed,
        [
            "run_script",
            "pull_logs",
            "screenshot",
            "fetch_attachment",
            "watch_queue"
        ]
    );
    // The dispatcher sends nothing after a streamed handler, so it cannot
    // record one either: the handler does, or nobody (a read).
    for request in every_request() {
        let r = route(&request);
        if r.shape == Shape::Streamed {
            assert!(
                matches!(r.audit, AuditRule::Handler(_) | AuditRule::Unaudited),
                "{}",
                request.name()
            );
        }
    }
}

#[test]
fn only_an_agents_screenshot_update_is_audited() {
    let update = |update| Request::SubmitUpdate {
        id: UpdateId::new_random(),
        ticket: TICKET,
        update,
    };
    let png = route(&update(AgentUpdate::Screenshot(vec![1])));
    assert_eq!(
        png.audit.subject().map(|s| (s.action, s.target.clone())),
        Some(("ticket.screenshot", format!("ticket:{TICKET}")))
    );
    // Health readings are too frequent to audit.
    // The employee's own words and answers are in the ticket's history.
    for text in [
        AgentUpdate::Comment("97%".into()),
        AgentUpdate::Resolve("ok".into()),
        AgentUpdate::Reply {
            requester: "alice".into(),
            text: "thanks".into(),
        },
        AgentUpdate::Fixed {
            requester: "alice".into(),
            score: Some(4),
        },
        AgentUpdate::NotFixed {
            requester: "alice".into(),
            words: "still broken".into(),
            score: None,
        },
    ] {
        assert_eq!(route(&update(text)).audit, AuditRule::Unaudited);
    }
}

#[test]
fn a_refusal_is_recorded_under_the_subject_of_either_recorder() {
    let by_handler = route(&sample(RequestKind::RunScript)).audit;
    let by_dispatcher = route(&sample(RequestKind::Diagnose)).audit;
    assert_eq!(by_handler.subject().map(|s| s.action), Some("script.run"));
    assert_eq!(by_dispatcher.subject().map(|s| s.action), Some("diag"));
    assert_eq!(route(&Request::ListAgents).audit.subject(), None);
}
