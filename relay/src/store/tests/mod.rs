//! Store tests. Each runs on a fresh SQLite file, and again on a fresh
//! PostgreSQL database when `TRIAGE_TEST_POSTGRES_URL` names a server
//! (e.g. `postgres://postgres@127.0.0.1:5432/test`); without it the
//! PostgreSQL variants return early with a note.

use super::*;
use crate::store::tickets::tests::sample_snapshot;
use crate::workflow;
use sqlx::migrate::MigrateDatabase;
use std::future::Future;
use triage_shared::identity::KeyPair;
use triage_shared::protocol::TechnicianSummary;
use triage_shared::roles::Role;
use triage_shared::ticket::{
    Category, NewTicket, Priority, Source, Status, StatusAction, TicketEvent, TicketEventKind, Tier,
};
use triage_shared::time::Timestamp;
use triage_shared::token::TokenSecret;
use triage_shared::TicketId;

const POSTGRES_ENV: &str = "TRIAGE_TEST_POSTGRES_URL";
const NOW: Timestamp = Timestamp(1_700_000_000_000);
const HOUR_MS: i64 = 3_600_000;

#[derive(Clone, Copy)]
enum Backing {
    Sqlite,
    Postgres,
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let base = match base[after_scheme..].find('/') {
        Some(slash) => &base[..after_scheme + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

#[test]
fn test_database_urls_swap_only_the_database_name() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/test", "t1"),
        "postgres://postgres@127.0.0.1:5432/t1"
    );
    assert_eq!(
        with_database("postgres://u:p@h/db?sslmode=disable", "t2"),
        "postgres://u:p@h/t2?sslmode=disable"
    );
    assert_eq!(
        with_database("postgres://h:5432", "t3"),
        "postgres://h:5432/t3"
    );
}

/// Runs `body` against a fresh store and always cleans up afterwards, even
/// when the body panics (the panic is then passed on).
async fn run<F, Fut>(backing: Backing, body: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    match backing {
        Backing::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("relay.db").display()
            );
            let store = Store::open(&url).await.unwrap();
            let outcome = tokio::spawn(body(store.clone())).await;
            store.close().await;
            if let Err(e) = outcome {
                std::panic::resume_unwind(e.into_panic());
            }
        }
        Backing::Postgres => {
            let Ok(server) = std::env::var(POSTGRES_ENV) else {
                eprintln!("note: {POSTGRES_ENV} is not set; skipping the PostgreSQL variant");
                return;
            };
            let name = format!("triage_test_{}", uuid::Uuid::new_v4().simple());
            let url = with_database(&server, &name);
            sqlx::any::install_default_drivers();
            sqlx::Any::create_database(&url).await.unwrap();
            let store = Store::open(&url).await.unwrap();
            assert_eq!(store.backend(), Backend::Postgres);
            let outcome = tokio::spawn(body(store.clone())).await;
            store.close().await;
            sqlx::Any::force_drop_database(&url).await.unwrap();
            if let Err(e) = outcome {
                std::panic::resume_unwind(e.into_panic());
            }
        }
    }
}

/// Declares one store test per backend: `NAME::sqlite` and `NAME::postgres`.
macro_rules! store_test {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::run(super::Backing::Sqlite, super::$name).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::run(super::Backing::Postgres, super::$name).await
            }
        }
    };
}

async fn token(store: &Store, uses: u32, expires_at: Timestamp) -> String {
    let hash = TokenSecret::generate().hash_hex();
    store
        .create_token(&hash, uses, expires_at, "test", NOW)
        .await
        .unwrap();
    hash
}

async fn enrolled_agent(store: &Store, hostname: &str) -> AgentRecord {
    let hash = token(store, 1, Timestamp(NOW.0 + HOUR_MS)).await;
    let key = KeyPair::generate().public_key();
    let id = store
        .enroll(&hash, &key, hostname, "Debian 12", NOW)
        .await
        .unwrap();
    store.agent(id).await.unwrap().unwrap()
}

fn submission() -> NewTicket {
    NewTicket {
        id: TicketId::new_random(),
        title: "Printer on fire".into(),
        description: "smoke everywhere".into(),
        category: Category::Hardware,
        priority: Priority::Urgent,
        source: Source::Employee,
        requester: "alice".into(),
    }
}

async fn file_ticket(store: &Store, agent: &AgentRecord, at: Timestamp) -> TicketId {
    let (ticket, event) = workflow::new_ticket_from_agent(&submission(), agent, at).unwrap();
    assert!(store.create_ticket(&ticket, &event, None).await.unwrap());
    ticket.id
}

fn refused_kind<T: std::fmt::Debug>(result: Result<T, StoreError>) -> (ErrorKind, String) {
    match result {
        Err(StoreError::Refused(e)) => (e.kind, e.message),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

mod audit;
mod counts;
mod desk_report;
mod employee;
mod endpoints;
mod enrollment;
mod feed;
mod get_help;
mod kb;
mod lookup;
mod notify;
mod queue;
mod revocation;
mod scripts;
mod search;
mod sla;
mod tickets;
mod transfers;
mod updates;
