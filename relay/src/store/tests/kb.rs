//! The knowledge base against a real store: versions, stale edits,
//! search, retiring, paging, what employees may reach, deflections, the
//! tickets an article solved and what an employee read before filing.

use super::*;
use crate::store::StoredScript;
use triage_shared::agent_update::AgentUpdate;
use triage_shared::approval::{
    Approval, Interpreter, Nonce, ScriptDigest, ScriptId, ScriptManifest,
};
use triage_shared::ids::UpdateId;
use triage_shared::kb::{
    Article, ArticleChange, ArticleContent, ArticleDraft, ArticleFilter, ArticleId, Deflection,
    Visibility,
};
use triage_shared::queue::SearchQuery;

fn content(title: &str, body: &str, visibility: Visibility) -> ArticleContent {
    ArticleContent {
        title: title.into(),
        body: body.into(),
        category: Some(Category::Network),
        tags: vec!["vpn".into()],
        visibility,
        script: None,
    }
}

async fn add(store: &Store, title: &str, body: &str, visibility: Visibility) -> Article {
    let draft = ArticleDraft {
        content: content(title, body, visibility),
        from_ticket: None,
    };
    store.add_article(&draft, "carol", NOW).await.unwrap()
}

async fn search_ids(store: &Store, text: &str) -> Vec<ArticleId> {
    let query = SearchQuery::parse(text).unwrap();
    store
        .search_articles(&query, 20)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.article.id)
        .collect()
}

fn later(minutes: i64) -> Timestamp {
    Timestamp(NOW.0 + minutes * 60_000)
}

store_test!(articles_keep_every_version_and_refuse_a_stale_edit);
async fn articles_keep_every_version_and_refuse_a_stale_edit(store: Store) {
    let first = add(
        &store,
        "VPN drops every hour",
        "Renew the certificate in the VPN client.",
        Visibility::Public,
    )
    .await;
    assert_eq!(first.id, ArticleId(1));
    assert_eq!((first.version, first.current_version), (1, 1));
    let second = add(&store, "Printer jams", "Open tray 2.", Visibility::Public).await;
    assert_eq!(second.id, ArticleId(2), "numbers are handed out in order");

    let change = ArticleChange {
        base_version: 1,
        body: Some("Reinstall the VPN profile from the portal.".into()),
        ..ArticleChange::default()
    };
    let edited = store
        .edit_article(first.id, &change, "dave", later(5))
        .await
        .unwrap();
    assert_eq!((edited.version, edited.current_version), (2, 2));
    assert_eq!(edited.author, "dave");
    assert_eq!(edited.content.title, "VPN drops every hour");
    assert_eq!(
        edited
            .history
            .iter()
            .map(|v| (v.version, v.author.as_str()))
            .collect::<Vec<_>>(),
        [(2, "dave"), (1, "carol")]
    );
    // The old text is still there, by version.
    let old = store.article(first.id, Some(1)).await.unwrap().unwrap();
    assert_eq!(old.content.body, "Renew the certificate in the VPN client.");
    assert_eq!(
        (old.version, old.current_version, old.author.as_str()),
        (1, 2, "carol")
    );
    let (kind, message) = refused_kind(store.article(first.id, Some(9)).await);
    assert_eq!(kind, ErrorKind::NotFound);
    assert!(message.contains("versions 1 to 2"), "{message}");

    // An edit made on version 1 would overwrite dave's unseen.
    let (kind, message) = refused_kind(
        store
            .edit_article(first.id, &change, "erin", later(6))
            .await,
    );
    assert_eq!(kind, ErrorKind::Conflict);
    assert!(message.contains("version 2"), "{message}");
    // An edit that changes nothing stores nothing.
    let same = ArticleChange {
        base_version: 2,
        title: Some("VPN drops every hour".into()),
        ..ArticleChange::default()
    };
    let (kind, _) = refused_kind(store.edit_article(first.id, &same, "erin", later(6)).await);
    assert_eq!(kind, ErrorKind::InvalidInput);
    let (kind, _) = refused_kind(
        store
            .edit_article(ArticleId(99), &change, "erin", later(6))
            .await,
    );
    assert_eq!(kind, ErrorKind::NotFound);

    // Search reads the current text only.
    assert_eq!(search_ids(&store, "portal").await, [first.id]);
    assert!(search_ids(&store, "certificate").await.is_empty());
}

