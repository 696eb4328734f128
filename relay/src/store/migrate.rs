//! Bringing the schema up to date: the portable migrations (`migrations/`)
//! first, then this backend's own (`migrations-sqlite/` or
//! `migrations-postgres/`: full-text search, which has no portable SQL).
//!
//! Both migrators record what they applied in the one `_sqlx_migrations`
//! table, so each must be told to ignore versions it does not know (the
//! other's). That alone would also let this relay open a database a newer
//! relay wrote, so [`run`] first checks that every applied version is
//! known to one of the two, and refuses to open the database otherwise.
//! Backend versions come after every portable one (`20250620000001` after
//! `20250620000000`), so the portable schema they build on is in place.

use super::{Backend, StoreError};
use sqlx::migrate::{Migrate, Migrator};
use sqlx::AnyPool;

fn portable() -> Migrator {
    sqlx::migrate!("./migrations")
}

fn of_backend(backend: Backend) -> Migrator {
    match backend {
        Backend::Sqlite => sqlx::migrate!("./migrations-sqlite"),
        Backend::Postgres => sqlx::migrate!("./migrations-postgres"),
    }
}

/// Applies whatever the database lacks, after [`check_known`].
pub(super) async fn run(pool: &AnyPool, backend: Backend) -> Result<(), StoreError> {
    let mut portable = portable();
    let mut specific = of_backend(backend);
    check_known(pool, &[&portable, &specific]).await?;
    portable.set_ignore_missing(true);
    specific.set_ignore_missing(true);
    portable.run(pool).await?;
    specific.run(pool).await?;
    Ok(())
}

/// Refuses a database holding a migration none of `migrators` knows: a
/// newer relay wrote it, and this one would misread its schema.
async fn check_known(pool: &AnyPool, migrators: &[&Migrator]) -> Result<(), StoreError> {
    let mut conn = pool.acquire().await?;
    conn.ensure_migrations_table().await?;
    let applied = conn.list_applied_migrations().await?;
    match applied
        .iter()
        .find(|a| !migrators.iter().any(|m| m.version_exists(a.version)))
    {
        Some(unknown) => Err(StoreError::NewerSchema(unknown.version)),
        None => Ok(()),
    }
}
