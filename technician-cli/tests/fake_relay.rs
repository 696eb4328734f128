//! The CLI against a stand-in relay over real QUIC: the shared TLS and
//! framing, with canned answers. This pins down what the CLI sends and how it
//! reports answers, independent of the real relay (the workspace's tests/
//! crate covers the two together).

mod common;

use common::{keyed_home, logged_in, resolve_ticket_among, single, triage, FakeRelay, Known};
use triage_cli::CliError;
use triage_shared::error::{ErrorKind, RemoteError};
use triage_shared::identity::{CertFingerprint, KeyPair};
use triage_shared::protocol::{AgentSummary, Request, Response, TicketDetail};
use triage_shared::queue::{
    AgentCount, AgentFilter, FoundIn, Presence, SearchHit, SearchQuery, Snippet, TicketFilter,
    TicketSort,
};
use triage_shared::roles::Role;
use triage_shared::ticket::{Category, Priority, Source, Status, StatusAction, Ticket, Tier};
use triage_shared::time::Timestamp;
use triage_shared::token::RelayLocator;

fn ticket(id: &str, title: &str) -> Ticket {
    Ticket {
        id: id.parse().unwrap(),
        title: title.into(),
        description: String::new(),
        category: Category::Software,
        priority: Priority::High,
        status: Status::Open,
        tier: Tier::L1,
        source: Source::Employee,
        agent_id: None,
        hostname: Some("laptop-7".into()),
        requester: "dave".into(),
        assignee: None,
        created_at: Timestamp::now(),
        updated_at: Timestamp::now(),
        sla_due_at: Timestamp::now(),
        sla: None,
    }
}

const A: &str = "1234abcd-0000-4000-8000-000000000001";
const B: &str = "1234abcd-0000-4000-8000-000000000002";
const C: &str = "9999ffff-1111-4000-8000-000000000003";

fn two_similar_tickets(request: &Request) -> Response {
    match request {
        Request::ResolveTicket { reference } => {
            resolve_ticket_among(&[A, B, C].map(|id| id.parse().unwrap()), reference)
        }
        _ => Response::Ok,
    }
}

#[tokio::test]
async fn login_saves_the_relay_only_once_the_relay_knows_the_key() {
    let (dir, key) = keyed_home().await;
    let relay = FakeRelay::start(
        vec![Known {
            key,
            name: "alice".into(),
            roles: vec![Role::L1, Role::Admin],
        }],
        single(|_| Response::Ok),
    );
    // An enrollment token works too; its secret is ignored.
    let token = format!("{}&token={}", relay.locator, "cd".repeat(32));
    let out = triage(dir.path(), &["login", &token]).await.unwrap();
    let first = format!("logged in to {} as alice (l1, admin)\n", relay.locator.addr);
    assert!(out.starts_with(&first), "{out}");
    assert!(out.contains("no organisation key is pinned"), "{out}");
    let saved: RelayLocator = std::fs::read_to_string(dir.path().join("relay"))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(saved, relay.locator);

    let who = triage(dir.path(), &["whoami", "--json"]).await.unwrap();
    let who: serde_json::Value = serde_json::from_str(&who).unwrap();
    assert_eq!(
        who,
        serde_json::json!({"Technician": {"name": "alice", "roles": ["l1", "admin"]}})
    );
    let who = triage(dir.path(), &["whoami"]).await.unwrap();
    assert!(who.starts_with("alice (l1, admin) on relay "), "{who}");
}

