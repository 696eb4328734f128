//! Removing technicians and agents, changing roles, listing and revoking tokens.

use super::*;
use triage_shared::identity::PublicKey;
use triage_shared::token_id::TokenId;

fn tech(name: &str, roles: &[Role], key: PublicKey) -> TechnicianSummary {
    TechnicianSummary {
        name: name.into(),
        roles: roles.to_vec(),
        public_key: key,
        created_at: NOW,
    }
}

async fn add(store: &Store, name: &str, roles: &[Role]) -> PublicKey {
    let key = KeyPair::generate().public_key();
    assert_eq!(
        store.add_technician(&tech(name, roles, key)).await.unwrap(),
        None
    );
    key
}

store_test!(a_removed_technician_keeps_the_row_but_is_found_nowhere_live);
async fn a_removed_technician_keeps_the_row_but_is_found_nowhere_live(store: Store) {
    add(&store, "alice", &[Role::Admin]).await;
    let bob = add(&store, "bob", &[Role::L2, Role::Approver]).await;
    let later = Timestamp(NOW.0 + 1_000);
    let removed = store.remove_technician("bob", later).await.unwrap();
    assert_eq!(removed.public_key, bob);
    assert!(store.technician("bob").await.unwrap().is_none());
    assert!(store.technician_by_key(&bob).await.unwrap().is_none());
    assert!(
        store.approvers().await.unwrap().is_empty(),
        "not in the next policy"
    );
    let names: Vec<_> = store
        .list_technicians(10)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["alice"]);
    let record = store.technician_record_by_key(&bob).await.unwrap().unwrap();
    assert_eq!(record.removed_at, Some(later));
    assert_eq!(record.technician.name, "bob");
    let (kind, _) = refused_kind(store.remove_technician("bob", later).await);
    assert_eq!(kind, ErrorKind::NotFound, "removing twice");
    let (kind, _) = refused_kind(store.remove_technician("nobody", later).await);
    assert_eq!(kind, ErrorKind::NotFound);
}

store_test!(a_removed_name_may_be_added_again_and_says_what_it_replaced);
async fn a_removed_name_may_be_added_again_and_says_what_it_replaced(store: Store) {
    add(&store, "alice", &[Role::Admin]).await;
    let old = add(&store, "bob", &[Role::L2]).await;
    store.remove_technician("bob", NOW).await.unwrap();
    // The removed key never comes back under another name.
    let (kind, message) = refused_kind(
        store
            .add_technician(&tech("mallory", &[Role::L1], old))
            .await,
    );
    assert_eq!(kind, ErrorKind::Conflict);
    assert!(message.contains("removed technician `bob`"), "{message}");
    let new = KeyPair::generate().public_key();
    let readded = store
        .add_technician(&tech("bob", &[Role::L1], new))
        .await
        .unwrap()
        .expect("a re-add reports what it replaced");
    assert_eq!(readded.previous_key, old);
    assert_eq!(readded.previous_roles, [Role::L2]);
    assert_eq!(readded.removed_at, NOW);
    let bob = store.technician_by_key(&new).await.unwrap().unwrap();
    assert_eq!(bob.roles, [Role::L1]);
    assert!(store.technician_by_key(&old).await.unwrap().is_none());
}

store_test!(roles_are_replaced_and_the_last_admin_is_kept);
async fn roles_are_replaced_and_the_last_admin_is_kept(store: Store) {
    add(&store, "alice", &[Role::Admin]).await;
    add(&store, "bob", &[Role::L2]).await;
    let changed = store
        .set_technician_roles("bob", &[Role::L1])
        .await
        .unwrap();
    assert_eq!(changed.previous, [Role::L2]);
    assert_eq!(
        store.technician("bob").await.unwrap().unwrap().roles,
        [Role::L1]
    );
    for attempt in [
        refused_kind(store.set_technician_roles("alice", &[Role::L3]).await),
        refused_kind(store.remove_technician("alice", NOW).await),
    ] {
        let (kind, message) = attempt;
        assert_eq!(kind, ErrorKind::Conflict);
        assert!(message.contains("would leave no admin"), "{message}");
    }
    assert_eq!(
        store.technician("alice").await.unwrap().unwrap().roles,
        [Role::Admin],
        "a refused change leaves the row as it was"
    );
    // With a second admin, either may go.
    store
        .set_technician_roles("bob", &[Role::L1, Role::Admin])
        .await
        .unwrap();
    store.remove_technician("alice", NOW).await.unwrap();
    let (kind, _) = refused_kind(store.set_technician_roles("alice", &[Role::L1]).await);
    assert_eq!(
        kind,
        ErrorKind::NotFound,
        "a removed technician's roles stay put"
    );
}

store_test!(two_admins_removing_each_other_at_once_leave_one);
async fn two_admins_removing_each_other_at_once_leave_one(store: Store) {
    add(&store, "alice", &[Role::Admin]).await;
    add(&store, "bob", &[Role::Admin]).await;
    let (a, b) = tokio::join!(
        store.remove_technician("alice", NOW),
        store.remove_technician("bob", NOW)
    );
    let removed = [a.is_ok(), b.is_ok()];
    assert_eq!(removed.iter().filter(|ok| **ok).count(), 1, "{a:?} {b:?}");
    let admins: Vec<_> = store.list_technicians(10).await.unwrap();
    assert_eq!(admins.len(), 1);
    assert!(admins[0].roles.contains(&Role::Admin));
}

