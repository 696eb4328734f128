//! Golden frames: representative messages encoded with the real codec and
//! compared byte for byte with frames recorded from an earlier build. bincode
//! is positional, so a reordered variant or field, or a serde rename that
//! changes a variant's shape, shows up here as a different byte string. The
//! JSON table does the same for the names `--json` output and config use.
//!
//! If a frame here changes, the wire changed: that needs a
//! `PROTOCOL_VERSION` bump, not a new golden string.

use triage_shared::agent_update::AgentUpdate;
use triage_shared::codec::{decode_frame, encode};
use triage_shared::desk_report::{
    Backlog, Day, DeflectionRate, DeskReport, GroupFigures, Headline, LabelCount, Percentiles,
    Ratio, ReportBy, Satisfaction,
};
use triage_shared::error::{ErrorKind, RemoteError};
use triage_shared::ids::{AgentId, CommentId, TicketId, UpdateId};
use triage_shared::kb::{
    ArticleContent, ArticleDraft, ArticleId, Deflection, Suggestion, Visibility,
};
use triage_shared::news::TicketNews;
use triage_shared::notify::NotifyEvent;
use triage_shared::protocol::{PeerKind, Request, Response, Welcome};
use triage_shared::queue::{
    AssigneeFilter, SearchQuery, TicketCursor, TicketFilter, TicketSort, WatchFrame,
};
use triage_shared::remote::{AgentCommand, AgentReply, OutputStream, RunEvent, Section};
use triage_shared::selector::AgentSelector;
use triage_shared::ticket::{
    Category, Comment, NewTicket, Priority, SlaClock, Source, Status, StatusAction,
    TicketEventKind, Tier,
};
use triage_shared::time::Timestamp;
use triage_shared::transfer::LogQuery;
use uuid::Uuid;

const TICKET: TicketId = TicketId(Uuid::from_u128(0x0011_2233_4455_6677_8899_aabb_ccdd_eeff));
const AGENT: AgentId = AgentId(Uuid::from_u128(0xfeed_face_0000_0000_0000_0000_0000_0001));
const UPDATE: UpdateId = UpdateId(Uuid::from_u128(7));