#[tokio::test]
async fn an_unregistered_key_is_told_to_see_an_admin_and_nothing_is_saved() {
    let (dir, key) = keyed_home().await;
    let relay = FakeRelay::start(vec![], single(|_| Response::Ok));
    let err = triage(dir.path(), &["login", &relay.locator.to_string()])
        .await
        .unwrap_err();
    assert!(matches!(err, CliError::KeyNotRegistered { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("not registered") && text.contains(&key.to_string()),
        "{text}"
    );
    assert!(!dir.path().join("relay").exists());
}

#[tokio::test]
async fn a_relay_with_another_fingerprint_is_refused_and_nothing_is_saved() {
    let (dir, key) = keyed_home().await;
    let relay = FakeRelay::start(
        vec![Known {
            key,
            name: "alice".into(),
            roles: vec![Role::L1],
        }],
        single(|_| Response::Ok),
    );
    let mut wrong = relay.locator.clone();
    wrong.fingerprint = CertFingerprint([0xab; 32]);
    let err = triage(dir.path(), &["login", &wrong.to_string()])
        .await
        .unwrap_err();
    assert!(matches!(err, CliError::WrongRelay { .. }), "{err}");
    assert!(err.to_string().contains("fingerprint"), "{err}");
    assert!(!dir.path().join("relay").exists());
}

#[tokio::test]
async fn a_unique_prefix_is_sent_as_the_full_id() {
    let (dir, relay) = logged_in(two_similar_tickets).await;
    let out = triage(
        dir.path(),
        &["tickets", "comment", "9999ffff", "Looking into it"],
    )
    .await
    .unwrap();
    assert_eq!(out, "Comment added to ticket 9999ffff.\n");
    let sent = relay.requests();
    assert_eq!(
        sent.last(),
        Some(&Request::Comment {
            id: C.parse().unwrap(),
            text: "Looking into it".into()
        })
    );
}

#[tokio::test]
async fn an_internal_comment_is_sent_as_a_note() {
    let (dir, relay) = logged_in(two_similar_tickets).await;
    let out = triage(
        dir.path(),
        &[
            "tickets",
            "comment",
            A,
            "Printer is end of life",
            "--internal",
        ],
    )
    .await
    .unwrap();
    assert_eq!(
        out,
        "Internal note added to ticket 1234abcd (technicians only).\n"
    );
    assert_eq!(
        relay.requests(),
        vec![Request::Note {
            id: A.parse().unwrap(),
            text: "Printer is end of life".into()
        }]
    );
}

#[tokio::test]
async fn an_ambiguous_prefix_sends_no_change() {
    let (dir, relay) = logged_in(two_similar_tickets).await;
    let err = triage(dir.path(), &["tickets", "close", "1234abcd"])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("several"), "{err}");
    assert!(
        relay
            .requests()
            .iter()
            .all(|r| matches!(r, Request::ResolveTicket { .. })),
        "{:?}",
        relay.requests()
    );
}

#[tokio::test]
async fn a_full_id_needs_no_lookup() {
    let (dir, relay) = logged_in(two_similar_tickets).await;
    let out = triage(dir.path(), &["tickets", "resolve", A, "Reinstalled Office"])
        .await
        .unwrap();
    assert_eq!(out, "Ticket 1234abcd resolved.\n");
    assert_eq!(
        relay.requests(),
        vec![Request::ChangeStatus {
            id: A.parse().unwrap(),
            action: StatusAction::Resolve,
            note: Some("Reinstalled Office".into())
        }]
    );
}

#[tokio::test]
async fn escalation_reports_the_tier_the_relay_now_holds() {
    let (dir, _relay) = logged_in(|request| match request {
        Request::ShowTicket { id } => {
            let mut t = ticket(&id.to_string(), "t");
            t.tier = Tier::L2;
            Response::Ticket(Box::new(TicketDetail {
                ticket: t,
                comments: vec![],
                events: vec![],
                snapshot: None,
                attached_diagnostics: vec![],
                script_runs: vec![],
                attachments: vec![],
            }))
        }
        _ => Response::Ok,
    })
    .await;
    let out = triage(
        dir.path(),
        &["tickets", "escalate", A, "--note", "needs L2"],
    )
    .await
    .unwrap();
    assert_eq!(out, "Ticket 1234abcd escalated to l2.\n");
}

#[tokio::test]
async fn relay_refusals_come_back_in_the_relays_words() {
    let (dir, _relay) = logged_in(|request| match request {
        Request::ChangeStatus { .. } => Response::Error(RemoteError::new(
            ErrorKind::InvalidTransition,
            "cannot start a ticket that is closed; reopen it first",
        )),
        Request::CreateEnrollmentToken { .. } => Response::Error(RemoteError::new(
            ErrorKind::Forbidden,
            "create_enrollment_token needs one of: admin",
        )),
        Request::ShowTicket { id } => Response::Error(RemoteError::new(
            ErrorKind::NotFound,
            format!("no ticket {id}"),
        )),
        _ => Response::Ok,
    })
    .await;
    let err = triage(dir.path(), &["tickets", "start", A])
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot start a ticket that is closed; reopen it first"
    );
    let err = triage(dir.path(), &["tokens", "create"]).await.unwrap_err();
    assert!(
        matches!(err, CliError::Forbidden(_)) && err.to_string().contains("admin"),
        "{err}"
    );
    let err = triage(dir.path(), &["tickets", "show", A])
        .await
        .unwrap_err();
    assert!(
        matches!(err, CliError::NotFound(_)) && err.to_string().contains(A),
        "{err}"
    );
}