store_test!(search_ranks_articles_and_retired_ones_are_only_listed_on_request);
async fn search_ranks_articles_and_retired_ones_are_only_listed_on_request(store: Store) {
    let in_title = add(
        &store,
        "Wifi drops",
        "Forget the network.",
        Visibility::Public,
    )
    .await;
    let in_body = add(
        &store,
        "Laptop is slow",
        "Check whether the wifi driver is current.",
        Visibility::Internal,
    )
    .await;
    let other = add(&store, "Printer jams", "Open tray 2.", Visibility::Public).await;

    // Internal articles are technicians' too; the title weighs more.
    assert_eq!(search_ids(&store, "wifi").await, [in_title.id, in_body.id]);
    assert_eq!(search_ids(&store, "wifi -driver").await, [in_title.id]);
    assert_eq!(search_ids(&store, "\"wifi drops\"").await, [in_title.id]);
    let query = SearchQuery::parse("tray").unwrap();
    let hits = store.search_articles(&query, 20).await.unwrap();
    assert_eq!(hits[0].article.id, other.id);
    let marked: Vec<&str> = hits[0]
        .snippet
        .pieces()
        .into_iter()
        .filter(|(_, m)| *m)
        .map(|(p, _)| p)
        .collect();
    assert_eq!(marked, ["tray"]);

    let retired = store
        .retire_article(in_title.id, "dave", later(1))
        .await
        .unwrap();
    assert_eq!(retired.retired.as_ref().unwrap().by, "dave");
    assert_eq!(search_ids(&store, "wifi").await, [in_body.id]);
    let (kind, message) = refused_kind(store.retire_article(in_title.id, "erin", later(2)).await);
    assert_eq!(kind, ErrorKind::Conflict);
    assert!(message.contains("already retired"), "{message}");
    let edit = ArticleChange {
        base_version: 1,
        title: Some("Wifi".into()),
        ..ArticleChange::default()
    };
    let (kind, _) = refused_kind(
        store
            .edit_article(in_title.id, &edit, "erin", later(2))
            .await,
    );
    assert_eq!(kind, ErrorKind::Conflict);

    let listed = |filter: ArticleFilter| {
        let store = store.clone();
        async move {
            let (page, _) = store.list_articles(&filter, None, 50).await.unwrap();
            page.into_iter().map(|a| a.id).collect::<Vec<_>>()
        }
    };
    // Newest change first: the retired one moved nothing.
    assert_eq!(
        listed(ArticleFilter::default()).await,
        [other.id, in_body.id]
    );
    assert_eq!(
        listed(ArticleFilter {
            include_retired: true,
            ..ArticleFilter::default()
        })
        .await
        .len(),
        3
    );
    assert_eq!(
        listed(ArticleFilter {
            tag: Some("vpn".into()),
            category: Some(Category::Network),
            include_retired: true,
        })
        .await
        .len(),
        3
    );
    assert!(listed(ArticleFilter {
        tag: Some("printer".into()),
        ..ArticleFilter::default()
    })
    .await
    .is_empty());
    assert!(listed(ArticleFilter {
        category: Some(Category::Hardware),
        ..ArticleFilter::default()
    })
    .await
    .is_empty());
}

store_test!(article_lists_come_a_page_at_a_time);
async fn article_lists_come_a_page_at_a_time(store: Store) {
    for i in 0..5 {
        add(&store, &format!("Article {i}"), "text", Visibility::Public).await;
    }
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let (page, next) = store
            .list_articles(&ArticleFilter::default(), after, 2)
            .await
            .unwrap();
        assert!(page.len() <= 2);
        seen.extend(page.iter().map(|a| a.id.0));
        match next {
            Some(cursor) => after = Some(cursor),
            None => break,
        }
    }
    // Same change time: the highest number first.
    assert_eq!(seen, [5, 4, 3, 2, 1]);
}

store_test!(employees_only_ever_reach_public_active_articles);
async fn employees_only_ever_reach_public_active_articles(store: Store) {
    let public = add(
        &store,
        "VPN keeps disconnecting",
        "# Reconnect\nOpen the **VPN** app and sign in again.",
        Visibility::Public,
    )
    .await;
    let internal = add(
        &store,
        "VPN concentrator restart",
        "ssh to vpn-gw-1 and restart the disconnecting tunnels.",
        Visibility::Internal,
    )
    .await;
    let retired = add(
        &store,
        "Old VPN client disconnecting",
        "Install client 1.0.",
        Visibility::Public,
    )
    .await;
    store
        .retire_article(retired.id, "dave", later(1))
        .await
        .unwrap();
    for i in 0..4 {
        add(
            &store,
            &format!("Printer {i}"),
            "Printers disconnecting from wifi.",
            Visibility::Public,
        )
        .await;
    }

    let offered = store
        .suggest_articles("my vpn keeps disconnecting since monday")
        .await
        .unwrap();
    assert!(offered.len() <= 3, "{offered:?}");
    assert_eq!(offered[0].id, public.id);
    assert_eq!(
        offered[0].excerpt,
        "Reconnect Open the VPN app and sign in again."
    );
    let ids: Vec<ArticleId> = offered.iter().map(|s| s.id).collect();
    assert!(!ids.contains(&internal.id), "{ids:?}");
    assert!(!ids.contains(&retired.id), "{ids:?}");
    assert!(store
        .suggest_articles("the and for")
        .await
        .unwrap()
        .is_empty());

    assert_eq!(
        store.public_article(public.id).await.unwrap().title,
        public.content.title
    );
    for hidden in [internal.id, retired.id, ArticleId(99)] {
        let (kind, _) = refused_kind(store.public_article(hidden).await);
        assert_eq!(kind, ErrorKind::NotFound, "{hidden}");
    }
}