const ALL_ERROR_KINDS: [ErrorKind; 12] = [
    ErrorKind::InvalidInput,
    ErrorKind::NotFound,
    ErrorKind::Forbidden,
    ErrorKind::Unauthenticated,
    ErrorKind::InvalidToken,
    ErrorKind::InvalidTransition,
    ErrorKind::VersionMismatch,
    ErrorKind::Conflict,
    ErrorKind::Unavailable,
    ErrorKind::Timeout,
    ErrorKind::Internal,
    ErrorKind::Revoked,
];

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `(name, frame as hex)` for every golden value, in a fixed order.
fn frames() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut add = |name: &str, frame: Vec<u8>| out.push((name.to_string(), hex(&frame)));

    add(
        "hello",
        encode(&triage_shared::protocol::Hello {
            version: 3,
            peer: PeerKind::AgentOneShot,
            software: "triage 0.1.0".into(),
        })
        .unwrap(),
    );
    add("request.who_am_i", encode(&Request::WhoAmI).unwrap());
    add(
        "request.list_tickets",
        encode(&Request::ListTickets {
            status: Some(Status::InProgress),
            limit: 300,
        })
        .unwrap(),
    );
    add(
        "request.change_status",
        encode(&Request::ChangeStatus {
            id: TICKET,
            action: StatusAction::Reopen,
            note: Some("é again".into()),
        })
        .unwrap(),
    );
    add(
        "request.submit_ticket",
        encode(&Request::SubmitTicket {
            ticket: NewTicket {
                id: TICKET,
                title: "Printer jammed".into(),
                description: "since Monday".into(),
                category: Category::Hardware,
                priority: Priority::Urgent,
                source: Source::HealthAlert,
                requester: "alice".into(),
            },
            snapshot: None,
        })
        .unwrap(),
    );
    add(
        "request.diagnose",
        encode(&Request::Diagnose {
            agent: AGENT,
            sections: vec![Section::Os, Section::Disks, Section::Services],
            attach: Some(TICKET),
        })
        .unwrap(),
    );
    add(
        "request.submit_update",
        encode(&Request::SubmitUpdate {
            id: UPDATE,
            ticket: TICKET,
            update: AgentUpdate::Resolve("cleared".into()),
        })
        .unwrap(),
    );
    add(
        "request.revoke_token",
        encode(&Request::RevokeToken {
            id: "0123456789abcdef".into(),
        })
        .unwrap(),
    );
    add("response.ok", encode(&Response::Ok).unwrap());
    add(
        "response.ticket_stored",
        encode(&Response::TicketStored {
            id: TICKET,
            created: true,
        })
        .unwrap(),
    );
    add(
        "response.error",
        encode(&Response::Error(RemoteError::new(
            ErrorKind::InvalidTransition,
            "cannot start a ticket that is closed; reopen it first",
        )))
        .unwrap(),
    );
    add(
        "welcome.refused",
        encode(&Welcome::Refused(RemoteError::new(
            ErrorKind::VersionMismatch,
            "upgrade",
        )))
        .unwrap(),
    );
    for kind in ALL_ERROR_KINDS {
        add(
            &format!("remote_error.{kind:?}"),
            encode(&RemoteError::new(kind, "x")).unwrap(),
        );
    }
    for status in Status::ALL {
        add(&format!("status.{status}"), encode(status).unwrap());
    }
    for priority in Priority::ALL {
        add(&format!("priority.{priority}"), encode(priority).unwrap());
    }
    for tier in Tier::ALL {
        add(&format!("tier.{tier}"), encode(tier).unwrap());
    }
    for category in Category::ALL {
        add(&format!("category.{category}"), encode(category).unwrap());
    }
    for source in Source::ALL {
        add(&format!("source.{source}"), encode(source).unwrap());
    }
    add(
        "event.status_changed",
        encode(&TicketEventKind::StatusChanged {
            from: Status::Waiting,
            to: Status::Closed,
        })
        .unwrap(),
    );
    add("agent_command.ping", encode(&AgentCommand::Ping).unwrap());
    add(
        "agent_command.diagnose",
        encode(&AgentCommand::Diagnose {
            sections: Section::ALL.to_vec(),
        })
        .unwrap(),
    );
    add(
        "agent_command.pull_logs",
        encode(&AgentCommand::PullLogs(LogQuery {
            path: "/var/log/syslog".into(),
            tail: Some(100),
            since_secs: None,
            grep: Some("error".into()),
            follow: true,
        }))
        .unwrap(),
    );
    add(
        "agent_command.screenshot",
        encode(&AgentCommand::Screenshot {
            requested_by: "bob".into(),
            ticket: Some(TICKET),
            requester: Some("alice".into()),
        })
        .unwrap(),
    );
    add(
        "agent_reply.error",
        encode(&AgentReply::Error(RemoteError::new(
            ErrorKind::Forbidden,
            "no",
        )))
        .unwrap(),
    );
    add(
        "agent_reply.output",
        encode(&AgentReply::Run(RunEvent::Output {
            stream: OutputStream::Stderr,
            data: b"oops".to_vec(),
        }))
        .unwrap(),
    );
    let filter = TicketFilter {
        statuses: vec![Status::Open, Status::Waiting],
        tiers: vec![Tier::L2],
        assignee: AssigneeFilter::Me,
        agent: Some(AgentSelector::Name("pc-42".into())),
        created_since: Some(Timestamp(1_000)),
        breaching: true,
        ..TicketFilter::default()
    };
    add(
        "request.list_tickets_page",
        encode(&Request::ListTicketsPage {
            filter: filter.clone(),
            sort: TicketSort::Priority,
            after: Some(TicketCursor {
                sort: TicketSort::Priority,
                keys: [3, 5_000],
                id: TICKET,
            }),
            limit: 50,
        })
        .unwrap(),
    );
    add(
        "request.search_tickets",
        encode(&Request::SearchTickets {
            query: SearchQuery::parse("wifi \"drops out\" -printer").unwrap(),
            filter: TicketFilter::default(),
            limit: 20,
        })
        .unwrap(),
    );
    add(
        "request.watch_queue",
        encode(&Request::WatchQueue {
            filter,
            after: Some(41),
        })
        .unwrap(),
    );
    add(
        "response.watch_lagged",
        encode(&Response::Watch(WatchFrame::Lagged {
            skipped: 1_500,
            resume_after: 9_000,
        }))
        .unwrap(),
    );
    add("request.show_sla", encode(&Request::ShowSla).unwrap());
    add(
        "request.set_sla",
        encode(&Request::SetSla {
            text: "warning_percent = 75".into(),
        })
        .unwrap(),
    );
    add(
        "request.set_priority",
        encode(&Request::SetPriority {
            id: TICKET,
            priority: Priority::Urgent,
            note: None,
        })
        .unwrap(),
    );
    add(
        "event.sla_breached",
        encode(&TicketEventKind::SlaBreached {
            clock: SlaClock::Resolution,
            due_at: Timestamp(1_700_000_000_000),
        })
        .unwrap(),
    );
    // The notification requests, as first sent.
    add(
        "request.add_webhook",
        encode(&Request::AddWebhook {
            url: "https://h.example/t".into(),
            events: vec![NotifyEvent::New, NotifyEvent::SlaBreach],
            secret: Some("0123456789abcdef".into()),
        })
        .unwrap(),
    );
    add(
        "request.list_webhooks",
        encode(&Request::ListWebhooks).unwrap(),
    );
    add(
        "request.remove_webhook",
        encode(&Request::RemoveWebhook {
            id: "0123abcd".into(),
        })
        .unwrap(),
    );
    add(
        "request.test_webhook",
        encode(&Request::TestWebhook {
            id: "0123abcd".into(),
        })
        .unwrap(),
    );
    add(
        "request.set_technician_email",
        encode(&Request::SetTechnicianEmail {
            name: "bob".into(),
            address: Some("bob@example.com".into()),
            events: vec![NotifyEvent::Assigned],
        })
        .unwrap(),
    );
    add(
        "request.set_tier_email",
        encode(&Request::SetTierEmail {
            tier: Tier::L2,
            address: None,
            events: vec![],
        })
        .unwrap(),
    );
    add(
        "request.follow_ticket",
        encode(&Request::FollowTicket {
            id: TICKET,
            follow: true,
        })
        .unwrap(),
    );
    // The employee in the loop.
    let news = TicketNews {
        id: TICKET,
        title: "VPN".into(),
        requester: "alice".into(),
        status: Status::Resolved,
        updated_at: Timestamp(1_000),
        replies: vec![Comment {
            id: CommentId(Uuid::from_u128(9)),
            author: "bob".into(),
            text: "fixed".into(),
            created_at: Timestamp(900),
            internal: false,
        }],
    };
    add(
        "request.ticket_news",
        encode(&Request::TicketNews {
            since: Timestamp(1_000),
        })
        .unwrap(),
    );
    add(
        "response.ticket_news",
        encode(&Response::TicketNews {
            as_of: Timestamp(2_000),
            tickets: vec![news.clone()],
            more: false,
        })
        .unwrap(),
    );
    add(
        "agent_command.ticket_news",
        encode(&AgentCommand::TicketNews(vec![news])).unwrap(),
    );
    add(
        "agent_reply.news_taken",
        encode(&AgentReply::NewsTaken { count: 1 }).unwrap(),
    );
    for (name, update) in [
        (
            "request.submit_update_reply",
            AgentUpdate::Reply {
                requester: "alice".into(),
                text: "thanks".into(),
            },
        ),
        (
            "request.submit_update_fixed",
            AgentUpdate::Fixed {
                requester: "alice".into(),
                score: Some(4),
            },
        ),
        (
            "request.submit_update_not_fixed",
            AgentUpdate::NotFixed {
                requester: "alice".into(),
                words: "no".into(),
                score: None,
            },
        ),
    ] {
        let request = Request::SubmitUpdate {
            id: UPDATE,
            ticket: TICKET,
            update,
        };
        add(name, encode(&request).unwrap());
    }
    add(
        "event.rated",
        encode(&TicketEventKind::Rated { score: 4 }).unwrap(),
    );
    // The knowledge base and self-service.
    add(
        "request.add_article",
        encode(&Request::AddArticle {
            draft: ArticleDraft {
                content: ArticleContent {
                    title: "VPN".into(),
                    body: "Sign in.".into(),
                    category: Some(Category::Network),
                    tags: vec!["vpn".into()],
                    visibility: Visibility::Internal,
                    script: None,
                },
                from_ticket: Some(TICKET),
            },
        })
        .unwrap(),
    );
    add(
        "request.resolve_with_article",
        encode(&Request::ResolveWithArticle {
            id: TICKET,
            note: Some("done".into()),
            article: ArticleId(12),
        })
        .unwrap(),
    );
    add(
        "request.suggest_articles",
        encode(&Request::SuggestArticles {
            text: "vpn drops hourly".into(),
        })
        .unwrap(),
    );
    add(
        "response.suggestions",
        encode(&Response::Suggestions(vec![Suggestion {
            id: ArticleId(12),
            title: "VPN".into(),
            excerpt: "Sign in.".into(),
        }]))
        .unwrap(),
    );
    add(
        "request.record_deflection",
        encode(&Request::RecordDeflection {
            deflection: Deflection {
                id: Uuid::from_u128(5),
                article: ArticleId(12),
                query: "vpn".into(),
                requester: "alice".into(),
            },
        })
        .unwrap(),
    );
    add(
        "request.submit_update_articles_viewed",
        encode(&Request::SubmitUpdate {
            id: UPDATE,
            ticket: TICKET,
            update: AgentUpdate::ArticlesViewed {
                requester: "alice".into(),
                articles: vec![ArticleId(12)],
            },
        })
        .unwrap(),
    );
    // Help desk metrics, as first sent.
    add(
        "request.desk_report",
        encode(&Request::DeskReport {
            window_ms: 30 * 86_400_000,
            by: Some(ReportBy::Host),
        })
        .unwrap(),
    );
    add(
        "response.desk_report",
        encode(&Response::DeskReport(Box::new(sample_desk_report()))).unwrap(),
    );
    out
}

