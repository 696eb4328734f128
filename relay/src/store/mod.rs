//! The relay's persistent state behind one small interface.
//!
//! [`Store`] wraps an `sqlx::AnyPool`, so the same code runs on the embedded
//! SQLite file (the default) and on PostgreSQL (for several relays sharing
//! one database). The SQL is kept portable: TEXT ids, BIGINT millisecond
//! timestamps, `$n` placeholders, `ON CONFLICT ... DO NOTHING`.
//!
//! Concurrency discipline: every write transaction *starts* with a write
//! (an insert, or an update that touches the row it is about to read). On
//! PostgreSQL that takes the row lock before anything is read; on SQLite
//! [`Store::begin`] says `BEGIN IMMEDIATE`, which takes the database write
//! lock at once, so `busy_timeout` applies and two writers (requests, the
//! notification worker) never fail upgrading a read lock.
//!
//! Schema: the portable migrations in `migrations/`, then this backend's
//! own in `migrations-sqlite/` or `migrations-postgres/` (full-text search),
//! sharing `_sqlx_migrations`; `migrate.rs` refuses a database holding a
//! version neither knows (written by a newer relay).

mod agent_filter;
mod agents;
mod audit;
mod comments;
mod counts;
mod desk_report;
mod diagnostics;
mod feed;
pub mod fit;
mod kb;
mod migrate;
mod news;
mod notify;
mod org;
mod queue;
mod rows;
mod scripts;
mod search;
pub mod sla;
mod sql;
mod technicians;
mod tickets;
mod tokens;
mod transfers;
mod updates;

#[cfg(test)]
mod tests;

pub use agents::AgentRecord;
pub use audit::AUDIT_APPEND_ATTEMPTS;
pub use feed::{prune_through, FEED_PRUNE_EVERY, FEED_RETAINED, MAX_FEED_BATCH};
pub use news::MAX_AUTO_CLOSE_BATCH;
pub use notify::{
    Channel, Delivery, DeliveryRecord, Mailbox, NewDelivery, Outcome, Targets, WebhookRow,
};
pub use scripts::{RunsOf, StoredScript};
pub use technicians::{no_admin_left, Readded, RolesChanged, TechnicianRecord};
pub(crate) use tickets::not_found as ticket_not_found;
#[cfg(test)]
pub(crate) use tickets::tests::sample_snapshot as tickets_sample_snapshot;
pub use tickets::TicketUpdate;
pub use tokens::TokenRefusal;
pub use transfers::{NewAttachment, TransferRecord};

use sqlx::any::AnyPoolOptions;
use sqlx::migrate::MigrateError;
use sqlx::AnyPool;
use std::sync::Arc;
use std::time::Duration;
use triage_shared::error::{ErrorKind, RemoteError};

/// Database connections one relay keeps open.
pub const POOL_SIZE: u32 = 8;
/// How long a request waits for a free database connection.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database URL `{0}` is not supported; use sqlite://PATH or postgres://USER@HOST/DB")]
    UnsupportedUrl(String),
    #[error("cannot open the database at {url}: {source}")]
    Open { url: String, source: sqlx::Error },
    #[error("cannot bring the database schema up to date: {0}")]
    Migrate(#[from] MigrateError),
    #[error(
        "the database was written by a newer relay: it holds schema version {0}, which this \
         relay does not know; run the newer triage-relay (or a backup taken before the upgrade)"
    )]
    NewerSchema(i64),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The request was understood and refused (not found, conflict, bad token,
    /// invalid transition, ...); the message is meant for the caller.
    #[error("{0}")]
    Refused(RemoteError),
}

impl StoreError {
    pub fn refused(kind: ErrorKind, message: impl Into<String>) -> Self {
        StoreError::Refused(RemoteError::new(kind, message))
    }

    /// The error kind a caller sees, `None` for internal failures.
    pub fn remote_kind(&self) -> Option<ErrorKind> {
        match self {
            StoreError::Refused(e) => Some(e.kind),
            _ => None,
        }
    }
}