store_test!(a_deflection_counts_once_and_only_for_what_employees_can_see);
async fn a_deflection_counts_once_and_only_for_what_employees_can_see(store: Store) {
    let pc = enrolled_agent(&store, "pc-1").await;
    let other_pc = enrolled_agent(&store, "pc-2").await;
    let public = add(&store, "VPN", "Sign in again.", Visibility::Public).await;
    let internal = add(&store, "VPN gateway", "Restart it.", Visibility::Internal).await;
    let deflection = Deflection {
        id: uuid::Uuid::new_v4(),
        article: public.id,
        query: "vpn drops every hour".into(),
        requester: "alice".into(),
    };
    assert!(store
        .record_deflection(&deflection, pc.id, NOW)
        .await
        .unwrap());
    assert!(
        !store
            .record_deflection(&deflection, pc.id, later(1))
            .await
            .unwrap(),
        "a redelivery counts once"
    );
    let (kind, _) = refused_kind(store.record_deflection(&deflection, other_pc.id, NOW).await);
    assert_eq!(kind, ErrorKind::Conflict);
    let (kind, _) = refused_kind(
        store
            .record_deflection(
                &Deflection {
                    id: uuid::Uuid::new_v4(),
                    article: internal.id,
                    ..deflection.clone()
                },
                pc.id,
                NOW,
            )
            .await,
    );
    assert_eq!(kind, ErrorKind::NotFound);
    let shown = store.article(public.id, None).await.unwrap().unwrap();
    assert_eq!(shown.deflections, 1);
}