/// A small report with every part filled in.
fn sample_desk_report() -> DeskReport {
    let headline = Headline {
        volume: 7,
        first_response: Percentiles {
            count: 5,
            p50_ms: Some(600_000),
            p90_ms: Some(3_600_000),
        },
        resolution: Percentiles {
            count: 4,
            p50_ms: Some(7_200_000),
            p90_ms: None,
        },
        sla_compliance: Ratio { part: 3, of: 4 },
        first_contact_resolution: Ratio { part: 2, of: 4 },
    };
    DeskReport {
        since: Timestamp(1_700_000_000_000),
        until: Timestamp(1_702_592_000_000),
        by: Some(ReportBy::Host),
        overall: headline.clone(),
        groups: vec![GroupFigures {
            label: "pc-42".into(),
            figures: headline,
        }],
        groups_omitted: 1,
        reopen_rate: Ratio { part: 1, of: 4 },
        backlog: vec![Backlog {
            tier: Tier::L2,
            by_age: [1, 0, 2, 0],
        }],
        health_alerts: 2,
        alerts_by_rule: vec![LabelCount {
            label: "disk".into(),
            count: 2,
        }],
        alerts_by_host: vec![LabelCount {
            label: "pc-42".into(),
            count: 2,
        }],
        satisfaction: Satisfaction {
            by_score: [0, 0, 1, 0, 2],
        },
        deflection: DeflectionRate {
            deflections: 1,
            employee_tickets: 3,
        },
        days: vec![Day {
            day: Timestamp(1_699_920_000_000),
            filed: [3, 2, 2],
            sla: Ratio { part: 1, of: 1 },
        }],
        resolution_histogram: vec![0, 1, 0, 2, 1, 0, 0],
    }
}

