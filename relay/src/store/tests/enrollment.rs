//! Tokens, enrollment, agents and technicians.

use super::*;

store_test!(single_use_token_enrolls_once_and_refusal_adds_no_agent);
async fn single_use_token_enrolls_once_and_refusal_adds_no_agent(store: Store) {
    let hash = token(&store, 1, Timestamp(NOW.0 + HOUR_MS)).await;
    let first = KeyPair::generate().public_key();
    let id = store
        .enroll(&hash, &first, "pc-1", "Debian", NOW)
        .await
        .unwrap();
    assert_eq!(store.agent_by_key(&first).await.unwrap().unwrap().id, id);
    let second = KeyPair::generate().public_key();
    let (kind, message) = refused_kind(store.enroll(&hash, &second, "pc-2", "Debian", NOW).await);
    assert_eq!(kind, ErrorKind::InvalidToken);
    assert!(message.contains("used up"), "{message}");
    assert_eq!(store.count_agents().await.unwrap(), 1);
    assert!(store.agent_by_key(&second).await.unwrap().is_none());
}

store_test!(n_use_token_is_never_overspent_by_concurrent_enrollments);
async fn n_use_token_is_never_overspent_by_concurrent_enrollments(store: Store) {
    const USES: u32 = 3;
    const ATTEMPTS: usize = 10;
    let hash = token(&store, USES, Timestamp(NOW.0 + HOUR_MS)).await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..ATTEMPTS {
        let (store, hash) = (store.clone(), hash.clone());
        tasks.spawn(async move {
            let key = KeyPair::generate().public_key();
            store
                .enroll(&hash, &key, &format!("pc-{i}"), "Debian", NOW)
                .await
        });
    }
    let (mut enrolled, mut refused) = (0, 0);
    while let Some(outcome) = tasks.join_next().await {
        match outcome.unwrap() {
            Ok(_) => enrolled += 1,
            Err(e) => {
                assert_eq!(e.remote_kind(), Some(ErrorKind::InvalidToken), "{e}");
                refused += 1;
            }
        }
    }
    assert_eq!(
        (enrolled, refused),
        (USES as usize, ATTEMPTS - USES as usize)
    );
    assert_eq!(store.count_agents().await.unwrap(), i64::from(USES));
    assert_eq!(store.token_uses_left(&hash).await.unwrap(), Some(0));
}

store_test!(expired_token_is_refused_and_changes_nothing);
async fn expired_token_is_refused_and_changes_nothing(store: Store) {
    let hash = token(&store, 2, NOW).await;
    let key = KeyPair::generate().public_key();
    let (kind, message) = refused_kind(store.enroll(&hash, &key, "pc-1", "Debian", NOW).await);
    assert_eq!(kind, ErrorKind::InvalidToken);
    assert!(message.contains("expired"), "{message}");
    assert_eq!(store.count_agents().await.unwrap(), 0);
    assert_eq!(store.token_uses_left(&hash).await.unwrap(), Some(2));
}

store_test!(unknown_token_is_refused);
async fn unknown_token_is_refused(store: Store) {
    let key = KeyPair::generate().public_key();
    let (kind, message) = refused_kind(
        store
            .enroll(&TokenSecret::generate().hash_hex(), &key, "pc", "os", NOW)
            .await,
    );
    assert_eq!(kind, ErrorKind::InvalidToken);
    assert!(message.contains("unknown"), "{message}");
    assert_eq!(store.count_agents().await.unwrap(), 0);
}

store_test!(enrolling_a_key_twice_conflicts_and_gives_the_use_back);
async fn enrolling_a_key_twice_conflicts_and_gives_the_use_back(store: Store) {
    let hash = token(&store, 2, Timestamp(NOW.0 + HOUR_MS)).await;
    let key = KeyPair::generate().public_key();
    store
        .enroll(&hash, &key, "pc-1", "Debian", NOW)
        .await
        .unwrap();
    let (kind, _) = refused_kind(store.enroll(&hash, &key, "pc-1", "Debian", NOW).await);
    assert_eq!(kind, ErrorKind::Conflict);
    assert_eq!(store.token_uses_left(&hash).await.unwrap(), Some(1));
    assert_eq!(store.count_agents().await.unwrap(), 1);
}

store_test!(technician_names_and_keys_are_unique);
async fn technician_names_and_keys_are_unique(store: Store) {
    let tech = |name: &str, key| TechnicianSummary {
        name: name.into(),
        roles: vec![Role::L1, Role::Admin],
        public_key: key,
        created_at: NOW,
    };
    let (k1, k2) = (
        KeyPair::generate().public_key(),
        KeyPair::generate().public_key(),
    );
    store.add_technician(&tech("carol", k1)).await.unwrap();
    let (kind, message) = refused_kind(store.add_technician(&tech("carol", k2)).await);
    assert_eq!(kind, ErrorKind::Conflict);
    assert!(message.contains("already exists"), "{message}");
    let (kind, message) = refused_kind(store.add_technician(&tech("dave", k1)).await);
    assert_eq!(kind, ErrorKind::Conflict);
    assert!(message.contains("carol"), "{message}");
    assert_eq!(
        store.technician_by_key(&k1).await.unwrap().unwrap(),
        tech("carol", k1)
    );
    assert!(store.technician_by_key(&k2).await.unwrap().is_none());
    assert_eq!(store.list_technicians(100).await.unwrap().len(), 1);
}

store_test!(heartbeat_updates_last_seen);
async fn heartbeat_updates_last_seen(store: Store) {
    let agent = enrolled_agent(&store, "pc-1").await;
    assert_eq!(agent.last_seen, Some(NOW));
    let later = Timestamp(NOW.0 + 5_000);
    store.touch_agent(agent.id, later).await.unwrap();
    assert_eq!(
        store.agent(agent.id).await.unwrap().unwrap().last_seen,
        Some(later)
    );
    assert_eq!(
        store.list_agents(10).await.unwrap()[0].last_seen,
        Some(later)
    );
}

store_test!(reopening_the_store_keeps_the_schema_and_data);
async fn reopening_the_store_keeps_the_schema_and_data(store: Store) {
    // Migrations are idempotent: running them again on a live database is a no-op.
    migrate::run(&store.pool, store.backend).await.unwrap();
    let agent = enrolled_agent(&store, "pc-1").await;
    assert_eq!(
        store.agent_by_key(&agent.public_key).await.unwrap(),
        Some(agent)
    );
}

store_test!(a_database_from_a_newer_relay_is_refused);
async fn a_database_from_a_newer_relay_is_refused(store: Store) {
    // What is applied now is known: running again changes nothing.
    migrate::run(&store.pool, store.backend).await.unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(29_990_101_000_000_i64)
    .bind("from a newer relay")
    .bind(true)
    .bind(vec![0u8; 48])
    .bind(0_i64)
    .execute(&store.pool)
    .await
    .unwrap();
    let err = migrate::run(&store.pool, store.backend).await.unwrap_err();
    assert!(
        matches!(err, StoreError::NewerSchema(29_990_101_000_000)),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("newer relay") && message.contains("29990101000000"),
        "{message}"
    );
}
