use super::*;
use crate::ticket::Ticket;

fn words(t: &SearchTerm) -> String {
    t.words.join(" ")
}

#[test]
fn queries_read_words_phrases_and_exclusions() {
    let q = SearchQuery::parse(r#"WiFi "drops out"  -printer -"blue screen" wi-fi"#).unwrap();
    let shown: Vec<_> = q.terms.iter().map(|t| (words(t), t.exclude)).collect();
    assert_eq!(
        shown,
        [
            ("wifi".to_string(), false),
            ("drops out".to_string(), false),
            ("printer".to_string(), true),
            ("blue screen".to_string(), true),
            ("wi fi".to_string(), false),
        ]
    );
    assert_eq!(q.combine, Combine::All);
    assert_eq!(
        q.to_string(),
        r#"wifi "drops out" -printer -"blue screen" "wi fi""#
    );
    assert_eq!(q.included().count(), 3);
    assert_eq!(q.excluded().count(), 2);
    // Punctuation alone narrows nothing.
    let q = SearchQuery::parse("vpn ... !!").unwrap();
    assert_eq!(q.terms.len(), 1);
    // Words stay words in every script.
    let q = SearchQuery::parse("Drucker-Störung").unwrap();
    assert_eq!(words(&q.terms[0]), "drucker störung");
}

#[test]
fn bad_queries_are_refused_with_what_to_type() {
    let refusal = |text: &str| SearchQuery::parse(text).unwrap_err().message;
    assert!(
        refusal("").contains("the search is empty"),
        "{}",
        refusal("")
    );
    assert!(refusal("   ").contains("the search is empty"));
    assert!(refusal("-vpn").contains("only leaves words out"));
    assert!(refusal(r#"say "hello"#).contains("quote in the search is not closed"));
    assert!(refusal("vpn -").contains("`-` must be followed"));
    let long = "a".repeat(MAX_QUERY_LEN + 1);
    assert!(refusal(&long).contains(&format!("keep it to {MAX_QUERY_LEN}")));
    assert!(refusal("vpn\u{1b}[2J").contains("control characters"));
    let many = (0..=MAX_QUERY_TERMS)
        .map(|i| format!("w{i}"))
        .collect::<Vec<_>>()
        .join(" ");
    assert!(refusal(&many).contains(&format!("at most {MAX_QUERY_TERMS}")));
    for text in ["", "-vpn", "\"open"] {
        assert_eq!(
            SearchQuery::parse(text).unwrap_err().kind,
            ErrorKind::InvalidInput
        );
    }
}

#[test]
fn queries_off_the_network_are_checked_again() {
    let forged = SearchQuery {
        terms: vec![SearchTerm {
            words: vec!["a\" OR \"b".into()],
            exclude: false,
        }],
        combine: Combine::All,
    };
    assert!(forged
        .check()
        .unwrap_err()
        .message
        .contains("not one lowercase word"));
    let empty_phrase = SearchQuery {
        terms: vec![SearchTerm {
            words: vec![],
            exclude: false,
        }],
        combine: Combine::All,
    };
    assert!(empty_phrase.check().is_err());
    let upper = SearchQuery {
        terms: vec![SearchTerm {
            words: vec!["VPN".into()],
            exclude: false,
        }],
        combine: Combine::All,
    };
    assert!(upper.check().is_err());
}

#[test]
fn similar_queries_keep_the_telling_words_once() {
    let q = SearchQuery::parse("x").unwrap();
    assert_eq!(q.terms.len(), 1);
    let q = SearchQuery::similar_to("The VPN drops, the VPN drops again and again").unwrap();
    assert_eq!(q.combine, Combine::Any);
    let shown: Vec<_> = q.terms.iter().map(words).collect();
    assert_eq!(shown, ["vpn", "drops"]);
    assert!(SearchQuery::similar_to("it is on").is_none());
    let long: String = (0..100).map(|i| format!("word{i} ")).collect();
    assert_eq!(
        SearchQuery::similar_to(&long).unwrap().terms.len(),
        MAX_QUERY_TERMS
    );
}

#[test]
fn globs_match_like_a_shell_without_case() {
    assert!(glob_matches("pc-*", "PC-042"));
    assert!(glob_matches("*-0?2", "pc-042"));
    assert!(!glob_matches("*-0?2", "pc-0422"));
    assert!(glob_matches("*", ""));
    assert!(glob_matches("a*b*c", "aXXbYYc"));
    assert!(!glob_matches("a*b*c", "aXXbYY"));
    assert!(glob_matches("100%_*", "100%_done"));
    assert!(!glob_matches("pc", "pc-1"));
    // A pattern built to backtrack still ends quickly.
    let text = "a".repeat(60);
    assert!(!glob_matches("*a*a*a*a*a*a*a*a*b", &text));
}

#[test]
fn snippets_keep_marks_in_bounds() {
    let s = Snippet::from_marked(
        "the \u{E000}VPN\u{E001} drops \u{E000}daily\u{E001}",
        '\u{E000}',
        '\u{E001}',
    );
    assert_eq!(s.text, "the VPN drops daily");
    assert_eq!(
        s.pieces(),
        [
            ("the ", false),
            ("VPN", true),
            (" drops ", false),
            ("daily", true)
        ]
    );
    // Unbalanced markers are dropped.
    let s = Snippet::from_marked("\u{E001}a\u{E000}b", '\u{E000}', '\u{E001}');
    assert_eq!(s.text, "ab");
    assert!(s.marks.is_empty());
    // Marks off the network that do not fit are ignored, not a panic.
    let forged = Snippet {
        text: "héllo".into(),
        marks: vec![(2, 3), (0, 99), (4, 1)],
    };
    assert_eq!(forged.pieces(), [("héllo", false)]);
}

fn ticket() -> Ticket {
    Ticket {
        id: TicketId::new_random(),
        title: "VPN drops".into(),
        description: String::new(),
        category: Category::Network,
        priority: Priority::High,
        status: Status::Open,
        tier: Tier::L2,
        source: Source::Employee,
        agent_id: Some(AgentId::new_random()),
        hostname: Some("pc-1".into()),
        requester: "alice".into(),
        assignee: None,
        created_at: Timestamp(1_000_000),
        updated_at: Timestamp(2_000_000),
        sla_due_at: Timestamp(10_000_000),
        sla: None,
    }
}

#[test]
fn filters_combine_every_part() {
    let t = ticket();
    let context = FilterContext {
        caller: "bob".into(),
        agent: t.agent_id,
        now: Timestamp(0),
    };
    let everything = TicketFilter::default();
    assert!(everything.matches(&t, &context));
    let mut f = TicketFilter {
        statuses: vec![Status::Open, Status::Waiting],
        tiers: vec![Tier::L2],
        priorities: vec![Priority::High],
        categories: vec![Category::Network],
        sources: vec![Source::Employee],
        assignee: AssigneeFilter::Unassigned,
        agent: Some(AgentSelector::Name("pc-1".into())),
        requester: Some("alice".into()),
        created_since: Some(Timestamp(1_000_000)),
        updated_since: Some(Timestamp(1_500_000)),
        breaching: false,
    };
    assert!(f.matches(&t, &context));
    let misses: [fn(&mut TicketFilter); 11] = [
        |f| f.statuses = vec![Status::Closed],
        |f| f.tiers = vec![Tier::L1],
        |f| f.priorities = vec![Priority::Low],
        |f| f.categories = vec![Category::Account],
        |f| f.sources = vec![Source::HealthAlert],
        |f| f.assignee = AssigneeFilter::Me,
        |f| f.assignee = AssigneeFilter::Named("carol".into()),
        |f| f.requester = Some("Alice".into()),
        |f| f.created_since = Some(Timestamp(1_000_001)),
        |f| f.updated_since = Some(Timestamp(2_000_001)),
        |f| f.breaching = true,
    ];
    for (i, miss) in misses.iter().enumerate() {
        let mut g = f.clone();
        miss(&mut g);
        assert!(
            !g.matches(&t, &context),
            "change {i} should exclude the ticket"
        );
    }
    // An `--agent` the relay could not resolve matches nothing.
    let unresolved = FilterContext {
        agent: None,
        ..context.clone()
    };
    assert!(!f.matches(&t, &unresolved));
    f.agent = None;
    let mut mine = t.clone();
    mine.assignee = Some("bob".into());
    f.assignee = AssigneeFilter::Me;
    assert!(f.matches(&mine, &context));
}

#[test]
fn breaching_means_past_a_warning_point_of_a_clock_at_stake() {
    use crate::sla::{evaluate, SlaFact, SlaPolicy};
    let mut t = ticket();
    assert!(
        !is_breaching(&t, Timestamp(i64::MAX)),
        "no clocks, nothing at stake"
    );
    let created = SlaFact::Created {
        at: t.created_at,
        priority: t.priority,
        category: t.category,
    };
    let policy = SlaPolicy::default();
    t.sla = Some(evaluate(&[created], &policy, t.created_at).sla);
    // High: first response within 1 h, warned at 80 %.
    let warn = t.created_at.millis() + 48 * 60_000;
    assert!(!is_breaching(&t, Timestamp(warn - 1)));
    assert!(is_breaching(&t, Timestamp(warn)));
    let resolved = SlaFact::StatusChanged {
        at: t.created_at,
        to: Status::Resolved,
        by_technician: true,
    };
    t.sla = Some(evaluate(&[created, resolved], &policy, t.created_at).sla);
    assert!(!is_breaching(&t, Timestamp(warn + 5)));
}

#[test]
fn bad_filters_name_the_value_and_the_limit() {
    let f = TicketFilter {
        statuses: vec![Status::Open; MAX_FILTER_VALUES + 1],
        ..TicketFilter::default()
    };
    let e = f.check().unwrap_err();
    assert!(
        e.message.contains("--status is given 9 times"),
        "{}",
        e.message
    );
    let f = TicketFilter {
        requester: Some("x".repeat(MAX_NAME_LEN + 1)),
        ..TicketFilter::default()
    };
    assert!(f.check().unwrap_err().message.starts_with("--requester is"));
    assert!(AssigneeFilter::parse("")
        .unwrap_err()
        .message
        .contains("--assignee is empty"));
    assert_eq!(AssigneeFilter::parse("ME").unwrap(), AssigneeFilter::Me);
    assert_eq!(
        AssigneeFilter::parse("none").unwrap(),
        AssigneeFilter::Unassigned
    );
    assert_eq!(
        AssigneeFilter::parse("carol").unwrap(),
        AssigneeFilter::Named("carol".into())
    );
    assert_eq!(
        "soonest".parse::<TicketSort>().unwrap_err(),
        "unknown sort `soonest`; use one of: created, updated, priority, due"
    );
    let a = AgentFilter {
        os: Some("deb\u{7}".into()),
        ..AgentFilter::default()
    };
    assert!(a
        .check()
        .unwrap_err()
        .message
        .contains("--os holds control"));
}

#[test]
fn cursors_belong_to_their_order() {
    let t = ticket();
    let c = TicketSort::Priority.cursor_after(&t);
    assert_eq!(c.keys, [2, 10_000_000]);
    assert!(c.check(TicketSort::Priority).is_ok());
    let e = c.check(TicketSort::Created).unwrap_err();
    assert!(
        e.message.contains("sorted by priority, not by created"),
        "{}",
        e.message
    );
    assert_eq!(TicketSort::Created.keys(&t), [1_000_000, 0]);
    assert_eq!(TicketSort::Updated.keys(&t), [2_000_000, 0]);
    assert_eq!(TicketSort::Due.keys(&t), [10_000_000, 0]);
    let ranks: Vec<_> = Priority::ALL.iter().map(|&p| priority_rank(p)).collect();
    assert_eq!(ranks, [0, 1, 2, 3]);
}