/// Recorded before `RemoteError` moved to `error.rs` and the string
/// tables moved to strum.
const GOLDEN: &[(&str, &str)] = &[
    ("hello", "0000000f03020c74726961676520302e312e30"),
    ("request.who_am_i", "0000000100"),
    ("request.list_tickets", "00000006040101fb2c01"),
    ("request.change_status", "0000001d091000112233445566778899aabbccddeeff040108c3a920616761696e"),
    ("request.submit_ticket", "00000038031000112233445566778899aabbccddeeff0e5072696e746572206a616d6d65640c73696e6365204d6f6e64617900030105616c69636500"),
    ("request.diagnose", "000000281410feedface00000000000000000000000103000309011000112233445566778899aabbccddeeff"),
    ("request.submit_update", "0000002c1510000000000000000000000000000000071000112233445566778899aabbccddeeff0107636c6561726564"),
    ("request.revoke_token", "00000012241030313233343536373839616263646566"),
    ("response.ok", "0000000100"),
    ("response.ticket_stored", "00000013031000112233445566778899aabbccddeeff01"),
    ("response.error", "0000003809053563616e6e6f742073746172742061207469636b6574207468617420697320636c6f7365643b2072656f70656e206974206669727374"),
    ("welcome.refused", "0000000a01060775706772616465"),
    ("remote_error.InvalidInput", "00000003000178"),
    ("remote_error.NotFound", "00000003010178"),
    ("remote_error.Forbidden", "00000003020178"),
    ("remote_error.Unauthenticated", "00000003030178"),
    ("remote_error.InvalidToken", "00000003040178"),
    ("remote_error.InvalidTransition", "00000003050178"),
    ("remote_error.VersionMismatch", "00000003060178"),
    ("remote_error.Conflict", "00000003070178"),
    ("remote_error.Unavailable", "00000003080178"),
    ("remote_error.Timeout", "00000003090178"),
    ("remote_error.Internal", "000000030a0178"),
    ("remote_error.Revoked", "000000030b0178"),
    ("status.open", "0000000100"),
    ("status.in_progress", "0000000101"),
    ("status.waiting", "0000000102"),
    ("status.resolved", "0000000103"),
    ("status.closed", "0000000104"),
    ("priority.low", "0000000100"),
    ("priority.normal", "0000000101"),
    ("priority.high", "0000000102"),
    ("priority.urgent", "0000000103"),
    ("tier.l1", "0000000100"),
    ("tier.l2", "0000000101"),
    ("tier.l3", "0000000102"),
    ("category.hardware", "0000000100"),
    ("category.software", "0000000101"),
    ("category.network", "0000000102"),
    ("category.account", "0000000103"),
    ("category.other", "0000000104"),
    ("source.employee", "0000000100"),
    ("source.health_alert", "0000000101"),
    ("source.technician", "0000000102"),
    ("event.status_changed", "00000003030204"),
    ("agent_command.ping", "0000000100"),
    ("agent_command.diagnose", "0000000c020a00010203040506070809"),
    ("agent_command.pull_logs", "0000001c040f2f7661722f6c6f672f7379736c6f6701640001056572726f7201"),
    ("agent_command.screenshot", "0000001e0503626f62011000112233445566778899aabbccddeeff0105616c696365"),
    ("agent_reply.error", "000000050402026e6f"),
    ("agent_reply.output", "00000008030201046f6f7073"),
    // The queue requests, as first sent.
    ("request.list_tickets_page", "000000322802000201010000000101010570632d34320001fbd007000102010206fb10271000112233445566778899aabbccddeeff32"),
    ("request.search_tickets", "0000002c290301047769666900020564726f7073036f75740001077072696e7465720100000000000000000000000014"),
    ("request.watch_queue", "0000001b2d02000201010000000101010570632d34320001fbd00700010129"),
    ("response.watch_lagged", "000000081d02fbdc05fb2823"),
    // SLA clocks (protocol 4).
    ("request.show_sla", "000000012e"),
    ("request.set_sla", "000000162f147761726e696e675f70657263656e74203d203735"),
    ("request.set_priority", "00000014301000112233445566778899aabbccddeeff0300"),
    ("event.sla_breached", "0000000b0601fd00d0ca9f17030000"),
    // The notification requests, as first sent.
    ("request.add_webhook", "0000002a311368747470733a2f2f682e6578616d706c652f74020005011030313233343536373839616263646566"),
    ("request.list_webhooks", "0000000132"),
    ("request.remove_webhook", "0000000a33083031323361626364"),
    ("request.test_webhook", "0000000a34083031323361626364"),
    ("request.set_technician_email", "000000183503626f62010f626f62406578616d706c652e636f6d0101"),
    ("request.set_tier_email", "0000000436010000"),
    ("request.follow_ticket", "00000013371000112233445566778899aabbccddeeff01"),
    // The employee in the loop, as first sent.
    ("request.ticket_news", "0000000438fbd007"),
    ("response.ticket_news", "0000004522fba00f011000112233445566778899aabbccddeeff0356504e05616c69636503fbd00701100000000000000000000000000000000903626f62056669786564fb08070000"),
    ("agent_command.ticket_news", "0000004107011000112233445566778899aabbccddeeff0356504e05616c69636503fbd00701100000000000000000000000000000000903626f62056669786564fb080700"),
    ("agent_reply.news_taken", "000000020701"),
    ("request.submit_update_reply", "000000311510000000000000000000000000000000071000112233445566778899aabbccddeeff0305616c696365067468616e6b73"),
    ("request.submit_update_fixed", "0000002c1510000000000000000000000000000000071000112233445566778899aabbccddeeff0405616c6963650104"),
    ("request.submit_update_not_fixed", "0000002e1510000000000000000000000000000000071000112233445566778899aabbccddeeff0505616c696365026e6f00"),
    ("event.rated", "000000020704"),
    // The knowledge base and self-service, as first sent.
    ("request.add_article", "00000029390356504e085369676e20696e2e0102010376706e0100011000112233445566778899aabbccddeeff"),
    ("request.resolve_with_article", "000000193f1000112233445566778899aabbccddeeff0104646f6e650c"),
    ("request.suggest_articles", "00000012411076706e2064726f707320686f75726c79"),
    ("response.suggestions", "0000001027010c0356504e085369676e20696e2e"),
    ("request.record_deflection", "0000001d4310000000000000000000000000000000050c0376706e05616c696365"),
    ("request.submit_update_articles_viewed", "0000002c1510000000000000000000000000000000071000112233445566778899aabbccddeeff0605616c696365010c"),
    // Help desk metrics, as first sent.
    ("request.desk_report", "0000000845fc00c87e9a0103"),
    ("response.desk_report", "000000872afd00d0ca9f17030000fd0060c8d4180300000103070501fcc027090001fc80ee36000401fc00dd6d000003040204010570632d3432070501fcc027090001fc80ee36000401fc00dd6d0000030402040101040101010002000201046469736b02010570632d3432020000010002010301fd006841961703000003020201010700010002010000"),
];