#[tokio::test]
async fn lists_print_a_clean_table_or_the_exact_json() {
    let (dir, relay) = logged_in(|request| match request {
        Request::ListTicketsPage { .. } => Response::TicketPage {
            tickets: vec![ticket(A, "Outlook \u{1b}[2Jcrashes")],
            next: None,
        },
        _ => Response::Ok,
    })
    .await;
    let table = triage(
        dir.path(),
        &["tickets", "list", "--status", "open", "--limit", "5"],
    )
    .await
    .unwrap();
    assert!(table.starts_with("ID "), "{table}");
    assert!(
        table.contains("1234abcd  open") && table.contains("Outlook ?[2Jcrashes"),
        "{table}"
    );
    assert!(!table.contains('\u{1b}'));
    assert_eq!(
        relay.requests()[0],
        Request::ListTicketsPage {
            filter: TicketFilter {
                statuses: vec![Status::Open],
                ..TicketFilter::default()
            },
            sort: TicketSort::Created,
            after: None,
            limit: 5
        }
    );

    let json = triage(dir.path(), &["tickets", "list", "--json"])
        .await
        .unwrap();
    let back: Vec<Ticket> = serde_json::from_str(&json).unwrap();
    assert_eq!(
        back,
        vec![ticket_with_times(A, "Outlook \u{1b}[2Jcrashes", &back[0])]
    );
}

fn ticket_with_times(id: &str, title: &str, like: &Ticket) -> Ticket {
    Ticket {
        created_at: like.created_at,
        updated_at: like.updated_at,
        sla_due_at: like.sla_due_at,
        sla: like.sla.clone(),
        ..ticket(id, title)
    }
}

#[tokio::test]
async fn admin_requests_carry_checked_values() {
    // A token as the relay prints it: the CLI names it by its id.
    let token = format!(
        "triage://r:1?fp={}&token={}",
        "0".repeat(64),
        "1".repeat(64)
    );
    let issued = token.clone();
    let (dir, relay) = logged_in(move |request| match request {
        Request::CreateEnrollmentToken { uses, .. } => Response::Token {
            token: issued.clone(),
            expires_at: Timestamp(7),
            uses: *uses,
        },
        _ => Response::Ok,
    })
    .await;
    let out = triage(
        dir.path(),
        &["tokens", "create", "--uses", "3", "--ttl", "2h"],
    )
    .await
    .unwrap();
    assert_eq!(out, format!("{token}\n"));

    let newbie = KeyPair::generate().public_key();
    let file = dir.path().join("newbie.pub");
    std::fs::write(&file, format!("{newbie}\n")).unwrap();
    let out = triage(
        dir.path(),
        &[
            "technicians",
            "add",
            "newbie",
            "--role",
            "l2,l1",
            "--pubkey",
            file.to_str().unwrap(),
        ],
    )
    .await
    .unwrap();
    assert_eq!(out, "Technician newbie registered with roles l1, l2.\n");
    assert_eq!(
        relay.requests(),
        vec![
            Request::CreateEnrollmentToken {
                uses: 3,
                ttl_secs: 7200
            },
            Request::RegisterTechnician {
                name: "newbie".into(),
                roles: vec![Role::L1, Role::L2],
                public_key: newbie
            },
        ]
    );
}

const OTHER: &str = "5678abcd-0000-4000-8000-000000000002";

