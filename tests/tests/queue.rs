//! The queue through the CLI against a real relay: filters that combine,
//! paging while tickets arrive, search with snippets, similar resolved
//! tickets, endpoint filters with their count line, and bad input refused.

use serde_json::Value;
use std::collections::HashSet;
use std::time::Duration;
use triage_e2e::Deployment;
use triage_shared::client::Session;
use triage_shared::error::ErrorKind;
use triage_shared::identity::KeyPair;
use triage_shared::protocol::{PeerKind, Request, Response};
use triage_shared::queue::{
    Combine, SearchQuery, SearchTerm, TicketCursor, TicketFilter, TicketSort,
};
use triage_shared::ticket::{Category, NewTicket, Priority, Source};
use triage_shared::TicketId;

/// An endpoint enrolled over the wire with the hostname and OS given.
async fn endpoint(d: &Deployment, hostname: &str, os: &str) -> KeyPair {
    let token = d
        .relay()
        .create_token(1, Duration::from_secs(600))
        .await
        .unwrap();
    let key = KeyPair::generate();
    let session = Session::connect(&token.relay, &key, PeerKind::AgentOneShot)
        .await
        .unwrap();
    let enrolled = session
        .request(&Request::Enroll {
            token_secret: token.secret.to_hex(),
            hostname: hostname.into(),
            os: os.into(),
        })
        .await
        .unwrap();
    assert!(
        matches!(enrolled, Response::Enrolled { .. }),
        "{enrolled:?}"
    );
    session.close().await;
    key
}

async fn file(
    d: &Deployment,
    key: &KeyPair,
    title: &str,
    category: Category,
    priority: Priority,
    source: Source,
) -> String {
    let session = Session::connect(&d.relay().locator(), key, PeerKind::AgentOneShot)
        .await
        .unwrap();
    let id = TicketId::new_random();
    let answer = session
        .request(&Request::SubmitTicket {
            ticket: NewTicket {
                id,
                title: title.into(),
                description: format!("{title}, reported by the employee."),
                category,
                priority,
                source,
                requester: "alice".into(),
            },
            snapshot: None,
        })
        .await
        .unwrap();
    assert!(
        matches!(answer, Response::TicketStored { .. }),
        "{answer:?}"
    );
    session.close().await;
    id.to_string()
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a JSON array")
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect()
}