#[test]
fn frames_match_the_recorded_bytes() {
    let actual = frames();
    let listing: String = actual
        .iter()
        .map(|(name, hex)| format!("    (\"{name}\", \"{hex}\"),\n"))
        .collect();
    assert_eq!(actual.len(), GOLDEN.len(), "actual frames:\n{listing}");
    for ((name, hex), (golden_name, golden_hex)) in actual.iter().zip(GOLDEN) {
        assert_eq!(name, golden_name, "actual frames:\n{listing}");
        assert_eq!(hex, golden_hex, "{name} changed on the wire");
    }
}

#[test]
fn golden_frames_decode_back() {
    let frame = |name: &str| -> Vec<u8> {
        let (_, hex) = GOLDEN.iter().find(|(n, _)| *n == name).expect(name);
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect()
    };
    let error: Response = decode_frame(&frame("response.error")).unwrap();
    assert_eq!(
        error,
        Response::Error(RemoteError::new(
            ErrorKind::InvalidTransition,
            "cannot start a ticket that is closed; reopen it first",
        ))
    );
    let revoked: RemoteError = decode_frame(&frame("remote_error.Revoked")).unwrap();
    assert_eq!(revoked.kind, ErrorKind::Revoked);
    let urgent: Priority = decode_frame(&frame("priority.urgent")).unwrap();
    assert_eq!(urgent, Priority::Urgent);
    let shot: AgentCommand = decode_frame(&frame("agent_command.screenshot")).unwrap();
    assert_eq!(shot.name(), "screenshot");
    let report: Response = decode_frame(&frame("response.desk_report")).unwrap();
    assert_eq!(report, Response::DeskReport(Box::new(sample_desk_report())));
}