impl From<triage_shared::text::InvalidInput> for StoreError {
    fn from(e: triage_shared::text::InvalidInput) -> Self {
        StoreError::Refused(e.into())
    }
}

impl From<RemoteError> for StoreError {
    fn from(e: RemoteError) -> Self {
        StoreError::Refused(e)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }
}

/// A handle on the relay database; cheap to clone (it shares the pool).
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// The live queue's newest committed event (`feed`).
    feed: Arc<feed::FeedClock>,
    /// The SLA policy ticket writes compute clocks with (`sla`).
    sla: Arc<sla::PolicyCell>,
    /// Audit appends and store latency, for the relay's `/metrics`.
    metrics: Arc<crate::metrics::StoreMetrics>,
}

impl Store {
    /// Connects and brings the schema up to date.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend =
            Backend::of_url(url).ok_or_else(|| StoreError::UnsupportedUrl(redact_url(url)))?;
        let pool = AnyPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(url)
            .await
            .map_err(|source| StoreError::Open {
                url: redact_url(url),
                source,
            })?;
        if backend == Backend::Sqlite {
            // Readers do not wait for a writer in WAL mode. The setting is
            // stored in the file, so doing it once per start is enough.
            sqlx::query("PRAGMA journal_mode = WAL")
                .fetch_optional(&pool)
                .await?;
        }
        migrate::run(&pool, backend).await?;
        let mut store = Store {
            pool,
            backend,
            feed: Arc::new(feed::FeedClock::new(0)),
            sla: Arc::default(),
            metrics: Arc::default(),
        };
        store.feed = Arc::new(feed::FeedClock::new(store.newest_feed_seq().await?));
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// What this handle (and its clones) counted (`crate::metrics`).
    pub fn metrics(&self) -> &Arc<crate::metrics::StoreMetrics> {
        &self.metrics
    }

    /// A write transaction. On SQLite it takes the write lock at `BEGIN`
    /// (`BEGIN IMMEDIATE`), waiting `busy_timeout` for it: a deferred
    /// transaction that meets another writer (another request, the
    /// notification worker) can fail at once with "database is locked".
    /// PostgreSQL takes row locks as the statements run.
    pub(crate) async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Waits for connections in use to be returned, then closes them all.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Commits `tx` if `result` is a success and rolls it back otherwise, so a
/// refused operation leaves nothing behind.
pub(crate) async fn settle<T>(
    tx: sqlx::Transaction<'static, sqlx::Any>,
    result: Result<T, StoreError>,
) -> Result<T, StoreError> {
    match result {
        Ok(value) => {
            tx.commit().await?;
            Ok(value)
        }
        Err(e) => {
            if let Err(rollback) = tx.rollback().await {
                tracing::warn!(error = %rollback, "rollback failed");
            }
            Err(e)
        }
    }
}

/// A database URL with any password replaced, for messages and logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            let hidden = if userinfo.contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{hidden}@{host}{tail}")
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod url_tests {
    use super::*;

    #[test]
    fn passwords_are_hidden_in_database_urls() {
        assert_eq!(
            redact_url("postgres://bob:s3cret@db:5432/triage"),
            "postgres://bob:***@db:5432/triage"
        );
        assert_eq!(
            redact_url("postgres://bob@db/triage"),
            "postgres://bob@db/triage"
        );
        assert_eq!(
            redact_url("sqlite:///tmp/relay.db?mode=rwc"),
            "sqlite:///tmp/relay.db?mode=rwc"
        );
    }

    #[test]
    fn only_sqlite_and_postgres_urls_are_accepted() {
        assert_eq!(Backend::of_url("sqlite:///x.db"), Some(Backend::Sqlite));
        assert_eq!(Backend::of_url("postgres://h/db"), Some(Backend::Postgres));
        assert_eq!(
            Backend::of_url("postgresql://h/db"),
            Some(Backend::Postgres)
        );
        assert_eq!(Backend::of_url("mysql://h/db"), None);
    }
}
