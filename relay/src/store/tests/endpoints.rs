//! Endpoint filters against a real store: hostname globs (with LIKE's
//! own wildcards escaped), OS text, last seen, counts and the records
//! among a set of ids, all agreeing with the shared rules.

use super::*;
use triage_shared::queue::{glob_matches, AgentFilter};
use triage_shared::selector::AgentCursor;
use triage_shared::AgentId;

const HOUR_LATER: Timestamp = Timestamp(NOW.0 + HOUR_MS);

async fn agent_named(store: &Store, hostname: &str, os: &str) -> AgentRecord {
    let hash = token(store, 1, Timestamp(NOW.0 + HOUR_MS)).await;
    let key = KeyPair::generate().public_key();
    let id = store.enroll(&hash, &key, hostname, os, NOW).await.unwrap();
    store.agent(id).await.unwrap().unwrap()
}

/// What an endpoint filter selects, by the shared rules.
fn selects(filter: &AgentFilter, agent: &AgentRecord) -> bool {
    agent.removed_at.is_none()
        && filter.hostname_matches(&agent.hostname)
        && filter.os.as_ref().is_none_or(|os| {
            agent
                .os
                .to_ascii_lowercase()
                .contains(&os.to_ascii_lowercase())
        })
        && filter
            .seen_since
            .is_none_or(|since| agent.last_seen.is_some_and(|seen| seen >= since))
}

store_test!(endpoint_filters_agree_with_the_glob_and_escape_like_wildcards);
async fn endpoint_filters_agree_with_the_glob_and_escape_like_wildcards(store: Store) {
    let mut agents = Vec::new();
    for (hostname, os) in [
        ("pc-1", "Debian 12"),
        ("PC-2", "Windows 11 Pro"),
        ("pc_3", "Windows 10"),
        ("pc-3", "macOS 14"),
        ("pc%4", "Debian 12"),
        ("pc-14", "Debian 12"),
        ("laptop-9", "Ubuntu 100%"),
        ("back\\slash", "Ubuntu 24"),
    ] {
        agents.push(agent_named(&store, hostname, os).await);
    }
    for i in [1, 3] {
        store.touch_agent(agents[i].id, HOUR_LATER).await.unwrap();
        agents[i] = store.agent(agents[i].id).await.unwrap().unwrap();
    }
    let removed = agent_named(&store, "pc-removed", "Debian 12").await;
    store.remove_agent(removed.id, NOW).await.unwrap();
    let removed = store.agent(removed.id).await.unwrap().unwrap();
    agents.push(removed);

    let glob = |g: &str| AgentFilter {
        hostname: Some(g.into()),
        ..AgentFilter::default()
    };
    let cases = [
        ("everything", AgentFilter::default(), 8),
        ("star", glob("pc-*"), 4),
        ("case", glob("PC-?"), 3),
        ("literal underscore", glob("pc_3"), 1),
        ("literal percent", glob("pc%4"), 1),
        ("question mark", glob("pc?3"), 2),
        ("backslash", glob("back\\slash"), 1),
        (
            "os",
            AgentFilter {
                os: Some("WINDOWS".into()),
                ..AgentFilter::default()
            },
            2,
        ),
        (
            "os percent",
            AgentFilter {
                os: Some("100%".into()),
                ..AgentFilter::default()
            },
            1,
        ),
        (
            "seen",
            AgentFilter {
                seen_since: Some(Timestamp(NOW.0 + 1)),
                ..AgentFilter::default()
            },
            2,
        ),
        (
            "combined",
            AgentFilter {
                hostname: Some("*-*".into()),
                os: Some("debian".into()),
                ..AgentFilter::default()
            },
            2,
        ),
    ];
    for (name, filter, count) in cases {
        let expected: Vec<AgentId> = {
            let mut matching: Vec<_> = agents.iter().filter(|a| selects(&filter, a)).collect();
            matching.sort_by(|a, b| {
                (&a.hostname, a.id.to_string()).cmp(&(&b.hostname, b.id.to_string()))
            });
            matching.iter().map(|a| a.id).collect()
        };
        assert_eq!(expected.len(), count, "{name}: the sample's count");
        assert!(expected.iter().all(|id| {
            let a = agents.iter().find(|a| a.id == *id).unwrap();
            glob_matches(filter.hostname.as_deref().unwrap_or("*"), &a.hostname)
        }));
        // Two at a time, after each page's last.
        let mut listed = Vec::new();
        let mut after: Option<AgentCursor> = None;
        loop {
            let page = store
                .list_agents_filtered(&filter, after.as_ref(), 2)
                .await
                .unwrap();
            let Some(last) = page.last() else { break };
            after = Some(AgentCursor {
                hostname: last.hostname.clone(),
                id: last.id,
            });
            listed.extend(page.iter().map(|a| a.id));
        }
        assert_eq!(listed, expected, "{name}");
        assert_eq!(
            store.count_agents_matching(&filter).await.unwrap(),
            count as u64,
            "{name}"
        );
        let among: Vec<AgentId> = agents.iter().map(|a| a.id).collect();
        let mut found: Vec<AgentId> = store
            .agents_among(&among[..3], &filter)
            .await
            .unwrap()
            .iter()
            .map(|a| a.id)
            .collect();
        found.sort_by_key(|id| expected.iter().position(|e| e == id));
        let wanted: Vec<AgentId> = expected
            .iter()
            .copied()
            .filter(|id| among[..3].contains(id))
            .collect();
        assert_eq!(found, wanted, "{name} among the first three");
    }
    let (kind, message) = refused_kind(
        store
            .list_agents_filtered(&glob(&"x".repeat(65)), None, 5)
            .await,
    );
    assert_eq!(kind, ErrorKind::InvalidInput);
    assert!(message.contains("--hostname is 65 bytes"), "{message}");
}