fn admin_key(d: &Deployment) -> KeyPair {
    d.admin.key()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_combine_and_search_finds_comments_resolutions_and_notes() {
    let d = Deployment::start().await;
    let lab = endpoint(&d, "lab-01", "Debian 12").await;
    let desk = endpoint(&d, "desk-01", "Windows 11").await;
    use Category::*;
    use Priority::*;
    let vpn = file(
        &d,
        &lab,
        "VPN drops every hour",
        Network,
        High,
        Source::Employee,
    )
    .await;
    let fan = file(&d, &lab, "Fan noise", Hardware, Low, Source::Employee).await;
    let wifi = file(
        &d,
        &desk,
        "Wifi slow in room 4",
        Network,
        Urgent,
        Source::Employee,
    )
    .await;
    let outlook = file(
        &d,
        &desk,
        "Outlook crashes on start",
        Software,
        Normal,
        Source::HealthAlert,
    )
    .await;
    let admin = &d.admin;
    admin.run(&["tickets", "escalate", &wifi]).await.unwrap();
    admin
        .run(&["tickets", "assign", &vpn, &admin.name])
        .await
        .unwrap();
    admin
        .run(&[
            "tickets",
            "comment",
            &fan,
            "The fan makes a clicking noise since Monday",
        ])
        .await
        .unwrap();
    admin
        .run(&[
            "tickets",
            "comment",
            &outlook,
            "Codeword zebra for the user",
            "--internal",
        ])
        .await
        .unwrap();
    admin
        .run(&[
            "tickets",
            "resolve",
            &outlook,
            "Reinstalled the mail client",
        ])
        .await
        .unwrap();

    let list = |args: &[&str]| {
        let mut all = vec!["tickets", "list", "--json"];
        all.extend_from_slice(args);
        let all: Vec<String> = all.into_iter().map(String::from).collect();
        async move {
            let args: Vec<&str> = all.iter().map(String::as_str).collect();
            ids(&admin.json(&args).await)
        }
    };
    assert_eq!(list(&["--tier", "l2"]).await, [wifi.as_str()]);
    assert_eq!(
        list(&["--assignee", "none", "--category", "network"]).await,
        [wifi.as_str()]
    );
    assert_eq!(list(&["--assignee", "me"]).await, [vpn.as_str()]);
    assert_eq!(
        list(&["--agent", "lab-01", "--sort", "priority"]).await,
        [vpn.as_str(), fan.as_str()]
    );
    assert_eq!(
        list(&[
            "--priority",
            "urgent",
            "--priority",
            "high",
            "--sort",
            "priority"
        ])
        .await,
        [wifi.as_str(), vpn.as_str()]
    );
    assert_eq!(list(&["--status", "resolved"]).await, [outlook.as_str()]);
    assert_eq!(
        list(&["--source", "health_alert"]).await,
        [outlook.as_str()]
    );
    assert_eq!(
        list(&["--requester", "alice", "--limit", "1"]).await,
        [outlook.as_str()]
    );
    assert_eq!(list(&["--created-since", "1h"]).await.len(), 4);
    assert!(list(&["--updated-since", "2099-01-01"]).await.is_empty());
    // Every ticket was just filed with an SLA hours away: none breaches.
    assert!(list(&["--breaching"]).await.is_empty());

    let search = |query: &str| {
        let query = query.to_string();
        async move {
            admin
                .json(&["tickets", "search", &query, "--json"])
                .await
                .as_array()
                .unwrap()
                .clone()
        }
    };
    let hits = search("clicking noise").await;
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0]["ticket"]["id"], fan.as_str());
    assert_eq!(hits[0]["found_in"], "comment");
    let text = hits[0]["snippet"]["text"].as_str().unwrap();
    let (start, end) = (
        hits[0]["snippet"]["marks"][0][0].as_u64().unwrap() as usize,
        hits[0]["snippet"]["marks"][0][1].as_u64().unwrap() as usize,
    );
    assert!(
        ["clicking", "noise"].contains(&text[start..end].to_lowercase().as_str()),
        "{text} marks {start}..{end}"
    );
    let hits = search("reinstalled").await;
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0]["ticket"]["id"], outlook.as_str());
    // Technicians may read internal notes, so their search finds them.
    let hits = search("zebra").await;
    assert_eq!(hits[0]["found_in"], "internal_note", "{hits:?}");
    // An excluded word leaves the whole ticket out.
    assert!(search("outlook -reinstalled").await.is_empty());
    assert_eq!(
        search("\"every hour\"").await[0]["ticket"]["id"],
        vpn.as_str()
    );
    assert!(search("\"hour every\"").await.is_empty());
    let table = admin.run(&["tickets", "search", "clicking"]).await.unwrap();
    assert!(
        table.contains("comment: ") && table.contains("*clicking*"),
        "{table}"
    );

    // A new ticket like a resolved one shows it, with its resolution.
    let again = file(
        &d,
        &desk,
        "Outlook crashes when opening the calendar",
        Software,
        Normal,
        Source::Employee,
    )
    .await;
    let shown = admin.json(&["tickets", "show", &again, "--json"]).await;
    let similar = shown["similar"].as_array().unwrap();
    assert_eq!(similar[0]["ticket"]["id"], outlook.as_str(), "{similar:?}");
    assert_eq!(similar[0]["resolution"], "Reinstalled the mail client");
    let text = admin.run(&["tickets", "show", &again]).await.unwrap();
    assert!(
        text.contains("Similar resolved tickets:")
            && text.contains("resolution: Reinstalled the mail client"),
        "{text}"
    );

    // Bad input is refused with what to do, before or at the relay.
    let err = admin
        .refused(&["tickets", "list", "--agent", "nowhere-99"])
        .await;
    assert!(err.contains("no agent"), "{err}");
    let err = admin.refused(&["tickets", "search", "  "]).await;
    assert!(err.contains("the search is empty"), "{err}");
    let session = Session::connect(&d.relay().locator(), &admin_key(&d), PeerKind::Technician)
        .await
        .unwrap();
    let foreign_cursor = Request::ListTicketsPage {
        filter: TicketFilter::default(),
        sort: TicketSort::Due,
        after: Some(TicketCursor {
            sort: TicketSort::Created,
            keys: [0, 0],
            id: TicketId::new_random(),
        }),
        limit: 10,
    };
    let err = session.request(&foreign_cursor).await.unwrap_err();
    assert_eq!(err.remote_kind(), Some(ErrorKind::InvalidInput), "{err}");
    assert!(
        err.to_string().contains("sorted by created, not by due"),
        "{err}"
    );
    let forged = Request::SearchTickets {
        query: SearchQuery {
            terms: vec![SearchTerm {
                words: vec!["x\" OR \"y".into()],
                exclude: false,
            }],
            combine: Combine::All,
        },
        filter: TicketFilter::default(),
        limit: 10,
    };
    let err = session.request(&forged).await.unwrap_err();
    assert!(err.to_string().contains("not one lowercase word"), "{err}");
    session.close().await;

    // An endpoint may not search the queue (internal notes included).
    let agent = Session::connect(&d.relay().locator(), &lab, PeerKind::AgentOneShot)
        .await
        .unwrap();
    let err = agent
        .request(&Request::SearchTickets {
            query: SearchQuery::parse("zebra").unwrap(),
            filter: TicketFilter::default(),
            limit: 10,
        })
        .await
        .unwrap_err();
    assert_eq!(err.remote_kind(), Some(ErrorKind::Forbidden), "{err}");
    agent.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_skip_nothing_and_repeat_nothing_while_tickets_arrive() {
    let d = Deployment::start().await;
    let key = endpoint(&d, "pc-1", "Debian 12").await;
    let mut before = HashSet::new();
    for i in 0..23 {
        before.insert(
            file(
                &d,
                &key,
                &format!("Ticket {i}"),
                Category::Other,
                Priority::Normal,
                Source::Employee,
            )
            .await,
        );
    }
    let session = Session::connect(&d.relay().locator(), &admin_key(&d), PeerKind::Technician)
        .await
        .unwrap();
    for sort in [TicketSort::Created, TicketSort::Priority, TicketSort::Due] {
        let mut seen = Vec::new();
        let mut after = None;
        let mut arrived = 0;
        loop {
            let request = Request::ListTicketsPage {
                filter: TicketFilter::default(),
                sort,
                after: after.clone(),
                limit: 5,
            };
            let (tickets, next) = match session.request(&request).await.unwrap() {
                Response::TicketPage { tickets, next } => (tickets, next),
                other => panic!("{other:?}"),
            };
            assert!(tickets.len() <= 5);
            seen.extend(tickets.iter().map(|t| t.id.to_string()));
            // New tickets arrive between every two pages.
            arrived += 1;
            file(
                &d,
                &key,
                &format!("Arrived during {sort} {arrived}"),
                Category::Other,
                Priority::Normal,
                Source::Employee,
            )
            .await;
            match next {
                Some(cursor) => after = Some(cursor),
                None => break,
            }
        }
        let unique: HashSet<_> = seen.iter().cloned().collect();
        assert_eq!(unique.len(), seen.len(), "{sort}: a ticket was shown twice");
        assert!(
            before.is_subset(&unique),
            "{sort}: a ticket that was there was skipped"
        );
    }
    session.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_filter_by_presence_hostname_and_os_with_a_count_line() {
    let d = Deployment::start().await;
    let online = endpoint(&d, "lab-01", "Debian GNU/Linux 12").await;
    endpoint(&d, "lab-02", "Debian GNU/Linux 12").await;
    endpoint(&d, "desk-01", "Windows 11 Pro").await;
    endpoint(&d, "lab_x", "Windows 11 Pro").await;
    let held = Session::connect(&d.relay().locator(), &online, PeerKind::Agent)
        .await
        .unwrap();
    let admin = &d.admin;
    let hosts = |list: Value| -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|a| a["hostname"].as_str().unwrap().to_string())
            .collect()
    };
    let listed = triage_e2e::eventually(Duration::from_secs(10), || async {
        hosts(admin.json(&["agents", "list", "--online", "--json"]).await) == ["lab-01"]
    })
    .await;
    assert!(listed, "lab-01 never listed as online");
    assert_eq!(
        hosts(
            admin
                .json(&["agents", "list", "--hostname", "lab-*", "--json"])
                .await
        ),
        ["lab-01", "lab-02"]
    );
    // `_` is a character like any other, not a wildcard.
    assert_eq!(
        hosts(
            admin
                .json(&["agents", "list", "--hostname", "lab_?", "--json"])
                .await
        ),
        ["lab_x"]
    );
    assert_eq!(
        hosts(
            admin
                .json(&[
                    "agents",
                    "list",
                    "--offline",
                    "--hostname",
                    "LAB-*",
                    "--json"
                ])
                .await
        ),
        ["lab-02"]
    );
    assert_eq!(
        hosts(
            admin
                .json(&["agents", "list", "--os", "windows", "--json"])
                .await
        ),
        ["desk-01", "lab_x"]
    );
    assert_eq!(
        hosts(
            admin
                .json(&["agents", "list", "--seen-since", "2099-01-01", "--json"])
                .await
        ),
        Vec::<String>::new()
    );
    let table = admin
        .run(&["agents", "list", "--hostname", "lab-*"])
        .await
        .unwrap();
    assert!(table.ends_with("2 endpoints, 1 online\n"), "{table}");
    let table = admin.run(&["agents", "list"]).await.unwrap();
    assert!(table.ends_with("4 endpoints, 1 online\n"), "{table}");
    let table = admin
        .run(&["agents", "list", "--os", "solaris"])
        .await
        .unwrap();
    assert_eq!(table, "No endpoint matches.\n0 endpoints, 0 online\n");
    held.close().await;
}