#[tokio::test]
async fn every_page_is_fetched_and_json_is_one_array() {
    let (dir, relay) = logged_in(|request| match request {
        Request::ListTicketsPage { after: None, .. } => {
            let first = ticket(A, "first");
            Response::TicketPage {
                next: Some(TicketSort::Updated.cursor_after(&first)),
                tickets: vec![first],
            }
        }
        Request::ListTicketsPage { after: Some(_), .. } => Response::TicketPage {
            tickets: vec![ticket(OTHER, "second")],
            next: None,
        },
        _ => Response::Ok,
    })
    .await;
    let json = triage(
        dir.path(),
        &[
            "tickets",
            "list",
            "--sort",
            "updated",
            "--assignee",
            "me",
            "--json",
        ],
    )
    .await
    .unwrap();
    let back: Vec<Ticket> = serde_json::from_str(&json).unwrap();
    let titles: Vec<_> = back.iter().map(|t| t.title.as_str()).collect();
    assert_eq!(titles, ["first", "second"]);
    let requests = relay.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    let Request::ListTicketsPage {
        filter,
        sort,
        after: Some(after),
        limit,
    } = &requests[1]
    else {
        panic!("{requests:?}")
    };
    assert_eq!(*sort, TicketSort::Updated);
    assert_eq!(after.id, A.parse().unwrap());
    assert_eq!(filter.assignee, triage_shared::queue::AssigneeFilter::Me);
    assert!(*limit > 1);
}

#[tokio::test]
async fn a_search_sends_the_parsed_query_and_shows_each_match() {
    let (dir, relay) = logged_in(|request| match request {
        Request::SearchTickets { .. } => Response::SearchHits(vec![SearchHit {
            ticket: ticket(A, "VPN drops"),
            found_in: FoundIn::Comment,
            snippet: Snippet::from_marked(
                "it \u{E000}drops\u{E001} hourly",
                '\u{E000}',
                '\u{E001}',
            ),
        }]),
        _ => Response::Ok,
    })
    .await;
    let out = triage(
        dir.path(),
        &["tickets", "search", "drops -printer", "--status", "open"],
    )
    .await
    .unwrap();
    assert!(out.contains("1234abcd  open"), "{out}");
    assert!(out.contains("comment: it *drops* hourly"), "{out}");
    assert_eq!(
        relay.requests()[0],
        Request::SearchTickets {
            query: SearchQuery::parse("drops -printer").unwrap(),
            filter: TicketFilter {
                statuses: vec![Status::Open],
                ..TicketFilter::default()
            },
            limit: triage_shared::queue::DEFAULT_SEARCH_RESULTS,
        }
    );
    // A query that is only exclusions never reaches the relay.
    let before = relay.requests().len();
    let err = triage(dir.path(), &["tickets", "search", "-printer"])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("only leaves words out"), "{err}");
    assert_eq!(relay.requests().len(), before);
}

#[tokio::test]
async fn agents_list_ends_with_how_many_match_and_are_online() {
    let (dir, relay) = logged_in(|request| match request {
        Request::ListAgentsFiltered { .. } => Response::AgentPage {
            agents: vec![AgentSummary {
                id: triage_shared::AgentId::new_random(),
                hostname: "pc-1".into(),
                os: "Debian 12".into(),
                enrolled_at: Timestamp(0),
                last_seen: None,
                online: true,
            }],
            next: None,
        },
        Request::CountAgents { .. } => Response::AgentCount(AgentCount {
            matching: 1_204,
            online: 1_180,
        }),
        _ => Response::Ok,
    })
    .await;
    let out = triage(
        dir.path(),
        &["agents", "list", "--online", "--hostname", "pc-*"],
    )
    .await
    .unwrap();
    assert!(out.contains("pc-1"), "{out}");
    assert!(out.ends_with("1,204 endpoints, 1,180 online\n"), "{out}");
    let expected = AgentFilter {
        presence: Presence::Online,
        hostname: Some("pc-*".into()),
        ..AgentFilter::default()
    };
    let requests = relay.requests();
    assert!(
        matches!(&requests[0], Request::ListAgentsFiltered { filter, .. } if *filter == expected)
    );
    assert_eq!(requests[1], Request::CountAgents { filter: expected });
}