#[test]
fn json_names_are_unchanged() {
    let json = |v: serde_json::Value| v.to_string();
    let cases = [
        (
            json(serde_json::to_value(Status::InProgress).unwrap()),
            r#""in_progress""#,
        ),
        (
            json(serde_json::to_value(Source::HealthAlert).unwrap()),
            r#""health_alert""#,
        ),
        (json(serde_json::to_value(Tier::L2).unwrap()), r#""l2""#),
        (
            json(serde_json::to_value(NotifyEvent::SlaBreach).unwrap()),
            r#""sla_breach""#,
        ),
        (
            json(serde_json::to_value(Priority::Normal).unwrap()),
            r#""normal""#,
        ),
        (
            json(serde_json::to_value(Category::Account).unwrap()),
            r#""account""#,
        ),
        (
            json(serde_json::to_value(StatusAction::Start).unwrap()),
            r#""start""#,
        ),
        (
            json(serde_json::to_value(ErrorKind::InvalidToken).unwrap()),
            r#""invalid_token""#,
        ),
        (
            json(serde_json::to_value(Section::Processes).unwrap()),
            r#""processes""#,
        ),
        (
            json(serde_json::to_value(RemoteError::new(ErrorKind::Revoked, "gone")).unwrap()),
            r#"{"kind":"revoked","message":"gone"}"#,
        ),
        (
            json(serde_json::to_value(AgentUpdate::Comment("hi".into())).unwrap()),
            r#"{"comment":"hi"}"#,
        ),
        (
            json(
                serde_json::to_value(TicketEventKind::Escalated {
                    from: Tier::L1,
                    to: Tier::L2,
                })
                .unwrap(),
            ),
            r#"{"escalated":{"from":"l1","to":"l2"}}"#,
        ),
        (
            json(
                serde_json::to_value(TicketEventKind::SlaWarning {
                    clock: SlaClock::FirstResponse,
                    due_at: Timestamp(5),
                })
                .unwrap(),
            ),
            r#"{"sla_warning":{"clock":"first_response","due_at":5}}"#,
        ),
    ];
    for (actual, expected) in cases {
        assert_eq!(actual, expected);
    }
}