store_test!(articles_count_the_tickets_they_solved);
async fn articles_count_the_tickets_they_solved(store: Store) {
    let pc = enrolled_agent(&store, "pc-1").await;
    let article = add(&store, "Printer on fire", "Unplug it.", Visibility::Public).await;
    let ticket = file_ticket(&store, &pc, NOW).await;
    let resolved = store
        .resolve_with_article(ticket, article.id, |t| {
            workflow::change_status(t, StatusAction::Resolve, "carol", Some("unplugged"), NOW)
        })
        .await
        .unwrap();
    assert_eq!(resolved.status, Status::Resolved);
    assert_eq!(
        store
            .article(article.id, None)
            .await
            .unwrap()
            .unwrap()
            .solved,
        1
    );
    let beside = store.ticket_articles(ticket).await.unwrap();
    assert_eq!(beside.solved_by.as_ref().map(|a| a.id), Some(article.id));
    assert_eq!(beside.solved_by.unwrap().solved, 1);
    assert_eq!(
        beside.suggested.first().map(|h| h.article.id),
        Some(article.id),
        "the ticket's own words find the article"
    );

    // A retired article, or a refused resolve, changes nothing.
    let old = add(&store, "Old fix", "Nothing.", Visibility::Public).await;
    store.retire_article(old.id, "dave", NOW).await.unwrap();
    let open = file_ticket(&store, &pc, NOW).await;
    let (kind, _) = refused_kind(
        store
            .resolve_with_article(open, old.id, |t| {
                workflow::change_status(t, StatusAction::Resolve, "carol", None, NOW)
            })
            .await,
    );
    assert_eq!(kind, ErrorKind::Conflict);
    let (kind, _) = refused_kind(
        store
            .resolve_with_article(ticket, article.id, |t| {
                workflow::change_status(t, StatusAction::Resolve, "carol", None, NOW)
            })
            .await,
    );
    assert_eq!(kind, ErrorKind::InvalidTransition);
    assert_eq!(
        store.ticket(open).await.unwrap().unwrap().status,
        Status::Open
    );
    assert!(store
        .ticket_articles(open)
        .await
        .unwrap()
        .solved_by
        .is_none());

    // Written from a resolved ticket: a draft from its words, and the
    // ticket counts as solved by the article.
    let (kind, message) = refused_kind(store.article_draft(open).await);
    assert_eq!(kind, ErrorKind::InvalidInput);
    assert!(message.contains("--body"), "{message}");
    let done = file_ticket(&store, &pc, NOW).await;
    store
        .update_ticket(done, |t| {
            workflow::change_status(
                t,
                StatusAction::Resolve,
                "carol",
                Some("Swapped the fuser."),
                NOW,
            )
        })
        .await
        .unwrap();
    let draft = store.article_draft(done).await.unwrap();
    assert_eq!(draft.title, "Printer on fire");
    assert!(draft.body.contains("smoke everywhere"), "{}", draft.body);
    assert!(draft.body.contains("Swapped the fuser."), "{}", draft.body);
    let written = store
        .add_article(
            &ArticleDraft {
                content: draft,
                from_ticket: Some(done),
            },
            "carol",
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(written.from_ticket, Some(done));
    assert_eq!(written.solved, 1);
    let (kind, _) = refused_kind(
        store
            .add_article(
                &ArticleDraft {
                    content: content("x", "y", Visibility::Public),
                    from_ticket: Some(TicketId::new_random()),
                },
                "carol",
                NOW,
            )
            .await,
    );
    assert_eq!(kind, ErrorKind::NotFound);
}

store_test!(what_the_employee_read_before_filing_is_kept_beside_the_ticket);
async fn what_the_employee_read_before_filing_is_kept_beside_the_ticket(store: Store) {
    let pc = enrolled_agent(&store, "pc-1").await;
    let read = add(&store, "VPN", "Sign in again.", Visibility::Public).await;
    let ticket = file_ticket(&store, &pc, NOW).await;
    let before = store.ticket(ticket).await.unwrap().unwrap();
    let update = AgentUpdate::ArticlesViewed {
        requester: "alice".into(),
        articles: vec![read.id, ArticleId(404)],
    };
    let id = UpdateId::new_random();
    assert!(store
        .apply_agent_update(pc.id, "agent:pc-1", id, ticket, &update, later(1))
        .await
        .unwrap());
    assert!(!store
        .apply_agent_update(pc.id, "agent:pc-1", id, ticket, &update, later(2))
        .await
        .unwrap());
    let beside = store.ticket_articles(ticket).await.unwrap();
    assert_eq!(
        beside.viewed.iter().map(|a| a.id).collect::<Vec<_>>(),
        [read.id],
        "an unknown article is left out"
    );
    let after = store.ticket(ticket).await.unwrap().unwrap();
    assert_eq!(
        after.updated_at, before.updated_at,
        "the ticket did not change"
    );
    // Only the ticket's own requester's reading counts.
    let someone_else = AgentUpdate::ArticlesViewed {
        requester: "mallory".into(),
        articles: vec![read.id],
    };
    let (kind, _) = refused_kind(
        store
            .apply_agent_update(
                pc.id,
                "agent:pc-1",
                UpdateId::new_random(),
                ticket,
                &someone_else,
                later(3),
            )
            .await,
    );
    assert_eq!(kind, ErrorKind::Forbidden);
}

store_test!(a_known_fix_must_be_an_approved_script);
async fn a_known_fix_must_be_an_approved_script(store: Store) {
    let pc = enrolled_agent(&store, "pc-1").await;
    let ticket = file_ticket(&store, &pc, NOW).await;
    let author = KeyPair::generate();
    let approver = KeyPair::generate();
    let body = b"systemctl restart cups";
    let script = ScriptManifest {
        script_id: ScriptId::new_random(),
        ticket_id: ticket,
        digest: ScriptDigest::of(body),
        interpreter: Interpreter::Bash,
        timeout_secs: 30,
        author: "carol".into(),
        author_key: author.public_key(),
        description: "restart the spooler".into(),
        created_at: NOW,
        targets: vec![pc.id],
    }
    .sign(&author);
    let stored = StoredScript {
        script,
        content: body.to_vec(),
    };
    store.insert_script(&stored, NOW).await.unwrap();
    let with_fix = |digest| ArticleDraft {
        content: ArticleContent {
            script: Some(digest),
            ..content(
                "Printing stuck",
                "Restart the spooler.",
                Visibility::Internal,
            )
        },
        from_ticket: None,
    };
    let digest = ScriptDigest::of(body);
    // Attached but not approved yet.
    let (kind, message) = refused_kind(store.add_article(&with_fix(digest), "carol", NOW).await);
    assert_eq!(kind, ErrorKind::InvalidInput);
    assert!(message.contains(&digest.to_string()), "{message}");
    let approval = Approval {
        manifest_hash: stored.script.hash(),
        script_id: stored.script.manifest.script_id,
        ticket_id: ticket,
        approved_at: NOW,
        expires_at: later(60),
        nonce: Nonce::generate(),
        approver: "dave".into(),
        approver_key: approver.public_key(),
    }
    .sign(&approver);
    store.insert_approval(&approval, NOW).await.unwrap();
    let article = store
        .add_article(&with_fix(digest), "carol", NOW)
        .await
        .unwrap();
    assert_eq!(article.content.script, Some(digest));
    let (kind, _) = refused_kind(
        store
            .add_article(&with_fix(ScriptDigest::of(b"rm -rf /")), "carol", NOW)
            .await,
    );
    assert_eq!(kind, ErrorKind::InvalidInput);
}