store_test!(a_removed_agent_is_unlisted_keeps_its_tickets_and_its_key_is_known_removed);
async fn a_removed_agent_is_unlisted_keeps_its_tickets_and_its_key_is_known_removed(store: Store) {
    let agent = enrolled_agent(&store, "pc-1").await;
    let other = enrolled_agent(&store, "pc-2").await;
    let ticket = file_ticket(&store, &agent, NOW).await;
    let later = Timestamp(NOW.0 + 1_000);
    let removed = store.remove_agent(agent.id, later).await.unwrap();
    assert_eq!(removed.removed_at, Some(later));
    let listed: Vec<_> = store
        .list_agents(10)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(listed, [other.id]);
    let by_key = store
        .agent_by_key(&agent.public_key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_key.removed_at, Some(later));
    let detail = store.ticket_detail(ticket).await.unwrap().unwrap();
    assert_eq!(detail.ticket.agent_id, Some(agent.id));
    let (kind, message) = refused_kind(store.remove_agent(agent.id, later).await);
    assert_eq!(kind, ErrorKind::NotFound);
    assert!(message.contains("already removed"), "{message}");
    let (kind, _) = refused_kind(
        store
            .remove_agent(triage_shared::AgentId::new_random(), later)
            .await,
    );
    assert_eq!(kind, ErrorKind::NotFound);
}

store_test!(tokens_are_listed_by_id_and_a_revoked_one_no_longer_enrolls);
async fn tokens_are_listed_by_id_and_a_revoked_one_no_longer_enrolls(store: Store) {
    let hash = token(&store, 2, Timestamp(NOW.0 + HOUR_MS)).await;
    let id = TokenId::of_hash(&hash);
    let listed = store.list_tokens(10).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, id);
    assert_eq!((listed[0].uses_left, listed[0].revoked_at), (2, None));
    assert_eq!(listed[0].created_by, "test");
    let revoked = store
        .revoke_token(&id.as_str()[..8], "technician:alice", NOW)
        .await
        .unwrap();
    assert_eq!(revoked.id, id);
    assert_eq!(revoked.revoked_by.as_deref(), Some("technician:alice"));
    assert_eq!(
        store.list_tokens(10).await.unwrap()[0].revoked_at,
        Some(NOW)
    );
    let key = KeyPair::generate().public_key();
    let (kind, message) = refused_kind(store.enroll(&hash, &key, "pc", "os", NOW).await);
    assert_eq!(kind, ErrorKind::InvalidToken);
    assert!(message.contains("revoked"), "{message}");
    assert_eq!(store.count_agents().await.unwrap(), 0);
    assert_eq!(store.token_uses_left(&hash).await.unwrap(), Some(2));
    let (kind, _) = refused_kind(store.revoke_token(id.as_str(), "x", NOW).await);
    assert_eq!(kind, ErrorKind::Conflict, "revoking twice");
    let (kind, _) = refused_kind(store.revoke_token("ffffffffffffffff", "x", NOW).await);
    assert_eq!(kind, ErrorKind::NotFound);
}

store_test!(an_ambiguous_token_prefix_is_refused);
async fn an_ambiguous_token_prefix_is_refused(store: Store) {
    // Two hashes that share their first 8 hex digits.
    for tail in ["1", "2"] {
        let hash = format!("abcdef12{}", tail.repeat(56));
        store
            .create_token(&hash, 1, Timestamp(NOW.0 + HOUR_MS), "test", NOW)
            .await
            .unwrap();
    }
    let (kind, message) = refused_kind(store.revoke_token("abcdef12", "x", NOW).await);
    assert_eq!(kind, ErrorKind::InvalidInput);
    assert!(message.contains("several"), "{message}");
    store.revoke_token("abcdef121", "x", NOW).await.unwrap();
}

/// The migration gives tokens made under the earlier schema their ids:
/// the schema as it was, a token row, then the store opened (migrated).
#[tokio::test]
async fn tokens_made_before_ids_existed_get_theirs_from_the_migration() {
    let earlier = tempfile::tempdir().unwrap();
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    for entry in std::fs::read_dir(&source).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.as_str() < "20250602000000" {
            std::fs::copy(&path, earlier.path().join(&name)).unwrap();
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("relay.db").display()
    );
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    sqlx::migrate::Migrator::new(earlier.path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    let hash = TokenSecret::generate().hash_hex();
    sqlx::query(
        "INSERT INTO enrollment_tokens (hash, uses_left, expires_at, created_at, created_by) \
         VALUES ($1, 1, $2, $3, 'old')",
    )
    .bind(&hash)
    .bind(NOW.0 + HOUR_MS)
    .bind(NOW.0)
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let store = Store::open(&url).await.unwrap();
    let listed = store.list_tokens(10).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, TokenId::of_hash(&hash));
    assert_eq!(listed[0].revoked_at, None);
    store
        .revoke_token(&listed[0].id.as_str()[..6], "test", NOW)
        .await
        .unwrap();
    store.close().await;
}
